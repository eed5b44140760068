# Two entry points: `make reports` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA := data/ensemble_synthetic.csv
N ?= 664
SEED ?= 2025

.PHONY: install install-test data reports test bench clean git-filter scratch

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	$(MAKE) --no-print-directory git-filter scratch
	touch $@

# git strips notebook outputs when a notebook is staged (.gitattributes): autosave never reaches a commit
git-filter:
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git config filter.nbstripout.clean "'$(abspath $(BIN))/python' -m nbstripout --keep-id" && \
	  git config filter.nbstripout.smudge cat && \
	  git config diff.ipynb.textconv "'$(abspath $(BIN))/python' -m nbstripout --keep-id -t"; fi

# scratch/ (git-ignored) is where explorers work; explore.ipynb is a starter, never overwritten
scratch:
	@mkdir -p scratch
	@test -f scratch/explore.ipynb || cp ensemble_helpers/templates/explore.ipynb scratch/explore.ipynb

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
