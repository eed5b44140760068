"""Endpoint tables: Kaplan-Meier medians and landmark rates, response, follow-up, rates, published vs this run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from ensemble_helpers.formats import (
    ABSENT,
    DASH,
    ci_name,
    format_estimate,
    format_number,
    format_pct,
    suppressed_count,
)
from ensemble_helpers.formats import is_missing as _missing
from ensemble_helpers.disclosure import Line, Protection, protect
from ensemble_helpers.labels import label
from ensemble_helpers.privacy import is_suppressed, suppress_count

if TYPE_CHECKING:
    from ensemble_helpers.params import Params

from ensemble_helpers.tables._common import (
    NO_PATIENTS,
    TOO_FEW,
    _require,
    _value_label,
)
from ensemble_helpers.settings import takes_settings


@takes_settings
def endpoint_table(
    summary: pd.DataFrame,
    *,
    endpoint_col: str = "endpoint",
    timepoints: Iterable[float] = (6, 12),
    min_cell_size: int | None = 5,
    unit: str = "months",
    conf_level: float = 0.95,
    digits: int = 1,
) -> pd.DataFrame:
    """Kaplan–Meier summaries as a report table: one row per endpoint and group.

    Parameters
    ----------
    summary : DataFrame
        Concatenated :func:`ensemble_helpers.stats.km_summary_by` outputs: ``group``, ``n``,
        ``events``, ``median``, ``median_lower``, ``median_upper``, ``rate_<t>``,
        ``rate_<t>_lower``, ``rate_<t>_upper`` (t as ``f"{t:g}"``), and ``endpoint_col``
        (optional: without it there is no Endpoint column).
    endpoint_col : str
        Column with the PARAMCD.
    timepoints : iterable of float
        Landmarks to show, in ``unit``.
    min_cell_size : int or None
        Suppression of N and Events (see :func:`ensemble_helpers.privacy.suppress_count`).
    unit : str
        Time unit in the headers.
    conf_level : float
        Only for the headers ("95% CI").
    digits : int
        Decimals of medians and rates.

    Returns
    -------
    DataFrame
        ``Endpoint``, ``Group``, ``N``, ``Events``, ``"Median, months (95% CI)"`` ("NR" = not
        reached) and ``"6-month rate (95% CI)"`` per timepoint ("NE" = not estimable).

    Raises
    ------
    KeyError
        A needed column is missing (the message lists them).

    Examples
    --------
    >>> s = pd.DataFrame({"endpoint": ["PFS"], "group": ["Overall"], "n": [664], "events": [500],
    ...                   "median": [4.1], "median_lower": [3.6], "median_upper": [4.7],
    ...                   "rate_6": [0.35], "rate_6_lower": [0.31], "rate_6_upper": [0.39]})
    >>> endpoint_table(s, timepoints=[6]).iloc[0].tolist()
    ['Progression-free survival', 'Overall', '664', '500', '4.1 (3.6–4.7)', '35.0% (31.0–39.0)']
    """
    timepoints = list(timepoints)
    keys = [f"{t:g}" for t in timepoints]
    needed = ["group", "n", "events", "median", "median_lower", "median_upper"]
    needed += [f"rate_{k}{suffix}" for k in keys for suffix in ("", "_lower", "_upper")]
    _require(summary, needed, "endpoint_table", f"pass the km_summary_by output computed with "
             f"timepoints={timepoints}")
    ci = ci_name(conf_level)
    unit_single = unit[:-1] if unit.endswith("s") else unit
    median_col = f"Median, {unit} ({ci})"
    rows = []
    records = summary.to_dict("records")
    prot = _protect_endpoints(records, endpoint_col, min_cell_size)
    for i, rec in enumerate(records):
        row: dict[str, str] = {}
        if endpoint_col in summary.columns:
            row["Endpoint"] = label(rec[endpoint_col])
        row["Group"] = _value_label(rec["group"])
        row["N"] = prot.text(("n", i)) if ("n", i) in prot.status else suppress_count(rec["n"], min_cell_size)
        row["Events"] = prot.text(("e", i)) if ("e", i) in prot.status else suppress_count(rec["events"], min_cell_size)
        if not _missing(rec["n"]) and int(rec["n"]) == 0:
            row[median_col] = NO_PATIENTS
            for t in timepoints:
                row[f"{t:g}-{unit_single} rate ({ci})"] = NO_PATIENTS
            rows.append(row)
            continue
        if is_suppressed(rec["n"], min_cell_size):
            # a curve of fewer than min_cell_size patients shows their individual times
            row[median_col] = TOO_FEW
            for t in timepoints:
                row[f"{t:g}-{unit_single} rate ({ci})"] = TOO_FEW
            rows.append(row)
            continue
        row[median_col] = format_estimate(rec["median"], rec["median_lower"], rec["median_upper"], digits=digits)
        for t, k in zip(timepoints, keys):
            row[f"{t:g}-{unit_single} rate ({ci})"] = format_pct(
                rec[f"rate_{k}"], rec[f"rate_{k}_lower"], rec[f"rate_{k}_upper"], digits=digits
            )
        rows.append(row)
    cols = (["Endpoint"] if endpoint_col in summary.columns else []) + ["Group", "N", "Events", median_col] + [
        f"{t:g}-{unit_single} rate ({ci})" for t in timepoints
    ]
    out = pd.DataFrame(rows, columns=cols)
    if prot.secondary:
        out.attrs["footnote"] = prot.note()
    return out


def _protect_endpoints(records: list[dict], endpoint_col: str, min_cell_size: int | None) -> Protection:
    """Suppression of the N and events of a Kaplan-Meier table: the events are part of N (the
    censored patients are the difference) and, with an Overall row, the groups of an endpoint add
    up to it."""
    values: dict[Any, int] = {}
    lines: list[Line] = []
    rows_of: dict[Any, dict[str, int]] = {}
    for i, rec in enumerate(records):
        if _missing(rec["n"]) or _missing(rec["events"]):
            continue
        values[("n", i)], values[("e", i)] = int(rec["n"]), int(rec["events"])
        lines.append(Line(("n", i), [("e", i)]))
        rows_of.setdefault(rec.get(endpoint_col), {})[str(rec["group"])] = i
    for groups in rows_of.values():
        overall = groups.get("Overall")
        others = [i for g, i in groups.items() if g != "Overall"]
        if overall is None or not others:
            continue
        for key in ("n", "e"):
            if sum(values[(key, i)] for i in others) <= values[(key, overall)]:
                lines.append(Line((key, overall), [(key, i) for i in others]))
    return protect(values, lines, min_cell_size)


@takes_settings
def response_table(
    summary: pd.DataFrame,
    *,
    min_cell_size: int | None = 5,
    digits: int = 1,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Response rates (``stats.response_summary`` / ``proportion_ci`` output) as a report table.

    Parameters
    ----------
    summary : DataFrame
        ``measure``, ``successes``, ``n``, ``estimate``, ``lower``, ``upper`` and optionally
        ``group``.
    min_cell_size : int or None
        A suppressed numerator or denominator also blanks the rate and its CI (``k = rate * n``
        would give the count back).
    digits : int
        Decimals of the percentages.
    conf_level : float
        Only for the header.

    Returns
    -------
    DataFrame
        ``Group`` (when given), ``Measure``, ``n / N``, ``"Rate (95% CI)"``.

    Examples
    --------
    >>> s = pd.DataFrame({"measure": ["ORR", "ORR"], "successes": [40, 3], "n": [100, 20],
    ...                   "estimate": [0.4, 0.15], "lower": [0.3, 0.03], "upper": [0.5, 0.38]})
    >>> response_table(s).values.tolist()
    [['ORR', '40 / 100', '40.0% (30.0–50.0)'], ['ORR', '<5 / 20', '']]
    """
    needed = ["measure", "successes", "n", "estimate", "lower", "upper"]
    _require(summary, needed, "response_table")
    rate_col = f"Rate ({ci_name(conf_level)})"
    records = summary.to_dict("records")
    prot = _protect_responses(records, min_cell_size)
    rows = []
    for i, rec in enumerate(records):
        row: dict[str, str] = {}
        if "group" in summary.columns:
            row["Group"] = _value_label(rec["group"])
        row["Measure"] = label(rec["measure"])
        if _missing(rec["n"]) or _missing(rec["successes"]):
            row["n / N"], row[rate_col] = "", ""
            rows.append(row)
            continue
        num, den = ("s", i), _response_n_key(rec)
        hidden = prot.is_hidden(num) or prot.is_hidden(den)
        row["n / N"] = f"{prot.text(num)} / {prot.text(den)}"
        row[rate_col] = "" if hidden else format_pct(rec["estimate"], rec["lower"], rec["upper"], digits=digits)
        rows.append(row)
    cols = (["Group"] if "group" in summary.columns else []) + ["Measure", "n / N", rate_col]
    out = pd.DataFrame(rows, columns=cols)
    if prot.secondary:
        out.attrs["footnote"] = prot.note()
    return out


