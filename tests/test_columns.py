"""One column from Arrow to the contract's type: the fast paths give what the slow paths give."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ensemble_helpers.columns import (
    check_category,
    check_date,
    check_number,
    distinct_ids,
    mask_array,
    text_column,
)

WINDOW = (dt.date(2019, 1, 1), dt.date(2025, 12, 31))


def _rows(checked) -> dict[str, list[int]]:
    """The broken rules of a checked column and their rows."""
    return {rule: np.flatnonzero(mask_array(mask)).tolist() for rule, mask in checked.problems
            if mask is not None and mask_array(mask).any()}


def test_dates_stored_as_timestamps_read_as_dates_stored_as_text():
    text = ["2020-01-31", None, "2019-01-01", "2025-12-31"]
    stamps = pa.chunked_array([pa.array(pd.to_datetime(text[:2]).values), pa.array(pd.to_datetime(text[2:]).values)])
    fast, slow = check_date(stamps, strict=True, window=WINDOW), check_date(pa.array(text), strict=False, window=WINDOW)
    np.testing.assert_array_equal(fast.values, slow.values)
    np.testing.assert_array_equal(mask_array(fast.missing), mask_array(slow.missing))
    assert fast.values.dtype == "datetime64[ns]" and np.isnat(fast.values).tolist() == [False, True, False, False]
    assert not _rows(fast) and not _rows(slow)


@pytest.mark.parametrize("value, rule", [
    ("2018-12-31 00:00", "date outside the plausible window"),
    ("2026-01-01 00:00", "date outside the plausible window"),
    ("2020-01-01 00:00:01", "timestamp has a time of day"),
])
def test_a_timestamp_the_fast_path_refuses_is_named(value, rule):
    stamps = pa.array(pd.to_datetime(["2020-01-01 00:00", value], format="ISO8601").values)
    checked = check_date(stamps, strict=True, window=WINDOW)
    assert [r for r in _rows(checked) if r.startswith(rule)] and list(_rows(checked).values()) == [[1]]


def test_whole_numbers_stored_as_integers_floats_or_text_agree():
    bounds = (0, 4, "must be between 0 and 4")
    layouts = [pa.array([1, None, 7], pa.int64()), pa.array([1, None, 7], pa.int8()),
               pa.array([1.0, None, 7.0]), pa.array(["1", None, "7"]), pa.array(["1.0", None, "7"])]
    for arr in layouts:
        checked = check_number(arr, strict=False, bounds=bounds, whole_numbers=True, nullable=True)
        assert str(checked.values.dtype) == "Int64" and checked.values.tolist() == [1, pd.NA, 7], arr
        assert _rows(checked) == {"must be between 0 and 4": [2]}, arr
        assert mask_array(checked.missing).tolist() == [False, True, False]
    complete = check_number(pa.array(["3", "0"]), strict=False, bounds=(0, None, ""), whole_numbers=True,
                            nullable=False)
    assert complete.values.dtype == np.int64 and complete.values.tolist() == [3, 0]


def test_text_as_stored_or_dictionary_encoded_gives_the_same_objects():
    values = ["S1", None, "S2", "S1", " S3"]
    plain = text_column(pa.array(values))
    encoded = text_column(pa.chunked_array([pa.array(values[:2]).dictionary_encode(),
                                            pa.array(values[2:]).dictionary_encode()]))
    for text, distinct, objects, missing in (plain, encoded):
        assert [v if isinstance(v, str) else None for v in objects] == values
        assert all(type(v) is str for v in objects if v == v)
        assert mask_array(missing).tolist() == [False, True, False, False, False]
        assert set(distinct.to_pylist()) == {"S1", "S2", " S3"}


def test_categories_from_dictionaries_and_text():
    levels = ("positive", "negative")
    for arr in (pa.array(["negative", None, "positive"]), pa.array(["negative", None, "positive"]).dictionary_encode()):
        checked = check_category(arr, levels)
        assert checked.values.tolist()[::2] == ["negative", "positive"] and pd.isna(checked.values[1])
        assert list(checked.values.categories) == list(levels) and not _rows(checked)
    bad = check_category(pa.array(["negative", "unknown"]).dictionary_encode(), levels)
    assert _rows(bad) == {"value not allowed (found 'unknown'; allowed: positive, negative)": [1]}


def test_distinct_ids():
    assert distinct_ids(pa.array(["P1", "P2", None, None]))
    assert not distinct_ids(pa.chunked_array([pa.array(["P1", "P2"]), pa.array(["P3", "P1"])]))


def test_integer_columns_accept_new_values():
    for arr in (pa.array([1, None, 3]), pa.chunked_array([pa.array([1, None]), pa.array([3])]), pa.array(["1", None, "3"])):
        values = check_number(arr, strict=False, bounds=(0, 4, ""), whole_numbers=True, nullable=True).values
        column = pd.Series(values)
        column.iloc[0] = 2
        column.iloc[2] = pd.NA
        assert column.tolist() == [2, pd.NA, pd.NA]


TOO_LARGE = "whole number too large to be read exactly (9,007,199,254,740,992 or more)"


@pytest.mark.parametrize("arr", [
    pa.array([1e20, 2.0, None]),  # float64: int64 cannot hold it (was loaded as -2**63)
    pa.array([2.0**53, 2.0, None]),  # float64: a rounded integer, perhaps
    pa.array([str(2**53 + 1), "2", None]),  # text: float64 would read 9007199254740992
    pa.array(["1e20", "2", None]),
    pa.array([2**64 - 1, 2, None], pa.uint64()),  # beyond int64 (was an ArrowInvalid crash)
])
def test_whole_numbers_too_large_for_an_exact_read_are_refused(arr):
    checked = check_number(arr, strict=False, bounds=(0, None, "must be 0 or more"), whole_numbers=True, nullable=True)
    assert _rows(checked) == {TOO_LARGE: [0]}
    assert checked.values.tolist()[1] == 2


def test_integers_beyond_float_precision_load_exactly_or_fail_the_range():
    big = 2**53 + 1
    for arr in (pa.array([big, 2], pa.uint64()), pa.array([big, 2], pa.int64()), pa.array([str(big - 2), "2"])):
        checked = check_number(arr, strict=False, bounds=(0, None, ""), whole_numbers=True, nullable=False)
        assert checked.values.dtype == np.int64 and not _rows(checked), arr
        assert checked.values.tolist() == [int(arr[0].as_py()), 2]
    # a float column stored as huge integers: refused by its range (was an ArrowInvalid crash)
    for arr in (pa.array([big, 40], pa.int64()), pa.array([2**64 - 1, 40], pa.uint64())):
        checked = check_number(arr, strict=True, bounds=(18, 110, "must be between 18 and 110 years"),
                               whole_numbers=False, nullable=False)
        assert _rows(checked) == {"must be between 18 and 110 years": [0]} and checked.values[1] == 40.0


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamps_of_every_unit_and_timezone_read_as_the_same_dates(unit):
    days = np.array(["2019-01-01", "2025-12-31", "NaT"], dtype=f"datetime64[{unit}]")
    expected = days.astype("datetime64[ns]")
    for arr in (pa.array(days), pa.array(days).cast(pa.timestamp(unit, "UTC")),
                pa.chunked_array([pa.array([], pa.timestamp(unit)), pa.array(days[:1]), pa.array([], pa.timestamp(unit)),
                                  pa.array(days[1:])])):
        checked = check_date(arr, strict=True, window=WINDOW)
        np.testing.assert_array_equal(checked.values, expected)
        assert checked.values.dtype == "datetime64[ns]" and not _rows(checked), arr.type
        assert mask_array(checked.missing).tolist() == [False, False, True]
    # one unit of time past midnight, and one day off each edge of the window
    late = pa.array(days[:2] + np.timedelta64(1, unit))
    assert _rows(check_date(late, strict=True, window=WINDOW)) == {
        "timestamp has a time of day: a date must be a calendar date": [0, 1]}
    edges = pa.array(np.array(["2018-12-31", "2026-01-01", "2019-01-01"], dtype=f"datetime64[{unit}]"))
    checked = check_date(edges, strict=True, window=WINDOW)
    assert list(_rows(checked).values()) == [[0, 1]] and np.isnat(checked.values).tolist() == [True, True, False]


def test_timezone_aware_dates_are_calendar_dates_in_their_timezone():
    utc_midnight = pa.array(np.array(["2020-03-01", "2020-03-02"], dtype="datetime64[ns]")).cast(pa.timestamp("ns", "UTC"))
    tokyo = utc_midnight.cast(pa.timestamp("ns", "Asia/Tokyo"))  # 09:00 in Tokyo: not a calendar date there
    assert _rows(check_date(tokyo, strict=True, window=WINDOW)) == {
        "timezone-aware timestamp (timezone Asia/Tokyo) is not at midnight in its timezone: store calendar dates": [0, 1]}
    local = pa.array(pd.to_datetime(["2020-03-01", "2020-03-02"]).tz_localize("Asia/Tokyo"))
    checked = check_date(local, strict=True, window=WINDOW)
    assert not _rows(checked) and checked.values.astype(str).tolist() == [
        "2020-03-01T00:00:00.000000000", "2020-03-02T00:00:00.000000000"]


def test_dictionary_text_with_nulls_unused_entries_and_empty_chunks():
    dictionary = pa.array(["S1", "S\t9", " S2", "S3"])  # the tab and the padded entry are unused
    chunks = [pa.DictionaryArray.from_arrays(pa.array([], pa.int32()), pa.array([], pa.string())),
              pa.DictionaryArray.from_arrays(pa.array([0, None, 3], pa.int32()), dictionary),
              pa.DictionaryArray.from_arrays(pa.array([3], pa.int32()), dictionary)]
    text, distinct, values, missing = text_column(pa.chunked_array(chunks))
    assert [v if isinstance(v, str) else None for v in values] == ["S1", None, "S3", "S3"]
    assert mask_array(missing).tolist() == [False, True, False, False]
    levels = ("S1", "S3")
    checked = check_category(pa.chunked_array(chunks), levels)
    assert checked.values.tolist()[::2] == ["S1", "S3"] and pd.isna(checked.values[1]) and not _rows(checked)
    used = pa.DictionaryArray.from_arrays(pa.array([1, 0], pa.int32()), dictionary)
    assert _rows(check_category(used, levels)) == {"value not allowed (found 'S\\t9'; allowed: S1, S3)": [0]}


def test_duplicate_ids_are_exact_bytes():
    # trailing whitespace, NBSP, and the two Unicode normalisations of "é" are different ids
    assert distinct_ids(pa.array(["P1", "P1 ", "P1\u00a0", "P\u00e9", "Pe\u0301"]))
    mixed = pa.chunked_array([pa.array([], pa.string()), pa.array(["P1", "a much longer id", None]),
                              pa.array([], pa.string()), pa.array(["P2", "a much longer id"])])
    assert not distinct_ids(mixed)
