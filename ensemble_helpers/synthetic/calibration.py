"""Calibration of the synthetic cohort: solve the free scales on the model's analytic distributions.

No simulation and no tuned constants: every scale that reproduces a published figure is the root
of an equation on the mixture of the model's components (see ``docs/synthetic.md``).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import optimize, special

from ensemble_helpers.endpoints import DAYS_PER_MONTH
from ensemble_helpers.synthetic.model import (
    _ANTI_HER2,
    _CELL_GRADE,
    _CELL_REASON,
    _CLASS_GROUP,
    _REASON_GROUP,
    CLASSES,
    REASONS,
    STOP_CELLS,
    Calibration,
    CalibrationError,
    CohortModel,
)

logger = logging.getLogger(__name__)

#: Intervals of the midpoint Stieltjes sums (medians exact to ~1e-7 relative; 512 gives ~5e-7).
_GRID = 1024


# ----------------------------------------------------------------------------------------------
# strata of the baseline factors


def stratum_index(ecog: np.ndarray, visceral: np.ndarray, brain: np.ndarray, prior_lines: np.ndarray,
                  hr_positive: np.ndarray, cell: np.ndarray, responder: np.ndarray, n_lines: int) -> np.ndarray:
    """Row of the choice table of each patient (ECOG coded 0..4, 5 = missing; lines capped)."""
    lines = np.minimum(prior_lines, n_lines - 1)
    idx = ecog
    idx = idx * 2 + visceral.astype(np.int64)
    idx = idx * 2 + brain.astype(np.int64)
    idx = idx * n_lines + lines
    idx = idx * 2 + hr_positive.astype(np.int64)
    idx = idx * len(STOP_CELLS) + cell
    return idx * 2 + responder.astype(np.int64)


@dataclass(frozen=True)
class _Strata:
    """Every baseline stratum (ECOG x visceral x brain x lines x HR x stop cell x T-DXd response)."""

    ecog: np.ndarray
    visceral: np.ndarray
    brain: np.ndarray
    lines: np.ndarray
    hr_positive: np.ndarray
    cell: np.ndarray
    responder: np.ndarray
    prob: np.ndarray


def responder_by_reason(model: CohortModel) -> np.ndarray:
    """P(T-DXd responder | reason): odds ``tdxd_response_or_ae`` times higher after an adverse-event stop.

    The baseline odds are solved so that the cohort share equals ``model.tdxd_orr``.
    """
    p_reason = model.targets.reason_probs
    ae = np.isin(np.arange(len(REASONS)), [REASONS.index("ild"), REASONS.index("other_adverse_event")])
    odds_ratio = np.where(ae, model.tdxd_response_or_ae, 1.0)

    def share(log_odds: float) -> float:
        p = special.expit(log_odds + np.log(odds_ratio))
        return float(np.dot(p_reason, p)) - model.tdxd_orr

    base = optimize.brentq(share, -20.0, 20.0, xtol=1e-14)
    return special.expit(base + np.log(odds_ratio))


def _strata(model: CohortModel) -> _Strata:
    n_lines = len(model.prior_lines_probs)
    grids = np.meshgrid(np.arange(6), [0, 1], [0, 1], np.arange(n_lines), [0, 1], np.arange(len(STOP_CELLS)),
                        [0, 1], indexing="ij")
    e, v, b, pl, h, c, r = (g.ravel() for g in grids)
    t = model.targets
    p_resp = responder_by_reason(model)[_CELL_REASON[c]]
    prob = (
        model.ecog_all_probs[e]
        * np.where(v == 1, t.visceral, 1 - t.visceral)
        * np.where(b == 1, t.brain, 1 - t.brain)
        * np.array(model.prior_lines_probs)[pl]
        * np.where(h == 1, model.hr_positive, 1 - model.hr_positive)
        * t.stop_cell_probs[c]
        * np.where(r == 1, p_resp, 1 - p_resp)
    )
    # the enumeration order is stratum_index's order
    return _Strata(e, v.astype(bool), b.astype(bool), pl, h.astype(bool), c, r.astype(bool), prob)


def _choice_table(model: CohortModel, strata: _Strata) -> np.ndarray:
    """P(next_class | stratum) (strata x classes) by iterative proportional fitting.

    The seed table holds the choice odds ratios of :data:`~ensemble_helpers.synthetic.model.CHOICE_ODDS`
    (raised to ``model.confounding``; endocrine impossible when HR-negative); IPF keeps those odds
    ratios and fits the margins: the strata, the published class shares and the published share of
    anti-HER2 regimens after an ILD stop.
    """
    odds = dict(model.choice_odds)
    factors = {
        "brain_metastasis": strata.brain,
        "ecog_2plus": (strata.ecog >= 2) & (strata.ecog <= 4),
        "visceral_metastasis": strata.visceral,
        "prior_lines_4plus": strata.lines >= 4,
        "stopped_for_adverse_event": _REASON_GROUP[_CELL_REASON[strata.cell]] == 1,
        "tdxd_responder": strata.responder,
    }
    log_seed = np.zeros((strata.prob.size, len(CLASSES)))
    for name, present in factors.items():
        log_seed += np.outer(present, model.confounding * np.log(np.array(odds[name])))
    seed = np.exp(log_seed)
    seed[~strata.hr_positive, CLASSES.index("endocrine")] = 0.0
    rows = strata.prob
    cols = model.class_probs
    t = model.targets
    ild = _CELL_REASON[strata.cell] == REASONS.index("ild")
    block_target = {  # P(ILD stop, anti-HER2 or not)
        (True, True): t.stop_ild * t.anti_her2_ild,
        (True, False): t.stop_ild * (1 - t.anti_her2_ild),
    }
    table = seed * rows[:, None] * cols[None, :]
    for _ in range(5_000):
        table *= np.divide(rows, table.sum(axis=1), out=np.zeros_like(rows), where=rows > 0)[:, None]
        for (is_ild, her2), target in block_target.items():
            sub = table[np.ix_(ild == is_ild, _ANTI_HER2 == her2)]
            table[np.ix_(ild == is_ild, _ANTI_HER2 == her2)] = sub * (target / sub.sum())
        table *= (cols / table.sum(axis=0))[None, :]
        if np.abs(table.sum(axis=1) - rows).max() < 1e-15:
            break
    else:  # pragma: no cover - the margins above are always compatible
        raise CalibrationError("regimen-class table did not converge (incompatible margins)")
    totals = table.sum(axis=1, keepdims=True)
    return np.divide(table, totals, out=np.full_like(table, 1.0 / len(CLASSES)), where=totals > 0)


def _risk_of(model: CohortModel, ecog: np.ndarray, visceral: np.ndarray, brain: np.ndarray,
             prior_lines: np.ndarray, cell: np.ndarray, responder: np.ndarray) -> np.ndarray:
    """Prognostic hazard ratio; ``ecog`` coded 0..4, 5 = missing; ``cell`` a :data:`STOP_CELLS` index."""
    hr_ecog = np.append(np.array(model.hr_ecog), model.hr_ecog_missing)
    grade = _CELL_GRADE[cell]
    hr_grade = np.array((1.0,) + tuple(model.hr_ild_grade))  # not ILD, grade 1, 2, 3, unknown
    grade_idx = np.where(grade == -1, 4, grade)
    return (
        hr_ecog[ecog]
        * np.where(visceral, model.hr_visceral, 1.0)
        * np.where(brain, model.hr_brain, 1.0)
        * np.where(prior_lines >= 3, model.hr_prior_lines_3plus, 1.0)
        * np.where(responder, model.hr_tdxd_responder, 1.0)
        * hr_grade[grade_idx]
    )


# ----------------------------------------------------------------------------------------------
# components of the mixture


@dataclass(frozen=True)
class _Components:
    """Distinct (regimen group, discontinuation group, reason, risk) cells with their probabilities."""

    weight: np.ndarray
    regimen: np.ndarray  # 0 antibody, 1 tki, 2 other
    discontinuation: np.ndarray  # 0 progression, 1 adverse event, 2 other
    reason: np.ndarray  # REASONS index
    risk: np.ndarray  # prognostic hazard ratio
    death_first: np.ndarray

    def mask(self, regimen: int | None = None, discontinuation: int | None = None,
             reason: int | None = None) -> np.ndarray:
        m = np.ones(self.weight.size, dtype=bool)
        if regimen is not None:
            m &= self.regimen == regimen
        if discontinuation is not None:
            m &= self.discontinuation == discontinuation
        if reason is not None:
            m &= self.reason == reason
        return m


def _components(model: CohortModel, strata: _Strata, class_given: np.ndarray) -> _Components:
    """Every stratum x class, merged where the parameters are equal."""
    n_class = len(CLASSES)
    weight = (strata.prob[:, None] * class_given).ravel()
    klass = np.tile(np.arange(n_class), strata.prob.size)
    rep = lambda a: np.repeat(a, n_class)  # noqa: E731
    reason = _CELL_REASON[rep(strata.cell)]
    risk = rep(_risk_of(model, strata.ecog, strata.visceral, strata.brain, strata.lines, strata.cell,
                        strata.responder))
    key = np.column_stack([_CLASS_GROUP[klass], reason, risk])
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    w = np.bincount(inverse.ravel(), weights=weight, minlength=len(uniq))
    keep = w > 0
    uniq, w = uniq[keep], w[keep]
    reasons = uniq[:, 1].astype(int)
    disc = _REASON_GROUP[reasons]
    return _Components(
        weight=w / w.sum(),
        regimen=uniq[:, 0].astype(int),
        discontinuation=disc,
        reason=reasons,
        risk=uniq[:, 2],
        death_first=np.array(model.death_first)[disc],
    )


def _weibull_sf(t: np.ndarray | float, scale: np.ndarray | float, shape: float) -> np.ndarray:
    return np.exp(-((np.asarray(t) / scale) ** shape))


def _weibull_sf_outer(scale: np.ndarray, t: np.ndarray, shape: float) -> np.ndarray:
    """``S(t_j)`` for every scale_i (rows) and time t_j (columns); powers taken on the vectors."""
    return np.exp(-np.multiply.outer(np.asarray(scale, dtype=float) ** -shape, np.asarray(t) ** shape))


def _mixture(values: np.ndarray, comp: _Components, mask: np.ndarray) -> float:
    """Probability-weighted mean of per-component values over the components in ``mask``."""
    w = comp.weight[mask]
    return float(np.dot(w, values[mask]) / w.sum())


def _conv_terms(t: float, x_scale: np.ndarray, x_shape: float) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints ``u`` (grid) and exact increments ``dF_X`` (components x grid) on [0, t]."""
    nodes = np.linspace(0.0, t, _GRID + 1)
    sf = _weibull_sf_outer(x_scale, nodes, x_shape)
    return 0.5 * (nodes[1:] + nodes[:-1]), -np.diff(sf, axis=1)


