"""Orchestration: ``run_batch`` plans the runs, dispatches them to local slots or a Dask cluster,
and writes the batch-level files."""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import hashlib
import logging
import math
import multiprocessing
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import yaml

from ensemble_helpers.batch.errors import BatchError, MissingDependencyError
from ensemble_helpers.batch.execute import (
    _DIED,
    _execute_remote,
    _execute_run,
    _init_worker,
    kernel_threads,
    _salvage_run,
)
from ensemble_helpers.batch.plan import (
    _existing_paths,
    _plan,
    _read_json,
    collect_inputs,
    decide,
    safe_name_problem,
)
from ensemble_helpers.batch.render import publishable_error
from ensemble_helpers.batch.publish import (
    OUTPUT_ERRNOS,
    DataWatch,
    _lock,
    _read_manifest,
    _write_batch_files,
    check_writable,
    output_dir_error,
    publish_run,
)
from ensemble_helpers.batch.runs import (
    INVALID_PARAMETERS,
    STATUS_FAILED,
    STATUS_SKIPPED,
    BatchResult,
    PlannedRun,
    RunError,
    RunOutcome,
    RunResult,
    RunSpec,
    _now,
)

__all__ = ["plan_batch", "run_batch"]

logger = logging.getLogger(__name__)

#: Imported once in the fork server; workers fork from it. The heavy stack (Papermill, nbconvert)
#: is imported by each worker's initializer instead, after ``_skip_slow_optional_imports``.
_PRELOAD = ["ensemble_helpers.batch"]


def _mp_context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _run_local(specs: Sequence[RunSpec], jobs: int) -> Iterator[tuple[RunSpec, RunOutcome]]:
    """Run ``specs`` on ``jobs`` single-worker pools; a dead worker only fails its own run.

    Each slot is its own ``ProcessPoolExecutor(max_workers=1)``, so when a worker dies
    (``BrokenProcessPool``) the culprit is known exactly and no other run is lost: the slot gets a
    fresh worker, which first renders what the dead one left (``_salvage_run``). Workers exit
    when this process dies, by any signal (``execute._watch_parent``); when the caller stops
    early (an error, Ctrl-C) they are killed.
    """
    ctx = _mp_context()

    def new_slot() -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init_worker,
                                      initargs=(os.getpid(),))

    pending = deque(specs)
    slots = [new_slot() for _ in range(min(jobs, len(specs)))]
    free = list(range(len(slots)))
    # future -> (slot, spec, start time, True if this is a salvage job)
    running: dict[cf.Future[RunOutcome], tuple[int, RunSpec, float, bool]] = {}
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
                yield spec, result
        clean_exit = True
    finally:
        for executor in slots:
            if not clean_exit:  # nobody will publish what they are doing: stop them now
                for process in list((getattr(executor, "_processes", None) or {}).values()):
                    with contextlib.suppress(Exception):
                        process.kill()
            executor.shutdown(wait=clean_exit, cancel_futures=True)


def _run_dask(specs: Sequence[RunSpec], address: str) -> Iterator[tuple[RunSpec, RunOutcome]]:
    """Run ``specs`` on an existing Dask cluster that shares no disk with this process.

    Each data file is read here once, checked against the hash the runs were planned with, and
    scattered to the cluster; each task receives its notebook, its effective parameters and
    those bytes (``execute._execute_remote``) and returns every file of the run, which this
    process alone publishes. A run whose worker died fails with the reason.
    """
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
        data: dict[str, Any] = {}  # data file -> scattered bytes, or None when it changed
        notebooks: dict[str, bytes] = {}
        futures = {}
        for spec in specs:
            if spec.data_file not in data:
                try:
                    content = Path(spec.data_file).read_bytes()
                except OSError:  # gone since planning
                    content = b""
                same = hashlib.sha256(content).hexdigest() == spec.inputs.get("data_sha256")
                data[spec.data_file] = client.scatter(content, hash=False) if same else None
            if data[spec.data_file] is None:  # changed since planning: fail, publish nothing
                yield spec, RunOutcome(None, 0.0, _now())  # publish_run reports DataFileChanged
                continue
            if spec.notebook_path not in notebooks:
                notebooks[spec.notebook_path] = Path(spec.notebook_path).read_bytes()
            name = Path(spec.data_file).name
            params_text = yaml.safe_dump({**spec.parameters, "data_path": f"data/{name}"},
                                         sort_keys=False, allow_unicode=True)
            key = f"ensemble-run-{spec.param_set}-{spec.notebook}-{secrets.token_hex(4)}"
            future = client.submit(_execute_remote, spec, notebooks[spec.notebook_path],
                                   params_text, data[spec.data_file], name, pure=False, key=key)
            futures[future] = (spec, time.perf_counter())
        for future in as_completed(futures, loop=client.loop):
            spec, started = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # KilledWorker after Dask's retries, lost connection...
                evalue = f"{_DIED}: {exc}"
                result = RunOutcome(RunError(type(exc).__name__, evalue),
                                    time.perf_counter() - started, _now())
            finally:
                future.release()
            yield spec, result


