"""Synthetic EN-SEMBLE cohort, calibrated to the published figures.

The patient data of EN-SEMBLE (Nozawa et al., ESMO Open 2025; 664 patients, 222 institutions) are
not public. :func:`generate_cohort` draws a cohort with the columns and types of the data
contract (``docs/data_contract.md``) whose endpoints, derived from the generated *dates* by
:func:`ensemble_helpers.endpoints.derive_adtte` and summarised by Kaplan–Meier medians (with the
censoring that the accrual and data cut-off below create), converge to the published figures in
``published.yaml`` as ``n`` grows.

Model
-----
Time zero is the start of the first post-T-DXd regimen (``next_start``); times are in months
(days / 30.4375). Every patient belongs to a *component*: regimen group (antibody, TKI, other
classes) x discontinuation group (progression, adverse event = ILD or other AE, other) x
baseline risk level. A component's latent times are

* PFS time ``X ~ Weibull(k_pfs, lambda0 * A[regimen] * B[discontinuation] * HR ** (-1 / k_pfs))``,
  where ``HR`` is the product of fixed prognostic hazard ratios (ECOG, visceral and brain
  metastasis, >= 3 prior lines). The PFS event is death without progression with probability
  ``pi[discontinuation]``, otherwise progression;
* post-progression survival ``Y ~ Weibull(k_pps, M[regimen] * HR ** (-1 / k_pps))``; death
  ``D = X`` (death first) or ``X + Y``;
* stop for toxicity/other ``S ~ Weibull(k_stop, sigma)``; treatment failure (``next_end``)
  ``TF = min(X, S)``, so the regimen ends at progression, at death or when stopped for another
  reason;
* gap to the next regimen ``G``: none with probability ``q`` (no further anticancer treatment),
  else ``Weibull(k_gap)`` with a fixed median (21 days); ``second_next_start = TF + G`` when that
  is before death.

Baseline covariates are independent, except the regimen class, which depends on brain
metastasis (TKI more likely) and hormone receptor (endocrine only when HR-positive) through a
table fitted by iterative proportional fitting so that the class margins equal the targets.
The discontinuation reason is allocated in exactly the published proportions (shuffled); T-DXd duration is
``Weibull(k_tdxd)`` with the published median (its scale is closed-form).

Calibration (:func:`calibrate`) solves the free scales at run time, on the *analytic* mixture
survival functions of the components above (no simulation, no tuned constants):

1. ``lambda0, A[tki], A[other], B[adverse_event], B[other]`` (``A[antibody] = B[progression] = 1``):
   five equations ``S_g(m_g) = 1/2`` for the PFS medians overall, antibody, TKI, progression and
   adverse event, solved jointly (:func:`scipy.optimize.root`).
2. ``sigma`` in closed form from ``S_TTF(t) = S_S(t) * S_PFS(t)`` at the TTF median.
3. ``M[antibody]``, ``M[tki]``, then ``M[other]`` by Brent's method on the OS medians (antibody,
   TKI, overall); ``S_OS`` needs the convolution ``S_X(t) + (1 - pi) * int_0^t S_Y(t - u) dF_X(u)``,
   computed by a midpoint Stieltjes sum with exact increments of ``F_X``.
4. ``q`` in closed form from the TTNT median: ``S_TTNT(t) = P(TF + G > t, D > t)`` reduces to
   one-dimensional sums at the target ``t`` and is linear in ``q`` (see :func:`_ttnt_terms`).
5. Response: measurable disease is assessed after ``t_assess`` months; progression before it is
   PD; after it a patient responds with probability ``c * (1 - exp(-(X - t_assess) / tau))``;
   ``c`` is closed-form from the ORR target. ILD recurrence is given to the published fraction
   of ILD patients (more often after grade >= 2 ILD), dated within the first post-T-DXd regimen,
   so its crude proportion does not depend on follow-up.

Censoring and calendar dates: ``next_start`` accrues with a rising density (``accrual_ramp``)
between ``accrual_start`` and ``data_cutoff - min_followup_days``, truncated below so that T-DXd
(duration + gap of a few weeks before ``next_start``) did not start before its Japanese launch
(the ~0.8% whose T-DXd course is longer than the whole window started it earlier, e.g. in a
trial). Patients alive are last seen up to ``last_visit_days`` before the cut-off; a few are lost
to follow-up (exponential). This censoring does not depend on the post-T-DXd latent times (only,
very weakly, on the discontinuation reason through the few-week T-DXd gap), so Kaplan–Meier
medians are consistent for the calibrated latent medians. Event days are rounded to whole days
(rounding is monotone, so event order is kept); an event later than the last contact is not
recorded (``NaT``).

Simplifications: T-DXd duration does not depend on the discontinuation reason; the regimen class
does not depend on the discontinuation reason; age and hormone receptor status are not
prognostic. Calibration takes ~0.2 s and is cached per :class:`CohortModel`.

Examples
--------
>>> from ensemble_helpers.synthetic import generate_cohort
>>> df = generate_cohort(n=664, seed=2025)
>>> df.shape
(664, 23)
>>> int(df["site_id"].nunique())
222

Command line::

    python -m ensemble_helpers.synthetic --n 664 --seed 2025 --out data/ensemble_synthetic.csv
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import optimize

from ensemble_helpers.endpoints import DAYS_PER_MONTH, DISCONTINUATION_GROUPS, REGIMEN_GROUPS
from ensemble_helpers.exceptions import EnsembleError
from ensemble_helpers.published import load_published
from ensemble_helpers.schema import CATEGORIES, REQUIRED_COLUMNS

logger = logging.getLogger(__name__)

REASONS: tuple[str, ...] = CATEGORIES["tdxd_discontinuation_reason"]
CLASSES: tuple[str, ...] = CATEGORIES["next_class"]
RESPONSES: tuple[str, ...] = CATEGORIES["next_best_response"]
# Index into endpoints.REGIMEN_GROUPS / DISCONTINUATION_GROUPS of each next_class / reason, as
# derive_adsl groups them (tests/test_synthetic.py checks the two agree).
_CLASS_GROUP = np.array([0, 1, 2, 2, 2, 2])  # antibody, tki, then every other class
_REASON_GROUP = np.array([0, 1, 1, 2])  # progression, ild, other_adverse_event, other

#: Regimen names drawn within each class, with relative frequencies (design assumption,
#: Japanese practice after T-DXd).
REGIMENS: dict[str, tuple[tuple[str, float], ...]] = {
    "anti_her2_antibody": (
        ("trastuzumab + pertuzumab + eribulin", 0.20),
        ("trastuzumab + pertuzumab + docetaxel", 0.08),
        ("trastuzumab + pertuzumab + paclitaxel", 0.05),
        ("trastuzumab + pertuzumab + vinorelbine", 0.05),
        ("trastuzumab + pertuzumab + capecitabine", 0.04),
        ("trastuzumab + eribulin", 0.12),
        ("trastuzumab + capecitabine", 0.06),
        ("trastuzumab + vinorelbine", 0.05),
        ("trastuzumab + S-1", 0.04),
        ("trastuzumab + gemcitabine", 0.03),
        ("T-DM1", 0.28),
    ),
    "anti_her2_tki": (
        ("lapatinib + capecitabine", 0.52),
        ("tucatinib + trastuzumab + capecitabine", 0.20),
        ("neratinib + capecitabine", 0.13),
        ("lapatinib + trastuzumab", 0.10),
        ("lapatinib + vinorelbine", 0.05),
    ),
    "anti_her2_other": (
        ("investigational anti-HER2 agent (clinical trial)", 0.60),
        ("zanidatamab (clinical trial)", 0.20),
        ("trastuzumab duocarmazine (clinical trial)", 0.20),
    ),
    "chemotherapy": (
        ("eribulin", 0.30),
        ("capecitabine", 0.18),
        ("S-1", 0.12),
        ("vinorelbine", 0.10),
        ("paclitaxel + bevacizumab", 0.12),
        ("nab-paclitaxel", 0.08),
        ("gemcitabine", 0.06),
        ("docetaxel", 0.04),
    ),
    "endocrine": (
        ("fulvestrant", 0.35),
        ("letrozole", 0.15),
        ("anastrozole", 0.10),
        ("exemestane + everolimus", 0.15),
        ("abemaciclib + fulvestrant", 0.15),
        ("tamoxifen", 0.10),
    ),
    "other": (
        ("investigational agent (clinical trial)", 0.60),
        ("olaparib", 0.15),
        ("other regimen", 0.25),
    ),
}


class CalibrationError(EnsembleError, RuntimeError):
    """The model cannot reproduce the targets (a root was not found or is out of range)."""


# ----------------------------------------------------------------------------------------------
# targets and model


@dataclass(frozen=True)
class Targets:
    """Published figures the cohort is calibrated to (medians in months, proportions 0-1).

    Build from ``published.yaml`` (the one source of truth) with :meth:`from_published`.
    """

    tdxd_duration: float
    ttf: float
    ttnt: float
    pfs: float
    os: float
    orr: float
    pfs_antibody: float
    pfs_tki: float
    os_antibody: float
    os_tki: float
    pfs_progression: float
    pfs_adverse_event: float
    stop_progression: float
    stop_ild: float
    stop_other_ae: float
    anti_her2: float
    antibody: float
    tki: float
    ild_recurrence: float

    @classmethod
    def from_published(cls) -> "Targets":
        """The published EN-SEMBLE figures (``ensemble_helpers/published.yaml``)."""
        values = load_published().set_index("key")["value"]
        return cls(**{f: float(values[f]) for f in cls.__dataclass_fields__})

    @property
    def reason_probs(self) -> np.ndarray:
        """P(discontinuation reason) in ``REASONS`` order; ``other`` is the remainder."""
        p = [self.stop_progression, self.stop_ild, self.stop_other_ae]
        return np.array(p + [1.0 - sum(p)])


@dataclass(frozen=True)
class CohortModel:
    """Design assumptions of the synthetic cohort (not published; documented choices).

    Only :attr:`targets` are calibration targets; the scales that reproduce them are solved by
    :func:`calibrate`. Probabilities are given in the order of the corresponding levels.
    """

    targets: Targets = field(default_factory=Targets.from_published)
    # --- baseline
    age_mean: float = 58.0
    age_sd: float = 11.5
    age_bounds: tuple[float, float] = (24.0, 92.0)
    hr_positive: float = 0.55
    visceral: float = 0.70
    brain: float = 0.30
    ecog_probs: tuple[float, ...] = (0.42, 0.40, 0.11, 0.03, 0.01)  # 0..4; rest missing
    prior_lines_probs: tuple[float, ...] = (0.02, 0.30, 0.26, 0.18, 0.11, 0.07, 0.04, 0.02)
    # --- prognostic hazard ratios (PFS and post-progression survival)
    hr_ecog: tuple[float, ...] = (1.0, 1.15, 1.6, 2.2, 2.8)
    hr_ecog_missing: float = 1.2
    hr_visceral: float = 1.3
    hr_brain: float = 1.2
    hr_prior_lines_3plus: float = 1.15
    # --- regimen choice
    non_her2_split: tuple[float, float, float] = (0.78, 0.13, 0.09)  # chemo, endocrine, other
    tki_odds_brain: float = 2.5
    # --- T-DXd
    tdxd_shape: float = 1.3
    gap_days_mean: tuple[float, ...] = (21.0, 42.0, 35.0, 28.0)  # by reason, tdxd_end -> next
    ild_grade_probs: tuple[float, ...] = (0.55, 0.36, 0.08, 0.01, 0.0)  # grade 1..5
    ild_recurrence_rr_by_grade: tuple[float, ...] = (1.0, 1.5, 2.5, 2.5, 2.5)
    # --- first post-T-DXd regimen
    pfs_shape: float = 1.1
    death_first: tuple[float, float, float] = (0.07, 0.10, 0.15)  # by discontinuation group
    pps_shape: float = 1.2
    stop_shape: float = 1.0
    gap_shape: float = 1.6
    gap_median_days: float = 21.0  # next_end -> second_next_start
    measurable: float = 0.76
    assessment_months: float = 1.8
    response_tau: float = 4.0
    cr_share: float = 0.10
    # --- accrual and follow-up
    tdxd_launch: str = "2020-05-25"
    accrual_start: str = "2020-07-01"
    accrual_ramp: float = 3.0  # density at the end of accrual / at its start
    min_followup_days: int = 274
    last_visit_days: int = 60
    loss_rate_per_year: float = 0.03

    @property
    def class_probs(self) -> np.ndarray:
        """Marginal P(next_class) in ``CLASSES`` order."""
        t = self.targets
        rest = 1.0 - t.anti_her2
        return np.array(
            [t.antibody, t.tki, t.anti_her2 - t.antibody - t.tki]
            + [rest * s for s in self.non_her2_split]
        )

    @property
    def ecog_all_probs(self) -> np.ndarray:
        """P(ECOG 0..4, missing)."""
        p = np.array(self.ecog_probs)
        return np.append(p, 1.0 - p.sum())


@dataclass(frozen=True)
class Calibration:
    """Scales solved by :func:`calibrate` (months)."""

    tdxd_scale: float
    pfs_scale: float
    pfs_regimen_multiplier: tuple[float, float, float]
    pfs_discontinuation_multiplier: tuple[float, float, float]
    pps_scale: tuple[float, float, float]
    stop_scale: float
    gap_scale: float
    no_further_treatment: float
    response_max: float
    class_given_stratum: np.ndarray = field(repr=False, compare=False)  # (brain, HR+) x class
    ild_recurrence_by_grade: np.ndarray = field(repr=False, compare=False)

    def as_frame(self) -> pd.DataFrame:
        """The solved parameters, one row each (``parameter``, ``group``, ``value``)."""
        rows = [("tdxd_scale", "Overall", self.tdxd_scale), ("pfs_scale", "Overall", self.pfs_scale)]
        rows += [("pfs_regimen_multiplier", g, v) for g, v in zip(REGIMEN_GROUPS, self.pfs_regimen_multiplier)]
        rows += [
            ("pfs_discontinuation_multiplier", g, v)
            for g, v in zip(DISCONTINUATION_GROUPS, self.pfs_discontinuation_multiplier)
        ]
        rows += [("pps_scale", g, v) for g, v in zip(REGIMEN_GROUPS, self.pps_scale)]
        rows += [("stop_scale", "Overall", self.stop_scale), ("gap_scale", "Overall", self.gap_scale)]
        rows += [("no_further_treatment", "Overall", self.no_further_treatment)]
        rows += [("response_max", "Overall", self.response_max)]
        return pd.DataFrame(rows, columns=["parameter", "group", "value"])


# ----------------------------------------------------------------------------------------------
# components of the mixture


@dataclass(frozen=True)
class _Components:
    """Distinct (regimen group, discontinuation group, risk) cells with their probabilities."""

    weight: np.ndarray
    regimen: np.ndarray  # 0 antibody, 1 tki, 2 other
    discontinuation: np.ndarray  # 0 progression, 1 adverse event, 2 other
    risk: np.ndarray  # prognostic hazard ratio
    death_first: np.ndarray

    def mask(self, regimen: int | None = None, discontinuation: int | None = None) -> np.ndarray:
        m = np.ones(self.weight.size, dtype=bool)
        if regimen is not None:
            m &= self.regimen == regimen
        if discontinuation is not None:
            m &= self.discontinuation == discontinuation
        return m


def _risk(model: CohortModel, ecog: np.ndarray, visceral: np.ndarray, brain: np.ndarray,
          prior_lines: np.ndarray) -> np.ndarray:
    """Prognostic hazard ratio; ``ecog`` coded 0..4, 5 = missing."""
    hr_ecog = np.append(np.array(model.hr_ecog), model.hr_ecog_missing)
    return (
        hr_ecog[ecog]
        * np.where(visceral, model.hr_visceral, 1.0)
        * np.where(brain, model.hr_brain, 1.0)
        * np.where(prior_lines >= 3, model.hr_prior_lines_3plus, 1.0)
    )


def _class_given_stratum(model: CohortModel) -> np.ndarray:
    """P(next_class | brain, HR+) as a 4 x 6 table (rows: brain*2 + hr_positive).

    Iterative proportional fitting of a seed table (TKI odds higher with brain metastasis;
    endocrine impossible when HR-negative) to the stratum and class margins.
    """
    rows = np.array(
        [(1 - model.brain) * (1 - model.hr_positive), (1 - model.brain) * model.hr_positive,
         model.brain * (1 - model.hr_positive), model.brain * model.hr_positive]
    )
    cols = model.class_probs
    seed = np.ones((4, len(CLASSES)))
    seed[2:, CLASSES.index("anti_her2_tki")] *= model.tki_odds_brain
    seed[[0, 2], CLASSES.index("endocrine")] = 0.0
    table = seed * rows[:, None] * cols[None, :]
    for _ in range(10_000):
        table *= (rows / table.sum(axis=1))[:, None]
        table *= (cols / table.sum(axis=0))[None, :]
        if np.abs(table.sum(axis=1) - rows).max() < 1e-14:
            break
    else:  # pragma: no cover - the margins above are always compatible
        raise CalibrationError("regimen-class table did not converge (incompatible margins)")
    return table / table.sum(axis=1, keepdims=True)


def _components(model: CohortModel, class_given: np.ndarray) -> _Components:
    """Enumerate every baseline stratum x reason x class and merge cells with equal parameters."""
    ecog = np.arange(6)
    p_ecog = model.ecog_all_probs
    lines = np.arange(len(model.prior_lines_probs))
    p_lines = np.array(model.prior_lines_probs)
    grids = np.meshgrid(ecog, [0, 1], [0, 1], lines, [0, 1], np.arange(4), np.arange(len(CLASSES)),
                        indexing="ij")
    e, v, b, pl, h, r, c = (g.ravel() for g in grids)
    weight = (
        p_ecog[e]
        * np.where(v == 1, model.visceral, 1 - model.visceral)
        * np.where(b == 1, model.brain, 1 - model.brain)
        * p_lines[pl]
        * np.where(h == 1, model.hr_positive, 1 - model.hr_positive)
        * model.targets.reason_probs[r]
        * class_given[b * 2 + h, c]
    )
    risk = _risk(model, e, v.astype(bool), b.astype(bool), pl)
    key = np.column_stack([_CLASS_GROUP[c], _REASON_GROUP[r], risk])
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    w = np.bincount(inverse.ravel(), weights=weight, minlength=len(uniq))
    keep = w > 0
    uniq, w = uniq[keep], w[keep]
    disc = uniq[:, 1].astype(int)
    return _Components(
        weight=w / w.sum(),
        regimen=uniq[:, 0].astype(int),
        discontinuation=disc,
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


#: Intervals of the midpoint Stieltjes sums (medians exact to ~1e-7 relative; 512 gives ~5e-7).
_GRID = 1024


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
    # P(TTNT > t) = const + sum_i coef_i * (q + (1 - q) * S_G(t - mid_i)): linear in q
    return const, coef, t - mid


def _brent_log(f: Callable[[float], float], lo: float, hi: float, what: str) -> float:
    """Root of ``f`` on a log scale between ``lo`` and ``hi`` (months)."""
    g = lambda z: f(float(np.exp(z)))  # noqa: E731
    a, b = np.log(lo), np.log(hi)
    if np.sign(g(a)) == np.sign(g(b)):
        raise CalibrationError(
            f"cannot solve {what}: no scale between {lo} and {hi} months reproduces the target"
        )
    return float(np.exp(optimize.brentq(g, a, b, xtol=1e-12, rtol=1e-12)))


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
    class_given = _class_given_stratum(model)
    comp = _components(model, class_given)
    kp = model.pfs_shape
    risk_x = comp.risk ** (-1.0 / kp)

    # 1. PFS: five scales, five medians
    equations = [
        (t.pfs, comp.mask()),
        (t.pfs_antibody, comp.mask(regimen=0)),
        (t.pfs_tki, comp.mask(regimen=1)),
        (t.pfs_progression, comp.mask(discontinuation=0)),
        (t.pfs_adverse_event, comp.mask(discontinuation=1)),
    ]

    def pfs_scales(z: np.ndarray) -> np.ndarray:
        lam0, a_tki, a_rest, b_ae, b_other = np.exp(z)
        a = np.array([1.0, a_tki, a_rest])[comp.regimen]
        b = np.array([1.0, b_ae, b_other])[comp.discontinuation]
        return lam0 * a * b * risk_x

    def residuals(z: np.ndarray) -> np.ndarray:
        scale = pfs_scales(z)
        return np.array([_mixture(_weibull_sf(m, scale, kp), comp, mask) - 0.5 for m, mask in equations])

    z0 = np.log([t.pfs / np.log(2) ** (1 / kp), 1.0, 1.0, t.pfs_adverse_event / t.pfs_progression, 1.0])
    sol = optimize.root(residuals, z0, method="hybr", options={"xtol": 1e-13})
    if not sol.success or np.abs(residuals(sol.x)).max() > 1e-9:
        raise CalibrationError(f"PFS scales not found: {sol.message} (residuals {residuals(sol.x)})")
    lam0, a_tki, a_rest, b_ae, b_other = np.exp(sol.x)
    x_scale = pfs_scales(sol.x)

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

    pps[0] = _brent_log(os_equation(t.os_antibody, comp.mask(regimen=0)), 0.1, 1e3, "OS (antibody)")
    pps[1] = _brent_log(os_equation(t.os_tki, comp.mask(regimen=1)), 0.1, 1e3, "OS (TKI)")
    pps[2] = _brent_log(os_equation(t.os, comp.mask()), 0.1, 1e3, "OS (overall)")

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
    # E[1 - exp(-(X - ta)/tau); X > ta] = S_X(ta) - int_ta^inf exp(-(x - ta)/tau) dF_X(x),
    # the integral truncated where exp(-(x - ta)/tau) < 1e-13
    nodes = ta + np.linspace(0.0, 30.0 * tau, _GRID + 1)
    dfx = -np.diff(_weibull_sf_outer(x_scale, nodes, kp), axis=1)
    mid = 0.5 * (nodes[1:] + nodes[:-1])
    phi = _weibull_sf(ta, x_scale, kp) - dfx @ np.exp(-(mid - ta) / tau)
    p_seen = np.exp(-model.loss_rate_per_year * ta / 12.0)
    response_max = t.orr / (p_seen * float(np.dot(comp.weight, phi)))
    if not 0.0 < response_max <= 1.0:
        raise CalibrationError(f"ORR {t.orr} is not reachable (response probability {response_max:.3f})")

    rr = np.array(model.ild_recurrence_rr_by_grade)
    p_grade = np.array(model.ild_grade_probs)
    ild_by_grade = t.ild_recurrence * rr / float(np.dot(p_grade, rr))
    for arr in (class_given, ild_by_grade):  # the result is cached and shared: keep it immutable
        arr.setflags(write=False)

    cal = Calibration(
        tdxd_scale=float(t.tdxd_duration / np.log(2.0) ** (1.0 / model.tdxd_shape)),
        pfs_scale=float(lam0),
        pfs_regimen_multiplier=(1.0, float(a_tki), float(a_rest)),
        pfs_discontinuation_multiplier=(1.0, float(b_ae), float(b_other)),
        pps_scale=tuple(float(v) for v in pps),
        stop_scale=float(stop_scale),
        gap_scale=float(gap_scale),
        no_further_treatment=float(q),
        response_max=float(response_max),
        class_given_stratum=class_given,
        ild_recurrence_by_grade=ild_by_grade,
    )
    logger.debug("calibrated synthetic model: %s", cal)
    return cal


def implied_values(cal: Calibration | None = None, model: CohortModel | None = None) -> dict[str, float]:
    """Latent medians (months) and rates implied by a calibration, computed analytically.

    Keys are the median fields of :class:`Targets` (proportions are drawn directly); a check
    that :func:`calibrate` solved its equations.
    """
    model = model or CohortModel()
    cal = cal or calibrate(model)
    comp = _components(model, cal.class_given_stratum)
    kp = model.pfs_shape
    x_scale = (
        cal.pfs_scale
        * np.array(cal.pfs_regimen_multiplier)[comp.regimen]
        * np.array(cal.pfs_discontinuation_multiplier)[comp.discontinuation]
        * comp.risk ** (-1.0 / kp)
    )
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

    all_ = comp.mask()
    out = {
        "tdxd_duration": cal.tdxd_scale * np.log(2.0) ** (1.0 / model.tdxd_shape),
        "pfs": pfs_median(all_),
        "pfs_antibody": pfs_median(comp.mask(regimen=0)),
        "pfs_tki": pfs_median(comp.mask(regimen=1)),
        "pfs_progression": pfs_median(comp.mask(discontinuation=0)),
        "pfs_adverse_event": pfs_median(comp.mask(discontinuation=1)),
        "ttf": median(
            lambda m: _mixture(_weibull_sf(m, x_scale, kp), comp, all_)
            * float(_weibull_sf(m, cal.stop_scale, model.stop_shape))
        ),
        "os": os_median(all_),
        "os_antibody": os_median(comp.mask(regimen=0)),
        "os_tki": os_median(comp.mask(regimen=1)),
        "ttnt": median(ttnt),
    }
    return {k: float(v) for k, v in out.items()}


# ----------------------------------------------------------------------------------------------
# generation

_NAT = np.iinfo(np.int64).min
_NS_PER_DAY = 86_400 * 10**9


def _day(date: str | pd.Timestamp) -> int:
    """Days since 1970-01-01."""
    return int(pd.Timestamp(date).normalize().value // _NS_PER_DAY)


def _dates(days: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Day numbers -> datetime64[ns] (NaT where ``present`` is False)."""
    ns = days.astype(np.int64) * _NS_PER_DAY
    if present is not None:
        ns = np.where(present, ns, _NAT)
    return ns.view("datetime64[ns]")


