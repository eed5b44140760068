"""Report tables: Table 1, endpoint, response and hazard-ratio tables, the small tables of the
cohort and endpoint notebooks, and safe HTML.

Tables lay out numbers computed elsewhere: :mod:`ensemble_helpers.stats` returns tidy numbers
(NaN for "not reached"; Table 1's quartiles and p-values come from
:mod:`ensemble_helpers.stats.descriptive`), :mod:`ensemble_helpers.formats` writes them as text
("4.1 (3.5–4.8)", "NR", "<0.001"; its functions are re-exported here), every count goes through
:func:`ensemble_helpers.privacy.suppress_count`, and every text cell is HTML-escaped by
:func:`to_html`.

Layout follows what R users know: :func:`table_one` looks like gtsummary's ``tbl_summary``
(n (%) for categories, one row for yes/no variables, median (IQR) and range for continuous
variables, a "Missing" row), :func:`endpoint_table` like survfit's
``n events median 0.95LCL 0.95UCL`` with landmark rates.

Examples
--------
>>> format_estimate(4.123, 3.5, 4.8)
'4.1 (3.5–4.8)'
>>> format_estimate(float("nan"), 3.5, float("nan"))
'NR (3.5–NR)'
>>> format_pct(0.452, 0.401, 0.503)
'45.2% (40.1–50.3)'
>>> format_p(0.0004), format_p(0.0423)
('<0.001', '0.042')
"""

from __future__ import annotations

import hashlib
import html
import logging
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ensemble_helpers.formats import (
    ABSENT,
    DASH,
    ci_name,
    format_estimate,
    format_number,
    format_p,
    format_pct,
    format_statistic,
    suppressed_count,
)
from ensemble_helpers.formats import is_missing as _missing
from ensemble_helpers.labels import label
from ensemble_helpers.disclosure import subset_count
from ensemble_helpers.privacy import is_suppressed, suppress_count, suppress_count_pct
from ensemble_helpers.stats.balance import SMD_THRESHOLD, variable_smd
from ensemble_helpers.stats.descriptive import FISHER_RESAMPLES  # noqa: F401 (tables.FISHER_RESAMPLES)
from ensemble_helpers.stats.descriptive import (
    TEST_NAMES,
    categorical_test,
    continuous_test,
    quartiles,
)

if TYPE_CHECKING:
    from ensemble_helpers.params import Params

logger = logging.getLogger(__name__)

__all__ = [
    "format_number",
    "format_estimate",
    "format_pct",
    "format_p",
    "table_one",
    "endpoint_table",
    "response_table",
    "hr_table",
    "top_counts",
    "frequency_table",
    "attrition_table",
    "published_table",
    "site_table",
    "followup_table",
    "rate_table",
    "logrank_table",
    "to_html",
    "display_table",
    "INDENT",
]

#: Indentation of level rows under their variable (non-breaking spaces survive HTML).
INDENT = "\u00a0" * 4
#: Integer columns with fewer distinct values than this are summarised as categories (gtsummary).
CATEGORICAL_MAX_LEVELS = 10
#: Shown instead of estimates of a group smaller than ``min_cell_size``.
TOO_FEW = "too few patients"
#: Shown instead of estimates of an empty group.
NO_PATIENTS = "no patients"
#: Column of the patients an adjusted model left out (complete-case analysis).
EXCLUDED = "Excluded (missing covariate)"


def _require(df: pd.DataFrame, columns: Sequence[str], caller: str, hint: str = "") -> None:
    absent = [c for c in columns if c not in df.columns]
    if absent:
        raise KeyError(f"{caller}: column(s) {absent} not in the table (columns: {list(df.columns)})"
                       + (f"; {hint}" if hint else ""))


def _value_label(value: Any) -> str:
    """Label of a level: booleans (also "True"/"False" text) become Yes/No."""
    if isinstance(value, (bool, np.bool_)):
        return label(bool(value))
    if isinstance(value, str) and value in ("True", "False"):
        return label(value == "True")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return label(value)


# ----------------------------------------------------------------------------------------------
# Table 1


