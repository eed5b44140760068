"""Aalen-Johansen cumulative incidence with a competing risk (R ``cmprsk::cuminc``).

A vectorised version of ``cmprsk``'s ``cinc`` routine (estimate and variance); lifelines'
``AalenJohansenFitter`` breaks tied times by random jitter and loops in Python for the variance.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ensemble_helpers.stats._checks import (
    _check_conf_level,
    _check_timepoints,
    _examples,
    _require_columns,
    _to_float,
    _z_value,
    StatsInputError,
)


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