def _choice(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    """Category codes with probabilities ``probs`` (vectorised inverse CDF)."""
    cum = np.cumsum(probs)
    return np.minimum(np.searchsorted(cum / cum[-1], rng.random(n), side="right"), len(probs) - 1)


def _allocate(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    """Category codes in exactly the shares ``probs`` (largest-remainder rounding), shuffled.

    Used for the discontinuation reason, whose published shares are counts of the study
    population: a synthetic cohort of the study's size then has the study's counts, instead of
    a multinomial draw that can miss them by several percentage points at n = 664.
    """
    p = np.asarray(probs, dtype=float) / np.sum(probs)
    exact = p * n
    counts = np.floor(exact).astype(np.int64)
    short = n - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return rng.permutation(np.repeat(np.arange(len(p)), counts))


def _choice_rows(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Category codes where each row of ``probs`` (n x k) gives that patient's probabilities."""
    cum = np.cumsum(probs, axis=1)
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded numbers, built from digit bytes (no per-row Python)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = ((numbers[:, None] // powers[None, :]) % 10 + ord("0")).astype(np.uint8)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    raw = np.concatenate([np.broadcast_to(head, (numbers.size, head.size)), digits], axis=1)
    return np.ascontiguousarray(raw).view(f"S{raw.shape[1]}").ravel().astype(f"U{raw.shape[1]}").astype(object)


def _sites(rng: np.random.Generator, n: int, n_sites: int) -> np.ndarray:
    """Site index per patient: every site at least once (when n >= n_sites), skewed sizes."""
    weights = rng.lognormal(mean=0.0, sigma=1.1, size=n_sites)
    weights /= weights.sum()
    if n >= n_sites:
        counts = 1 + rng.multinomial(n - n_sites, weights)
    else:
        counts = rng.multinomial(n, weights)
    return rng.permutation(np.repeat(np.arange(n_sites), counts))


def _truncnorm(rng: np.random.Generator, mean: float, sd: float, lo: float, hi: float, n: int) -> np.ndarray:
    x = rng.normal(mean, sd, n)
    bad = (x < lo) | (x > hi)
    while bad.any():
        x[bad] = rng.normal(mean, sd, int(bad.sum()))
        bad = (x < lo) | (x > hi)
    return x


def _regimen_names(klass: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A regimen name per patient, drawn within its class from :data:`REGIMENS` (uniforms ``u``)."""
    code = np.empty(klass.size, dtype=np.int64)
    names: list[str] = []
    for ci, cname in enumerate(CLASSES):
        opts = REGIMENS[cname]
        cum = np.cumsum([p for _, p in opts])
        sel = klass == ci
        code[sel] = len(names) + np.minimum(np.searchsorted(cum / cum[-1], u[sel], side="right"), len(opts) - 1)
        names += [name for name, _ in opts]
    return np.array(names, dtype=object)[code]


def _accrual(u: np.ndarray, lower: np.ndarray, start: int, end: int, ramp: float) -> np.ndarray:
    """Day of ``next_start`` in [start, end], density rising linearly by ``ramp``, truncated at ``lower``.

    Inverse CDF of the density ``1 + r x`` on [0, 1] (``r = ramp - 1``) restricted to
    ``x >= (lower - start) / width``; where ``lower`` is after ``end`` (a T-DXd course longer
    than the window) the truncation is dropped.
    """
    width = end - start
    r = ramp - 1.0

    def cdf(v: np.ndarray) -> np.ndarray:
        return (v + r * v * v / 2) / (1 + r / 2)

    def inv(p: np.ndarray) -> np.ndarray:
        return p if r == 0 else (np.sqrt(1 + 2 * r * p * (1 + r / 2)) - 1) / r

    x_lo = np.where(lower > end, 0.0, np.clip((lower - start) / width, 0.0, 1.0))
    f_lo = cdf(x_lo)
    pos = np.maximum(inv(f_lo + u * (1.0 - f_lo)), x_lo)
    return start + np.minimum(np.ceil(pos * width - 1e-9), width).astype(np.int64)


def _best_response(rng: np.random.Generator, model: CohortModel, cal: Calibration, x: np.ndarray,
                   x_d: np.ndarray, cens_d: np.ndarray, prog_seen: np.ndarray,
                   measurable: np.ndarray) -> np.ndarray:
    """Best response codes (``RESPONSES`` order), first assessment at ``model.assessment_months``.

    Recorded progression before the assessment is PD; death or loss before it is NE; after it a
    patient with measurable disease responds with probability
    ``response_max * (1 - exp(-(X - t_assess) / tau))`` (CR for ``cr_share`` of responders), and
    everyone else has SD (non-CR/non-PD when not measurable).
    """
    n = x.size
    ta_d = int(round(model.assessment_months * DAYS_PER_MONTH))
    early = x_d < ta_d
    assessed = cens_d >= ta_d
    phi = np.where(early, 0.0, 1.0 - np.exp(-(x - model.assessment_months) / model.response_tau))
    responder = measurable & assessed & ~early & (rng.random(n) < cal.response_max * phi)
    cr = rng.random(n) < model.cr_share
    response = np.full(n, RESPONSES.index("SD"))
    response[responder] = np.where(cr[responder], RESPONSES.index("CR"), RESPONSES.index("PR"))
    response[early & ~prog_seen] = RESPONSES.index("NE")
    response[early & prog_seen] = RESPONSES.index("PD")
    response[~early & ~assessed] = RESPONSES.index("NE")
    return response


def generate_cohort(
    n: int = 664,
    n_sites: int = 222,
    seed: int | None = 2025,
    data_cutoff: str | pd.Timestamp = "2024-03-31",
    model: CohortModel | None = None,
) -> pd.DataFrame:
    """Draw a synthetic EN-SEMBLE cohort that follows the data contract.

    Parameters
    ----------
    n : int
        Number of patients (>= 1).
    n_sites : int
        Number of institutions. Patients per site are skewed (log-normal site sizes); every site
        has at least one patient when ``n >= n_sites``.
    seed : int, optional
        Seed of :func:`numpy.random.default_rng`: the same ``(n, n_sites, seed, data_cutoff)``
        gives identical data.
    data_cutoff : str or Timestamp
        Data cut-off: no date is later. The first post-T-DXd regimens start between
        ``model.accrual_start`` and ``model.min_followup_days`` before it.
    model : CohortModel, optional
        Design assumptions and targets (default: published EN-SEMBLE figures).

    Returns
    -------
    DataFrame
        The data-contract columns (``schema.REQUIRED_COLUMNS``) with the contract's dtypes:
        dates ``datetime64[ns]`` (whole days), categories with the contract's levels,
        ``ecog``/``tdxd_ild_grade`` ``Int64``, ``prior_lines`` ``int64``, booleans ``bool``.

    Raises
    ------
    ValueError
        For ``n < 1``, ``n_sites < 1`` or a cut-off that leaves no accrual window.

    Examples
    --------
    >>> df = generate_cohort(n=1000, seed=1)
    >>> bool((df["next_start"] >= df["tdxd_end"]).all())
    True
    """
    if n < 1:
        raise ValueError(f"n must be at least 1 patient (got {n})")
    if n_sites < 1:
        raise ValueError(f"n_sites must be at least 1 (got {n_sites})")
    model = model or CohortModel()
    cutoff = _day(data_cutoff)
    launch, acc_start = _day(model.tdxd_launch), _day(model.accrual_start)
    acc_end = cutoff - model.min_followup_days
    if acc_end - acc_start < 90:
        raise ValueError(
            f"data_cutoff {pd.Timestamp(data_cutoff).date()} leaves no accrual window: the first "
            f"post-T-DXd regimens start from {model.accrual_start} and need "
            f"{model.min_followup_days} days of follow-up; use a cut-off after "
            f"{(pd.Timestamp(model.accrual_start) + pd.Timedelta(days=model.min_followup_days + 90)).date()}"
        )
    cal = calibrate(model)
    rng = np.random.default_rng(seed)
    m = DAYS_PER_MONTH

    # ---- baseline
    site = _sites(rng, n, n_sites)
    age = np.round(_truncnorm(rng, model.age_mean, model.age_sd, *model.age_bounds, n), 1)
    ecog = _choice(rng, model.ecog_all_probs, n)  # 5 = missing
    hr_pos = rng.random(n) < model.hr_positive
    visceral = rng.random(n) < model.visceral
    brain = rng.random(n) < model.brain
    prior_lines = _choice(rng, np.array(model.prior_lines_probs), n).astype(np.int64)
    reason = _allocate(rng, model.targets.reason_probs, n)
    ild = reason == REASONS.index("ild")
    ild_grade = _choice(rng, np.array(model.ild_grade_probs), n) + 1
    klass = _choice_rows(rng.random(n), cal.class_given_stratum[brain * 2 + hr_pos])
    regimen = _regimen_names(klass, rng.random(n))
    measurable = rng.random(n) < model.measurable

    # ---- latent times (months from next_start)
    rg, dg = _CLASS_GROUP[klass], _REASON_GROUP[reason]
    risk = _risk(model, ecog, visceral, brain, prior_lines)
    x_scale = (
        cal.pfs_scale
        * np.array(cal.pfs_regimen_multiplier)[rg]
        * np.array(cal.pfs_discontinuation_multiplier)[dg]
        * risk ** (-1.0 / model.pfs_shape)
    )
    x = x_scale * rng.weibull(model.pfs_shape, n)
    death_first = rng.random(n) < np.array(model.death_first)[dg]
    y = np.array(cal.pps_scale)[rg] * risk ** (-1.0 / model.pps_shape) * rng.weibull(model.pps_shape, n)
    stop = cal.stop_scale * rng.weibull(model.stop_shape, n)
    gap = np.where(
        rng.random(n) < cal.no_further_treatment, np.inf, cal.gap_scale * rng.weibull(model.gap_shape, n)
    )
    # day offsets from next_start (rounding is monotone, so the order of events is kept)
    x_d = np.rint(x * m).astype(np.int64)
    d_d = np.where(death_first, x_d, np.rint((x + y) * m).astype(np.int64))
    tf = np.minimum(x, stop)
    tf_d = np.rint(tf * m).astype(np.int64)
    with np.errstate(invalid="ignore"):
        s2 = tf + gap
    s2_finite = np.isfinite(s2)
    s2_d = np.where(s2_finite, np.rint(np.where(s2_finite, s2, 0.0) * m), 0).astype(np.int64)
    has_s2 = s2_finite & (s2_d < d_d)

    # ---- T-DXd and accrual
    dur_d = np.maximum(np.rint(cal.tdxd_scale * rng.weibull(model.tdxd_shape, n) * m).astype(np.int64), 1)
    gap_mean = np.array(model.gap_days_mean)[reason]
    gap0_d = 7 + np.rint(rng.gamma(2.0, (gap_mean - 7) / 2.0)).astype(np.int64)
    # T-DXd started on/after its launch
    next_start = _accrual(rng.random(n), launch + dur_d + gap0_d, acc_start, acc_end, model.accrual_ramp)
    tdxd_end = next_start - gap0_d
    tdxd_start = tdxd_end - dur_d

    # ---- censoring: last contact before the cut-off, or lost to follow-up
    visit_lag = rng.integers(0, model.last_visit_days + 1, n)
    loss_d = np.rint(rng.exponential(365.25 / model.loss_rate_per_year, n)).astype(np.int64)
    cens_d = np.minimum(cutoff - visit_lag - next_start, loss_d)
    dead = d_d <= cens_d
    lf_d = np.where(dead, d_d, cens_d)

    prog_seen = ~death_first & (x_d <= lf_d)
    end_seen = tf_d <= lf_d
    s2_seen = has_s2 & (s2_d <= lf_d)

    response = _best_response(rng, model, cal, x, x_d, cens_d, prog_seen, measurable)

    # ---- ILD recurrence during the first post-T-DXd regimen (crude rate independent of follow-up)
    grade_idx = np.clip(ild_grade - 1, 0, len(cal.ild_recurrence_by_grade) - 1)
    recur = ild & (rng.random(n) < cal.ild_recurrence_by_grade[grade_idx])
    u_rec = rng.random(n)
    rec_d = np.where(
        end_seen,
        np.maximum(tf_d - np.floor(u_rec * 15).astype(np.int64), 0),
        np.floor(u_rec * (lf_d + 1)).astype(np.int64),
    )
    rec_d = np.minimum(rec_d, lf_d)

    # ---- assemble
    width_id = max(6, len(str(n)))
    site_labels = _ids("S", np.arange(1, n_sites + 1), max(3, len(str(n_sites))))
    ecog_values = np.where(ecog == 5, 0, ecog)
    df = pd.DataFrame(
        {
            "patient_id": _ids("P", np.arange(1, n + 1, dtype=np.int64), width_id),
            "site_id": site_labels[site],
            "age": age,
            "ecog": pd.arrays.IntegerArray(ecog_values.astype(np.int64), ecog == 5),
            "hormone_receptor": pd.Categorical.from_codes(
                np.where(hr_pos, 0, 1), categories=list(CATEGORIES["hormone_receptor"])
            ),
            "visceral_metastasis": visceral,
            "brain_metastasis": brain,
            "prior_lines": prior_lines,
            "tdxd_start": _dates(tdxd_start),
            "tdxd_end": _dates(tdxd_end),
            "tdxd_discontinuation_reason": pd.Categorical.from_codes(reason, categories=list(REASONS)),
            "tdxd_ild_grade": pd.arrays.IntegerArray(ild_grade.astype(np.int64), ~ild),
            "next_start": _dates(next_start),
            "next_class": pd.Categorical.from_codes(klass, categories=list(CLASSES)),
            "next_regimen": regimen,
            "next_end": _dates(next_start + tf_d, end_seen),
            "next_best_response": pd.Categorical.from_codes(response, categories=list(RESPONSES)),
            "measurable_disease": measurable,
            "progression_date": _dates(next_start + x_d, prog_seen),
            "second_next_start": _dates(next_start + s2_d, s2_seen),
            "death_date": _dates(next_start + d_d, dead),
            "last_followup": _dates(next_start + lf_d),
            "ild_recurrence_date": _dates(next_start + rec_d, recur),
        }
    )
    return df[list(REQUIRED_COLUMNS)]


# ----------------------------------------------------------------------------------------------
# writing and command line


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """CSV in the data contract's text form, written by pyarrow's CSV writer.

    pandas' ``to_csv`` formats every date in Python (about 20 s for a million patients);
    pyarrow writes date32 columns as ``YYYY-MM-DD``, booleans as ``true``/``false`` and
    missing values as empty cells, which is exactly the contract's spelling.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            columns[col] = pa.array(s.to_numpy(dtype="datetime64[D]"), type=pa.date32(), mask=s.isna().to_numpy())
        elif isinstance(s.dtype, pd.CategoricalDtype):
            columns[col] = pa.array(s.astype(object).where(s.notna(), None).to_numpy(), type=pa.string())
        else:
            columns[col] = pa.Array.from_pandas(s)
    table = pa.table(columns)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


def write_cohort(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a cohort to ``.csv`` or ``.parquet`` atomically (temporary file + ``os.replace``).

    Parameters
    ----------
    df : DataFrame
        Output of :func:`generate_cohort`.
    path : str or Path
        Destination; the suffix chooses the format; parent directories are created.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet", ".pq"}:
        raise ValueError(f"unsupported output type {suffix!r} for {path}: use .csv or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    # same directory, so os.replace is atomic; created by the writer, so the umask applies
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        if suffix == ".csv":
            _write_csv(df, tmp)
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("wrote %d synthetic patients to %s", len(df), path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m ensemble_helpers.synthetic --n 664 --seed 2025 --out FILE``."""
    parser = argparse.ArgumentParser(
        prog="python -m ensemble_helpers.synthetic",
        description="Write a synthetic EN-SEMBLE cohort calibrated to the published figures.",
    )
    parser.add_argument("--n", type=int, default=664, help="number of patients (default 664)")
    parser.add_argument("--sites", type=int, default=222, help="number of institutions (default 222)")
    parser.add_argument("--seed", type=int, default=2025, help="random seed (default 2025)")
    parser.add_argument("--data-cutoff", default="2024-03-31", help="data cut-off date (YYYY-MM-DD)")
    parser.add_argument("--out", required=True, help="output file, .csv or .parquet")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    df = generate_cohort(n=args.n, n_sites=args.sites, seed=args.seed, data_cutoff=args.data_cutoff)
    path = write_cohort(df, args.out)
    print(f"wrote {len(df)} patients to {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
