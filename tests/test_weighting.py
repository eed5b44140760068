"""Propensity-score weighting: weighted KM and Cox against live R, weights, balance, known truth.

R references are computed live with ``Rscript`` (survival from Debian); the tests skip with a
reason where R or the survival package is absent. Tolerance: 1e-6 relative (the hand-written
estimators follow survival's C code; the differences measured are ~1e-10).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from ensemble_helpers import adjust
from ensemble_helpers.adjust import AdjustmentError, balance, propensity, weight_summary, weights
from ensemble_helpers.endpoints import derive_adsl, derive_adtte
from ensemble_helpers.stats.weighted import weighted_cox, weighted_km_curve, weighted_km_summary
from ensemble_helpers.synthetic import CohortModel, generate_cohort

R_TOL = 1e-6


def _r_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    return subprocess.run(["Rscript", "-e", "library(survival)"], capture_output=True).returncode == 0


needs_r = pytest.mark.skipif(not _r_available(), reason="Rscript with the survival package is not installed")


def _rscript(code: str, data: pd.DataFrame, tmp_path) -> dict:
    path = tmp_path / "data.csv"
    data.to_csv(path, index=False)
    script = f'suppressMessages(library(survival)); d <- read.csv("{path}")\n{code}'
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _toy(n: int = 400, seed: int = 3) -> pd.DataFrame:
    """Tied times (whole numbers), two covariates, non-integer weights."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "t": np.round(rng.exponential(10, n)), "e": rng.binomial(1, 0.7, n), "g": rng.binomial(1, 0.4, n),
        "z": rng.normal(size=n), "w": rng.uniform(0.2, 4.0, n),
    })


# ----------------------------------------------------------------------------------------------
# against R


@needs_r
def test_weighted_cox_matches_r_coxph_robust(tmp_path):
    d = _toy()
    r = _rscript(
        'f <- coxph(Surv(t, e) ~ g + z, data = d, weights = w, robust = TRUE)\n'
        's <- summary(f, conf.int = 0.95)$conf.int\n'
        'cat(sprintf(\'{"coef": [%.15g, %.15g], "se": [%.15g, %.15g], "naive": [%.15g, %.15g], '
        '"lower": [%.15g, %.15g], "upper": [%.15g, %.15g]}\', coef(f)[1], coef(f)[2], '
        'sqrt(diag(f$var))[1], sqrt(diag(f$var))[2], sqrt(diag(f$naive.var))[1], sqrt(diag(f$naive.var))[2], '
        's[1, 3], s[2, 3], s[1, 4], s[2, 4]))',
        d, tmp_path,
    )
    got = weighted_cox(d, "t", "e", ["g", "z"], "w")
    np.testing.assert_allclose(got["coef"], r["coef"], rtol=R_TOL)
    np.testing.assert_allclose(got["hr"], np.exp(r["coef"]), rtol=R_TOL)
    np.testing.assert_allclose(got["se_robust"], r["se"], rtol=R_TOL)
    np.testing.assert_allclose(got["se_naive"], r["naive"], rtol=R_TOL)
    np.testing.assert_allclose(got["hr_lower"], r["lower"], rtol=R_TOL)
    np.testing.assert_allclose(got["hr_upper"], r["upper"], rtol=R_TOL)


@needs_r
def test_weighted_km_matches_r_survfit(tmp_path):
    d = _toy(seed=5)
    r = _rscript(
        'k <- survfit(Surv(t, e) ~ 1, data = d, weights = w, conf.type = "log-log")\n'
        'q <- quantile(k, 0.5)\n'
        'cat(sprintf(\'{"time": [%s], "surv": [%s], "se": [%s], "median": [%.15g, %.15g, %.15g]}\', '
        'paste(k$time, collapse = ","), paste(sprintf("%.15g", k$surv), collapse = ","), '
        'paste(sprintf("%.15g", k$std.err), collapse = ","), q$quantile, q$lower, q$upper))',
        d, tmp_path,
    )
    curve = weighted_km_curve(d["t"], d["e"], d["w"])
    np.testing.assert_array_equal(curve["time"], r["time"])
    np.testing.assert_allclose(curve["surv"], r["surv"], rtol=R_TOL, atol=1e-12)
    np.testing.assert_allclose(curve["std_err"], r["se"], rtol=R_TOL, atol=1e-12)
    med = weighted_km_summary(d["t"], d["e"], d["w"], ci_transform="log-log").iloc[0]
    assert [med["median"], med["median_lower"], med["median_upper"]] == pytest.approx(r["median"], rel=R_TOL)


