"""Tests for ensemble_helpers.stats against published R output.

Reference sources, cited again at each test:

[SURV-EX]  R survival package, reference output of its help-page examples,
           tests/Examples/survival-Ex.Rout.save (github.com/therneau/survival, commit a2533a9).
[SURV-T]   R survival package regression tests with saved output, tests/<name>.Rout.save
           (same repository): cancer, doaml, difftest, testci.
[STATS-EX] R stats package, reference output of its examples,
           tests/Examples/stats-Ex.Rout.save (github.com/wch/r-source): binom.test, prop.test.
[FW]       Fox & Weisberg, "Cox Proportional-Hazards Regression for Survival Data in R",
           appendix to An R Companion to Applied Regression; R coxph on the Rossi data, as
           quoted in lifelines' tests (test_coef_output_against_R_super_accurate and
           ..._with_strata_super_accurate, lifelines/tests/test_estimation.py) and docs
           (docs/jupyter_notebooks/Proportional hazard assumption.ipynb).
[LUNG-WEB] Widely published R output for the lung data, e.g. survfit(Surv(time, status) ~ sex,
           data = lung) printed in the x-biosignal/PhysioClinStats reference docs and many
           tutorials; summary(fit, times = seq(0, 1100, 100)) and survdiff(... ~ sex) in the
           blogdown post "Survival Analysis with R" (2022-04-08); survdiff(... ~ sex) with
           6-digit output in "Machine Learning with R Cookbook", 2nd ed. (Packt), recipe
           "Using the log-rank test".
[CMPRSK]   R cmprsk package (github.com/cran/cmprsk), src/cincsub.f: the cuminc estimator and
           variance, transcribed literally below as an independent check.

lifelines' ``load_lung()`` is R's ``survival::lung`` with status recoded 0/1 (1 = dead, 165
deaths); ``load_rossi()`` is the Rossi recidivism data used by Fox & Weisberg.
"""

from __future__ import annotations

import doctest
import logging
import math

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter, CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_lung, load_rossi
from lifelines.statistics import logrank_test, multivariate_logrank_test
from scipy import stats as sps

from ensemble_helpers import stats
from ensemble_helpers.stats import (
    StatsInputError,
    cox_hr,
    cumulative_incidence,
    cumulative_incidence_at,
    followup_median,
    km_summary,
    km_summary_by,
    logrank,
    proportion_ci,
    response_summary,
)
from ensemble_helpers.stats._checks import _clean_survival
from ensemble_helpers.stats._design import _Coded, _complete_rows, _design_matrix, _pattern_codes
from ensemble_helpers.stats._efron import _EfronData, _EfronTies
from ensemble_helpers.stats.km import _km_curve
from ensemble_helpers.stats.logrank_test import _logrank_table
from rlive import needs_r, run_r

Z95 = sps.norm.ppf(0.975)
ROSSI_TERMS = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


def approx(value: float, decimals: int) -> object:
    """Equal to ``value`` as printed with ``decimals`` decimals."""
    return pytest.approx(value, abs=0.5 * 10.0**-decimals + 1e-12)


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    return load_lung()


@pytest.fixture(scope="module")
def rossi() -> pd.DataFrame:
    return load_rossi()


@pytest.fixture(scope="module")
def aml() -> pd.DataFrame:
    # R survival::aml, printed by `with(aml, Surv(time, status))` in [SURV-EX]
    # (first 11 Maintained, next 12 Nonmaintained, as in [SURV-T] difftest).
    time = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161, 5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45]
    status = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]
    x = ["Maintained"] * 11 + ["Nonmaintained"] * 12
    return pd.DataFrame({"time": time, "status": status, "x": x})


# ============================================================================================
# km_summary / km_summary_by
# ============================================================================================


def test_km_columns_exact():
    res = km_summary([1, 2, 3], [1, 0, 1], timepoints=(6, 12.5))
    assert list(res.columns) == [
        "n", "events", "median", "median_lower", "median_upper",
        "rate_6", "rate_6_lower", "rate_6_upper",
        "rate_12.5", "rate_12.5_lower", "rate_12.5_upper",
    ]
    assert len(res) == 1


def test_lung_overall_median_log(lung):
    # R: print(survfit(Surv(time, status) ~ 1, lung)) -> n 228, events 165, median 310,
    # 0.95LCL 285, 0.95UCL 363 (R's default conf.type = "log") [LUNG-WEB].
    res = km_summary(lung["time"], lung["status"], ci_transform="log").iloc[0]
    assert (res["n"], res["events"]) == (228, 165)
    assert (res["median"], res["median_lower"], res["median_upper"]) == (310, 285, 363)


def test_lung_overall_median_loglog(lung):
    # R: survfit(Surv(time, status) ~ 1, lung, conf.type = "log-log") -> 310 (284, 361)
    # (R output supplied with the brief for this module; SAS CONFTYPE=LOGLOG is the same).
    res = km_summary(lung["time"], lung["status"], ci_transform="log-log").iloc[0]
    assert (res["median"], res["median_lower"], res["median_upper"]) == (310, 284, 361)


def test_lung_by_sex(lung):
    # R: survfit(Surv(time, status) ~ sex, data = lung) [LUNG-WEB]
    #         n events median 0.95LCL 0.95UCL
    # sex=1 138    112    270     212     310
    # sex=2  90     53    426     348     550
    res = km_summary_by(lung, "time", "status", "sex", ci_transform="log", timepoints=())
    assert res["group"].tolist() == [1, 2, "Overall"]
    got = res[["n", "events", "median", "median_lower", "median_upper"]].to_numpy().tolist()
    assert got[:2] == [[138, 112, 270, 212, 310], [90, 53, 426, 348, 550]]
    assert got[2] == [228, 165, 310, 285, 363]


def test_lung_by_ecog_with_missing_group_and_single_patient(lung):
    # [SURV-EX] survfit(Surv(time, status) ~ ph.ecog, data = lung):
    #    1 observation deleted due to missingness
    #             n events median 0.95LCL 0.95UCL
    # ph.ecog=0  63     37    394     348     574
    # ph.ecog=1 113     82    306     268     429
    # ph.ecog=2  50     44    199     156     288
    # ph.ecog=3   1      1    118      NA      NA
    res = km_summary_by(lung, "time", "status", "ph.ecog", ci_transform="log", timepoints=())
    assert res["group"].tolist() == [0.0, 1.0, 2.0, 3.0, "Overall"]
    expected = [
        [63, 37, 394, 348, 574],
        [113, 82, 306, 268, 429],
        [50, 44, 199, 156, 288],
    ]
    cols = ["n", "events", "median", "median_lower", "median_upper"]
    assert res[cols].iloc[:3].to_numpy().tolist() == expected
    single = res.iloc[3]
    assert (single["n"], single["events"], single["median"]) == (1, 1, 118)
    assert math.isnan(single["median_lower"]) and math.isnan(single["median_upper"])
    # the patient with missing ph.ecog is in no group but is in "Overall"
    assert res.iloc[4]["n"] == 228


# [SURV-T] cancer.Rout.save: summary(survfit(Surv(time, status) ~ ph.ecog, lung),
#   times = c(30*1:11, 365*1:3)), conf.type "log":  time -> (survival, lower 95%, upper 95%)
LUNG_ECOG_RATES = {
    0.0: {30: (0.952, 0.9012, 1.000), 180: (0.841, 0.7553, 0.936), 365: (0.535, 0.4100, 0.699),
          730: (0.193, 0.0943, 0.396)},
    1.0: {30: (0.982, 0.9583, 1.000), 210: (0.666, 0.5831, 0.760), 365: (0.431, 0.3417, 0.543),
          730: (0.114, 0.0582, 0.222)},
    2.0: {30: (0.9000, 0.82057, 0.987), 270: (0.3766, 0.26100, 0.543),
          365: (0.2147, 0.12258, 0.376), 730: (0.0371, 0.00601, 0.229)},
}


def _decimals(x: float) -> int:
    text = f"{x}"
    return len(text.split(".")[1]) if "." in text else 0


def test_lung_rates_by_ecog_log(lung):
    times = (30, 90, 180, 210, 270, 365, 730)
    res = km_summary_by(lung, "time", "status", "ph.ecog", ci_transform="log", timepoints=times)
    res = res.set_index("group")
    for group, table in LUNG_ECOG_RATES.items():
        for t, (s, lo, hi) in table.items():
            row = res.loc[group]
            assert row[f"rate_{t}"] == approx(s, _decimals(s)), (group, t)
            assert row[f"rate_{t}_lower"] == approx(lo, _decimals(lo)), (group, t)
            assert row[f"rate_{t}_upper"] == approx(hi, _decimals(hi)), (group, t)
    # ph.ecog=3 (one patient, died at 118): R prints 30, 60, 90 as 1 (1, 1) and drops later times
    single = res.loc[3.0]
    assert (single["rate_30"], single["rate_30_lower"], single["rate_30_upper"]) == (1, 1, 1)
    assert (single["rate_90"], single["rate_90_lower"], single["rate_90_upper"]) == (1, 1, 1)
    assert math.isnan(single["rate_180"]) and math.isnan(single["rate_365_lower"])


