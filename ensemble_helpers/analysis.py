"""The analyses of the EN-SEMBLE report, one function each, on a :class:`~ensemble_helpers.cohort.Cohort`.

This layer picks the right endpoint, population and parameters (confidence level, CI transform,
landmarks) and calls one :mod:`ensemble_helpers.stats` function; it returns tidy DataFrames that
notebooks pass to :mod:`ensemble_helpers.tables` and :mod:`ensemble_helpers.plots`, and records the
estimates in a :class:`~ensemble_helpers.results.Results`.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ensemble_helpers import stats
from ensemble_helpers.cohort import Cohort
from ensemble_helpers.describe import frequencies, patients_per_site, site_summary
from ensemble_helpers.endpoints import POST_TDXD_ENDPOINTS
from ensemble_helpers.published import compare_published
from ensemble_helpers.results import Results, group_name

__all__ = [  # re-exported so that notebooks import one module for numbers
    "frequencies",
    "patients_per_site",
    "site_summary",
]

#: Covariates of the adjusted Cox models (subgroups notebook).
ADJUSTMENT = ("age", "ecog", "hormone_receptor", "visceral_metastasis", "brain_metastasis", "prior_lines")

#: Rows of Table 1: the adjustment covariates and the reason T-DXd was stopped.
BASELINE_VARIABLES = (*ADJUSTMENT, "tdxd_discontinuation_reason")

#: Table 1 rows shown when the data file has them (optional contract columns), and the ILD grade
#: (among the patients who stopped T-DXd for ILD; missing otherwise or when unknown).
OPTIONAL_BASELINE = ("prior_trastuzumab", "prior_pertuzumab", "prior_tdm1", "tdxd_best_response", "tdxd_ild_grade")

#: Proportional-hazards tests with p below this are flagged.
PH_ALPHA = 0.05

#: Subgroup comparisons with published medians (regimen class, reason T-DXd stopped).
HEADLINE_SUBGROUPS = ("regimen_group", "discontinuation_group")


def survival_summaries(
    cohort: Cohort, endpoints: Sequence[str] = POST_TDXD_ENDPOINTS, by: str | None = None,
    overall: bool = True,
) -> pd.DataFrame:
    """Kaplan–Meier summaries (n, events, median with CI, landmark rates) of several endpoints.

    Parameters
    ----------
    cohort : Cohort
    endpoints : sequence of str
        PARAMCDs.
    by : str, optional
        ADSL column; one row per level (plus "Overall" when ``overall``).
    overall : bool
        Include the "Overall" row when ``by`` is given.

    Returns
    -------
    DataFrame
        ``endpoint``, ``group`` and the columns of :func:`ensemble_helpers.stats.km_summary`.
    """
    p = cohort.params
    pieces = []
    for paramcd in endpoints:
        df = cohort.endpoint(paramcd)
        if by is None:
            s = stats.km_summary(df["AVAL"], df["event"], conf_level=p.conf_level,
                                 ci_transform=p.ci_transform, timepoints=p.timepoints)
            s.insert(0, "group", "Overall")
        else:
            s = stats.km_summary_by(df, "AVAL", "event", by, conf_level=p.conf_level,
                                    ci_transform=p.ci_transform, timepoints=p.timepoints, overall=overall)
        s.insert(0, "endpoint", paramcd)
        pieces.append(s)
    return pd.concat(pieces, ignore_index=True)


def record_survival(results: Results, summaries: pd.DataFrame, by: str | None, timepoints: Iterable[float]) -> None:
    """Add the medians and landmark rates of :func:`survival_summaries` to ``results``."""
    for paramcd, part in summaries.groupby("endpoint", sort=False, observed=True):
        results.add_km(part, str(paramcd), variable=by, timepoints=timepoints)


def proportions(cohort: Cohort, column: str, method: str = "clopper-pearson") -> pd.DataFrame:
    """Share of patients in each level of ``column`` with an exact CI.

    Returns
    -------
    DataFrame
        ``group`` (level), ``successes``, ``n``, ``estimate``, ``lower``, ``upper``.
    """
    freq = frequencies(cohort.adsl, column)
    total = int(freq["n"].sum())
    rows = []
    for level, k in zip(freq["level"], freq["n"]):
        ci = stats.proportion_ci(int(k), total, method=method, conf_level=cohort.params.conf_level).iloc[0]
        rows.append({"group": level, "successes": int(k), "n": total, "estimate": ci["estimate"],
                     "lower": ci["lower"], "upper": ci["upper"]})
    return pd.DataFrame(rows)


def record_cohort_counts(results: Results, cohort: Cohort) -> None:
    """Headline counts and shares of the cohort (patients, sites, reasons, regimen classes)."""
    adsl = cohort.adsl
    results.add("count", "patients", n=len(adsl), estimate=len(adsl), unit="count")
    results.add("count", "sites", n=len(adsl), estimate=int(adsl["site_id"].nunique()), unit="count")
    for column in ("tdxd_discontinuation_reason", "next_class", "anti_her2", "regimen_group", "discontinuation_group"):
        table = proportions(cohort, column)
        for row in table.to_dict("records"):
            results.add("proportion", column, group_name(column, row["group"]), n=row["n"],
                        events=row["successes"], estimate=row["estimate"], lower=row["lower"],
                        upper=row["upper"], unit="proportion")


def response(cohort: Cohort, by: str | None = None) -> pd.DataFrame:
    """ORR and disease control rate among patients with measurable disease (exact CIs)."""
    return stats.response_summary(cohort.adsl, by=by, conf_level=cohort.params.conf_level)


def ild_population(cohort: Cohort) -> pd.DataFrame:
    """ILDREC analysis frame of the patients whose T-DXd was stopped for ILD."""
    frame = cohort.endpoint("ILDREC")
    return frame[frame["tdxd_discontinuation_reason"] == "ild"].reset_index(drop=True)


def ild_recurrence_rate(cohort: Cohort) -> pd.DataFrame:
    """Crude rate of ILD recurrence/exacerbation among patients stopped for ILD (exact CI).

    Returns
    -------
    DataFrame
        One row: ``measure``, ``successes``, ``n``, ``estimate``, ``lower``, ``upper``.
    """
    ild = ild_population(cohort)
    k = int((ild["EVENT"] == 1).sum())
    out = stats.proportion_ci(k, len(ild), conf_level=cohort.params.conf_level)
    out.insert(0, "group", "ild")
    out.insert(0, "measure", "ILD recurrence")
    return out


def ild_cumulative_incidence(cohort: Cohort) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aalen–Johansen cumulative incidence of ILD recurrence, death competing.

    Returns
    -------
    (DataFrame, DataFrame)
        The curve and the rates at the parameter file's timepoints.
    """
    ild = ild_population(cohort)
    p = cohort.params
    curve = stats.cumulative_incidence(ild, "AVAL", "EVENT", event_code=1, competing_code=2, conf_level=p.conf_level)
    at = stats.cumulative_incidence_at(ild, "AVAL", "EVENT", timepoints=p.timepoints, event_code=1,
                                       competing_code=2, conf_level=p.conf_level)
    return curve, at


