"""The data contract: each rule gets a clear error naming file, rule, columns and patients."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from ensemble_helpers.schema import (
    CATEGORIES,
    OPTIONAL_CATEGORIES,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    DataContractError,
    load_patients,
    validate_patients,
)
from factories import patient, write_csv


def _error(tmp_path, *records) -> DataContractError:
    path = write_csv(tmp_path, *records)
    with pytest.raises(DataContractError) as info:
        load_patients(path)
    assert str(path) in str(info.value)
    return info.value


def test_valid_file_is_typed(tmp_path):
    path = write_csv(
        tmp_path, patient(), patient(patient_id="P2", tdxd_discontinuation_reason="ild", tdxd_ild_grade=2,
                                     ecog=None, extra_note="kept")
    )
    df = load_patients(path)
    assert list(df.columns[: len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    assert df["extra_note"].tolist()[1] == "kept"
    assert str(df["tdxd_start"].dtype) == "datetime64[ns]"
    assert df["visceral_metastasis"].dtype == bool
    assert df["prior_lines"].dtype == "int64"
    assert str(df["ecog"].dtype) == "Int64" and df["ecog"].isna().sum() == 1
    for col, levels in CATEGORIES.items():
        assert list(df[col].cat.categories) == list(levels)


def test_optional_columns_absent_or_typed(tmp_path):
    df = load_patients(write_csv(tmp_path, patient()))
    assert not set(OPTIONAL_COLUMNS) & set(df.columns)
    extra = dict(prior_trastuzumab=True, prior_pertuzumab="0", prior_tdm1="yes", tdxd_best_response="PR")
    df = load_patients(write_csv(tmp_path, patient(**extra), patient(patient_id="P2", **extra), name="o.csv"))
    assert df["prior_trastuzumab"].dtype == bool and df["prior_trastuzumab"].all()
    assert not df["prior_pertuzumab"].any() and df["prior_tdm1"].all()
    assert list(df["tdxd_best_response"].cat.categories) == list(OPTIONAL_CATEGORIES["tdxd_best_response"])
    assert df["tdxd_best_response"].tolist() == ["PR", "PR"]


def test_ild_grade_may_be_unknown(tmp_path):
    df = load_patients(write_csv(tmp_path, patient(tdxd_discontinuation_reason="ild", tdxd_ild_grade=None)))
    assert df["tdxd_ild_grade"].isna().all() and df["tdxd_discontinuation_reason"].eq("ild").all()


def test_parquet_round_trip(tmp_path):
    typed = load_patients(write_csv(tmp_path, patient(), patient(patient_id="P2")))
    typed.to_parquet(tmp_path / "p.parquet")
    back = load_patients(tmp_path / "p.parquet")
    pd.testing.assert_frame_equal(back, typed)


@pytest.mark.parametrize(
    "changes, rule, columns",
    [
        ({"tdxd_end": "2021-12-01"}, "tdxd_end must be on or after tdxd_start", ("tdxd_start", "tdxd_end")),
        ({"next_start": "2022-08-01"}, "next_start must be on or after tdxd_end", ("tdxd_end", "next_start")),
        ({"next_end": "2022-09-01"}, "next_end must be on or after next_start", ("next_end", "next_start")),
        ({"progression_date": "2022-09-01"}, "progression_date must be on or after next_start",
         ("progression_date", "next_start")),
        ({"second_next_start": "2022-09-01"}, "second_next_start must be on or after next_start",
         ("second_next_start", "next_start")),
        ({"ild_recurrence_date": "2022-09-01"}, "ild_recurrence_date must be on or after next_start",
         ("ild_recurrence_date", "next_start")),
        ({"last_followup": "2022-09-01", "next_end": None, "progression_date": None, "second_next_start": None},
         "last_followup must be on or after next_start", ("last_followup", "next_start")),
        ({"death_date": "2023-01-01", "last_followup": "2023-01-01", "next_end": None, "second_next_start": None},
         "death_date must be on or after progression_date", ("progression_date", "death_date")),
        ({"death_date": "2023-01-12", "last_followup": "2023-01-12", "second_next_start": None},
         "next_end is after death_date", ("next_end", "death_date")),
        ({"ild_recurrence_date": "2023-10-01"}, "last_followup must be on or after ild_recurrence_date",
         ("ild_recurrence_date", "last_followup")),
        ({"death_date": "2023-08-01"}, "last_followup must equal death_date", ("death_date", "last_followup")),
    ],
)
def test_each_date_rule(tmp_path, changes, rule, columns):
    err = _error(tmp_path, patient(), patient(patient_id="BAD", **changes))
    match = [v for v in err.violations if rule in v.rule]
    assert match, str(err)
    assert match[0].columns == columns
    assert match[0].count == 1 and match[0].examples == ("BAD (row 2)",)  # id and data row
    assert "BAD" in str(err) and rule in str(err)


@pytest.mark.parametrize(
    "changes, column, words",
    [
        ({"age": "sixty"}, "age", "not a number"),
        ({"age": 12}, "age", "between 18 and 110"),
        ({"ecog": 5}, "ecog", "between 0 and 4"),
        ({"ecog": 1.5}, "ecog", "not a whole number"),
        ({"prior_lines": -1}, "prior_lines", "0 or more"),
        ({"tdxd_ild_grade": 6, "tdxd_discontinuation_reason": "ild"}, "tdxd_ild_grade", "between 1 and 5"),
        ({"tdxd_start": "2024-02-30"}, "tdxd_start", "not a valid date"),
        ({"tdxd_start": "01/02/2022"}, "tdxd_start", "not a valid date"),
        ({"next_class": "antibody"}, "next_class", "value not allowed"),
        ({"hormone_receptor": "unknown"}, "hormone_receptor", "value not allowed"),
        ({"visceral_metastasis": "maybe"}, "visceral_metastasis", "not a boolean"),
        ({"last_followup": None}, "last_followup", "missing value"),
        ({"site_id": None}, "site_id", "missing value"),
        ({"visceral_metastasis": None}, "visceral_metastasis", "missing value"),
        ({"prior_trastuzumab": None}, "prior_trastuzumab", "missing value"),
        ({"prior_tdm1": "perhaps"}, "prior_tdm1", "not a boolean"),
        ({"tdxd_best_response": "pr"}, "tdxd_best_response", "value not allowed"),
        ({"tdxd_best_response": None}, "tdxd_best_response", "missing value"),
    ],
)
def test_value_rules(tmp_path, changes, column, words):
    # the valid patient has a valid value in every optional column the bad one has
    valid = {"prior_trastuzumab": "true", "prior_tdm1": "false", "tdxd_best_response": "CR"}
    good = patient(**{k: v for k, v in valid.items() if k in changes})
    err = _error(tmp_path, good, patient(patient_id="BAD", **changes))
    match = [v for v in err.violations if v.columns == (column,)]
    assert match and words in match[0].rule, str(err)
    assert match[0].examples == ("BAD (row 2)",)


def test_duplicate_patient_id(tmp_path):
    err = _error(tmp_path, patient(), patient())
    assert "duplicate" in str(err) and "P1 (row 1), P1 (row 2)" in str(err)


def test_published_copy_of_an_error_names_rows_not_ids(tmp_path):
    from ensemble_helpers.disclosure import scrub_text

    err = _error(tmp_path, patient(), patient(patient_id="PT-9", age=5))
    published = scrub_text(str(err), identifiers={"P1", "PT-9"})
    assert "PT-9" not in published and "[id] (row 2)" in published


def test_missing_and_misspelt_columns(tmp_path):
    rec = patient()
    rec["progresion_date"] = rec.pop("progression_date")
    del rec["site_id"]
    err = _error(tmp_path, rec)
    text = str(err)
    assert "progression_date" in text and "progresion_date" in text and "misspelt" in text
    assert "site_id" in text and "required column is missing" in text


def test_error_lists_at_most_ten_ids_and_the_count(tmp_path):
    records = [patient(patient_id=f"P{i}", age=5) for i in range(25)]
    err = _error(tmp_path, *records)
    (v,) = err.violations
    assert v.count == 25 and len(v.examples) == 10
    assert "25 row(s)" in str(err)


def test_one_error_lists_every_broken_rule(tmp_path):
    err = _error(tmp_path, patient(patient_id="A", age=5), patient(patient_id="B", tdxd_end="2021-01-01"))
    assert len(err.violations) == 2
    assert isinstance(err, ValueError)


def test_empty_and_header_only_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataContractError, match="empty"):
        load_patients(empty)
    header = tmp_path / "header.csv"
    header.write_text(",".join(REQUIRED_COLUMNS) + "\n")
    with pytest.raises(DataContractError, match="no patient rows"):
        load_patients(header)


def test_not_utf8_and_wrong_delimiter(tmp_path):
    path = write_csv(tmp_path, patient(next_regimen="trastuzumab + éribuline"))
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    with pytest.raises(DataContractError, match="not UTF-8"):
        load_patients(path)
    semi = tmp_path / "semi.csv"
    pd.DataFrame([patient()]).to_csv(semi, sep=";", index=False)
    with pytest.raises(DataContractError, match="';'-delimited"):
        load_patients(semi)


def test_missing_file_and_parquet_with_wrong_dtypes(tmp_path):
    with pytest.raises(DataContractError, match="does not exist"):
        load_patients(tmp_path / "nope.csv")
    raw = pd.DataFrame([patient(), patient(patient_id="P2")])  # dates stored as text
    raw["tdxd_ild_grade"] = raw["tdxd_ild_grade"].astype(float)
    raw.to_parquet(tmp_path / "raw.parquet")
    with pytest.raises(DataContractError, match="expected a date") as info:
        load_patients(tmp_path / "raw.parquet")
    assert "tdxd_start" in str(info.value)


def test_validate_does_not_modify_input():
    from factories import patients_frame

    raw = patients_frame(patient())
    before = raw.copy()
    validate_patients(raw)
    pd.testing.assert_frame_equal(raw, before)


def test_parquet_nullable_boolean_na_is_missing_not_false(tmp_path):
    typed = load_patients(write_csv(tmp_path, patient(), patient(patient_id="P2")))
    typed["brain_metastasis"] = pd.array([False, None], dtype="boolean")
    typed.to_parquet(tmp_path / "p.parquet")
    with pytest.raises(DataContractError) as info:
        load_patients(tmp_path / "p.parquet")
    assert "brain_metastasis" in str(info.value) and "missing value" in str(info.value)
    assert "P2" in str(info.value)


def _typed_parquet(tmp_path, frame: pd.DataFrame, name: str = "t.parquet"):
    path = tmp_path / name
    frame.to_parquet(path)
    return path


def _three(tmp_path) -> pd.DataFrame:
    """Three valid patients, typed as load_patients returns them (Parquet stores these types)."""
    return load_patients(write_csv(tmp_path, patient(), patient(patient_id="P2", site_id="S2"),
                                   patient(patient_id="P3", ecog=None)))


def test_parquet_integers_are_read_as_integers(tmp_path):
    typed = _three(tmp_path)
    for storage in ("Int8", "Int32", "Int64", "UInt16"):
        frame = typed.astype({"ecog": storage, "tdxd_ild_grade": storage, "prior_lines": storage.lower()})
        back = load_patients(_typed_parquet(tmp_path, frame, f"{storage}.parquet"), use_cache=False)
        pd.testing.assert_frame_equal(back, typed)
        assert back["prior_lines"].dtype == "int64" and str(back["ecog"].dtype) == "Int64"


@pytest.mark.parametrize("storage", ["Int64", "Int32"])
def test_parquet_integer_out_of_range_and_missing(tmp_path, storage):
    frame = _three(tmp_path)
    frame["ecog"] = pd.array([1, 7, None], dtype=storage)  # P3's missing ecog is allowed, not 0
    frame["tdxd_ild_grade"] = pd.array([None, None, 0], dtype=storage)  # missing grades are not 0 either
    frame["prior_lines"] = pd.array([-1, 2, None], dtype=storage)
    with pytest.raises(DataContractError) as info:
        load_patients(_typed_parquet(tmp_path, frame), use_cache=False)
    found = {(v.columns, v.rule): v.examples for v in info.value.violations}
    assert found == {
        (("ecog",), "must be between 0 and 4"): ("P2 (row 2)",),
        (("tdxd_ild_grade",), "must be between 1 and 5"): ("P3 (row 3)",),
        (("prior_lines",), "must be 0 or more"): ("P1 (row 1)",),
        (("prior_lines",), "missing value in a required column"): ("P3 (row 3)",),
    }


def test_parquet_duplicate_ids_found_with_and_without_hash_collisions(tmp_path, monkeypatch):
    from ensemble_helpers import arrowscan

    frame = _three(tmp_path)
    valid = _typed_parquet(tmp_path, frame, "valid.parquet")
    frame.loc[2, "patient_id"] = "P1"
    dup = _typed_parquet(tmp_path, frame, "dup.parquet")
    message = "duplicate values (patient_id must be unique) — 2 row(s), e.g. P1 (row 1), P1 (row 3)"
    with pytest.raises(DataContractError, match=re.escape(message)):
        load_patients(dup, use_cache=False)
    # every hash the same: the ids themselves decide, with the same result
    monkeypatch.setattr(arrowscan, "hash64", lambda arr: np.zeros(len(arr) - arr.null_count, np.uint64))
    assert load_patients(valid, use_cache=False)["patient_id"].tolist() == ["P1", "P2", "P3"]
    with pytest.raises(DataContractError, match=re.escape(message)):
        load_patients(dup, use_cache=False)


def test_parquet_text_columns_read_dictionary_encoded(tmp_path):
    frame = _three(tmp_path)
    back = load_patients(_typed_parquet(tmp_path, frame), use_cache=False)
    for col in ("patient_id", "site_id", "next_regimen"):
        assert back[col].dtype == object and all(type(v) is str for v in back[col])
    frame["site_id"] = ["S1", " S2", None]
    frame["next_regimen"] = ["a\tb", "ok", "ok"]
    with pytest.raises(DataContractError) as info:
        load_patients(_typed_parquet(tmp_path, frame, "bad.parquet"), use_cache=False)
    found = [(v.columns, v.rule, v.examples) for v in info.value.violations]
    assert found == [
        (("site_id",), "id has leading or trailing whitespace", ("'P2' (row 2)",)),
        (("next_regimen",), "control character (NUL, tab, line break or other) inside a text value",
         ("P1 (row 1)",)),
        (("site_id",), "missing value in a required column", ("P3 (row 3)",)),
    ]


def test_parquet_dates_at_the_window_edges(tmp_path):
    frame = _three(tmp_path)
    frame["last_followup"] = pd.to_datetime(["2023-09-15", "2023-09-15", "2024-06-30"])
    path = _typed_parquet(tmp_path, frame)
    assert len(load_patients(path, use_cache=False, date_window=("2022-01-01", "2024-06-30"))) == 3
    with pytest.raises(DataContractError, match=r"last_followup: date outside .* P3 \(row 3\)"):
        load_patients(path, use_cache=False, date_window=("2022-01-01", "2024-06-29"))
    with pytest.raises(DataContractError, match=r"tdxd_start: date outside .* P1 \(row 1\), P2"):
        load_patients(path, use_cache=False, date_window=("2022-01-02", None))


def test_csv_read_by_pyarrow_directly_or_again_to_say_where(tmp_path):
    good = write_csv(tmp_path, patient(), patient(patient_id="P2"))
    assert load_patients(good, use_cache=False)["patient_id"].tolist() == ["P1", "P2"]
    header, *rows = good.read_bytes().split(b"\n")
    cases = {  # pyarrow stops at each of these; the whole file is then read to say what and where
        "header.csv": (header.replace(b"site_id", b"site_\xe9d") + b"\n" + b"\n".join(rows), "line 1"),
        "ragged.csv": (b"\n".join([header, rows[0], b"P3,\xe9", *rows[1:]]), "line 3"),
        "wide.csv": (b"\n".join([header, rows[0] + b",extra", *rows[1:]]), "line 2"),
    }
    for name, (content, where) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DataContractError, match=where):
            load_patients(tmp_path / name, use_cache=False)


def test_csv_whole_numbers_read_as_integers_or_as_numbers(tmp_path):
    df = load_patients(write_csv(tmp_path, patient(prior_lines="007", ecog="1.0"), patient(patient_id="P2", ecog="3")))
    assert df["prior_lines"].tolist() == [7, 2] and df["prior_lines"].dtype == "int64"
    assert df["ecog"].tolist() == [1, 3] and str(df["ecog"].dtype) == "Int64"
    err = _error(tmp_path, patient(prior_lines="0x1"), patient(patient_id="P2", prior_lines="-1"))
    found = {v.rule: v.examples for v in err.violations if v.columns == ("prior_lines",)}
    assert found == {"not a number": ("P1 (row 1)",), "must be 0 or more": ("P2 (row 2)",)}


def test_whole_numbers_too_large_to_read_exactly_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    too_large = "whole number too large to be read exactly (9,007,199,254,740,992 or more)"
    table = pa.Table.from_pandas(_three(tmp_path), preserve_index=False)
    at = table.column_names.index("prior_lines")
    stored = {"float.parquet": pa.array([1e20, 2.0, 1.0]),  # was loaded as -9223372036854775808
              "uint64.parquet": pa.array([2**64 - 1, 2, 1], pa.uint64())}  # was an ArrowInvalid crash
    for name, arr in stored.items():
        pq.write_table(table.set_column(at, "prior_lines", arr), tmp_path / name)
        with pytest.raises(DataContractError) as info:
            load_patients(tmp_path / name, use_cache=False)
        assert [(v.columns, v.rule, v.count, v.examples) for v in info.value.violations] == [
            (("prior_lines",), too_large, 1, ("P1 (row 1)",))], name
    pq.write_table(table.set_column(at, "prior_lines", pa.array([2**53 + 1, 2, 1], pa.uint64())), tmp_path / "ok.parquet")
    assert load_patients(tmp_path / "ok.parquet", use_cache=False)["prior_lines"].tolist() == [2**53 + 1, 2, 1]
    err = _error(tmp_path, patient(prior_lines=str(2**53 + 1)), patient(patient_id="P2", prior_lines="1e20"))
    assert [(v.columns, v.rule, v.count) for v in err.violations] == [(("prior_lines",), too_large, 2)]


def test_ids_load_as_written_and_errors_come_in_one_order(tmp_path):
    frame = _three(tmp_path)
    frame["patient_id"] = ["P\u00e9", "Pe\u0301", "P\u00e9\u00a0"]  # NFC, NFD, a trailing no-break space
    back = load_patients(_typed_parquet(tmp_path, frame), use_cache=False)
    assert [v.encode() for v in back["patient_id"]] == [b"P\xc3\xa9", b"Pe\xcc\x81", b"P\xc3\xa9\xc2\xa0"]
    records = [patient(patient_id=f"P{i}", ecog="9", visceral_metastasis="maybe", tdxd_end="2020-01-01",
                       prior_lines="1.5" if i % 2 else "-1") for i in range(30)]
    messages = set()
    for _ in range(5):
        with pytest.raises(DataContractError) as info:
            load_patients(write_csv(tmp_path, *records, records[0]), use_cache=False)
        messages.add(str(info.value))
    assert len(messages) == 1
    rules = [(v.columns, v.rule.split(" (")[0], v.count) for v in info.value.violations]
    assert rules == [
        (("ecog",), "must be between 0 and 4", 31),
        (("prior_lines",), "not a whole number", 15),
        (("prior_lines",), "must be 0 or more", 16),
        (("visceral_metastasis",), "not a boolean", 31),
        (("patient_id",), "duplicate values", 2),
        (("tdxd_start", "tdxd_end"), "tdxd_end must be on or after tdxd_start", 31),
    ]


def test_a_loaded_table_accepts_new_values_like_a_cached_one(tmp_path):
    frame = _three(tmp_path)
    frame["extra_score"] = [0.5, 1.5, 2.5]
    sources = [_typed_parquet(tmp_path, frame), write_csv(tmp_path, patient(), patient(patient_id="P2"))]
    for path in sources:
        for use_cache in (False, True, True):  # validated, stored, then read from the cache
            df = load_patients(path, use_cache=use_cache)
            # (a read-only view of an Arrow buffer failed: "assignment destination is read-only",
            # or pandas' AssertionError for dates, while a cached table took the same values)
            df.loc[0, "tdxd_start"] = pd.Timestamp("2022-02-02")
            df.loc[0, "age"] = 61.5
            df.loc[1, "prior_lines"] = 4
            df.loc[1, "brain_metastasis"] = True
            assert df.loc[0, "tdxd_start"] == pd.Timestamp("2022-02-02") and df.loc[0, "age"] == 61.5
            assert df.loc[1, "prior_lines"] == 4 and bool(df.loc[1, "brain_metastasis"])
            if "extra_score" in df:
                df.loc[2, "extra_score"] = 3.0
                assert df["extra_score"].tolist() == [0.5, 1.5, 3.0]


def test_a_validated_dataframe_is_writable_and_not_shared_with_its_input(tmp_path):
    from ensemble_helpers.schema import validate_patients

    frame = _three(tmp_path)
    before = frame.copy(deep=True)
    typed = validate_patients(frame, strict_types=True)
    typed.loc[0, "tdxd_start"] = pd.Timestamp("2022-02-02")
    typed.loc[0, "age"] = 99.0
    assert typed.loc[0, "tdxd_start"] == pd.Timestamp("2022-02-02") and typed.loc[0, "age"] == 99.0
    pd.testing.assert_frame_equal(frame, before)


def test_csv_read_by_pyarrow_keeps_null_spellings_and_line_endings(tmp_path):
    # pyarrow's own defaults would read "NA", "null", "NaN" as missing: only an empty cell is
    records = [patient(next_regimen="NA"), patient(patient_id="P2", next_regimen="null", ecog="NaN")]
    err = _error(tmp_path, *records)
    assert [(v.columns, v.rule, v.examples) for v in err.violations] == [(("ecog",), "not a number", ("P2 (row 2)",))]
    records[1]["ecog"] = ""
    path = write_csv(tmp_path, *records)
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    for source in (path, crlf):
        df = load_patients(source, use_cache=False)
        assert df["next_regimen"].tolist() == ["NA", "null"] and df["ecog"].isna().tolist() == [False, True]
        assert df.columns[0] == "patient_id" and df["patient_id"].tolist() == ["P1", "P2"]