def _response_n_key(rec: dict) -> tuple:
    """One cell per group and denominator: the measures of a group share their N."""
    return ("n", str(rec.get("group", "Overall")), int(rec["n"]))


def _protect_responses(records: list[dict], min_cell_size: int | None) -> Protection:
    """Suppression of a response table's counts: responders are part of their N (the
    non-responders are its difference), disease control includes the responses (the SD count is
    their difference), and with an Overall row the groups add up to it."""
    values: dict[Any, int] = {}
    lines: list[Line] = []
    by_group: dict[str, dict[str, Any]] = {}
    for i, rec in enumerate(records):
        if _missing(rec["n"]) or _missing(rec["successes"]):
            continue
        n_key = _response_n_key(rec)
        values[n_key] = int(rec["n"])
        values[("s", i)] = int(rec["successes"])
        lines.append(Line(n_key, [("s", i)]))
        by_group.setdefault(n_key[1], {})[str(rec["measure"])] = ("s", i)
        by_group[n_key[1]].setdefault("n", n_key)
    for cells in by_group.values():
        if "ORR" in cells and "DCR" in cells:
            lines.append(Line(cells["DCR"], [cells["ORR"]]))
    overall = by_group.get("Overall")
    others = [g for g in by_group if g != "Overall"]
    if overall and others:
        for key in {k for g in others for k in by_group[g]}:
            parts = [by_group[g][key] for g in others if key in by_group[g]]
            if key in overall and len(parts) == len(others):
                lines.append(Line(overall[key], parts))
    return protect(values, lines, min_cell_size)


