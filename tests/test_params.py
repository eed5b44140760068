"""Parameter files: each bad key is a clear error naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ensemble_helpers.params import (
    FILE_KEYS,
    Comparison,
    Range,
    ParameterError,
    Params,
    load_params,
    params_from_mapping,
    parameters_from,
)

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path, **values) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"title": "T", "data_path": "d.csv", **values}))
    return path


def test_defaults():
    p = params_from_mapping({"title": "T", "data_path": "d.csv"})
    assert (p.ci_transform, p.conf_level, p.timepoints, p.min_cell_size) == ("log-log", 0.95, (6.0, 12.0), 5)
    assert p.published_comparison is False
    assert (p.km_ci_bands, p.km_annotation) == (True, "logrank")


@pytest.mark.parametrize(
    "values, key, words",
    [
        ({"colour": "red"}, "colour", "unknown key"),
        ({"ci_transform": "arcsine"}, "ci_transform", "must be one of"),
        ({"conf_level": 1.5}, "conf_level", "between 0 and 1"),
        ({"conf_level": 0}, "conf_level", "between 0 and 1"),
        ({"conf_level": "high"}, "conf_level", "must be a number"),
        ({"min_cell_size": 0}, "min_cell_size", "at least 1"),
        ({"min_cell_size": 2.5}, "min_cell_size", "whole number"),
        ({"timepoints": []}, "timepoints", "non-empty list"),
        ({"timepoints": [6, -1]}, "timepoints", "> 0"),
        ({"filters": ["regimen_group"]}, "filters", "mapping"),
        ({"filters": {"regimen_group": "antibody"}}, "filters.regimen_group", "non-empty list"),
        ({"published_comparison": "yes"}, "published_comparison", "must be bool"),
        ({"subgroup_variables": "ecog"}, "subgroup_variables", "list of column names"),
        ({"title": None}, "title", "required"),
        ({"filters": {"age": {"minimum": 65}}}, "filters.age", "min and/or max"),
        ({"filters": {"age": {"min": 70, "max": 65}}}, "filters.age", "greater than max"),
        ({"filters": {"age": {"min": "old"}}}, "filters.age", "must be a number"),
        ({"filters": {"no_such": ["x"]}}, "filters.no_such", "not in the data"),
        ({"derived_variables": {"g": {"from": "no_such", "breaks": [1], "labels": ["a", "b"]}}},
         "derived_variables.g.from", "unknown column"),
        ({"derived_variables": {"g": {"from": "age", "breaks": [70, 65], "labels": ["a", "b", "c"]}}},
         "derived_variables.g.breaks", "strictly increasing"),
        ({"derived_variables": {"g": {"from": "age", "breaks": [65], "labels": ["a", "b", "c"]}}},
         "derived_variables.g.labels", "give 2 labels, got 3"),
        ({"derived_variables": {"g": {"from": "ecog", "groups": {"low": [0, 1], "high": [1, 2]}}}},
         "derived_variables.g.groups", "overlapping groups"),
        ({"derived_variables": {"g": {"from": "ecog"}}}, "derived_variables.g", "either breaks"),
        ({"derived_variables": {"age": {"from": "ecog", "groups": {"a": [0]}}}}, "derived_variables.age",
         "already an ADSL column"),
        ({"comparison": {"variable": "regimen_group", "levels": ["tki"]}}, "comparison.levels", "exactly two"),
        ({"comparison": {"variable": "regimen_group", "levels": ["tki", "tki"]}}, "comparison.levels", "exactly two"),
        ({"comparison": {"variable": "nope", "levels": ["a", "b"]}}, "comparison.variable", "unknown column"),
        ({"comparison": ["regimen_group"]}, "comparison", "mapping"),
        ({"weighting": "iptw"}, "weighting", "must be one of overlap, ate, att"),
        ({"weighting": 1}, "weighting", "must be str"),
        ({"km_annotation": "cox"}, "km_annotation", "must be one of logrank, hr, none"),
        ({"km_ci_bands": "yes"}, "km_ci_bands", "must be bool"),
        ({"derived_variables": {"g": {"from": "ecog", "groups": {"a": [0], "b": [1]}}},
          "comparison": {"variable": "g", "levels": ["a", "c"]}}, "comparison.levels", "not among the labels"),
    ],
)
def test_bad_values(tmp_path, values, key, words):
    path = _write(tmp_path, **values)
    with pytest.raises(ParameterError) as info:
        load_params(path)
    assert info.value.key == key
    assert words in str(info.value) and str(path) in str(info.value)


def test_not_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: [unclosed\n")
    with pytest.raises(ParameterError, match="not a valid YAML"):
        load_params(bad)
    with pytest.raises(ParameterError, match="does not exist"):
        load_params(tmp_path / "none.yaml")
    lst = tmp_path / "list.yaml"
    lst.write_text("- a\n- b\n")
    with pytest.raises(ParameterError, match="mapping"):
        load_params(lst)


def test_overrides_and_notebook_namespace(tmp_path):
    path = _write(tmp_path, filters={"regimen_group": ["antibody"]})
    p = load_params(path, output_dir="elsewhere")
    assert p.output_dir == "elsewhere" and p.filters == {"regimen_group": ("antibody",)}
    ns = {"title": "T", "data_path": "d.csv", "conf_level": 0.9, "In": [], "np": object()}
    assert parameters_from(ns).conf_level == 0.9
    assert parameters_from({"output_dir": "x"}, params_file=str(path)).output_dir == "x"


def test_every_shipped_parameter_file_is_valid():
    files = sorted((ROOT / "params").glob("*.yaml"))
    names = {f.stem for f in files}
    assert {"full_cohort", "antibody", "tki", "stopped_for_progression", "stopped_for_adverse_event"} <= names
    for f in files:
        assert isinstance(load_params(f), Params)
        assert set(yaml.safe_load(f.read_text())) <= set(FILE_KEYS)


def test_range_filters_derived_variables_and_comparison():
    p = params_from_mapping({
        "title": "T", "data_path": "d.csv",
        "derived_variables": {
            "age_group": {"from": "age", "breaks": [65], "labels": ["<65", ">=65"]},
            "ecog_group": {"from": "ecog", "groups": {"0-1": [0, 1], ">=2": [2, 3, 4]}},
        },
        "filters": {"age": {"min": 65}, "ecog_group": ["0-1"]},
        "comparison": {"variable": "regimen_group", "levels": ["tki", "antibody"]},
    })
    assert p.filters["age"] == Range(min=65.0, max=None) and p.filters["ecog_group"] == ("0-1",)
    assert [d.name for d in p.derived_variables] == ["age_group", "ecog_group"]
    assert p.comparison == Comparison("regimen_group", ("tki", "antibody"))
    assert (p.comparison.treatment, p.comparison.reference) == ("tki", "antibody")
    from ensemble_helpers.adjust import DEFAULT_WEIGHTING

    assert p.weighting == DEFAULT_WEIGHTING  # one default for the parameter and the module
    adsl = pd.DataFrame({"age": [40.0, 64.9, 65.0, 80.0, np.nan],
                         "ecog": pd.array([0, 1, 2, None, 4], dtype="Int64")})
    age_group, ecog_group = (d.apply(adsl) for d in p.derived_variables)
    # intervals closed on the left: 65 is ">=65"; missing stays missing
    assert age_group.astype(object).where(age_group.notna(), None).tolist() == ["<65", "<65", ">=65", ">=65", None]
    assert ecog_group.astype(object).where(ecog_group.notna(), None).tolist() == ["0-1", "0-1", ">=2", None, ">=2"]
    assert Range(65, None).mask(adsl["age"]).tolist() == [False, False, True, True, False]
    assert Range(None, 65).mask(adsl["age"]).tolist() == [True, True, True, False, False]
    assert p.comparison.indicator(pd.Series(["tki", "antibody", "non_antibody_tki"])).tolist()[:2] == [1.0, 0.0]


# ---------------------------------------------------------------------------------------------
# Strict reading (issue 19): no anchors/aliases, no duplicate keys, every problem at once
# ---------------------------------------------------------------------------------------------
BILLION_LAUGHS = "".join(
    [f'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n']
    + [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)]
)


def test_anchors_and_aliases_are_refused_before_anything_is_expanded(tmp_path):
    from ensemble_helpers.params import read_parameter_file

    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(BILLION_LAUGHS)
    assert len(BILLION_LAUGHS) < 1000  # 9**9 strings once expanded
    with pytest.raises(ParameterError, match="anchors and aliases") as info:
        read_parameter_file(bomb)
    assert "line 1" in str(info.value)
    merge = tmp_path / "merge.yaml"
    merge.write_text("title: T\ndata_path: d.csv\nfilters: {<<: *x}\n")
    with pytest.raises(ParameterError, match="anchors and aliases"):
        load_params(merge)


def test_duplicate_keys_are_refused_with_both_lines(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("title: T\ndata_path: d.csv\nmin_cell_size: 5\nmin_cell_size: 1\n")
    with pytest.raises(ParameterError) as info:
        load_params(path)
    assert info.value.key == "min_cell_size"
    assert "duplicate key (lines 3 and 4)" in str(info.value)
    nested = tmp_path / "nested.yaml"
    nested.write_text("title: T\ndata_path: d.csv\nfilters:\n  ecog: [0]\n  ecog: [1]\n")
    with pytest.raises(ParameterError, match=r"duplicate key \(lines 4 and 5\)"):
        load_params(nested)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(ParameterError, match="not inf or nan"):
        params_from_mapping({"title": "T", "data_path": "d.csv", "timepoints": [6, value]})


def test_output_dir_is_not_a_parameter_file_key(tmp_path):
    path = _write(tmp_path, output_dir="reports/mine")
    with pytest.raises(ParameterError, match="--output-dir") as info:
        load_params(path)
    assert info.value.key == "output_dir"
    # a notebook run by hand has an output_dir variable; its default is outside reports/
    assert parameters_from({"title": "T", "data_path": "d.csv"}).output_dir == "scratch"


def test_parameter_problems_lists_every_bad_key_once():
    from ensemble_helpers.params import parameter_problems

    values = {"title": "T", "data_path": "d.csv", "colour": "red", "conf_level": 2,
              "timepoints": [float("inf")], "min_cell_size": 5}
    problems = parameter_problems(values, source="p.yaml")
    assert [p.key for p in problems] == ["colour", "conf_level", "timepoints"]
    assert all(str(p).startswith("p.yaml: parameter ") for p in problems)
    assert parameter_problems({"title": "T", "data_path": "d.csv"}) == []


def test_column_problems_suggest_the_closest_column():
    from ensemble_helpers.params import column_problems

    from ensemble_helpers.params import derived_columns

    # a contract column this data file lacks, a misspelt subgroup, a derived variable's source
    p = params_from_mapping({"title": "T", "data_path": "d.csv", "filters": {"ecog": [0]},
                             "subgroup_variables": ["age_group", "hormone_recepter"],
                             "derived_variables": {"age_group": {"from": "age", "breaks": [65],
                                                                 "labels": ["<65", ">=65"]}}},
                            source="p.yaml")
    problems = column_problems(p, ["hormone_receptor", "regimen_group"])
    assert [(e.key, e.rule) for e in problems] == [
        ("derived_variables.age_group", "no column 'age' in the data"),
        ("filters.ecog", "no column 'ecog' in the data"),
        ("subgroup_variables", "no column 'hormone_recepter' in the data; did you mean hormone_receptor?"),
    ]
    assert [e.key for e in column_problems(p, ["age", "ecog", "hormone_receptor"])] == ["subgroup_variables"]
    assert column_problems(p, [], keys=["title"]) == []
    assert {"regimen_group", "discontinuation_group", "responder"} <= derived_columns()
