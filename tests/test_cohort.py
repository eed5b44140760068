"""Filters, attrition and the loaded cohort; descriptive counts; results records."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ensemble_helpers.cohort import apply_filters, load_cohort
from ensemble_helpers.describe import frequencies, patients_per_site, site_summary
from ensemble_helpers.endpoints import derive_adsl
from ensemble_helpers.params import ParameterError, params_from_mapping
from ensemble_helpers.published import compare_published, load_published
from ensemble_helpers.results import Results, read_results
from ensemble_helpers.schema import validate_patients
from factories import patient, patients_frame, write_csv


def _adsl():
    return derive_adsl(
        validate_patients(
            patients_frame(
                patient(patient_id="A", site_id="S1", next_class="anti_her2_antibody"),
                patient(patient_id="B", site_id="S1", next_class="anti_her2_tki"),
                patient(patient_id="C", site_id="S2", next_class="chemotherapy",
                        tdxd_discontinuation_reason="ild", tdxd_ild_grade=2),
            )
        )
    )


def _params(**kw):
    return params_from_mapping({"title": "T", "data_path": "d.csv", **kw}, source="p.yaml")


def test_filters_count_each_step():
    adsl, attrition = apply_filters(
        _adsl(), _params(filters={"anti_her2": [True], "regimen_group": ["tki"]})
    )
    assert adsl["patient_id"].tolist() == ["B"]
    assert attrition["n"].tolist() == [3, 2, 1, 1]
    assert attrition["excluded"].tolist() == [0, 1, 1, 0]


@pytest.mark.parametrize(
    "filters, words",
    [
        ({"no_such_column": ["x"]}, "not in the data"),
        ({"regimen_group": ["antibodies"]}, "not allowed"),
        ({"anti_her2": ["yes"]}, "true/false"),
        ({"regimen_group": ["tki"], "discontinuation_group": ["other"]}, "leave 0 patients"),
    ],
)
def test_bad_filters(filters, words):
    with pytest.raises(ParameterError) as info:
        apply_filters(_adsl(), _params(filters=filters))
    assert words in str(info.value) and "p.yaml" in str(info.value)


def test_load_cohort(tmp_path):
    path = write_csv(tmp_path, patient(), patient(patient_id="P2", next_class="anti_her2_tki"))
    cohort = load_cohort(_params(data_path=str(path), filters={"regimen_group": ["antibody"]}))
    assert cohort.adsl["patient_id"].tolist() == ["P1"]
    assert set(cohort.adtte["patient_id"]) == {"P1"}
    assert cohort.endpoint("OS")["event"].tolist() == [0]
    with pytest.raises(ParameterError, match="does not exist"):
        load_cohort(_params(data_path=str(tmp_path / "missing.csv")))


def test_derived_variables_range_filter_and_comparison(tmp_path):
    path = write_csv(
        tmp_path,
        patient(patient_id="P1", age=50, ecog=0),
        patient(patient_id="P2", age=65, ecog=2, next_class="anti_her2_tki"),
        patient(patient_id="P3", age=71, ecog=1, next_class="anti_her2_tki"),
    )
    derived = {"age_group": {"from": "age", "breaks": [65], "labels": ["<65", ">=65"]},
               "ecog_group": {"from": "ecog", "groups": {"0-1": [0, 1], ">=2": [2, 3, 4]}}}
    cohort = load_cohort(_params(data_path=str(path), derived_variables=derived, filters={"age": {"min": 65}}))
    assert cohort.adsl["patient_id"].tolist() == ["P2", "P3"]
    assert cohort.adsl["age_group"].astype(str).tolist() == [">=65", ">=65"]
    assert cohort.adsl["ecog_group"].astype(str).tolist() == [">=2", "0-1"]
    assert cohort.attrition["step"].tolist()[1] == "age >= 65"
    assert cohort.attrition["excluded"].tolist() == [0, 1, 0]
    by_group = load_cohort(_params(data_path=str(path), derived_variables=derived, filters={"ecog_group": ["0-1"]},
                                   comparison={"variable": "regimen_group", "levels": ["tki", "antibody"]}))
    assert by_group.adsl["patient_id"].tolist() == ["P1", "P3"]
    with pytest.raises(ParameterError) as info:  # both compared levels must be present
        load_cohort(_params(data_path=str(path), filters={"regimen_group": ["tki"]},
                            comparison={"variable": "regimen_group", "levels": ["tki", "antibody"]}))
    assert info.value.key == "comparison.levels" and "no patient" in str(info.value)
    with pytest.raises(ParameterError) as info:
        load_cohort(_params(data_path=str(path), filters={"regimen_group": {"min": 1}}))
    assert info.value.key == "filters.regimen_group" and "numeric" in str(info.value)


def test_frequencies_and_sites():
    adsl = _adsl()
    f = frequencies(adsl, "next_class")
    assert f["level"].tolist()[:3] == ["anti_her2_antibody", "anti_her2_tki", "anti_her2_other"]
    assert f["n"].tolist() == [1, 1, 0, 1, 0, 0]
    assert f["pct"].sum() == pytest.approx(100)
    assert patients_per_site(adsl).tolist() == [2, 1]
    s = site_summary(adsl).iloc[0]
    assert (s["sites"], s["patients"], s["median"], s["max"], s["single_patient_sites"]) == (2, 3, 1.5, 2, 1)
    ecog = frequencies(pd.DataFrame({"e": pd.array([1, None, 1], dtype="Int64")}), "e")
    assert ecog["level"].tolist() == [1, "Missing"] and ecog["n"].tolist() == [2, 1]


def test_results_write_merges_notebooks_and_is_json(tmp_path):
    a = Results("01_cohort")
    a.add("count", "patients", n=3, estimate=3, unit="count")
    a.write(tmp_path)
    b = Results("02_endpoints")
    b.add("km_median", "PFS", estimate=float("nan"), lower=1.0, upper=None, unit="months")
    b.write(tmp_path)
    b.write(tmp_path)  # rewriting replaces this notebook's records only
    recs = read_results(tmp_path / "results.json")
    assert [r["notebook"] for r in recs] == ["01_cohort", "02_endpoints"]
    assert recs[1]["estimate"] is None and recs[1]["lower"] == 1.0
    json.loads((tmp_path / "results.json").read_text())  # strict JSON (no NaN)
    with pytest.raises(KeyError):
        a.add("count", "x", colour="red")


def test_compare_published():
    r = Results("02_endpoints")
    r.add("km_median", "PFS", estimate=4.0, lower=3.5, upper=4.6, unit="months")
    table = compare_published(r.frame()).set_index("key")
    assert len(table) == len(load_published())
    assert table.loc["pfs", "published"] == 4.1
    assert table.loc["pfs", "difference"] == pytest.approx(-0.1)
    assert table.loc["pfs", "within_ci"] is True
    assert pd.isna(table.loc["os", "estimate"])
