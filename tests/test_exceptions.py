"""One root for the workbook's errors and warnings, and caveats that reach the report."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

import numpy as np
import pandas as pd
import pytest

import ensemble_helpers
from ensemble_helpers import tables
from ensemble_helpers.exceptions import ConvergenceWarning, EnsembleError, StatisticalWarning
from ensemble_helpers.stats import cox_hr


def _package_modules():
    for info in pkgutil.walk_packages(ensemble_helpers.__path__, "ensemble_helpers."):
        yield importlib.import_module(info.name)


def test_every_exception_class_has_the_root():
    found = {}
    for module in _package_modules():
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = obj
    assert "ensemble_helpers.schema.DataContractError" in found  # the scan sees the package
    orphans = [name for name, cls in found.items()
               if not issubclass(cls, (EnsembleError, Warning))]
    assert not orphans, f"error classes without the EnsembleError root: {orphans}"


def test_builtin_bases_kept():
    from ensemble_helpers.params import ParameterError
    from ensemble_helpers.schema import DataContractError
    from ensemble_helpers.stats import StatsInputError
    from ensemble_helpers.synthetic import CalibrationError

    for cls in (ParameterError, DataContractError, StatsInputError):
        assert issubclass(cls, ValueError) and issubclass(cls, EnsembleError)
    assert issubclass(CalibrationError, RuntimeError) and issubclass(CalibrationError, EnsembleError)
    assert issubclass(ConvergenceWarning, StatisticalWarning)
    assert issubclass(StatisticalWarning, UserWarning)


@pytest.fixture
def no_events_level():
    # a level in which nobody has the event: the coefficient runs off to -infinity (R coxph warns
    # "Loglik converged before variable 1; coefficient may be infinite")
    rng = np.random.default_rng(1)
    n = 60
    g = np.where(np.arange(n) % 3 == 0, "none", "some")
    return pd.DataFrame({"t": rng.uniform(1, 20, n), "e": np.where(g == "none", 0, rng.integers(0, 2, n) | 1),
                         "g": g})


def test_cox_caveat_is_a_warning_and_a_footnote(no_events_level):
    with pytest.warns(StatisticalWarning, match="may be infinite"):
        res = cox_hr(no_events_level, "t", "e", ["g"], reference={"g": "some"})
    assert any("g=none" in n and "may be infinite" in n for n in res.attrs["notes"])
    table = tables.hr_table(res)
    assert "may be infinite" in table.attrs["footnote"]
    assert "may be infinite" in tables.to_html(table)


def test_cox_without_caveats_has_no_notes():
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"t": rng.exponential(10, 80), "e": rng.integers(0, 2, 80),
                       "arm": np.repeat(["A", "B"], 40)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", StatisticalWarning)
        res = cox_hr(df, "t", "e", ["arm"])
    assert res.attrs["notes"] == []
    assert "footnote" not in tables.hr_table(res).attrs


def test_cox_not_converged_warns(monkeypatch, no_events_level):
    from ensemble_helpers.stats import cox

    monkeypatch.setattr(cox, "_COX_MAX_ITER", 1)
    with pytest.warns(ConvergenceWarning, match="did not converge in 1 iterations"):
        res = cox_hr(no_events_level, "t", "e", ["g"], reference={"g": "some"})
    assert any("did not converge" in n for n in res.attrs["notes"])


def test_note_column_becomes_the_footnote_per_endpoint():
    rows = pd.DataFrame({"endpoint": ["PFS", "OS"], "term": ["g=b", "g=b"], "variable": ["g", "g"],
                         "level": ["b", "b"], "reference": ["a", "a"], "hr": [2.0, np.inf],
                         "hr_lower": [1.0, 0.0], "hr_upper": [4.0, np.inf], "p": [0.04, 0.99],
                         "note": ["", "The hazard ratio of g=b may be infinite."]})
    foot = tables.hr_table(rows).attrs["footnote"]
    assert foot.endswith("The hazard ratio of g=b may be infinite.") and foot.count("infinite") == 1
    assert "PFS" not in foot
