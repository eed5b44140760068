"""Survival and response statistics: one function per analysis, each returning a tidy DataFrame.

Layer: ``endpoints.derive_adsl`` / ``derive_adtte`` -> **stats** -> ``tables`` / ``plots``.
Nothing here formats numbers: NaN means "not reached" / "not estimable" and ``tables`` turns it
into "NR" or "NE".

Functions
---------
km_summary, km_summary_by
    Kaplan-Meier median (with CI) and survival rates at fixed times, as R ``survfit`` prints them.
logrank
    k-group log-rank test, optionally stratified (R ``survdiff``).
cox_hr
    Cox proportional-hazards hazard ratios, Efron ties (R ``coxph``).
proportion_ci, response_summary
    Binomial proportions (Clopper-Pearson or Wilson) and ORR / DCR.
cumulative_incidence, cumulative_incidence_at
    Aalen-Johansen cumulative incidence with a competing risk (R ``cmprsk::cuminc``).
followup_median
    Median follow-up by the reverse Kaplan-Meier method.

What is written by hand, and why
--------------------------------
* Kaplan-Meier: a vectorised product-limit estimate on unique times (``np.unique`` +
  ``np.bincount``) with Greenwood's variance and R's confidence-interval code
  (``survival:::survfit_confint``). The median and its CI follow R's ``print.survfit`` rule;
  lifelines' ``median_survival_times(confidence_interval_)`` does not (lifelines issue #861).
* Cox model: a vectorised Newton-Raphson for the Efron partial likelihood. lifelines'
  ``CoxPHFitter`` gives the same estimates, but loops in Python over rows or over unique times:
  with 1,000,000 patients it took 40 s (times rounded to 0.1) and 260-420 s (continuous
  times) in our measurements, against 1-4 s here.
* Cumulative incidence: a vectorised version of ``cmprsk``'s ``cinc`` routine (estimate and
  variance). lifelines' ``AalenJohansenFitter`` breaks tied times by random jitter (so results
  change between runs) and loops in Python to compute the variance.

Each of these is tested against published R output in ``tests/test_stats.py``.

Examples
--------
>>> from ensemble_helpers.stats import km_summary
>>> km_summary([1, 2, 3, 4], [1, 1, 1, 1], timepoints=())
   n  events  median  median_lower  median_upper
0  4       4     2.5           1.0           NaN
"""

from __future__ import annotations

import logging
import math
from numbers import Real
from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as _sps

logger = logging.getLogger(__name__)

#: Confidence-interval transforms for survival probabilities (R ``survfit(conf.type=)``).
CI_TRANSFORMS: tuple[str, ...] = ("log", "log-log", "plain")
#: Methods for a binomial confidence interval.
PROPORTION_METHODS: tuple[str, ...] = ("clopper-pearson", "wilson")
#: Label of the all-patients row in grouped summaries.
OVERALL = "Overall"
#: Response categories counted as objective response and as disease control.
ORR_RESPONSES: tuple[str, ...] = ("CR", "PR")
DCR_RESPONSES: tuple[str, ...] = ("CR", "PR", "SD")

# R's all.equal() tolerance, used by print.survfit to decide that S(t) "is" 0.5.
_R_TOL = math.sqrt(np.finfo(float).eps)
# coxph.control() defaults: eps (relative change in log-likelihood) and iter.max.
_COX_EPS = 1e-9
_COX_MAX_ITER = 20


class StatsInputError(ValueError):
    """Input a statistic cannot be computed from (bad column, code, level or option)."""


# --------------------------------------------------------------------------------------------
# Input helpers
# --------------------------------------------------------------------------------------------


def _check_conf_level(conf_level: Any) -> float:
    if (
        isinstance(conf_level, bool)
        or not isinstance(conf_level, Real)
        or not 0.0 < float(conf_level) < 1.0
    ):
        raise StatsInputError(
            f"conf_level must be a number strictly between 0 and 1 (e.g. 0.95); got {conf_level!r}"
        )
    return float(conf_level)


def _z_value(conf_level: float) -> float:
    return float(_sps.norm.ppf(1.0 - (1.0 - conf_level) / 2.0))


def _check_transform(ci_transform: Any) -> str:
    if ci_transform not in CI_TRANSFORMS:
        raise StatsInputError(
            f"ci_transform must be one of {', '.join(map(repr, CI_TRANSFORMS))} (as R "
            f"survfit(conf.type=...); SAS CONFTYPE=LOG/LOGLOG/LINEAR); got {ci_transform!r}"
        )
    return str(ci_transform)


def _to_float(values: Any, name: str) -> np.ndarray:
    """1-D float array; pandas NA / None become NaN."""
    try:
        if isinstance(values, (pd.Series, pd.Index)):
            arr = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise StatsInputError(f"{name} must be numeric; could not convert it: {exc}") from exc
    if arr.ndim != 1:
        raise StatsInputError(f"{name} must be one-dimensional; got shape {arr.shape}")
    return arr


def _examples(mask: np.ndarray, index: Sequence[Any] | None = None, k: int = 5) -> list[Any]:
    pos = np.flatnonzero(mask)[:k]
    if index is None:
        return pos.tolist()
    return [index[i] for i in pos]


