"""Plain data shared by every step: run specifications, run outcomes, batch outcome.

Everything here pickles, so it travels to a pool worker or a Dask worker unchanged.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ensemble_helpers.batch.errors import UnsafePathError

__all__ = ["INVALID_PARAMETERS", "STATUS_FAILED", "STATUS_OK", "STATUS_SKIPPED", "BatchResult",
           "PlannedRun", "RunError", "RunOutcome", "RunResult", "RunSpec"]

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_SKIPPED = "skipped"

#: ``RunError.ename`` of a run not started because its parameter file is invalid.
INVALID_PARAMETERS = "InvalidParameters"
#: The file a notebook writes into its ``output_dir``; published as ``<notebook>.results.json``.
_RESULTS_FILE = "results.json"
#: Column order of results records (summary.csv).
_ORDER = ("notebook", "analysis", "endpoint", "group", "n", "events", "estimate", "lower", "upper",
          "unit", "p")


@dataclass(frozen=True)
class RunError:
    """Why a run failed.

    ``cell_index`` is the 0-based position in the *executed* notebook (which includes the cell
    Papermill injects after the ``parameters`` cell); ``execution_count`` is the ``In [n]`` shown
    by Jupyter. Both are ``None`` when the failure was not inside a cell (e.g. a missing file).
    """

    ename: str
    evalue: str
    cell_index: int | None = None
    execution_count: int | None = None
    source: str = ""

    @property
    def location(self) -> str:
        """Human-readable cell position and source excerpt, or ``""``."""
        if self.cell_index is None:
            return ""
        where = f"cell {self.cell_index + 1}"
        if self.execution_count is not None:
            where = f"In [{self.execution_count}] ({where} of the executed notebook)"
        excerpt = _excerpt(self.source)
        return f"{where}: `{excerpt}`" if excerpt else where

    def describe(self) -> str:
        """One line: location, exception class and message."""
        message = _shorten(f"{self.ename}: {self.evalue}" if self.evalue else self.ename, 400)
        return f"{self.location} -> {message}" if self.location else message

    def __str__(self) -> str:
        return self.describe()


@dataclass
class RunResult:
    """Outcome of one parameter file x notebook run.

    Attributes
    ----------
    param_set, notebook : str
        Parameter file stem and notebook stem; the run id is ``"<param_set>/<notebook>"``.
    status : {"ok", "failed", "skipped"}
        ``skipped`` means the inputs were unchanged since the last good report.
    duration : float
        Wall-clock seconds spent on this run in this batch (0 for skipped runs).
    error : RunError or None
        Set when ``status == "failed"``.
    paths : dict of str to str
        Absolute paths of the files this run owns that exist: ``html``, ``ipynb``, ``results``,
        ``provenance``, ``failed_html``, ``failed_ipynb``.
    stale : bool
        A failed run whose previous good report was kept.
    inputs : dict
        The fingerprint (hashes, versions, options) this run was or would be judged by.
    run_date : str
        ISO-8601 UTC time the report was produced (for skipped runs: of the kept report).
    """

    param_set: str
    notebook: str
    status: str
    duration: float = 0.0
    error: RunError | None = None
    paths: dict[str, str] = field(default_factory=dict)
    stale: bool = False
    inputs: dict[str, Any] = field(default_factory=dict)
    run_date: str = ""

    @property
    def run_id(self) -> str:
        return f"{self.param_set}/{self.notebook}"


@dataclass
class BatchResult:
    """All runs of one ``run_batch`` call plus the paths of the batch-level files."""

    output_dir: Path
    runs: list[RunResult]
    index_path: Path
    summary_path: Path
    manifest_path: Path
    duration: float = 0.0

    def _with(self, status: str) -> list[RunResult]:
        return [r for r in self.runs if r.status == status]

    @property
    def ok(self) -> list[RunResult]:
        return self._with(STATUS_OK)

    @property
    def failed(self) -> list[RunResult]:
        return self._with(STATUS_FAILED)

    @property
    def skipped(self) -> list[RunResult]:
        return self._with(STATUS_SKIPPED)

    @property
    def exit_code(self) -> int:
        """0 when no run failed, else 1."""
        return 1 if self.failed else 0


@dataclass
class RunOutcome:
    """What a worker hands back to the parent, which alone publishes.

    Attributes
    ----------
    error : RunError or None
        ``None`` for a good run.
    duration : float
        Seconds the worker spent.
    run_date : str
        ISO-8601 UTC start of the run.
    files : dict of str to bytes, or None
        ``None``: the files are in the run's temporary folder (local workers share the disk).
        Otherwise (Dask workers): path relative to that folder -> content, written there by the
        parent before publishing.
    errno : int or None
        ``errno`` of an ``OSError`` that failed the run (a full or read-only output folder stops
        the batch).
    """

    error: RunError | None
    duration: float
    run_date: str
    files: dict[str, bytes] | None = None
    errno: int | None = None


@dataclass(frozen=True)
class PlannedRun:
    """What a batch would do with one run (``plan_batch``, ``--dry-run``).

    ``action`` is ``"run"``, ``"skip"`` (inputs unchanged since the report on disk) or
    ``"fail"`` (invalid parameter file: ``problems`` says why, one line each).
    """

    run_id: str
    action: str
    reason: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs; plain data so it pickles to a process pool or a Dask worker."""

    param_set: str
    notebook: str
    param_file: str
    notebook_path: str
    parameters: dict[str, Any]
    output_dir: str
    tmp_dir: str
    cwd: str
    show_code: bool
    inputs: dict[str, Any]
    display: dict[str, str]
    runtime_root: str  # short path for kernel sockets; removed by run_batch (even after a kill)
    problems: tuple[str, ...] = ()  # why the parameter file is invalid: the run fails unstarted
    data_file: str = ""  # absolute path of data_path, when it is a regular file
    overridden: bool = False  # -p/-y overrides: the kernel gets the effective parameters as a file
    kernel_threads: int = 0  # BLAS/OpenMP threads of the kernel (0: the library's default)

    @property
    def run_id(self) -> str:
        return f"{self.param_set}/{self.notebook}"

    @property
    def dest(self) -> Path:
        """``<output_dir>/<param_set>``, checked to lie inside the output folder (symlinks
        resolved): every report file of the run is written there."""
        out = Path(self.output_dir)
        dest = out / self.param_set
        if dest.resolve().parent != out.resolve():
            raise UnsafePathError(f"{self.run_id}: refusing to write to {dest}, which is not a"
                                  f" folder directly inside the output folder {out}")
        return dest



def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _shorten(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _excerpt(source: str, lines: int = 2, limit: int = 120) -> str:
    kept = [line.strip() for line in str(source).splitlines() if line.strip()][:lines]
    return _shorten(" ⏎ ".join(kept), limit)
