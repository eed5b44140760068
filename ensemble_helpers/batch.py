"""Run every parameter file against every notebook and publish offline HTML reports.

``run_batch`` is the library function; ``ensemble-run`` and ``python -m ensemble_helpers.batch``
are thin command-line shells over it (``main``).

For each *run* (one parameter file x one notebook) a worker process:

1. executes the notebook with Papermill's in-process API, injecting every key of the YAML file
   plus ``params_file`` (absolute path) and ``output_dir`` (the run's private temporary folder);
   the kernel's working directory is the repository root (the directory ``ensemble-run`` is
   invoked from), so relative ``data_path`` values work;
2. renders the executed notebook to self-contained HTML in the same process (nbconvert's
   ``HTMLExporter``: code hidden unless ``show_code``, images embedded as base64 PNG, no script,
   stylesheet or image fetched from the network) with a provenance footer;
3. publishes the outputs atomically (``os.replace`` from a temporary folder inside the output
   directory), or, when the run failed, puts ``<notebook>.failed.ipynb``/``.failed.html`` beside
   the last good report, which stays in place (the index marks it stale).

Output layout (``<out>`` is ``--output-dir``)::

    <out>/index.html                       status grid + key estimates, self-contained
    <out>/summary.csv                      every record of every results file + param_set, notebook
    <out>/manifest.json                    last status, hashes and versions of every run
    <out>/<param>/<notebook>.ipynb         executed notebook (last good run)
    <out>/<param>/<notebook>.html          rendered report (last good run)
    <out>/<param>/<notebook>.results.json  the ``results.json`` the notebook wrote into output_dir
    <out>/<param>/<notebook>_files/        anything else the notebook wrote into output_dir
    <out>/<param>/<notebook>.provenance.json  input hashes + versions of the last good run
    <out>/<param>/<notebook>.failed.ipynb|.html  last failed attempt, when it failed

Several notebooks share one parameter-set folder, so each notebook writes ``results.json`` into its
own temporary ``output_dir`` and the runner stores it as ``<notebook>.results.json``.

A run is skipped when the SHA-256 of its notebook, parameter file, data file (``data_path`` from the
YAML, when it exists), the helper package (every ``ensemble_helpers/*.py`` and ``*.yaml``), the
versions of the analysis stack and the ``show_code`` choice all equal those recorded in its
``.provenance.json`` and the report files exist. ``force=True`` re-runs everything.

The parameter file's own ``output_dir`` key, if any, is overridden by the run's temporary folder.

Local runs go to ``jobs`` single-worker process pools ("slots"). A slot's worker process stays
alive for many runs (Papermill and nbconvert are imported once per worker, the HTML template is
compiled once), and a worker that dies (SIGKILL, out of memory) breaks only its own slot: that run
is marked failed (its partial notebook is still rendered), the slot gets a fresh worker, and every
other run completes. ``dask_scheduler`` sends the same worker function to a Dask cluster instead.

Examples
--------
>>> from ensemble_helpers.batch import run_batch
>>> result = run_batch(["params/overall.yaml"], ["notebooks/02_endpoints.ipynb"],
...                    "reports")  # doctest: +SKIP
>>> [(run.run_id, run.status) for run in result.runs]  # doctest: +SKIP
[('overall/02_endpoints', 'ok')]
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import csv
import dataclasses
import datetime as dt
import hashlib
import html
import io
import json
import logging
import math
import multiprocessing
import os
import platform
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from ensemble_helpers.cache import sha256_file

__all__ = [
    "BatchError",
    "BatchResult",
    "MissingDependencyError",
    "OutputDirBusyError",
    "ParamFileError",
    "RunError",
    "RunResult",
    "external_resources",
    "format_estimate",
    "main",
    "package_hash",
    "package_versions",
    "run_batch",
    "select_key_estimates",
]

logger = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_SKIPPED = "skipped"

#: Packages whose versions go into each report's footer, the manifest and the skip fingerprint.
VERSIONED_PACKAGES = ("ensemble-helpers", "pandas", "numpy", "lifelines", "matplotlib", "papermill",
                      "nbconvert")
#: Imported once in the fork server; workers fork from it. The heavy stack (Papermill, nbconvert)
#: is imported by each worker's initializer instead, after ``_skip_slow_optional_imports``.
_PRELOAD = ["ensemble_helpers.batch"]
_PACKAGE_DIR = Path(__file__).resolve().parent
_RESULTS_FILE = "results.json"
_ORDER = ("notebook", "analysis", "endpoint", "group", "n", "events", "estimate", "lower", "upper",
          "unit", "p")


# --------------------------------------------------------------------------------------------
# Errors and results
# --------------------------------------------------------------------------------------------
class BatchError(Exception):
    """A batch cannot start (bad parameter file, nothing to run, output directory busy)."""


class ParamFileError(BatchError, ValueError):
    """A parameter file is missing, is not YAML, or is not a mapping of parameter names."""


class OutputDirBusyError(BatchError):
    """Another ``ensemble-run`` is writing into the same output directory."""


class MissingDependencyError(BatchError, ImportError):
    """An optional dependency (``distributed`` for ``--dask-scheduler``) is not installed."""


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


@dataclass(frozen=True)
class _RunSpec:
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

    @property
    def run_id(self) -> str:
        return f"{self.param_set}/{self.notebook}"

    @property
    def dest(self) -> Path:
        return Path(self.output_dir) / self.param_set


# --------------------------------------------------------------------------------------------
# Hashes and versions
# --------------------------------------------------------------------------------------------
def _sha256_path(path: Path) -> str | None:
    """SHA-256 of a file, of a directory's files (names + contents), or ``None`` if absent."""
    if path.is_file():
        return sha256_file(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(child.relative_to(path).as_posix().encode() + b"\0")
            digest.update(sha256_file(child).encode())
        return digest.hexdigest()
    return None


def package_hash(package_dir: Path | None = None) -> str:
    """SHA-256 over every ``*.py`` and ``*.yaml`` file of the helper package (names + contents).

    Parameters
    ----------
    package_dir : Path, optional
        Defaults to the installed ``ensemble_helpers`` folder.
    """
    root = Path(package_dir) if package_dir is not None else _PACKAGE_DIR
    digest = hashlib.sha256()
    for path in sorted([*root.glob("*.py"), *root.glob("*.yaml")]):
        digest.update(path.name.encode() + b"\0" + sha256_file(path).encode())
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of ``VERSIONED_PACKAGES`` plus Python (``"not installed"`` if absent)."""
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["python"] = platform.python_version()
    return versions


# --------------------------------------------------------------------------------------------
# Planning: which runs exist, which are up to date
# --------------------------------------------------------------------------------------------
def _expand(items: Iterable[str | os.PathLike[str]], patterns: Sequence[str], kind: str) -> list[Path]:
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted({p for pattern in patterns for p in path.glob(pattern)})
            paths.extend(p for p in found if not p.name.startswith("."))
        elif path.is_file():
            paths.append(path)
        else:
            raise BatchError(f"{kind} not found: {path}")
    unique: dict[Path, None] = dict.fromkeys(p.resolve() for p in paths)
    return list(unique)


def _check_unique_stems(paths: Sequence[Path], kind: str) -> None:
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise BatchError(f"two {kind}s share the name {path.stem!r} ({seen[path.stem]} and {path});"
                             " the report folder is named after it, so rename one")
        seen[path.stem] = path


def _load_params(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamFileError(f"{path}: not valid YAML ({exc})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ParamFileError(f"{path}: expected a mapping of parameter names to values,"
                             f" got {type(data).__name__}")
    return data


def _display_path(path: Path, root: Path) -> str:
    """Path relative to the repository root when inside it, else just the file name (no home dirs)."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.name


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_up_to_date(spec: _RunSpec) -> bool:
    dest = spec.dest
    prov = _read_json(dest / f"{spec.notebook}.provenance.json")
    if not isinstance(prov, dict) or prov.get("inputs") != spec.inputs:
        return False
    return (dest / f"{spec.notebook}.html").is_file() and (dest / f"{spec.notebook}.ipynb").is_file()


def _existing_paths(dest: Path, notebook: str) -> dict[str, str]:
    names = {
        "html": f"{notebook}.html",
        "ipynb": f"{notebook}.ipynb",
        "results": f"{notebook}.results.json",
        "provenance": f"{notebook}.provenance.json",
        "files": f"{notebook}_files",
        "failed_html": f"{notebook}.failed.html",
        "failed_ipynb": f"{notebook}.failed.ipynb",
    }
    return {key: str(dest / name) for key, name in names.items() if (dest / name).exists()}


# --------------------------------------------------------------------------------------------
# Worker: execute, render, publish (runs in a pool process or on a Dask worker)
# --------------------------------------------------------------------------------------------
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{#- The lab template links require.js, MathJax and mermaid from a CDN: drop them (offline). -#}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""
_worker_lock = threading.Lock()
_worker_configured = False


def _configure_worker() -> None:
    """Process-wide settings for a worker process or Dask worker (idempotent, thread-safe)."""
    global _worker_configured
    with _worker_lock:
        if _worker_configured:
            return
        # Papermill warns for every YAML key a notebook's parameters cell does not declare; the
        # runner always passes every key plus params_file/output_dir, so that is expected.
        # The runner reports failures itself (nbclient logs "Kernel died..." through this logger).
        logging.getLogger("papermill").setLevel(logging.CRITICAL)
        logging.getLogger("traitlets").setLevel(logging.ERROR)
        _worker_configured = True


def _init_worker() -> None:
    """Pool initializer: import the execution stack now, and warm the HTML exporter (template
    compilation and nbconvert's lazy imports, ~0.5 s) in a background thread while the first
    kernel starts; ``_render`` waits for it."""
    global _warmup
    _skip_slow_optional_imports()
    # Nothing in the worker draws; keep any accidental matplotlib import headless. The *kernel*
    # gets the inline backend explicitly (see _kernel_manager_class).
    os.environ.setdefault("MPLBACKEND", "Agg")
    _configure_worker()
    import nbclient  # noqa: F401
    import papermill  # noqa: F401

    def warm() -> None:
        with contextlib.suppress(Exception):
            import nbformat

            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("*warm-up*"),
                                                 nbformat.v4.new_code_cell("1")])
            _to_html(nb, False, "warm-up")

    _warmup = threading.Thread(target=warm, name="nbconvert-warmup", daemon=True)
    _warmup.start()


