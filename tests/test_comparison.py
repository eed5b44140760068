"""The comparison's treatment-effect forest (issue 14.2): overall HR, HR within subgroup levels,
interaction likelihood-ratio test; against live R and by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ensemble_helpers import analysis, comparison, populations
from ensemble_helpers.cohort import load_cohort
from ensemble_helpers.params import load_params
from ensemble_helpers.results import Results
from ensemble_helpers.synthetic import generate_cohort, write_cohort
from tests.rlive import needs_r, run_r

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    path = tmp_path_factory.mktemp("comparison") / "cohort.csv"
    write_cohort(generate_cohort(n=700, n_sites=80, seed=21), path)
    params = load_params(ROOT / "params" / "tki_vs_antibody.yaml")
    params = type(params)(**{**params.__dict__, "data_path": str(path)})
    return populations.shaped_cohort(load_cohort(params))[0]


def test_comparison_frame_and_overall(cohort):
    frame = comparison.comparison_frame(cohort, "PFS")
    assert set(frame["regimen_group"].astype(str)) == {"tki", "antibody"}
    assert (frame[comparison.TREATED] == (frame["regimen_group"] == "tki")).all()
    overall, fits = comparison.overall_hr(cohort, "PFS", analysis.ADJUSTMENT)
    assert list(overall["model"]) == ["unadjusted", "adjusted"]
    un, adj = overall.iloc[0], overall.iloc[1]
    assert un["n"] == len(frame) and un["n_excluded"] == 0
    missing = frame[list(analysis.ADJUSTMENT)].isna().any(axis=1).sum()
    assert missing > 0 and adj["n_excluded"] == missing and adj["n"] == len(frame) - missing
    assert 0 <= un["zph_p"] <= 1
    assert [m for m, _ in fits] == ["unadjusted", "adjusted"]


@needs_r()
def test_forest_matches_r(tmp_path, cohort):
    variables = ["hormone_receptor", "discontinuation_group"]
    forest = comparison.subgroup_forest(cohort, "OS", variables)
    frame = comparison.comparison_frame(cohort, "OS")
    data = frame[["AVAL", "event", comparison.TREATED]].assign(
        hr=frame["hormone_receptor"].astype(str), dg=frame["discontinuation_group"].astype(str))
    r = run_r(tmp_path, """
f0 <- coxph(Surv(AVAL, event) ~ treated, data = d)
out("all", c(exp(coef(f0)), sqrt(vcov(f0)), cox.zph(f0)$table["treated", "p"]))
for (v in c("hr", "dg")) {
  d$s <- factor(d[[v]])
  a <- anova(coxph(Surv(AVAL, event) ~ treated + s, data = d), coxph(Surv(AVAL, event) ~ treated * s, data = d))
  out(paste0("lrt_", v), c(a$Chisq[2], a$Df[2], a[["Pr(>|Chi|)"]][2]))
  for (lv in levels(d$s)) {
    f <- coxph(Surv(AVAL, event) ~ treated, data = d[d$s == lv, ])
    ci <- exp(confint(f))
    out(paste0(v, "_", lv), c(exp(coef(f)), ci, cox.zph(f)$table["treated", "p"]))
  }
}
""", data)
    top = forest.iloc[0]
    assert top["is_overall"] and top["hr"] == pytest.approx(r["all"][0], rel=1e-6)
    assert top["weight"] == pytest.approx(1 / r["all"][1] ** 2, rel=1e-6)
    assert top["zph_p"] == pytest.approx(r["all"][2], rel=1e-6)
    for var, key in (("hormone_receptor", "hr"), ("discontinuation_group", "dg")):
        head = forest[(forest["variable"] == var) & forest["is_header"]].iloc[0]
        want = r[f"lrt_{key}"]
        assert head["interaction_chisq"] == pytest.approx(want[0], rel=1e-6)
        assert head["interaction_df"] == want[1]
        assert head["p"] == pytest.approx(want[2], rel=1e-6)
        for row in forest[(forest["variable"] == var) & ~forest["is_header"]].to_dict("records"):
            want = r[f"{key}_{row['level']}"]
            assert [row["hr"], row["hr_lower"], row["hr_upper"], row["zph_p"]] == pytest.approx(list(want), rel=1e-6)


def test_small_levels_pooled_or_left_without_estimate(cohort):
    frame = comparison.comparison_frame(cohort, "PFS")
    k = cohort.params.min_cell_size
    forest = comparison.subgroup_forest(cohort, "PFS", ["discontinuation_group", "ecog"])
    levels = forest[~forest["is_header"] & ~forest["is_overall"]]
    # every level shown holds >= k patients (hidden ones were pooled before fitting)
    assert (levels["n"] >= k).all()
    raw = frame["ecog"].value_counts()
    if (raw.between(1, k - 1)).any():
        assert any(" or " in str(lv) for lv in levels.loc[levels["variable"] == "ecog", "level"])
    # a level where a compared group is small has no estimate
    small = levels[(levels["n_compared"] < k) | (levels["n_reference"] < k)]
    assert small["hr"].isna().all() and (small["note"] == "too few patients").all()
    est = levels[levels["note"] == ""]
    assert np.allclose(est["weight"], 1 / est["se"] ** 2)


def test_records(cohort):
    results = Results("03_subgroups")
    forest = comparison.subgroup_forest(cohort, "PFS", ["hormone_receptor"])
    comparison.record_forest(results, forest, "PFS")
    rec = results.frame()
    sub = rec[rec["analysis"] == "subgroup_hr"]
    assert set(sub["group"]) == {"Overall", "hormone_receptor=positive", "hormone_receptor=negative"}
    inter = rec[rec["analysis"] == "interaction"].iloc[0]
    assert inter["group"] == "hormone_receptor" and inter["endpoint"] == "PFS"
    assert inter["p"] == pytest.approx(forest.loc[forest["is_header"], "p"].iloc[0])


def test_interaction_by_construction():
    """An effect only in one level: the within-level HRs differ and the interaction is strong."""
    rng = np.random.default_rng(1)
    n = 2000
    s = rng.integers(0, 2, n)
    t = rng.integers(0, 2, n).astype(float)
    rate = np.exp(np.log(3.0) * t * (s == 1))
    time = rng.exponential(1 / rate)
    frame = pd.DataFrame({"AVAL": np.minimum(time, 2.0), "event": (time < 2.0).astype(int),
                          comparison.TREATED: t, "s": np.where(s == 1, "b", "a")})
    test = comparison.interaction_test(frame, "s").iloc[0]
    assert test["df"] == 1 and test["p"] < 1e-10


def test_ph_tests_of_every_model_and_complete_cases(cohort):
    """cox.zph per term and global for each model; the adjusted model's excluded patients."""
    from ensemble_helpers import tables
    from ensemble_helpers.stats import cox_zph

    _, fits = comparison.overall_hr(cohort, "PFS", analysis.ADJUSTMENT)
    ph = analysis.ph_tests([({"endpoint": "PFS", "model": m}, f) for m, f in fits])
    adj = ph[ph["model"] == "adjusted"]
    assert list(adj["term"]) == [comparison.TREATED, *analysis.ADJUSTMENT, "GLOBAL"]
    want = cox_zph(fits[1][1]).table
    assert np.allclose(adj["p"], want["p"]) and (adj["flag"] == (adj["p"] < 0.05)).all()
    shown = tables.ph_table(ph, {comparison.TREATED: "TKI vs antibody"})
    assert shown["Term"].iloc[0] == "TKI vs antibody" and "Global" in set(shown["Term"])
    assert set(shown["Flag"]) <= {"", "p < 0.05"} and "cox.zph" in shown.attrs["footnote"]
    # subgroup sections: the adjusted model says how many patients it left out
    out = analysis.subgroup_analyses(cohort, "regimen_group")
    hr = out["hr"]
    adjusted = hr[hr["adjusted"]]
    frame = cohort.endpoint("PFS")
    missing = int(frame[list(analysis.ADJUSTMENT)].isna().any(axis=1).sum())
    assert (adjusted.loc[adjusted["endpoint"] == "PFS", "n_excluded"] == missing).all()
    assert (hr.loc[~hr["adjusted"], "n_excluded"] == 0).all()
    assert set(out["ph"]["model"]) == {"unadjusted", "adjusted"}
    table = tables.hr_table(adjusted, min_cell_size=5, show_counts=True)
    assert tables.EXCLUDED in table.columns
    results = Results("03_subgroups")
    analysis.record_subgroups(results, out, "regimen_group", ())
    rec = results.frame()
    cc = rec[rec["analysis"] == "complete_case"]
    assert set(cc["endpoint"]) == {"PFS", "OS"} and (cc.loc[cc["endpoint"] == "PFS", "estimate"] == missing).all()
    assert (rec["analysis"] == "cox_zph").sum() == len(out["ph"])


