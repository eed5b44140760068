"""How every number of the workbook is written: estimates with CIs, percentages, p-values,
CI headers and the text of a suppressed count. One registry, used by ``tables``, ``plots``,
``privacy``, ``report`` and the batch index.

No pandas (nor numpy) import: the batch runner formats its index with it without paying for
them. Values may still be numpy or pandas scalars: anything ``float()`` accepts; NaN, None,
``pd.NA`` and infinities are "missing" and written ``na`` ("NR" not reached, "NE" not
estimable).

Deciding *whether* a count may be shown is :mod:`ensemble_helpers.privacy`'s job; this module
only writes the text it decides on (:func:`suppressed_count`, :func:`secondary_suppressed_count`,
:func:`count_percent`).

Examples
--------
>>> format_estimate(4.05, 3.54, 4.75)
'4.0 (3.5–4.8)'
>>> format_estimate(float("nan"), 3.5, None)
'NR (3.5–NR)'
>>> format_pct(0.452, 0.401, 0.503)
'45.2% (40.1–50.3)'
>>> format_estimate(5.46, 4.0, 7.25, unit="months")
'5.5 (4.0–7.2) months'
>>> format_p(0.04249), ci_name(0.9), suppressed_count(5)
('0.042', '90% CI', '<5')
"""

from __future__ import annotations

import math
from typing import Any, Mapping

__all__ = [
    "DASH",
    "NOT_REACHED",
    "NOT_ESTIMABLE",
    "ABSENT",
    "WITHHELD",
    "is_missing",
    "format_number",
    "format_estimate",
    "format_pct",
    "format_p",
    "format_record",
    "format_statistic",
    "ci_name",
    "suppressed_count",
    "secondary_suppressed_count",
    "count_percent",
]

#: En dash between the bounds of an interval.
DASH = "\u2013"
#: A median or bound the curve never reaches (R survfit prints NA; journals print NR).
NOT_REACHED = "NR"
#: A quantity that cannot be estimated (a rate past the follow-up, an HR without events).
NOT_ESTIMABLE = "NE"
#: A value that is absent altogether (e.g. an estimate a run did not produce).
ABSENT = "\u2014"

#: Units whose estimate is written with a percent sign; "proportion" (0-1) is also scaled by 100.
_PERCENT_UNITS = ("%", "proportion")


def is_missing(x: Any) -> bool:
    """True for None, NaN, infinities, ``pd.NA`` / ``pd.NaT`` (anything not a finite number).

    Examples
    --------
    >>> [is_missing(v) for v in (None, float("nan"), float("inf"), 0.0, "2.5")]
    [True, True, True, False, False]
    """
    if x is None:
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        # pandas' missing markers without importing pandas: pd.NA and pd.NaT
        return type(x).__name__ in ("NAType", "NaTType")


def format_number(x: Any, digits: int = 1, na: str = NOT_REACHED) -> str:
    """One number with ``digits`` decimals; ``na`` for NaN/None/inf; no ``-0.0``.

    Examples
    --------
    >>> format_number(-0.04), format_number(None)
    ('0.0', 'NR')
    """
    if is_missing(x):
        return na
    text = f"{float(x):.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text


def format_estimate(
    est: Any,
    lower: Any = None,
    upper: Any = None,
    digits: int = 1,
    scale: float = 1.0,
    na: str = NOT_REACHED,
    *,
    unit: str = "",
    ci: bool = True,
) -> str:
    """``"est (lower–upper)"``, e.g. a median with its CI.

    Parameters
    ----------
    est, lower, upper : float
        Estimate and confidence bounds; NaN (not reached / not estimable) prints as ``na``.
    digits : int
        Decimals.
    scale : float
        Multiply every value first (e.g. 100 for percentages).
    na : str
        Text for a missing value: ``"NR"`` (not reached) for medians, ``"NE"`` for estimates.
    unit : str
        ``"%"`` adds a percent sign to the estimate; ``"proportion"`` (a 0-1 value) also scales
        by 100; any other text (``"months"``) is appended after the interval.
    ci : bool
        Write the interval; False gives the estimate alone.

    Returns
    -------
    str

    Examples
    --------
    >>> format_estimate(4.05, 3.54, 4.75)
    '4.0 (3.5–4.8)'
    >>> format_estimate(None, None, None)
    'NR (NR–NR)'
    >>> format_estimate(0.375, unit="proportion", ci=False)
    '37.5%'
    """
    unit = (unit or "").strip()
    if unit == "proportion":
        scale = scale * 100.0
    e, lo, hi = (na if is_missing(v) else format_number(float(v) * scale, digits, na)
                 for v in (est, lower, upper))
    text = e + ("%" if unit in _PERCENT_UNITS and e != na else "")
    if ci:
        text += f" ({lo}{DASH}{hi})"
    if unit and unit not in _PERCENT_UNITS:
        text += f" {unit}"
    return text


