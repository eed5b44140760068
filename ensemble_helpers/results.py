"""Machine-readable estimates of a notebook run: ``<output_dir>/results.json``.

Each notebook collects its estimates in a :class:`Results` and writes them at the end, so runs
can be compared (``summary.csv`` of the batch runner) and tested without reading HTML.

A record has the fields of :data:`RECORD_FIELDS`. ``group`` is ``"Overall"`` or
``"<variable>=<level>"`` (e.g. ``"regimen_group=antibody"``); estimates are in ``unit``
(``months`` for medians, ``proportion`` for rates, ``ratio`` for hazard ratios, ``count``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

RECORD_FIELDS = (
    "notebook",
    "analysis",
    "endpoint",
    "group",
    "n",
    "events",
    "estimate",
    "lower",
    "upper",
    "unit",
    "p",
)


def group_name(variable: str | None, level: Any) -> str:
    """``"Overall"`` or ``"variable=level"``."""
    if variable is None or str(level) == "Overall":
        return "Overall"
    return f"{variable}={level}"


def _clean(value: Any) -> Any:
    """JSON-safe scalar: numpy types to Python, NaN/NA to None."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


@dataclass
class Results:
    """Estimates collected by one notebook run.

    Parameters
    ----------
    notebook : str
        Notebook name, e.g. ``"02_endpoints"``.

    Examples
    --------
    >>> r = Results("02_endpoints")
    >>> r.add("count", "patients", n=664, estimate=664, unit="count")
    >>> r.frame()[["analysis", "endpoint", "estimate"]].values.tolist()
    [['count', 'patients', 664]]
    """

    notebook: str
    records: list[dict[str, Any]] = field(default_factory=list)

    def __repr__(self) -> str:
        kinds = sorted({str(r["analysis"]) for r in self.records})
        shown = ", ".join(kinds[:6]) + (", ..." if len(kinds) > 6 else "")
        return f"Results({self.notebook!r}: {len(self.records)} records{'; ' + shown if kinds else ''}; .frame() shows them)"

    def add(self, analysis: str, endpoint: str, group: str = "Overall", **values: Any) -> None:
        """Add one record; unknown fields are an error."""
        unknown = set(values) - set(RECORD_FIELDS)
        if unknown:
            raise KeyError(f"unknown result field(s): {sorted(unknown)}")
        rec = {f: None for f in RECORD_FIELDS}
        rec.update(notebook=self.notebook, analysis=analysis, endpoint=endpoint, group=group)
        rec.update({k: _clean(v) for k, v in values.items()})
        if rec not in self.records:  # the same estimate reached twice (e.g. "Overall") is kept once
            self.records.append(rec)

    def add_km(
        self, summary: pd.DataFrame, endpoint: str, variable: str | None = None,
        timepoints: Iterable[float] = (),
    ) -> None:
        """Medians (and landmark rates) from :func:`ensemble_helpers.stats.km_summary_by`."""
        for row in summary.to_dict("records"):
            group = group_name(variable, row.get("group", "Overall"))
            common = {"n": row["n"], "events": row["events"]}
            self.add("km_median", endpoint, group, estimate=row["median"], lower=row["median_lower"],
                     upper=row["median_upper"], unit="months", **common)
            for t in timepoints:
                key = f"rate_{t:g}"
                if key in row:
                    self.add(f"km_rate_{t:g}m", endpoint, group, estimate=row[key],
                             lower=row[f"{key}_lower"], upper=row[f"{key}_upper"], unit="proportion", **common)

    def add_logrank(self, test: pd.DataFrame, endpoint: str, variable: str) -> None:
        """A log-rank test from :func:`ensemble_helpers.stats.logrank`."""
        row = test.iloc[0]
        self.add("logrank", endpoint, variable, n=row["n"], events=row["events"],
                 estimate=row["statistic"], p=row["p"], unit="chisq")

    def add_hr(self, hr: pd.DataFrame, endpoint: str, analysis: str = "cox_hr") -> None:
        """Hazard ratios from :func:`ensemble_helpers.stats.cox_hr` (one record per term)."""
        for row in hr.to_dict("records"):
            group = group_name(row["variable"], row["level"]) if row.get("level") is not None else row["term"]
            self.add(analysis, endpoint, group, n=row["n"], events=row["events"], estimate=row["hr"],
                     lower=row["hr_lower"], upper=row["hr_upper"], p=row["p"], unit="ratio")

    def add_proportions(self, table: pd.DataFrame, endpoint_col: str = "measure", variable: str | None = None,
                        analysis: str = "proportion") -> None:
        """Rates with CI (``successes``, ``n``, ``estimate``, ``lower``, ``upper``)."""
        for row in table.to_dict("records"):
            group = group_name(variable, row.get("group", "Overall"))
            self.add(analysis, str(row[endpoint_col]), group, n=row["n"], events=row["successes"],
                     estimate=row["estimate"], lower=row.get("lower"), upper=row.get("upper"), unit="proportion")

    def frame(self) -> pd.DataFrame:
        """The records as a DataFrame with the columns of :data:`RECORD_FIELDS`."""
        return pd.DataFrame(self.records, columns=list(RECORD_FIELDS))

    def write(self, output_dir: str | Path) -> Path:
        """Write (or update) ``<output_dir>/results.json`` atomically.

        Records of other notebooks already in the file are kept, so the three notebooks can
        share one folder; this notebook's earlier records are replaced.
        """
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "results.json"
        kept = [r for r in read_results(path) if r.get("notebook") != self.notebook] if path.exists() else []
        fd, tmp = tempfile.mkstemp(dir=out, prefix=".results-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(kept + self.records, fh, indent=1, allow_nan=False)
        os.replace(tmp, path)
        return path


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Read a ``results.json`` file (a list of records)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def lookup(records: pd.DataFrame, analysis: str, endpoint: str, group: str = "Overall") -> pd.Series | None:
    """The one record matching ``analysis``, ``endpoint`` and ``group``, or None."""
    hit = records[(records["analysis"] == analysis) & (records["endpoint"] == endpoint) & (records["group"] == group)]
    return None if hit.empty else hit.iloc[0]
