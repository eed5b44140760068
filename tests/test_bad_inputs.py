"""The bad-input suite: every case in tests/bad_inputs/cases.yaml gets its exact, clear error.

No case may crash with anything else (KeyError, TypeError, a pandas parser error...): the error
class and the key words of the message are checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ensemble_helpers.cohort import load_cohort
from ensemble_helpers.params import ParameterError, load_params
from ensemble_helpers.schema import DataContractError, load_patients

HERE = Path(__file__).resolve().parent / "bad_inputs"
CASES = yaml.safe_load((HERE / "cases.yaml").read_text())["cases"]
ERRORS = {"DataContractError": DataContractError, "ParameterError": ParameterError}


def test_suite_is_large_enough():
    assert len(CASES) >= 25
    assert len({c["name"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input_gets_its_error(case):
    path = HERE / case["file"]
    with pytest.raises(ERRORS[case["error"]]) as info:
        if case["kind"] == "data":
            load_patients(path)
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
