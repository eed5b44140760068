"""The one format registry: every estimate, CI, p-value, percentage and suppressed count."""

from __future__ import annotations

import doctest
import math
import subprocess
import sys

import pytest

from ensemble_helpers import formats, privacy, tables
from ensemble_helpers.batch import index


def test_docstring_examples_run():
    result = doctest.testmod(formats, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0


def test_imports_neither_pandas_nor_numpy():
    code = "import sys, ensemble_helpers.formats; print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'numpy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_one_implementation_everywhere():
    # tables, plots and the batch index write estimates with the same functions
    assert tables.format_estimate is formats.format_estimate
    assert tables.format_pct is formats.format_pct and tables.format_p is formats.format_p
    assert index.format_estimate is formats.format_record
    from ensemble_helpers.plots import forest, km

    assert km.format_estimate is formats.format_estimate and forest.format_p is formats.format_p


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"estimate": 5.46, "lower": 4.0, "upper": 7.25, "unit": "months"}, "5.5 (4.0–7.2) months"),
        ({"estimate": math.nan, "lower": 9.5, "upper": None, "unit": "months"}, "NR (9.5–NR) months"),
        ({"estimate": 37.5, "lower": 22.7, "upper": 54.2, "unit": "%"}, "37.5% (22.7–54.2)"),
        ({"estimate": 0.375, "lower": None, "upper": None, "unit": "proportion"}, "37.5%"),
        ({"estimate": 664, "unit": ""}, "664.0"),
        (None, "—"),
    ],
)
def test_format_record(record, expected):
    assert formats.format_record(record) == expected


def test_record_and_table_agree():
    # a results.json record and the table cell it came from read the same
    assert formats.format_record({"estimate": 0.452, "lower": 0.401, "upper": 0.503, "unit": "proportion"}) \
        == tables.format_pct(0.452, 0.401, 0.503)
    assert formats.format_record({"estimate": 4.05, "lower": 3.54, "upper": math.inf, "unit": ""}) \
        == tables.format_estimate(4.05, 3.54, math.inf)


def test_privacy_writes_its_decisions_with_formats():
    assert privacy.suppress_count(3, 5) == formats.suppressed_count(5) == "<5"
    assert privacy.suppress_count_pct(12, 40, 5) == formats.count_percent("12", 12, 40) == "12 (30.0%)"
    assert privacy.suppress_count_pct(7, 30, None, digits=2) == f"7 ({100.0 * 7 / 30:.2f}%)"


def test_missing_values():
    import numpy as np
    import pandas as pd

    for value in (None, math.nan, math.inf, -math.inf, pd.NA, pd.NaT, np.float64("nan")):
        assert formats.is_missing(value)
        assert formats.format_number(value) == "NR"
    for value in (0, -0.0, np.int64(3), "2.5"):
        assert not formats.is_missing(value)


def test_statistic():
    assert formats.format_statistic(12.3456, 2) == "12.35 (2)"
    assert formats.format_statistic(None, 2) == "not estimable"
