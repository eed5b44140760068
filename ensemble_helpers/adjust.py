"""Confounding-adjusted comparison of two groups by propensity-score weighting.

In EN-SEMBLE the next regimen is chosen for the patient (``docs/synthetic.md``), so an
unadjusted comparison of, say, TKI vs antibody mixes the effect of the regimen with that of the
patients who receive it. This module estimates the propensity score (probability of the compared
level given the baseline covariates) by logistic regression (statsmodels), turns it into
weights, checks balance, and gives weighted Kaplan–Meier medians and a weighted Cox hazard ratio
with a robust (sandwich) variance (:mod:`ensemble_helpers.stats.weighted`).

Weightings (parameter ``weighting``)
------------------------------------
``"overlap"`` (default)
    Compared patients weigh ``1 - e``, reference patients ``e`` (Li, Morgan & Zaslavsky, JASA
    2018). The target population is the patients for whom either regimen is a real option
    (clinical equipoise), which is the population the question "which regimen after T-DXd?"
    is about. The weights are bounded (0-1), so no single patient dominates; with a logistic
    propensity model every covariate's weighted means are exactly equal in both groups; and of
    all balancing weights they give the smallest variance. With 100-odd TKI patients against
    350 antibody patients, inverse-probability weights of the few TKI-unlikely patients reach
    10-20 and make the estimate unstable.
``"ate"``
    Stabilised inverse probability of treatment weights: ``P(T) / e`` for compared patients,
    ``P(not T) / (1 - e)`` for the reference (Robins, Hernán & Brumback 2000; Xu et al. 2010).
    Target: the whole cohort.
``"att"``
    Compared patients weigh 1, reference patients ``e / (1 - e)``. Target: the patients who
    received the compared level.

Every number here is computed for groups of patients; the notebook passes the tables through
:mod:`ensemble_helpers.privacy` (via :mod:`ensemble_helpers.tables`) before they are shown.

Examples
--------
>>> from ensemble_helpers.synthetic import generate_cohort
>>> from ensemble_helpers.endpoints import derive_adsl
>>> adsl = derive_adsl(generate_cohort(n=2000, seed=1))
>>> sub = adsl[adsl["regimen_group"].isin(["tki", "antibody"])]
>>> fit = propensity(sub, "regimen_group", ("tki", "antibody"), ["age", "brain_metastasis"])
>>> bool(fit.scores.between(0, 1).all())
True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ensemble_helpers.exceptions import EnsembleError
from ensemble_helpers.stats.balance import SMD_THRESHOLD, smd_columns
from ensemble_helpers.stats.weighted import weighted_cox, weighted_km_summary

logger = logging.getLogger(__name__)

WEIGHTINGS: tuple[str, ...] = ("overlap", "ate", "att")
DEFAULT_WEIGHTING = "overlap"


class AdjustmentError(EnsembleError, ValueError):
    """The propensity model cannot be fitted as asked (levels, covariates, weighting)."""


# ----------------------------------------------------------------------------------------------
# design


def _covariate_columns(df: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Numeric design of the covariates: one column per number or yes/no, one indicator per level.

    Floats stay as they are (age); whole numbers with at most 10 values or missing values (prior
    lines, ECOG) and categories become indicators of each level but the first, with a ``missing`` indicator when
    values are missing (the missing-indicator method: no patient is dropped); booleans become
    0/1. Indicator columns are named ``variable=level``.
    """
    parts: dict[str, np.ndarray] = {}
    for var in covariates:
        if var not in df.columns:
            raise AdjustmentError(f"covariate {var!r} is not an ADSL column")
        s = df[var]
        if pd.api.types.is_bool_dtype(s):
            parts[var] = s.to_numpy(dtype=float)
            continue
        if pd.api.types.is_float_dtype(s) and s.notna().all():
            parts[var] = s.to_numpy(dtype=float)
            continue
        if pd.api.types.is_integer_dtype(s) and s.notna().all() and s.nunique() > 10:
            parts[var] = s.to_numpy(dtype=float)
            continue
        levels = [lv for lv in (s.cat.categories if isinstance(s.dtype, pd.CategoricalDtype)
                                else sorted(s.dropna().unique()))
                  if (s == lv).any()]
        for lv in levels[1:]:
            parts[f"{var}={lv}"] = (s == lv).fillna(False).to_numpy(dtype=float)
        if s.isna().any():
            parts[f"{var}=missing"] = s.isna().to_numpy(dtype=float)
    out = pd.DataFrame(parts, index=df.index)
    constant = [c for c in out.columns if out[c].nunique() < 2]
    return out.drop(columns=constant)