def _clean_survival(
    durations: Any,
    events: Any,
    *,
    index: Sequence[Any] | None = None,
    duration_name: str = "durations",
    event_name: str = "events",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate durations / 0-1 events; return (t, e, complete_mask) on the full length.

    Rows with a missing duration or event are not errors: they are left out (as R's
    ``na.omit``), and ``complete_mask`` says which rows remain.
    """
    t = _to_float(durations, duration_name)
    e = _to_float(events, event_name)
    if t.shape != e.shape:
        raise StatsInputError(
            f"{duration_name} and {event_name} must have the same length; "
            f"got {t.size} and {e.size}"
        )
    ok = ~np.isnan(t) & ~np.isnan(e)
    bad = ok & ~np.isfinite(t)
    if bad.any():
        raise StatsInputError(
            f"{duration_name} must be finite; {int(bad.sum())} infinite value(s), "
            f"e.g. rows {_examples(bad, index)}"
        )
    bad = ok & (t < 0)
    if bad.any():
        raise StatsInputError(
            f"{duration_name} must be >= 0; {int(bad.sum())} negative value(s), "
            f"e.g. rows {_examples(bad, index)}"
        )
    bad = ok & (e != 0) & (e != 1)
    if bad.any():
        raise StatsInputError(
            f"{event_name} must be 0/1 or boolean (1 = event, 0 = censored); "
            f"{int(bad.sum())} other value(s) {sorted(set(e[bad].tolist()))[:5]}, "
            f"e.g. rows {_examples(bad, index)}"
        )
    n_missing = int((~ok).sum())
    if n_missing:
        logger.debug("%d row(s) with a missing duration or event left out", n_missing)
    return t, e, ok


def _require_columns(df: pd.DataFrame, columns: Iterable[Hashable]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise StatsInputError(f"expected a pandas DataFrame; got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise StatsInputError(
            f"column(s) {missing} not in the data; available columns: {list(df.columns)}"
        )


def _py(value: Any) -> Any:
    """numpy scalar -> Python scalar (for tidy object columns)."""
    return value.item() if isinstance(value, np.generic) else value


def _group_codes(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (-1 = missing) and the ordered levels of a grouping column.

    Categorical columns keep their category order (unused categories included); other
    columns use their sorted distinct non-missing values.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(dtype=np.int64), [
            _py(v) for v in series.cat.categories
        ]
    values = pd.unique(series.dropna())
    try:
        levels = sorted(values)
    except TypeError:
        levels = sorted(values, key=str)
    codes = pd.Categorical(series, categories=levels).codes.astype(np.int64)
    return codes, [_py(v) for v in levels]


def _split_by_code(codes: np.ndarray, n_levels: int) -> list[np.ndarray]:
    """Row positions for each code 0..n_levels-1 (one stable sort, no per-level scan)."""
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes[codes >= 0], minlength=n_levels)
    start = int((codes < 0).sum())
    out = []
    for c in counts:
        out.append(order[start : start + c])
        start += c
    return out


# --------------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------------


def _km_curve(t: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, ...]:
    """Product-limit estimate at every distinct time (events and censorings), as R survfit.

    Returns times, n_risk, n_event, surv and the Greenwood standard error of log(surv)
    (R's ``std.err``, ``logse=TRUE``). Same arithmetic, in the same order, as
    survival/src/survfitkm.c, so S(t) is bit-identical to R's (this matters for the
    "S(t) is exactly 0.5" rule of the median).
    """
    # two sorts without an inverse index are faster than np.unique(return_inverse=True)
    times, n_total = np.unique(t, return_counts=True)
    event_times, event_counts = np.unique(t[e > 0], return_counts=True)
    n_event = np.zeros(times.size)
    n_event[np.searchsorted(times, event_times)] = event_counts
    n_risk = t.size - np.concatenate(([0], np.cumsum(n_total)[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod((n_risk - n_event) / n_risk)
        terms = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    se_log = np.sqrt(np.cumsum(terms))  # +inf once everybody at risk had the event
    return times, n_risk, n_event, surv, se_log


def _surv_confint(
    surv: np.ndarray, se_log: np.ndarray, transform: str, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of S(t), a transcription of R survival:::survfit_confint (logse=TRUE).

    Limits are S itself where the standard error is 0 (before the first event); NaN where
    S = 0 with a non-zero standard error (log and log-log), as in R.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if transform == "plain":
            half = se_log * surv * z  # Klein & Moeschberger eq. 4.3.1
            lower = np.maximum(surv - half, 0.0)
            upper = np.minimum(surv + half, 1.0)
        elif transform == "log":
            xx = np.where(surv == 0, np.nan, surv)
            lower = np.exp(np.log(xx) - z * se_log)
            upper = np.minimum(np.exp(np.log(xx) + z * se_log), 1.0)
        else:  # log-log (SAS CONFTYPE=LOGLOG)
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            log_xx = np.log(xx)
            se2 = z * se_log / log_xx
            lower = np.exp(-np.exp(np.log(-log_xx) - se2))
            upper = np.exp(-np.exp(np.log(-log_xx) + se2))
        no_var = se_log == 0
        lower = np.where(no_var, surv, lower)
        upper = np.where(no_var, surv, upper)
    return lower, upper


def _r_median(y: np.ndarray, x: np.ndarray) -> float:
    """First x where y <= 0.5, with R's averaging rule (survival:::print.survfit, minmin).

    If y is 0.5 (within sqrt(machine eps), as R's all.equal) on a flat stretch, the result is
    the midpoint of the start of that stretch and the next time y drops; if y never drops
    below 0.5 again, the start of the stretch. NaN if y never reaches 0.5. Applied to S(t)
    for the median and to the lower / upper pointwise bands for the CI limits.
    """
    keep = ~np.isnan(y) & (y < 0.5 + _R_TOL)
    if not keep.any():
        return math.nan
    pos = np.flatnonzero(keep)
    y0, x0 = y[pos[0]], x[pos[0]]
    if abs(y0 - 0.5) < _R_TOL:
        below = pos[y[pos] < y0]
        if below.size:
            return float((x0 + x[below[0]]) / 2.0)
    return float(x0)


def _check_timepoints(timepoints: Any) -> tuple[np.ndarray, list[str]]:
    tp = np.atleast_1d(np.asarray(timepoints, dtype=float))
    if tp.ndim != 1 or not np.isfinite(tp).all():
        raise StatsInputError(f"timepoints must be finite numbers; got {timepoints!r}")
    labels = [f"{t:g}" for t in tp]
    if len(set(labels)) != len(labels):
        raise StatsInputError(f"timepoints must be distinct; got {timepoints!r}")
    return tp, labels


def _km_columns(labels: Sequence[str]) -> list[str]:
    cols = ["n", "events", "median", "median_lower", "median_upper"]
    for lab in labels:
        cols += [f"rate_{lab}", f"rate_{lab}_lower", f"rate_{lab}_upper"]
    return cols


def _km_row(
    t: np.ndarray, e: np.ndarray, z: float, transform: str, tp: np.ndarray, labels: list[str]
) -> dict[str, Any]:
    row: dict[str, Any] = {"n": int(t.size), "events": int(round(float(e.sum())))}
    nan_cols = _km_columns(labels)[2:]
    if t.size == 0:
        row.update(dict.fromkeys(nan_cols, math.nan))
        return row
    times, _, n_event, surv, se_log = _km_curve(t, e)
    last_time = times[-1]
    # S(t) and its bands only change at event times, so evaluating them there gives the same
    # medians and rates as R's evaluation at every time, with less work
    ev = n_event > 0
    times, surv = times[ev], surv[ev]
    lower, upper = _surv_confint(surv, se_log[ev], transform, z)
    row["median"] = _r_median(surv, times)
    # Median CI by hand: lifelines' median_survival_times(confidence_interval_) does not apply
    # R's rule (lifelines issue #861). The lower band reaches 0.5 first: lower limit.
    row["median_lower"] = _r_median(lower, times)
    row["median_upper"] = _r_median(upper, times)
    # rates as R summary(fit, times=): step function; NaN past the last follow-up time
    idx = np.searchsorted(times, tp, side="right") - 1
    for k, lab in enumerate(labels):
        if tp[k] > last_time:
            vals = (math.nan, math.nan, math.nan)
        elif idx[k] < 0:
            vals = (1.0, 1.0, 1.0)
        else:
            i = idx[k]
            vals = (float(surv[i]), float(lower[i]), float(upper[i]))
        row[f"rate_{lab}"], row[f"rate_{lab}_lower"], row[f"rate_{lab}_upper"] = vals
    return row


def km_summary(
    durations: Any,
    events: Any,
    conf_level: float = 0.95,
    ci_transform: str = "log-log",
    timepoints: Sequence[float] | float = (6, 12),
) -> pd.DataFrame:
    """Kaplan-Meier median survival and survival rates, with confidence intervals.

    Parameters
    ----------
    durations : array-like of float
        Follow-up times (>= 0), e.g. ADTTE ``AVAL`` in months.
    events : array-like of {0, 1} or bool
        1 / True = event, 0 / False = censored (ADTTE ``1 - CNSR``).
    conf_level : float, default 0.95
        Confidence level, strictly between 0 and 1.
    ci_transform : {"log-log", "log", "plain"}, default "log-log"
        Transform for the pointwise CI of S(t), as R ``survfit(conf.type=)`` (R's default is
        "log") and SAS ``PROC LIFETEST CONFTYPE=`` (SAS's default LOGLOG is "log-log";
        LINEAR is "plain"). Greenwood variance. The same transform gives the median's CI.
    timepoints : sequence of float, default (6, 12)
        Times (same unit as ``durations``) at which to report S(t).

    Returns
    -------
    pandas.DataFrame
        One row with columns ``n``, ``events``, ``median``, ``median_lower``,
        ``median_upper`` and, for each timepoint t (written ``f"{t:g}"``), ``rate_{t}``,
        ``rate_{t}_lower``, ``rate_{t}_upper`` (survival probabilities, 0-1).
        NaN means not reached / not estimable: a median or CI limit the curve or band never
        reaches, a rate past the last follow-up time, CI limits where S(t) = 0.

    Notes
    -----
    The median is the first time S(t) <= 0.5; when S(t) is exactly 0.5 on a flat stretch it is
    the midpoint between the start of the stretch and the next event time (R
    ``print.survfit``; if no event follows, the start of the stretch, where R's
    ``quantile.survfit`` would instead take the midpoint with the last follow-up time). The CI
    limits are where the lower and upper pointwise bands cross 0.5, by the same rule
    (Brookmeyer & Crowley, as R and SAS). Rates follow R ``summary(fit, times=)``: S at the
    last time <= t, and NaN after the last follow-up time. Rows with a missing duration or
    event are left out. Empty input gives ``n = 0``, ``events = 0`` and NaN elsewhere.

    Examples
    --------
    >>> res = km_summary([5, 8, 12, 12, 20, 30], [1, 1, 0, 1, 1, 0], timepoints=(10,))
    >>> res[["n", "events", "median", "rate_10"]]
       n  events  median   rate_10
    0  6       4    16.0  0.666667
    """
    z = _z_value(_check_conf_level(conf_level))
    transform = _check_transform(ci_transform)
    tp, labels = _check_timepoints(timepoints)
    t, e, ok = _clean_survival(durations, events)
    row = _km_row(t[ok], e[ok], z, transform, tp, labels)
    return pd.DataFrame([row], columns=_km_columns(labels))


def km_summary_by(
    df: pd.DataFrame,
    duration: str,
    event: str,
    by: str,
    conf_level: float = 0.95,
    ci_transform: str = "log-log",
    timepoints: Sequence[float] | float = (6, 12),
    overall: bool = True,
) -> pd.DataFrame:
    """:func:`km_summary` for each group of ``by``, plus an "Overall" row.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per patient.
    duration, event : str
        Column names of the follow-up time and the event indicator (int 0/1 or bool).
    by : str
        Grouping column.
    conf_level, ci_transform, timepoints
        As in :func:`km_summary`.
    overall : bool, default True
        Add a last row, ``group = "Overall"``, for all patients.

    Returns
    -------
    pandas.DataFrame
        A ``group`` column followed by the :func:`km_summary` columns, one row per group:
        in category order if ``by`` is categorical (empty categories included, with
        ``n = 0`` and NaN estimates), otherwise in sorted order.

    Notes
    -----
    Patients with a missing ``by`` value belong to no group (as R ``survfit(... ~ by)``
    drops them) but are counted in the "Overall" row, which describes every patient with a
    duration and an event. Rows with a missing duration or event are left out everywhere.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [3, 5, 7, 9, 2, 4], "e": [1, 1, 0, 1, 1, 1],
    ...                    "arm": ["A", "A", "A", "A", "B", "B"]})
    >>> km_summary_by(df, "t", "e", "arm", timepoints=())[["group", "n", "events", "median"]]
         group  n  events  median
    0        A  4       3     7.0
    1        B  2       2     3.0
    2  Overall  6       5     4.5
    """
    z = _z_value(_check_conf_level(conf_level))
    transform = _check_transform(ci_transform)
    tp, labels = _check_timepoints(timepoints)
    _require_columns(df, [duration, event, by])
    t, e, ok = _clean_survival(
        df[duration], df[event], index=df.index, duration_name=duration, event_name=event
    )
    codes, levels = _group_codes(df[by])
    codes = np.where(ok, codes, -1)
    rows = []
    for level, pos in zip(levels, _split_by_code(codes, len(levels))):
        rows.append({"group": level, **_km_row(t[pos], e[pos], z, transform, tp, labels)})
    if overall:
        rows.append({"group": OVERALL, **_km_row(t[ok], e[ok], z, transform, tp, labels)})
    out = pd.DataFrame(rows, columns=["group", *_km_columns(labels)])
    out["group"] = out["group"].astype(object)
    return out


def followup_median(
    durations: Any,
    events: Any,
    conf_level: float = 0.95,
    *,
    ci_transform: str = "log-log",
) -> pd.DataFrame:
    """Median follow-up by the reverse Kaplan-Meier method (censoring is the "event").

    Parameters
    ----------
    durations, events
        As in :func:`km_summary` (events: 1 = event of the endpoint, 0 = censored).
    conf_level : float, default 0.95
        Confidence level.
    ci_transform : {"log-log", "log", "plain"}, default "log-log"
        CI transform, as in :func:`km_summary`.

    Returns
    -------
    pandas.DataFrame
        One row: ``n``, ``median``, ``median_lower``, ``median_upper``.

    Notes
    -----
    Events are flipped (patients with the event are censored at their event time) and the
    median of that curve is computed exactly as :func:`km_summary` does; this is
    ``survfit(Surv(time, 1 - status) ~ 1)`` in R.

    Examples
    --------
    >>> followup_median([2, 4, 6, 8, 10], [1, 0, 0, 1, 0])[["n", "median"]]
       n  median
    0  5     8.0
    """
    _, e, ok = _clean_survival(durations, events)
    flipped = np.where(ok, 1.0 - e, np.nan)
    res = km_summary(
        _to_float(durations, "durations"),
        flipped,
        conf_level=conf_level,
        ci_transform=ci_transform,
        timepoints=(),
    )
    return res[["n", "median", "median_lower", "median_upper"]]


# --------------------------------------------------------------------------------------------
# Log-rank test
# --------------------------------------------------------------------------------------------


def _logrank_components(
    t: np.ndarray, e: np.ndarray, g: np.ndarray, s: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected and variance matrix of the log-rank test (R survdiff, rho = 0).

    Vectorised version of survival/src/survdiff2.c: hypergeometric variance, summed over
    strata ``s`` (risk sets never mix strata). ``g`` holds group codes 0..k-1.
    """
    observed = np.bincount(g, weights=e, minlength=k)
    if t.size == 0:
        return observed, np.zeros(k), np.zeros((k, k))
    order = np.lexsort((t, s))
    ts, ss, gs, es = t[order], s[order], g[order], e[order]
    new_block = np.ones(ts.size, dtype=bool)
    new_block[1:] = (ts[1:] != ts[:-1]) | (ss[1:] != ss[:-1])
    block = np.cumsum(new_block) - 1
    n_blocks = int(block[-1]) + 1
    counts = np.bincount(block * k + gs, minlength=n_blocks * k).reshape(n_blocks, k)
    deaths = np.bincount(block * k + gs, weights=es, minlength=n_blocks * k).reshape(n_blocks, k)
    # number at risk per group: suffix sums over the (time-ordered) blocks of the same stratum
    block_stratum = ss[new_block]
    next_start = _next_stratum_start(block_stratum)
    suffix = np.vstack([counts[::-1].cumsum(axis=0)[::-1], np.zeros((1, k))])
    at_risk = suffix[:-1] - suffix[next_start]
    d = deaths.sum(axis=1)
    ev = d > 0
    r, d = at_risk[ev], d[ev]
    n = r.sum(axis=1)
    expected = (d / n) @ r
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(n > 1, d * (n - d) / (n * (n - 1.0)), 0.0)
    var = np.diag(c @ r) - (r * (c / n)[:, None]).T @ r
    return observed, expected, var


