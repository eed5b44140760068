"""Regenerate the bad-input files of this folder: `python tests/bad_inputs/make_cases.py`.

Each case is a small file plus an entry in cases.yaml: the error class and the words its message
must contain. The files are committed; this script documents how each was made.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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


def _typed(records) -> pd.DataFrame:
    """Records with the contract's types (as Parquet, Excel and SAS files store them)."""
    df = pd.DataFrame(records)
    for col in df.columns:
        if col.endswith(("_start", "_end", "_date", "_followup")):
            df[col] = pd.to_datetime(df[col])
    for col in ("visceral_metastasis", "brain_metastasis", "measurable_disease"):
        df[col] = df[col].astype(bool)
    df["ecog"] = df["ecog"].astype("Int64")
    df["tdxd_ild_grade"] = pd.to_numeric(df["tdxd_ild_grade"]).astype("Int64")
    return df


def _write(name: str, data: bytes) -> str:
    (HERE / "data" / name).write_bytes(data)
    return f"data/{name}"


def _text(records, **kw) -> str:
    return pd.DataFrame(records).to_csv(index=False, **kw)


def _parquet(name: str, table: pa.Table) -> str:
    pq.write_table(table, HERE / "data" / name)
    return f"data/{name}"


def _with_timestamps(records, column: str, values, unit: str = "us", tz=None) -> pa.Table:
    table = pa.Table.from_pandas(_typed(records), preserve_index=False)
    i = table.column_names.index(column)
    return table.set_column(i, column, pa.array(values, type=pa.timestamp(unit, tz=tz)))


def _xlsx(name: str, sheets: dict) -> str:
    with pd.ExcelWriter(HERE / "data" / name, engine="openpyxl") as writer:
        for sheet, frame in sheets.items():
            frame.to_excel(writer, sheet_name=sheet, index=False)
    return f"data/{name}"


def _xpt(name: str, records) -> str:
    import pyreadstat

    df = _typed(records)
    for col in ("visceral_metastasis", "brain_metastasis", "measurable_disease"):
        df[col] = df[col].astype(int)  # SAS has no booleans: 1/0
    for col in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[col]):
            df[col] = df[col].dt.date
        elif str(df[col].dtype) == "Int64":
            df[col] = df[col].astype(float)
    pyreadstat.write_xport(df, str(HERE / "data" / name), file_format_version=8,  # v8: long names
                           column_labels=None, table_name="PATIENTS")
    return f"data/{name}"


def _sas7bdat(name: str, csv_file: str) -> str | None:
    """Written by R haven (ReadStat) when R and haven are installed; the file is committed."""
    if shutil.which("Rscript") is None:
        return None
    script = (
        "suppressMessages(library(haven)); d <- read.csv(commandArgs(TRUE)[1], na.strings='', "
        "colClasses='character'); for (c in names(d)) { if (grepl('(_start|_end|_date|_followup)$', c)) "
        "d[[c]] <- as.Date(d[[c]]) else if (c %in% c('age','ecog','prior_lines','tdxd_ild_grade')) "
        "d[[c]] <- as.numeric(d[[c]]) }; write_sas(d, commandArgs(TRUE)[2])"
    )
    done = subprocess.run(["Rscript", "-e", script, str(HERE / csv_file), str(HERE / "data" / name)],
                          capture_output=True, text=True)
    return f"data/{name}" if done.returncode == 0 else None


