"""What `make test` checks in a workbook notebook, callable on any project folder (the JupyterLab
test runs it on a copy in which a scratch notebook was created and notebooks were run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nbformat

from ensemble_helpers.params import PARAM_KEYS

MAX_CELL_LINES = 8


def committed_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook as git stores it: the staged version (after the nbstripout clean filter that
    ``make`` configures), so JupyterLab's autosave of outputs into the working copy does not
    count; the file itself outside a git checkout or when the file is not tracked."""
    git = shutil.which("git")
    if git is not None:
        done = subprocess.run([git, "-C", str(path.parent), "show", f":./{path.name}"],
                              capture_output=True)
        if done.returncode == 0:
            return nbformat.reads(done.stdout.decode("utf-8"), as_version=4)
    return nbformat.read(path, as_version=4)


def notebook_problems(path: Path) -> list[str]:
    """Rules a workbook notebook breaks (empty when none): outputs committed, not exactly one
    ``parameters`` cell, no title, a parameter key not declared, a code cell over a few lines."""
    problems = []
    stored = committed_notebook(path)
    if any(c.outputs or c.execution_count is not None for c in stored.cells if c.cell_type == "code"):
        problems.append("commit notebooks with outputs cleared")
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        return [*problems, "exactly one cell tagged 'parameters'"]
    if not (nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")):
        problems.append("the first cell is a markdown title ('# ...')")
    # the parameters cell declares every key of a parameter file (Papermill overrides them)
    declared = {line.split("=")[0].strip() for line in tagged[0].source.splitlines() if "=" in line}
    missing = sorted(set(PARAM_KEYS) - declared)
    if missing:
        problems.append(f"the parameters cell does not declare {missing}")
    # logic lives in ensemble_helpers: code cells stay a few lines
    for c in nb.cells:
        if c.cell_type == "code" and c is not tagged[0] and len(c.source.strip().splitlines()) > MAX_CELL_LINES:
            problems.append(f"a code cell has more than {MAX_CELL_LINES} lines: {c.source[:60]!r}")
    return problems