def _next_stratum_start(block_stratum: np.ndarray) -> np.ndarray:
    """Per block (sorted by stratum, then time): index of the first block of the next stratum."""
    n_blocks = block_stratum.size
    first = np.ones(n_blocks, dtype=bool)
    first[1:] = block_stratum[1:] != block_stratum[:-1]
    starts = np.flatnonzero(first)
    stratum_of_block = np.cumsum(first) - 1
    return np.append(starts[1:], n_blocks)[stratum_of_block]


def _logrank_table(
    df: pd.DataFrame, duration: str, event: str, by: str, strata: str | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-group N, observed and expected events (R survdiff's printed table) and V."""
    cols = [duration, event, by] + ([strata] if strata is not None else [])
    _require_columns(df, cols)
    t, e, ok = _clean_survival(
        df[duration], df[event], index=df.index, duration_name=duration, event_name=event
    )
    g, levels = _group_codes(df[by])
    ok &= g >= 0
    if strata is not None:
        s, _ = _group_codes(df[strata])
        ok &= s >= 0
    else:
        s = np.zeros(t.size, dtype=np.int64)
    k = len(levels)
    observed, expected, var = _logrank_components(t[ok], e[ok], g[ok], s[ok], k)
    table = pd.DataFrame(
        {
            "group": pd.Series(levels, dtype=object),
            "n": np.bincount(g[ok], minlength=k),
            "observed": observed,
            "expected": expected,
        }
    )
    return table, var


def logrank(
    df: pd.DataFrame, duration: str, event: str, by: str, strata: str | None = None
) -> pd.DataFrame:
    """Log-rank test of equal survival across the groups of ``by`` (k groups), as R survdiff.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per patient.
    duration, event : str
        Follow-up time and event indicator (int 0/1 or bool) columns.
    by : str
        Grouping column.
    strata : str, optional
        Stratification column: observed - expected and the variance are computed within each
        stratum and summed, as ``survdiff(Surv(t, e) ~ by + strata(s))``.

    Returns
    -------
    pandas.DataFrame
        One row: ``statistic`` (chi-square), ``df``, ``p``, ``n`` (patients used),
        ``events``, ``n_groups`` (groups with at least one patient).

    Notes
    -----
    Patients with a missing duration, event, group or stratum are left out. As in R,
    groups with no expected events (no patient at risk at any event time) are left out of
    the test and its degrees of freedom (``df`` = groups with expected events - 1). With
    fewer than two such groups the statistic and p-value are NaN.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 1, 1, 0, 1, 0, 1, 0],
    ...                    "arm": ["A", "B", "A", "B", "A", "B", "A", "B"]})
    >>> logrank(df, "t", "e", "arm")[["df", "n", "events", "n_groups"]]
       df  n  events  n_groups
    0   1  8       5         2
    """
    table, var = _logrank_table(df, duration, event, by, strata)
    o = table["observed"].to_numpy()
    ex = table["expected"].to_numpy()
    used = np.flatnonzero(ex > 0)
    dof = max(used.size - 1, 0)
    statistic = p = math.nan
    if used.size >= 2:
        keep = used[1:]
        diff = (o - ex)[keep]
        vv = var[np.ix_(keep, keep)]
        try:
            statistic = float(diff @ np.linalg.solve(vv, diff))
        except np.linalg.LinAlgError:
            logger.warning("log-rank variance matrix is singular; using a generalised inverse")
            statistic = float(diff @ np.linalg.pinv(vv) @ diff)
        p = float(_sps.chi2.sf(statistic, dof))
    return pd.DataFrame(
        [
            {
                "statistic": statistic,
                "df": int(dof),
                "p": p,
                "n": int(table["n"].sum()),
                "events": int(round(float(o.sum()))),
                "n_groups": int((table["n"] > 0).sum()),
            }
        ]
    )


# --------------------------------------------------------------------------------------------
# Cox proportional hazards (Efron ties)
# --------------------------------------------------------------------------------------------


class _EfronData:
    """Data sorted by (stratum, time) with the index arrays the Efron likelihood needs."""

    def __init__(self, t: np.ndarray, e: np.ndarray, s: np.ndarray, x: np.ndarray) -> None:
        order = np.lexsort((t, s))
        self.x = x[order]
        ts, ss, es = t[order], s[order], e[order] > 0
        n = ts.size
        new_block = np.ones(n, dtype=bool)
        new_block[1:] = (ts[1:] != ts[:-1]) | (ss[1:] != ss[:-1])
        self.block_start = np.flatnonzero(new_block)
        self.block = np.cumsum(new_block) - 1
        self.n_blocks = self.block_start.size
        block_stratum = ss[new_block]
        self.next_start = _next_stratum_start(block_stratum)
        first = np.ones(self.n_blocks, dtype=bool)
        first[1:] = block_stratum[1:] != block_stratum[:-1]
        self.stratum_first_block = np.flatnonzero(first)[np.cumsum(first) - 1]
        # deaths, grouped by their (stratum, time) block = "event block"
        self.death = np.flatnonzero(es)
        dblock = self.block[self.death]
        dfirst = np.ones(dblock.size, dtype=bool)
        dfirst[1:] = dblock[1:] != dblock[:-1]
        self.death_group_start = np.flatnonzero(dfirst)
        self.death_group = np.cumsum(dfirst) - 1  # event-block index of each death
        self.event_block = dblock[dfirst]
        d_per_group = np.diff(np.append(self.death_group_start, dblock.size))
        rank = np.arange(dblock.size) - self.death_group_start[self.death_group]
        self.frac = rank / d_per_group[self.death_group]  # Efron weights l / d
        self.xd = self.x[self.death]
        self.n_groups = self.event_block.size

    def _within_stratum_suffix(self, per_block: np.ndarray) -> np.ndarray:
        """Sum over blocks of the same stratum at or after each block (the risk set)."""
        suffix = per_block[::-1].cumsum(axis=0)[::-1]
        pad = np.zeros((1,) + per_block.shape[1:])
        suffix = np.concatenate([suffix, pad])
        return suffix[:-1] - suffix[self.next_start]

    def _within_stratum_prefix(self, per_block: np.ndarray) -> np.ndarray:
        """Sum over blocks of the same stratum at or before each block."""
        prefix = np.concatenate([[0.0], per_block.cumsum()])
        return prefix[1:] - prefix[self.stratum_first_block]

    def evaluate(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Efron log partial likelihood, score and information at ``beta``."""
        x, xd, g, frac = self.x, self.xd, self.death_group, self.frac
        eta = x @ beta
        shift = float(eta.max()) if eta.size else 0.0
        w = np.exp(eta - shift)
        wx = w[:, None] * x
        s0 = self._within_stratum_suffix(np.add.reduceat(w, self.block_start))[self.event_block]
        s1 = self._within_stratum_suffix(np.add.reduceat(wx, self.block_start, axis=0))[
            self.event_block
        ]
        wd = w[self.death]
        s0d = np.add.reduceat(wd, self.death_group_start)
        s1d = np.add.reduceat(wd[:, None] * xd, self.death_group_start, axis=0)
        den = s0[g] - frac * s0d[g]
        loglik = float(eta[self.death].sum() - np.log(den).sum() - shift * den.size)
        inv = 1.0 / den
        a0 = np.bincount(g, inv, self.n_groups)
        a1 = np.bincount(g, frac * inv, self.n_groups)
        b0 = np.bincount(g, inv * inv, self.n_groups)
        b1 = np.bincount(g, frac * inv * inv, self.n_groups)
        b2 = np.bincount(g, frac * frac * inv * inv, self.n_groups)
        score = xd.sum(axis=0) - (a0 @ s1 - a1 @ s1d)
        # sum over event times of a0 * S2 (risk-set second moments), rearranged per patient:
        # patient i contributes w_i x_i x_i' times the a0 of every event time it is at risk for
        a0_block = np.zeros(self.n_blocks)
        a0_block[self.event_block] = a0
        c = self._within_stratum_prefix(a0_block)[self.block]
        info = (x * (w * c)[:, None]).T @ x
        info -= (xd * (wd * a1[g])[:, None]).T @ xd
        info -= (s1 * b0[:, None]).T @ s1
        cross = (s1 * b1[:, None]).T @ s1d
        info += cross + cross.T
        info -= (s1d * b2[:, None]).T @ s1d
        return loglik, score, info


def _fit_efron(
    t: np.ndarray, e: np.ndarray, s: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, bool, np.ndarray]:
    """Newton-Raphson with step halving, as R coxph.fit (start 0, eps 1e-9, iter.max 20).

    Returns coefficients, their covariance (inverse information at the estimate), whether the
    fit converged, and which coefficients may be infinite (R's check in coxph.fit).
    """
    # covariates are centred, as in R; this changes no estimate, only the arithmetic
    xc = x - x.mean(axis=0)
    data = _EfronData(t, e, s, xc)
    beta = np.zeros(x.shape[1])
    loglik, score, info = data.evaluate(beta)
    converged = False
    for _ in range(_COX_MAX_ITER):
        step = np.linalg.solve(info, score)
        new = beta + step
        new_loglik, new_score, new_info = data.evaluate(new)
        halvings = 0
        while (not np.isfinite(new_loglik) or new_loglik < loglik) and halvings < 30:
            step = step / 2.0
            new = beta + step
            new_loglik, new_score, new_info = data.evaluate(new)
            halvings += 1
        done = abs(1.0 - loglik / new_loglik) <= _COX_EPS if new_loglik != 0 else True
        beta, loglik, score, info = new, new_loglik, new_score, new_info
        if done:
            converged = True
            break
    cov = np.linalg.inv(info)
    # R's check for a coefficient that may be infinite (monotone likelihood)
    infs = np.abs(score @ cov)
    maybe_infinite = (infs > _COX_EPS) & (infs > math.sqrt(_COX_EPS) * np.abs(beta))
    return beta, cov, converged, maybe_infinite


def _design_matrix(
    data: pd.DataFrame, covariates: Sequence[str], reference: Mapping[str, Any]
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Numeric design matrix and one description per column (term, variable, level, reference)."""
    columns: list[np.ndarray] = []
    terms: list[dict[str, Any]] = []
    for var in covariates:
        col = data[var]
        dtype = col.dtype
        is_cat = isinstance(dtype, pd.CategoricalDtype)
        is_number = pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)
        if not is_cat and is_number:
            if var in reference:
                raise StatsInputError(
                    f"reference was given for {var!r}, but {var!r} is numeric/boolean and "
                    f"enters the model as is; convert it to a categorical column to dummy-code it"
                )
            columns.append(col.to_numpy(dtype=float, na_value=np.nan))
            terms.append({"term": var, "variable": var, "level": None, "reference": None})
            continue
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            raise StatsInputError(f"covariate {var!r} is a date/time column; derive a number first")
        codes, levels = _group_codes(col)
        if not levels:
            raise StatsInputError(f"covariate {var!r} has no non-missing values")
        ref = reference.get(var, levels[0])
        if ref not in levels:
            raise StatsInputError(
                f"reference level {ref!r} for {var!r} is not one of its levels {levels}"
            )
        ref_code = levels.index(ref)
        for j, level in enumerate(levels):
            if j == ref_code:
                continue
            dummy = np.where(codes < 0, np.nan, (codes == j).astype(float))
            columns.append(dummy)
            terms.append(
                {"term": f"{var}={level}", "variable": var, "level": level, "reference": ref}
            )
    x = np.column_stack(columns) if columns else np.empty((len(data), 0))
    return x, terms


def _estimable_columns(x: np.ndarray) -> np.ndarray:
    """Columns with variance that are not linear combinations of earlier ones (R: aliased)."""
    if x.shape[0] == 0:
        return np.zeros(x.shape[1], dtype=bool)
    xc = x - x.mean(axis=0)
    gram = xc.T @ xc
    keep = np.zeros(x.shape[1], dtype=bool)
    for j in range(x.shape[1]):
        scale = max(float(np.sum(x[:, j] ** 2)), 1.0)
        if gram[j, j] <= 1e-10 * scale:
            continue
        kept = np.flatnonzero(keep)
        resid = gram[j, j]
        if kept.size:
            g_kk = gram[np.ix_(kept, kept)]
            g_kj = gram[kept, j]
            resid = gram[j, j] - g_kj @ np.linalg.solve(g_kk, g_kj)
        if resid > 1e-9 * gram[j, j]:
            keep[j] = True
    return keep


def cox_hr(
    df: pd.DataFrame,
    duration: str,
    event: str,
    covariates: Sequence[str] | str,
    strata: str | Sequence[str] | None = None,
    reference: Mapping[str, Any] | None = None,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Hazard ratios from a Cox proportional-hazards model (Efron ties), as R ``coxph``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per patient.
    duration, event : str
        Follow-up time and event indicator (int 0/1 or bool) columns.
    covariates : list of str
        Model terms. Numeric and boolean columns enter as they are (one coefficient per unit /
        for True); categorical, string and object columns are dummy-coded against a reference
        level, one coefficient per other level.
    strata : str or list of str, optional
        Stratification column(s): a separate baseline hazard per stratum, as
        ``coxph(... + strata(s))``.
    reference : dict, optional
        Reference level per categorical covariate, e.g. ``{"regimen_group": "tki"}``. Default:
        the first category of a categorical column, else the first sorted level.
    conf_level : float, default 0.95
        Confidence level of the hazard-ratio interval.

    Returns
    -------
    pandas.DataFrame
        One row per coefficient: ``term`` (the column name, or ``"variable=level"`` for a
        dummy), ``variable``, ``level`` and ``reference`` (None for numeric covariates),
        ``coef`` (log hazard ratio), ``se``, ``hr``, ``hr_lower``,
        ``hr_upper`` (Wald, exp(coef -/+ z se)), ``p`` (Wald), ``n`` and ``events`` (patients
        and events in the model).

    Notes
    -----
    Complete-case analysis, as R: patients missing the duration, event, any covariate or a
    stratum are left out, and ``n`` / ``events`` count the patients used. Terms that cannot
    be estimated -- a level with no patients, a column without variation, a column that is a
    linear combination of earlier ones -- are left out of the fit and reported with NaN
    estimates; with no events, every term is NaN. A warning is logged when the likelihood
    suggests an infinite coefficient (e.g. a level with no events), where R warns too.

    The partial likelihood is maximised here with a vectorised Newton-Raphson rather than with
    lifelines' ``CoxPHFitter``, which gives the same estimates but took 40-420 s with
    1,000,000 patients; see the module docstring.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [5, 6, 6, 2, 4, 4, 8, 9, 3, 7],
    ...                    "e": [1, 0, 1, 1, 1, 0, 1, 0, 1, 1],
    ...                    "arm": ["B", "A", "A", "B", "B", "A", "A", "A", "B", "A"]})
    >>> res = cox_hr(df, "t", "e", ["arm"])
    >>> res[["term", "reference", "n", "events"]]
        term reference   n  events
    0  arm=B         A  10       7
    >>> bool(res.loc[0, "hr"] > 1)
    True
    """
    z = _z_value(_check_conf_level(conf_level))
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates)
    if not covariates:
        raise StatsInputError("covariates must name at least one column")
    if len(set(covariates)) != len(covariates):
        raise StatsInputError(f"covariates are repeated: {covariates}")
    strata_cols = [] if strata is None else ([strata] if isinstance(strata, str) else list(strata))
    reference = dict(reference or {})
    unknown = sorted(set(reference) - set(covariates), key=str)
    if unknown:
        raise StatsInputError(f"reference given for {unknown}, which are not covariates")
    _require_columns(df, [duration, event, *covariates, *strata_cols])

    t, e, ok = _clean_survival(
        df[duration], df[event], index=df.index, duration_name=duration, event_name=event
    )
    x, terms = _design_matrix(df, covariates, reference)
    ok &= ~np.isnan(x).any(axis=1)
    if strata_cols:
        # one integer per combination of strata levels (mixed radix)
        s_all = np.zeros(len(df), dtype=np.int64)
        for col in strata_cols:
            codes, levels = _group_codes(df[col])
            ok &= codes >= 0
            s_all = s_all * max(len(levels), 1) + codes
        s = s_all[ok]
    else:
        s = np.zeros(int(ok.sum()), dtype=np.int64)
    t, e, x = t[ok], e[ok], x[ok]
    n, n_events = int(t.size), int(round(float(e.sum())))

    p = len(terms)
    coef = np.full(p, math.nan)
    se = np.full(p, math.nan)
    estimable = _estimable_columns(x) if n_events > 0 else np.zeros(p, dtype=bool)
    dropped = [terms[j]["term"] for j in np.flatnonzero(~estimable)]
    if dropped:
        logger.warning("Cox model: not estimable, reported as NaN: %s", dropped)
    if estimable.any():
        try:
            b, cov, converged, maybe_infinite = _fit_efron(t, e, s, x[:, estimable])
            coef[estimable] = b
            se[estimable] = np.sqrt(np.diag(cov))
            if not converged:
                logger.warning("Cox model did not converge in %d iterations", _COX_MAX_ITER)
            if maybe_infinite.any():
                names = [terms[j]["term"] for j in np.flatnonzero(estimable)[maybe_infinite]]
                logger.warning(
                    "Cox model: coefficient(s) of %s may be infinite (monotone likelihood, "
                    "e.g. a level with no events); R coxph warns the same",
                    names,
                )
        except np.linalg.LinAlgError:
            logger.warning("Cox model: singular information matrix; estimates set to NaN")
    with np.errstate(over="ignore", invalid="ignore"):
        zstat = coef / se
        out = pd.DataFrame(terms, columns=["term", "variable", "level", "reference"]).astype(object)
        out["coef"] = coef
        out["se"] = se
        out["hr"] = np.exp(coef)
        out["hr_lower"] = np.exp(coef - z * se)
        out["hr_upper"] = np.exp(coef + z * se)
        out["p"] = 2.0 * _sps.norm.sf(np.abs(zstat))
    out["n"] = n
    out["events"] = n_events
    return out


# --------------------------------------------------------------------------------------------
# Proportions and response
# --------------------------------------------------------------------------------------------


def _as_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value).is_integer():
        raise StatsInputError(f"{name} must be a whole number; got {value!r}")
    return int(value)


def _proportion_values(
    k: int, n: int, method: str, conf_level: float
) -> tuple[float, float, float]:
    if n == 0:
        return math.nan, math.nan, math.nan
    ci = _sps.binomtest(k, n).proportion_ci(
        confidence_level=conf_level, method="exact" if method == "clopper-pearson" else "wilson"
    )
    return k / n, float(ci.low), float(ci.high)


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
        without continuity correction, as R ``prop.test(correct = FALSE)``. Both come from
        ``scipy.stats.binomtest(...).proportion_ci``.
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


# --------------------------------------------------------------------------------------------
# Cumulative incidence with a competing risk
# --------------------------------------------------------------------------------------------


def _competing_arrays(
    df: pd.DataFrame, duration: str, event: str, event_code: int, competing_code: int
) -> tuple[np.ndarray, np.ndarray]:
    _require_columns(df, [duration, event])
    if event_code == competing_code:
        raise StatsInputError(f"event_code and competing_code must differ; both are {event_code!r}")
    if 0 in (event_code, competing_code):
        raise StatsInputError("0 means censored; event_code and competing_code must not be 0")
    t = _to_float(df[duration], duration)
    c = _to_float(df[event], event)
    ok = ~np.isnan(t) & ~np.isnan(c)
    bad = ok & ~np.isin(c, (0, event_code, competing_code))
    if bad.any():
        raise StatsInputError(
            f"column {event!r} must hold 0 (censored), {event_code} (event) or {competing_code} "
            f"(competing event); found {sorted(set(c[bad].tolist()))[:5]} in {int(bad.sum())} "
            f"row(s), e.g. rows {_examples(bad, df.index)}"
        )
    bad = ok & ((t < 0) | ~np.isfinite(t))
    if bad.any():
        raise StatsInputError(
            f"column {duration!r} must be finite and >= 0; {int(bad.sum())} row(s) are not, "
            f"e.g. rows {_examples(bad, df.index)}"
        )
    return t[ok], c[ok]


def _cif_curve(t: np.ndarray, code: np.ndarray, event_code: int, competing_code: int):
    """Aalen-Johansen cumulative incidence and its variance at every distinct time.

    Vectorised transcription of ``cinc`` in cmprsk/src/cincsub.f (R ``cmprsk::cuminc``):
    F(t) = sum over event times u <= t of S(u-) d1(u) / n(u), with S the all-cause
    Kaplan-Meier; the variance is Gray's, updated at the times of the event of interest.
    """
    times, inv = np.unique(t, return_inverse=True)
    inv = inv.reshape(-1)
    total = np.bincount(inv, minlength=times.size)
    d1 = np.bincount(inv, weights=(code == event_code), minlength=times.size)
    d2 = np.bincount(inv, weights=(code == competing_code), minlength=times.size)
    rs = t.size - np.concatenate(([0], np.cumsum(total)[:-1]))  # at risk
    nd = d1 + d2
    s_after = np.cumprod((rs - nd) / rs)  # all-cause KM, S(u)
    fk = np.concatenate(([1.0], s_after[:-1]))  # S(u-)
    cif = np.cumsum(fk * d1 / rs)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_fkn = np.where(s_after > 0, 1.0 / s_after, 0.0)

        def t6(d: np.ndarray) -> np.ndarray:
            t5 = np.where(d > 1, 1.0 - (d - 1.0) / (rs - 1.0), 1.0)
            return fk * fk * t5 * d / (rs * rs)

        t6c = np.where((d2 > 0) & (s_after > 0), t6(d2), 0.0)
        t6e = np.where(d1 > 0, t6(d1), 0.0)
    t4c = cif * inv_fkn
    t4e = 1.0 + inv_fkn * cif
    v1 = np.cumsum(t6c * t4c * t4c + t6e * t4e * t4e)
    v2 = np.cumsum(t6c * inv_fkn * t4c + t6e * inv_fkn * t4e)
    v3 = np.cumsum(t6c * inv_fkn * inv_fkn + t6e * inv_fkn * inv_fkn)
    var_at = v1 + cif * cif * v3 - 2.0 * cif * v2
    # cmprsk records the variance only at times of the event of interest
    last = np.maximum.accumulate(np.where(d1 > 0, np.arange(times.size), -1))
    var = np.where(last >= 0, var_at[np.maximum(last, 0)], 0.0)
    return times, rs, d1, d2, cif, np.maximum(var, 0.0)


def _cif_confint(cif: np.ndarray, var: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """log(-log) interval F^exp(-/+ z se / (F log F)) (Pintilie; as tidycmprsk), F where se = 0."""
    se = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = se / (cif * np.log(cif))
        lower = cif ** np.exp(-z * ratio)
        upper = cif ** np.exp(z * ratio)
    lower = np.where(se == 0, cif, lower)
    upper = np.where(se == 0, cif, upper)
    return lower, upper


def cumulative_incidence(
    df: pd.DataFrame,
    duration: str,
    event: str,
    event_code: int = 1,
    competing_code: int = 2,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence curve of one event type with a competing risk.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per patient (e.g. the ILDREC rows of ADTTE).
    duration : str
        Follow-up time column.
    event : str
        Event-type column: 0 = censored, ``event_code`` = event of interest,
        ``competing_code`` = competing event (ADTTE ``EVENT``).
    event_code, competing_code : int, default 1 and 2
        Codes of the event of interest and of the competing event.
    conf_level : float, default 0.95
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``time``, ``n_at_risk`` (number at risk just before ``time``), ``estimate``
        (cumulative incidence, 0-1), ``lower``, ``upper``: a first row at time 0 with
        estimate 0, then one row per distinct time with an event of either type.

    Notes
    -----
    The estimate and its variance are those of R ``cmprsk::cuminc`` (Gray's variance,
    transcribed from cmprsk's Fortran). The interval is the log(-log) one that tidycmprsk
    puts on that variance, F^exp(-/+ z se / (F log F)), which stays within 0-1
    (Pintilie, *Competing Risks: A Practical Perspective*, 2006). lifelines'
    ``AalenJohansenFitter`` gives the same estimate on untied data but breaks ties by random
    jitter and uses another variance, so it is not used. Without competing events the
    estimate equals 1 - Kaplan-Meier. Rows with a missing duration or event are left out;
    codes other than 0, ``event_code`` and ``competing_code`` are an error. If an event
    happens at time 0 the curve starts with that row instead of the time-0 row.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [1, 2, 2, 3, 3, 3, 5, 6], "ev": [0, 1, 0, 2, 0, 2, 0, 2]})
    >>> cumulative_incidence(df, "t", "ev")[["time", "n_at_risk", "estimate"]].round(4)
       time  n_at_risk  estimate
    0   0.0          8    0.0000
    1   2.0          7    0.1429
    2   3.0          5    0.1429
    3   6.0          1    0.1429
    """
    z = _z_value(_check_conf_level(conf_level))
    t, code = _competing_arrays(df, duration, event, event_code, competing_code)
    columns = ["time", "n_at_risk", "estimate", "lower", "upper"]
    start = {"time": 0.0, "n_at_risk": int(t.size), "estimate": 0.0, "lower": 0.0, "upper": 0.0}
    if t.size == 0:
        return pd.DataFrame([start], columns=columns)
    times, rs, d1, d2, cif, var = _cif_curve(t, code, event_code, competing_code)
    lower, upper = _cif_confint(cif, var, z)
    keep = (d1 + d2) > 0
    out = pd.DataFrame(
        {
            "time": times[keep],
            "n_at_risk": rs[keep].astype(np.int64),
            "estimate": cif[keep],
            "lower": lower[keep],
            "upper": upper[keep],
        },
        columns=columns,
    )
    if out.empty or out["time"].iloc[0] > 0:
        out = pd.concat([pd.DataFrame([start], columns=columns), out], ignore_index=True)
    return out


def cumulative_incidence_at(
    df: pd.DataFrame,
    duration: str,
    event: str,
    timepoints: Sequence[float] | float = (6, 12),
    event_code: int = 1,
    competing_code: int = 2,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Cumulative incidence of one event type, with a competing risk, at fixed times.

    Parameters
    ----------
    df, duration, event, event_code, competing_code, conf_level
        As in :func:`cumulative_incidence`.
    timepoints : sequence of float, default (6, 12)
        Times at which to report the cumulative incidence.

    Returns
    -------
    pandas.DataFrame
        One row per timepoint: ``time``, ``estimate``, ``lower``, ``upper``, ``n`` (patients
        analysed), ``events`` and ``competing_events`` (observed at or before ``time``).
        The estimate and limits are NaN after the last follow-up time.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [1, 2, 2, 3, 3, 3, 5, 6], "ev": [0, 1, 0, 2, 0, 2, 0, 2]})
    >>> cumulative_incidence_at(df, "t", "ev", timepoints=(4, 10))[
    ...     ["time", "estimate", "n", "events", "competing_events"]].round(4)
       time  estimate  n  events  competing_events
    0   4.0    0.1429  8       1                 2
    1  10.0       NaN  8       1                 3
    """
    z = _z_value(_check_conf_level(conf_level))
    tp, _ = _check_timepoints(timepoints)
    t, code = _competing_arrays(df, duration, event, event_code, competing_code)
    rows = []
    if t.size:
        times, _, d1, d2, cif, var = _cif_curve(t, code, event_code, competing_code)
        lower, upper = _cif_confint(cif, var, z)
        c1, c2 = np.cumsum(d1), np.cumsum(d2)
    for tk in tp:
        est = lo = hi = math.nan
        n1 = n2 = 0
        if t.size:
            i = int(np.searchsorted(times, tk, side="right")) - 1
            if i >= 0:
                n1, n2 = int(round(c1[i])), int(round(c2[i]))
            if tk <= times[-1]:
                est, lo, hi = (0.0, 0.0, 0.0) if i < 0 else (cif[i], lower[i], upper[i])
        rows.append(
            {"time": float(tk), "estimate": float(est), "lower": float(lo), "upper": float(hi),
             "n": int(t.size), "events": n1, "competing_events": n2}
        )
    return pd.DataFrame(
        rows, columns=["time", "estimate", "lower", "upper", "n", "events", "competing_events"]
    )
