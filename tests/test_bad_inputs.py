"""The bad-input suite: every case in tests/bad_inputs/cases.yaml gets its exact, clear error.

No case may crash with anything else (KeyError, TypeError, a pandas parser error...): the error
class and the key words of the message are checked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ensemble_helpers.cohort import load_cohort
from ensemble_helpers.params import ParameterError, load_params
from ensemble_helpers.schema import DataContractError, load_patients

HERE = Path(__file__).resolve().parent / "bad_inputs"
CASES = yaml.safe_load((HERE / "cases.yaml").read_text())["cases"]
ERRS = [c for c in CASES if "error" in c]
LOADS = [c for c in CASES if "loads" in c]
ERRORS = {"DataContractError": DataContractError, "ParameterError": ParameterError}


def test_suite_is_large_enough():
    assert len(CASES) >= 25 + 40  # issue 11 added at least 40
    assert len(LOADS) >= 10
    assert len({c["name"] for c in CASES}) == len(CASES)


def _same(actual, expected) -> bool:
    """A loaded value equals the expected one written in cases.yaml (dates as YYYY-MM-DD)."""
    if expected is None:
        return bool(pd.isna(actual))
    if isinstance(actual, pd.Timestamp):
        return actual.strftime("%Y-%m-%d") == expected
    if pd.isna(actual):
        return False
    return type(expected)(actual) == expected and (not isinstance(expected, bool) or isinstance(actual, (bool, np.bool_)))


@pytest.mark.parametrize("case", LOADS, ids=[c["name"] for c in LOADS])
def test_unusual_input_loads_exactly(case):
    frame = load_patients(HERE / case["file"], use_cache=False, **case.get("options", {}))
    row = frame.set_index("patient_id").loc[case["loads"]["row"]]
    for column, expected in case["loads"]["values"].items():
        assert _same(row[column], expected), f"{case['name']}: {column} = {row[column]!r}, expected {expected!r}"


@pytest.mark.parametrize("case", ERRS, ids=[c["name"] for c in ERRS])
def test_bad_input_gets_its_error(case):
    path = HERE / case["file"]
    with pytest.raises(ERRORS[case["error"]]) as info:
        if case["kind"] == "data":
            load_patients(path, **case.get("options", {}))
        else:
            load_cohort(load_params(path))
    message = str(info.value)
    for word in case["words"]:
        assert word in message, f"{case['name']}: {word!r} not in\n{message}"
    # every message names the file it is about
    if case["kind"] == "data":
        assert str(path) in message
    else:
        assert case["file"].split("/")[-1] in message