# ----------------------------------------------------------------------------------------------
# propensity model and weights


@dataclass(frozen=True)
class PropensityFit:
    """A fitted propensity model: scores, the compared-level indicator and the model's terms."""

    scores: pd.Series
    treated: pd.Series
    design: pd.DataFrame
    coefficients: pd.DataFrame
    levels: tuple[Any, Any]
    variable: str
    converged: bool = field(default=True)


def propensity(
    df: pd.DataFrame, variable: str, levels: Sequence[Any], covariates: Sequence[str],
) -> PropensityFit:
    """Logistic propensity model of ``variable == levels[0]`` (vs ``levels[1]``) on ``covariates``.

    Parameters
    ----------
    df : DataFrame
        One row per patient (ADSL or an ADTTE frame), restricted to the two levels.
    variable : str
        Compared variable, e.g. ``regimen_group``.
    levels : (compared, reference)
        The second level is the reference (the ``comparison`` parameter's order).
    covariates : sequence of str
        The adjustment set.

    Returns
    -------
    PropensityFit
        ``scores`` = P(compared level | covariates), indexed like ``df``.

    Raises
    ------
    AdjustmentError
        When a level is absent, ``df`` holds other levels, or the model cannot be fitted.
    """
    import statsmodels.api as sm

    if len(levels) != 2:
        raise AdjustmentError(f"a weighted comparison needs exactly two levels of {variable}; got {list(levels)}")
    values = df[variable]
    other = ~values.isin(levels)
    if other.any():
        raise AdjustmentError(
            f"{int(other.sum())} row(s) have {variable} outside {list(levels)}: restrict the data first"
        )
    treated = (values == levels[0])
    for lv, mask in ((levels[0], treated), (levels[1], ~treated)):
        if not mask.any():
            raise AdjustmentError(f"no patient has {variable} = {lv!r}: nothing to compare")
    design = _covariate_columns(df, covariates)
    x = sm.add_constant(design.to_numpy(dtype=float), has_constant="add")
    model = sm.GLM(treated.to_numpy(dtype=float), x, family=sm.families.Binomial())
    try:
        res = model.fit()
    except Exception as exc:  # perfect separation and the like
        raise AdjustmentError(f"the propensity model of {variable} could not be fitted: {exc}") from exc
    converged = bool(res.converged)
    if not converged:
        logger.warning("propensity model of %s did not converge", variable)
    coef = pd.DataFrame({"term": ["(Intercept)", *design.columns], "coef": res.params, "se": res.bse})
    scores = pd.Series(res.fittedvalues, index=df.index, name="propensity")
    return PropensityFit(scores, treated.rename("treated"), design, coef, (levels[0], levels[1]), variable, converged)


def weights(scores: Any, treated: Any, weighting: str = DEFAULT_WEIGHTING) -> np.ndarray:
    """Weights from propensity scores (see the module docstring for each ``weighting``).

    Examples
    --------
    >>> weights([0.2, 0.5, 0.8], [True, False, True], "overlap").round(2).tolist()
    [0.8, 0.5, 0.2]
    >>> weights([0.2, 0.5, 0.8], [True, False, True], "att").round(2).tolist()
    [1.0, 1.0, 1.0]
    """
    e = np.asarray(scores, dtype=float)
    t = np.asarray(treated, dtype=bool)
    if weighting not in WEIGHTINGS:
        raise AdjustmentError(f"weighting must be one of {', '.join(WEIGHTINGS)}; got {weighting!r}")
    if weighting == "overlap":
        return np.where(t, 1.0 - e, e)
    if weighting == "att":
        return np.where(t, 1.0, e / (1.0 - e))
    p = t.mean()
    return np.where(t, p / e, (1.0 - p) / (1.0 - e))


