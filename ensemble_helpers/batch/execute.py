"""Execution, on a pool worker or a Dask worker: one run = Papermill in-process + render + publish.

The kernel manager (working directory, IPC sockets, log file, inline figures), the Papermill
engine that checkpoints at cell start, and the recovery of a run whose worker died.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ensemble_helpers.cache import sha256_file
from ensemble_helpers.batch.render import _render, warm_up
from ensemble_helpers.batch.runs import (
    _ORDER,
    _RESULTS_FILE,
    RunError,
    RunOutcome,
    RunSpec,
    _now,
    _shorten,
)

logger = logging.getLogger(__name__)

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


def _init_worker(parent_pid: int | None = None) -> None:
    """Pool initializer: exit with the batch's parent (``_watch_parent``), import the execution
    stack now, and warm the HTML exporter (template compilation and nbconvert's lazy imports,
    ~0.5 s) in a background thread while the first kernel starts; ``_render`` waits for it."""
    if parent_pid is not None:
        _watch_parent(parent_pid)
    _skip_slow_optional_imports()
    # Nothing in the worker draws; keep any accidental matplotlib import headless. The *kernel*
    # gets the inline backend explicitly (see _kernel_manager_class).
    os.environ.setdefault("MPLBACKEND", "Agg")
    _configure_worker()
    import nbclient  # noqa: F401
    import papermill  # noqa: F401

    warm_up()



#: Environment variables that size the thread pools of NumPy's BLAS (OpenBLAS, MKL) and OpenMP.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def kernel_threads(parallel_runs: int, cpus: int | None = None) -> int:
    """BLAS threads per kernel when ``parallel_runs`` kernels share the machine's ``cpus``.

    OpenBLAS starts one thread per core in every process and spins while it waits; with one
    kernel per core, those threads fight over the cores for the small matrices of a report
    (a 664 x 664 SVD took 1.55 s instead of 0.14 s next to a second kernel). Each kernel gets
    its share of the cores instead, at least one (what joblib and Dask do for their workers).
    """
    cpus = cpus or os.cpu_count() or 1
    return max(1, cpus // max(1, parallel_runs))


def kernel_environment(base: Mapping[str, str], threads: int) -> dict[str, str]:
    """The environment of a batch kernel: ``base``, the inline figure backend, and ``threads``
    BLAS/OpenMP threads unless ``base`` sets them already (a user's choice wins; 0: unset)."""
    env = dict(base)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # debugpy start-up warning
    if threads > 0:
        for name in THREAD_VARIABLES:
            env.setdefault(name, str(threads))
    return env


def _kernel_manager_class(cwd: str, runtime_dir: str, log_path: str, threads: int = 0) -> type:
    """An AsyncKernelManager that starts the kernel in ``cwd``, talks over IPC sockets in a private
    folder (no TCP ports to collide between parallel kernels), logs to a file, keeps figures
    inline even when the caller's shell sets ``MPLBACKEND``, and gives the kernel ``threads``
    BLAS threads (:func:`kernel_environment`)."""
    from jupyter_client.manager import AsyncKernelManager

    class BatchKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("connection_file", os.path.join(runtime_dir, "kernel.json"))
            super().__init__(**kwargs)

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw["env"] = kernel_environment(os.environ, threads)
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
            pid = getattr(getattr(self.provisioner, "process", None), "pid", None)
            if pid:
                _kernel_pids.add(pid)
                self._ensemble_pid = pid

        async def shutdown_kernel(self, *args: Any, **kw: Any) -> None:  # type: ignore[override]
            try:
                await super().shutdown_kernel(*args, **kw)
            finally:
                _kernel_pids.discard(getattr(self, "_ensemble_pid", None))

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


def _execute(spec: RunSpec, executed: Path, runtime_dir: str) -> RunError | None:
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    parameters = dict(spec.parameters)
    parameters["params_file"] = spec.param_file
    if spec.overridden:  # -p/-y: the notebook re-validates the effective parameters, not the file
        effective = Path(spec.tmp_dir) / f"{spec.param_set}.yaml"
        effective.write_text(yaml.safe_dump(dict(spec.parameters), sort_keys=False), encoding="utf-8")
        parameters["params_file"] = str(effective)
    parameters["output_dir"] = str(Path(spec.tmp_dir) / "out")
    log_path = os.path.join(runtime_dir, "kernel.log")
    try:
        pm.execute_notebook(
            spec.notebook_path,
            str(executed),
            parameters=parameters,
            progress_bar=False,
            log_output=False,
            kernel_manager_class=_kernel_manager_class(spec.cwd, runtime_dir, log_path, spec.kernel_threads),
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


def _stage_run(spec: RunSpec) -> RunOutcome:
    """Execute and render one run into its temporary folder; nothing is published here."""
    started = time.perf_counter()
    run_date = _now()
    tmp = Path(spec.tmp_dir)
    executed = tmp / f"{spec.notebook}.ipynb"
    rendered = tmp / f"{spec.notebook}.html"
    (tmp / "out").mkdir(parents=True, exist_ok=True)
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
        except OSError:
            raise
        except Exception as exc:  # a broken output must not stop the batch
            error = error or RunError(type(exc).__name__, f"rendering HTML failed: {exc}")
            logger.exception("rendering %s failed", spec.run_id)
    elif error is None:
        error = RunError("MissingOutput", "Papermill did not write the executed notebook")
    return RunOutcome(error, time.perf_counter() - started, run_date)


def _execute_run(spec: RunSpec) -> RunOutcome:
    """Execute and render one run in a worker; the parent publishes (``publish.publish_run``).

    Never raises for a notebook problem: the outcome carries the error instead. An ``OSError``
    (e.g. the output folder's disk is full) is returned with its ``errno``.
    """
    _configure_worker()
    started = time.perf_counter()
    try:
        return _stage_run(spec)
    except OSError as exc:
        return RunOutcome(RunError(type(exc).__name__, str(exc)), time.perf_counter() - started,
                          _now(), errno=exc.errno)


def _execute_remote(spec: RunSpec, notebook: bytes, params_text: str, data: bytes,
                    data_name: str) -> RunOutcome:
    """One run on a Dask worker that shares no disk with the client.

    The notebook, the effective parameters (``data_path`` pointing at the local copy) and the
    data bytes are written to a private temporary folder, which is also the kernel's working
    directory; the run is executed and rendered there, and every file of the run comes back in
    ``RunOutcome.files`` for the client to publish. Nothing is written anywhere else.
    """
    _configure_worker()
    started = time.perf_counter()
    spec = dataclasses.replace(spec, kernel_threads=kernel_threads(_dask_worker_threads()))
    with tempfile.TemporaryDirectory(prefix="ensemble-run-") as folder:
        work = Path(folder)
        (work / "data").mkdir()
        data_file = work / "data" / data_name
        data_file.write_bytes(data)
        notebook_file = work / f"{spec.notebook}.ipynb"
        notebook_file.write_bytes(notebook)
        param_file = work / f"{spec.param_set}.yaml"
        param_file.write_text(params_text, encoding="utf-8")
        run = work / "run"
        local = dataclasses.replace(
            spec, notebook_path=str(notebook_file), param_file=str(param_file),
            parameters={**spec.parameters, "data_path": f"data/{data_name}"}, overridden=False,
            output_dir=str(work), tmp_dir=str(run), cwd=str(work), runtime_root=str(work / "k"),
            data_file=str(data_file))
        try:
            outcome = _stage_run(local)
        except OSError as exc:
            return RunOutcome(RunError(type(exc).__name__, str(exc)), time.perf_counter() - started,
                              _now(), files={}, errno=exc.errno)
        if outcome.error is None and sha256_file(data_file) != spec.inputs.get("data_sha256"):
            outcome.error = RunError("DataFileChanged", "the notebook changed its copy of the data"
                                     " file during the run; the report was not published")
        outcome.files = {path.relative_to(run).as_posix(): path.read_bytes()
                         for path in sorted(run.rglob("*"))
                         if path.is_file() and not path.name.endswith(".part")}
    return outcome


def _dask_worker_threads() -> int:
    """How many runs this Dask worker executes at once (its thread count; 1 outside a worker)."""
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except Exception:  # not on a worker, or another distributed version
        return 1


_DIED = ("the worker process running this notebook died, probably killed by a signal"
         " (SIGKILL, out of memory)")


def _salvage_run(spec: RunSpec, ename: str, evalue: str, duration: float, render: bool = True) -> RunOutcome:
    """Failed outcome for a run whose worker process vanished mid-run.

    Runs in a fresh worker (``render=True``: the partial notebook Papermill saved is rendered
    into the run's temporary folder, to be published as ``.failed.html``) or, as a last resort,
    in the parent (``render=False``).
    """
    tmp = Path(spec.tmp_dir)
    executed = tmp / f"{spec.notebook}.ipynb"
    rendered = tmp / f"{spec.notebook}.html"
    error = RunError(ename, evalue)
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
    return RunOutcome(error, duration, _now())


# --------------------------------------------------------------------------------------------
# Orphan protection: a worker never outlives the batch's parent process
# --------------------------------------------------------------------------------------------
_kernel_pids: set[int] = set()  # kernels this worker started and has not yet seen exit


def _watch_parent(parent_pid: int) -> None:
    """Exit this worker as soon as process ``parent_pid`` ends, however it ends (SIGKILL too).

    Linux: a pidfd becomes readable when the process exits (immediate); elsewhere the pid is
    polled every 0.2 s. The worker kills the kernels it started, then exits without running any
    clean-up that could publish (``os._exit``); a kernel it could not kill exits within a second
    by itself (ipykernel polls its own parent). The output folder's lock dies with the parent,
    so the next batch may then clean temporary folders safely.
    """
    def watch() -> None:
        try:
            fd = os.pidfd_open(parent_pid)
        except ProcessLookupError:
            fd = -1  # already gone
        except (AttributeError, OSError):  # not Linux (or no pidfd): poll
            fd = None
        if fd is not None and fd >= 0:
            select.select([fd], [], [])
        elif fd is None:
            while True:
                try:
                    os.kill(parent_pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
                time.sleep(0.2)
        for pid in list(_kernel_pids):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        os._exit(70)  # EX_SOFTWARE: nothing flushed, nothing published

    threading.Thread(target=watch, name="ensemble-run-parent-watch", daemon=True).start()


def _skip_slow_optional_imports() -> None:
    """Keep 2+ s of start-up out of every worker process.

    nbformat imports jsonschema, whose optional ``rfc3987_syntax`` format checker compiles a
    grammar at import time (over 2 s, most of Papermill's and nbconvert's import time). Notebook
    validation never checks IRI formats, so our pool workers block that one import (jsonschema
    treats it as not installed). Never done in the caller's process or on Dask workers.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]



def _tail(path: str, lines: int = 5) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip() and "without encryption" not in line]
    return _shorten(" | ".join(kept[-lines:]), 600)
