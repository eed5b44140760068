"""Publishing: atomic moves into the output folder, the manifest, summary.csv, the lock.

Only the parent process publishes, and only while it holds the output folder's lock: workers
(local or Dask) leave their files in the run's temporary folder, or return them as bytes, and
:func:`publish_run` moves them into place after checking that the data file is still the one
the run was planned with.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import io
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ensemble_helpers.batch.errors import OutputDirBusyError, OutputDirError, UnsafePathError
from ensemble_helpers.batch.index import _load_records, render_index
from ensemble_helpers.batch.plan import _existing_paths, _read_json, package_hash, package_versions
from ensemble_helpers.batch.runs import (
    _ORDER,
    _RESULTS_FILE,
    STATUS_FAILED,
    STATUS_OK,
    STATUS_SKIPPED,
    RunError,
    RunOutcome,
    RunResult,
    RunSpec,
    _now,
)
from ensemble_helpers.batch.render import publishable_error
from ensemble_helpers.cache import sha256_file
from ensemble_helpers.disclosure import (
    INTERNAL_DIR,
    append_internal,
    data_identifiers,
    publishable_notebook,
    publishable_records,
    set_shared_permissions,
    write_internal,
)
from ensemble_helpers.params import Params

__all__ = ["DataWatch", "ERRORS_LOG", "check_writable", "publish_run"]

logger = logging.getLogger(__name__)

#: Owner-only log (under ``<output-dir>/internal/``) of run errors as raised, ids included.
ERRORS_LOG = "errors.log"


def _replace_dir(src: Path, dst: Path, trash: Path) -> None:
    """Swap directory ``src`` in as ``dst`` (the old ``dst`` goes to ``trash``)."""
    if dst.exists():
        os.replace(dst, trash)
    os.replace(src, dst)


def min_cell_size_of(spec: RunSpec) -> int | None:
    """The run's ``min_cell_size`` (the parameter file's, else the default of :class:`Params`)."""
    return spec.parameters.get("min_cell_size", Params.min_cell_size)


def _internal_results_path(spec: RunSpec) -> str:
    """Where an unsuppressed results file goes, relative to ``<output-dir>/internal/``."""
    return f"{spec.param_set}/{spec.notebook}.results.json"


def _stage_results(spec: RunSpec, raw: Path, staged: Path) -> None:
    """The publishable ``results.json`` of a run (staged beside the run), and its unsuppressed
    records in ``<output-dir>/internal/`` when the parameter ``internal_results`` is true.

    The records go through :func:`ensemble_helpers.disclosure.publishable_records` with the
    run's ``min_cell_size``: no count from 1 to k-1, none that gives one back by difference, no
    statistic of a group below k. Without ``internal_results`` a stale internal copy is removed.
    """
    records = json.loads(raw.read_text(encoding="utf-8"))
    shared = publishable_records(records, min_cell_size_of(spec))
    staged.write_text(json.dumps(shared, indent=1), encoding="utf-8")
    set_shared_permissions(staged)
    internal = Path(spec.output_dir) / INTERNAL_DIR / _internal_results_path(spec)
    if spec.parameters.get("internal_results") is True:
        write_internal(spec.output_dir, _internal_results_path(spec),
                       json.dumps(records, indent=1))
    else:
        internal.unlink(missing_ok=True)


def _share_tree(path: Path) -> None:
    """Shared permissions (files 0644, folders 0755) on ``path`` and everything below it."""
    if not path.exists():
        return
    set_shared_permissions(path)
    if path.is_dir():
        for child in path.rglob("*"):
            set_shared_permissions(child)


def _publish_ok(spec: RunSpec, tmp: Path, executed: Path, rendered: Path, prov: dict[str, Any]) -> None:
    dest = spec.dest
    nb = spec.notebook
    out = tmp / "out"
    # everything that needs new disk space first: a full disk then changes nothing
    staged = tmp / "provenance.json"
    staged.write_text(json.dumps(prov, indent=2, sort_keys=True), encoding="utf-8")
    for path in (staged, executed, rendered):
        set_shared_permissions(path)
    results = out / _RESULTS_FILE
    if results.is_file():
        shared_results = tmp / "results.shared.json"
        _stage_results(spec, results, shared_results)
        results.unlink()
        os.replace(shared_results, dest / f"{nb}.results.json")
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(dest / f"{nb}.results.json")
    _share_tree(out)
    # the publication files (ensemble_helpers.export) go beside the report; an earlier run's go
    for name in publication_names(nb):
        _move_or_remove(out / name, dest / name, tmp / f"old_{name}")
    if out.is_dir() and any(out.iterdir()):
        _replace_dir(out, dest / f"{nb}_files", tmp / "old_files")
    elif (dest / f"{nb}_files").exists():
        os.replace(dest / f"{nb}_files", tmp / "old_files")
    os.replace(executed, dest / f"{nb}.ipynb")
    os.replace(rendered, dest / f"{nb}.html")
    for suffix in (".failed.html", ".failed.ipynb"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(dest / f"{nb}{suffix}")
    os.replace(staged, dest / f"{nb}.provenance.json")  # last: marks the report complete


def publication_names(notebook: str) -> tuple[str, ...]:
    """The files a report run writes beside its report (:mod:`ensemble_helpers.export`): its
    tables as ``<notebook>.docx`` and ``.xlsx``, its figures in ``<notebook>_figures/``."""
    return (f"{notebook}.docx", f"{notebook}.xlsx", f"{notebook}_figures")


def _move_or_remove(src: Path, dst: Path, trash: Path) -> None:
    """Put ``src`` (file or folder) in place of ``dst``; without ``src``, ``dst`` goes to ``trash``."""
    if src.is_dir():
        _replace_dir(src, dst, trash)
    elif src.is_file():
        os.replace(src, dst)
    elif dst.is_dir():
        os.replace(dst, trash)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(dst)


def _publish_failed(spec: RunSpec, executed: Path | None, rendered: Path | None) -> None:
    dest, notebook = spec.dest, spec.notebook
    if executed is not None and executed.is_file() and not (rendered is not None and rendered.is_file()):
        _scrub_unrendered(spec, executed)
    for source, suffix in ((executed, ".failed.ipynb"), (rendered, ".failed.html")):
        target = dest / f"{notebook}{suffix}"
        if source is not None and source.is_file():
            set_shared_permissions(source)
            os.replace(source, target)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(target)



def _scrub_unrendered(spec: RunSpec, executed: Path) -> None:
    """Scrub a notebook no worker rendered (its worker died): rendering scrubs the others."""
    import nbformat

    try:
        nb = nbformat.read(executed, as_version=4)
    except Exception:  # noqa: BLE001 - unreadable: publish nothing rather than raw text
        executed.unlink(missing_ok=True)
        return
    publishable_notebook(nb, spec.cwd, data_identifiers(spec.data_file))
    nbformat.write(nb, executed)


def _shared_error(spec: RunSpec, error: RunError) -> RunError:
    """The error as published (manifest.json, index.html): no path, no identifier.

    The error as raised, which may quote patient ids of a rejected data file, goes to the
    terminal and to the owner-only ``<output-dir>/internal/errors.log``.
    """
    shared = publishable_error(error, spec.cwd, data_identifiers(spec.data_file))
    if shared != error:
        raw = error.describe()
        logger.warning("%s: %s", spec.run_id, raw)
        append_internal(spec.output_dir, ERRORS_LOG, f"{_now()} {spec.run_id}: {raw}\n")
    return shared


def _atomic_write(path: Path, text: str) -> None:
    """Write ``path`` via a temporary file beside it; on any error the temporary file is removed
    and ``path`` is as it was."""
    staged = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        staged.write_text(text, encoding="utf-8")
        set_shared_permissions(staged)  # a shared file: 0644 whatever the umask
        os.replace(staged, path)
    except BaseException:
        with contextlib.suppress(OSError):
            staged.unlink()
        raise


#: errno values that mean "the output folder cannot take this": stop the batch with one line.
OUTPUT_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT,
                           errno.EFBIG})


def output_dir_error(out: Path, exc: OSError) -> OutputDirError:
    """One actionable line for an ``OSError`` on the output folder."""
    code = errno.errorcode.get(exc.errno or 0, "?")
    return OutputDirError(
        f"cannot write to the output folder {out}: {exc.strerror or exc} ({code}); previous"
        " reports are unchanged: free some space, make the folder writable or choose another"
        " --output-dir")


def check_writable(out: Path) -> None:
    """Create ``out`` if needed and write (then remove) a 64 KiB probe file in it.

    Raises
    ------
    OutputDirError
        Read-only, not permitted or full: before any run starts, nothing left behind.
    """
    probe = out / f".ensemble-run-probe-{secrets.token_hex(4)}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, bytes(65536))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise output_dir_error(out, exc) from exc
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


class DataWatch:
    """SHA-256 of data files, re-hashed only when their ``stat`` (inode, size, mtime, ctime)
    changed; ctime cannot be set back, so a file replaced and restored is hashed again."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[tuple[int, ...], str]] = {}

    @staticmethod
    def _key(path: Path) -> tuple[int, ...]:
        st = path.stat()
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def sha256(self, path: Path) -> str | None:
        """The file's SHA-256 now, or ``None`` when it is gone or not a regular file."""
        try:
            if not path.is_file():
                return None
            before = self._key(path)
            cached = self._seen.get(path)
            if cached and cached[0] == before:
                return cached[1]
            digest = sha256_file(path)
            if self._key(path) == before:  # unchanged while hashing: remember it
                self._seen[path] = (before, digest)
            return digest
        except OSError:
            return None