def effective_sample_size(w: Any) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``."""
    w = np.asarray(w, dtype=float)
    return float(w.sum() ** 2 / np.sum(w * w)) if w.size else 0.0


def balance(fit: PropensityFit, w: Any) -> pd.DataFrame:
    """Standardised mean differences of every design column before and after weighting.

    ``SMD = (mean_compared - mean_reference) / sqrt((var_compared + var_reference) / 2)`` with the
    **unweighted** variances in both (so the SMD after weighting changes only through the means,
    as cobalt and Austin & Stuart 2015 recommend): the sample variance of a number, ``p (1 - p)``
    of an indicator. One implementation with Table 1:
    :func:`ensemble_helpers.stats.balance.smd_columns`.

    Returns
    -------
    DataFrame
        ``covariate``, ``smd_unweighted``, ``smd_weighted``, ``balanced`` (|weighted SMD| < 0.1).
    """
    w = np.asarray(w, dtype=float)
    t = fit.treated.to_numpy(dtype=bool)
    x = fit.design.to_numpy(dtype=float)
    raw = smd_columns(x[t], x[~t])
    adj = smd_columns(x[t], x[~t], w[t], w[~t])
    return pd.DataFrame({"covariate": fit.design.columns, "smd_unweighted": raw, "smd_weighted": adj,
                         "balanced": np.abs(adj) < SMD_THRESHOLD})


def weight_summary(fit: PropensityFit, w: Any) -> pd.DataFrame:
    """Weights and propensity scores by group: n, sum, effective sample size, 1st/50th/99th
    percentile and how many weights exceed 10 times their group's mean (extreme weights).

    Minimum and maximum are not given: each is one patient's value.
    """
    w = np.asarray(w, dtype=float)
    t = fit.treated.to_numpy(dtype=bool)
    e = fit.scores.to_numpy(dtype=float)
    rows = []
    for level, m in ((fit.levels[0], t), (fit.levels[1], ~t)):
        wg = w[m]
        rows.append({
            "group": level, "n": int(m.sum()), "sum_weights": float(wg.sum()),
            "ess": effective_sample_size(wg),
            "weight_p1": float(np.percentile(wg, 1)), "weight_median": float(np.median(wg)),
            "weight_p99": float(np.percentile(wg, 99)),
            "extreme": int((wg > 10 * wg.mean()).sum()),
            "ps_p1": float(np.percentile(e[m], 1)), "ps_median": float(np.median(e[m])),
            "ps_p99": float(np.percentile(e[m], 99)),
        })
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# weighted outcomes


def weighted_medians(frame: pd.DataFrame, fit: PropensityFit, w: Any, conf_level: float = 0.95,
                     ci_transform: str = "log-log") -> pd.DataFrame:
    """Weighted Kaplan–Meier median with CI per level (``AVAL``, ``event`` of ``frame``)."""
    w = np.asarray(w, dtype=float)
    t = fit.treated.to_numpy(dtype=bool)
    rows = []
    for level, m in ((fit.levels[0], t), (fit.levels[1], ~t)):
        s = weighted_km_summary(frame["AVAL"].to_numpy()[m], frame["event"].to_numpy()[m], w[m],
                                conf_level=conf_level, ci_transform=ci_transform)
        s.insert(0, "group", level)
        rows.append(s)
    return pd.concat(rows, ignore_index=True)


def weighted_hr(frame: pd.DataFrame, fit: PropensityFit, w: Any, conf_level: float = 0.95) -> pd.DataFrame:
    """Weighted Cox HR of the compared level vs the reference, robust SE (R ``coxph(robust = TRUE)``).

    Returns
    -------
    DataFrame
        One row with the columns of :func:`ensemble_helpers.stats.cox_hr` (``term``,
        ``variable``, ``level``, ``reference``, ``hr``, ``hr_lower``, ``hr_upper``, ``p``, ``n``,
        ``events``) plus ``se_robust`` and ``ess`` per group.
    """
    w = np.asarray(w, dtype=float)
    d = pd.DataFrame({"AVAL": frame["AVAL"].to_numpy(), "event": frame["event"].to_numpy(),
                      "treated": fit.treated.to_numpy(dtype=float), "w": w})
    cox = weighted_cox(d, "AVAL", "event", ["treated"], "w", conf_level=conf_level).iloc[0]
    t = fit.treated.to_numpy(dtype=bool)
    return pd.DataFrame([{
        "term": f"{fit.variable}={fit.levels[0]}", "variable": fit.variable, "level": fit.levels[0],
        "reference": fit.levels[1], "hr": cox["hr"], "hr_lower": cox["hr_lower"],
        "hr_upper": cox["hr_upper"], "p": cox["p"], "se_robust": cox["se_robust"], "n": int(cox["n"]),
        "events": int(cox["events"]), "ess_compared": effective_sample_size(w[t]),
        "ess_reference": effective_sample_size(w[~t]),
    }])


# ----------------------------------------------------------------------------------------------
# the comparison of a cohort


def propensity_covariates(adsl: pd.DataFrame, adjustment: Sequence[str]) -> tuple[str, ...]:
    """The adjustment set, the reason T-DXd was stopped and, when the data have it, the best
    response to T-DXd: the factors that drive the choice of the next regimen and the outcome."""
    extra = [c for c in ("tdxd_discontinuation_reason", "tdxd_best_response") if c in adsl.columns]
    return tuple(dict.fromkeys([*adjustment, *extra]))


def determines_comparison(df: pd.DataFrame, variable: str, covariates: Sequence[str]) -> tuple[str, ...]:
    """Covariates with few values (categories, yes/no, whole numbers with at most 10 values)
    each of whose levels holds one compared group
    only, e.g. the reason T-DXd was stopped when the comparison is adverse event vs progression
    (it defines the groups): in a propensity model they separate the groups perfectly.

    Examples
    --------
    >>> df = pd.DataFrame({"g": ["a", "a", "b", "b"], "reason": ["x", "y", "z", "z"], "age": [1.0, 2, 3, 4]})
    >>> determines_comparison(df, "g", ["reason", "age"])
    ('reason',)
    """
    out = []
    groups = df[variable].astype(object)
    for c in covariates:
        if c == variable or c not in df.columns:
            continue
        values = df[c]
        known = values.notna().to_numpy()
        if pd.api.types.is_float_dtype(values) or values[known].nunique() > 10 or not known.any():
            continue
        per_level = pd.DataFrame({"v": values[known].astype(object).to_numpy(),
                                  "g": groups[known].to_numpy()}).groupby("v")["g"].nunique()
        if (per_level <= 1).all():
            out.append(c)
    return tuple(out)


@dataclass(frozen=True)
class AdjustedComparison:
    """Everything the "Adjusted comparison" section shows (computed, not formatted)."""

    variable: str
    levels: tuple[Any, Any]
    weighting: str
    covariates: tuple[str, ...]
    fit: PropensityFit
    weights: np.ndarray
    balance: pd.DataFrame  # + n_compared / n_reference: patients with each indicator
    summary: pd.DataFrame
    medians: pd.DataFrame  # endpoint, group, method (unweighted / weighted), n, events, median, CI
    hrs: pd.DataFrame  # endpoint, method (unadjusted / covariate-adjusted / weighted) + cox_hr columns


def _indicator_counts(fit: PropensityFit) -> pd.DataFrame:
    """Patients with each 0/1 design column per group (NaN for continuous columns)."""
    t = fit.treated.to_numpy(dtype=bool)
    rows = []
    for col in fit.design.columns:
        x = fit.design[col].to_numpy()
        binary = np.isin(x, (0.0, 1.0)).all()
        rows.append({"covariate": col,
                     "n_compared": float(x[t].sum()) if binary else np.nan,
                     "n_reference": float(x[~t].sum()) if binary else np.nan})
    return pd.DataFrame(rows)


def compare(cohort: Any, variable: str, levels: Sequence[Any], weighting: str = DEFAULT_WEIGHTING,
            endpoints: Sequence[str] = ("PFS", "OS"), adjustment: Sequence[str] = ()) -> AdjustedComparison:
    """Propensity-weighted comparison of ``levels[0]`` vs ``levels[1]`` (the reference) of ``variable``.

    Parameters
    ----------
    cohort : Cohort
        The analysis population (``cohort.adsl``, ``cohort.endpoint(paramcd)``, ``cohort.params``).
    variable, levels : str, (compared, reference)
        The ``comparison`` parameter.
    weighting : {"overlap", "ate", "att"}
    endpoints : sequence of str
        PARAMCDs compared.
    adjustment : sequence of str
        Covariate-adjusted Cox model's covariates (also the core of the propensity model).

    Returns
    -------
    AdjustedComparison
        Diagnostics and, per endpoint, unweighted and weighted medians, and the unadjusted,
        covariate-adjusted and weighted hazard ratios.
    """
    from ensemble_helpers import stats

    if weighting not in WEIGHTINGS:
        raise AdjustmentError(f"weighting must be one of {', '.join(WEIGHTINGS)}; got {weighting!r}")
    levels = (levels[0], levels[1])
    p = cohort.params
    adsl = cohort.adsl
    sub = adsl[adsl[variable].isin(levels)]
    candidates = propensity_covariates(adsl, adjustment)
    determining = determines_comparison(sub, variable, candidates)
    if determining:
        logger.info("propensity model of %s: %s left out (they determine the compared groups)", variable, determining)
    covariates = tuple(c for c in candidates if c not in determining and c != variable)
    fit = propensity(sub, variable, levels, covariates)
    w = weights(fit.scores, fit.treated, weighting)
    bal = balance(fit, w).merge(_indicator_counts(fit), on="covariate")
    w_by_id = pd.Series(w, index=sub["patient_id"].to_numpy())
    medians, hrs = [], []
    for ep in endpoints:
        frame = cohort.endpoint(ep)
        frame = frame[frame[variable].isin(levels)].reset_index(drop=True)
        ep_fit = PropensityFit(fit.scores.set_axis(sub["patient_id"]).reindex(frame["patient_id"]).set_axis(frame.index),
                               (frame[variable] == levels[0]).rename("treated"), fit.design, fit.coefficients,
                               levels, variable, fit.converged)
        ep_w = w_by_id.reindex(frame["patient_id"]).to_numpy()
        km = stats.km_summary_by(frame.assign(**{variable: pd.Categorical(frame[variable], categories=list(levels))}),
                                 "AVAL", "event", variable, conf_level=p.conf_level, ci_transform=p.ci_transform,
                                 timepoints=(), overall=False)
        km = km.assign(endpoint=ep, method="unweighted")
        wkm = weighted_medians(frame, ep_fit, ep_w, conf_level=p.conf_level, ci_transform=p.ci_transform)
        wkm = wkm.assign(endpoint=ep, method="weighted")
        medians += [km, wkm]
        unadj = weighted_hr(frame, ep_fit, np.ones(len(frame)), conf_level=p.conf_level).assign(method="unadjusted")
        weighted = weighted_hr(frame, ep_fit, ep_w, conf_level=p.conf_level).assign(method="weighted")
        parts = [unadj]
        if adjustment:
            cols = list(dict.fromkeys([variable, *adjustment]))
            d = frame[["AVAL", "event", *cols]].assign(
                **{variable: pd.Categorical(frame[variable], categories=[levels[1], levels[0]])})
            adj = stats.cox_hr(d, "AVAL", "event", cols, reference={variable: levels[1]}, conf_level=p.conf_level)
            adj = adj[adj["variable"] == variable].assign(method="covariate-adjusted")
            parts.append(adj)
        parts.append(weighted)
        hrs.append(pd.concat(parts, ignore_index=True).assign(endpoint=ep))
    return AdjustedComparison(variable, levels, weighting, covariates, fit, w, bal, weight_summary(fit, w),
                              pd.concat(medians, ignore_index=True), pd.concat(hrs, ignore_index=True))


def record(results: Any, comp: AdjustedComparison, min_cell_size: int | None = None) -> None:
    """Add ``iptw_hr`` (per endpoint), ``iptw_km_median`` (per endpoint and level) and ``smd``
    (per covariate, unweighted and weighted) records to ``results``.

    The SMD of an indicator held by fewer than ``min_cell_size`` patients in a group is not
    recorded (with the group sizes it would give the count back).
    """
    from ensemble_helpers.results import group_name

    hr = comp.hrs[comp.hrs["method"] == "weighted"]
    for ep, part in hr.groupby("endpoint", sort=False):
        results.add_hr(part, str(ep), analysis="iptw_hr")
    med = comp.medians[comp.medians["method"] == "weighted"]
    for row in med.to_dict("records"):
        results.add("iptw_km_median", row["endpoint"], group_name(comp.variable, row["group"]), n=row["n"],
                    events=row["events"], estimate=row["median"], lower=row["median_lower"],
                    upper=row["median_upper"], unit="months")
    for row in shown_balance(comp, min_cell_size).to_dict("records"):
        for method in ("unweighted", "weighted"):
            results.add("smd", row["covariate"], method, estimate=row[f"smd_{method}"], unit="smd")


def shown_balance(comp: AdjustedComparison, min_cell_size: int | None) -> pd.DataFrame:
    """Balance rows that may be published: indicators held by 0 or >= ``min_cell_size`` patients
    in each group (and every continuous covariate)."""
    from ensemble_helpers.privacy import is_suppressed

    b = comp.balance
    hidden = b.apply(lambda r: any(not pd.isna(r[c]) and is_suppressed(r[c], min_cell_size)
                                   for c in ("n_compared", "n_reference")), axis=1)
    return b[~hidden.astype(bool)].reset_index(drop=True)