@needs_r
def test_iptw_hr_end_to_end_matches_r(tmp_path):
    """Propensity (glm), stabilised weights and the weighted Cox HR of a synthetic cohort, as in R."""
    df = generate_cohort(n=1500, seed=8)
    adtte = derive_adtte(df)
    pfs = adtte[adtte["PARAMCD"] == "PFS"].merge(derive_adsl(df), on="patient_id")
    pfs = pfs[pfs["regimen_group"].isin(["tki", "antibody"])].reset_index(drop=True)
    pfs["event"] = (pfs["CNSR"] == 0).astype(int)
    fit = propensity(pfs, "regimen_group", ("tki", "antibody"), ["age", "brain_metastasis", "prior_lines"])
    w = weights(fit.scores, fit.treated, "ate")
    data = pd.DataFrame({"t": pfs["AVAL"], "e": pfs["event"], "tki": fit.treated.astype(int),
                         "age": pfs["age"], "brain": pfs["brain_metastasis"].astype(int),
                         "lines": pfs["prior_lines"].astype(str)})
    r = _rscript(
        'd$lines <- factor(d$lines, levels = sort(unique(d$lines)))\n'
        'ps <- fitted(glm(tki ~ age + brain + lines, data = d, family = binomial))\n'
        'p <- mean(d$tki); w <- ifelse(d$tki == 1, p / ps, (1 - p) / (1 - ps))\n'
        'f <- coxph(Surv(t, e) ~ tki, data = d, weights = w, robust = TRUE)\n'
        'cat(sprintf(\'{"ps": [%s], "hr": %.15g, "se": %.15g}\', paste(sprintf("%.15g", ps), collapse = ","), '
        'exp(coef(f)), sqrt(f$var[1, 1])))',
        data, tmp_path,
    )
    np.testing.assert_allclose(fit.scores.to_numpy(), r["ps"], rtol=R_TOL)
    hr = adjust.weighted_hr(pfs, fit, w).iloc[0]
    assert hr["hr"] == pytest.approx(r["hr"], rel=R_TOL)
    assert hr["se_robust"] == pytest.approx(r["se"], rel=R_TOL)


# ----------------------------------------------------------------------------------------------
# weights and diagnostics


def test_weights_by_hand():
    e = np.array([0.2, 0.5, 0.8, 0.4])
    t = np.array([True, False, True, False])
    assert weights(e, t, "overlap").tolist() == pytest.approx([0.8, 0.5, 0.2, 0.4])
    assert weights(e, t, "att").tolist() == pytest.approx([1.0, 1.0, 1.0, 0.4 / 0.6])
    assert weights(e, t, "ate").tolist() == pytest.approx([0.5 / 0.2, 0.5 / 0.5, 0.5 / 0.8, 0.5 / 0.6])
    with pytest.raises(AdjustmentError, match="weighting must be one of"):
        weights(e, t, "iptw")
    assert adjust.DEFAULT_WEIGHTING == "overlap"
    assert adjust.effective_sample_size([1.0, 1.0, 1.0, 1.0]) == 4.0
    assert adjust.effective_sample_size([1.0, 0.0, 0.0, 0.0]) == 1.0


@pytest.fixture(scope="module")
def confounded() -> pd.DataFrame:
    """PFS frame of TKI vs antibody patients in a cohort with no regimen effect and strong confounding."""
    model = CohortModel(confounding=3.0, regimen_effect=False)
    df = generate_cohort(n=30_000, seed=17, model=model)
    adsl = derive_adsl(df)
    frames = {}
    for paramcd in ("PFS", "OS"):
        f = derive_adtte(df).query("PARAMCD == @paramcd").merge(adsl, on="patient_id")
        f = f[f["regimen_group"].isin(["tki", "antibody"])].reset_index(drop=True)
        f["event"] = (f["CNSR"] == 0).astype(int)
        frames[paramcd] = f
    return frames


