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