# [LUNG-WEB] summary(survfit(Surv(time, status) ~ 1, lung), times = seq(0, 1100, 100)):
#   time: (survival, std.err, lower 95% CI, upper 95% CI); 1100 is past the last time (1022).
LUNG_OVERALL_TABLE = {
    0: (1.0000, 0.0000, 1.0000, 1.000),
    100: (0.8640, 0.0227, 0.8206, 0.910),
    200: (0.6803, 0.0311, 0.6219, 0.744),
    300: (0.5306, 0.0346, 0.4669, 0.603),
    400: (0.3768, 0.0358, 0.3128, 0.454),
    500: (0.2933, 0.0351, 0.2320, 0.371),
    600: (0.2136, 0.0335, 0.1571, 0.290),
    700: (0.1424, 0.0303, 0.0938, 0.216),
    800: (0.0783, 0.0246, 0.0423, 0.145),
    900: (0.0503, 0.0228, 0.0207, 0.123),
    1000: (0.0503, 0.0228, 0.0207, 0.123),
}


def test_lung_overall_rates_log_and_past_last_followup(lung):
    times = tuple(range(0, 1200, 100))
    res = km_summary(lung["time"], lung["status"], ci_transform="log", timepoints=times).iloc[0]
    for t, (s, _, lo, hi) in LUNG_OVERALL_TABLE.items():
        assert res[f"rate_{t}"] == approx(s, 4)
        assert res[f"rate_{t}_lower"] == approx(lo, 4)
        assert res[f"rate_{t}_upper"] == approx(hi, 3)
    for col in ("rate_1100", "rate_1100_lower", "rate_1100_upper"):
        assert math.isnan(res[col])
    # [LUNG-WEB] summary(fit, times = 365.25): survival 0.409, CI 0.345 - 0.486
    one_year = km_summary(lung["time"], lung["status"], ci_transform="log",
                          timepoints=(365.25,)).iloc[0]
    assert one_year["rate_365.25"] == approx(0.409, 3)
    assert one_year["rate_365.25_lower"] == approx(0.345, 3)
    assert one_year["rate_365.25_upper"] == approx(0.486, 3)


def test_lung_overall_rates_plain_and_loglog_from_r_std_err(lung):
    # R's "plain" interval is S -/+ z * std.err (survfit_confint, Klein & Moeschberger
    # eq. 4.3.1) and "log-log" is exp(-exp(log(-log S) -/+ z * std.err / (S log S))), with
    # std.err = se(S) as printed by summary(). Check both against the printed S and std.err
    # of the [LUNG-WEB] table; the tolerance covers the 4-decimal rounding of the print.
    times = tuple(t for t in LUNG_OVERALL_TABLE if t > 0)
    plain = km_summary(lung["time"], lung["status"], ci_transform="plain", timepoints=times)
    loglog = km_summary(lung["time"], lung["status"], ci_transform="log-log", timepoints=times)
    for t in times:
        s, se, _, _ = LUNG_OVERALL_TABLE[t]
        assert plain.loc[0, f"rate_{t}_lower"] == pytest.approx(s - Z95 * se, abs=3e-4)
        assert plain.loc[0, f"rate_{t}_upper"] == pytest.approx(s + Z95 * se, abs=3e-4)
        c = Z95 * se / (s * math.log(s))
        assert loglog.loc[0, f"rate_{t}_lower"] == pytest.approx(s ** math.exp(-c), abs=1e-3)
        assert loglog.loc[0, f"rate_{t}_upper"] == pytest.approx(s ** math.exp(c), abs=1e-3)


# [SURV-T] doaml.Rout.save: summary(survfit(Surv(aml$time, aml$status) ~ aml$x)), "log" CI:
#   time: (survival, std.err, lower 95% CI, upper 95% CI)
AML_TABLE = {
    "Maintained": {
        9: (0.909, 0.0867, 0.7541, 1.000), 13: (0.818, 0.1163, 0.6192, 1.000),
        18: (0.716, 0.1397, 0.4884, 1.000), 23: (0.614, 0.1526, 0.3769, 0.999),
        31: (0.491, 0.1642, 0.2549, 0.946), 34: (0.368, 0.1627, 0.1549, 0.875),
        48: (0.184, 0.1535, 0.0359, 0.944),
    },
    "Nonmaintained": {
        5: (0.8333, 0.1076, 0.6470, 1.000), 8: (0.6667, 0.1361, 0.4468, 0.995),
        12: (0.5833, 0.1423, 0.3616, 0.941), 23: (0.4861, 0.1481, 0.2675, 0.883),
        27: (0.3889, 0.1470, 0.1854, 0.816), 30: (0.2917, 0.1387, 0.1148, 0.741),
        33: (0.1944, 0.1219, 0.0569, 0.664), 43: (0.0972, 0.0919, 0.0153, 0.620),
    },
}


def test_aml_median_and_rates_log(aml):
    # [SURV-T] doaml.Rout.save: print(fit)
    #                      n events median 0.95LCL 0.95UCL
    # aml$x=Maintained    11      7     31      18      NA
    # aml$x=Nonmaintained 12     11     23       8      NA
    times = sorted({t for tab in AML_TABLE.values() for t in tab} | {45})
    res = km_summary_by(aml, "time", "status", "x", ci_transform="log", timepoints=times)
    res = res.set_index("group")
    cols = ["n", "events", "median", "median_lower"]
    assert res.loc["Maintained", cols].tolist() == [11, 7, 31, 18]
    assert res.loc["Nonmaintained", cols].tolist() == [12, 11, 23, 8]
    assert math.isnan(res.loc["Maintained", "median_upper"])
    assert math.isnan(res.loc["Nonmaintained", "median_upper"])
    for group, table in AML_TABLE.items():
        for t, (s, _, lo, hi) in table.items():
            assert res.loc[group, f"rate_{t}"] == approx(s, _decimals(s))
            assert res.loc[group, f"rate_{t}_lower"] == approx(lo, 4)
            assert res.loc[group, f"rate_{t}_upper"] == approx(hi, 3)
    # Nonmaintained at 45: survival 0, std.err NaN, CI NA NA
    assert res.loc["Nonmaintained", "rate_45"] == 0
    assert math.isnan(res.loc["Nonmaintained", "rate_45_lower"])
    assert math.isnan(res.loc["Nonmaintained", "rate_45_upper"])


def test_aml_plain_interval_and_median_from_r_std_err(aml):
    # "plain" = S -/+ z * std.err, from the printed [SURV-T] doaml table. The bands it gives
    # cross 0.5 at 8 (0.6667 - 1.96 * 0.1361 = 0.400) and at 33 (0.1944 + 1.96 * 0.1219 = 0.433;
    # at 30 still 0.564), so median 23 with plain CI 8 - 33.
    non = aml[aml["x"] == "Nonmaintained"]
    table = AML_TABLE["Nonmaintained"]
    res = km_summary(non["time"], non["status"], ci_transform="plain", timepoints=tuple(table))
    row = res.iloc[0]
    for t, (s, se, _, _) in table.items():
        assert row[f"rate_{t}_lower"] == pytest.approx(max(s - Z95 * se, 0), abs=3e-4)
        assert row[f"rate_{t}_upper"] == pytest.approx(min(s + Z95 * se, 1), abs=3e-4)
    assert (row["median"], row["median_lower"], row["median_upper"]) == (23, 8, 33)


def test_km_matches_lifelines_curve_on_tied_data():
    # cross-check of the vectorised product-limit estimate (not an R reference)
    rng = np.random.default_rng(7)
    t = rng.integers(1, 40, 5000).astype(float)
    e = rng.integers(0, 2, 5000)
    times, _, _, surv, _ = _km_curve(t, e.astype(float))
    kmf = KaplanMeierFitter().fit(t, e)
    ref = kmf.survival_function_.iloc[:, 0]
    np.testing.assert_allclose(surv, ref.loc[times].to_numpy(), rtol=1e-12)