def _variable_type(s: pd.Series, name: str) -> str:
    """``dichotomous``, ``categorical`` or ``continuous`` (the gtsummary defaults)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return "dichotomous"
    if isinstance(s.dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(s.dtype) or pd.api.types.is_timedelta64_dtype(s.dtype):
        raise TypeError(f"table_one cannot summarise date column {name!r}; derive a number (e.g. months) first")
    if pd.api.types.is_integer_dtype(s.dtype):
        return "categorical" if s.nunique(dropna=True) < CATEGORICAL_MAX_LEVELS else "continuous"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "continuous"
    values = set(s.dropna().unique())
    if values and values <= {True, False}:
        return "dichotomous"
    return "categorical"


def _levels(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return list(s.cat.categories)
    values = s.dropna().unique()
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def table_one(
    adsl: pd.DataFrame,
    by: str | None,
    variables: Sequence[str],
    *,
    overall: bool = True,
    pvalues: bool = False,
    min_cell_size: int | None = 5,
    digits: int = 1,
    types: Mapping[str, str] | None = None,
    show_range: bool = True,
    smd: bool = False,
) -> pd.DataFrame:
    """Baseline characteristics by group, laid out like gtsummary's ``tbl_summary``.

    Parameters
    ----------
    adsl : DataFrame
        One row per patient.
    by : str or None
        Grouping column (categories in their order; empty groups are left out; patients with a
        missing group are left out of the group columns *and* the Overall column, as gtsummary
        does). ``None`` gives the Overall column only.
    variables : sequence of str
        Columns to summarise, in row order.
    overall : bool
        Add an "Overall" column (first, as gtsummary's ``add_overall()``) when ``by`` is given.
    pvalues : bool
        Add a "p-value" column: Pearson's chi-squared test (Yates-corrected for 2x2, like R's
        ``chisq.test``) for categorical and yes/no variables, Fisher's exact test when an expected
        count is below 5 (exact for 2x2, seeded Monte Carlo for larger tables), Kruskal–Wallis for
        continuous variables. Missing values are left out of the tests.
    min_cell_size : int or None
        Counts from 1 to ``min_cell_size - 1`` are shown as ``"<min_cell_size"`` without a
        percentage; the summaries of a continuous variable in a group with fewer non-missing
        values are blank. ``None`` shows everything.
    digits : int
        Decimals of percentages and of continuous summaries.
    types : mapping, optional
        Force a variable's summary: ``"categorical"``, ``"dichotomous"`` or ``"continuous"``.
        By default booleans are dichotomous (one row, the "Yes" count), categories and integer
        columns with fewer than 10 distinct values are categorical, other numbers continuous.
    show_range : bool
        Add the "Range" row of continuous variables (minimum and maximum are single patients'
        values: a disclosure policy may want them off).
    smd : bool
        With exactly two groups, add an "SMD" column (gtsummary ``add_difference``-style): the
        standardised mean difference of each variable, first group vs second
        (:func:`ensemble_helpers.stats.balance.variable_smd`: pooled SD for continuous
        variables, Yang & Dalton's multi-level SMD for categorical and yes/no ones, missing
        values left out), flagged "†" above 0.1. Not shown (blank) for a variable with a count
        from 1 to ``min_cell_size - 1`` in either group: with the group sizes it could give the
        count back.

    Returns
    -------
    DataFrame
        Columns ``Characteristic``, ``"Overall, N = 664"``, one ``"<group label>, N = <n>"`` per
        group, and ``p-value`` when asked. The index (hidden in HTML) has levels ``variable`` and
        ``row_type`` (``label``, ``level``, ``stat``, ``missing``); :func:`to_html` prints label rows
        in bold. ``df.attrs["footnote"]`` names the statistics and tests.

    Raises
    ------
    KeyError
        ``by`` or a variable is not a column of ``adsl``.
    ValueError
        An unknown type in ``types``.

    Examples
    --------
    >>> df = pd.DataFrame({"arm": ["a", "a", "b"], "age": [50.0, 60.0, 70.0]})
    >>> table_one(df, "arm", ["age"], min_cell_size=None).iloc[1].tolist()
    ['\\xa0\\xa0\\xa0\\xa0Median (IQR)', '60.0 (50.0–70.0)', '55.0 (50.0–60.0)', '70.0 (70.0–70.0)']
    """
    types = dict(types or {})
    wanted = [c for c in [by, *variables] if c is not None]
    _require(adsl, wanted, "table_one")
    bad_types = {k: v for k, v in types.items() if v not in ("categorical", "dichotomous", "continuous")}
    if bad_types:
        raise ValueError(f"table_one: unknown type(s) {bad_types}; use categorical, dichotomous or continuous")

    data = adsl
    groups: list[tuple[str, np.ndarray]] = []  # (column header, row mask)
    if by is not None:
        g = adsl[by]
        dropped = int(g.isna().sum())
        if dropped:
            logger.info("table_one: %d patient(s) with missing %s left out", dropped, by)
            data = adsl.loc[g.notna()]
            g = data[by]
        for level in _levels(g):
            mask = (g == level).to_numpy()
            if mask.sum() == 0:
                logger.info("table_one: group %s=%s has no patient and is left out", by, level)
                continue
            groups.append((f"{_value_label(level)}, N = {suppress_count(int(mask.sum()), min_cell_size)}", mask))
    columns: list[tuple[str, np.ndarray]] = []
    if by is None or overall:
        columns.append((f"Overall, N = {suppress_count(len(data), min_cell_size)}", np.ones(len(data), dtype=bool)))
    columns += groups
    with_p = pvalues and len(groups) >= 2
    with_smd = smd and len(groups) == 2
    flagged_smd = False

    rows: list[dict[str, Any]] = []
    index: list[tuple[str, str]] = []
    tests_used: set[str] = set()
    stats_used: list[str] = []

    def add(variable: str, row_type: str, text: str, cells: list[str], p: str = "", smd_text: str = "") -> None:
        row = {"Characteristic": text}
        row.update({name: cell for (name, _), cell in zip(columns, cells)})
        if with_p:
            row["p-value"] = p
        if with_smd:
            row["SMD"] = smd_text
        rows.append(row)
        index.append((variable, row_type))

    def smd_cell(s: pd.Series, kind: str, masks: list[np.ndarray]) -> str:
        """The SMD of a variable, or "" when one of its counts in a group is suppressed."""
        nonlocal flagged_smd
        if not with_smd:
            return ""
        g1, g2 = groups[0][1], groups[1][1]
        counts = [int((m & gm).sum()) for m in masks for gm in (g1, g2)]
        if any(is_suppressed(c, min_cell_size) for c in counts):
            return ""
        value = variable_smd(s, g1, g2, kind)
        if _missing(value):
            return ""
        flag = value > SMD_THRESHOLD
        flagged_smd |= bool(flag)
        return format_number(value, 2) + (" †" if flag else "")

    for var in variables:
        s = data[var]
        kind = types.get(var) or _variable_type(s, var)
        missing = s.isna().to_numpy()
        title = label(var)
        if kind == "continuous":
            if "Median (IQR)" not in stats_used:
                stats_used += ["Median (IQR)"] + (["Range"] if show_range else [])
            x_all = pd.to_numeric(s, errors="raise").to_numpy(dtype=float, na_value=np.nan)
            p_text = ""
            if with_p:
                p, test = continuous_test([x_all[m & ~missing] for _, m in groups])
                p_text, tests_used = format_p(p), tests_used | ({test} - {""})
            med_cells, range_cells = [], []
            for _, mask in columns:
                x = x_all[mask & ~missing]
                if x.size == 0 or (min_cell_size is not None and x.size < min_cell_size):
                    med_cells.append("")
                    range_cells.append("")
                    continue
                med, q1, q3 = quartiles(x)
                med_cells.append(format_estimate(med, q1, q3, digits=digits, na=""))
                range_cells.append(
                    f"{format_number(x.min(), digits)}{DASH}{format_number(x.max(), digits)}"
                )
            known = ~missing
            add(var, "label", title, [""] * len(columns), p_text,
                smd_cell(s, "continuous", [known, missing] if missing.any() else [known]))
            add(var, "stat", f"{INDENT}Median (IQR)", med_cells)
            if show_range:
                add(var, "stat", f"{INDENT}Range", range_cells)
        elif kind in ("categorical", "dichotomous"):
            if "n (%)" not in stats_used:
                stats_used.insert(0, "n (%)")
            if kind == "dichotomous":
                levels, all_levels = [True], [True, False]
            else:
                levels = all_levels = _levels(s)
            level_masks = [s.isin([lvl]).to_numpy(dtype=bool) & ~missing for lvl in all_levels]
            p_text = ""
            if with_p:
                table = np.array([[int((lm & gm).sum()) for _, gm in groups] for lm in level_masks])
                p, test = categorical_test(table)
                p_text, tests_used = format_p(p), tests_used | ({test} - {""})
            denominators = [int((gm & ~missing).sum()) for _, gm in columns]
            level_cells = [
                [suppress_count_pct(int((lm & gm).sum()), d, min_cell_size, digits) for (_, gm), d in
                 zip(columns, denominators)]
                for lm in level_masks[: len(levels)]
            ]
            smd_text = smd_cell(s, kind, [*level_masks, missing])
            if kind == "dichotomous":
                add(var, "label", title, level_cells[0], p_text, smd_text)
            else:
                add(var, "label", title, [""] * len(columns), p_text, smd_text)
                for lvl, cells in zip(levels, level_cells):
                    add(var, "level", f"{INDENT}{_value_label(lvl)}", cells)
        else:  # pragma: no cover - validated above
            raise ValueError(kind)
        if missing.any():
            add(var, "missing", f"{INDENT}Missing",
                [suppress_count(int((gm & missing).sum()), min_cell_size) for _, gm in columns])

    out = pd.DataFrame(rows, columns=["Characteristic", *[c for c, _ in columns], *(["p-value"] if with_p else []),
                                      *(["SMD"] if with_smd else [])])
    out.index = pd.MultiIndex.from_tuples(index, names=["variable", "row_type"]) if index else \
        pd.MultiIndex.from_arrays([[], []], names=["variable", "row_type"])
    notes = ["; ".join(stats_used)] if stats_used else []
    if tests_used:
        notes.append("p-values: " + "; ".join(TEST_NAMES[t] for t in sorted(tests_used)))
    if with_smd:
        notes.append("SMD: standardised mean difference (pooled SD; categorical variables: Yang & Dalton's "
                     f"multi-level SMD), † above {SMD_THRESHOLD:g}"
                     + ("; blank where a count is suppressed" if min_cell_size is not None else ""))
    if min_cell_size is not None:
        notes.append(f"Counts from 1 to {min_cell_size - 1} are shown as <{min_cell_size}.")
    out.attrs["footnote"] = " ".join(n if n.endswith(".") else n + "." for n in notes)
    return out


# ----------------------------------------------------------------------------------------------
# endpoint, response and hazard-ratio tables


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
    for rec in summary.to_dict("records"):
        row: dict[str, str] = {}
        if endpoint_col in summary.columns:
            row["Endpoint"] = label(rec[endpoint_col])
        row["Group"] = _value_label(rec["group"])
        row["N"] = suppress_count(rec["n"], min_cell_size)
        row["Events"] = suppress_count(rec["events"], min_cell_size)
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
    return pd.DataFrame(rows, columns=cols)


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
    rows = []
    for rec in summary.to_dict("records"):
        row: dict[str, str] = {}
        if "group" in summary.columns:
            row["Group"] = _value_label(rec["group"])
        row["Measure"] = label(rec["measure"])
        hidden = is_suppressed(rec["successes"], min_cell_size) or is_suppressed(rec["n"], min_cell_size)
        row["n / N"] = f"{suppress_count(rec['successes'], min_cell_size)} / {suppress_count(rec['n'], min_cell_size)}"
        row[rate_col] = "" if hidden else format_pct(rec["estimate"], rec["lower"], rec["upper"], digits=digits)
        rows.append(row)
    cols = (["Group"] if "group" in summary.columns else []) + ["Measure", "n / N", rate_col]
    return pd.DataFrame(rows, columns=cols)


def hr_table(
    cox: pd.DataFrame,
    *,
    digits: int = 2,
    conf_level: float = 0.95,
    min_cell_size: int | None = 5,
    show_counts: bool = False,
) -> pd.DataFrame:
    """Hazard ratios (``stats.cox_hr`` output) as a report table.

    Parameters
    ----------
    cox : DataFrame
        ``variable``, ``level``, ``reference``, ``hr``, ``hr_lower``, ``hr_upper``, ``p`` (and
        ``n``, ``events`` for ``show_counts``); an optional ``endpoint`` column (PARAMCD) adds an
        Endpoint column, for tables of several endpoints. The model's caveats (non-convergence,
        a hazard ratio that may be infinite), from ``cox.attrs["notes"]`` or an optional
        ``note`` column, become the table's footnote.
    digits : int
        Decimals of the HR and its CI.
    conf_level : float
        Only for the header.
    min_cell_size : int or None
        Suppression of N and Events when shown.
    show_counts : bool
        Add ``N`` and ``Events`` columns; with an ``n_excluded`` column (patients left out for a
        missing covariate, :func:`ensemble_helpers.analysis.hazard_ratios`) also
        "Excluded (missing covariate)", and ``N`` is printed by
        :func:`ensemble_helpers.disclosure.subset_count` (a hidden exclusion is not given away).

    Returns
    -------
    DataFrame
        [``Endpoint``], ``Term`` ("Regimen class: Anti-HER2 TKI vs Anti-HER2 antibody"; a
        numeric covariate is its label), [``N``, ``Events``], ``"HR (95% CI)"`` ("NE" = not
        estimable), ``p-value``; ``attrs["footnote"]`` holds the caveats, if any.

    Examples
    --------
    >>> c = pd.DataFrame({"term": ["regimen_group[T.tki]"], "variable": ["regimen_group"], "level": ["tki"],
    ...                   "reference": ["antibody"], "hr": [1.3], "hr_lower": [1.05], "hr_upper": [1.61],
    ...                   "p": [0.0123]})
    >>> hr_table(c).values.tolist()
    [['Regimen class: Anti-HER2 TKI vs Anti-HER2 antibody', '1.30 (1.05–1.61)', '0.012']]
    """
    needed = ["variable", "level", "hr", "hr_lower", "hr_upper", "p"] + (["n", "events"] if show_counts else [])
    _require(cox, needed, "hr_table")
    hr_col = f"HR ({ci_name(conf_level)})"
    rows = []
    for rec in cox.to_dict("records"):
        term = label(rec["variable"])
        if not _missing(rec.get("level")):
            term = f"{term}: {_value_label(rec['level'])}"
            if not _missing(rec.get("reference")):
                term += f" vs {_value_label(rec['reference'])}"
        row = {"Endpoint": label(rec["endpoint"])} if "endpoint" in cox.columns else {}
        row["Term"] = term
        if show_counts:
            excluded = rec.get("n_excluded")
            with_excluded = "n_excluded" in cox.columns and not _missing(excluded)
            row["N"] = subset_count(int(rec["n"]), int(rec["n"]) + int(excluded), min_cell_size) if with_excluded \
                else suppress_count(rec["n"], min_cell_size)
            row["Events"] = suppress_count(rec["events"], min_cell_size)
            if "n_excluded" in cox.columns:
                row[EXCLUDED] = suppress_count(int(excluded), min_cell_size) if with_excluded else ""
        row[hr_col] = "NE" if _missing(rec["hr"]) else format_estimate(
            rec["hr"], rec["hr_lower"], rec["hr_upper"], digits=digits, na="NE")
        row["p-value"] = format_p(rec["p"])
        rows.append(row)
    counts = ["N", "Events"] + ([EXCLUDED] if "n_excluded" in cox.columns else [])
    cols = (["Endpoint"] if "endpoint" in cox.columns else []) + ["Term"] + (counts if show_counts else []) + [
        hr_col, "p-value"]
    out = pd.DataFrame(rows, columns=cols)
    notes = _model_notes(cox)
    if notes:
        out.attrs["footnote"] = " ".join(notes)
    return out


def _model_notes(cox: pd.DataFrame) -> list[str]:
    """The distinct caveats of the models behind ``cox`` (``attrs["notes"]``, ``note`` column),
    prefixed with the endpoint when the table has several."""
    notes = list(cox.attrs.get("notes", ()))
    if "note" in cox.columns:
        by_endpoint = "endpoint" in cox.columns and cox["endpoint"].nunique() > 1
        for rec in cox.to_dict("records"):
            text = rec.get("note")
            if isinstance(text, str) and text:
                notes.append(f"{label(rec['endpoint'])}: {text}" if by_endpoint else text)
    return list(dict.fromkeys(notes))


def top_counts(
    series: pd.Series, n: int = 10, min_cell_size: int | None = 5, *, digits: int = 1,
    other_label: str = "All other values",
) -> pd.DataFrame:
    """The most frequent values (e.g. regimens) with n (%), rare values pooled.

    Values seen fewer than ``min_cell_size`` times are never listed by name (a rare regimen can
    identify a patient): they are pooled with the values beyond the top ``n`` into one row.

    Parameters
    ----------
    series : Series
        One value per patient.
    n : int
        How many values to list at most.
    min_cell_size : int or None
        See :func:`ensemble_helpers.privacy.suppress_count`; also the smallest count listed by name.
    digits : int
        Decimals of the percentages (of non-missing values).
    other_label : str
        Text of the pooled row.

    Returns
    -------
    DataFrame
        Columns ``<label of the series name>`` (or ``Value``) and ``n (%)``; most frequent first
        (ties by value), then the pooled row and a ``Missing`` row when there are any.

    Examples
    --------
    >>> s = pd.Series(["a"] * 6 + ["b"] * 5 + ["c"] * 2 + ["d"], name="regimen")
    >>> top_counts(s, n=1).values.tolist()
    [['a', '6 (42.9%)'], ['All other values', '8 (57.1%)']]
    """
    if n < 0:
        raise ValueError(f"n must be >= 0 (got {n})")
    name = label(series.name) if series.name is not None else "Value"
    values = series.dropna()
    total = len(values)
    counts = values.value_counts(sort=False)
    freq = pd.DataFrame({"value": counts.index.astype(object), "n": counts.to_numpy(dtype=np.int64)})
    freq["key"] = freq["value"].astype(str)
    freq = freq[freq["n"] > 0].sort_values(["n", "key"], ascending=[False, True], kind="mergesort")
    listable = freq if min_cell_size is None else freq[freq["n"] >= min_cell_size]
    shown = listable.head(n)
    rest = int(total - shown["n"].sum())
    rows = [[_value_label(v), suppress_count_pct(int(k), total, min_cell_size, digits)]
            for v, k in zip(shown["value"], shown["n"])]
    if rest:
        rows.append([other_label, suppress_count_pct(rest, total, min_cell_size, digits)])
    n_missing = int(series.isna().sum())
    if n_missing:
        rows.append(["Missing", suppress_count(n_missing, min_cell_size)])
    return pd.DataFrame(rows, columns=[name, "n (%)"])


# ----------------------------------------------------------------------------------------------
# small tables of the cohort and endpoint notebooks


def frequency_table(freq: pd.DataFrame, min_cell_size: int | None, heading: str = "Category") -> pd.DataFrame:
    """Format :func:`ensemble_helpers.describe.frequencies` output as ``n (%)`` with suppression."""
    total = int(freq["n"].sum())
    return pd.DataFrame(
        {
            heading: [label(v) for v in freq["level"]],
            "n (%)": [suppress_count_pct(int(k), total, min_cell_size) for k in freq["n"]],
        }
    )


def attrition_table(attrition: pd.DataFrame, min_cell_size: int | None) -> pd.DataFrame:
    """The attrition steps with suppressed counts."""
    return pd.DataFrame(
        {
            "Step": attrition["step"],
            "Patients remaining": [suppress_count(int(k), min_cell_size) for k in attrition["n"]],
            "Excluded at this step": [suppress_count(int(k), min_cell_size) for k in attrition["excluded"]],
        }
    )


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


def site_table(sites: pd.DataFrame, min_cell_size: int | None) -> pd.DataFrame:
    """Format :func:`ensemble_helpers.describe.site_summary` (no site is named)."""
    row = sites.iloc[0]
    if not row.get("sites"):
        return pd.DataFrame({"Measure": ["Sites"], "Value": ["0"]})
    return pd.DataFrame(
        {
            "Measure": ["Sites", "Patients", "Patients per site, median (IQR)", "Sites with a single patient"],
            "Value": [
                f"{int(row['sites'])}",
                suppress_count(int(row["patients"]), min_cell_size),
                f"{row['median']:g} ({row['q1']:g}{DASH}{row['q3']:g})",
                suppress_count(int(row["single_patient_sites"]), min_cell_size),
            ],
        }
    )


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


def subgroup_hr_table(forest: pd.DataFrame, *, conf_level: float = 0.95, min_cell_size: int | None = 5,
                      digits: int = 2) -> pd.DataFrame:
    """The treatment-effect forest (:func:`ensemble_helpers.comparison.subgroup_forest`) as a table.

    Columns: ``Subgroup``, ``N``, ``Events``, ``"HR (95% CI)"`` (or the row's note), ``Interaction
    p`` (on the variable's row), ``PH p`` (cox.zph of the comparison term in the level's model).
    """
    hr_col = f"HR ({ci_name(conf_level)})"
    rows = []
    for rec in forest.to_dict("records"):
        header = bool(rec["is_header"])
        rows.append({
            "Subgroup": str(rec["label"]).strip() if header or rec["is_overall"] else INDENT + str(rec["label"]).strip(),
            "N": "" if header else suppress_count(rec["n"], min_cell_size),
            "Events": "" if header else suppress_count(rec["events"], min_cell_size),
            hr_col: "" if header else (rec["note"] or format_estimate(rec["hr"], rec["hr_lower"], rec["hr_upper"],
                                                                      digits=digits, na="NE")),
            "Interaction p": format_p(rec["p"]) if header and not _missing(rec["p"]) else "",
            "PH p": "" if header or _missing(rec["zph_p"]) else format_p(rec["zph_p"]),
        })
    out = pd.DataFrame(rows, columns=["Subgroup", "N", "Events", hr_col, "Interaction p", "PH p"])
    out.attrs["footnote"] = ("Cox HR of the comparison within each level (Efron ties); interaction p: likelihood-"
                             "ratio test of comparison x subgroup; PH p: cox.zph test of the comparison term in "
                             "the level's model.")
    return out


def weighted_estimates_table(comp: Any, *, conf_level: float = 0.95, min_cell_size: int | None = 5,
                             digits: int = 2) -> pd.DataFrame:
    """Unadjusted, covariate-adjusted and weighted estimates of an
    :class:`ensemble_helpers.adjust.AdjustedComparison`, per endpoint: the median (CI) of each
    group unweighted and weighted, and the hazard ratio (CI) of each method.

    Returns
    -------
    DataFrame
        ``Endpoint``, ``Method``, one ``"Median, months (95% CI)"`` column per group, ``"HR (95% CI)"``,
        ``p-value``, ``N``; a group of fewer than ``min_cell_size`` patients has no median.
    """
    ci = ci_name(conf_level)
    med = comp.medians
    rows = []
    methods = {"unadjusted": "unweighted", "covariate-adjusted": None, "weighted": "weighted"}
    for rec in comp.hrs.to_dict("records"):
        ep, method = rec["endpoint"], rec["method"]
        row = {"Endpoint": label(ep), "Method": method[:1].upper() + method[1:]}
        for level in comp.levels:
            col = f"{label(level)}: median, months ({ci})"
            kind = methods.get(method)
            hit = med[(med["endpoint"] == ep) & (med["method"] == kind) & (med["group"].astype(str) == str(level))] \
                if kind else med.iloc[0:0]
            if hit.empty:
                row[col] = ""
            else:
                h = hit.iloc[0]
                row[col] = "" if is_suppressed(int(h["n"]), min_cell_size) else format_estimate(
                    h["median"], h["median_lower"], h["median_upper"])
        row[f"HR ({ci})"] = format_estimate(rec["hr"], rec["hr_lower"], rec["hr_upper"], digits=digits, na="NE")
        row["p-value"] = format_p(rec["p"])
        row["N"] = suppress_count(int(rec["n"]), min_cell_size)
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["footnote"] = (f"Weights: {comp.weighting} (propensity score from a logistic model of "
                             f"{', '.join(label(c) for c in comp.covariates)}). Weighted: Kaplan–Meier on "
                             "weighted counts and Cox model with case weights and robust (sandwich) variance, as R "
                             "survfit/coxph(weights, robust = TRUE). Covariate-adjusted: complete cases. "
                             "Medians: NR = not reached.")
    return out


def weight_summary_table(summary: pd.DataFrame, *, min_cell_size: int | None = 5) -> pd.DataFrame:
    """:func:`ensemble_helpers.adjust.weight_summary` as a table: patients, effective sample size,
    weight percentiles (1st, median, 99th; never the minimum or maximum: one patient's value),
    extreme weights (above 10 times the group's mean) and propensity-score percentiles."""
    rows = []
    for rec in summary.to_dict("records"):
        rows.append({
            "Group": label(rec["group"]),
            "Patients": suppress_count(int(rec["n"]), min_cell_size),
            "Effective sample size": format_number(rec["ess"], 1),
            "Weight, median (1st–99th percentile)": format_estimate(rec["weight_median"], rec["weight_p1"],
                                                                   rec["weight_p99"], digits=3),
            "Extreme weights (> 10 x mean)": suppress_count(int(rec["extreme"]), min_cell_size),
            "Propensity score, median (1st–99th percentile)": format_estimate(rec["ps_median"], rec["ps_p1"],
                                                                             rec["ps_p99"], digits=3),
        })
    return pd.DataFrame(rows)


def balance_table(balance: pd.DataFrame) -> pd.DataFrame:
    """Standardised mean differences before and after weighting (the publishable rows of
    :func:`ensemble_helpers.adjust.balance`), flagged "†" above 0.1."""
    from ensemble_helpers.plots.balance import covariate_label

    def cell(v: float) -> str:
        return "" if _missing(v) else format_number(v, 3) + (" †" if abs(v) > SMD_THRESHOLD else "")

    out = pd.DataFrame({
        "Covariate": [covariate_label(c) for c in balance["covariate"]],
        "SMD unweighted": [cell(v) for v in balance["smd_unweighted"]],
        "SMD weighted": [cell(v) for v in balance["smd_weighted"]],
    })
    out.attrs["footnote"] = (f"Standardised mean difference, pooled unweighted SD (indicators: p(1-p)); † |SMD| > "
                             f"{SMD_THRESHOLD:g}. Indicators held by 1 to min_cell_size - 1 patients of a group are "
                             "not shown.")
    return out


def ph_table(ph: pd.DataFrame, term_labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Proportional-hazards tests (:func:`ensemble_helpers.analysis.ph_tests`) as a report table.

    One row per model term and a "Global" row per model; ``Flag`` says "p < 0.05" where the
    test rejects proportional hazards. The footnote names the test.

    Examples
    --------
    >>> ph = pd.DataFrame({"endpoint": ["PFS", "PFS"], "model": ["unadjusted"] * 2, "term": ["age", "GLOBAL"],
    ...                    "chisq": [4.61, 4.61], "df": [1, 1], "p": [0.0318, 0.0318], "flag": [True, True]})
    >>> ph_table(ph).values.tolist()[0]
    ['Progression-free survival', 'Unadjusted', 'Age, years', '4.61 (1)', '0.032', 'p < 0.05']
    """
    names = dict(term_labels or {})
    rows = []
    for rec in ph.to_dict("records"):
        row = {"Endpoint": label(rec["endpoint"])} if "endpoint" in ph.columns else {}
        if "model" in ph.columns:
            row["Model"] = str(rec["model"])[:1].upper() + str(rec["model"])[1:]
        term = str(rec["term"])
        row["Term"] = "Global" if term == "GLOBAL" else names.get(term, label(term))
        row["Chi-square (df)"] = format_statistic(rec["chisq"], rec["df"])
        row["p"] = format_p(rec["p"])
        row["Flag"] = "p < 0.05" if rec["flag"] else ""
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["footnote"] = ("Proportional-hazards test by scaled Schoenfeld residuals (R survival::cox.zph, "
                             "Kaplan–Meier time transform), per term and global. p < 0.05 flagged: the hazard "
                             "ratio may change over follow-up.")
    return out


def logrank_table(logrank: pd.DataFrame) -> pd.DataFrame:
    """Log-rank tests (``stats.logrank`` rows with an ``endpoint`` column) as a report table.

    Examples
    --------
    >>> lr = pd.DataFrame({"endpoint": ["PFS"], "statistic": [4.2512], "df": [1], "p": [0.0392]})
    >>> logrank_table(lr).values.tolist()
    [['Progression-free survival', '4.25 (1)', '0.039']]
    """
    return pd.DataFrame({
        "Endpoint": [label(e) for e in logrank["endpoint"]],
        "Log-rank chi-square (df)": [format_statistic(s, d) for s, d in zip(logrank["statistic"], logrank["df"])],
        "p": [format_p(x) for x in logrank["p"]],
    })


# ----------------------------------------------------------------------------------------------
# HTML

_CSS = [
    {"selector": "", "props": "border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; "
                              "font-variant-numeric: tabular-nums; border-top: 2px solid #333; "
                              "border-bottom: 2px solid #333;"},
    {"selector": "caption", "props": "caption-side: top; text-align: left; font-weight: 600; "
                                     "padding: 0 0 0.4em 0; color: #222;"},
    {"selector": "thead th", "props": "border-bottom: 1px solid #333; padding: 4px 10px; text-align: center; "
                                      "vertical-align: bottom; font-weight: 600; background: none;"},
    {"selector": "thead th:first-child", "props": "text-align: left;"},
    {"selector": "td", "props": "padding: 2px 10px; text-align: center; white-space: nowrap; "
                                "border: none; background: none;"},
    {"selector": "td:first-child", "props": "text-align: left; white-space: normal;"},
    {"selector": "tbody tr:nth-child(even)", "props": "background: #f6f6f6;"},
    {"selector": "td.ens-label", "props": "font-weight: 600;"},
]


def _styler(df: pd.DataFrame, caption: str | None) -> "pd.io.formats.style.Styler":
    digest = hashlib.sha1(
        (df.to_csv() + repr(list(df.columns)) + (caption or "")).encode("utf-8")
    ).hexdigest()[:10]
    kinds = list(df.index.get_level_values("row_type")) if "row_type" in df.index.names else []
    df = df.reset_index(drop=True)  # Styler's classes need a unique index; it is hidden anyway
    st = df.style  # a Styler; uuid fixed below so the HTML is reproducible
    st.uuid = f"ens{digest}"
    st = st.hide(axis="index").format(na_rep="", precision=3, escape="html").format_index(escape="html", axis=1)
    if caption:
        st = st.set_caption(html.escape(str(caption)))
    st = st.set_table_styles(_CSS).set_table_attributes('class="ensemble-table"')
    if kinds:
        classes = pd.DataFrame(
            [["ens-label" if k == "label" else ""] + [""] * (df.shape[1] - 1) for k in kinds],
            index=df.index, columns=df.columns,
        )
        st = st.set_td_classes(classes)
    return st


def to_html(df: pd.DataFrame, *, caption: str | None = None, footnote: str | None = None) -> str:
    """A compact, self-contained HTML table; every text value is HTML-escaped.

    Parameters
    ----------
    df : DataFrame
        A table of this module (the index is not shown). Index level ``row_type == "label"``
        rows (from :func:`table_one`) are bold.
    caption : str, optional
        Title above the table.
    footnote : str, optional
        Note under the table; default ``df.attrs["footnote"]`` when set.

    Returns
    -------
    str
        ``<div>`` with a ``<style>`` scoped to this table's id, the ``<table>`` and the footnote.

    Notes
    -----
    During a report run the table is also kept for the run's ``.docx`` and ``.xlsx`` files
    (:func:`ensemble_helpers.export.register_table`): what the HTML shows is what they hold.

    Examples
    --------
    >>> "&lt;b&gt;" in to_html(pd.DataFrame({"x": ["<b>"]}))
    True
    """
    if footnote is None:
        footnote = df.attrs.get("footnote") or None
    from ensemble_helpers import export  # every table a report shows also goes to its .docx/.xlsx

    export.register_table(df, caption, footnote)
    body = _styler(df, caption).to_html(doctype_html=False)
    note = (f'<p style="font-size: 0.8em; color: #555; margin: 0.2em 0 1em 0;">{html.escape(footnote)}</p>'
            if footnote else "")
    return f'<div class="ensemble-table-wrap">{body}{note}</div>'


def display_table(df: pd.DataFrame, caption: str | None = None, footnote: str | None = None) -> Any:
    """An object Jupyter (and nbconvert) shows as :func:`to_html`'s table.

    Returns
    -------
    IPython.display.HTML
    """
    from IPython.display import HTML

    return HTML(to_html(df, caption=caption, footnote=footnote))
