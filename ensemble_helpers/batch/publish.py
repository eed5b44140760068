"""Publishing: atomic moves into the output folder, the manifest, summary.csv, the lock."""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ensemble_helpers.batch.errors import OutputDirBusyError
from ensemble_helpers.batch.index import _load_records, render_index
from ensemble_helpers.batch.plan import _read_json, package_hash, package_versions
from ensemble_helpers.batch.runs import _ORDER, _RESULTS_FILE, STATUS_SKIPPED, RunResult, RunSpec, _now

def _replace_dir(src: Path, dst: Path, trash: Path) -> None:
    """Swap directory ``src`` in as ``dst`` (the old ``dst`` goes to ``trash``)."""
    if dst.exists():
        os.replace(dst, trash)
    os.replace(src, dst)


def _publish_ok(spec: RunSpec, tmp: Path, executed: Path, rendered: Path, prov: dict[str, Any]) -> None:
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
