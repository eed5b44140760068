"""The study's clinical questions (ensemble_helpers.clinical, issue 17): hand-built cohorts with
answers worked out by hand, the disclosure rules, populations where a section does not apply, and
live R references (survfit, coxph with the stated reference, survdiff, cmprsk::cuminc, binom.test)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from ensemble_helpers import clinical, populations, report
from ensemble_helpers.cohort import load_cohort
from ensemble_helpers.endpoints import DAYS_PER_MONTH
from ensemble_helpers.params import params_from_mapping
from ensemble_helpers.results import Results
from ensemble_helpers.synthetic import generate_cohort, write_cohort
from factories import patient, write_csv
from rlive import needs_r, run_r

matplotlib.use("Agg")

NEXT_START = pd.Timestamp("2022-09-15")


def _day(days: int) -> str:
    return (NEXT_START + pd.Timedelta(days=days)).strftime("%Y-%m-%d")


def _hand_patients() -> list[dict]:
    """20 patients; PFS = progression at the listed day after next_start, nobody censored.

    * responders stopped for progression (5): progression at 30, 60, 90, 120, 150 days;
    * ILD grade 1 (5, CR): 60 ... 300 days; 4 anti-HER2 next; one ILD recurrence;
    * ILD grade 2 (5, PR): 90 ... 450 days; all anti-HER2 next; no recurrence;
    * ILD grade unknown (2, SD: non-responders stopped for an adverse event);
    * non-responders stopped for progression (3, SD).
    """
    rows = []

    def group(n, days, **fixed):
        extra = fixed.pop("per_patient", lambda i: {})
        for i in range(n):
            pid = f"P{len(rows) + 1:02d}"
            rec = patient(patient_id=pid, site_id=f"S{len(rows) % 4}", next_end="2024-01-01",
                          second_next_start="2024-01-10", last_followup="2024-03-01",
                          progression_date=_day(days[i]), **fixed)
            rec.update(extra(i))
            rows.append(rec)

    group(5, [30, 60, 90, 120, 150], tdxd_best_response="PR")
    group(5, [60, 120, 180, 240, 300], tdxd_best_response="CR", tdxd_discontinuation_reason="ild", tdxd_ild_grade=1,
          per_patient=lambda i: {"next_class": "chemotherapy" if i == 0 else "anti_her2_antibody",
                                 "ild_recurrence_date": _day(45) if i == 1 else None})
    group(5, [90, 180, 270, 360, 450], tdxd_best_response="PR", tdxd_discontinuation_reason="ild", tdxd_ild_grade=2,
          next_class="anti_her2_tki")
    group(2, [100, 200], tdxd_best_response="SD", tdxd_discontinuation_reason="ild")
    group(3, [20, 40, 50], tdxd_best_response="SD")
    return rows


def _cohort(path: Path, **params):
    values = {"title": "test", "data_path": str(path), "timepoints": [3, 6], "min_cell_size": 5, **params}
    return populations.shaped_cohort(load_cohort(params_from_mapping(values)))[0]


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    path = write_csv(tmp_path_factory.mktemp("clinical"), *_hand_patients())
    return _cohort(path)


def _text(shown) -> str:
    return shown.data if hasattr(shown, "data") else str(shown)


def test_hand_cohort_groups(hand):
    adsl = hand.adsl
    sizes = clinical.group_sizes(adsl, "tdxd_response_by_stop")
    assert sizes == {"responder_progression": 5, "responder_adverse_event": 10,
                     "non_responder_progression": 3, "non_responder_adverse_event": 2}
    assert clinical.shown_and_hidden(sizes, 5) == (("responder_progression", "responder_adverse_event"),
                                                   ("non_responder_progression", "non_responder_adverse_event"))


def test_survival_by_response_and_stop_medians_by_hand(hand):
    res = clinical.survival_by(hand, "tdxd_response_by_stop", clinical.RESPONSE_REFERENCE, endpoints=("PFS",))
    s = res.summaries.set_index("group")
    # five progressions at 30..150 days: the median is the third, 90 days
    assert s.loc["responder_progression", "median"] == pytest.approx(90 / DAYS_PER_MONTH)
    # ten ILD stops at 60 90 120 180 180 240 270 300 360 450 days: S = 0.5 exactly from 180 to 240
    # days, so the median is their midpoint (R's rule), 210 days
    assert s.loc["responder_adverse_event", "median"] == pytest.approx(210 / DAYS_PER_MONTH)
    assert res.reference == "responder_progression" and res.preferred == "responder_progression"
    assert res.shown == ("responder_progression", "responder_adverse_event")
    assert res.hidden == ("non_responder_progression", "non_responder_adverse_event")
    # the model and the log-rank test use the two shown groups only (15 patients, 5 left out)
    hr = res.hr.iloc[0]
    assert (hr["level"], hr["reference"], hr["n"], hr["events"], hr["n_excluded"]) == (
        "responder_adverse_event", "responder_progression", 15, 15, 5)
    assert hr["hr"] < 1  # the ILD stops progressed later
    assert res.logrank.iloc[0]["n"] == 15 and res.logrank.iloc[0]["df"] == 1


def test_reference_falls_back_when_the_stated_one_is_too_small(hand):
    res = clinical.survival_by(hand, "tdxd_response_by_stop", "non_responder_progression", endpoints=("PFS",))
    assert res.reference == "responder_progression"
    assert clinical.pick_reference([], "x") is None


def test_response_section_suppresses_small_groups(hand):
    results = Results("04_clinical_questions")
    html = _text(report.response_stop_section(hand, results))
    assert "Not shown (fewer than 5 patients or events: min_cell_size): estimates of Non-responder, stopped for " \
           "progression, Non-responder, stopped for adverse event." in html
    assert html.count("too few patients") == 2 * 2 * 3  # PFS and OS: median and two rates of each hidden group
    assert "&lt;5" in html
    assert "versus Responder, stopped for progression (reference)" in html
    rec = results.frame()
    hr = rec[(rec["analysis"] == "cox_hr") & (rec["endpoint"] == "PFS")]
    assert list(hr["group"]) == ["tdxd_response_by_stop=responder_adverse_event"]


def test_ild_grade_and_retreatment_by_hand(hand):
    ild = clinical.ild_stops(hand)
    assert len(ild.adsl) == 12 and set(ild.adtte["patient_id"]) == set(ild.adsl["patient_id"])
    assert list(ild.adsl["ild_grade_group"].cat.categories) == ["grade_1", "grade_2", "grade_unknown"]
    share = clinical.anti_her2_share(ild).set_index("group")
    assert share.loc["Overall", ["successes", "n"]].tolist() == [11, 12]  # 4 + 5 + 2 (base class antibody)
    assert share.loc["grade_1", ["successes", "n"]].tolist() == [4, 5]
    assert share.loc["grade_1", "estimate"] == pytest.approx(0.8)
    rates = clinical.recurrence_rates(ild, "ild_grade_group").set_index("group")
    assert rates.loc["Overall", ["successes", "n"]].tolist() == [1, 12]
    assert rates.loc["grade_2", ["successes", "n", "estimate", "upper"]].tolist() == pytest.approx(
        [0, 5, 0.0, 1 - 0.025 ** (1 / 5)])  # Clopper-Pearson upper limit for 0 of 5
    by_retreat = clinical.recurrence_rates(ild, clinical.RETREATMENT).set_index("group")
    assert by_retreat.loc["anti_her2_next", ["successes", "n"]].tolist() == [1, 11]
    _, at = clinical.recurrence_incidence(ild, "ild_grade_group")
    g1 = at[at["group"] == "grade_1"].set_index("measure")
    # the recurrence at 45 days (1.48 months) is before 3 months; nobody died: 1/5 = 0.2
    assert g1.loc["Cumulative incidence at 3 months", ["successes", "n", "estimate"]].tolist() == pytest.approx(
        [1, 5, 0.2])


def test_ild_sections_say_what_they_cannot_show(hand):
    results = Results("04_clinical_questions")
    grade = _text(report.ild_grade_section(hand, results))
    assert "estimates of Grade unknown." in grade and "versus Grade 1 (reference)" in grade
    recur = _text(report.ild_recurrence_by(hand, results, "ild_grade_group"))
    # one recurrence: no rate of grade 1 (nor the overall one) is shown, nor its curve; grade 2's flat
    # curve (no recurrence among 5) may be drawn
    assert ("Not shown (fewer than 5 patients or events: min_cell_size): rates of Overall, Grade 1, Grade unknown; "
            "cumulative incidence curve of Grade 1, Grade unknown.") in recur
    assert "0.0% (0.0–52.2)" in recur  # grade 2: 0 of 5 may be shown (zero is not a small count)
    # only rates shown in the report are recorded: grade 2's 0 of 5, not the overall 1 of 12
    rec = results.frame()
    recurrence = rec[rec["endpoint"].str.startswith("ILD recurrence")]
    assert recurrence[["group", "events", "n"]].values.tolist() == [["ild_grade_group=grade_2", 0, 5]]
    km = rec[rec["analysis"] == "km_median"]
    assert set(km["group"]) == {"ild_grade_group=grade_1", "ild_grade_group=grade_2"}  # not grade unknown (2)
    share = _text(report.anti_her2_after_ild(hand, results))
    assert "share of Grade 1, Grade unknown." in share  # 4 of 5 re-treated: a count below 5


def test_sections_without_ild_stops_or_best_response(tmp_path):
    rows = [r for r in _hand_patients() if r["tdxd_discontinuation_reason"] != "ild"]
    for r in rows:
        r.pop("tdxd_best_response")
    cohort = _cohort(write_csv(tmp_path, *rows))
    assert "tdxd_best_response" not in cohort.adsl.columns
    results = Results("04_clinical_questions")
    assert _text(report.response_stop_section(cohort, results)).count(
        "PFS and OS by response to T-DXd cannot be shown: the data file has no best response to T-DXd") == 1
    assert report.km_figure(cohort, "PFS", by="tdxd_response_by_stop") is None
    for shown in (report.ild_grade_section(cohort, results), report.anti_her2_after_ild(cohort, results),
                  report.ild_recurrence_by(cohort, results, "ild_grade_group"),
                  report.ild_recurrence_by(cohort, results, clinical.RETREATMENT)):
        assert _text(shown).count("no patient stopped T-DXd for ILD") == 1
        assert "<table" not in _text(shown)
    assert report.ild_km_figure(cohort, "PFS") is None
    assert results.frame().empty


def test_rate_by_and_withheld():
    frame = pd.DataFrame({"g": pd.Categorical(["a"] * 6 + ["b"] * 3, categories=["a", "b", "c"]),
                          "flag": [True] * 2 + [False] * 4 + [True] * 3})
    out = clinical.rate_by(frame, "flag", "g", "m")
    assert out[["group", "successes", "n"]].values.tolist() == [["Overall", 5, 9], ["a", 2, 6], ["b", 3, 3]]
    assert clinical.withheld(out, 5) == ["a", "b"]
    assert clinical.withheld(out, None) == []
    assert clinical.withheld_sentence({"x": []}, 5) is None


# ---------------------------------------------------------------------------------------------
# live R references


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    path = tmp_path_factory.mktemp("clinical_r") / "cohort.csv"
    write_cohort(generate_cohort(n=500, n_sites=60, seed=5), path)
    return _cohort(path)


@needs_r()
def test_survival_by_matches_r(synthetic, tmp_path):
    """Medians (log-log CI) by group, Cox HR versus the stated reference, log-rank over the shown
    groups: R survfit / coxph(relevel) / survdiff."""
    res = clinical.survival_by(synthetic, "tdxd_response_by_stop", clinical.RESPONSE_REFERENCE, endpoints=("PFS",))
    frame = synthetic.endpoint("PFS")
    data = frame.loc[frame["tdxd_response_by_stop"].isin(res.shown), ["AVAL", "event", "tdxd_response_by_stop"]]
    data = data.assign(g=data["tdxd_response_by_stop"].astype(str))[["AVAL", "event", "g"]]
    levels = [str(x) for x in res.shown]
    r = run_r(tmp_path, f"""
        d$g <- factor(d$g, levels = c({", ".join(repr(x) for x in levels)}))
        fit <- survfit(Surv(AVAL, event) ~ g, data = d, conf.type = "log-log")
        tab <- summary(fit)$table
        out("median", tab[, "median"]); out("lower", tab[, "0.95LCL"]); out("upper", tab[, "0.95UCL"])
        d$g <- relevel(d$g, ref = "{res.reference}")
        cx <- coxph(Surv(AVAL, event) ~ g, data = d, ties = "efron")
        out("hr", exp(coef(cx))); out("hr_lower", exp(confint(cx))[, 1])
        lr <- survdiff(Surv(AVAL, event) ~ g, data = d)
        out("chisq", lr$chisq)
    """, data)
    s = res.summaries.set_index("group").loc[list(res.shown)]
    np.testing.assert_allclose(s["median"], r["median"], rtol=1e-9)
    np.testing.assert_allclose(s["median_lower"], r["lower"], rtol=1e-9)
    np.testing.assert_allclose(s["median_upper"], r["upper"], rtol=1e-9)
    others = [x for x in levels if x != res.reference]  # R's coefficient order after relevel
    hr = res.hr.set_index("level").loc[others]
    np.testing.assert_allclose(hr["hr"], r["hr"], rtol=1e-6)
    np.testing.assert_allclose(hr["hr_lower"], r["hr_lower"], rtol=1e-6)
    assert res.logrank.iloc[0]["statistic"] == pytest.approx(float(r["chisq"][0]), rel=1e-9)


@needs_r()
def test_ild_rates_and_incidence_match_r(synthetic, tmp_path):
    """Clopper-Pearson share (binom.test) and cumulative incidence by re-treatment at the
    timepoints (cmprsk::cuminc + timepoints)."""
    ild = clinical.ild_stops(synthetic)
    share = clinical.anti_her2_share(ild).set_index("group").loc["Overall"]
    _, at = clinical.recurrence_incidence(ild, clinical.RETREATMENT)
    frame = ild.endpoint("ILDREC")
    data = pd.DataFrame({"t": frame["AVAL"], "ev": frame["EVENT"], "g": frame[clinical.RETREATMENT].astype(str),
                         "anti": ild.adsl["anti_her2"].astype(int)})
    times = ", ".join(f"{t:g}" for t in ild.params.timepoints)
    r = run_r(tmp_path, """
        suppressMessages(library(cmprsk))
        b <- binom.test(sum(d$anti), nrow(d))
        out("ci", b$conf.int)
        for (lv in c("anti_her2_next", "no_anti_her2_next")) {
          s <- d[d$g == lv, ]
          ci <- cuminc(s$t, s$ev, cencode = 0)
          out(lv, timepoints(ci, c(TIMES))$est["1 1", ])
        }
    """.replace("TIMES", times), data)
    assert [share["lower"], share["upper"]] == pytest.approx(list(r["ci"]), rel=1e-9)
    for lv in clinical.RETREATMENT_LEVELS:
        got = at[at["group"] == lv]["estimate"].to_numpy()
        want = r[lv]
        ok = ~np.isnan(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-9, atol=1e-12)
