# Two entry points: `make reports` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA := data/ensemble_synthetic.csv
N ?= 664
SEED ?= 2025

.PHONY: install install-test data reports test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

$(DATA): $(VENV)/.installed
	$(BIN)/python -m ensemble_helpers.synthetic --n $(N) --seed $(SEED) --out $(DATA)

data: $(DATA)

reports: $(DATA)
	$(BIN)/ensemble-run --output-dir reports

test: install-test
	$(BIN)/python -m pytest

bench: $(DATA) $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_synthetic.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_batch.py

clean:
	rm -rf $(VENV) reports data .pytest_cache