def test_median_tie_averaging_rule():
    # S = 0.75, 0.5, 0.25, 0 -> S is exactly 0.5 on [2, 3): R prints median 2.5
    res = km_summary([1, 2, 3, 4], [1, 1, 1, 1], timepoints=()).iloc[0]
    assert res["median"] == 2.5
    # R's print.survfit comment: survfit(Surv(1:100) ~ 1) gives S = 0.5 + 1.1e-16 at 50; the
    # all.equal tolerance still treats it as 0.5, so the median is 50.5
    res = km_summary(np.arange(1, 101), np.ones(100), timepoints=()).iloc[0]
    assert res["median"] == 50.5


def test_median_flat_half_then_event_and_flat_half_to_end():
    # S = 0.75, 0.5 at 2, censored at 3 (still 0.5), event at 4 -> midpoint (2 + 4) / 2
    assert km_summary([1, 2, 3, 4], [1, 1, 0, 1], timepoints=())["median"].iloc[0] == 3
    # S stays 0.5 until the last follow-up: print.survfit reports the start of the stretch (2)
    # (R's quantile.survfit would report (2 + 4) / 2; we follow the printed table)
    assert km_summary([1, 2, 3, 4], [1, 1, 0, 0], timepoints=())["median"].iloc[0] == 2


def test_events_before_censoring_at_tied_time():
    # at t = 1 one death and one censoring among 3 at risk: S(1) = 2/3; then S(2) = 0
    res = km_summary([1, 1, 2], [1, 0, 1], timepoints=(1, 2)).iloc[0]
    assert res["rate_1"] == pytest.approx(2 / 3)
    assert res["rate_2"] == 0
    assert res["median"] == 2


def test_km_empty_input():
    res = km_summary([], [], timepoints=(6,)).iloc[0]
    assert res["n"] == 0 and res["events"] == 0
    assert res.drop(["n", "events"]).isna().all()


@pytest.mark.parametrize("transform", ["log", "log-log", "plain"])
def test_km_all_censored(transform):
    res = km_summary([2, 4, 6], [0, 0, 0], ci_transform=transform, timepoints=(1, 6, 7)).iloc[0]
    assert res["events"] == 0
    assert res[["median", "median_lower", "median_upper"]].isna().all()
    # S = 1 with standard error 0: R reports 1 (1, 1), also for log-log
    cols = ["rate_1", "rate_1_lower", "rate_1_upper", "rate_6", "rate_6_lower"]
    assert res[cols].tolist() == [1] * 5
    assert math.isnan(res["rate_7"])  # past the last follow-up


def test_km_one_patient():
    # like ph.ecog = 3 above: median = event time, CI not estimable
    res = km_summary([5.0], [1], ci_transform="log", timepoints=(5,)).iloc[0]
    assert (res["n"], res["events"], res["median"]) == (1, 1, 5)
    assert math.isnan(res["median_lower"]) and math.isnan(res["median_upper"])
    assert res["rate_5"] == 0 and math.isnan(res["rate_5_lower"])
    censored = km_summary([5.0], [0], timepoints=(5,)).iloc[0]
    assert math.isnan(censored["median"]) and censored["rate_5"] == 1


def test_km_timepoint_before_first_time_and_at_last_time():
    res = km_summary([3, 5, 8], [1, 0, 1], timepoints=(0, 2.5, 8)).iloc[0]
    assert res["rate_0"] == 1 and res["rate_2.5"] == 1 and res["rate_2.5_lower"] == 1
    assert res["rate_8"] == 0


def test_km_bool_events_missing_rows_and_series_input():
    t = pd.Series([1.0, 2.0, np.nan, 4.0, 5.0])
    e_bool = pd.Series([True, False, True, True, pd.NA], dtype="boolean")
    res = km_summary(t, e_bool, timepoints=())
    ref = km_summary([1.0, 2.0, 4.0], [1, 0, 1], timepoints=())
    pd.testing.assert_frame_equal(res, ref)
    assert res.loc[0, "n"] == 3


def test_km_conf_level_changes_width(lung):
    wide = km_summary(lung["time"], lung["status"], conf_level=0.99, timepoints=(365,)).iloc[0]
    narrow = km_summary(lung["time"], lung["status"], conf_level=0.8, timepoints=(365,)).iloc[0]
    assert wide["rate_365_lower"] < narrow["rate_365_lower"] < narrow["rate_365"]
    assert wide["rate_365"] == narrow["rate_365"]


@pytest.mark.parametrize("bad", ["logit", "LOG", None, "linear"])
def test_km_invalid_transform(bad):
    with pytest.raises(ValueError, match="ci_transform"):
        km_summary([1, 2], [1, 0], ci_transform=bad)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "0.95", True, float("nan")])
def test_km_invalid_conf_level(bad):
    with pytest.raises(ValueError, match="conf_level"):
        km_summary([1, 2], [1, 0], conf_level=bad)


def test_km_invalid_inputs():
    with pytest.raises(StatsInputError, match="0/1"):
        km_summary([1, 2, 3], [1, 2, 0])
    with pytest.raises(StatsInputError, match=">= 0"):
        km_summary([1, -2, 3], [1, 1, 0])
    with pytest.raises(StatsInputError, match="same length"):
        km_summary([1, 2, 3], [1, 1])
    with pytest.raises(StatsInputError, match="distinct"):
        km_summary([1, 2], [1, 1], timepoints=(6, 6.0))


def test_km_summary_by_categorical_order_empty_category_and_overall():
    df = pd.DataFrame({
        "t": [3, 5, 7, 9, 2, 4, 6],
        "e": [True, True, False, True, True, True, False],
        "arm": pd.Categorical(["B", "B", "B", "B", "A", "A", None], categories=["B", "C", "A"]),
    })
    res = km_summary_by(df, "t", "e", "arm", timepoints=(4,))
    assert res["group"].tolist() == ["B", "C", "A", "Overall"]
    assert res["n"].tolist() == [4, 0, 2, 7]  # missing arm: in Overall only
    assert res["events"].tolist() == [3, 0, 2, 5]
    assert res.iloc[1].drop(["group", "n", "events"]).isna().all()
    # each row equals km_summary on that subset
    pd.testing.assert_frame_equal(
        res.iloc[[0]].drop(columns="group").reset_index(drop=True),
        km_summary(df["t"][:4], df["e"][:4], timepoints=(4,)),
    )
    assert list(km_summary_by(df, "t", "e", "arm", overall=False)["group"]) == ["B", "C", "A"]


def test_km_summary_by_sorted_levels_for_plain_columns():
    df = pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 1, 0, 1], "g": ["z", "a", "m", "a"]})
    assert km_summary_by(df, "t", "e", "g")["group"].tolist() == ["a", "m", "z", "Overall"]


def test_km_summary_by_missing_column():
    with pytest.raises(StatsInputError, match="not in the data"):
        km_summary_by(pd.DataFrame({"t": [1], "e": [1]}), "t", "e", "arm")


def test_followup_median_is_reverse_km():
    t = np.array([2, 4, 6, 8, 10, 12, 14])
    e = np.array([1, 0, 0, 1, 0, 1, 0])
    res = followup_median(t, e)
    assert list(res.columns) == ["n", "median", "median_lower", "median_upper"]
    ref = km_summary(t, 1 - e, timepoints=())
    pd.testing.assert_frame_equal(res, ref[["n", "median", "median_lower", "median_upper"]])
    # by hand: censorings at 4, 6, 10, 14 -> reverse KM 5/6 (4), 4/6 (6), 4/9 (10) -> 10
    assert res.loc[0, "median"] == 10


# ============================================================================================
# logrank
# ============================================================================================


def test_logrank_lung_sex(lung):
    # [LUNG-WEB] survdiff(Surv(time, status) ~ sex, lung), 6-digit print:
    #   sex=1 138 112 91.5817 ...; sex=2 90 53 73.4183 ...; Chisq = 10.3267, p = 0.00131116
    res = logrank(lung, "time", "status", "sex").iloc[0]
    assert res["statistic"] == approx(10.3267, 4)
    assert res["p"] == pytest.approx(0.00131116, rel=1e-5)
    assert (res["df"], res["n"], res["events"], res["n_groups"]) == (1, 228, 165, 2)
    table, _ = _logrank_table(lung, "time", "status", "sex")
    assert table["expected"].tolist() == [approx(91.5817, 4), approx(73.4183, 4)]
    assert table["observed"].tolist() == [112, 53]