def followup(cohort: Cohort, endpoint: str = "OS") -> pd.DataFrame:
    """Median follow-up by reverse Kaplan–Meier of ``endpoint`` (default OS from next_start)."""
    df = cohort.endpoint(endpoint)
    return stats.followup_median(df["AVAL"], df["event"], conf_level=cohort.params.conf_level)


def _min_patients(cohort: Cohort) -> int:
    """Smallest group whose estimates are shown: the parameter file's ``min_cell_size`` (or 1)."""
    return max(1, cohort.params.min_cell_size or 1)


def usable_levels(adsl: pd.DataFrame, variable: str, min_patients: int = 1) -> list:
    """Levels of ``variable`` with at least ``min_patients`` patients, in category order."""
    freq = frequencies(adsl, variable, dropna=True)
    levels = [lvl for lvl, n in zip(freq["level"], freq["n"]) if n >= min_patients]
    if pd.api.types.is_bool_dtype(adsl[variable]):
        levels = sorted(levels)  # False ("No") first: the natural reference
    return levels


def hazard_model(
    cohort: Cohort, endpoint: str, variable: str, adjust_for: Sequence[str] = (), reference=None,
) -> tuple[pd.DataFrame, "stats.CoxFit | None"]:
    """:func:`hazard_ratios` and the fitted model (None when fewer than two levels have patients),
    for its proportional-hazards test (:func:`ph_tests`) and complete-case counts
    (``fit.n_excluded``)."""
    df = cohort.endpoint(endpoint)
    # levels smaller than min_cell_size are left out: their estimates are not shown anywhere
    levels = usable_levels(df, variable, min_patients=_min_patients(cohort))
    if len(levels) < 2:
        return pd.DataFrame(columns=["term", "variable", "level", "reference", "hr", "hr_lower", "hr_upper", "p",
                                     "n", "events", "n_excluded", "adjusted", "note"]), None
    covariates = [variable, *[c for c in adjust_for if c != variable]]
    df = df[["AVAL", "event", *covariates]]  # only what the model uses: no copy of the rest
    keep = df[variable].isin(levels)
    if not keep.all():
        df = df[keep]
    # dummy-code the compared variable (booleans included) against its reference level
    df = df.assign(**{variable: pd.Categorical(df[variable], categories=levels)})
    ref = {variable: reference if reference is not None else levels[0]}
    fit = stats.cox_fit(df, "AVAL", "event", covariates, reference=ref, conf_level=cohort.params.conf_level)
    hr = fit.table
    notes = " ".join(hr.attrs.get("notes", ()))
    hr = hr[hr["variable"] == variable].copy()
    hr["n_excluded"] = fit.n_excluded  # patients left out for a missing covariate (complete cases)
    hr["adjusted"] = bool(adjust_for)
    hr["note"] = notes  # a column (not attrs): it survives the concat and groupby of the report
    return hr.reset_index(drop=True), fit


