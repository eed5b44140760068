"""The synthetic cohort: data contract, reproducibility, calibration to the published figures, CLI.

Tolerances of the calibration test (n = 200,000, seed 2025): every median (Kaplan–Meier for the
endpoints, plain for age, prior lines and the observed follow-up) within ±3% (relative) of its
published value, every proportion within ±0.5 percentage points, the shortest and longest
follow-up within 1 month of the published range. The sampling error at that size is ~0.3–1% for
the medians (subgroups of 34,000–54,000 patients) and ~0.1–0.2 pp for the proportions (~0.2 pp
for the shares among the 44,000 ILD stops), so the tolerances are 3 or more standard errors wide.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from ensemble_helpers import synthetic
from ensemble_helpers.endpoints import DISCONTINUATION_GROUPS, REGIMEN_GROUPS, derive_adsl, derive_adtte
from ensemble_helpers.published import published_value
from ensemble_helpers.schema import CATEGORIES, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, load_patients, validate_patients
from ensemble_helpers.synthetic import (
    CohortModel,
    Targets,
    calibrate,
    generate_cohort,
    implied_values,
    main,
    write_cohort,
)
from ensemble_helpers.synthetic.check import MEDIAN_TOLERANCE, PROPORTION_TOLERANCE, calibration_table

ALL_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

LATER_DATES = (
    "next_end",
    "progression_date",
    "second_next_start",
    "death_date",
    "ild_recurrence_date",
    "last_followup",
)
DATES = ("tdxd_start", "tdxd_end", "next_start") + LATER_DATES


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return generate_cohort(n=664, n_sites=222, seed=2025)


@pytest.fixture(scope="module")
def large() -> pd.DataFrame:
    return generate_cohort(n=200_000, seed=2025)


# ----------------------------------------------------------------------------------------------
# data contract


def test_columns_and_dtypes(cohort):
    assert tuple(cohort.columns) == ALL_COLUMNS
    assert tuple(cohort["tdxd_best_response"].cat.categories) == ("CR", "PR", "SD", "PD", "NE")
    for col in DATES:
        assert cohort[col].dtype == "datetime64[ns]", col
    for col, levels in CATEGORIES.items():
        assert isinstance(cohort[col].dtype, pd.CategoricalDtype), col
        assert tuple(cohort[col].cat.categories) == levels, col
    assert cohort["ecog"].dtype == "Int64" and cohort["tdxd_ild_grade"].dtype == "Int64"
    assert cohort["prior_lines"].dtype == "int64" and cohort["age"].dtype == "float64"
    for col in ("visceral_metastasis", "brain_metastasis", "measurable_disease", "prior_trastuzumab",
                "prior_pertuzumab", "prior_tdm1"):
        assert cohort[col].dtype == bool, col
    for col in ("patient_id", "site_id", "next_regimen"):
        assert cohort[col].map(type).eq(str).all(), col


@pytest.mark.parametrize("n, n_sites, seed", [(664, 222, 2025), (5_000, 222, 7), (10, 222, 3), (1, 1, 0)])
def test_passes_the_data_contract(n, n_sites, seed):
    df = generate_cohort(n=n, n_sites=n_sites, seed=seed)
    typed = validate_patients(df, source=f"generate_cohort(n={n}, seed={seed})")
    assert len(typed) == n


def test_contract_rules_hold():
    """The date rules checked independently of schema.py (so a schema bug cannot hide ours)."""
    df = generate_cohort(n=50_000, seed=11)
    for col in DATES:
        d = df[col].dropna()
        assert (d == d.dt.normalize()).all(), f"{col} has a time of day"
    assert (df["tdxd_end"] >= df["tdxd_start"]).all()
    assert (df["next_start"] >= df["tdxd_end"]).all()
    for col in LATER_DATES:
        d = df[col]
        assert (d.isna() | (d >= df["next_start"])).all(), col
        assert (d.isna() | (d <= df["last_followup"])).all(), col
    dead = df["death_date"].notna()
    assert (df.loc[dead, "last_followup"] == df.loc[dead, "death_date"]).all()
    both = dead & df["progression_date"].notna()
    assert (df.loc[both, "death_date"] >= df.loc[both, "progression_date"]).all()
    for col in ("next_end", "second_next_start", "ild_recurrence_date", "progression_date"):
        has = dead & df[col].notna()
        assert (df.loc[has, col] <= df.loc[has, "death_date"]).all(), col
    assert (df["last_followup"] <= CohortModel().default_cutoff).all()
    t = Targets.from_published()
    assert df["tdxd_start"].between(t.tdxd_start_first, t.tdxd_start_last).all()
    ild = df["tdxd_discontinuation_reason"] == "ild"
    assert not df.loc[~ild, "tdxd_ild_grade"].notna().any()
    assert df.loc[ild, "tdxd_ild_grade"].dropna().between(1, 3).all()
    assert df.loc[ild, "tdxd_ild_grade"].isna().any()  # grade unknown for a few ILD stops
    # pertuzumab was given with trastuzumab
    assert not (df["prior_pertuzumab"] & ~df["prior_trastuzumab"]).any()
    assert df["age"].between(18, 110).all() and df["ecog"].dropna().between(0, 4).all()
    assert (df["prior_lines"] >= 0).all()


def test_internal_coherence():
    df = generate_cohort(n=50_000, seed=12)
    # the regimen ends at progression at the latest, and before the following one starts
    both = df["next_end"].notna() & df["progression_date"].notna()
    assert (df.loc[both, "next_end"] <= df.loc[both, "progression_date"]).all()
    both = df["next_end"].notna() & df["second_next_start"].notna()
    assert (df.loc[both, "next_end"] <= df.loc[both, "second_next_start"]).all()
    assert df.loc[df["second_next_start"].notna(), "next_end"].notna().all()
    # an ongoing regimen has no later event
    ongoing = df["next_end"].isna()
    assert df.loc[ongoing, ["progression_date", "death_date", "second_next_start"]].isna().all().all()
    # PD is best response only with a progression recorded before the first assessment
    pd_rows = df["next_best_response"] == "PD"
    early = (df["progression_date"] - df["next_start"]).dt.days < 60
    assert (early[pd_rows]).all()
    # responses only in measurable disease; ILD recurrence/exacerbation during the first regimen,
    # 3.4% of the ILD stops and 3.2% of the cohort (the rest after another stop reason)
    assert not df.loc[~df["measurable_disease"], "next_best_response"].isin(["CR", "PR"]).any()
    rec = df["ild_recurrence_date"].notna()
    ild = df["tdxd_discontinuation_reason"] == "ild"
    assert rec[ild].mean() == pytest.approx(0.034, abs=0.0005) and rec.mean() == pytest.approx(0.032, abs=0.0005)
    ended = df["next_end"].notna() & rec
    assert (df.loc[ended, "ild_recurrence_date"] <= df.loc[ended, "next_end"]).all()


# ----------------------------------------------------------------------------------------------
# reproducibility and arguments


def test_same_seed_gives_identical_data():
    pd.testing.assert_frame_equal(generate_cohort(n=2_000, seed=99), generate_cohort(n=2_000, seed=99))


def test_different_seeds_differ():
    a, b = generate_cohort(n=2_000, seed=1), generate_cohort(n=2_000, seed=2)
    assert not a["next_start"].equals(b["next_start"])
    assert not a["site_id"].equals(b["site_id"])


@pytest.mark.parametrize(
    "kwargs, match",
    [({"n": 0}, "n must be at least 1"), ({"n_sites": 0}, "n_sites"), ({"data_cutoff": "2020-12-31"}, "accrual")],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_cohort(**kwargs)


def test_data_cutoff_moves_the_follow_up_not_the_start_window():
    default = generate_cohort(n=2_000, seed=5)
    later = generate_cohort(n=2_000, seed=5, data_cutoff="2025-06-30")
    assert later["last_followup"].max() <= pd.Timestamp("2025-06-30")
    assert later["last_followup"].max() > CohortModel().default_cutoff
    t = Targets.from_published()
    assert later["tdxd_start"].between(t.tdxd_start_first, t.tdxd_start_last).all()
    followup = lambda df: (df["last_followup"] - df["next_start"]).dt.days.median()  # noqa: E731
    assert followup(later) > followup(default)
    validate_patients(later)


# ----------------------------------------------------------------------------------------------
# the study-sized cohort


def test_study_sized_cohort_looks_like_the_study(cohort):
    assert len(cohort) == 664 and cohort["patient_id"].is_unique
    assert cohort["patient_id"].iloc[0] == "P000001" and cohort["patient_id"].iloc[-1] == "P000664"
    assert cohort["site_id"].str.fullmatch(r"S\d{3}").all()
    per_site = cohort["site_id"].value_counts()
    assert per_site.size == 222  # every institution contributes
    assert per_site.min() >= 1 and per_site.max() >= 10  # a few large centres
    assert (per_site == 1).sum() >= 20  # and many with a single patient
    assert 52 <= cohort["age"].median() <= 64
    assert cohort["prior_lines"].median() == 3
    # the published ILD counts: 146 stops, grade 1/2/3/unknown 78/46/18/4; 5 recurrences among
    # them and 21 in the whole cohort (the 3.4% and the 3.2%)
    ild = cohort["tdxd_discontinuation_reason"] == "ild"
    assert ild.sum() == 146
    grades = cohort.loc[ild, "tdxd_ild_grade"].value_counts(dropna=False)
    assert (grades[1], grades[2], grades[3], grades[pd.NA]) == (78, 46, 18, 4)
    assert cohort.loc[ild, "ild_recurrence_date"].notna().sum() == 5
    assert cohort["ild_recurrence_date"].notna().sum() == 21
    assert 0 < cohort["ecog"].isna().sum() < 0.1 * len(cohort)
    for cls, names in synthetic.REGIMENS.items():
        used = cohort.loc[cohort["next_class"] == cls, "next_regimen"]
        assert used.isin([name for name, _ in names]).all(), cls


def test_patient_ids_have_six_digits_until_a_million():
    assert generate_cohort(n=1_200, seed=1)["patient_id"].str.fullmatch(r"P\d{6}").all()
    # n >= 1,000,000 widens the number (generate_cohort uses max(6, len(str(n))) digits)
    assert list(synthetic._ids("P", np.array([1, 1_000_000]), 7)) == ["P0000001", "P1000000"]


# ----------------------------------------------------------------------------------------------
# calibration


def test_targets_come_from_published_yaml():
    t = Targets.from_published()
    assert t.pfs == published_value("pfs") and t.os_tki == published_value("os_tki")
    assert t.reason_probs.sum() == pytest.approx(1.0)
    assert CohortModel().class_probs.sum() == pytest.approx(1.0)


def test_calibration_groups_match_derive_adsl():
    """The generator's regimen/discontinuation groups are the ones the analysis uses."""
    grid = pd.MultiIndex.from_product([CATEGORIES["next_class"], CATEGORIES["tdxd_discontinuation_reason"]])
    frame = pd.DataFrame(
        {"next_class": grid.get_level_values(0), "tdxd_discontinuation_reason": grid.get_level_values(1),
         "next_best_response": "SD", "ild_recurrence_date": pd.NaT}
    )
    adsl = derive_adsl(frame)
    klass = [CATEGORIES["next_class"].index(c) for c in frame["next_class"]]
    reason = [CATEGORIES["tdxd_discontinuation_reason"].index(r) for r in frame["tdxd_discontinuation_reason"]]
    assert list(np.array(REGIMEN_GROUPS)[synthetic._CLASS_GROUP[klass]]) == list(adsl["regimen_group"])
    assert list(np.array(DISCONTINUATION_GROUPS)[synthetic._REASON_GROUP[reason]]) == list(
        adsl["discontinuation_group"]
    )