def test_logrank_aml_and_group_without_expected_events(aml):
    # [SURV-T] doaml / difftest: survdiff(Surv(time, status) ~ x, aml)
    #   Maintained 11 7 10.69; Nonmaintained 12 11 7.31; Chisq = 3.4 on 1 df, p = 0.07
    res = logrank(aml, "time", "status", "x").iloc[0]
    assert round(res["statistic"], 1) == 3.4 and round(res["p"], 2) == 0.07
    table, _ = _logrank_table(aml, "time", "status", "x")
    assert table["expected"].round(2).tolist() == [10.69, 7.31]
    # [SURV-T] difftest: adding a "Dummy" group of 7 patients censored before any death gives
    # the same chi-square on 1 df (groups with no expected events are left out)
    dummy = pd.DataFrame({"time": [1, 2, 2, 3, 3, 3, 4], "status": 0, "x": "Dummy"})
    res3 = logrank(pd.concat([aml, dummy]), "time", "status", "x").iloc[0]
    assert res3["statistic"] == pytest.approx(res["statistic"], rel=1e-12)
    assert (res3["df"], res3["n_groups"], res3["n"]) == (1, 3, 30)


def test_logrank_stratified_lung(lung):
    # [SURV-EX] survdiff(Surv(time, status) ~ pat.karno + strata(inst), data = lung):
    #   n = 224 (4 deleted); Chisq = 21.4 on 7 df, p = 0.003; the equivalent score test
    #   coxph(... ~ factor(pat.karno) + strata(inst)) prints 21.368
    res = logrank(lung, "time", "status", "pat.karno", strata="inst").iloc[0]
    assert round(res["statistic"], 1) == 21.4
    assert res["statistic"] == pytest.approx(21.368, abs=0.01)
    assert (res["df"], res["n"], res["n_groups"]) == (7, 224, 8)
    assert round(res["p"], 3) == 0.003
    table, _ = _logrank_table(lung, "time", "status", "pat.karno", strata="inst")
    assert table["n"].tolist() == [2, 2, 4, 30, 41, 50, 60, 35]
    assert table["observed"].tolist() == [1, 1, 4, 27, 31, 38, 38, 21]
    expected = [0.692, 1.099, 1.166, 16.298, 26.358, 41.938, 47.242, 26.207]
    assert table["expected"].round(3).tolist() == expected


def test_logrank_matches_lifelines(rossi, lung):
    # cross-checks (lifelines uses the same hypergeometric variance as R survdiff)
    ref = logrank_test(
        rossi.loc[rossi.fin == 0, "week"], rossi.loc[rossi.fin == 1, "week"],
        rossi.loc[rossi.fin == 0, "arrest"], rossi.loc[rossi.fin == 1, "arrest"],
    )
    res = logrank(rossi, "week", "arrest", "fin").iloc[0]
    assert res["statistic"] == pytest.approx(ref.test_statistic, rel=1e-10)
    assert res["p"] == pytest.approx(ref.p_value, rel=1e-8)
    sub = lung.dropna(subset=["ph.ecog"])
    ref = multivariate_logrank_test(sub["time"], sub["ph.ecog"], sub["status"])
    res = logrank(lung, "time", "status", "ph.ecog").iloc[0]
    assert res["statistic"] == pytest.approx(ref.test_statistic, rel=1e-10)
    assert res["df"] == 3 and res["n"] == 227


def test_logrank_degenerate_cases():
    one_group = pd.DataFrame({"t": [1, 2, 3], "e": [1, 0, 1], "g": ["A", "A", "A"]})
    res = logrank(one_group, "t", "e", "g").iloc[0]
    assert math.isnan(res["statistic"]) and math.isnan(res["p"])
    assert (res["df"], res["n_groups"], res["n"]) == (0, 1, 3)
    no_events = pd.DataFrame({"t": [1, 2, 3, 4], "e": [0, 0, 0, 0], "g": ["A", "B", "A", "B"]})
    res = logrank(no_events, "t", "e", "g").iloc[0]
    assert math.isnan(res["statistic"]) and res["events"] == 0 and res["n_groups"] == 2
    empty = pd.DataFrame({"t": [], "e": [], "g": []})
    res = logrank(empty, "t", "e", "g").iloc[0]
    assert res["n"] == 0 and math.isnan(res["statistic"])
    missing = pd.DataFrame({"t": [1, 2, 3, 4, 5], "e": [1, 1, 0, 1, 1],
                            "g": ["A", "B", None, "A", "B"]})
    res = logrank(missing, "t", "e", "g")
    assert res.loc[0, "n"] == 4
    assert list(res.columns) == ["statistic", "df", "p", "n", "events", "n_groups"]


# ============================================================================================
# cox_hr
# ============================================================================================


def test_cox_rossi_matches_r(rossi):
    # [FW] coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, rossi),
    # Efron; coefficients as printed by R with 7 decimals
    res = cox_hr(rossi, "week", "arrest", ROSSI_TERMS)
    expected = [-0.3794222, -0.0574377, 0.3138998, -0.1497957, -0.4337039, -0.0848711, 0.0914971]
    np.testing.assert_allclose(res["coef"], expected, atol=1e-6)
    # the 5-decimal values of the Fox & Weisberg appendix
    assert res["coef"].round(5).tolist() == [-0.37942, -0.05744, 0.31390, -0.14980, -0.43370,
                                             -0.08487, 0.09150]
    fin = res.set_index("term").loc["fin"]
    # HR 0.684 (0.470 - 0.996), se 0.191, p 0.047 (R summary / lifelines docs)
    assert (round(fin["hr"], 3), round(fin["hr_lower"], 3), round(fin["hr_upper"], 3)) == (
        0.684, 0.470, 0.996)
    assert round(fin["se"], 3) == 0.191 and round(fin["p"], 3) == 0.047
    assert (fin["n"], fin["events"]) == (432, 114)
    assert list(res.columns) == ["term", "variable", "level", "reference", "coef", "se", "hr",
                                 "hr_lower", "hr_upper", "p", "n", "events"]


def test_cox_rossi_stratified_matches_r(rossi):
    # [FW] coxph(Surv(week, arrest) ~ fin + age + strata(race) + wexp + mar + paro + prio),
    # round(coef, 4)
    res = cox_hr(rossi, "week", "arrest", ["fin", "age", "wexp", "mar", "paro", "prio"],
                 strata="race")
    assert res["coef"].round(4).tolist() == [-0.3788, -0.0576, -0.1427, -0.4388, -0.0858, 0.0922]


def test_cox_lung_age_sex_matches_r(lung):
    # [SURV-EX] summary(coxph(Surv(time, status) ~ age + sex, lung)):
    #   n= 228, number of events= 165
    #          coef exp(coef)  se(coef)      z Pr(>|z|)
    #   age  0.017045  1.017191  0.009223  1.848  0.06459
    #   sex -0.513219  0.598566  0.167458 -3.065  0.00218
    #       lower .95 upper .95: age 0.9990 1.0357; sex 0.4311 0.8311
    res = cox_hr(lung, "time", "status", ["age", "sex"]).set_index("term")
    assert res.loc["age", "coef"] == approx(0.017045, 6)
    assert res.loc["sex", "coef"] == approx(-0.513219, 6)
    assert res.loc["age", "se"] == approx(0.009223, 6)
    assert res.loc["sex", "se"] == approx(0.167458, 6)
    assert res.loc["age", "hr"] == approx(1.017191, 6)
    assert res.loc["sex", "hr"] == approx(0.598566, 6)
    assert res.loc["age", "p"] == approx(0.06459, 5)
    assert res.loc["sex", "p"] == approx(0.00218, 5)
    limits = res[["hr_lower", "hr_upper"]].astype(float).round(4)
    assert limits.loc["age"].tolist() == [0.9990, 1.0357]
    assert limits.loc["sex"].tolist() == [0.4311, 0.8311]
    assert res["n"].unique().tolist() == [228] and res["events"].unique().tolist() == [165]


def test_cox_complete_case_lung_ecog_age(lung):
    # [SURV-EX] coxph(Surv(time, status) ~ ph.ecog + age, lung):
    #   ph.ecog 0.443485 1.558128 0.115831 3.829 0.000129
    #   age     0.011281 1.011345 0.009319 1.211 0.226082
    #   n= 227, number of events= 164 (1 observation deleted due to missingness)
    res = cox_hr(lung, "time", "status", ["ph.ecog", "age"]).set_index("term")
    assert res.loc["ph.ecog", "coef"] == approx(0.443485, 6)
    assert res.loc["age", "coef"] == approx(0.011281, 6)
    assert res.loc["ph.ecog", "se"] == approx(0.115831, 6)
    assert res.loc["age", "se"] == approx(0.009319, 6)
    assert res.loc["ph.ecog", "p"] == approx(0.000129, 6)
    assert res.loc["age", "p"] == approx(0.226082, 6)
    assert (res["n"].iloc[0], res["events"].iloc[0]) == (227, 164)