_warmup: threading.Thread | None = None
_exporters: dict[bool, tuple[Any, threading.Lock]] = {}  # per show_code; built once per process


def _to_html(nb: Any, show_code: bool, name: str) -> str:
    """Render with a cached ``HTMLExporter`` (one per process and ``show_code``; a lock keeps
    it safe when a Dask worker runs several tasks in threads)."""
    with _worker_lock:
        if show_code not in _exporters:
            from jinja2 import DictLoader
            from nbconvert import HTMLExporter

            quiet = logging.getLogger(f"{__name__}.nbconvert")
            quiet.setLevel(logging.ERROR)
            exporter = HTMLExporter(
                template_name="lab",
                extra_loaders=[DictLoader({"ensemble_offline.html.j2": _OFFLINE_TEMPLATE})],
                template_file="ensemble_offline.html.j2",
                exclude_input=not show_code,
                exclude_input_prompt=not show_code,
                exclude_output_prompt=True,
                embed_images=True,  # markdown images too; outputs are base64 PNG already
                mathjax_url="",
                require_js_url="",
                log=quiet,
            )
            _exporters[show_code] = (exporter, threading.Lock())
        exporter, lock = _exporters[show_code]
    with lock:
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
    return body


def _kernel_manager_class(cwd: str, runtime_dir: str, log_path: str) -> type:
    """An AsyncKernelManager that starts the kernel in ``cwd``, talks over IPC sockets in a private
    folder (no TCP ports to collide between parallel kernels), logs to a file and keeps figures
    inline even when the caller's shell sets ``MPLBACKEND``."""
    from jupyter_client.manager import AsyncKernelManager

    class BatchKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("connection_file", os.path.join(runtime_dir, "kernel.json"))
            super().__init__(**kwargs)

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            env = dict(os.environ)
            env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
            env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # debugpy start-up warning
            kw["env"] = env
            kw["cwd"] = cwd
            extra = list(kw.pop("extra_arguments", None) or [])
            # Batch kernels need no IPython history (nbclient already keeps it in memory).
            kw["extra_arguments"] = [*extra, "--HistoryManager.enabled=False"]
            log = open(log_path, "ab")  # noqa: SIM115 - handed to Popen, closed after the run
            kw["stdout"] = kw["stderr"] = log
            try:
                await super().start_kernel(**kw)
            finally:
                log.close()

    return BatchKernelManager


_ENGINE = "ensemble-checkpoint"
_engine_registered = False


