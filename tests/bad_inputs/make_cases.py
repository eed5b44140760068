"""Regenerate the bad-input files of this folder: `python tests/bad_inputs/make_cases.py`.

Each case is a small file plus an entry in cases.yaml: the error class and the words its message
must contain. The files are committed; this script documents how each was made.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from factories import patient  # noqa: E402

GOOD = [patient(patient_id=f"P{i}") for i in range(1, 4)]


def _csv(name: str, records, **kw) -> str:
    pd.DataFrame(records).to_csv(HERE / "data" / name, index=False, **kw)
    return f"data/{name}"


def _bad(**changes):
    return GOOD[:2] + [patient(patient_id="BAD1", **changes)]


def main() -> None:
    (HERE / "data").mkdir(exist_ok=True)
    (HERE / "params").mkdir(exist_ok=True)
    good = _csv("good.csv", GOOD)
    cases = []

    def data_case(name, file, words):
        cases.append({"name": name, "kind": "data", "file": file, "error": "DataContractError", "words": words})

    def loads_case(name, file, values, row="BAD1"):
        """A file that loads: patient ``row`` must hold exactly ``values`` (None = missing)."""
        cases.append({"name": name, "kind": "data", "file": file, "loads": {"row": row, "values": values}})

    def param_case(name, values, words, error="ParameterError"):
        path = HERE / "params" / f"{name}.yaml"
        path.write_text(values if isinstance(values, str) else yaml.safe_dump(values, sort_keys=False))
        cases.append({"name": name, "kind": "params", "file": f"params/{name}.yaml", "error": error, "words": words})

    rec = dict(GOOD[0]); rec.pop("death_date")
    data_case("missing_required_column", _csv("missing_column.csv", [rec]), ["death_date", "required column is missing"])
    rec = dict(GOOD[0]); rec["progresion_date"] = rec.pop("progression_date")
    data_case("misspelt_column", _csv("misspelt_column.csv", [rec]), ["progression_date", "progresion_date", "misspelt"])
    data_case("wrong_date_format", _csv("wrong_date_format.csv", _bad(tdxd_start="01/02/2022")), ["tdxd_start", "YYYY-MM-DD", "BAD1"])
    data_case("impossible_date", _csv("impossible_date.csv", _bad(tdxd_start="2022-02-30")), ["tdxd_start", "not a valid date", "BAD1"])
    data_case("tdxd_end_before_start", _csv("tdxd_end_before_start.csv", _bad(tdxd_end="2021-12-31")), ["tdxd_end must be on or after tdxd_start", "BAD1"])
    data_case("next_start_before_tdxd_end", _csv("next_before_tdxd_end.csv", _bad(next_start="2022-08-01")), ["next_start must be on or after tdxd_end", "BAD1"])
    data_case("progression_before_next_start", _csv("progression_before_next.csv", _bad(progression_date="2022-09-01")), ["progression_date must be on or after next_start", "BAD1"])
    data_case("death_before_progression", _csv("death_before_progression.csv", _bad(next_end=None, second_next_start=None, death_date="2023-01-01", last_followup="2023-01-01")), ["death_date must be on or after progression_date", "BAD1"])
    data_case("event_after_death", _csv("event_after_death.csv", _bad(progression_date=None, next_end="2023-01-15", second_next_start="2023-03-01", death_date="2023-02-01", last_followup="2023-02-01")), ["second_next_start is after death_date", "BAD1"])
    data_case("followup_before_event", _csv("followup_before_event.csv", _bad(last_followup="2023-01-12")), ["last_followup must be on or after", "BAD1"])
    data_case("followup_not_death", _csv("followup_not_death.csv", _bad(death_date="2023-05-01")), ["last_followup must equal death_date", "BAD1"])
    loads_case("ild_grade_unknown", _csv("ild_without_grade.csv", _bad(tdxd_discontinuation_reason="ild")), {"tdxd_ild_grade": None, "tdxd_discontinuation_reason": "ild"})
    data_case("duplicate_patient_id", _csv("duplicate_id.csv", GOOD + [GOOD[0]]), ["patient_id", "duplicate", "P1"])
    data_case("unknown_category", _csv("unknown_category.csv", _bad(next_class="Trastuzumab")), ["next_class", "value not allowed", "'Trastuzumab'", "BAD1"])
    data_case("text_in_numeric_column", _csv("text_in_numeric.csv", _bad(age="sixty")), ["age", "not a number", "BAD1"])
    data_case("age_out_of_range", _csv("age_out_of_range.csv", _bad(age=150)), ["age", "between 18 and 110", "BAD1"])
    data_case("fractional_ecog", _csv("fractional_ecog.csv", _bad(ecog=1.5)), ["ecog", "whole number", "BAD1"])
    data_case("bad_boolean", _csv("bad_boolean.csv", _bad(measurable_disease="maybe")), ["measurable_disease", "not a boolean", "BAD1"])
    data_case("missing_required_value", _csv("missing_value.csv", _bad(last_followup=None)), ["last_followup", "missing value", "BAD1"])
    (HERE / "data" / "empty.csv").write_text("")
    data_case("empty_file", "data/empty.csv", ["empty"])
    (HERE / "data" / "header_only.csv").write_text(",".join(GOOD[0].keys()) + "\n")
    data_case("header_only", "data/header_only.csv", ["no patient rows"])
    text = pd.DataFrame(_bad(next_regimen="trastuzumab + éribuline")).to_csv(index=False)
    (HERE / "data" / "latin1.csv").write_bytes(text.encode("latin-1"))
    data_case("not_utf8", "data/latin1.csv", ["not UTF-8"])
    data_case("semicolon_delimiter", _csv("semicolon.csv", GOOD, sep=";"), ["';'-delimited", "required column is missing"])
    wrong = pd.DataFrame(GOOD)  # dates left as text, age as text
    wrong["age"] = wrong["age"].astype(str)
    wrong.to_parquet(HERE / "data" / "wrong_dtypes.parquet")
    data_case("parquet_wrong_dtypes", "data/wrong_dtypes.parquet", ["tdxd_start", "expected a date", "age", "expected a numeric"])
    data_case("unsupported_suffix", _csv("patients.xlsx", GOOD), ["unsupported file type"])

    base = {"title": "Bad input case", "data_path": "tests/bad_inputs/" + good}
    param_case("data_path_missing", {**base, "data_path": "tests/bad_inputs/data/no_such_file.csv"}, ["data_path", "does not exist"])
    param_case("unknown_key", {**base, "colour": "red"}, ["colour", "unknown key"])
    param_case("filter_on_missing_column", {**base, "filters": {"stage": ["IV"]}}, ["filters.stage", "not in the data"])
    param_case("filter_unknown_value", {**base, "filters": {"regimen_group": ["antibodies"]}}, ["filters.regimen_group", "not allowed"])
    param_case("filter_leaves_nobody", {**base, "filters": {"regimen_group": ["tki"]}}, ["filters", "leave 0 patients"])
    param_case("min_cell_size_zero", {**base, "min_cell_size": 0}, ["min_cell_size", "at least 1"])
    param_case("conf_level_outside", {**base, "conf_level": 95}, ["conf_level", "between 0 and 1"])
    param_case("unknown_ci_transform", {**base, "ci_transform": "logit"}, ["ci_transform", "must be one of"])
    param_case("timepoints_not_list", {**base, "timepoints": "6, 12"}, ["timepoints", "list"])
    param_case("not_yaml", "title: [unclosed\n", ["not a valid YAML"])
    param_case("missing_title", {"data_path": base["data_path"]}, ["title", "required"])
    param_case("wrong_type_published_comparison", {**base, "published_comparison": "yes"}, ["published_comparison", "bool"])
    (HERE / "cases.yaml").write_text(
        "# Generated by make_cases.py: each bad input and the error it must get.\n"
        + yaml.safe_dump({"cases": cases}, sort_keys=False, width=120)
    )


if __name__ == "__main__":
    main()
