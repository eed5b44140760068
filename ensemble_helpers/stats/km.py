"""Kaplan-Meier: median survival and survival rates with CIs (R ``survfit``), and median
follow-up by the reverse Kaplan-Meier method.

The product-limit estimate and its CI are written by hand (vectorised, bit-identical to R's
``survfitkm.c``); the median and its CI follow R's ``print.survfit`` rule, which lifelines'
``median_survival_times`` does not (lifelines issue #861). Tested against R in
``tests/test_stats.py``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ensemble_helpers.stats._checks import (
    _check_conf_level,
    _check_timepoints,
    _check_transform,
    _clean_survival,
    _group_codes,
    _require_columns,
    _split_by_code,
    _to_float,
    _z_value,
    OVERALL,
)


# R's all.equal() tolerance, used by print.survfit to decide that S(t) "is" 0.5.
_R_TOL = math.sqrt(np.finfo(float).eps)


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


def km_curve(
    df: pd.DataFrame,
    duration: str,
    event: str,
    by: str | None = None,
    conf_level: float = 0.95,
    ci_transform: str = "log-log",
) -> pd.DataFrame:
    """Kaplan-Meier curve(s) as a tidy frame: one row per group and distinct time.

    The estimate figures draw from (``plots.km_plot``), with the same arithmetic as
    :func:`km_summary` (one product-limit implementation, bit-identical to R ``survfit``).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per patient.
    duration, event : str
        Columns of follow-up times (>= 0) and 0/1 events (1 = event).
    by : str, optional
        Grouping column; None gives one curve, group ``"Overall"``.
    conf_level : float, default 0.95
        Confidence level of the pointwise band.
    ci_transform : {"log-log", "log", "plain"}, default "log-log"
        Transform of the pointwise CI, as :func:`km_summary`.

    Returns
    -------
    pandas.DataFrame
        ``group`` (categorical: every level of ``by`` in order, also levels without patients,
        which have no rows), ``time`` (every distinct event or censoring time, ascending within
        a group), ``n_at_risk`` (duration >= time), ``n_event``, ``n_censor``, ``estimate``
        (S(t) just after ``time``), ``lower``, ``upper`` (pointwise CI; NaN where R gives NA) --
        R ``summary(survfit(...), censored = TRUE)``. Rows missing the duration, the event or
        ``by`` are left out.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [1, 2, 2, 3], "e": [1, 0, 1, 1]})
    >>> km_curve(df, "t", "e")[["group", "time", "n_at_risk", "n_event", "n_censor", "estimate"]]
         group  time  n_at_risk  n_event  n_censor  estimate
    0  Overall   1.0          4        1         0      0.75
    1  Overall   2.0          3        1         1      0.50
    2  Overall   3.0          1        1         0      0.00
    """
    z = _z_value(_check_conf_level(conf_level))
    transform = _check_transform(ci_transform)
    _require_columns(df, [c for c in (duration, event, by) if c is not None])
    t, e, ok = _clean_survival(df[duration], df[event], index=df.index, duration_name=duration,
                               event_name=event)
    if by is None:
        codes, levels = np.where(ok, 0, -1), [OVERALL]
    else:
        codes, levels = _group_codes(df[by])
        codes = np.where(ok, codes, -1)
    parts = []
    for code, pos in enumerate(_split_by_code(codes, len(levels))):
        if pos.size == 0:
            continue
        times, n_risk, n_event, surv, se_log = _km_curve(t[pos], e[pos])
        lower, upper = _surv_confint(surv, se_log, transform, z)
        n_censor = n_risk - np.r_[n_risk[1:], 0] - n_event
        parts.append((np.full(times.size, code), times, n_risk, n_event, n_censor, surv, lower, upper))
    cols = [np.concatenate(c) if parts else np.empty(0) for c in zip(*parts)] if parts else [np.empty(0)] * 8
    return pd.DataFrame({
        "group": pd.Categorical.from_codes(cols[0].astype(np.int64), categories=pd.Index(levels, dtype=object)),
        "time": cols[1].astype(float),
        "n_at_risk": cols[2].astype(np.int64),
        "n_event": cols[3].astype(np.int64),
        "n_censor": cols[4].astype(np.int64),
        "estimate": cols[5].astype(float),
        "lower": cols[6].astype(float),
        "upper": cols[7].astype(float),
    })