def _data_changed(spec: RunSpec, watch: DataWatch) -> RunError | None:
    """A ``DataFileChanged`` error when the data file is no longer the bytes the run was planned
    (and its provenance written) with."""
    if not spec.data_file:
        return None
    planned = spec.inputs.get("data_sha256")
    now = watch.sha256(Path(spec.data_file))
    if now == planned:
        return None
    shown = spec.display.get("data_file") or Path(spec.data_file).name
    after = f"{now[:12]}" if now else "the file is gone"
    return RunError("DataFileChanged",
                    f"{shown} changed while this run was in progress (SHA-256 {str(planned)[:12]}"
                    f" before, {after} after), so the report may mix both versions; it was not"
                    " published. Run ensemble-run again once the file is final.")


def _stage_returned_files(tmp: Path, files: Mapping[str, bytes]) -> None:
    """Write the files a Dask worker returned into the run's temporary folder (paths checked)."""
    root = tmp.resolve()
    for rel, data in files.items():
        target = (tmp / rel).resolve()
        if not target.is_relative_to(root) or target == root:
            raise UnsafePathError(f"a worker returned the file {rel!r}, outside its run folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def publish_run(spec: RunSpec, outcome: RunOutcome, watch: DataWatch) -> RunResult:
    """Move one finished run's files into ``<output_dir>/<param_set>/`` (parent only, under the lock).

    A good run replaces the previous report atomically, provenance last. A failed run puts
    ``<notebook>.failed.ipynb``/``.failed.html`` beside the last good report, which stays. A run
    whose data file changed meanwhile fails and publishes nothing of its own.

    Raises
    ------
    OSError
        The output folder cannot take the files (the caller stops the batch); the run's temporary
        folder is removed and the previous report is as it was.
    """
    tmp = Path(spec.tmp_dir)
    executed = tmp / f"{spec.notebook}.ipynb"
    rendered = tmp / f"{spec.notebook}.html"
    error = outcome.error
    try:
        if outcome.files is not None:
            _stage_returned_files(tmp, outcome.files)
        # a Dask run analysed the bytes the client sent, hashed when sent; a local run read the
        # file itself, so the file must still be the one planned
        changed = _data_changed(spec, watch) if outcome.files is None else None
        if changed is not None:
            error = changed
            executed.unlink(missing_ok=True)
            rendered.unlink(missing_ok=True)
        dest = spec.dest
        dest.mkdir(exist_ok=True)
        set_shared_permissions(dest)
        if error is None:
            prov = {"param_set": spec.param_set, "notebook": spec.notebook, "inputs": spec.inputs,
                    "display": spec.display, "run_date": outcome.run_date,
                    "duration": round(outcome.duration, 3)}
            _publish_ok(spec, tmp, executed, rendered, prov)
        else:
            _publish_failed(spec, executed, rendered)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    status = STATUS_OK if error is None else STATUS_FAILED
    if error is not None:
        error = _shared_error(spec, error)
    paths = _existing_paths(dest, spec.notebook)
    return RunResult(spec.param_set, spec.notebook, status, outcome.duration, error, paths,
                     stale=status == STATUS_FAILED and "html" in paths, inputs=spec.inputs,
                     run_date=outcome.run_date)


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
            if isinstance(row.get("suppressed"), Mapping):  # field: why, e.g. "n: primary"
                row["suppressed"] = "; ".join(f"{k}: {v}" for k, v in row["suppressed"].items())
            extra.update(k for k in record if k not in _ORDER)
            rows.append(row)
    fields = ["param_set", "notebook", "report_status", *[k for k in _ORDER if k != "notebook"],
              *sorted(extra)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _atomic_write(path, buffer.getvalue())


@contextlib.contextmanager
def _lock(output_dir: Path) -> Iterator[None]:
    """Exclusive lock on the output directory (POSIX); stale temp folders are then safe to remove."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    with open(output_dir / ".ensemble-run.lock", "a+") as handle:
        set_shared_permissions(output_dir / ".ensemble-run.lock")  # empty; shared like the rest
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise OutputDirBusyError(f"another ensemble-run is writing to {output_dir}; wait for it"
                                     " to finish or choose another --output-dir") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_batch_files(out: Path, manifest: Mapping[str, Any], specs: Sequence[RunSpec],
                       results: Mapping[str, RunResult]) -> tuple[Path, Path]:
    """Update manifest.json with the finished runs, then rewrite summary.csv and index.html."""
    runs = dict(manifest["runs"])
    for spec in specs:
        if spec.run_id in results:
            runs[spec.run_id] = _manifest_entry(results[spec.run_id], out, runs.get(spec.run_id),
                                                spec.display)
    # keep this batch's runs, and earlier ones while their report files still exist
    runs = {key: entry for key, entry in runs.items() if key in results
            or any((out / p).exists() for p in (entry.get("paths") or {}).values() if p)}
    generated = _now()
    versions = package_versions()
    _atomic_write(out / "manifest.json", json.dumps(
        {"generated": generated, "versions": versions, "package_sha256": package_hash(),
         "runs": dict(sorted(runs.items()))}, indent=2, default=str))
    summary_path = out / "summary.csv"
    index_path = out / "index.html"
    _write_summary(summary_path, out, runs)
    _atomic_write(index_path, render_index(out, runs, generated, versions))
    return index_path, summary_path
