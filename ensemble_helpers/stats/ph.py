"""Proportional-hazards checks: the scaled Schoenfeld residual test of R ``survival::cox.zph``.

Written by hand because no Python library reproduces cox.zph of survival >= 3.0: since that
version the test is a score test of the added time-by-covariate terms (``beta(t) = beta +
theta g(t)``) computed at the fitted coefficients, not the older correlation of scaled
residuals with time that lifelines' ``proportional_hazard_test`` implements. This module
follows survival/R/cox.zph.R and survival/src/zph1.c (survival 3.5): the same centred time
transform (default "km": 1 - KM(t-) of all patients), the same 2p x 2p information matrix with
Efron (or Breslow) ties, one test per model term (all dummies of a factor together) and a
global test. Tested against live R output in ``tests/test_ph.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special as _special

from ensemble_helpers.stats._checks import StatsInputError
from ensemble_helpers.stats.cox import CoxFit, cox_fit
from ensemble_helpers.stats.km import _km_curve

#: Time transforms of R cox.zph(transform=).
ZPH_TRANSFORMS = ("km", "rank", "identity", "log")

GLOBAL = "GLOBAL"


@dataclass(frozen=True)
class ZphResult:
    """The proportional-hazards test of one Cox model, as R ``cox.zph`` returns it.

    Attributes
    ----------
    table : DataFrame
        One row per model term plus ``GLOBAL``: ``term``, ``chisq``, ``df``, ``p``.
    x : ndarray
        Transformed time of each event (``fit$x``), in time order within strata.
    time : ndarray
        Time of each event (``fit$time``).
    residuals : DataFrame
        Scaled Schoenfeld residuals (``fit$y``), one column per term, one row per event.
    transform : str
    """

    table: pd.DataFrame
    x: np.ndarray
    time: np.ndarray
    residuals: pd.DataFrame
    transform: str


def cox_zph(
    df: pd.DataFrame | CoxFit,
    duration: str | None = None,
    event: str | None = None,
    covariates: Sequence[str] | str | None = None,
    strata: str | Sequence[str] | None = None,
    reference: Mapping[str, Any] | None = None,
    transform: str = "km",
) -> ZphResult:
    """Test proportional hazards by scaled Schoenfeld residuals, as R ``cox.zph(fit)``.

    Parameters
    ----------
    df : DataFrame or CoxFit
        The data (then ``duration``, ``event``, ``covariates`` as in
        :func:`~ensemble_helpers.stats.cox_hr`), or a fitted model from
        :func:`~ensemble_helpers.stats.cox_fit`.
    duration, event, covariates, strata, reference
        As :func:`~ensemble_helpers.stats.cox_hr` (ignored when ``df`` is a CoxFit).
    transform : {"km", "rank", "identity", "log"}
        Transform of time (R's default "km": one minus the Kaplan-Meier estimate of all
        patients just before each time).

    Returns
    -------
    ZphResult
        ``table`` has one row per term (a factor's dummies are tested together, ``df`` = their
        number) and a ``GLOBAL`` row; ``p`` is the chi-square upper tail.

    Raises
    ------
    StatsInputError
        Unknown transform, or a model with no event or no estimable coefficient.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [5, 6, 6, 2, 4, 4, 8, 9, 3, 7, 1, 10],
    ...                    "e": [1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1],
    ...                    "arm": ["B", "A", "A", "B", "B", "A", "A", "A", "B", "A", "B", "A"]})
    >>> cox_zph(df, "t", "e", ["arm"]).table["term"].tolist()
    ['arm', 'GLOBAL']
    """
    if transform not in ZPH_TRANSFORMS:
        raise StatsInputError(f"transform must be one of {', '.join(ZPH_TRANSFORMS)} (R cox.zph); got {transform!r}")
    fit = df if isinstance(df, CoxFit) else cox_fit(df, duration, event, covariates, strata=strata, reference=reference)
    est = fit.estimable
    if fit.events == 0 or not est.any():
        raise StatsInputError("cox.zph needs a fitted model with at least one event and one estimable coefficient")
    t, e, s = fit.time, fit.event, fit.strata
    x = fit.design()[:, est]
    beta = fit.coef[est]
    variables = [v for v, k in zip(fit.table["variable"], est) if k]
    term_names = list(dict.fromkeys(variables))
    assign = [np.flatnonzero(np.array(variables) == v) for v in term_names]
    p = x.shape[1]
    x = x - x.mean(axis=0)  # as zph1.c (results do not depend on it)
    eta = x @ beta
    risk = np.exp(eta - eta.max())

    ttimes = _transform_time(t, e, transform)
    g_all = ttimes - ttimes[e > 0].mean()

    # sort by stratum then time; one block per (stratum, time)
    order = np.lexsort((t, s))
    t, e, s, x, risk, g_all, ttimes = (a[order] for a in (t, e, s, x, risk, g_all, ttimes))
    new_block = np.ones(t.size, dtype=bool)
    new_block[1:] = (t[1:] != t[:-1]) | (s[1:] != s[:-1])
    block = np.cumsum(new_block) - 1
    n_blocks = int(block[-1]) + 1
    first = np.flatnonzero(new_block)
    b_stratum = s[first]
    dead = e > 0

    def per_block(values: np.ndarray) -> np.ndarray:
        return _sum_by(values, block, n_blocks)

    rx = risk[:, None] * x
    s0 = _cumsum_within(per_block(risk), b_stratum, reverse=True)  # risk sets: at or after
    s1 = _cumsum_within(per_block(rx), b_stratum, reverse=True)
    d_count = per_block(dead.astype(float))
    d0 = per_block(np.where(dead, risk, 0.0))
    d1 = per_block(np.where(dead[:, None], rx, 0.0))

    # Efron: the j-th of d tied deaths (j = 0..d-1) sees the risk set less j/d of the deaths
    death_rows = np.flatnonzero(dead)
    db = block[death_rows]
    rank_in_block = np.arange(death_rows.size) - np.searchsorted(db, db)
    frac = rank_in_block / d_count[db] if fit.ties == "efron" else np.zeros(death_rows.size)
    den = s0[db] - frac * d0[db]
    a = s1[db] - frac[:, None] * d1[db]
    mean_k = a / den[:, None]
    # Schoenfeld residual: x minus the mean over the d Efron steps of the weighted means
    mean_of_means = _sum_by(mean_k, db, n_blocks) / np.maximum(d_count, 1)[:, None]
    schoen = x[death_rows] - mean_of_means[db]
    g = g_all[death_rows]

    # information: sum over death steps of V_k = S2_k/den_k - a_k a_k'/den_k^2, weighted 1, g, g^2
    imat = np.zeros((2 * p, 2 * p))
    for wpow, (r0, c0) in ((0, (0, 0)), (1, (0, p)), (2, (p, p))):
        wk = g**wpow
        alpha = _sum_by(wk / den, db, n_blocks)  # per block: sum_k w/den_k
        beta_ = _sum_by(wk * frac / den, db, n_blocks)
        # S2 of a risk set: patient i is in the risk sets of blocks of its stratum at or before it
        at_risk = _cumsum_within(alpha, b_stratum)[block]
        v = risk * at_risk - np.where(dead, risk * beta_[block], 0.0)
        block_mat = (x * v[:, None]).T @ x - (mean_k * (wk)[:, None]).T @ mean_k
        imat[r0:r0 + p, c0:c0 + p] = block_mat
    imat[p:, :p] = imat[:p, p:].T
    u = schoen.T @ g

    rows = []
    for name, jj in zip(term_names, assign):
        kk = np.concatenate([np.arange(p), p + jj])
        uu = np.concatenate([np.zeros(p), u[jj]])
        stat = float(uu @ np.linalg.solve(imat[np.ix_(kk, kk)], uu))
        rows.append({"term": name, "chisq": stat, "df": int(jj.size)})
    uu = np.concatenate([np.zeros(p), u])
    rows.append({"term": GLOBAL, "chisq": float(uu @ np.linalg.solve(imat, uu)), "df": p})
    table = pd.DataFrame(rows)
    table["p"] = _special.chdtrc(table["df"].to_numpy(float), table["chisq"].to_numpy(float))

    resid = _scaled_residuals(schoen, imat[:p, :p], beta, assign, s[death_rows], x, s)
    residuals = pd.DataFrame(resid, columns=term_names)
    return ZphResult(table=table, x=ttimes[death_rows], time=t[death_rows], residuals=residuals,
                     transform=transform)


def _sum_by(values: np.ndarray, blocks: np.ndarray, n_blocks: int) -> np.ndarray:
    """Sum of ``values`` (rows) by block index."""
    out = np.zeros((n_blocks,) + values.shape[1:])
    np.add.at(out, blocks, values)
    return out


def _cumsum_within(per: np.ndarray, b_stratum: np.ndarray, reverse: bool = False) -> np.ndarray:
    """Cumulative sum over the blocks of each stratum (from the last block when ``reverse``)."""
    out = np.empty_like(per)
    for st in np.unique(b_stratum):
        idx = np.flatnonzero(b_stratum == st)
        out[idx] = np.cumsum(per[idx][::-1], axis=0)[::-1] if reverse else np.cumsum(per[idx], axis=0)
    return out


def _transform_time(t: np.ndarray, e: np.ndarray, transform: str) -> np.ndarray:
    if transform == "identity":
        return t.astype(float)
    if transform == "log":
        return np.log(t)
    if transform == "rank":
        return pd.Series(t).rank(method="average").to_numpy()
    # "km": 1 - KM(t-) of all patients (R: findInterval(left.open=TRUE) on survfitKM times)
    times, _, _, surv, _ = _km_curve(t.astype(float), e.astype(float))
    idx = np.searchsorted(times, t, side="left")  # number of KM times strictly below t
    return 1.0 - np.concatenate([[1.0], surv])[idx]


def _scaled_residuals(
    schoen: np.ndarray, imat: np.ndarray, beta: np.ndarray, assign: list[np.ndarray],
    death_stratum: np.ndarray, x: np.ndarray, s: np.ndarray,
) -> np.ndarray:
    """R's scaled Schoenfeld residuals (``cox.zph(fit)$y``): per term, the residual times the
    inverse of the average information per event, plus the coefficient."""
    p, nterm = beta.size, len(assign)
    strata = np.unique(s)
    # used[stratum, column]: deaths of the stratum when the column varies in it, else 0
    used = np.zeros((strata.size, p))
    for i, st in enumerate(strata):
        rows = s == st
        varies = np.ptp(x[rows], axis=0) > 0
        used[i] = np.where(varies, np.count_nonzero(death_stratum == st), 0)
    for jj in assign:
        if jj.size > 1:
            used[:, jj] = used[:, jj].max(axis=1, keepdims=True)
    wtmat = sum(np.minimum.outer(u, u) for u in used)
    vmean = imat / np.where(wtmat == 0, 1, wtmat)
    if any(jj.size > 1 for jj in assign):
        temp = np.zeros((p, nterm))
        for i, jj in enumerate(assign):
            temp[jj, i] = 1.0 if jj.size == 1 else beta[jj]
        schoen = schoen @ temp
        vmean = temp.T @ vmean @ temp
        used = used[:, [jj[0] for jj in assign]]
    out = np.full(schoen.shape, np.nan)
    for i, st in enumerate(strata):
        k = np.flatnonzero(used[i] > 0)
        rows = death_stratum == st
        if k.size:
            out[np.ix_(rows, k)] = np.linalg.solve(vmean[np.ix_(k, k)], schoen[np.ix_(rows, k)].T).T
    for i, jj in enumerate(assign):
        out[:, i] += beta[jj[0]] if jj.size == 1 else 1.0
    return out
