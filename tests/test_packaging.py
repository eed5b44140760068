"""environment.yml (conda) and pyproject.toml (pip) must list the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"pyyaml": "pyyaml"}


def _split(spec: str) -> tuple[str, str]:
    name = re.split(r"[<>=!~ ]", spec, maxsplit=1)[0].strip().lower()
    return name, spec[len(name):].replace(" ", "")


def test_environment_matches_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pip_deps = dict(_split(d) for d in pyproject["project"]["dependencies"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    conda_deps = dict(_split(d) for d in conda if _split(d)[0] not in ("python", "pip"))
    conda_deps = {CONDA_TO_PYPI.get(k, k): v for k, v in conda_deps.items()}
    assert conda_deps == pip_deps
    assert "python=3.11" in conda
    assert env["channels"] == ["conda-forge"]
