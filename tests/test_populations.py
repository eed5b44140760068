"""Populations that shape the report (issue 14.1): constant variables, empty levels, sections
that do not apply."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ensemble_helpers import populations, report
from ensemble_helpers.cohort import load_cohort
from ensemble_helpers.params import load_params
from ensemble_helpers.results import Results
from ensemble_helpers.synthetic import generate_cohort, write_cohort

ROOT = Path(__file__).resolve().parents[1]


def _adsl() -> pd.DataFrame:
    return pd.DataFrame({
        "regimen_group": pd.Categorical(["tki"] * 4, categories=["antibody", "tki", "non_antibody_tki"]),
        "hormone_receptor": ["positive", "negative", "positive", None],
        "brain_metastasis": [True, True, True, True],
        "tdxd_discontinuation_reason": pd.Categorical(["progression"] * 4,
                                                      categories=["progression", "ild", "other"]),
        "measurable_disease": [False, False, None, False],
    })


def test_constant_variables_are_not_subgroups():
    adsl = _adsl()
    assert populations.is_constant(adsl["regimen_group"])
    assert populations.is_constant(adsl["brain_metastasis"])
    assert not populations.is_constant(adsl["hormone_receptor"])  # missing is not a level
    cands = ["regimen_group", "hormone_receptor", "brain_metastasis"]
    assert populations.subgroup_variables(adsl, cands) == ("hormone_receptor",)
    assert populations.subgroup_variables(adsl, cands, exclude=["hormone_receptor"]) == ()
    left = populations.left_out_subgroups(adsl, cands)
    assert set(left) == {"regimen_group", "brain_metastasis"}
    assert left["regimen_group"] == "every patient has the same regimen class (Anti-HER2 TKI)"
    assert populations.table_one_split(adsl, "regimen_group") is None
    assert populations.table_one_split(adsl, "hormone_receptor") == "hormone_receptor"
    with pytest.raises(KeyError):
        populations.subgroup_applies(adsl, "no_such_column")


def test_all_missing_variable_does_not_apply():
    adsl = pd.DataFrame({"x": [None, None]})
    ok = populations.subgroup_applies(adsl, "x")
    assert not ok and ok.reason.startswith("Not applicable in this population: no patient has a value")


def test_empty_levels_dropped_with_one_line():
    adsl = _adsl()
    out, dropped = populations.drop_empty_levels(adsl)
    assert dropped == {"regimen_group": ["antibody", "non_antibody_tki"],
                       "tdxd_discontinuation_reason": ["ild", "other"]}
    assert list(out["regimen_group"].cat.categories) == ["tki"]
    assert list(adsl["regimen_group"].cat.categories) == ["antibody", "tki", "non_antibody_tki"]  # input unchanged
    note = populations.empty_levels_note(dropped, ["tdxd_discontinuation_reason"])
    assert note == "Not shown, no patient in this population: reason for stopping T-DXd ILD, Other."
    assert "\n" not in populations.empty_levels_note(dropped)
    assert populations.empty_levels_note({}) is None
    same, none = populations.drop_empty_levels(out)
    assert same is out and none == {}


def test_sections_that_do_not_apply_say_so():
    adsl = _adsl()
    ild = populations.ild_applies(adsl)
    assert not ild and ild.reason == "Not applicable in this population: no patient stopped T-DXd for ILD."
    resp = populations.response_applies(adsl)
    assert not resp and "measurable disease" in resp.reason
    adsl.loc[0, "tdxd_discontinuation_reason"] = "ild"
    adsl["measurable_disease"] = [True, False, None, False]
    assert populations.ild_applies(adsl) and populations.response_applies(adsl)
    assert populations.ild_applies(adsl).reason == ""
    left = populations.sections_left_out(_adsl(), ["hormone_receptor"], ["regimen_group"])
    assert left == ["Regimen class: every patient has the same regimen class (Anti-HER2 TKI)",
                    "ILD grade and recurrence: no patient stopped T-DXd for ILD",
                    "Response: no patient has measurable disease"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("populations") / "cohort.csv"
    write_cohort(generate_cohort(n=400, n_sites=60, seed=11), path)
    return path


def _cohort(name: str, data_file: Path):
    params = load_params(ROOT / "params" / f"{name}.yaml")
    params = type(params)(**{**params.__dict__, "data_path": str(data_file)})
    return populations.shaped_cohort(load_cohort(params))[0]


@pytest.mark.parametrize("name, left_out", [
    ("tki", {"regimen_group"}),
    ("antibody", {"regimen_group"}),
    ("stopped_for_progression", {"discontinuation_group", "ild"}),
    ("stopped_for_adverse_event", {"discontinuation_group"}),
])
def test_shipped_filtered_populations(name, left_out, data_file):
    """Each filtered population leaves out the sections of the variable it was filtered on."""
    cohort = _cohort(name, data_file)
    p = cohort.params
    adsl = cohort.adsl
    kept = populations.subgroup_variables(adsl, p.subgroup_variables)
    assert set(p.subgroup_variables) - set(kept) == left_out - {"ild"}
    assert bool(populations.ild_applies(adsl)) == ("ild" not in left_out)
    # no table lists a level without patients
    for col in adsl.columns:
        assert populations.empty_levels(adsl[col]) == [], col
    assert cohort.dropped_levels  # and the header names them
    html = report.header(p, cohort).data
    assert "Not shown, no patient in this population" in html
    results = Results("03_subgroups")
    for var in left_out - {"ild"}:
        shown = report.subgroup_section(cohort, results, var).data
        assert "Not applicable in this population: every patient has the same" in shown
        assert "<table" not in shown
        assert report.km_figure(cohort, "PFS", by=var) is None
        assert "not applicable" in report.response_by(cohort, results, var).data
    assert results.frame().empty  # nothing recorded for sections left out
    if "ild" in left_out:
        assert report.ild_rate(cohort, results).data.count("no patient stopped T-DXd for ILD") == 1
        assert report.ild_figure(cohort) is None
        assert "no patient stopped T-DXd for ILD" in report.ild_grades(cohort).data
    if name in ("tki", "antibody"):
        table1 = report.table_one(cohort).data
        assert "Overall column only: every patient has the same first post-T-DXd regimen" in table1


def test_full_cohort_leaves_nothing_out(data_file):
    cohort = _cohort("full_cohort", data_file)
    p = cohort.params
    assert populations.sections_left_out(cohort.adsl, p.subgroup_variables, ["regimen_group"]) == []
    assert "Overall column only" not in report.table_one(cohort).data
    import matplotlib

    matplotlib.use("Agg")
    forest = report.forest_section(cohort, Results("03_subgroups"), "OS").data
    assert "proportional hazards of the forest plot" in forest and "Global" in forest  # cox.zph of every model