def hazard_ratios(
    cohort: Cohort, endpoint: str, variable: str, adjust_for: Sequence[str] = (), reference=None,
) -> pd.DataFrame:
    """Cox hazard ratios of the levels of ``variable`` (unadjusted, or adjusted for covariates).

    Levels without patients are dropped first; the reference is the first remaining level unless
    given. Returns the :func:`ensemble_helpers.stats.cox_hr` rows of ``variable`` only, with
    ``n_excluded`` (patients left out for a missing covariate: complete-case analysis), an
    ``adjusted`` flag and a ``note`` (the model's caveats, ``cox_hr(...).attrs["notes"]``, joined;
    "" when none, shown by :func:`ensemble_helpers.tables.hr_table` as a footnote); an empty
    frame when fewer than two levels have patients.
    """
    return hazard_model(cohort, endpoint, variable, adjust_for, reference)[0]


def ph_tests(models: Sequence[tuple[Mapping[str, Any], "stats.CoxFit"]]) -> pd.DataFrame:
    """Proportional-hazards tests (R ``cox.zph``, transform "km") of several Cox models.

    Parameters
    ----------
    models : sequence of (dict, CoxFit)
        Each model's description (e.g. ``{"endpoint": "PFS", "model": "adjusted"}``: these keys
        become the first columns) and its fit.

    Returns
    -------
    DataFrame
        The description columns, ``term`` (each model term, then ``GLOBAL``), ``chisq``, ``df``,
        ``p``, ``flag`` (p < 0.05). A model that cannot be tested (no event) has no rows.
    """
    pieces = []
    for desc, fit in models:
        if fit is None:
            continue
        try:
            table = stats.cox_zph(fit).table
        except (stats.StatsInputError, np.linalg.LinAlgError):
            continue
        for key, value in reversed(list(desc.items())):
            table.insert(0, key, value)
        pieces.append(table)
    if not pieces:
        return pd.DataFrame(columns=[*(models[0][0] if models else {}), "term", "chisq", "df", "p", "flag"])
    out = pd.concat(pieces, ignore_index=True)
    out["flag"] = out["p"] < PH_ALPHA
    return out


def forest_table(cohort: Cohort, endpoint: str, variables: Sequence[str]) -> pd.DataFrame:
    """Rows for a subgroup forest plot: per variable a header row, the reference and each level.

    Each level's n and events come from the data; its HR is the unadjusted Cox HR versus the
    variable's first level with at least ``min_cell_size`` patients. Smaller levels are listed
    with the note "too few patients" and no estimate; variables with fewer than two such levels
    get the note "one level only" and no estimate.

    Returns
    -------
    DataFrame
        ``label``, ``variable``, ``level``, ``n``, ``events``, ``hr``, ``hr_lower``, ``hr_upper``,
        ``p``, ``is_header``, ``note``.
    """
    from ensemble_helpers.labels import label

    df = cohort.endpoint(endpoint)
    smallest = _min_patients(cohort)
    rows = []
    for var in variables:
        if var not in df.columns:
            raise KeyError(f"subgroup variable {var!r} is not an ADSL column")
        present = usable_levels(df, var)
        levels = [lvl for lvl in present if int((df[var] == lvl).sum()) >= smallest]
        hr = hazard_ratios(cohort, endpoint, var) if len(levels) >= 2 else pd.DataFrame(columns=["level"])
        by_level = {str(r["level"]): r for r in hr.to_dict("records")}
        note = "" if len(levels) >= 2 else "one level only: no comparison"
        rows.append({"label": label(var), "variable": var, "level": None, "n": np.nan, "events": np.nan,
                     "hr": np.nan, "hr_lower": np.nan, "hr_upper": np.nan, "p": np.nan,
                     "is_header": True, "note": note})
        for lvl in present:
            sub = df[df[var] == lvl]
            est = by_level.get(str(lvl))
            is_ref = len(levels) >= 2 and lvl == levels[0]
            row_note = "reference" if is_ref else ("too few patients" if lvl not in levels else "")
            rows.append({
                "label": f"  {label(lvl)}", "variable": var, "level": lvl, "n": len(sub),
                "events": int(sub["event"].sum()),
                "hr": 1.0 if is_ref else (est["hr"] if est is not None else np.nan),
                "hr_lower": est["hr_lower"] if est is not None else np.nan,
                "hr_upper": est["hr_upper"] if est is not None else np.nan,
                "p": est["p"] if est is not None else np.nan,
                "is_header": False, "note": row_note,
            })
    return pd.DataFrame(rows)