def test_calibration_solves_its_equations():
    """The analytic model medians equal the targets (numerical error only)."""
    targets = Targets.from_published()
    implied = implied_values(calibrate())
    for key, value in implied.items():
        assert value == pytest.approx(getattr(targets, key), rel=1e-5), key


def test_calibration_is_cached_and_immutable():
    cal = calibrate(CohortModel())
    assert calibrate(CohortModel()) is cal
    with pytest.raises(ValueError):
        cal.class_given_stratum[0, 0] = 1.0
    assert set(cal.as_frame()["parameter"]) >= {"pfs_scale", "pps_scale", "stop_scale", "accrual_ramp"}


@pytest.mark.slow
def test_cohort_converges_to_the_published_figures(large):
    """Baseline, calendar and endpoints at n = 200,000 (tolerances in the module docstring)."""
    table = calibration_table(large)
    keys = set(table["key"])
    assert keys >= {"age", "ecog_0_1", "visceral", "brain", "prior_lines", "prior_trastuzumab",
                    "prior_pertuzumab", "prior_tdm1", "followup", "followup_min", "followup_max",
                    "ild_grade_1", "ild_grade_2", "ild_grade_3", "ild_recurrence", "ild_recurrence_ild_stop",
                    "anti_her2_ild", "pfs", "os", "pfs_tki", "os_antibody", "pfs_adverse_event"}
    assert table.loc[table["kind"] == "median", "tolerance"].eq(MEDIAN_TOLERANCE).all()
    assert table.loc[table["kind"] == "proportion", "tolerance"].eq(PROPORTION_TOLERANCE).all()
    bad = table[~table["within"]]
    assert bad.empty, bad.to_string()
    reason = large["tdxd_discontinuation_reason"].value_counts(normalize=True)
    t = Targets.from_published()
    assert abs(reason["other"] - (1 - t.stop_progression - t.stop_ild - t.stop_other_ae)) <= PROPORTION_TOLERANCE
    assert large["tdxd_start"].min() == pd.Timestamp(t.tdxd_start_first)
    assert large["tdxd_start"].max() == pd.Timestamp(t.tdxd_start_last)


