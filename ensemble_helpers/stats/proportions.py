"""Binomial proportions (Clopper-Pearson or Wilson CIs) and response rates (ORR / DCR).
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
# scipy.special, not scipy.stats: the same distribution functions without the ~1 s import of
# scipy.stats that every notebook kernel would pay
from scipy import special as _special

from ensemble_helpers.stats._checks import (
    _check_conf_level,
    _group_codes,
    _require_columns,
    OVERALL,
    StatsInputError,
)


#: Methods for a binomial confidence interval.
PROPORTION_METHODS: tuple[str, ...] = ("clopper-pearson", "wilson")
#: Response categories counted as objective response and as disease control.
ORR_RESPONSES: tuple[str, ...] = ("CR", "PR")
DCR_RESPONSES: tuple[str, ...] = ("CR", "PR", "SD")


def _as_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value).is_integer():
        raise StatsInputError(f"{name} must be a whole number; got {value!r}")
    return int(value)


def _proportion_values(
    k: int, n: int, method: str, conf_level: float
) -> tuple[float, float, float]:
    if n == 0:
        return math.nan, math.nan, math.nan
    alpha = 1.0 - conf_level
    if method == "clopper-pearson":
        # exact interval from beta quantiles (R binom.test); tested against R output
        lower = 0.0 if k == 0 else float(_special.betaincinv(k, n - k + 1, alpha / 2))
        upper = 1.0 if k == n else float(_special.betaincinv(k + 1, n - k, 1 - alpha / 2))
        return k / n, lower, upper
    # Wilson score interval without continuity correction (R prop.test(correct = FALSE))
    z = float(_special.ndtri(1 - alpha / 2))
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return k / n, max(0.0, centre - half), min(1.0, centre + half)


def proportion_ci(
    successes: int,
    n: int,
    method: str = "clopper-pearson",
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """A binomial proportion with its confidence interval.

    Parameters
    ----------
    successes, n : int
        Number of successes and of trials (0 <= successes <= n).
    method : {"clopper-pearson", "wilson"}, default "clopper-pearson"
        "clopper-pearson": exact interval from beta quantiles, as R ``binom.test`` (lower limit
        0 when successes = 0, upper limit 1 when successes = n). "wilson": score interval
        without continuity correction, as R ``prop.test(correct = FALSE)``. Computed from
        ``scipy.special`` (beta quantiles, normal quantile) and tested against R output.
    conf_level : float, default 0.95
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        One row: ``successes``, ``n``, ``estimate``, ``lower``, ``upper``, ``method``.
        With n = 0 the estimate and limits are NaN.

    Examples
    --------
    >>> proportion_ci(0, 10).round(4)
       successes   n  estimate  lower   upper           method
    0          0  10       0.0    0.0  0.3085  clopper-pearson
    """
    cl = _check_conf_level(conf_level)
    if method not in PROPORTION_METHODS:
        raise StatsInputError(
            f"method must be one of {', '.join(map(repr, PROPORTION_METHODS))}; got {method!r}"
        )
    k = _as_count(successes, "successes")
    m = _as_count(n, "n")
    if m < 0 or not 0 <= k <= m:
        raise StatsInputError(f"need 0 <= successes <= n; got successes={k}, n={m}")
    est, lower, upper = _proportion_values(k, m, method, cl)
    return pd.DataFrame(
        [
            {"successes": k, "n": m, "estimate": est, "lower": lower, "upper": upper,
             "method": method}
        ]
    )


def _bool_mask(series: pd.Series, name: str) -> np.ndarray:
    try:
        flags = series.astype("boolean")
    except (TypeError, ValueError) as exc:
        raise StatsInputError(f"column {name!r} must be boolean (True/False); {exc}") from exc
    return flags.fillna(False).to_numpy(dtype=bool)


def response_summary(
    df: pd.DataFrame,
    by: str | None = None,
    response: str = "next_best_response",
    measurable: str = "measurable_disease",
    conf_level: float = 0.95,
    method: str = "clopper-pearson",
) -> pd.DataFrame:
    """Objective response rate (CR + PR) and disease control rate (CR + PR + SD).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per patient (ADSL).
    by : str, optional
        Grouping column; groups are ordered as in :func:`km_summary_by`.
    response : str, default "next_best_response"
        Best-response column with values CR, PR, SD, PD, NE.
    measurable : str, default "measurable_disease"
        Boolean column: only patients with measurable disease are evaluated.
    conf_level, method
        As in :func:`proportion_ci`.

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``measure`` ("ORR" or "DCR"), ``successes``, ``n``, ``estimate``,
        ``lower``, ``upper``. One "Overall" pair of rows when ``by`` is None; otherwise a pair
        per group followed by the "Overall" pair.

    Notes
    -----
    The denominator is every patient with ``measurable`` True, including those with a
    missing or NE best response, who count as non-responders (as RECIST). Patients with
    ``measurable`` False or missing are not evaluated. Patients with a missing ``by`` value
    are only in the "Overall" rows.

    Examples
    --------
    >>> df = pd.DataFrame({"next_best_response": ["CR", "PR", "SD", "PD", "NE", "PR"],
    ...                    "measurable_disease": [True, True, True, True, True, False]})
    >>> response_summary(df)[["group", "measure", "successes", "n"]]
         group measure  successes  n
    0  Overall     ORR          2  5
    1  Overall     DCR          3  5
    """
    cl = _check_conf_level(conf_level)
    if method not in PROPORTION_METHODS:
        raise StatsInputError(
            f"method must be one of {', '.join(map(repr, PROPORTION_METHODS))}; got {method!r}"
        )
    _require_columns(df, [response, measurable] + ([by] if by is not None else []))
    evaluable = _bool_mask(df[measurable], measurable)
    best = df[response].astype("string").str.strip().str.upper()
    is_orr = best.isin(ORR_RESPONSES).fillna(False).to_numpy(dtype=bool)
    is_dcr = best.isin(DCR_RESPONSES).fillna(False).to_numpy(dtype=bool)

    def rows_for(label: Any, mask: np.ndarray) -> list[dict[str, Any]]:
        n = int(mask.sum())
        out = []
        for measure, hit in (("ORR", is_orr), ("DCR", is_dcr)):
            k = int((mask & hit).sum())
            est, lower, upper = _proportion_values(k, n, method, cl)
            out.append(
                {"group": label, "measure": measure, "successes": k, "n": n,
                 "estimate": est, "lower": lower, "upper": upper}
            )
        return out

    rows: list[dict[str, Any]] = []
    if by is not None:
        codes, levels = _group_codes(df[by])
        for j, level in enumerate(levels):
            rows += rows_for(level, evaluable & (codes == j))
    rows += rows_for(OVERALL, evaluable)
    out = pd.DataFrame(
        rows, columns=["group", "measure", "successes", "n", "estimate", "lower", "upper"]
    )
    out["group"] = out["group"].astype(object)
    return out