def logrank_by(cohort: Cohort, endpoint: str, variable: str) -> pd.DataFrame:
    """Log-rank test of ``endpoint`` across the levels of ``variable`` with at least
    ``min_cell_size`` patients: like :func:`hazard_model`, no test statistic depends on a group
    whose size is hidden (its ``n`` and ``events`` are those of the groups tested)."""
    df = cohort.endpoint(endpoint)
    keep = df[variable].isin(usable_levels(df, variable, min_patients=_min_patients(cohort))).to_numpy()
    return stats.logrank(df if keep.all() else df[keep], "AVAL", "event", variable)


def baseline_variables(adsl: pd.DataFrame) -> tuple[str, ...]:
    """Rows of Table 1: :data:`BASELINE_VARIABLES` and the :data:`OPTIONAL_BASELINE` columns present."""
    return BASELINE_VARIABLES + tuple(c for c in OPTIONAL_BASELINE if c in adsl.columns)


def observed_followup(cohort: Cohort) -> float:
    """Median observed follow-up, months: from next_start to death or last contact (OS time).

    The plain median of the observation times, as the study reports its follow-up ("12.0 months,
    range 0.3-36.2"); :func:`followup` gives the reverse Kaplan–Meier median instead.
    """
    return float(np.median(cohort.endpoint("OS")["AVAL"].to_numpy()))


def record_baseline(results: Results, cohort: Cohort) -> None:
    """Estimates of the published baseline figures (``published.yaml``), at the start of the
    first post-T-DXd regimen: medians of age and prior lines, shares with exact CIs, the ILD
    grades, the anti-HER2 share and ILD recurrence among the ILD stops, the whole-cohort ILD
    recurrence rate and the median observed follow-up. Optional columns absent from the data are
    skipped."""
    adsl = cohort.adsl
    n = len(adsl)
    conf = cohort.params.conf_level

    def share(endpoint: str, group: str, mask: pd.Series, denominator: int) -> None:
        if denominator == 0:
            return
        k = int(mask.sum())
        ci = stats.proportion_ci(k, denominator, conf_level=conf).iloc[0]
        results.add("proportion", endpoint, group, n=denominator, events=k, estimate=ci["estimate"],
                    lower=ci["lower"], upper=ci["upper"], unit="proportion")

    results.add("median", "age", n=n, estimate=float(adsl["age"].median()), unit="years")
    results.add("median", "prior_lines", n=n, estimate=float(adsl["prior_lines"].median()), unit="lines")
    share("ecog", "ecog=0-1", adsl["ecog"].isin([0, 1]), n)
    for col in ("visceral_metastasis", "brain_metastasis", "prior_trastuzumab", "prior_pertuzumab", "prior_tdm1"):
        if col in adsl.columns:
            share(col, group_name(col, True), adsl[col].fillna(False).astype(bool), n)
    ild = (adsl["tdxd_discontinuation_reason"] == "ild").to_numpy()
    grade = adsl["tdxd_ild_grade"]
    n_ild = int(ild.sum())
    for g in (1, 2, 3):
        share("tdxd_ild_grade", group_name("tdxd_ild_grade", g), ild & grade.eq(g).fillna(False).to_numpy(), n_ild)
    share("tdxd_ild_grade", "tdxd_ild_grade=unknown", ild & grade.isna().to_numpy(), n_ild)
    share("anti_her2", group_name("tdxd_discontinuation_reason", "ild"), ild & adsl["anti_her2"].to_numpy(), n_ild)
    share("ILD recurrence", "Overall", adsl["ild_recurrence"], n)
    results.add("followup_observed", "OS", n=n, estimate=observed_followup(cohort), unit="months")


