"""Drawing a synthetic cohort from a calibrated :class:`~ensemble_helpers.synthetic.model.CohortModel`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ensemble_helpers.endpoints import DAYS_PER_MONTH
from ensemble_helpers.schema import CATEGORIES, OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from ensemble_helpers.synthetic.calibration import (
    Calendar,
    _risk_of,
    calibrate,
    ramp_cdf,
    ramp_ppf,
    stratum_index,
)
from ensemble_helpers.synthetic.model import (
    _CELL_GRADE,
    _CELL_REASON,
    _CLASS_GROUP,
    _REASON_GROUP,
    CLASSES,
    REASONS,
    REGIMENS,
    RESPONSES,
    Calibration,
    CohortModel,
)

#: Optional contract columns the generator also writes (after the required ones).
OPTIONAL_OUTPUT: tuple[str, ...] = OPTIONAL_COLUMNS

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



def _tdxd_response(rng: np.random.Generator, model: CohortModel, cal: Calibration, reason: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Best response to T-DXd: (responder flag, ``RESPONSES`` code).

    Responders (probability by reason, :attr:`Calibration.tdxd_responder_by_reason`) split into
    CR/PR, the others into SD/PD/NE, in the proportions of ``model.tdxd_response_shares``.
    """
    n = reason.size
    responder = rng.random(n) < np.array(cal.tdxd_responder_by_reason)[reason]
    shares = np.array(model.tdxd_response_shares)
    u = rng.random(n)
    code = np.where(
        responder,
        _choice_rows(u, np.broadcast_to(shares[:2] / shares[:2].sum(), (n, 2))),
        2 + _choice_rows(u, np.broadcast_to(shares[2:] / shares[2:].sum(), (n, 3))),
    )
    return responder, code