def _new_formats_and_silent_changes(data_case, loads_case) -> None:
    """Issue 11: every unusual input is refused clearly or loaded exactly."""
    b = _bad  # the third patient, BAD1, carries the change
    # missing values never become False or a default
    data_case("blank_required_boolean", _csv("blank_boolean.csv", b(visceral_metastasis=None)),
              ["visceral_metastasis", "missing value in a required column", "BAD1"])
    recs = [dict(r, measurable_disease=None) for r in GOOD]
    data_case("all_blank_boolean_column", _csv("all_blank_boolean.csv", recs),
              ["measurable_disease", "missing value", "3 row(s)"])
    df = _typed(b())
    df["brain_metastasis"] = pd.array([False, True, None], dtype="boolean")
    df.to_parquet(HERE / "data" / "nullable_boolean_na.parquet", index=False)
    data_case("parquet_nullable_boolean_na", "data/nullable_boolean_na.parquet",
              ["brain_metastasis", "missing value", "BAD1"])
    df = _typed(b())
    df["prior_lines"] = pd.array([1, 2, None], dtype="Int64")
    df.to_parquet(HERE / "data" / "nullable_int_na.parquet", index=False)
    data_case("parquet_nullable_int_na", "data/nullable_int_na.parquet", ["prior_lines", "missing value", "BAD1"])
    df = _typed(b())
    df["age"] = [60.0, 61.0, float("nan")]
    df.to_parquet(HERE / "data" / "float_nan_age.parquet", index=False)
    data_case("parquet_nan_in_required_number", "data/float_nan_age.parquet", ["age", "missing value", "BAD1"])
    data_case("blank_optional_boolean", _csv("blank_optional_boolean.csv",
              [dict(r, prior_tdm1=True) for r in GOOD[:2]] + [patient(patient_id="BAD1", prior_tdm1=None)]),
              ["prior_tdm1", "missing value", "BAD1"])
    # control characters
    data_case("nul_in_text", _write("nul_in_text.csv", _text(b(next_regimen="trastu\x00zumab")).encode()),
              ["next_regimen", "control character", "BAD1"])
    data_case("tab_in_id", _csv("tab_in_id.csv", b(site_id="S\t1")), ["site_id", "control character", "BAD1"])
    data_case("line_break_in_quoted_value", _csv("line_break_in_value.csv", b(next_regimen="trastuzumab\neribulin")),
              ["next_regimen", "control character", "BAD1"])
    # column names
    text = _text(GOOD).splitlines()
    header = text[0].replace("ecog", "age")
    data_case("duplicate_column_name", _write("duplicate_column.csv", "\n".join([header] + text[1:]).encode()),
              ["duplicate column name", "age"])
    data_case("blank_column_name", _write("blank_column_name.csv",
              "\n".join([text[0] + ","] + [t + ",x" for t in text[1:]]).encode()), ["blank column name", "column 24"])
    data_case("padded_column_name", _write("padded_column_name.csv",
              "\n".join([text[0].replace("age", " age", 1)] + text[1:]).encode()),
              ["leading or trailing whitespace", "' age'"])
    # ids
    data_case("id_trailing_space", _csv("id_trailing_space.csv", GOOD + [patient(patient_id="P1 ")]),
              ["patient_id", "leading or trailing whitespace", "'P1 '"])
    data_case("id_whitespace_only", _csv("id_whitespace_only.csv", GOOD[:2] + [patient(patient_id="   ")]),
              ["patient_id", "empty or only whitespace", "'   '"])
    data_case("site_id_whitespace_only", _csv("site_whitespace_only.csv", b(site_id=" ")),
              ["site_id", "empty or only whitespace"])
    data_case("id_missing", _csv("id_missing.csv", GOOD[:2] + [patient(patient_id=None)]), ["patient_id", "missing value", "row 3"])
    # CSV structure, with line numbers
    lines = _text(GOOD).splitlines()
    short = lines[:3] + [lines[3].rsplit(",", 1)[0]]
    data_case("ragged_row_short", _write("ragged_short.csv", ("\n".join(short) + "\n").encode()),
              ["different number of fields", "line 4"])
    data_case("ragged_row_long", _write("ragged_long.csv", ("\n".join(lines[:2] + [lines[2] + ",extra"] + lines[3:]) + "\n").encode()),
              ["different number of fields", "line 3"])
    unbalanced = lines[:2] + [lines[2].replace("trastuzumab", '"trastuzumab', 1)] + lines[3:]
    data_case("unbalanced_quote", _write("unbalanced_quote.csv", ("\n".join(unbalanced) + "\n").encode()),
              ["quote", "line 3"])
    data_case("blank_header_line", _write("blank_header.csv", ("\n" + "\n".join(lines) + "\n").encode()),
              ["header", "blank"])
    # dates: spelling, window, timestamps
    data_case("date_in_1900", _csv("date_1900.csv", b(tdxd_start="1900-01-01")),
              ["tdxd_start", "outside the plausible window", "2019-01-01", "BAD1"])
    data_case("date_in_2200", _csv("date_2200.csv", b(last_followup="2200-01-01")),
              ["last_followup", "outside the plausible window", "BAD1"])
    data_case("date_with_time", _csv("date_with_time.csv", b(tdxd_start="2022-01-01 10:00")),
              ["tdxd_start", "not a valid date", "BAD1"])
    data_case("date_not_zero_padded", _csv("date_not_padded.csv", b(tdxd_start="2022-1-5")),
              ["tdxd_start", "YYYY-MM-DD", "BAD1"])
    data_case("date_padded_with_space", _csv("date_space.csv", b(tdxd_start=" 2022-01-01")),
              ["tdxd_start", "not a valid date", "BAD1"])
    stamps = [dt.datetime(2022, 1, 1), dt.datetime(2022, 1, 1), dt.datetime(3000, 1, 1)]
    data_case("parquet_year_3000", _parquet("year_3000.parquet", _with_timestamps(b(), "tdxd_start", stamps)),
              ["tdxd_start", "outside the plausible window", "BAD1"])
    utc = [dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc)] * 2 + [dt.datetime(2022, 1, 1, 10, tzinfo=dt.timezone.utc)]
    data_case("parquet_tz_aware_with_time", _parquet("tz_aware_time.parquet", _with_timestamps(b(), "tdxd_start", utc, tz="UTC")),
              ["tdxd_start", "timezone", "BAD1"])
    naive = [dt.datetime(2022, 1, 1)] * 2 + [dt.datetime(2022, 1, 1, 10, 30)]
    data_case("parquet_time_of_day", _parquet("time_of_day.parquet", _with_timestamps(b(), "tdxd_start", naive)),
              ["tdxd_start", "time of day", "BAD1"])
    # numbers, booleans, categories spelt otherwise
    data_case("number_nan_text", _csv("number_nan.csv", b(age="nan")), ["age", "not a number", "BAD1"])
    data_case("number_inf_text", _csv("number_inf.csv", b(ecog="inf")), ["ecog", "not a number", "BAD1"])
    data_case("number_with_space", _csv("number_space.csv", b(age=" 60")), ["age", "not a number", "BAD1"])
    data_case("number_decimal_comma", _csv("decimal_comma.csv", b(age="60,5")), ["age", "not a number", "BAD1"])
    data_case("boolean_two", _csv("boolean_two.csv", b(brain_metastasis="2")), ["brain_metastasis", "not a boolean", "BAD1"])
    data_case("category_padded", _csv("category_padded.csv", b(hormone_receptor="positive ")),
              ["hormone_receptor", "value not allowed", "'positive '"])
    data_case("tdxd_best_response_lowercase", _csv("tdxd_response_lower.csv",
              [dict(r, tdxd_best_response="PR") for r in GOOD[:2]] + [patient(patient_id="BAD1", tdxd_best_response="pr")]),
              ["tdxd_best_response", "value not allowed", "'pr'"])
    # content that is not what the name says
    good_csv = _text(GOOD)
    buf = io.BytesIO()
    _typed(GOOD).to_excel(buf, index=False, engine="openpyxl")
    data_case("xlsx_named_csv", _write("workbook_named.csv", buf.getvalue()), ["ZIP archive", "xlsx"])
    data_case("gzip_named_csv", _write("gzip_named.csv", gzip.compress(good_csv.encode(), mtime=0)),
              ["gzip", ".csv.gz"])
    data_case("utf16_csv", _write("utf16.csv", good_csv.encode("utf-16")), ["UTF-16"])
    data_case("utf16_csv_without_bom", _write("utf16le.csv", good_csv.encode("utf-16-le")), ["UTF-16"])
    buf = io.BytesIO()
    _typed(GOOD).to_parquet(buf, index=False)
    data_case("parquet_named_csv", _write("parquet_named.csv", buf.getvalue()), ["Parquet", ".parquet"])
    data_case("csv_named_parquet", _write("csv_named.parquet", good_csv.encode()), ["named PARQUET", "text"])
    data_case("unsupported_suffix", _write("patients.json", b"{}"), ["unsupported file type", ".json"])
    data_case("gzip_holding_parquet", _write("gz_of_parquet.csv.gz", gzip.compress(buf.getvalue(), mtime=0)),
              ["gzip file holds", "Parquet"])
    whole = gzip.compress(good_csv.encode(), mtime=0)
    data_case("truncated_gzip", _write("truncated.csv.gz", whole[: len(whole) // 2]), ["not a readable gzip file"])
    data_case("header_only_xlsx", _xlsx("header_only.xlsx", {"patients": _typed(GOOD).iloc[:0]}), ["no patient rows"])
    data_case("damaged_xlsx", _write("damaged.xlsx", buf.getvalue()[:0] + b"PK\x03\x04" + b"\x00" * 64),
              ["not a readable Excel workbook"])
    data_case("damaged_parquet", _write("damaged.parquet", b"PAR1" + b"\x00" * 64), ["not a readable Parquet file"])
    data_case("damaged_xpt", _write("damaged.xpt", b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!" + b"0" * 40),
              ["not a readable xpt file"])
    # one broken rule per format
    data_case("csv_gz_duplicate_id", _write("duplicate_id.csv.gz", gzip.compress(_text(GOOD + [GOOD[0]]).encode(), mtime=0)),
              ["patient_id", "duplicate", "P1"])
    data_case("xlsx_unknown_category", _xlsx("unknown_category.xlsx", {"patients": _typed(b(next_class="Trastuzumab"))}),
              ["next_class", "value not allowed", "'Trastuzumab'", "BAD1"])
    data_case("xlsx_sheet_missing", _xlsx("two_sheets.xlsx", {"notes": pd.DataFrame({"note": ["read me"]}),
                                                            "patients": _typed(b(age=61.5))}),
              ["data_sheet", "'nope'", "not a sheet"], options={"data_sheet": "nope"})
    data_case("xlsx_first_sheet_is_not_data", "data/two_sheets.xlsx", ["required column is missing", "patient_id"])
    data_case("xpt_age_out_of_range", _xpt("age_out_of_range.xpt", b(age=150)), ["age", "between 18 and 110", "BAD1"])
    sas = _sas7bdat("missing_value.sas7bdat", _csv("missing_value.csv", b(last_followup=None)))
    if sas:
        data_case("sas7bdat_missing_required_value", sas, ["last_followup", "missing value", "BAD1"])
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    frame = _typed(b())
    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        ws.append([None if pd.isna(v) else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else
                   (v.item() if hasattr(v, "item") else v)) for v in row])
    ws["C4"] = "=C2+1"  # BAD1's age as a formula: openpyxl stores no result
    wb.save(HERE / "data" / "formula_without_value.xlsx")
    data_case("xlsx_formula_without_value", "data/formula_without_value.xlsx", ["formula", "row 4"])
    # loaded exactly
    loads_case("utf8_bom", _write("utf8_bom.csv", b"\xef\xbb\xbf" + _text(b(age=61.5)).encode()), {"age": 61.5, "site_id": "S1"})
    loads_case("crlf_line_endings", _write("crlf.csv", _text(b(next_regimen="T-DM1")).replace("\n", "\r\n").encode()),
               {"next_regimen": "T-DM1", "ild_recurrence_date": None})
    loads_case("boolean_spellings", _csv("boolean_spellings.csv", b(visceral_metastasis="Yes", brain_metastasis="NO",
                                                                    measurable_disease="1")),
               {"visceral_metastasis": True, "brain_metastasis": False, "measurable_disease": True})
    loads_case("quoted_comma_and_unicode", _csv("quoted_unicode.csv", b(next_regimen="trastuzumab, éribuline ± T-DM1")),
               {"next_regimen": "trastuzumab, éribuline ± T-DM1"})
    loads_case("number_spellings", _csv("number_spellings.csv", b(age="6.05e1", ecog="1.0", prior_lines="+3")),
               {"age": 60.5, "ecog": 1, "prior_lines": 3})
    loads_case("extra_column_kept", _csv("extra_column.csv", b(note=" as written ")), {"note": " as written "})
    loads_case("optional_columns", _csv("optional_columns.csv",
               [patient(patient_id=f"P{i}", prior_trastuzumab="true", prior_pertuzumab="false", prior_tdm1="0",
                        tdxd_best_response="CR") for i in (1, 2)]
               + [patient(patient_id="BAD1", prior_trastuzumab="1", prior_pertuzumab="yes", prior_tdm1="false",
                          tdxd_best_response="PR")]),
               {"prior_trastuzumab": True, "prior_pertuzumab": True, "prior_tdm1": False, "tdxd_best_response": "PR"})
    loads_case("csv_gz", _write("good.csv.gz", gzip.compress(_text(b(age=70)).encode(), mtime=0)), {"age": 70.0})
    df = _typed(b(ecog=None))
    df.to_parquet(HERE / "data" / "nullable_ecog.parquet", index=False)
    loads_case("parquet_nullable_ecog_missing", "data/nullable_ecog.parquet", {"ecog": None, "age": 60.0})
    paris = [pd.Timestamp("2022-01-01", tz="Europe/Paris").to_pydatetime()] * 3
    loads_case("parquet_tz_aware_midnight_local", _parquet("tz_paris_midnight.parquet",
               _with_timestamps(b(), "tdxd_start", paris, tz="Europe/Paris")), {"tdxd_start": "2022-01-01"})
    loads_case("xlsx_named_sheet", "data/two_sheets.xlsx", {"age": 61.5, "tdxd_start": "2022-01-01", "death_date": None},
               options={"data_sheet": "patients"})
    loads_case("xlsx_sheet_by_position", "data/two_sheets.xlsx", {"age": 61.5}, options={"data_sheet": 1})
    loads_case("xpt_dates_and_missing", _xpt("good.xpt", b(age=58.5, death_date=None)),
               {"age": 58.5, "tdxd_start": "2022-01-01", "death_date": None, "visceral_metastasis": True, "ecog": 1})
    sas = _sas7bdat("good.sas7bdat", _csv("for_sas.csv", b(age=58.5)))
    if sas:
        loads_case("sas7bdat_dates_and_missing", sas, {"age": 58.5, "tdxd_start": "2022-01-01", "death_date": None,
                                                      "next_end": "2023-01-15"})


def main() -> None:
    (HERE / "data").mkdir(exist_ok=True)
    (HERE / "params").mkdir(exist_ok=True)
    good = _csv("good.csv", GOOD)
    cases = []

    def data_case(name, file, words, options=None):
        case = {"name": name, "kind": "data", "file": file, "error": "DataContractError", "words": words}
        if options:
            case["options"] = options
        cases.append(case)

    def loads_case(name, file, values, row="BAD1", options=None):
        """A file that loads: patient ``row`` must hold exactly ``values`` (None = missing)."""
        case = {"name": name, "kind": "data", "file": file, "loads": {"row": row, "values": values}}
        if options:
            case["options"] = options
        cases.append(case)

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
    data_case("csv_named_xlsx", _csv("patients.xlsx", GOOD), ["named XLSX", "text"])
    _new_formats_and_silent_changes(data_case, loads_case)

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