def test_cox_stratified_toy_matches_r():
    # [SURV-EX] coxph(Surv(time, status) ~ x + strata(sex), test1):
    #     coef exp(coef) se(coef)     z     p
    #   x 0.8023    2.2307   0.8224 0.976 0.329;  n= 7, number of events= 5
    test1 = pd.DataFrame({"time": [4, 3, 1, 1, 2, 2, 3], "status": [1, 1, 1, 0, 1, 1, 0],
                          "x": [0, 2, 1, 1, 1, 0, 0], "sex": [0, 0, 0, 0, 1, 1, 1]})
    res = cox_hr(test1, "time", "status", ["x"], strata="sex").iloc[0]
    assert res["coef"] == approx(0.8023, 4) and res["hr"] == approx(2.2307, 4)
    assert res["se"] == approx(0.8224, 4) and res["p"] == approx(0.329, 3)
    assert (res["n"], res["events"]) == (7, 5)


def test_cox_stratified_lung_inst_matches_r_linear_predictor(lung):
    # [SURV-EX] predict.coxph example: fit <- coxph(Surv(time, status) ~ age + ph.ecog +
    # strata(inst), lung); predict(fit, type = "lp") for rows 1-13 (row 14 is NA). R centres
    # the linear predictor within each stratum, so compare differences within an institution:
    # rows 1-3 (inst 3), 5 & 9 (inst 1), 7 & 10 (inst 7), 8 & 13 (inst 11).
    lp = [0.215495605, -0.423532231, -0.559265038, 0.183469551, -0.539432878, 0.248095483,
          0.406461814, 0.489169379, -0.047448917, 0.327284344, 0.040389888, 0.550315552,
          -0.115925255]
    res = cox_hr(lung, "time", "status", ["age", "ph.ecog"], strata="inst")
    ours = lung[["age", "ph.ecog"]].iloc[:13].to_numpy(float) @ res["coef"].to_numpy()
    for i, j in [(0, 1), (0, 2), (4, 8), (6, 9), (7, 12)]:
        assert ours[i] - ours[j] == pytest.approx(lp[i] - lp[j], abs=1e-7)
    assert res["n"].iloc[0] == 226  # one missing ph.ecog, one missing inst


def test_cox_categorical_dummy_coding(lung):
    # sex as text: the coefficient of female vs male is R's coefficient of sex (coded 1/2)
    df = lung.assign(sex=lung["sex"].map({1: "male", 2: "female"}))
    res = cox_hr(df, "time", "status", ["age", "sex"], reference={"sex": "male"})
    row = res.set_index("term").loc["sex=female"]
    assert (row["variable"], row["level"], row["reference"]) == ("sex", "female", "male")
    assert row["coef"] == approx(-0.513219, 6)
    # default reference for text columns: first sorted level ("female")
    res = cox_hr(df, "time", "status", ["age", "sex"]).set_index("term")
    assert res.loc["sex=male", "coef"] == approx(0.513219, 6)
    assert res.loc["age", "level"] is None and res.loc["age", "reference"] is None
    # default reference for categorical columns: first category
    cat = df.assign(sex=pd.Categorical(df["sex"], categories=["male", "female"]))
    assert cox_hr(cat, "time", "status", ["sex"])["term"].tolist() == ["sex=female"]


@needs_r()
def test_cox_factors_match_r_factor(lung, tmp_path):
    # an ordinal score entered as a factor: R coxph(Surv(time, status) ~ factor(ph.ecog) + age)
    df = lung.rename(columns={"ph.ecog": "ecog"})
    res = cox_hr(df, "time", "status", ["ecog", "age"], factors=["ecog"]).set_index("term")
    assert res.index.tolist() == ["ecog=1", "ecog=2", "ecog=3", "age"]
    r = run_r(tmp_path, """
fit <- coxph(Surv(time, status) ~ factor(ph.ecog) + age, data = d)
out("coef", coef(fit)); out("se", sqrt(diag(vcov(fit)))); out("n", fit$n)
""", lung)
    np.testing.assert_allclose(res["coef"].to_numpy(), r["coef"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res["se"].to_numpy(), r["se"], rtol=1e-6)
    assert res["n"].iloc[0] == r["n"][0]
    assert (res.loc[res.index[0], "variable"], res.loc[res.index[0], "reference"]) == ("ecog", 0)
    # without factors the score is one linear term; a factor that is not a covariate is refused
    assert cox_hr(df, "time", "status", ["ecog"])["term"].tolist() == ["ecog"]
    with pytest.raises(stats.StatsInputError, match="not covariates"):
        cox_hr(df, "time", "status", ["age"], factors=["ecog"])


def test_cox_multilevel_factor_matches_lifelines(lung):
    # cross-check: a 4-level factor against lifelines on hand-made dummy columns
    df = lung.dropna(subset=["ph.ecog"]).assign(ecog=lambda d: d["ph.ecog"].astype(int).astype(str))
    res = cox_hr(df, "time", "status", ["ecog", "age"])
    assert res["term"].tolist() == ["ecog=1", "ecog=2", "ecog=3", "age"]
    dummies = pd.get_dummies(df["ecog"], prefix="ecog", dtype=float).drop(columns="ecog_0")
    ref = CoxPHFitter().fit(pd.concat([df[["time", "status", "age"]], dummies], axis=1),
                            "time", "status")
    # ecog=3 is a single patient, so its coefficient is flat in the likelihood: lifelines stops
    # 5e-5 short of the maximum (its log-likelihood is 1.4e-9 lower than ours), hence atol 1e-4
    np.testing.assert_allclose(
        res.set_index("term")["coef"].to_numpy(),
        ref.params_[["ecog_1", "ecog_2", "ecog_3", "age"]].to_numpy(), atol=1e-4)
    np.testing.assert_allclose(
        res.set_index("term")["se"].to_numpy(),
        ref.standard_errors_[["ecog_1", "ecog_2", "ecog_3", "age"]].to_numpy(), rtol=1e-4)


def test_cox_matches_lifelines_with_heavy_ties_and_strata():
    # cross-check of the vectorised Efron likelihood on many tied times and two strata
    rng = np.random.default_rng(11)
    n = 3000
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.integers(0, 2, n),
                       "s": rng.integers(0, 2, n)})
    df["t"] = np.ceil(rng.exponential(10 * np.exp(-0.5 * df["x1"] - 0.3 * df["x2"])))
    df["e"] = (rng.random(n) < 0.7).astype(int)
    res = cox_hr(df, "t", "e", ["x1", "x2"], strata="s")
    ref = CoxPHFitter().fit(df[["t", "e", "x1", "x2", "s"]], "t", "e", strata=["s"])
    np.testing.assert_allclose(res["coef"], ref.params_[["x1", "x2"]], atol=1e-6)
    np.testing.assert_allclose(res["se"], ref.standard_errors_[["x1", "x2"]], rtol=1e-5)


def test_cox_bool_covariate_same_as_int(rossi):
    as_bool = rossi.assign(fin=rossi["fin"].astype(bool))
    a = cox_hr(as_bool, "week", "arrest", ["fin", "prio"])
    b = cox_hr(rossi, "week", "arrest", ["fin", "prio"])
    np.testing.assert_allclose(a["coef"], b["coef"], rtol=1e-12)
    event_bool = rossi.assign(arrest=rossi["arrest"].astype(bool))
    np.testing.assert_allclose(cox_hr(event_bool, "week", "arrest", ["fin"])["coef"],
                               cox_hr(rossi, "week", "arrest", ["fin"])["coef"], rtol=1e-12)


def test_cox_degenerate_no_events():
    df = pd.DataFrame({"t": [1, 2, 3, 4], "e": [0, 0, 0, 0], "x": [0, 1, 0, 1]})
    res = cox_hr(df, "t", "e", ["x"]).iloc[0]
    assert res[["coef", "se", "hr", "hr_lower", "hr_upper", "p"]].isna().all()
    assert (res["n"], res["events"]) == (4, 0)


def test_cox_degenerate_level_without_patients_and_single_group(rossi):
    df = rossi.assign(arm=pd.Categorical(np.where(rossi["fin"] == 1, "aid", "none"),
                                         categories=["none", "aid", "other"]))
    res = cox_hr(df, "week", "arrest", ["arm", "prio"]).set_index("term")
    assert res.loc["arm=other", ["coef", "se", "hr", "p"]].isna().all()
    ref = cox_hr(rossi, "week", "arrest", ["fin", "prio"])
    assert res.loc["arm=aid", "coef"] == pytest.approx(ref.loc[0, "coef"], rel=1e-10)
    assert res.loc["prio", "coef"] == pytest.approx(ref.loc[1, "coef"], rel=1e-10)
    single = rossi.assign(arm="aid")
    res = cox_hr(single, "week", "arrest", ["arm", "prio"])
    assert res["term"].tolist() == ["prio"]  # a single level gives no dummy at all
    one_level = rossi.assign(arm=pd.Categorical(["aid"] * len(rossi), categories=["aid", "none"]))
    res = cox_hr(one_level, "week", "arrest", ["arm"]).iloc[0]
    assert res["term"] == "arm=none" and math.isnan(res["coef"]) and res["n"] == 432