def _papermill_engine() -> str:
    """Register (once per process) the Papermill engine the runner executes with; its name.

    Papermill's default engine writes the whole notebook (validated, deep-copied, pretty JSON)
    when each cell starts *and* when it completes: ~30 writes of a notebook that grows to ~0.5 MB
    of figures, ~0.1-0.2 s per run. This engine keeps the write at cell start, which is what a
    killed worker leaves behind (the running cell plus every earlier output, see
    ``_salvage_run``), as plain JSON; the write at cell completion is dropped (the next cell's
    start writes the same state), and the final notebook is written by Papermill as usual.
    """
    global _engine_registered
    with _worker_lock:
        if _engine_registered:
            return _ENGINE
        from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

        class CheckpointManager(NotebookExecutionManager):
            def save(self, **kwargs: Any) -> None:
                if self.output_path:
                    path = Path(self.output_path)
                    staged = path.with_name(f".{path.name}.part")
                    staged.write_text(json.dumps(self.nb, ensure_ascii=False), encoding="utf-8")
                    os.replace(staged, path)  # never a half-written checkpoint
                self.last_save_time = self.now()

            def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
                output_path, self.output_path = self.output_path, None  # no write here
                try:
                    super().cell_complete(cell, cell_index=cell_index, **kwargs)
                finally:
                    self.output_path = output_path

        class CheckpointEngine(NBClientEngine):
            @classmethod
            def execute_notebook(cls, nb: Any, kernel_name: str, output_path: str | None = None,
                                 progress_bar: bool = True, log_output: bool = False,
                                 autosave_cell_every: int = 30, **kwargs: Any) -> Any:
                # papermill.engines.Engine.execute_notebook (papermill 2.6) with our manager
                nb_man = CheckpointManager(nb, output_path=output_path, progress_bar=progress_bar,
                                           log_output=log_output,
                                           autosave_cell_every=autosave_cell_every)
                nb_man.notebook_start()
                try:
                    cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
                finally:
                    nb_man.cleanup_pbar()
                    nb_man.notebook_complete()
                return nb_man.nb

        papermill_engines.register(_ENGINE, CheckpointEngine)
        _engine_registered = True
        return _ENGINE


def _locate_failed_cell(nb: Any) -> tuple[int | None, int | None, str]:
    """(index, execution count, source) of the cell that was running when execution stopped.

    Papermill marks a cell ``failed`` when it raised and ``running`` while it runs (what a killed
    worker leaves on disk); when the kernel died Papermill still marks the cell ``completed``, so
    fall back to the last cell that had started.
    """
    started = None
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("papermill", {})
        if meta.get("status") in ("running", "failed"):
            return index, cell.get("execution_count"), cell.get("source", "")
        if meta.get("start_time"):
            started = index
    if started is None:
        return None, None, ""
    cell = nb.cells[started]
    return started, cell.get("execution_count"), cell.get("source", "")


def _execute(spec: _RunSpec, executed: Path, runtime_dir: str) -> RunError | None:
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    parameters = dict(spec.parameters)
    parameters["params_file"] = spec.param_file
    parameters["output_dir"] = str(Path(spec.tmp_dir) / "out")
    log_path = os.path.join(runtime_dir, "kernel.log")
    try:
        pm.execute_notebook(
            spec.notebook_path,
            str(executed),
            parameters=parameters,
            progress_bar=False,
            log_output=False,
            kernel_manager_class=_kernel_manager_class(spec.cwd, runtime_dir, log_path),
            shutdown_kernel="immediate",
            engine_name=_papermill_engine(),
        )
    except PapermillExecutionError as exc:
        return RunError(ename=exc.ename, evalue=str(exc.evalue), cell_index=exc.cell_index,
                        execution_count=exc.exec_count, source=exc.source)
    except Exception as exc:  # kernel death, timeout, unreadable notebook...: the run fails
        index, count, source = None, None, ""
        if executed.is_file():
            with contextlib.suppress(Exception):
                index, count, source = _locate_failed_cell(nbformat.read(executed, as_version=4))
        evalue = str(exc).strip()
        tail = _tail(log_path)
        if tail:
            evalue = f"{evalue}\nkernel log: {tail}" if evalue else f"kernel log: {tail}"
        return RunError(ename=type(exc).__name__, evalue=evalue, cell_index=index,
                        execution_count=count, source=source)
    return None


def _render(spec: _RunSpec, executed: Path, target: Path, error: RunError | None, run_date: str) -> None:
    import nbformat

    if _warmup is not None:
        _warmup.join()
    nb = nbformat.read(executed, as_version=4)
    title = spec.parameters.get("title")
    name = f"{title} - {spec.notebook}" if isinstance(title, str) and title else spec.run_id
    body = _to_html(nb, spec.show_code, name)
    body = _insert_after_open(body, "main", _failure_banner(spec, error)) if error else body
    body = _insert_before_close(body, "main", _provenance_footer(spec, run_date))
    target.write_text(body, encoding="utf-8")


def _replace_dir(src: Path, dst: Path, trash: Path) -> None:
    """Swap directory ``src`` in as ``dst`` (the old ``dst`` goes to ``trash``)."""
    if dst.exists():
        os.replace(dst, trash)
    os.replace(src, dst)