def _os_sf_factory(t: float, comp: _Components, x_scale: np.ndarray, model: CohortModel,
                   mask: np.ndarray) -> Callable[[np.ndarray], float]:
    """``pps_scale (per component) -> P(D > t)`` over the components in ``mask``.

    ``P(D > t) = S_X(t) + (1 - pi) int_0^t S_Y(t - u) dF_X(u)`` with D = X (death first) or X + Y.
    """
    mid, dfx = _conv_terms(t, x_scale[mask], model.pfs_shape)
    w = comp.weight[mask] / comp.weight[mask].sum()
    sx_t = float(np.dot(w, _weibull_sf(t, x_scale[mask], model.pfs_shape)))
    wdf = (w * (1.0 - comp.death_first[mask]))[:, None] * dfx
    risk = comp.risk[mask] ** (-1.0 / model.pps_shape)
    lag = t - mid

    def sf(pps_scale: np.ndarray) -> float:
        y_scale = pps_scale[mask] * risk
        return sx_t + float((wdf * _weibull_sf_outer(y_scale, lag, model.pps_shape)).sum())

    return sf


def _ttnt_terms(t: float, comp: _Components, x_scale: np.ndarray, model: CohortModel,
                pps_scale: np.ndarray, stop_scale: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Terms of ``P(TTNT > t)`` for the whole cohort: ``(const, coef, lags)``.

    With TF = min(X, S), TTNT = min(TF + G, D) and G = infinity w.p. q (no further treatment)::

        P(TTNT > t) = S_X(t) S_S(t)
            + int_0^t (1 - pi) S_S(u) S_Y(t - u) S*_G(t - u) dF_X(u)                [TF = progression]
            + int_0^t S*_G(t - s) [S_X(t) + (1 - pi) int_s^t S_Y(t - u) dF_X(u)] dF_S(s)   [TF = stop]

    where ``S*_G(r) = q + (1 - q) S_G(r)``, so that
    ``P(TTNT > t) = const + sum(coef * (q + (1 - q) * S_G(lags)))``.
    """
    mid, dfx = _conv_terms(t, x_scale, model.pfs_shape)
    y_scale = pps_scale * comp.risk ** (-1.0 / model.pps_shape)
    sy = _weibull_sf_outer(y_scale, t - mid, model.pps_shape)
    nodes = np.linspace(0.0, t, _GRID + 1)
    s_stop_nodes = _weibull_sf(nodes, stop_scale, model.stop_shape)
    s_stop_mid = _weibull_sf(mid, stop_scale, model.stop_shape)
    df_stop = -np.diff(s_stop_nodes)
    alive = (1.0 - comp.death_first)[:, None]
    w = comp.weight[:, None]
    # TF = progression at u < t: the patient must also survive past t
    coef = (w * alive * s_stop_mid[None, :] * sy * dfx).sum(axis=0)
    # TF = stop at s < t: P(X > s, D > t) = S_X(t) + (1 - pi) int_s^t S_Y(t-u) dF_X(u)
    contrib = sy * dfx
    tail = np.cumsum(contrib[:, ::-1], axis=1)[:, ::-1] - 0.5 * contrib  # int from midpoint s
    sx_t = _weibull_sf(t, x_scale, model.pfs_shape)
    p_x_d = sx_t[:, None] + alive * tail
    coef = coef + df_stop * (w * p_x_d).sum(axis=0)
    const = float(np.dot(comp.weight, sx_t)) * float(_weibull_sf(t, stop_scale, model.stop_shape))
    return const, coef, t - mid


def _brent_log(f: Callable[[float], float], lo: float, hi: float, what: str) -> float:
    """Root of ``f`` on a log scale between ``lo`` and ``hi``."""
    g = lambda z: f(float(np.exp(z)))  # noqa: E731
    a, b = np.log(lo), np.log(hi)
    if np.sign(g(a)) == np.sign(g(b)):
        raise CalibrationError(f"cannot solve {what}: no value between {lo} and {hi} reproduces the target")
    return float(np.exp(optimize.brentq(g, a, b, xtol=1e-12, rtol=1e-12)))


# ----------------------------------------------------------------------------------------------
# calendar: T-DXd starts, next_start and the observed follow-up


def _day(date) -> int:
    """Days since 1970-01-01."""
    import pandas as pd

    return int(pd.Timestamp(date).normalize().value // (86_400 * 10**9))


def ramp_cdf(x: np.ndarray, tilt: float) -> np.ndarray:
    """CDF on [0, 1] of the density proportional to ``exp(tilt * x)`` (uniform at 0, decaying below)."""
    if abs(tilt) < 1e-12:
        return np.asarray(x, dtype=float)
    return np.expm1(tilt * np.asarray(x, dtype=float)) / np.expm1(tilt)


def ramp_ppf(p: np.ndarray, tilt: float) -> np.ndarray:
    """Inverse of :func:`ramp_cdf`."""
    if abs(tilt) < 1e-12:
        return np.asarray(p, dtype=float)
    return np.log1p(np.asarray(p, dtype=float) * np.expm1(tilt)) / tilt


@dataclass(frozen=True)
class Calendar:
    """Days of the T-DXd start window, the cut-off and the latest possible ``next_start``."""

    launch: int
    last_start: int
    cutoff: int
    latest_next: int

    @classmethod
    def of(cls, model: CohortModel, cutoff=None) -> "Calendar":
        t = model.targets
        k = _day(model.default_cutoff if cutoff is None else cutoff)
        return cls(_day(t.tdxd_start_first), _day(t.tdxd_start_last), k, k - model.last_visit_days)

    @property
    def width(self) -> int:
        return self.last_start - self.launch + 1


def gap_pmf(model: CohortModel) -> np.ndarray:
    """P(days from tdxd_end to next_start = j) for j = 0.. (rows: reasons): 7 + rounded Gamma(2)."""
    j = np.arange(0, 2_000)
    out = np.zeros((len(REASONS), j.size))
    for r, mean in enumerate(model.gap_days_mean):
        theta = (mean - 7) / 2.0

        def cdf(x: np.ndarray) -> np.ndarray:
            x = np.maximum(x, 0.0) / theta
            return 1 - np.exp(-x) * (1 + x)

        g = cdf(j - 7 + 0.5) - cdf(j - 7 - 0.5)
        g[j < 7] = 0.0
        out[r] = g / g.sum()
    return out


def _dur_max_days(cal: Calendar, gap: np.ndarray) -> np.ndarray:
    """Longest T-DXd course (days) that can still be followed by ``next_start`` before the cut-off."""
    return cal.latest_next - cal.launch - gap


def _tdxd_scale(model: CohortModel, cal: Calendar, gaps: np.ndarray) -> float:
    """Weibull scale of the T-DXd duration so that its median, truncated by the calendar, is the target.

    The duration is drawn from the Weibull truncated at :func:`_dur_max_days` of the patient's gap.
    """
    p_reason = model.targets.reason_probs
    m = DAYS_PER_MONTH
    k = model.tdxd_shape
    p_gap = (p_reason[:, None] * gaps).sum(axis=0)
    keep = p_gap > 1e-15
    dmax = _dur_max_days(cal, np.arange(p_gap.size)[keep]) / m
    pg = p_gap[keep]
    target = model.targets.tdxd_duration

    def f(scale: float) -> float:
        fm = 1 - _weibull_sf(target, scale, k)
        fmax = 1 - _weibull_sf(dmax, scale, k)
        return float(np.dot(pg, np.minimum(fm / fmax, 1.0))) - 0.5

    return _brent_log(f, 0.5, 500.0, "the T-DXd duration scale")


@dataclass(frozen=True)
class _LagDistribution:
    """P(k = T-DXd duration + gap to next_start = ks[i] days) per reason, and the last start given k."""

    ks: np.ndarray
    pk: np.ndarray  # reasons x ks
    x_hi: np.ndarray  # upper end of the start position on [0, 1] given k


def _lag_distribution(model: CohortModel, cal: Calendar, gaps: np.ndarray, tdxd_scale: float) -> _LagDistribution:
    """Distribution of ``next_start - tdxd_start`` in days as the generator draws it.

    The duration is ``max(rint(W), 1)`` days with W Weibull truncated at the longest course that
    still lets ``next_start`` fall before the cut-off (:func:`_dur_max_days` of the gap).
    """
    m = DAYS_PER_MONTH
    horizon = cal.latest_next - cal.launch
    j = np.arange(horizon + 2)
    f_half = 1 - _weibull_sf((j - 0.5).clip(0) / m, tdxd_scale, model.tdxd_shape)  # F(j - 1/2)
    pk = np.zeros((len(REASONS), 2 * horizon + 2))
    for g in np.nonzero(gaps.max(axis=0) > 1e-15)[0]:
        dmax = int(_dur_max_days(cal, np.array([g]))[0])
        if dmax < 1:
            continue
        f_max = 1 - float(_weibull_sf(dmax / m, tdxd_scale, model.tdxd_shape))
        upper = np.append(f_half[2 : dmax + 1], f_max)  # F(d + 1/2), the last one F(dmax)
        lower = np.append(0.0, f_half[2:dmax + 1])  # F(d - 1/2), 0 for d = 1
        pd_ = (upper - lower) / f_max
        pk[:, g + 1 : g + dmax + 1] += gaps[:, g][:, None] * pd_[None, :]
    ks = np.nonzero(pk.max(axis=0) > 1e-15)[0]
    s_upper = np.minimum(cal.last_start, cal.latest_next - ks)
    x_hi = np.clip((s_upper - cal.launch + 1) / cal.width, 1e-12, 1.0)
    return _LagDistribution(ks, pk[:, ks], x_hi)


def _next_start_cdf(lags: _LagDistribution, cal: Calendar, tilt: float, y: np.ndarray) -> np.ndarray:
    """``P(next_start < y | reason)`` (reasons x len(y)) for T-DXd starts with density tilt ``tilt``."""
    # P(s + k < y) = P(s <= y - k - 1) with s = launch + floor(x * width), x truncated at x_hi(k)
    v = (np.asarray(y)[None, :] - lags.ks[:, None] - cal.launch) / cal.width
    f_hi = ramp_cdf(lags.x_hi, tilt)
    ps = ramp_cdf(np.clip(v, 0.0, lags.x_hi[:, None]), tilt) / f_hi[:, None]
    return lags.pk @ ps


def _followup_sf(model: CohortModel, cal: Calendar, lags: _LagDistribution, tilt: float, t: float,
                 os_sf_by_reason: np.ndarray) -> float:
    """P(observed follow-up > t) = sum_r p_r S_OS|r(t) P(censoring > t | r)."""
    m = DAYS_PER_MONTH
    visit = np.arange(model.last_visit_days + 1)
    y = cal.cutoff - visit - t * m
    p_cens = _next_start_cdf(lags, cal, tilt, y).mean(axis=1)
    p_cens = p_cens * np.exp(-model.loss_rate_per_year * t / 12.0)
    return float(np.dot(model.targets.reason_probs, os_sf_by_reason * p_cens))


# ----------------------------------------------------------------------------------------------
# the calibration


def _age_mean(model: CohortModel) -> float:
    """Mean of the truncated normal age whose median is the target."""
    lo, hi = model.age_bounds
    sd = model.age_sd

    def median(mu: float) -> float:
        a, b = special.ndtr((lo - mu) / sd), special.ndtr((hi - mu) / sd)
        return mu + sd * float(special.ndtri((a + b) / 2)) - model.targets.age

    return float(optimize.brentq(median, lo + 1, hi - 1, xtol=1e-12))


def _check_prior_lines(model: CohortModel) -> None:
    cum = np.cumsum(model.prior_lines_probs) / np.sum(model.prior_lines_probs)
    median = int(np.searchsorted(cum, 0.5, side="right"))
    if median != model.targets.prior_lines:
        raise CalibrationError(
            f"prior_lines_probs have median {median}, the published median is {model.targets.prior_lines:g}"
        )


def _x_scale(model: CohortModel, comp: _Components, lam0: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return lam0 * a[comp.regimen] * b[comp.discontinuation] * comp.risk ** (-1.0 / model.pfs_shape)


@functools.lru_cache(maxsize=8)
def calibrate(model: CohortModel | None = None) -> Calibration:
    """Solve the model's scales so that its latent medians and rates equal the targets.

    Parameters
    ----------
    model : CohortModel, optional
        Design assumptions and targets; default :class:`CohortModel` (published targets).

    Returns
    -------
    Calibration
        The solved scales (cached per model: a second call is free).

    Raises
    ------
    CalibrationError
        When a target cannot be reproduced under the model's assumptions.

    Examples
    --------
    >>> cal = calibrate()
    >>> round(implied_values(cal)["pfs"], 6)
    4.1
    """
    model = model or CohortModel()
    t = model.targets
    _check_prior_lines(model)
    strata = _strata(model)
    class_given = _choice_table(model, strata)
    comp = _components(model, strata, class_given)
    kp = model.pfs_shape

    # 1. PFS: five scales, five medians (three when the regimen has no effect)
    equations = [
        (t.pfs, comp.mask()),
        (t.pfs_progression, comp.mask(discontinuation=0)),
        (t.pfs_adverse_event, comp.mask(discontinuation=1)),
    ]
    if model.regimen_effect:
        equations += [(t.pfs_antibody, comp.mask(regimen=0)), (t.pfs_tki, comp.mask(regimen=1))]

    def unpack(z: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        v = np.exp(z)
        a = np.array([1.0, v[3], v[4]]) if model.regimen_effect else np.ones(3)
        return float(v[0]), a, np.array([1.0, v[1], v[2]])

    def residuals(z: np.ndarray) -> np.ndarray:
        scale = _x_scale(model, comp, *unpack(z))
        return np.array([_mixture(_weibull_sf(m, scale, kp), comp, mask) - 0.5 for m, mask in equations])

    z0 = np.log([t.pfs / np.log(2) ** (1 / kp), t.pfs_adverse_event / t.pfs_progression, 1.0, 1.0, 1.0])
    z0 = z0[: len(equations)]
    sol = optimize.root(residuals, z0, method="hybr", options={"xtol": 1e-13})
    if not sol.success or np.abs(residuals(sol.x)).max() > 1e-9:
        raise CalibrationError(f"PFS scales not found: {sol.message} (residuals {residuals(sol.x)})")
    lam0, a_mult, b_mult = unpack(sol.x)
    x_scale = _x_scale(model, comp, lam0, a_mult, b_mult)

    # 2. TTF = min(X, S): S_S(t_ttf) = 0.5 / S_PFS(t_ttf)
    s_pfs = _mixture(_weibull_sf(t.ttf, x_scale, kp), comp, comp.mask())
    if s_pfs <= 0.5:
        raise CalibrationError(
            f"TTF median {t.ttf} must be shorter than the PFS implied at that time (S={s_pfs:.3f})"
        )
    stop_scale = t.ttf / (-np.log(0.5 / s_pfs)) ** (1.0 / model.stop_shape)

    # 3. OS: post-progression scales by regimen group (antibody, TKI, then the rest via overall)
    pps = np.full(3, np.nan)

    def os_equation(m: float, mask: np.ndarray) -> Callable[[float], float]:
        sf = _os_sf_factory(m, comp, x_scale, model, mask)

        def f(mu: float) -> float:
            trial = np.where(np.isnan(pps), mu, pps)
            return sf(trial[comp.regimen]) - 0.5

        return f

    if model.regimen_effect:
        pps[0] = _brent_log(os_equation(t.os_antibody, comp.mask(regimen=0)), 0.1, 1e3, "OS (antibody)")
        pps[1] = _brent_log(os_equation(t.os_tki, comp.mask(regimen=1)), 0.1, 1e3, "OS (TKI)")
        pps[2] = _brent_log(os_equation(t.os, comp.mask()), 0.1, 1e3, "OS (overall)")
    else:
        pps[:] = _brent_log(lambda mu: _os_sf_factory(t.os, comp, x_scale, model, comp.mask())(
            np.full(comp.weight.size, mu)) - 0.5, 0.1, 1e3, "OS (overall)")

    # 4. TTNT: gap distribution fixed by its median; solve the share with no further treatment
    gap_scale = model.gap_median_days / DAYS_PER_MONTH / np.log(2.0) ** (1.0 / model.gap_shape)
    const, coef, lags = _ttnt_terms(t.ttnt, comp, x_scale, model, pps[comp.regimen], stop_scale)
    s_gap = _weibull_sf(lags, gap_scale, model.gap_shape)
    q = (0.5 - const - float(np.dot(coef, s_gap))) / float(np.dot(coef, 1.0 - s_gap))
    if not 0.0 <= q < 1.0:
        raise CalibrationError(
            f"TTNT median {t.ttnt} is not reachable with a {model.gap_median_days}-day median gap "
            f"between regimens (share with no further treatment would be {q:.3f})"
        )

    # 5. ORR among measurable: c * P(no loss before assessment) * E[1 - exp(-(X - ta)/tau); X > ta]
    ta, tau = model.assessment_months, model.response_tau
    nodes = ta + np.linspace(0.0, 30.0 * tau, _GRID + 1)
    dfx = -np.diff(_weibull_sf_outer(x_scale, nodes, kp), axis=1)
    mid = 0.5 * (nodes[1:] + nodes[:-1])
    phi = _weibull_sf(ta, x_scale, kp) - dfx @ np.exp(-(mid - ta) / tau)
    p_seen = np.exp(-model.loss_rate_per_year * ta / 12.0)
    response_max = t.orr / (p_seen * float(np.dot(comp.weight, phi)))
    if not 0.0 < response_max <= 1.0:
        raise CalibrationError(f"ORR {t.orr} is not reachable (response probability {response_max:.3f})")

    # 6. ILD recurrence: among ILD stops by grade (relative risks), and among the other patients
    #    so that the whole-cohort rate is the main report's figure
    rr = np.array(model.ild_recurrence_rr_by_grade)
    ild_by_grade = t.ild_recurrence_ild_stop * rr / float(np.dot(t.ild_grade_probs, rr))
    other = (t.ild_recurrence - t.stop_ild * t.ild_recurrence_ild_stop) / (1.0 - t.stop_ild)
    if not 0.0 <= other < 1.0 or ild_by_grade.max() >= 1.0:
        raise CalibrationError("the ILD recurrence rates are incompatible (overall vs among ILD stops)")

    # 7. calendar: T-DXd duration (truncated by the calendar), then the T-DXd start density that
    #    gives the published median observed follow-up
    cal_days = Calendar.of(model)
    gaps = gap_pmf(model)
    tdxd_scale = _tdxd_scale(model, cal_days, gaps)
    os_by_reason = np.array([
        _os_sf_factory(t.followup, comp, x_scale, model, comp.mask(reason=r))(pps[comp.regimen])
        for r in range(len(REASONS))
    ])
    lag_dist = _lag_distribution(model, cal_days, gaps, tdxd_scale)

    def followup_equation(tilt: float) -> float:
        return _followup_sf(model, cal_days, lag_dist, tilt, t.followup, os_by_reason) - 0.5

    lo, hi = -40.0, 40.0
    if np.sign(followup_equation(lo)) == np.sign(followup_equation(hi)):
        raise CalibrationError(
            f"median follow-up {t.followup} months is not reachable with T-DXd starts between "
            f"{t.tdxd_start_first} and {t.tdxd_start_last} and the cut-off {model.default_cutoff.date()}"
        )
    ramp = float(optimize.brentq(followup_equation, lo, hi, xtol=1e-12))

    for arr in (class_given, ild_by_grade):  # the result is cached and shared: keep it immutable
        arr.setflags(write=False)
    out = Calibration(
        tdxd_scale=float(tdxd_scale),
        pfs_scale=float(lam0),
        pfs_regimen_multiplier=tuple(float(v) for v in a_mult),
        pfs_discontinuation_multiplier=tuple(float(v) for v in b_mult),
        pps_scale=tuple(float(v) for v in pps),
        stop_scale=float(stop_scale),
        gap_scale=float(gap_scale),
        no_further_treatment=float(q),
        response_max=float(response_max),
        age_mean=_age_mean(model),
        tdxd_responder_by_reason=tuple(float(v) for v in responder_by_reason(model)),
        ild_recurrence_other=float(other),
        accrual_ramp=float(ramp),
        data_cutoff=model.default_cutoff,
        class_given_stratum=class_given,
        ild_recurrence_by_grade=ild_by_grade,
    )
    logger.debug("calibrated synthetic model: %s", out)
    return out


def implied_values(cal: Calibration | None = None, model: CohortModel | None = None) -> dict[str, float]:
    """Latent medians (months) and rates implied by a calibration, computed analytically.

    Keys are the median fields of :class:`Targets` (proportions are drawn directly); a check
    that :func:`calibrate` solved its equations.
    """
    model = model or CohortModel()
    cal = cal or calibrate(model)
    comp = _components(model, _strata(model), cal.class_given_stratum)
    kp = model.pfs_shape
    x_scale = _x_scale(model, comp, cal.pfs_scale, np.array(cal.pfs_regimen_multiplier),
                       np.array(cal.pfs_discontinuation_multiplier))
    pps = np.array(cal.pps_scale)[comp.regimen]

    def median(sf: Callable[[float], float]) -> float:
        return float(optimize.brentq(lambda m: sf(m) - 0.5, 1e-3, 500.0, xtol=1e-10))

    def pfs_median(mask: np.ndarray) -> float:
        return median(lambda m: _mixture(_weibull_sf(m, x_scale, kp), comp, mask))

    def os_median(mask: np.ndarray) -> float:
        return median(lambda m: _os_sf_factory(m, comp, x_scale, model, mask)(pps))

    def ttnt(m: float) -> float:
        const, coef, lags = _ttnt_terms(m, comp, x_scale, model, pps, cal.stop_scale)
        q = cal.no_further_treatment
        return const + float(np.dot(coef, q + (1 - q) * _weibull_sf(lags, cal.gap_scale, model.gap_shape)))

    cal_days = Calendar.of(model)
    lag_dist = _lag_distribution(model, cal_days, gap_pmf(model), cal.tdxd_scale)

    def followup(m: float) -> float:
        os_r = np.array([_os_sf_factory(m, comp, x_scale, model, comp.mask(reason=r))(pps)
                         for r in range(len(REASONS))])
        return _followup_sf(model, cal_days, lag_dist, cal.accrual_ramp, m, os_r)

    all_ = comp.mask()
    out = {
        "pfs": pfs_median(all_),
        "pfs_progression": pfs_median(comp.mask(discontinuation=0)),
        "pfs_adverse_event": pfs_median(comp.mask(discontinuation=1)),
        "ttf": median(
            lambda m: _mixture(_weibull_sf(m, x_scale, kp), comp, all_)
            * float(_weibull_sf(m, cal.stop_scale, model.stop_shape))
        ),
        "os": os_median(all_),
        "ttnt": median(ttnt),
        "followup": median(followup),
    }
    if model.regimen_effect:
        out.update(
            pfs_antibody=pfs_median(comp.mask(regimen=0)),
            pfs_tki=pfs_median(comp.mask(regimen=1)),
            os_antibody=os_median(comp.mask(regimen=0)),
            os_tki=os_median(comp.mask(regimen=1)),
        )
    return {k: float(v) for k, v in out.items()}