COVARIATES = ["age", "ecog", "hormone_receptor", "visceral_metastasis", "brain_metastasis", "prior_lines",
              "tdxd_discontinuation_reason", "tdxd_best_response"]


def test_overlap_weights_balance_every_covariate_exactly(confounded):
    frame = confounded["PFS"]
    fit = propensity(frame, "regimen_group", ("tki", "antibody"), COVARIATES)
    bal = balance(fit, weights(fit.scores, fit.treated, "overlap"))
    assert bal["smd_unweighted"].abs().max() > 0.3  # strong confounding
    assert bal["smd_weighted"].abs().max() < 1e-6  # exact mean balance (logistic model)
    for weighting in ("ate", "att"):
        assert balance(fit, weights(fit.scores, fit.treated, weighting))["balanced"].all(), weighting
    summary = weight_summary(fit, weights(fit.scores, fit.treated, "ate"))
    assert list(summary["group"]) == ["tki", "antibody"]
    assert (summary["ess"] <= summary["n"]).all() and (summary["ess"] > 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", ["PFS", "OS"])
def test_weighting_recovers_a_known_truth(confounded, endpoint):
    """No regimen effect (true HR 1) and strong confounding (30,000 patients, ~21,000 on a TKI or
    an antibody): the unadjusted HR is far from 1; the weighted HR's 95% CI contains 1 for every
    weighting, and its bias is under a quarter of the unadjusted one (under 0.05 on the log scale
    for the default, overlap weights)."""
    frame = confounded[endpoint]
    fit = propensity(frame, "regimen_group", ("tki", "antibody"), COVARIATES)
    unadjusted = adjust.weighted_hr(frame, fit, np.ones(len(frame))).iloc[0]
    assert unadjusted["hr_lower"] > 1.2  # far from the truth
    for weighting in adjust.WEIGHTINGS:
        hr = adjust.weighted_hr(frame, fit, weights(fit.scores, fit.treated, weighting)).iloc[0]
        assert hr["hr_lower"] <= 1.0 <= hr["hr_upper"], (weighting, hr.to_dict())
        assert abs(np.log(hr["hr"])) < abs(np.log(unadjusted["hr"])) / 4, (weighting, hr["hr"])
        if weighting == adjust.DEFAULT_WEIGHTING:
            assert abs(np.log(hr["hr"])) < 0.05, hr["hr"]


def test_propensity_errors():
    df = pd.DataFrame({"g": ["a", "b", "a", "c"], "x": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(AdjustmentError, match="outside"):
        propensity(df, "g", ("a", "b"), ["x"])
    with pytest.raises(AdjustmentError, match="no patient"):
        propensity(df[df["g"] == "a"], "g", ("a", "b"), ["x"])
    with pytest.raises(AdjustmentError, match="not an ADSL column"):
        propensity(df[df["g"] != "c"], "g", ("a", "b"), ["y"])


def test_diagnostic_figures(confounded):
    """Propensity histogram (suppressed bins not drawn) and love plot, one marker per covariate."""
    from ensemble_helpers.plots.balance import love_plot, propensity_plot

    frame = confounded["PFS"].iloc[:400].reset_index(drop=True)
    fit = propensity(frame, "regimen_group", ("tki", "antibody"), ["age", "brain_metastasis", "prior_lines"])
    ax = propensity_plot(fit.scores, fit.treated, fit.levels, min_cell_size=5)
    heights = [abs(p.get_height()) for p in ax.patches]
    assert heights and all(h == 0 or h >= 5 for h in heights)
    bal = balance(fit, weights(fit.scores, fit.treated))
    ax = love_plot(bal)
    assert len(ax.get_yticklabels()) == len(bal)
    assert ax.get_yticklabels()[0].get_text() == "Age, years"


# ----------------------------------------------------------------------------------------------
# adjust.compare / adjust.record: the report section's numbers


@pytest.fixture(scope="module")
def comparison_cohort(tmp_path_factory):
    from pathlib import Path

    from ensemble_helpers.cohort import load_cohort
    from ensemble_helpers.params import load_params
    from ensemble_helpers.synthetic import write_cohort

    path = tmp_path_factory.mktemp("adjust") / "cohort.csv"
    write_cohort(generate_cohort(n=900, n_sites=90, seed=4), path)
    params = load_params(Path(__file__).resolve().parents[1] / "params" / "tki_vs_antibody.yaml")
    return load_cohort(type(params)(**{**params.__dict__, "data_path": str(path)}))


def test_compare_gives_weighted_beside_unadjusted(comparison_cohort):
    from ensemble_helpers import analysis, stats

    cohort = comparison_cohort
    comp = adjust.compare(cohort, "regimen_group", ("tki", "antibody"), "overlap", adjustment=analysis.ADJUSTMENT)
    assert set(comp.hrs["method"]) == {"unadjusted", "covariate-adjusted", "weighted"}
    assert set(comp.medians["method"]) == {"unweighted", "weighted"}
    for ep in ("PFS", "OS"):
        frame = cohort.endpoint(ep)
        frame = frame[frame["regimen_group"].isin(["tki", "antibody"])].reset_index(drop=True)
        frame = frame.assign(regimen_group=pd.Categorical(frame["regimen_group"].astype(str),
                                                          categories=["antibody", "tki"]))
        want = stats.cox_hr(frame, "AVAL", "event", ["regimen_group"]).iloc[0]
        got = comp.hrs[(comp.hrs["endpoint"] == ep) & (comp.hrs["method"] == "unadjusted")].iloc[0]
        assert got["hr"] == pytest.approx(want["hr"], rel=1e-6)  # weights of 1: the plain Cox HR
        un = comp.medians[(comp.medians["endpoint"] == ep) & (comp.medians["method"] == "unweighted")]
        km = stats.km_summary_by(frame, "AVAL", "event", "regimen_group", timepoints=(), overall=False)
        assert sorted(un["median"]) == pytest.approx(sorted(km["median"]))
    # overlap weights: every design column balanced exactly
    assert comp.balance["smd_weighted"].abs().max() < 1e-6
    assert (comp.summary["ess"] <= comp.summary["n"]).all()


def test_record_writes_iptw_and_smd(comparison_cohort):
    from ensemble_helpers import analysis
    from ensemble_helpers.results import Results

    comp = adjust.compare(comparison_cohort, "regimen_group", ("tki", "antibody"), "ate",
                          adjustment=analysis.ADJUSTMENT)
    results = Results("03_subgroups")
    adjust.record(results, comp, 5)
    rec = results.frame()
    hr = rec[rec["analysis"] == "iptw_hr"]
    assert set(hr["endpoint"]) == {"PFS", "OS"} and set(hr["group"]) == {"regimen_group=tki"}
    weighted = comp.hrs[(comp.hrs["method"] == "weighted") & (comp.hrs["endpoint"] == "OS")].iloc[0]
    assert hr.loc[hr["endpoint"] == "OS", "estimate"].iloc[0] == pytest.approx(weighted["hr"])
    med = rec[rec["analysis"] == "iptw_km_median"]
    assert set(med["group"]) == {"regimen_group=tki", "regimen_group=antibody"} and len(med) == 4
    smd = rec[rec["analysis"] == "smd"]
    assert set(smd["group"]) == {"unweighted", "weighted"}
    shown = adjust.shown_balance(comp, 5)
    assert len(smd) == 2 * len(shown) and set(smd["endpoint"]) == set(shown["covariate"])
    # an indicator held by 1-4 patients of a group is not recorded
    small = comp.balance[(comp.balance[["n_compared", "n_reference"]].fillna(0).astype(int)
                          .apply(lambda c: c.between(1, 4))).any(axis=1)]
    assert not set(small["covariate"]) & set(smd["endpoint"])