def _publish_ok(spec: _RunSpec, tmp: Path, executed: Path, rendered: Path, prov: dict[str, Any]) -> None:
    dest = spec.dest
    nb = spec.notebook
    out = tmp / "out"
    results = out / _RESULTS_FILE
    if results.is_file():
        os.replace(results, dest / f"{nb}.results.json")
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(dest / f"{nb}.results.json")
    if out.is_dir() and any(out.iterdir()):
        _replace_dir(out, dest / f"{nb}_files", tmp / "old_files")
    elif (dest / f"{nb}_files").exists():
        os.replace(dest / f"{nb}_files", tmp / "old_files")
    os.replace(executed, dest / f"{nb}.ipynb")
    os.replace(rendered, dest / f"{nb}.html")
    for suffix in (".failed.html", ".failed.ipynb"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(dest / f"{nb}{suffix}")
    staged = tmp / "provenance.json"
    staged.write_text(json.dumps(prov, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(staged, dest / f"{nb}.provenance.json")  # last: marks the report complete


def _publish_failed(dest: Path, notebook: str, executed: Path | None, rendered: Path | None) -> None:
    for source, suffix in ((executed, ".failed.ipynb"), (rendered, ".failed.html")):
        target = dest / f"{notebook}{suffix}"
        if source is not None and source.is_file():
            os.replace(source, target)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(target)


def _check_results(path: Path) -> RunError | None:
    if not path.is_file():
        return None
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        return RunError("InvalidResultsFile", f"{_RESULTS_FILE} written by the notebook is not JSON: {exc}")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        return RunError("InvalidResultsFile",
                        f"{_RESULTS_FILE} must be a JSON list of records (objects with keys"
                        f" {', '.join(_ORDER)}); got {type(records).__name__}")
    return None


def _execute_run(spec: _RunSpec) -> RunResult:
    """Execute, render and publish one run. Never raises for a notebook problem: returns a
    ``RunResult`` with ``status="failed"`` instead."""
    _configure_worker()
    started = time.perf_counter()
    run_date = _now()
    tmp = Path(spec.tmp_dir)
    dest = spec.dest
    executed = tmp / f"{spec.notebook}.ipynb"
    rendered = tmp / f"{spec.notebook}.html"
    error: RunError | None = None
    try:
        (tmp / "out").mkdir(parents=True, exist_ok=True)
        dest.mkdir(parents=True, exist_ok=True)
        os.makedirs(spec.runtime_root, exist_ok=True)
        runtime_dir = tempfile.mkdtemp(prefix="k-", dir=spec.runtime_root)
        try:
            error = _execute(spec, executed, runtime_dir)
        finally:
            shutil.rmtree(runtime_dir, ignore_errors=True)
        if error is None:
            error = _check_results(tmp / "out" / _RESULTS_FILE)
        if executed.is_file():
            try:
                _render(spec, executed, rendered, error, run_date)
            except Exception as exc:  # a broken output must not stop the batch
                error = error or RunError(type(exc).__name__, f"rendering HTML failed: {exc}")
                logger.exception("rendering %s failed", spec.run_id)
        elif error is None:
            error = RunError("MissingOutput", "Papermill did not write the executed notebook")
        duration = time.perf_counter() - started
        if error is None:
            prov = {"param_set": spec.param_set, "notebook": spec.notebook, "inputs": spec.inputs,
                    "display": spec.display, "run_date": run_date, "duration": round(duration, 3)}
            _publish_ok(spec, tmp, executed, rendered, prov)
            status = STATUS_OK
        else:
            _publish_failed(dest, spec.notebook, executed, rendered)
            status = STATUS_FAILED
    except OSError as exc:  # disk full, permissions: report as a failed run, keep the batch going
        error = RunError(type(exc).__name__, str(exc))
        status = STATUS_FAILED
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    paths = _existing_paths(dest, spec.notebook)
    return RunResult(spec.param_set, spec.notebook, status, time.perf_counter() - started, error,
                     paths, stale=status == STATUS_FAILED and "html" in paths, inputs=spec.inputs,
                     run_date=run_date)


_DIED = ("the worker process running this notebook died, probably killed by a signal"
         " (SIGKILL, out of memory)")


def _salvage_run(spec: _RunSpec, ename: str, evalue: str, duration: float, render: bool = True) -> RunResult:
    """Failed result for a run whose worker process vanished mid-run.

    Runs in a fresh worker (``render=True``: the partial notebook Papermill saved is rendered to
    ``.failed.html``) or, as a last resort, in the caller's process (``render=False``).
    """
    tmp = Path(spec.tmp_dir)
    executed = tmp / f"{spec.notebook}.ipynb"
    rendered = tmp / f"{spec.notebook}.html"
    error = RunError(ename, evalue)
    try:
        if executed.is_file():
            with contextlib.suppress(Exception):
                import nbformat

                index, count, source = _locate_failed_cell(nbformat.read(executed, as_version=4))
                error = dataclasses.replace(error, cell_index=index, execution_count=count,
                                            source=source)
            if render:
                _configure_worker()
                with contextlib.suppress(Exception):
                    _render(spec, executed, rendered, error, _now())
        spec.dest.mkdir(parents=True, exist_ok=True)
        _publish_failed(spec.dest, spec.notebook, executed, rendered)
    except OSError:
        logger.exception("could not keep the partial notebook of %s", spec.run_id)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    paths = _existing_paths(spec.dest, spec.notebook)
    return RunResult(spec.param_set, spec.notebook, STATUS_FAILED, duration, error, paths,
                     stale="html" in paths, inputs=spec.inputs, run_date=_now())


# --------------------------------------------------------------------------------------------
# Dispatch: local slots or a Dask cluster
# --------------------------------------------------------------------------------------------
def _skip_slow_optional_imports() -> None:
    """Keep 2+ s of start-up out of every worker process.

    nbformat imports jsonschema, whose optional ``rfc3987_syntax`` format checker compiles a
    grammar at import time (over 2 s, most of Papermill's and nbconvert's import time). Notebook
    validation never checks IRI formats, so our pool workers block that one import (jsonschema
    treats it as not installed). Never done in the caller's process or on Dask workers.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]


def _mp_context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _run_local(specs: Sequence[_RunSpec], jobs: int) -> Iterator[RunResult]:
    """Run ``specs`` on ``jobs`` single-worker pools; a dead worker only fails its own run.

    Each slot is its own ``ProcessPoolExecutor(max_workers=1)``, so when a worker dies
    (``BrokenProcessPool``) the culprit is known exactly and no other run is lost: the slot gets a
    fresh worker, which first renders what the dead one left (``_salvage_run``).
    """
    ctx = _mp_context()

    def new_slot() -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init_worker)

    pending = deque(specs)
    slots = [new_slot() for _ in range(min(jobs, len(specs)))]
    free = list(range(len(slots)))
    # future -> (slot, spec, start time, True if this is a salvage job)
    running: dict[cf.Future[RunResult], tuple[int, _RunSpec, float, bool]] = {}
    clean_exit = False
    try:
        while pending or running:
            while pending and free:
                slot = free.pop()
                spec = pending.popleft()
                future = slots[slot].submit(_execute_run, spec)
                running[future] = (slot, spec, time.perf_counter(), False)
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in done:
                slot, spec, started, salvage = running.pop(future)
                elapsed = time.perf_counter() - started
                try:
                    result = future.result()
                except BrokenProcessPool as exc:
                    slots[slot].shutdown(wait=False, cancel_futures=True)
                    slots[slot] = new_slot()
                    if not salvage:
                        logger.warning("worker for %s died; starting a fresh one", spec.run_id)
                        retry = slots[slot].submit(_salvage_run, spec, type(exc).__name__, _DIED, elapsed)
                        running[retry] = (slot, spec, started, True)
                        continue
                    result = _salvage_run(spec, type(exc).__name__, _DIED, elapsed, render=False)
                except Exception as exc:  # e.g. an unpicklable result: fail this run only
                    result = _salvage_run(spec, type(exc).__name__, str(exc), elapsed, render=False)
                free.append(slot)
                yield result
        clean_exit = True
    finally:
        for executor in slots:
            executor.shutdown(wait=clean_exit, cancel_futures=True)


def _run_dask(specs: Sequence[_RunSpec], address: str) -> Iterator[RunResult]:
    """Submit the same worker function to an existing Dask distributed scheduler."""
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise MissingDependencyError(
            "--dask-scheduler needs the optional 'distributed' package; install it with"
            " pip install 'ensemble-helpers[dask]'") from exc
    try:
        client = Client(address, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise BatchError(f"cannot connect to the Dask scheduler at {address}: {exc}") from exc
    with client:
        futures = {client.submit(_execute_run, spec, pure=False,
                                 key=f"ensemble-run-{spec.param_set}-{spec.notebook}-{secrets.token_hex(4)}"):
                   (spec, time.perf_counter()) for spec in specs}
        for future in as_completed(futures, loop=client.loop):
            spec, started = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # KilledWorker after Dask's retries, lost connection...
                elapsed = time.perf_counter() - started
                evalue = f"{_DIED}: {exc}"
                try:
                    result = client.submit(_salvage_run, spec, type(exc).__name__, evalue, elapsed,
                                           pure=False).result()
                except Exception:
                    result = _salvage_run(spec, type(exc).__name__, evalue, elapsed, render=False)
            finally:
                future.release()
            yield result


# --------------------------------------------------------------------------------------------
# Batch-level outputs: manifest, summary.csv, index.html
# --------------------------------------------------------------------------------------------
#: Key estimates shown side by side in index.html: (column label, endpoint, analysis; None = any).
KEY_ESTIMATES: tuple[tuple[str, str, str | None], ...] = (
    ("Median PFS (CI)", "PFS", "km_median"),
    ("Median OS (CI)", "OS", "km_median"),
    ("ORR", "ORR", None),
)


def select_key_estimates(records: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any] | None]:
    """Pick the headline records of one parameter set for the index.

    A record matches a ``KEY_ESTIMATES`` entry when its ``endpoint`` equals the entry's endpoint,
    its ``group`` is ``"Overall"`` (both case-insensitive) and its ``analysis`` is the entry's
    (``km_median`` for the medians, not e.g. ``followup_median``; any analysis for ORR). The first
    matching record wins (records are read in notebook order).

    Parameters
    ----------
    records : iterable of mapping
        Records from ``results.json`` files (keys notebook, analysis, endpoint, group, n, events,
        estimate, lower, upper, unit, p).

    Returns
    -------
    dict
        Column label -> matching record, or ``None`` when absent.

    Examples
    --------
    >>> rec = {"endpoint": "PFS", "analysis": "km_median", "group": "Overall", "estimate": 5.1}
    >>> select_key_estimates([rec])["Median PFS (CI)"]["estimate"]
    5.1
    >>> select_key_estimates([rec])["ORR"] is None
    True
    """
    chosen: dict[str, Mapping[str, Any] | None] = {label: None for label, _, _ in KEY_ESTIMATES}
    for record in records:
        endpoint = str(record.get("endpoint", "")).casefold()
        group = str(record.get("group", "")).casefold()
        analysis = str(record.get("analysis", "")).casefold()
        if group != "overall":
            continue
        for label, want_endpoint, want_analysis in KEY_ESTIMATES:
            if chosen[label] is None and endpoint == want_endpoint.casefold() and (
                    want_analysis is None or want_analysis == analysis):
                chosen[label] = record
    return chosen


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number


def format_estimate(record: Mapping[str, Any] | None) -> str:
    """``"5.5 (4.0–7.2) months"``, ``"16.1% (13.1–19.5)"``; ``"—"`` when absent.

    Not-reached (NaN or missing) values print as NR, like R's survfit. A ``unit`` of
    ``"proportion"`` is shown as a percentage, ``"%"`` as is. Display only: summary.csv keeps the
    stored numbers.

    Examples
    --------
    >>> format_estimate({"estimate": 5.46, "lower": 4.0, "upper": float("nan"), "unit": "months"})
    '5.5 (4.0–NR) months'
    >>> format_estimate({"estimate": 0.1612, "lower": 0.131, "upper": 0.195, "unit": "proportion"})
    '16.1% (13.1–19.5)'
    >>> format_estimate(None)
    '—'
    """
    if record is None:
        return "—"
    unit = str(record.get("unit") or "").strip()
    scale = 100.0 if unit == "proportion" else 1.0
    percent = unit in ("%", "proportion")

    def fmt(value: Any) -> str:
        number = _number(value)
        return "NR" if number is None or math.isnan(number) else f"{number * scale:.1f}"

    estimate = fmt(record.get("estimate"))
    text = estimate + ("%" if percent and estimate != "NR" else "")
    lower, upper = record.get("lower"), record.get("upper")
    if lower is not None or upper is not None:
        text += f" ({fmt(lower)}–{fmt(upper)})"
    if unit and not percent:
        text += f" {unit}"
    return text


def _load_records(path: str | None) -> list[dict[str, Any]]:
    records = _read_json(Path(path)) if path else None
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def _atomic_write(path: Path, text: str) -> None:
    staged = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, path)


def _rel(path: str | None, root: Path) -> str | None:
    return Path(path).relative_to(root).as_posix() if path else None


def _manifest_entry(result: RunResult, root: Path, previous: Mapping[str, Any] | None,
                    display: Mapping[str, str]) -> dict[str, Any]:
    prov = _read_json(Path(result.paths["provenance"])) if "provenance" in result.paths else None
    prov = prov if isinstance(prov, dict) else {}
    entry = {
        "param_set": result.param_set,
        "notebook": result.notebook,
        "status": result.status,
        "stale": result.stale,
        "duration": round(result.duration, 3),
        "attempt_date": result.run_date if result.status != STATUS_SKIPPED else
        (previous or {}).get("attempt_date", prov.get("run_date", "")),
        "error": result.error.describe() if result.error else None,
        "error_detail": dataclasses.asdict(result.error) if result.error else None,
        "paths": {key: _rel(value, root) for key, value in result.paths.items()},
        "report": {  # the good report on disk (may be older than this attempt)
            "run_date": prov.get("run_date"),
            "duration": prov.get("duration"),
            "inputs": prov.get("inputs"),
            "display": prov.get("display"),
        },
        "attempted_inputs": result.inputs,
        "attempted_display": dict(display),
    }
    return entry


def _read_manifest(path: Path) -> dict[str, Any]:
    data = _read_json(path)
    return data if isinstance(data, dict) and isinstance(data.get("runs"), dict) else {"runs": {}}


def _write_summary(path: Path, root: Path, runs: Mapping[str, Mapping[str, Any]]) -> None:
    rows: list[dict[str, Any]] = []
    extra: set[str] = set()
    for entry in runs.values():
        results = entry["paths"].get("results")
        for record in _load_records(str(root / results) if results else None):
            row = {**record, "param_set": entry["param_set"], "notebook": entry["notebook"],
                   "report_status": "stale" if entry["stale"] else "ok"}
            extra.update(k for k in record if k not in _ORDER)
            rows.append(row)
    fields = ["param_set", "notebook", "report_status", *[k for k in _ORDER if k != "notebook"],
              *sorted(extra)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _atomic_write(path, buffer.getvalue())


_INDEX_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.5rem;margin-bottom:.25rem} h2{font-size:1.15rem;margin-top:2rem}
p.meta{color:#57606a;margin-top:0}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;white-space:nowrap}
.badge{display:inline-block;border-radius:1em;padding:0 .6em;font-weight:600;font-size:.8rem}
.ok{background:#dafbe1;color:#116329} .failed{background:#ffebe9;color:#a40e26}
.skipped-unchanged{background:#ddf4ff;color:#0a3069} .stale{background:#fff8c5;color:#7d4e00}
.err{color:#a40e26;font-size:.8rem;max-width:32rem;white-space:pre-wrap;word-break:break-word}
.small{color:#57606a;font-size:.8rem} code{font-size:.8rem}
"""


def _badge(label: str) -> str:
    return f'<span class="badge {html.escape(label)}">{html.escape(label)}</span>'


def _link(root_rel: str | None, label: str) -> str:
    if not root_rel:
        return ""
    href = "/".join(urllib.parse.quote(part) for part in root_rel.split("/"))
    return f'<a href="{html.escape(href)}">{html.escape(label)}</a>'


def _cell(entry: Mapping[str, Any] | None) -> str:
    if entry is None:
        return '<td class="small">—</td>'
    paths = entry["paths"]
    status = entry["status"]
    parts = []
    if status == STATUS_SKIPPED:
        parts.append(_badge("skipped-unchanged"))
    else:
        parts.append(_badge(status))
    if entry.get("stale"):
        parts.append(_badge("stale"))
    if status != STATUS_SKIPPED:
        parts.append(f'<span class="small">{entry["duration"]:.1f} s</span>')
    links = [_link(paths.get("html"), "report"), _link(paths.get("ipynb"), "ipynb")]
    if status == STATUS_FAILED:
        links += [_link(paths.get("failed_html"), "failed report"),
                  _link(paths.get("failed_ipynb"), "failed ipynb")]
    parts.append("<br>" + " · ".join(link for link in links if link))
    if entry.get("stale"):
        date = (entry.get("report") or {}).get("run_date") or "?"
        parts.append(f'<br><span class="small">report shown is stale (from {html.escape(date)})</span>')
    if entry.get("error"):
        parts.append(f'<div class="err">{html.escape(entry["error"])}</div>')
    return "<td>" + " ".join(parts) + "</td>"


def _write_index(path: Path, root: Path, runs: Mapping[str, Mapping[str, Any]], generated: str,
                 versions: Mapping[str, str]) -> None:
    param_sets = sorted({e["param_set"] for e in runs.values()})
    notebooks = sorted({e["notebook"] for e in runs.values()})
    by_key = {(e["param_set"], e["notebook"]): e for e in runs.values()}
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>EN-SEMBLE reports</title>", f"<style>{_INDEX_CSS}</style></head><body>",
           "<h1>EN-SEMBLE reports</h1>",
           f'<p class="meta">Generated {esc(generated)} · {len(runs)} runs · '
           f'{_link("summary.csv", "summary.csv")} · {_link("manifest.json", "manifest.json")}</p>']
    counts: dict[str, int] = {}
    for entry in runs.values():
        label = "skipped-unchanged" if entry["status"] == STATUS_SKIPPED else entry["status"]
        counts[label] = counts.get(label, 0) + 1
        if entry.get("stale"):
            counts["stale"] = counts.get("stale", 0) + 1
    out.append('<p class="meta">' + " · ".join(f"{esc(k)}: {v}" for k, v in sorted(counts.items())) + "</p>")
    # status grid + key estimates side by side
    out.append("<h2>Runs and key estimates</h2><table><thead><tr><th>Parameter set</th>")
    out += [f"<th>{esc(nb)}</th>" for nb in notebooks]
    out += [f"<th>{esc(label)}</th>" for label, _, _ in KEY_ESTIMATES]
    out.append("</tr></thead><tbody>")
    for param in param_sets:
        out.append(f"<tr><th>{esc(param)}</th>")
        records: list[dict[str, Any]] = []
        for nb in notebooks:
            entry = by_key.get((param, nb))
            out.append(_cell(entry))
            if entry and entry["paths"].get("results"):
                records += _load_records(str(root / entry["paths"]["results"]))
        for label, record in select_key_estimates(records).items():
            out.append(f'<td class="num">{esc(format_estimate(record))}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    out.append('<p class="small">Medians: Kaplan–Meier, group "Overall"; NR = not reached; '
               "— = not reported. A stale report is the last good one, kept because the latest"
               " attempt failed.</p>")
    # provenance
    current = ", ".join(f"{k} {v}" for k, v in versions.items())
    out.append("<h2>Provenance of the reports on disk</h2>"
               f'<p class="small">Installed now: {esc(current)}. Hashes are SHA-256 (first 12'
               " hex digits; full values in manifest.json).</p><table><thead><tr><th>Run</th>"
               "<th>Report date</th><th>Parameter file</th><th>Notebook</th><th>Data file</th>"
               "<th>Helpers</th><th>Versions</th></tr></thead><tbody>")
    for key in sorted(by_key):
        entry = by_key[key]
        report = entry.get("report") or {}
        # the good report's inputs; for a run that never succeeded, those of its last attempt
        inputs = report.get("inputs") or entry.get("attempted_inputs") or {}
        display = report.get("display") or entry.get("attempted_display") or {}

        def hashed(name: str, digest_key: str, inputs: Mapping[str, Any] = inputs,
                   display: Mapping[str, Any] = display) -> str:
            digest = inputs.get(digest_key)
            shown = esc(str(display.get(name) or "—"))
            return f"{shown}<br><code>{esc(str(digest)[:12]) if digest else 'absent'}</code>"

        used = inputs.get("versions") or {}
        used_text = "as installed now" if used == dict(versions) else \
            ", ".join(f"{k} {v}" for k, v in used.items()) or "—"
        out.append(
            f"<tr><td>{esc(entry['param_set'])}/{esc(entry['notebook'])}</td>"
            f"<td>{esc(str(report.get('run_date') or 'no good report yet'))}</td>"
            f"<td>{hashed('param_file', 'param_sha256')}</td>"
            f"<td>{hashed('notebook', 'notebook_sha256')}</td>"
            f"<td>{hashed('data_file', 'data_sha256')}</td>"
            f"<td><code>{esc(str(inputs.get('package_sha256', '—'))[:12])}</code></td>"
            f'<td class="small">{esc(used_text)}</td></tr>')
    out.append("</tbody></table></body></html>")
    _atomic_write(path, "\n".join(out))


# --------------------------------------------------------------------------------------------
# HTML helpers
# --------------------------------------------------------------------------------------------
_EXTERNAL = re.compile(
    r"<(script|link|img|iframe|source|video|audio|embed)\b[^>]*?\b(src|href)\s*=\s*[\"']?\s*(https?:)?//",
    re.IGNORECASE)


def external_resources(page: str) -> list[str]:
    """Tags in ``page`` that load a script, stylesheet, image or frame over the network.

    Links the reader may click (``<a href>``) are not resources and are not reported.

    Examples
    --------
    >>> external_resources('<script src="https://cdn.example/x.js"></script><a href="https://x">x</a>')
    ['<script src="https://']
    """
    return [m.group(0) for m in _EXTERNAL.finditer(page)]


def _insert_after_open(page: str, tag: str, snippet: str) -> str:
    match = re.search(rf"<{tag}\b[^>]*>", page) or re.search(r"<body\b[^>]*>", page)
    if match is None:
        return snippet + page
    return page[:match.end()] + snippet + page[match.end():]


def _insert_before_close(page: str, tag: str, snippet: str) -> str:
    for closing in (f"</{tag}>", "</body>"):
        position = page.rfind(closing)
        if position != -1:
            return page[:position] + snippet + page[position:]
    return page + snippet


def _failure_banner(spec: _RunSpec, error: RunError) -> str:
    esc = html.escape
    rows = [f"<strong>This run failed</strong> ({esc(spec.run_id)}). The outputs below stop at the"
            " failing cell; the last good report, if any, is kept beside this file."]
    if error.cell_index is not None:
        where = f"cell {error.cell_index + 1}"
        if error.execution_count is not None:
            where = f"In [{error.execution_count}], {where} of the executed notebook"
        rows.append(f"<div>Failing cell: {esc(where)}</div>")
        if error.source:
            rows.append('<pre style="background:#fff;border:1px solid #f5c2c7;padding:.5em;'
                        f'white-space:pre-wrap">{esc(_shorten(error.source, 1500))}</pre>')
    rows.append(f"<div><code>{esc(error.ename)}</code>: {esc(_shorten(error.evalue, 2000))}</div>")
    return ('<div role="alert" class="ensemble-failure" style="margin:1em 2em;padding:1em;'
            'border:2px solid #d1242f;background:#ffebe9;color:#1f2328;font-family:system-ui,'
            f'sans-serif">{"".join(rows)}</div>')


def _provenance_footer(spec: _RunSpec, run_date: str) -> str:
    esc = html.escape
    inputs = spec.inputs
    display = spec.display

    def row(label: str, value: str, digest: str | None = None) -> str:
        code = f" <code>sha256 {esc(digest)}</code>" if digest else ""
        return (f"<tr><th style='text-align:left;padding-right:1em'>{esc(label)}</th>"
                f"<td>{esc(value)}{code}</td></tr>")

    data_value = display.get("data_file") or "—"
    if display.get("data_file") and not inputs.get("data_sha256"):
        data_value += " (not found)"
    versions = inputs.get("versions", {})
    rows = [
        row("Parameter set", spec.param_set),
        row("Parameter file", display.get("param_file", ""), inputs.get("param_sha256")),
        row("Notebook", display.get("notebook", ""), inputs.get("notebook_sha256")),
        row("Data file", data_value, inputs.get("data_sha256")),
        row("ensemble_helpers", versions.get("ensemble-helpers", "?"), inputs.get("package_sha256")),
        row("Packages", ", ".join(f"{k} {v}" for k, v in versions.items() if k != "ensemble-helpers")),
        row("Run date (UTC)", run_date),
    ]
    return ('<footer class="ensemble-provenance" style="margin:2em;padding-top:1em;border-top:1px solid'
            ' #d0d7de;color:#57606a;font:12px system-ui,sans-serif"><div><strong>Provenance</strong>'
            f'</div><table style="border-collapse:collapse">{"".join(rows)}</table></footer>')


# --------------------------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------------------------
def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _shorten(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _excerpt(source: str, lines: int = 2, limit: int = 120) -> str:
    kept = [line.strip() for line in str(source).splitlines() if line.strip()][:lines]
    return _shorten(" ⏎ ".join(kept), limit)


def _tail(path: str, lines: int = 5) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip() and "without encryption" not in line]
    return _shorten(" | ".join(kept[-lines:]), 600)


@contextlib.contextmanager
def _lock(output_dir: Path) -> Iterator[None]:
    """Exclusive lock on the output directory (POSIX); stale temp folders are then safe to remove."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    with open(output_dir / ".ensemble-run.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise OutputDirBusyError(f"another ensemble-run is writing to {output_dir}; wait for it"
                                     " to finish or choose another --output-dir") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
def _plan(param_paths: Sequence[Path], notebook_paths: Sequence[Path], out: Path, root: Path,
          show_code: bool, runtime_root: str = "") -> list[_RunSpec]:
    helpers = package_hash()
    versions = package_versions()
    notebook_hashes = {nb: sha256_file(nb) for nb in notebook_paths}
    data_hashes: dict[Path, str | None] = {}
    specs = []
    for param_path in param_paths:
        parameters = _load_params(param_path)
        data_path = parameters.get("data_path")
        data_file = None
        if isinstance(data_path, str) and data_path:
            data_file = Path(data_path) if Path(data_path).is_absolute() else root / data_path
            if data_file not in data_hashes:
                data_hashes[data_file] = _sha256_path(data_file)
        param_hash = sha256_file(param_path)
        for nb_path in notebook_paths:
            inputs = {
                "notebook_sha256": notebook_hashes[nb_path],
                "param_sha256": param_hash,
                "data_sha256": data_hashes.get(data_file) if data_file else None,
                "package_sha256": helpers,
                "versions": versions,
                "show_code": show_code,
            }
            display = {
                "param_file": _display_path(param_path, root),
                "notebook": _display_path(nb_path, root),
                "data_file": _display_path(data_file, root) if data_file else "",
            }
            token = secrets.token_hex(4)
            specs.append(_RunSpec(
                param_set=param_path.stem, notebook=nb_path.stem, param_file=str(param_path),
                notebook_path=str(nb_path), parameters=parameters, output_dir=str(out),
                tmp_dir=str(out / f".tmp-{param_path.stem}-{nb_path.stem}-{token}"), cwd=str(root),
                show_code=show_code, inputs=inputs, display=display,
                runtime_root=runtime_root or tempfile.gettempdir()))
    return specs


def run_batch(
    param_files: Iterable[str | os.PathLike[str]] | None,
    notebooks: Iterable[str | os.PathLike[str]] | None,
    output_dir: str | os.PathLike[str],
    jobs: int | None = None,
    show_code: bool = False,
    force: bool = False,
    dask_scheduler: str | None = None,
    progress: bool = True,
    cwd: str | os.PathLike[str] | None = None,
) -> BatchResult:
    """Execute every parameter file x notebook, render HTML, write index.html and summary.csv.

    Parameters
    ----------
    param_files : iterable of path, or None
        YAML parameter files, or folders of them (``*.yaml``, ``*.yml``); ``None`` or empty means
        ``<cwd>/params``.
    notebooks : iterable of path, or None
        Notebooks or folders of them; ``None`` or empty means ``<cwd>/notebooks``.
    output_dir : path
        Where reports go (created if needed); relative to the current directory.
    jobs : int, optional
        Parallel runs (default ``os.cpu_count()``). Ignored with ``dask_scheduler``.
    show_code : bool
        Keep code cells in the HTML (default: outputs only).
    force : bool
        Re-run runs whose inputs are unchanged.
    dask_scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); needs ``distributed`` and a
        file system shared with the workers.
    progress : bool
        Show a tqdm progress bar and one line per finished run on stderr.
    cwd : path, optional
        Repository root: kernels run there and relative ``data_path`` values resolve against it
        (default: the current directory).

    Returns
    -------
    BatchResult
        One ``RunResult`` per run, in parameter-file then notebook order.

    Raises
    ------
    BatchError
        Nothing to run, duplicate names, unreadable parameter file, output directory busy.
    MissingDependencyError
        ``dask_scheduler`` given but ``distributed`` is not installed.
    """
    started = time.perf_counter()
    root = Path(cwd).resolve() if cwd is not None else Path.cwd().resolve()
    param_items = list(param_files or []) or [root / "params"]
    notebook_items = list(notebooks or []) or [root / "notebooks"]
    param_paths = _expand(param_items, ("*.yaml", "*.yml"), "parameter file")
    notebook_paths = [p for p in _expand(notebook_items, ("*.ipynb",), "notebook")
                      if not p.stem.endswith("-checkpoint")]
    if not param_paths:
        raise BatchError(f"no parameter files (*.yaml) in {', '.join(map(str, param_items))}")
    if not notebook_paths:
        raise BatchError(f"no notebooks (*.ipynb) in {', '.join(map(str, notebook_items))}")
    _check_unique_stems(param_paths, "parameter file")
    _check_unique_stems(notebook_paths, "notebook")
    if dask_scheduler:
        try:
            import distributed  # noqa: F401 - fail before any work is done
        except ImportError as exc:
            raise MissingDependencyError(
                "--dask-scheduler needs the optional 'distributed' package; install it with"
                " pip install 'ensemble-helpers[dask]'") from exc
    out = Path(output_dir)
    out = (out if out.is_absolute() else Path.cwd() / out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"

    with _lock(out):
        for stale in out.glob(".tmp-*"):  # left by a crashed batch; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        manifest = _read_manifest(manifest_path)
        # kernel connection files and IPC sockets: a short path (unix sockets allow ~100 chars)
        runtime_root = tempfile.mkdtemp(prefix="ensemble-run-")
        specs = _plan(param_paths, notebook_paths, out, root, show_code, runtime_root)
        results: dict[str, RunResult] = {}
        to_run = []
        for spec in specs:
            if not force and _is_up_to_date(spec):
                prov = _read_json(spec.dest / f"{spec.notebook}.provenance.json") or {}
                results[spec.run_id] = RunResult(
                    spec.param_set, spec.notebook, STATUS_SKIPPED, 0.0, None,
                    _existing_paths(spec.dest, spec.notebook), inputs=spec.inputs,
                    run_date=prov.get("run_date", ""))
            else:
                to_run.append(spec)
        # Longest runs first (by last recorded duration; unknown first) to shorten the batch.
        last = {key: (e.get("report") or {}).get("duration") for key, e in manifest["runs"].items()}
        to_run.sort(key=lambda s: -(last.get(s.run_id) or math.inf))

        bar = _progress_bar(len(specs), progress)
        bar.update(len(results))
        for result in results.values():
            _announce(bar, result, progress)
        try:
            if to_run:
                jobs = max(1, jobs or os.cpu_count() or 1)
                stream = _run_dask(to_run, dask_scheduler) if dask_scheduler else _run_local(to_run, jobs)
                for result in stream:
                    results[result.run_id] = result
                    bar.update(1)
                    _announce(bar, result, progress)
        finally:
            # also after Ctrl-C or a lost Dask scheduler: index what finished
            bar.close()
            shutil.rmtree(runtime_root, ignore_errors=True)
            index_path, summary_path = _write_batch_files(out, manifest, specs, results)
    ordered = [results[spec.run_id] for spec in specs]
    return BatchResult(out, ordered, index_path, summary_path, manifest_path,
                       time.perf_counter() - started)


def _write_batch_files(out: Path, manifest: Mapping[str, Any], specs: Sequence[_RunSpec],
                       results: Mapping[str, RunResult]) -> tuple[Path, Path]:
    """Update manifest.json with the finished runs, then rewrite summary.csv and index.html."""
    runs = dict(manifest["runs"])
    for spec in specs:
        if spec.run_id in results:
            runs[spec.run_id] = _manifest_entry(results[spec.run_id], out, runs.get(spec.run_id),
                                                spec.display)
    # keep earlier runs not in this batch while their report files still exist
    runs = {key: entry for key, entry in runs.items()
            if any((out / p).exists() for p in (entry.get("paths") or {}).values() if p)}
    generated = _now()
    versions = package_versions()
    _atomic_write(out / "manifest.json", json.dumps(
        {"generated": generated, "versions": versions, "package_sha256": package_hash(),
         "runs": dict(sorted(runs.items()))}, indent=2, default=str))
    summary_path = out / "summary.csv"
    index_path = out / "index.html"
    _write_summary(summary_path, out, runs)
    _write_index(index_path, out, runs, generated, versions)
    return index_path, summary_path


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="run", desc="ensemble-run", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True)


def _announce(bar: Any, result: RunResult, enabled: bool) -> None:
    if result.status == STATUS_SKIPPED:
        line = f"{'skipped':7} {result.run_id} (unchanged)"
    else:
        line = f"{result.status:7} {result.run_id} {result.duration:.1f}s"
        if result.error:
            line += f"  {result.error.describe()}"
    logger.info(line)
    if enabled:
        bar.write(line, file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ensemble-run",
        description="Execute every parameter file x notebook with Papermill and render offline HTML"
                    " reports, an index and a summary table.")
    parser.add_argument("param_files", nargs="*", metavar="PARAM_FILE",
                        help="YAML parameter files or folders (default: params/*.yaml)")
    parser.add_argument("--notebooks", nargs="+", metavar="NOTEBOOK",
                        help="notebooks or folders (default: notebooks/*.ipynb)")
    parser.add_argument("--output-dir", default="reports", help="report folder (default: reports)")
    parser.add_argument("--jobs", "-j", type=int, default=None,
                        help="parallel runs (default: number of CPUs)")
    parser.add_argument("--show-code", action="store_true", help="keep code cells in the HTML")
    parser.add_argument("--force", action="store_true", help="re-run unchanged runs too")
    parser.add_argument("--dask-scheduler", metavar="ADDRESS",
                        help="run on an existing Dask cluster (needs ensemble-helpers[dask])")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: parse arguments, call ``run_batch``, report failures; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        _parser().error("--jobs must be at least 1")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = run_batch(args.param_files, args.notebooks, args.output_dir, jobs=args.jobs,
                           show_code=args.show_code, force=args.force,
                           dask_scheduler=args.dask_scheduler, progress=not args.no_progress)
    except BatchError as exc:
        print(f"ensemble-run: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ensemble-run: interrupted; finished runs are in {args.output_dir}/index.html",
              file=sys.stderr)
        return 130
    print(f"{len(result.ok)} ok, {len(result.failed)} failed, {len(result.skipped)} skipped"
          f" in {result.duration:.1f}s; index: {result.index_path}", file=sys.stderr)
    if result.failed:
        print("Failed runs:", file=sys.stderr)
        for run in result.failed:
            kept = " (previous good report kept, now stale)" if run.stale else ""
            print(f"  {run.run_id}{kept}: {run.error.describe() if run.error else 'unknown error'}",
                  file=sys.stderr)
            if "failed_html" in run.paths:
                print(f"    see {run.paths['failed_html']}", file=sys.stderr)
    return result.exit_code


if __name__ == "__main__":
    # ``python -m ensemble_helpers.batch``. Re-enter through the package so that pickled functions
    # are named ``ensemble_helpers.batch._execute_run`` (workers and Dask import them by that
    # name), and hide this __main__ module from multiprocessing, which would otherwise re-run it
    # in every worker (as ``__mp_main__``, with a runpy warning) although workers need nothing
    # from it.
    __spec__ = None  # noqa: A001
    del __file__
    from ensemble_helpers.batch import main as _main

    raise SystemExit(_main())
