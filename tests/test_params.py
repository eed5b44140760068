"""Parameter files: each bad key is a clear error naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ensemble_helpers.params import (
    PARAM_KEYS,
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
        assert set(yaml.safe_load(f.read_text())) <= set(PARAM_KEYS)