def format_pct(est: Any, lower: Any, upper: Any, digits: int = 1, *, scale: float = 100.0,
               na: str = NOT_ESTIMABLE) -> str:
    """A proportion (0–1) with its CI as percentages: ``"45.2% (40.1–50.3)"``.

    NaN (e.g. a landmark beyond the follow-up) prints as ``na``; a NaN estimate gives ``na``
    alone.

    Examples
    --------
    >>> format_pct(0.5, float("nan"), 0.61)
    '50.0% (NE–61.0)'
    >>> format_pct(float("nan"), 0.1, 0.2)
    'NE'
    """
    if is_missing(est):
        return na
    return format_estimate(est, lower, upper, digits, scale, na, unit="%")


def format_p(p: Any) -> str:
    """A p-value as journals print it: ``"<0.001"``, ``"0.042"``, ``">0.999"``; ``""`` when NaN.

    Raises
    ------
    ValueError
        ``p`` is outside [0, 1].

    Examples
    --------
    >>> [format_p(x) for x in (0.00001, 0.001, 0.04249, 0.5, 0.99999, float("nan"))]
    ['<0.001', '0.001', '0.042', '0.500', '>0.999', '']
    """
    if is_missing(p):
        return ""
    p = float(p)
    if p < 0 or p > 1:
        raise ValueError(f"a p-value must be between 0 and 1 (got {p})")
    if p < 0.001:
        return "<0.001"
    text = f"{p:.3f}"
    if text == "1.000":
        return ">0.999"
    return text


#: Text of an estimate that the disclosure policy withheld from ``results.json`` (a group below
#: ``min_cell_size``; the record's ``suppressed`` names ``estimate``).
WITHHELD = "suppressed (too few patients)"


def format_record(record: Mapping[str, Any] | None) -> str:
    """A ``results.json`` record as text: ``"5.5 (4.0–7.2) months"``, ``"16.1% (13.1–19.5)"``.

    :func:`format_estimate` with the record's ``estimate``, ``lower``, ``upper`` and ``unit``;
    the interval only when the record has a bound; ``"—"`` when there is no record;
    :data:`WITHHELD` when the disclosure policy withheld the estimate. Not-reached
    (NaN or missing) values print as NR, like R's survfit.

    Examples
    --------
    >>> format_record({"estimate": 5.46, "lower": 4.0, "upper": float("nan"), "unit": "months"})
    '5.5 (4.0–NR) months'
    >>> format_record({"estimate": 0.1612, "lower": 0.131, "upper": 0.195, "unit": "proportion"})
    '16.1% (13.1–19.5)'
    >>> format_record(None)
    '—'
    >>> format_record({"estimate": None, "unit": "months", "suppressed": {"estimate": "small group"}})
    'suppressed (too few patients)'
    """
    if record is None:
        return ABSENT
    if "estimate" in (record.get("suppressed") or {}):
        return WITHHELD
    lower, upper = record.get("lower"), record.get("upper")
    return format_estimate(record.get("estimate"), lower, upper, unit=str(record.get("unit") or ""),
                           ci=lower is not None or upper is not None)


def ci_name(conf_level: float) -> str:
    """Column-header name of a confidence interval, e.g. ``"95% CI"``.

    Examples
    --------
    >>> ci_name(0.95)
    '95% CI'
    """
    return f"{conf_level * 100:g}% CI"


def suppressed_count(min_cell_size: int) -> str:
    """The text shown instead of a count that :mod:`ensemble_helpers.privacy` suppresses.

    Examples
    --------
    >>> suppressed_count(5)
    '<5'
    """
    return f"<{min_cell_size}"


def secondary_suppressed_count(min_cell_size: int) -> str:
    """The text of a count hidden by secondary suppression (it is at least ``min_cell_size``).

    Examples
    --------
    >>> secondary_suppressed_count(5)
    '≥5'
    """
    return f"\u2265{min_cell_size}"


def count_percent(count_text: str, count: int, total: int, digits: int = 1) -> str:
    """``"12 (30.0%)"``: a count as shown (already through privacy) and its percentage of ``total``.

    Examples
    --------
    >>> count_percent("12", 12, 40)
    '12 (30.0%)'
    """
    return f"{count_text} ({100.0 * count / total:.{digits}f}%)"


def format_statistic(statistic: Any, df: Any, digits: int = 2, na: str = "not estimable") -> str:
    """A test statistic with its degrees of freedom, e.g. a log-rank chi-square: ``"4.25 (1)"``.

    Examples
    --------
    >>> format_statistic(4.2512, 1), format_statistic(float("nan"), 1)
    ('4.25 (1)', 'not estimable')
    """
    if is_missing(statistic):
        return na
    return f"{float(statistic):.{digits}f} ({int(df)})"
