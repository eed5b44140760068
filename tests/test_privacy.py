"""Suppression of small counts: the one function every shared count goes through."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ensemble_helpers.privacy import is_suppressed, suppress_count, suppress_count_pct, suppress_counts


@pytest.mark.parametrize(
    ("k", "min_cell_size", "expected"),
    [
        (0, 5, "0"),
        (1, 5, "<5"),
        (4, 5, "<5"),
        (5, 5, "5"),
        (120, 5, "120"),
        (3, None, "3"),
        (0, None, "0"),
        (1, 1, "1"),  # min_cell_size 1 hides nothing
        (9, 10, "<10"),
        (np.int64(3), 5, "<5"),
        (3.0, 5, "<5"),
        (7.0, 5, "7"),
        (float("nan"), 5, ""),
        (None, 5, ""),
        (pd.NA, 5, ""),
        (np.nan, None, ""),
    ],
)
def test_suppress_count(k, min_cell_size, expected):
    assert suppress_count(k, min_cell_size) == expected


@pytest.mark.parametrize("k", [-1, 2.5, "abc", True, float("inf")])
def test_suppress_count_rejects_non_counts(k):
    with pytest.raises(ValueError, match="count"):
        suppress_count(k, 5)


@pytest.mark.parametrize("m", [0, -3, 2.5, True, "5"])
def test_suppress_count_rejects_bad_min_cell_size(m):
    with pytest.raises(ValueError, match="min_cell_size"):
        suppress_count(3, m)


def test_is_suppressed():
    assert [is_suppressed(k, 5) for k in (0, 1, 4, 5, np.nan)] == [False, True, True, False, False]
    assert not is_suppressed(2, None)


@pytest.mark.parametrize(
    ("k", "n", "m", "digits", "expected"),
    [
        (12, 40, 5, 1, "12 (30.0%)"),
        (3, 40, 5, 1, "<5"),  # no percentage: 3/40 would give the count back
        (0, 40, 5, 1, "0 (0.0%)"),
        (4, 40, None, 0, "4 (10%)"),
        (2, 3, None, 1, "2 (66.7%)"),
        (0, 0, 5, 1, "0"),  # no denominator: count only
        (7, np.nan, 5, 1, "7"),
        (np.nan, 40, 5, 1, ""),
    ],
)
def test_suppress_count_pct(k, n, m, digits, expected):
    assert suppress_count_pct(k, n, m, digits) == expected


def test_suppress_count_pct_count_larger_than_denominator():
    with pytest.raises(ValueError, match="larger than its denominator"):
        suppress_count_pct(5, 4, None)


def test_suppress_counts_by_hand():
    t = pd.DataFrame(
        {"level": ["a", "b", "c", "d"], "n": [0, 3, 12, np.nan], "pct": [0.0, 20.0, 80.0, np.nan]},
        index=[10, 11, 12, 13],
    )
    out = suppress_counts(t, ["n"], 5, percent_columns={"n": "pct"})
    assert out["n"].tolist() == ["0", "<5", "12", ""]
    assert out["pct"].tolist()[0] == 0.0 and np.isnan(out["pct"].tolist()[1]) and out["pct"].tolist()[2] == 80.0
    assert list(out.index) == [10, 11, 12, 13]
    # the input is not changed
    assert t["n"].tolist()[:3] == [0, 3, 12] and t["pct"].tolist()[1] == 20.0


def test_suppress_counts_matches_suppress_count_elementwise():
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"a": rng.integers(0, 12, 500), "b": rng.integers(0, 3, 500).astype(float)})
    df.loc[df.sample(frac=0.1, random_state=1).index, "b"] = np.nan
    for m in (None, 1, 5, 10):
        out = suppress_counts(df, ["a", "b"], m)
        for col in ("a", "b"):
            assert out[col].tolist() == [suppress_count(v, m) for v in df[col]]


def test_suppress_counts_nullable_integers():
    df = pd.DataFrame({"n": pd.array([1, None, 8], dtype="Int64")})
    assert suppress_counts(df, ["n"], 5)["n"].tolist() == ["<5", "", "8"]


def test_suppress_counts_errors_name_the_column_and_row():
    df = pd.DataFrame({"n": [1, -2, 3]}, index=["x", "y", "z"])
    with pytest.raises(ValueError, match=r"'n'.*row 'y'"):
        suppress_counts(df, ["n"], 5)
    with pytest.raises(ValueError, match="whole counts"):
        suppress_counts(pd.DataFrame({"n": [1.5]}), ["n"], 5)
    with pytest.raises(ValueError, match="must hold counts"):
        suppress_counts(pd.DataFrame({"n": ["a"]}), ["n"], 5)
    with pytest.raises(KeyError, match="missing_col"):
        suppress_counts(df, ["missing_col"], 5)
    with pytest.raises(KeyError):
        suppress_counts(df, [], 5, percent_columns={"n": "pct"})