@takes_settings
def published_table(comparison: pd.DataFrame, conf_level: float = 0.95, min_cell_size: int | None = 5) -> pd.DataFrame:
    """Format :func:`ensemble_helpers.published.compare_published` output for display.

    An estimate whose ``n`` or ``events`` is suppressed by ``min_cell_size`` is not shown: a
    proportion and its exact CI give the count back.
    """

    def fmt(value: float, unit: str) -> str:
        if unit == "proportion":
            return format_estimate(value, na=ABSENT, unit="proportion", ci=False)
        return format_number(value, 0 if unit == "count" else 1, na=ABSENT)

    def hidden(row: dict) -> bool:
        return any(is_suppressed(row.get(k), min_cell_size) for k in ("n", "events"))

    out = []
    for row in comparison.to_dict("records"):
        ci = "" if pd.isna(row["lower"]) else f" ({fmt(row['lower'], row['unit'])}{DASH}{fmt(row['upper'], row['unit'])})"
        this_run = fmt(row["estimate"], row["unit"]) + (ci if not pd.isna(row["estimate"]) else "")
        within = {True: "yes", False: "no", None: "—"}[row["within_ci"]]
        if hidden(row):
            this_run, within = f"not shown (count {suppressed_count(min_cell_size)})", "—"
        out.append(
            {
                "Figure": row["label"],
                "Published": fmt(row["published"], row["unit"]),
                f"This run ({ci_name(conf_level)})": this_run,
                "Published value inside this run's CI": within,
            }
        )
    return pd.DataFrame(out)


@takes_settings
def followup_table(fu: pd.DataFrame, conf_level: float, min_cell_size: int | None) -> pd.DataFrame:
    """Format :func:`ensemble_helpers.stats.followup_median` output."""
    row = fu.iloc[0]
    return pd.DataFrame(
        {
            "Patients": [suppress_count(int(row["n"]), min_cell_size)],
            f"Median follow-up, months ({ci_name(conf_level)})": [
                format_estimate(row["median"], row["median_lower"], row["median_upper"])
            ],
        }
    )


def rate_table(rate: pd.DataFrame, params: "Params") -> pd.DataFrame:
    """Format a crude rate (``measure``, ``successes``, ``n``, ``estimate``, ``lower``, ``upper``).

    The rate of a suppressed count is left blank: rate x patients (or its exact CI) gives it back.
    """
    m = params.min_cell_size
    return pd.DataFrame(
        {
            "Measure": [str(x) for x in rate["measure"]],
            "Events / patients": [
                f"{suppress_count(int(k), m)} / {suppress_count(int(n), m)}" for k, n in zip(rate["successes"], rate["n"])
            ],
            f"Rate ({ci_name(params.conf_level)}, exact)": [
                "" if is_suppressed(k, m) or is_suppressed(n, m) else format_pct(e, lo, hi)
                for k, n, e, lo, hi in zip(rate["successes"], rate["n"], rate["estimate"], rate["lower"], rate["upper"])
            ],
        }
    )