def _pick(rng: np.random.Generator, eligible: np.ndarray, k: int, weight: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of ``k`` patients drawn without replacement among ``eligible`` (weighted)."""
    idx = np.flatnonzero(eligible)
    out = np.zeros(eligible.size, dtype=bool)
    k = min(k, idx.size)
    if k > 0:
        p = None if weight is None else weight[idx] / weight[idx].sum()
        out[rng.choice(idx, size=k, replace=False, p=p)] = True
    return out


def generate_cohort(
    n: int = 664,
    n_sites: int = 222,
    seed: int | None = 2025,
    data_cutoff: str | pd.Timestamp | None = None,
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
    data_cutoff : str or Timestamp, optional
        Data cut-off: no date is later. Default: the T-DXd launch plus the longest published
        follow-up (:attr:`CohortModel.default_cutoff`, 2023-07-01). T-DXd starts in the published
        window whatever the cut-off; a later cut-off only lengthens follow-up.
    model : CohortModel, optional
        Design assumptions and targets (default: published EN-SEMBLE figures).

    Returns
    -------
    DataFrame
        The data-contract columns (``schema.REQUIRED_COLUMNS``) then the optional
        :data:`OPTIONAL_OUTPUT` columns, with the contract's dtypes: dates ``datetime64[ns]``
        (whole days), categories with the contract's levels, ``ecog``/``tdxd_ild_grade``
        ``Int64`` (grade missing = unknown), ``prior_lines`` ``int64``, booleans ``bool``.

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
    t = model.targets
    calendar = Calendar.of(model, data_cutoff)
    if calendar.latest_next - calendar.last_start < 90:
        earliest = pd.Timestamp(t.tdxd_start_last) + pd.Timedelta(days=90 + model.last_visit_days)
        raise ValueError(
            f"data_cutoff {pd.Timestamp(data_cutoff).date()} leaves no accrual window: T-DXd started "
            f"until {t.tdxd_start_last} and the next regimen must start before the cut-off; use a "
            f"cut-off on or after {earliest.date()}"
        )
    cal = calibrate(model)
    rng = np.random.default_rng(seed)
    m = DAYS_PER_MONTH

    # ---- baseline (at next_start)
    site = _sites(rng, n, n_sites)
    age = np.round(_truncnorm(rng, cal.age_mean, model.age_sd, *model.age_bounds, n), 1)
    ecog = _choice(rng, model.ecog_all_probs, n)  # 5 = missing
    hr_pos = rng.random(n) < model.hr_positive
    visceral = rng.random(n) < t.visceral
    brain = rng.random(n) < t.brain
    prior_lines = _choice(rng, np.array(model.prior_lines_probs), n).astype(np.int64)
    prior_trastuzumab = rng.random(n) < t.prior_trastuzumab
    prior_pertuzumab = prior_trastuzumab & (rng.random(n) < t.prior_pertuzumab / t.prior_trastuzumab)
    prior_tdm1 = rng.random(n) < t.prior_tdm1
    reason = _allocate(rng, t.reason_probs, n)
    ild = reason == REASONS.index("ild")
    # stop cell: progression, ILD grade 1 / 2 / 3 / unknown, other AE, other (grades in exact shares)
    cell = np.select([reason == 0, reason == 2, reason == 3], [0, 5, 6], 0)
    cell[ild] = 1 + _allocate(rng, t.ild_grade_probs, int(ild.sum()))
    grade = _CELL_GRADE[cell]
    responder, tdxd_response = _tdxd_response(rng, model, cal, reason)
    stratum = stratum_index(ecog, visceral, brain, prior_lines, hr_pos, cell, responder,
                            len(model.prior_lines_probs))
    klass = _choice_rows(rng.random(n), cal.class_given_stratum[stratum])
    regimen = _regimen_names(klass, rng.random(n))
    measurable = rng.random(n) < model.measurable

    # ---- latent times (months from next_start)
    rg, dg = _CLASS_GROUP[klass], _REASON_GROUP[reason]
    risk = _risk_of(model, ecog, visceral, brain, prior_lines, cell, responder)
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

    # ---- T-DXd calendar: gap to next_start, duration (truncated so that next_start is before the
    #      cut-off), start in the published window with the calibrated density
    gap_mean = np.array(model.gap_days_mean)[reason]
    gap0_d = 7 + np.rint(rng.gamma(2.0, (gap_mean - 7) / 2.0)).astype(np.int64)
    gap0_d = np.minimum(gap0_d, calendar.latest_next - calendar.launch - 1)
    dmax = (calendar.latest_next - calendar.launch - gap0_d) / m
    f_max = 1.0 - np.exp(-((dmax / cal.tdxd_scale) ** model.tdxd_shape))
    w = cal.tdxd_scale * (-np.log1p(-rng.random(n) * f_max)) ** (1.0 / model.tdxd_shape)
    dur_d = np.clip(np.rint(w * m).astype(np.int64), 1, np.floor(dmax * m + 1e-9).astype(np.int64))
    s_upper = np.minimum(calendar.last_start, calendar.latest_next - dur_d - gap0_d)
    x_hi = np.clip((s_upper - calendar.launch + 1) / calendar.width, 0.0, 1.0)
    pos = ramp_ppf(rng.random(n) * ramp_cdf(x_hi, cal.accrual_ramp), cal.accrual_ramp)
    tdxd_start = calendar.launch + np.minimum(np.floor(pos * calendar.width).astype(np.int64),
                                              s_upper - calendar.launch)
    tdxd_end = tdxd_start + dur_d
    next_start = tdxd_end + gap0_d

    # ---- censoring: last contact before the cut-off, or lost to follow-up
    visit_lag = rng.integers(0, model.last_visit_days + 1, n)
    loss_d = np.rint(rng.exponential(365.25 / model.loss_rate_per_year, n)).astype(np.int64)
    cens_d = np.minimum(calendar.cutoff - visit_lag - next_start, loss_d)
    dead = d_d <= cens_d
    lf_d = np.where(dead, d_d, cens_d)

    prog_seen = ~death_first & (x_d <= lf_d)
    end_seen = tf_d <= lf_d
    s2_seen = has_s2 & (s2_d <= lf_d)

    response = _best_response(rng, model, cal, x, x_d, cens_d, prog_seen, measurable)

    # ---- ILD recurrence/exacerbation during the first post-T-DXd regimen, in exact numbers:
    #      among ILD stops (more often after grade >= 2) and among the others (whole-cohort rate)
    grade_idx = np.where(grade == -1, 3, np.maximum(grade, 1) - 1)
    rr = np.array(model.ild_recurrence_rr_by_grade)[grade_idx]
    k_ild = int(round(t.ild_recurrence_ild_stop * int(ild.sum())))
    k_all = int(round(t.ild_recurrence * n))
    recur = _pick(rng, ild, k_ild, rr) | _pick(rng, ~ild, max(k_all - k_ild, 0))
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
            "tdxd_ild_grade": pd.arrays.IntegerArray(np.maximum(grade, 0).astype(np.int64), grade <= 0),
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
            "prior_trastuzumab": prior_trastuzumab,
            "prior_pertuzumab": prior_pertuzumab,
            "prior_tdm1": prior_tdm1,
            "tdxd_best_response": pd.Categorical.from_codes(tdxd_response, categories=list(RESPONSES)),
        }
    )
    return df[list(REQUIRED_COLUMNS) + list(OPTIONAL_OUTPUT)]