def _output_folder(output_dir: str | os.PathLike[str]) -> Path:
    out = Path(output_dir)
    return (out if out.is_absolute() else Path.cwd() / out).resolve()


def plan_batch(
    param_files: Iterable[str | os.PathLike[str]] | None,
    notebooks: Iterable[str | os.PathLike[str]] | None,
    output_dir: str | os.PathLike[str],
    show_code: bool = False,
    force: bool = False,
    cwd: str | os.PathLike[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> list[PlannedRun]:
    """What ``run_batch`` with the same arguments would do, without running or writing anything.

    Returns
    -------
    list of PlannedRun
        One per parameter file x notebook: ``action`` is ``"run"``, ``"skip"`` (up to date) or
        ``"fail"`` (invalid parameter file), with the ``reason`` and the file's ``problems``.
    """
    root = Path(cwd).resolve() if cwd is not None else Path.cwd().resolve()
    param_paths, notebook_paths = collect_inputs(param_files, notebooks, root)
    specs = _plan(param_paths, notebook_paths, _output_folder(output_dir), root, show_code,
                  overrides=parameters)
    return [PlannedRun(spec.run_id, *decide(spec, force), problems=spec.problems) for spec in specs]


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
    parameters: Mapping[str, Any] | None = None,
) -> BatchResult:
    """Execute every parameter file x notebook, render HTML, write index.html and summary.csv.

    Every parameter file is read and validated first (strict YAML, every key, column names
    against the data file's header, ``data_path`` a regular file, a safe run name); each problem is
    logged once, one line each, before any kernel starts. The runs of an invalid file fail
    without starting; the other files' runs go ahead.

    Parameters
    ----------
    param_files : iterable of path, or None
        YAML parameter files, or folders of them (``*.yaml``, ``*.yml``); ``None`` or empty means
        ``<cwd>/params``.
    notebooks : iterable of path or name, or None
        Notebooks, folders of them, or short names (``02_endpoints`` for
        ``<cwd>/notebooks/02_endpoints.ipynb``); ``None`` or empty means ``<cwd>/notebooks``.
    output_dir : path
        Where reports go (created if needed); relative to the current directory.
    jobs : int, optional
        Parallel runs (default ``os.cpu_count()``). Ignored with ``dask_scheduler``.
    show_code : bool
        Keep code cells in the HTML (default: outputs only).
    force : bool
        Re-run runs whose inputs are unchanged.
    dask_scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); needs ``distributed``. The
        workers need this package and the analysis stack, not the data or output folders:
        they receive the notebook, parameters and data bytes and return every file.
    progress : bool
        Show a tqdm progress bar and one line per finished run on stderr.
    cwd : path, optional
        Repository root: kernels run there and relative ``data_path`` values resolve against it
        (default: the current directory).
    parameters : mapping, optional
        Values that replace those of every parameter file (``-p KEY VALUE``, ``-y YAML``),
        validated the same way; they are part of each run's fingerprint.

    Returns
    -------
    BatchResult
        One ``RunResult`` per run, in parameter-file then notebook order.

    Raises
    ------
    BatchError
        Nothing to run, duplicate or unsafe names, output directory busy.
    MissingDependencyError
        ``dask_scheduler`` given but ``distributed`` is not installed.
    """
    started = time.perf_counter()
    root = Path(cwd).resolve() if cwd is not None else Path.cwd().resolve()
    param_paths, notebook_paths = collect_inputs(param_files, notebooks, root)
    if dask_scheduler:
        try:
            import distributed  # noqa: F401 - fail before any work is done
        except ImportError as exc:
            raise MissingDependencyError(
                "--dask-scheduler needs the optional 'distributed' package; install it with"
                " pip install 'ensemble-helpers[dask]'") from exc
    out = _output_folder(output_dir)
    check_writable(out)  # read-only, not permitted, full: one clear error before anything runs
    manifest_path = out / "manifest.json"
    watch = DataWatch()

    with _lock(out):
        # left by a batch that was killed: we hold the lock, so it is dead, and its workers exited
        # with it (execute._watch_parent)
        for stale in out.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        for stale in [*out.glob(".ensemble-run-probe-*"), *out.glob(".*.tmp")]:
            stale.unlink(missing_ok=True)
        manifest = _read_manifest(manifest_path)
        # kernel connection files and IPC sockets: a short path (unix sockets allow ~100 chars)
        runtime_root = tempfile.mkdtemp(prefix="ensemble-run-")
        specs = _plan(param_paths, notebook_paths, out, root, show_code, runtime_root,
                      overrides=parameters, watch=watch)
        results: dict[str, RunResult] = {}
        to_run = []
        reported: set[str] = set()
        for spec in specs:
            action, reason = decide(spec, force)
            if action == "skip":
                prov = _read_json(spec.dest / f"{spec.notebook}.provenance.json") or {}
                results[spec.run_id] = RunResult(
                    spec.param_set, spec.notebook, STATUS_SKIPPED, 0.0, None,
                    _existing_paths(spec.dest, spec.notebook), inputs=spec.inputs,
                    run_date=prov.get("run_date", ""))
            elif action == "fail":
                if spec.param_file not in reported:  # each bad file once, one line per problem
                    reported.add(spec.param_file)
                    for problem in spec.problems:
                        logger.error("%s", problem)
                results[spec.run_id] = _invalid_run(spec)
            else:
                logger.debug("run %s: %s", spec.run_id, reason)
                to_run.append(spec)
        # Longest runs first (by last recorded duration; unknown first) to shorten the batch.
        last = {key: (e.get("report") or {}).get("duration") for key, e in manifest["runs"].items()}
        to_run.sort(key=lambda s: -(last.get(s.run_id) or math.inf))

        bar = _progress_bar(len(specs), progress)
        bar.update(len(results))
        for result in results.values():
            _announce(bar, result, progress)
        failure: BaseException | None = None
        published = 0
        try:
            if to_run:
                jobs = max(1, jobs or os.cpu_count() or 1)
                threads = kernel_threads(min(jobs, len(to_run)))
                to_run = [dataclasses.replace(s, kernel_threads=threads) for s in to_run]
                stream = _run_dask(to_run, dask_scheduler) if dask_scheduler else _run_local(to_run, jobs)
                for spec, outcome in stream:
                    if outcome.errno in OUTPUT_ERRNOS:  # the output folder itself cannot take it
                        raise output_dir_error(out, OSError(outcome.errno, os.strerror(outcome.errno)))
                    try:
                        result = publish_run(spec, outcome, watch)
                    except OSError as exc:
                        if exc.errno in OUTPUT_ERRNOS:
                            raise output_dir_error(out, exc) from exc
                        raise
                    results[result.run_id] = result
                    published += 1
                    bar.update(1)
                    _announce(bar, result, progress)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            # also after Ctrl-C, a full disk or a lost Dask scheduler: no temporary folder stays,
            # and the index shows what finished
            bar.close()
            shutil.rmtree(runtime_root, ignore_errors=True)
            for spec in to_run:
                shutil.rmtree(spec.tmp_dir, ignore_errors=True)
            index_path, summary_path = out / "index.html", out / "summary.csv"
            try:
                if failure is None or published:  # else the index still describes the folder
                    index_path, summary_path = _write_batch_files(out, manifest, specs, results)
            except OSError as exc:
                if failure is None:
                    if exc.errno in OUTPUT_ERRNOS:
                        raise output_dir_error(out, exc) from exc
                    raise
                logger.debug("batch files not rewritten: %s", exc)
    ordered = [results[spec.run_id] for spec in specs]
    return BatchResult(out, ordered, index_path, summary_path, manifest_path,
                       time.perf_counter() - started)


def _invalid_run(spec: RunSpec) -> RunResult:
    """The failed result of a run whose parameter file is invalid (no kernel was started)."""
    # published in manifest.json and index.html: paths relative to the project (the terminal
    # got each problem as it was found)
    error = publishable_error(RunError(INVALID_PARAMETERS, "; ".join(spec.problems)), spec.cwd, ())
    paths = {} if safe_name_problem(spec.param_set) else _existing_paths(spec.dest, spec.notebook)
    return RunResult(spec.param_set, spec.notebook, STATUS_FAILED, 0.0, error, paths,
                     stale="html" in paths, inputs=spec.inputs, run_date=_now())


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="run", desc="ensemble-run", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True)


def _announce(bar: Any, result: RunResult, enabled: bool) -> None:
    if result.error is not None and result.error.ename == INVALID_PARAMETERS:
        line = f"{'failed':7} {result.run_id} (not started: invalid parameter file)"
    elif result.status == STATUS_SKIPPED:
        line = f"{'skipped':7} {result.run_id} (unchanged)"
    else:
        line = f"{result.status:7} {result.run_id} {result.duration:.1f}s"
        if result.error:
            line += f"  {result.error.describe()}"
    logger.info(line)
    if enabled:
        bar.write(line, file=sys.stderr)
