"""index.html: status grid, key estimates and provenance, rendered from ``templates/index.html.j2``."""
from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ensemble_helpers.batch.plan import _read_json
from ensemble_helpers.batch.runs import STATUS_FAILED, STATUS_SKIPPED
from ensemble_helpers.formats import WITHHELD, format_record  # noqa: F401 (index.WITHHELD)

__all__ = ["KEY_ESTIMATES", "format_estimate", "render_index", "select_key_estimates"]

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


#: A key estimate as text, or WITHHELD when results.json withheld it: the one format registry's
#: :func:`ensemble_helpers.formats.format_record` (kept under the batch's name for its callers).
format_estimate = format_record


_TEMPLATES = Path(__file__).resolve().parent / "templates"


def _load_records(path: str | None) -> list[dict[str, Any]]:
    """The records of one ``results.json`` file (``[]`` when absent or not a list of objects)."""
    records = _read_json(Path(path)) if path else None
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def _href(root_rel: str | None) -> str | None:
    """A relative link with every path component URL-quoted."""
    if not root_rel:
        return None
    return "/".join(urllib.parse.quote(part) for part in root_rel.split("/"))


def _cell(entry: Mapping[str, Any]) -> dict[str, Any]:
    paths = entry["paths"]
    status = entry["status"]
    links = [(_href(paths.get("html")), "report"), (_href(paths.get("ipynb")), "ipynb"),
             (_href(paths.get("docx")), "docx"), (_href(paths.get("xlsx")), "xlsx"),
             (_href(paths.get("figures")), "figures")]
    if status == STATUS_FAILED:
        links += [(_href(paths.get("failed_html")), "failed report"),
                  (_href(paths.get("failed_ipynb")), "failed ipynb")]
    return {
        "badge": "skipped-unchanged" if status == STATUS_SKIPPED else status,
        "stale": bool(entry.get("stale")),
        "duration": None if status == STATUS_SKIPPED else entry["duration"],
        "links": [(href, label) for href, label in links if href],
        "report_date": (entry.get("report") or {}).get("run_date") or "?",
        "error": entry.get("error"),
    }


def _provenance_row(entry: Mapping[str, Any], versions: Mapping[str, str]) -> dict[str, Any]:
    report = entry.get("report") or {}
    # the good report's inputs; for a run that never succeeded, those of its last attempt
    inputs = report.get("inputs") or entry.get("attempted_inputs") or {}
    display = report.get("display") or entry.get("attempted_display") or {}

    def hashed(name: str, digest_key: str) -> tuple[str, str]:
        digest = inputs.get(digest_key)
        return str(display.get(name) or "—"), str(digest)[:12] if digest else "absent"

    used = inputs.get("versions") or {}
    used_text = "as installed now" if used == dict(versions) else \
        ", ".join(f"{k} {v}" for k, v in used.items()) or "—"
    return {
        "run_id": f"{entry['param_set']}/{entry['notebook']}",
        "report_date": str(report.get("run_date") or "no good report yet"),
        "files": [hashed("param_file", "param_sha256"), hashed("notebook", "notebook_sha256"),
                  hashed("data_file", "data_sha256")],
        "helpers": str(inputs.get("package_sha256", "—"))[:12],
        "versions": used_text,
    }


@functools.lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES),
                             autoescape=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("index.html.j2")


def render_index(root: Path, runs: Mapping[str, Mapping[str, Any]], generated: str,
                 versions: Mapping[str, str]) -> str:
    """The text of ``index.html``: status grid, key estimates and provenance of ``runs``.

    Parameters
    ----------
    root : Path
        The output folder (paths in ``runs`` are relative to it).
    runs : mapping
        ``manifest.json``'s ``runs``: run id -> entry (param_set, notebook, status, stale,
        duration, error, paths, report, attempted_inputs, attempted_display).
    generated : str
        ISO-8601 time shown at the top.
    versions : mapping
        Versions installed now (a report made with other versions lists its own).

    Returns
    -------
    str
        A self-contained HTML page (no script, stylesheet or image from the network).
    """
    param_sets = sorted({e["param_set"] for e in runs.values()})
    notebooks = sorted({e["notebook"] for e in runs.values()})
    by_key = {(e["param_set"], e["notebook"]): e for e in runs.values()}
    counts: dict[str, int] = {}
    for entry in runs.values():
        label = "skipped-unchanged" if entry["status"] == STATUS_SKIPPED else entry["status"]
        counts[label] = counts.get(label, 0) + 1
        if entry.get("stale"):
            counts["stale"] = counts.get("stale", 0) + 1
    grid = []
    for param in param_sets:
        cells, records = [], []
        for nb in notebooks:
            entry = by_key.get((param, nb))
            cells.append(_cell(entry) if entry else None)
            if entry and entry["paths"].get("results"):
                records += _load_records(str(root / entry["paths"]["results"]))
        estimates = [format_estimate(r) for r in select_key_estimates(records).values()]
        grid.append({"param_set": param, "cells": cells, "estimates": estimates})
    return _template().render(
        generated=generated, n_runs=len(runs), counts=sorted(counts.items()), notebooks=notebooks,
        estimate_labels=[label for label, _, _ in KEY_ESTIMATES], grid=grid,
        installed=", ".join(f"{k} {v}" for k, v in versions.items()),
        provenance=[_provenance_row(by_key[key], versions) for key in sorted(by_key)])