def test_cox_collinear_and_constant_columns(rossi):
    df = rossi.assign(age2=2 * rossi["age"], const=3.0)
    res = cox_hr(df, "week", "arrest", ["age", "age2", "const", "fin"]).set_index("term")
    assert math.isnan(res.loc["age2", "coef"]) and math.isnan(res.loc["const", "coef"])
    ref = cox_hr(rossi, "week", "arrest", ["age", "fin"]).set_index("term")
    assert res.loc["age", "coef"] == pytest.approx(ref.loc["age", "coef"], rel=1e-10)


def test_cox_monotone_likelihood_warns_like_r(rossi, caplog):
    # a level in which nobody has the event: R coxph warns that the coefficient may be infinite
    # and reports a large coefficient with a huge standard error; so do we
    df = rossi.assign(g=np.where((rossi["arrest"] == 0) & (np.arange(len(rossi)) % 5 == 0),
                                 "no_events", "other"))
    with caplog.at_level(logging.WARNING, logger="ensemble_helpers.stats"):
        res = cox_hr(df, "week", "arrest", ["g", "prio"], reference={"g": "other"})
    assert "may be infinite" in caplog.text and "g=no_events" in caplog.text
    row = res.set_index("term").loc["g=no_events"]
    assert row["coef"] < -10 and row["p"] > 0.9


def test_cox_nullable_integer_covariate(lung):
    # ADSL ecog is pandas Int64 with <NA>: numeric, complete-case, same as the float column
    df = lung.assign(ecog=lung["ph.ecog"].astype("Int64"))
    a = cox_hr(df, "time", "status", ["ecog", "age"])
    b = cox_hr(lung, "time", "status", ["ph.ecog", "age"])
    np.testing.assert_allclose(a["coef"], b["coef"], rtol=1e-12)
    assert a["n"].iloc[0] == 227


def test_cox_complete_case_counts(rossi):
    df = rossi.astype({"age": float}).copy()
    df.loc[:9, "age"] = np.nan
    res = cox_hr(df, "week", "arrest", ["fin", "age"])
    assert res["n"].iloc[0] == 422
    assert res["events"].iloc[0] == int(df.loc[10:, "arrest"].sum())


def test_cox_invalid_inputs(rossi):
    with pytest.raises(StatsInputError, match="not one of its levels"):
        cox_hr(rossi.assign(g="a"), "week", "arrest", ["g"], reference={"g": "b"})
    with pytest.raises(StatsInputError, match="numeric"):
        cox_hr(rossi, "week", "arrest", ["fin"], reference={"fin": 0})
    with pytest.raises(StatsInputError, match="not in the data"):
        cox_hr(rossi, "week", "arrest", ["nope"])
    with pytest.raises(StatsInputError, match="at least one"):
        cox_hr(rossi, "week", "arrest", [])
    with pytest.raises(ValueError, match="conf_level"):
        cox_hr(rossi, "week", "arrest", ["fin"], conf_level=95)


def test_cox_conf_level(rossi):
    res = cox_hr(rossi, "week", "arrest", ["fin"], conf_level=0.9).iloc[0]
    z = sps.norm.ppf(0.95)
    assert res["hr_lower"] == pytest.approx(math.exp(res["coef"] - z * res["se"]))


def _efron_textbook(t, e, s, x, beta):
    """Efron log partial likelihood, score and information, summed event time by event time
    and tied death by tied death (the formulas of Therneau & Grambsch, section 3.3)."""
    eta = x @ beta
    w = np.exp(eta)
    p = x.shape[1]
    loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    for g in np.unique(s):
        for time in np.unique(t[(s == g) & (e == 1)]):
            risk = (s == g) & (t >= time)
            dead = risk & (t == time) & (e == 1)
            wr, xr, wd, xd = w[risk], x[risk], w[dead], x[dead]
            s0, s1, s2 = wr.sum(), wr @ xr, (xr * wr[:, None]).T @ xr
            d0, d1, d2 = wd.sum(), wd @ xd, (xd * wd[:, None]).T @ xd
            d = int(dead.sum())
            loglik += eta[dead].sum()
            score += xd.sum(axis=0)
            for l in range(d):
                f = l / d
                den, num1, num2 = s0 - f * d0, s1 - f * d1, s2 - f * d2
                loglik -= math.log(den)
                score -= num1 / den
                info += num2 / den - np.outer(num1, num1) / den**2
    return loglik, score, info