@pytest.mark.slow
def test_tdxd_response_and_its_association(large):
    """Best response to T-DXd: DESTINY-Breast01 shares; responders stopped more often for an AE and do better."""
    adsl = derive_adsl(large)
    resp = large["tdxd_best_response"].isin(["CR", "PR"])
    assert abs(resp.mean() - CohortModel().tdxd_orr) <= PROPORTION_TOLERANCE
    ae = large["tdxd_discontinuation_reason"].isin(["ild", "other_adverse_event"])
    assert resp[ae].mean() > resp[~ae].mean() + 0.1
    pfs = derive_adtte(large).query("PARAMCD == 'PFS'").set_index("patient_id")
    km = lambda ids: KaplanMeierFitter().fit(pfs.loc[ids, "AVAL"], pfs.loc[ids, "CNSR"] == 0).median_survival_time_  # noqa: E731
    ids = adsl["patient_id"]
    assert km(ids[resp.to_numpy()]) > km(ids[~resp.to_numpy()])


@pytest.mark.slow
def test_regimen_choice_is_confounded(large):
    """TKI more likely with brain metastases and >= 4 prior lines, both prognostic (docs/synthetic.md)."""
    tki = large["next_class"] == "anti_her2_tki"
    antibody = large["next_class"] == "anti_her2_antibody"
    share = lambda mask: (tki & mask).sum() / ((tki | antibody) & mask).sum()  # noqa: E731
    assert share(large["brain_metastasis"]) > share(~large["brain_metastasis"]) + 0.1
    assert share(large["prior_lines"] >= 4) > share(large["prior_lines"] < 4) + 0.05


@pytest.mark.slow
def test_large_cohort_passes_the_data_contract(large):
    validate_patients(large, source="generate_cohort(n=200000)")


# ----------------------------------------------------------------------------------------------
# writing and command line


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_writes_a_file_that_reads_back(tmp_path, capsys, suffix):
    out = tmp_path / "nested" / "dir" / f"cohort{suffix}"
    assert main(["--n", "300", "--seed", "4", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left
    loaded = load_patients(out)
    expected = generate_cohort(n=300, seed=4)
    pd.testing.assert_frame_equal(loaded[list(ALL_COLUMNS)], expected, check_dtype=True)


def test_write_replaces_an_existing_file(tmp_path):
    out = tmp_path / "cohort.csv"
    out.write_text("old")
    write_cohort(generate_cohort(n=20, seed=1), out)
    assert len(load_patients(out)) == 20


def test_write_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="csv or .parquet"):
        write_cohort(generate_cohort(n=5, seed=1), tmp_path / "cohort.xlsx")
    assert not list(tmp_path.iterdir())
