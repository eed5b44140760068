"""The byte scans that let valid columns skip the contract's slower checks: never miss a problem."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ensemble_helpers.arrowscan import hash64, suspect_text
from ensemble_helpers.columns import CONTROL, ID_TROUBLE

TRICKY = [
    "P001", "P002", "", " ", "  ", " P003", "P004 ", "P\t005", "P006\n", "\x00", "P\x7f7", "P\x1f8",
    "\u00a0P9", "P10\u00a0", "é11", "P12é", "P\u200b13", "日本", "P 14", "p-15", "\x0b", "\r\n",
]


@pytest.mark.parametrize("edges, pattern", [(True, ID_TROUBLE), (False, CONTROL)])
def test_suspect_text_never_misses_what_the_regular_expression_finds(edges, pattern):
    for value in TRICKY:
        arr = pa.array(["P000", value, None, "P999"])
        if pc.any(pc.match_substring_regex(arr, pattern)).as_py():
            assert suspect_text(arr, edges=edges), repr(value)
    clean = pa.array(["P001", None, "P 02", "x-y_z.1"])
    assert not suspect_text(clean, edges=True) and not suspect_text(clean, edges=False)


def test_suspect_text_reads_chunks_slices_and_encodings():
    bad = pa.chunked_array([pa.array(["P1", "P2"]), pa.array(["P3", " P4"])])
    assert suspect_text(bad, edges=True)
    assert not suspect_text(bad.slice(0, 3), edges=True)  # the padded id is cut off
    assert not suspect_text(pa.array(["x", " y"]).slice(0, 1), edges=True)
    for arr in (pa.array(["a", "b\t"], pa.large_string()), pa.array(["a", "b\t"]).dictionary_encode()):
        assert suspect_text(arr, edges=False)
    assert not suspect_text(pa.array([], pa.string()), edges=True)
    assert not suspect_text(pa.array([None, None], pa.string()), edges=True)


def test_hash64_equal_values_equal_hashes_and_all_lengths():
    values = [f"P{i}" for i in range(3000)] + ["", "a" * 8, "a" * 9, "a" * 16, "a" * 17, "é", "日本語"]
    h = hash64(pa.array(values + values[::7] + [None]))
    assert h.dtype == np.uint64 and len(h) == len(values) + len(values[::7])  # missing values left out
    assert len(np.unique(h[: len(values)])) == len(values)  # no collision among these
    np.testing.assert_array_equal(h[len(values):], h[: len(values)][::7])


def test_hash64_is_the_same_for_every_layout():
    values = ["P001", "P2", None, "P0003", "P2"]
    expected = hash64(pa.array(values))
    layouts = [
        pa.array(values, pa.large_string()),
        pa.array(values).dictionary_encode(),
        pa.chunked_array([pa.array(values[:2]), pa.array(values[2:])]),
        pa.array(["skip"] + values).slice(1),
    ]
    for arr in layouts:
        np.testing.assert_array_equal(hash64(arr), expected)
    same_length = hash64(pa.array(["AB12", "CD34", "AB12"]))  # one length: read as a byte matrix
    assert same_length[0] == same_length[2] != same_length[1]


def test_many_small_chunks_are_joined_first():
    values = [f"P{i:03d}" for i in range(40)] + [None, " P1"]
    many = pa.chunked_array([pa.array([v], pa.string()) for v in values])  # as pyarrow reads a CSV file
    np.testing.assert_array_equal(hash64(many), hash64(pa.array(values)))
    assert suspect_text(many, edges=True) and not suspect_text(many.slice(0, 41), edges=True)