def _heavy_ties_data(seed: int, n: int = 1200) -> pd.DataFrame:
    """Few distinct times with up to ~250 deaths each (the Efron sums then come from the power
    series), single deaths, an event time where most of the risk set dies, two strata and
    missing covariates."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    flag = rng.random(n) < 0.4
    age = np.round(rng.normal(60, 10, n), 1)
    lp = 0.4 * (arm == "b") - 0.3 * (arm == "c") + 0.2 * flag + 0.02 * (age - 60)
    t = np.ceil(rng.exponential(3 * np.exp(-lp)))
    t = np.where(rng.random(n) < 0.1, rng.uniform(0, 12, n), np.minimum(t, 6))
    e = (rng.random(n) < 0.8).astype(int)
    df = pd.DataFrame({"t": t, "e": e, "arm": pd.Categorical(arm), "flag": flag, "age": age,
                       "s": rng.integers(0, 2, n)})
    # stratum 0: at its last time (20) 90 of 100 patients die
    last = rng.choice(np.flatnonzero(df["s"] == 0), 100, replace=False)
    df.loc[last, "t"] = 20.0
    df.loc[last, "e"] = 0
    df.loc[last[:90], "e"] = 1
    df.loc[rng.choice(n, 25, replace=False), "age"] = np.nan
    return df


@pytest.mark.parametrize("covariates", [["arm", "flag"], ["arm", "flag", "age"]])
def test_cox_efron_sums_match_textbook_formulas(covariates):
    # the likelihood engine (sorted cells, block sums, power series for large tied groups,
    # merged rows for categorical designs, complete cases) against the per-death formulas
    df = _heavy_ties_data(seed=3)
    t, e, ok = _clean_survival(df["t"], df["e"])
    x, _ = _design_matrix(df, covariates, {})
    ok &= _complete_rows(x, len(df))
    s = df["s"].to_numpy()
    data = _EfronData(t, e, s, x, keep=ok, pattern=_pattern_codes(x, len(df)))
    ties = data.ties
    assert ties.series.size and ties.single.size and ties.direct.size  # every kind of sum
    assert (data.weight is not None) == (covariates == ["arm", "flag"])  # rows merged
    design = np.column_stack([np.take(c.values, c.codes) if isinstance(c, _Coded) else c
                              for c in x])[ok]
    beta = np.array([0.3, -0.2, 0.25, 0.01][: design.shape[1]])
    for b in (np.zeros_like(beta), beta):
        loglik, score, info = data.evaluate(b)
        # at time 20 of stratum 0 the deaths are most of the risk set: no series there
        assert len(ties._direct) == 2
        ref_loglik, ref_score, ref_info = _efron_textbook(t[ok], e[ok], s[ok], design, b)
        assert loglik == pytest.approx(ref_loglik, rel=1e-12)
        np.testing.assert_allclose(score, ref_score, rtol=1e-9, atol=1e-9 * np.abs(ref_score).max())
        np.testing.assert_allclose(info, ref_info, rtol=1e-10)


def test_cox_efron_tie_series_matches_direct_sums():
    # power series against death-by-death sums, over the range of shares where it is used
    rng = np.random.default_rng(0)
    d = np.array([64, 100, 500, 3000, 64, 2000])
    s0 = rng.uniform(10.0, 1e6, d.size)
    s0d = s0 * np.array([1e-6, 0.01, 0.1, 0.2, 0.3, 0.35])
    ties = _EfronTies(d)
    assert ties.series.size == d.size
    log_sum, sums = ties.log_sum(s0, s0d), np.array(ties.sums())
    for g in range(d.size):
        f = np.arange(d[g]) / d[g]
        den = s0[g] - f * s0d[g]
        direct = [np.sum(1 / den), np.sum(f / den), np.sum(1 / den**2), np.sum(f / den**2),
                  np.sum(f**2 / den**2)]
        np.testing.assert_allclose(sums[:, g], direct, rtol=1e-13)
    direct_log = sum(np.log(s0[g] - np.arange(d[g]) / d[g] * s0d[g]).sum() for g in range(d.size))
    assert log_sum == pytest.approx(direct_log, rel=1e-14)


def test_cox_heavy_ties_missing_and_strata_match_lifelines():
    # the fast paths end to end: large tied groups, merged rows (categorical-only design),
    # complete cases (missing flag) and strata, against lifelines on hand-made dummies
    df = _heavy_ties_data(seed=5)
    df["flag"] = df["flag"].astype("boolean")
    df.loc[df.index[::37], "flag"] = pd.NA
    res = cox_hr(df, "t", "e", ["arm", "flag"], strata="s")
    used = df.dropna(subset=["flag"])
    assert res["n"].iloc[0] == len(used) and res["events"].iloc[0] == used["e"].sum()
    design = pd.DataFrame({"t": used["t"], "e": used["e"], "s": used["s"],
                           "arm_b": (used["arm"] == "b").astype(float),
                           "arm_c": (used["arm"] == "c").astype(float),
                           "flag": used["flag"].astype(float)})
    ref = CoxPHFitter().fit(design, "t", "e", strata=["s"])
    np.testing.assert_allclose(res["coef"], ref.params_[["arm_b", "arm_c", "flag"]], atol=1e-6)
    np.testing.assert_allclose(res["se"], ref.standard_errors_[["arm_b", "arm_c", "flag"]],
                               rtol=1e-5)


def test_cox_merged_rows_same_as_numeric_dummies():
    # a categorical-only design merges patients with equal (stratum, time, event, levels);
    # the same model with numeric 0/1 columns is fitted patient by patient
    df = _heavy_ties_data(seed=7)
    merged = cox_hr(df, "t", "e", ["arm", "flag"], strata="s")
    dummies = df.assign(arm_b=(df["arm"] == "b").astype(float),
                        arm_c=(df["arm"] == "c").astype(float), flag=df["flag"].astype(float))
    plain = cox_hr(dummies, "t", "e", ["arm_b", "arm_c", "flag"], strata="s")
    np.testing.assert_allclose(merged["coef"], plain["coef"], rtol=1e-10)
    np.testing.assert_allclose(merged["se"], plain["se"], rtol=1e-10)


def test_cox_continuous_times_match_lifelines():
    # no ties at all (rows, cells and blocks coincide), many strata
    rng = np.random.default_rng(2)
    n = 600
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.integers(0, 2, n),
                       "s": rng.integers(0, 30, n)})
    df["t"] = rng.exponential(np.exp(-0.5 * df["x1"] + 0.4 * df["x2"]))
    df["e"] = (rng.random(n) < 0.75).astype(int)
    res = cox_hr(df, "t", "e", ["x1", "x2"], strata="s")
    ref = CoxPHFitter().fit(df, "t", "e", strata=["s"])
    np.testing.assert_allclose(res["coef"], ref.params_[["x1", "x2"]], atol=1e-6)
    np.testing.assert_allclose(res["se"], ref.standard_errors_[["x1", "x2"]], rtol=1e-5)


# ============================================================================================
# proportion_ci / response_summary
# ============================================================================================


def test_proportion_ci_clopper_pearson_references():
    res = proportion_ci(0, 10).iloc[0]
    assert list(res.index) == ["successes", "n", "estimate", "lower", "upper", "method"]
    assert (res["estimate"], res["lower"]) == (0, 0)
    assert res["upper"] == approx(0.3085, 4)  # 1 - 0.025^(1/10)
    # [STATS-EX] binom.test(c(682, 243), p = 3/4): 0.7076683 0.7654066, estimate 0.7372973
    res = proportion_ci(682, 925).iloc[0]
    assert res["lower"] == approx(0.7076683, 7) and res["upper"] == approx(0.7654066, 7)
    assert res["estimate"] == approx(0.7372973, 7)
    # R binom.test(2, 12): 0.02086253 0.48413775 (R session published as a GitHub gist by
    # John Myles White, "binom.test(2, 12)", 2016)
    res = proportion_ci(2, 12).iloc[0]
    assert res["lower"] == approx(0.02086253, 8) and res["upper"] == approx(0.48413775, 8)
    res = proportion_ci(10, 10).iloc[0]
    assert res["upper"] == 1 and res["lower"] == pytest.approx(0.025 ** (1 / 10))


@pytest.mark.parametrize("k,n", [(1, 1), (1, 7), (3, 20), (19, 20), (50, 664), (332, 664)])
def test_proportion_ci_is_beta_quantiles(k, n):
    res = proportion_ci(k, n, conf_level=0.9).iloc[0]
    assert res["lower"] == pytest.approx(sps.beta.ppf(0.05, k, n - k + 1), rel=1e-9)
    upper = 1.0 if k == n else sps.beta.ppf(0.95, k + 1, n - k)
    assert res["upper"] == pytest.approx(upper, rel=1e-9)


def test_proportion_ci_wilson():
    # [STATS-EX] prop.test(heads = 52, 100, correct = FALSE): 0.4231658 0.6153545
    res = proportion_ci(52, 100, method="wilson").iloc[0]
    assert res["lower"] == approx(0.4231658, 7) and res["upper"] == approx(0.6153545, 7)
    assert res["method"] == "wilson"


def test_proportion_ci_edge_and_invalid():
    res = proportion_ci(0, 0).iloc[0]
    assert res[["estimate", "lower", "upper"]].isna().all() and res["n"] == 0
    for args in [(5, 3), (-1, 3), (1.5, 3), (1, -2), (True, 3)]:
        with pytest.raises(ValueError):
            proportion_ci(*args)
    with pytest.raises(ValueError, match="method"):
        proportion_ci(1, 3, method="wald")
    with pytest.raises(ValueError, match="conf_level"):
        proportion_ci(1, 3, conf_level=1)
    assert proportion_ci(np.int64(3), np.int64(7)).loc[0, "successes"] == 3


def test_response_summary_counts_and_groups():
    df = pd.DataFrame({
        "next_best_response": ["CR", "PR", "SD", "PD", "NE", None, "pr", "SD", "CR", "PR"],
        "measurable_disease": [True, True, True, True, True, True, True, False, None, True],
        "arm": pd.Categorical(["a", "a", "a", "b", "b", "b", "b", "a", "a", None],
                              categories=["b", "a", "c"]),
    })
    overall = response_summary(df)
    assert list(overall.columns) == ["group", "measure", "successes", "n", "estimate", "lower",
                                     "upper"]
    assert overall["group"].tolist() == ["Overall", "Overall"]
    assert overall["measure"].tolist() == ["ORR", "DCR"]
    # measurable: rows 0-6 and 9 (8 patients); missing response counts as non-responder
    assert overall["n"].tolist() == [8, 8]
    assert overall["successes"].tolist() == [4, 5]  # CR, PR, pr, PR ; + SD
    ref = proportion_ci(4, 8).iloc[0]
    assert overall.loc[0, "lower"] == ref["lower"] and overall.loc[0, "upper"] == ref["upper"]

    by = response_summary(df, by="arm", method="wilson")
    assert by["group"].tolist() == ["b", "b", "a", "a", "c", "c", "Overall", "Overall"]
    assert by["n"].tolist() == [4, 4, 3, 3, 0, 0, 8, 8]
    assert by["successes"].tolist() == [1, 1, 2, 3, 0, 0, 4, 5]
    assert by.iloc[4:6][["estimate", "lower", "upper"]].isna().all().all()


# ============================================================================================
# cumulative incidence
# ============================================================================================


def _cinc_loop(y, ic, icc):
    """Literal transcription of cmprsk's Fortran ``cinc`` [CMPRSK]: x, f, v (step corners)."""
    order = np.argsort(y, kind="stable")
    y = np.asarray(y, float)[order]
    ic = np.asarray(ic, int)[order]
    icc = np.asarray(icc, int)[order]
    n = len(y)
    fk, v1, v2, v3 = 1.0, 0.0, 0.0, 0.0
    x, f, v = [0.0], [0.0], [0.0]
    rs, l, ll = n, 0, 0
    while True:
        while l + 1 < n and y[l + 1] == y[ll]:
            l += 1
        nd1 = int(icc[ll:l + 1].sum())
        nd2 = int((ic[ll:l + 1] - icc[ll:l + 1]).sum())
        nd = nd1 + nd2
        if nd > 0:
            fkn = fk * (rs - nd) / rs
            if nd1 > 0:
                f.append(f[-1])
                f.append(f[-1] + fk * nd1 / rs)
            if nd2 > 0 and fkn > 0:
                t5 = 1 - (nd2 - 1.0) / (rs - 1.0) if nd2 > 1 else 1.0
                t6 = fk * fk * t5 * nd2 / (rs * rs)
                t3, t4 = 1.0 / fkn, f[-1] / fkn
                v1, v2, v3 = v1 + t4 * t4 * t6, v2 + t3 * t4 * t6, v3 + t3 * t3 * t6
            if nd1 > 0:
                t5 = 1 - (nd1 - 1.0) / (rs - 1.0) if nd1 > 1 else 1.0
                t6 = fk * fk * t5 * nd1 / (rs * rs)
                t3 = 1.0 / fkn if fkn > 0 else 0.0
                t4 = 1 + t3 * f[-1]
                v1, v2, v3 = v1 + t4 * t4 * t6, v2 + t3 * t4 * t6, v3 + t3 * t3 * t6
                t2 = f[-1]
                x += [y[l], y[l]]
                v += [v[-1], v1 + t2 * t2 * v3 - 2 * t2 * v2]
            fk = fkn
        rs = n - (l + 1)
        l += 1
        if l >= n:
            break
        ll = l
    return np.array(x), np.array(f), np.array(v)