def record_headlines(results: Results, cohort: Cohort) -> None:
    """Every estimate of a published headline figure not yet in ``results``.

    Adds the cohort counts and shares, the baseline figures (:func:`record_baseline`) and the
    PFS/OS medians by regimen group and by reason T-DXd was stopped (the overall medians, ORR and
    ILD rate among ILD stops are recorded where they are shown).
    """
    record_cohort_counts(results, cohort)
    record_baseline(results, cohort)
    record_survival(results, survival_summaries(cohort, ["TDXDDUR"]), None, ())
    for var in HEADLINE_SUBGROUPS:
        summ = survival_summaries(cohort, ["PFS", "OS"], by=var, overall=False)
        record_survival(results, summ, var, ())


def compare_with_published(results: Results) -> pd.DataFrame:
    """Published headline figures beside this run's estimates (see :mod:`ensemble_helpers.published`)."""
    return compare_published(results.frame())


def subgroup_analyses(cohort: Cohort, variable: str, endpoints: Sequence[str] = ("PFS", "OS")) -> dict[str, pd.DataFrame]:
    """Medians, log-rank tests and Cox HRs (unadjusted and adjusted) of ``endpoints`` by ``variable``.

    Returns
    -------
    dict
        ``"summaries"`` (km by group), ``"logrank"`` (one row per endpoint), ``"hr"`` (one row per
        endpoint, level and adjustment; empty when fewer than two levels have patients; with
        ``n_excluded``), ``"ph"`` (:func:`ph_tests` of every model).
    """
    summaries = survival_summaries(cohort, endpoints, by=variable)
    tests, hrs, fits = [], [], []
    for ep in endpoints:
        lr = logrank_by(cohort, ep, variable)
        lr.insert(0, "endpoint", ep)
        tests.append(lr)
        for adjust in ((), ADJUSTMENT):
            hr, fit = hazard_model(cohort, ep, variable, adjust_for=adjust)
            hr.insert(0, "endpoint", ep)
            hrs.append(hr)
            fits.append(({"endpoint": ep, "model": "adjusted" if adjust else "unadjusted"}, fit))
    hr_all = pd.concat([h for h in hrs if not h.empty], ignore_index=True) if any(not h.empty for h in hrs) else hrs[0]
    return {"summaries": summaries, "logrank": pd.concat(tests, ignore_index=True), "hr": hr_all,
            "ph": ph_tests(fits)}


def record_subgroups(results: Results, analyses: dict[str, pd.DataFrame], variable: str, timepoints: Iterable[float]) -> None:
    """Add the output of :func:`subgroup_analyses` to ``results``."""
    record_survival(results, analyses["summaries"], variable, timepoints)
    for row in analyses["logrank"].to_dict("records"):
        results.add("logrank", row["endpoint"], variable, n=row["n"], events=row["events"],
                    estimate=row["statistic"], p=row["p"], unit="chisq")
    hr = analyses["hr"]
    for (ep, adjusted), part in hr.groupby(["endpoint", "adjusted"], sort=False):
        results.add_hr(part, str(ep), analysis="cox_hr_adjusted" if adjusted else "cox_hr")
        if adjusted:
            record_excluded(results, str(ep), f"{variable} adjusted", int(part["n_excluded"].iloc[0]))
    record_ph(results, analyses["ph"], variable)


def record_excluded(results: Results, endpoint: str, model: str, excluded: int) -> None:
    """``analysis: "complete_case"``: patients an adjusted model left out for a missing covariate
    (``n`` = ``estimate`` = the count; the model's own record has the patients used)."""
    results.add("complete_case", endpoint, model, n=excluded, estimate=excluded, unit="count")


def record_ph(results: Results, ph: pd.DataFrame, model: str) -> None:
    """``analysis: "cox_zph"`` records: ``endpoint``, ``group`` = ``"<model>|<term>"`` (the model
    description, e.g. ``regimen_group adjusted``), ``estimate`` = chi-square, ``p``."""
    for row in ph.to_dict("records"):
        results.add("cox_zph", str(row["endpoint"]), f"{model} {row['model']}|{row['term']}",
                    estimate=row["chisq"], p=row["p"], unit="chisq")