def test_hr_table_hides_a_small_exclusion():
    from ensemble_helpers import tables

    hr = pd.DataFrame({"variable": ["x"], "level": ["b"], "reference": ["a"], "hr": [1.2], "hr_lower": [0.9],
                       "hr_upper": [1.5], "p": [0.2], "n": [100], "events": [60], "n_excluded": [3]})
    row = tables.hr_table(hr, min_cell_size=5, show_counts=True).iloc[0]
    assert row["N"] == "≥5" and row[tables.EXCLUDED] == "<5"
    row = tables.hr_table(hr.assign(n_excluded=7), min_cell_size=5, show_counts=True).iloc[0]
    assert row["N"] == "100" and row[tables.EXCLUDED] == "7"


def test_subgroup_hr_table(cohort):
    from ensemble_helpers import tables

    forest = comparison.subgroup_forest(cohort, "PFS", ["hormone_receptor"])
    table = tables.subgroup_hr_table(forest, min_cell_size=5)
    assert list(table["Subgroup"])[:2] == ["All patients", "Hormone receptor"]
    assert table["Interaction p"].iloc[1] != "" and table["Interaction p"].iloc[0] == ""
    assert table.iloc[1, 3] == ""  # a variable's row has no HR


def test_report_sections_with_and_without_comparison(cohort):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ensemble_helpers import report

    results = Results("03_subgroups")
    html = report.adjusted_comparison(cohort, results).data
    for caption in ("weighted estimates", "Propensity scores and overlap weights", "Standardised mean differences"):
        assert caption in html
    assert len(plt.get_fignums()) >= 2  # propensity histogram and love plot
    rec = results.frame()
    assert {"iptw_hr", "iptw_km_median", "smd"} <= set(rec["analysis"])
    html = report.table_one(cohort).data
    assert "standardised mean differences" in html and "Yang &amp; Dalton" in html
    plt.close("all")
    plain = type(cohort)(**{**cohort.__dict__, "params": type(cohort.params)(**{**cohort.params.__dict__,
                                                                              "comparison": None})})
    assert "No comparison" in report.adjusted_comparison(plain, results).data
    assert "No comparison" in report.comparison_section(plain, results).data
    assert report.comparison_ph_figure(plain, "PFS") is None
    assert "standardised mean differences" not in report.table_one(plain).data