def test_cif_matches_r_survival_aalen_johansen_by_hand():
    # [SURV-T] testci.R: tdata time = 1,2,2,3,3,3,5,6; status*event = 0,1,0,2,0,2,0,2;
    # survfit's Aalen-Johansen gives P(state 1) = 1/7 from time 2, P(state 2) = 12/35 from
    # time 3 and 6/7 at time 6; n.risk = 8, 7, 5, 2, 1 at times 1, 2, 3, 5, 6.
    td = pd.DataFrame({"time": [1, 2, 2, 3, 3, 3, 5, 6], "code": [0, 1, 0, 2, 0, 2, 0, 2]})
    one = cumulative_incidence(td, "time", "code")
    assert list(one.columns) == ["time", "n_at_risk", "estimate", "lower", "upper"]
    assert one["time"].tolist() == [0, 2, 3, 6]
    assert one["n_at_risk"].tolist() == [8, 7, 5, 1]
    np.testing.assert_allclose(one["estimate"], [0, 1 / 7, 1 / 7, 1 / 7], rtol=1e-14)
    two = cumulative_incidence(td, "time", "code", event_code=2, competing_code=1)
    np.testing.assert_allclose(two["estimate"], [0, 0, 12 / 35, 6 / 7], rtol=1e-14)


def test_cif_variance_matches_cmprsk_fortran():
    rng = np.random.default_rng(3)
    t = rng.integers(1, 15, 80).astype(float)
    code = rng.choice([0, 1, 2], 80, p=[0.3, 0.4, 0.3])
    x, f, v = _cinc_loop(t, code > 0, code == 1)
    res = cumulative_incidence(pd.DataFrame({"t": t, "ev": code}), "t", "ev")
    res = res.set_index("time")
    corner_times, corner_f, corner_v = x[2::2], f[2::2], v[2::2]
    np.testing.assert_allclose(res.loc[corner_times, "estimate"], corner_f, atol=1e-14)
    # the interval is the log(-log) one on cmprsk's variance
    est = corner_f
    c = Z95 * np.sqrt(corner_v) / (est * np.log(est))
    np.testing.assert_allclose(res.loc[corner_times, "lower"], est ** np.exp(-c), rtol=1e-10)
    np.testing.assert_allclose(res.loc[corner_times, "upper"], est ** np.exp(c), rtol=1e-10)
    assert ((res["lower"] <= res["estimate"]) & (res["estimate"] <= res["upper"])).all()
    assert res["lower"].min() >= 0 and res["upper"].max() <= 1


def test_cif_without_competing_events_is_one_minus_km():
    rng = np.random.default_rng(5)
    t = rng.integers(1, 30, 300).astype(float)
    e = rng.integers(0, 2, 300)
    res = cumulative_incidence(pd.DataFrame({"t": t, "ev": e}), "t", "ev")
    kmf = KaplanMeierFitter().fit(t, e)
    km = kmf.survival_function_.iloc[:, 0]
    np.testing.assert_allclose(res["estimate"].iloc[1:], 1 - km.loc[res["time"].iloc[1:]],
                               atol=1e-12)


def test_cif_cause_specific_curves_sum_to_all_cause():
    rng = np.random.default_rng(9)
    t = rng.integers(1, 30, 400).astype(float)
    code = rng.choice([0, 1, 2], 400)
    df = pd.DataFrame({"t": t, "ev": code})
    times = np.arange(0, 31)
    one = cumulative_incidence_at(df, "t", "ev", timepoints=times)
    two = cumulative_incidence_at(df, "t", "ev", timepoints=times, event_code=2, competing_code=1)
    km = km_summary(t, (code > 0).astype(int), timepoints=times).iloc[0]
    all_cause = 1 - np.array([km[f"rate_{k}"] for k in times])
    np.testing.assert_allclose(one["estimate"] + two["estimate"], all_cause, atol=1e-12)


def test_cif_matches_lifelines_on_untied_data():
    # cross-check: lifelines' Aalen-Johansen (no jitter needed without ties)
    rng = np.random.default_rng(13)
    t = rng.exponential(10, 250)
    code = rng.choice([0, 1, 2], 250)
    aj = AalenJohansenFitter(calculate_variance=False).fit(t, code, event_of_interest=1)
    ref = aj.cumulative_density_.iloc[:, 0]
    res = cumulative_incidence(pd.DataFrame({"t": t, "ev": code}), "t", "ev")
    np.testing.assert_allclose(res["estimate"], np.interp(res["time"], ref.index, ref.values),
                               atol=1e-12)


def test_cif_at_timepoints_and_counts():
    td = pd.DataFrame({"time": [1, 2, 2, 3, 3, 3, 5, 6], "code": [0, 1, 0, 2, 0, 2, 0, 2]})
    res = cumulative_incidence_at(td, "time", "code", timepoints=(0.5, 2, 4, 6, 7))
    assert list(res.columns) == ["time", "estimate", "lower", "upper", "n", "events",
                                 "competing_events"]
    np.testing.assert_allclose(res["estimate"].iloc[:4], [0, 1 / 7, 1 / 7, 1 / 7], rtol=1e-14)
    assert res[["lower", "upper"]].iloc[0].tolist() == [0, 0]
    assert res[["estimate", "lower", "upper"]].iloc[4].isna().all()  # past last follow-up
    assert res["events"].tolist() == [0, 1, 1, 1, 1]
    assert res["competing_events"].tolist() == [0, 0, 2, 3, 3]
    assert res["n"].unique().tolist() == [8]
    curve = cumulative_incidence(td, "time", "code").set_index("time")
    assert res.loc[2, "upper"] == pytest.approx(curve.loc[3, "upper"])


def test_cif_invalid_and_empty():
    df = pd.DataFrame({"t": [1, 2, 3], "ev": [0, 1, 3]})
    with pytest.raises(StatsInputError, match="competing"):
        cumulative_incidence(df, "t", "ev")
    with pytest.raises(StatsInputError, match="differ"):
        cumulative_incidence(df, "t", "ev", event_code=1, competing_code=1)
    with pytest.raises(StatsInputError, match=">= 0"):
        cumulative_incidence(pd.DataFrame({"t": [-1.0], "ev": [1]}), "t", "ev")
    empty = cumulative_incidence(pd.DataFrame({"t": [], "ev": []}), "t", "ev")
    assert empty["time"].tolist() == [0] and empty["n_at_risk"].tolist() == [0]
    no_events = cumulative_incidence(pd.DataFrame({"t": [1, 2], "ev": [0, 0]}), "t", "ev")
    assert no_events["estimate"].tolist() == [0]
    at = cumulative_incidence_at(pd.DataFrame({"t": [], "ev": []}), "t", "ev", timepoints=(6,))
    assert math.isnan(at.loc[0, "estimate"]) and at.loc[0, "n"] == 0


# ============================================================================================
# docstring examples
# ============================================================================================


def test_docstring_examples_run():
    # stats is a package: run the examples of the package and of each of its modules
    import importlib
    import pkgutil

    modules = [stats] + [importlib.import_module(f"{stats.__name__}.{m.name}")
                         for m in pkgutil.iter_modules(stats.__path__)]
    results = [doctest.testmod(m, optionflags=doctest.NORMALIZE_WHITESPACE) for m in modules]
    assert sum(r.attempted for r in results) > 10
    assert sum(r.failed for r in results) == 0
