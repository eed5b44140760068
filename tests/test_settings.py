"""The one settings object (issue 16): validated once, passed down as ``settings=``."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from ensemble_helpers import plots, stats, tables
from ensemble_helpers.params import ParameterError, Params
from ensemble_helpers.settings import SETTING_NAMES, Settings, takes_settings


def test_settings_from_params_reads_every_field():
    params = Params(title="t", data_path="x.csv", conf_level=0.9, ci_transform="log", timepoints=(3.0, 24.0),
                    min_cell_size=11, km_ci_bands=False, km_annotation="hr")
    assert params.settings == Settings(conf_level=0.9, ci_transform="log", timepoints=(3.0, 24.0), min_cell_size=11,
                                       km_ci_bands=False, km_annotation="hr")
    assert SETTING_NAMES == ("conf_level", "ci_transform", "timepoints", "min_cell_size", "km_ci_bands",
                             "km_annotation")


@pytest.mark.parametrize("field, value", [
    ("conf_level", 1.0), ("conf_level", True), ("ci_transform", "arcsine"), ("timepoints", (6, float("inf"))),
    ("timepoints", (0,)), ("min_cell_size", 0), ("min_cell_size", 2.5), ("min_cell_size", True),
    ("km_ci_bands", "yes"), ("km_annotation", "p-value"),
])
def test_settings_refuse_invalid_values_naming_the_key(field, value):
    with pytest.raises(ParameterError, match=f"'{field}'"):
        Settings(**{field: value})


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings().conf_level = 0.5  # type: ignore[misc]


def test_takes_settings_fills_missing_keywords_explicit_wins_and_checks_type():
    @takes_settings
    def f(x, conf_level=0.95, *, min_cell_size=5, **rest):
        return conf_level, min_cell_size, rest

    s = Settings(conf_level=0.8, min_cell_size=3)
    assert f(1, settings=s) == (0.8, 3, {})
    assert f(1, 0.7, settings=s) == (0.7, 3, {})  # positional counts as given
    assert f(1, min_cell_size=9, settings=s, extra=1) == (0.8, 9, {"extra": 1})
    with pytest.raises(TypeError, match="settings must be a Settings"):
        f(1, settings={"conf_level": 0.8})
    assert "settings" in inspect.signature(f).parameters  # help() and Jupyter show it


def _summaries() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"AVAL": rng.exponential(10, 60).round(2), "event": rng.integers(0, 2, 60),
                       "g": np.repeat(["a", "b"], 30)})
    out = stats.km_summary_by(df, "AVAL", "event", "g", conf_level=0.9, ci_transform="log", timepoints=(6, 12))
    return out.assign(endpoint="PFS")


def test_tables_and_plots_with_settings_equal_explicit_keywords():
    s = Settings(conf_level=0.9, ci_transform="log", timepoints=(6.0, 12.0), min_cell_size=8)
    summ = _summaries()
    explicit = tables.endpoint_table(summ, timepoints=(6.0, 12.0), conf_level=0.9, min_cell_size=8)
    pd.testing.assert_frame_equal(tables.endpoint_table(summ, settings=s), explicit)
    freq = pd.DataFrame({"level": ["x", "y"], "n": [3, 40], "pct": [100 * 3 / 43, 100 * 40 / 43]})
    pd.testing.assert_frame_equal(tables.frequency_table(freq, heading="Level", settings=s),
                                  tables.frequency_table(freq, 8, "Level"))
    # figure options fill the plots' own keywords (ci=, annotation=)
    @takes_settings
    def figure(df, *, ci=True, annotation="logrank", min_cell_size=5):
        return ci, annotation, min_cell_size

    assert figure(None, settings=Settings(km_ci_bands=False, km_annotation="none")) == (False, "none", 5)
    assert figure(None, annotation="hr", settings=Settings(km_ci_bands=False)) == (False, "hr", 5)
    decorated = [f for f in (*vars(tables).values(), *vars(plots).values())
                 if callable(f) and hasattr(f, "__wrapped__") and "settings" in inspect.signature(f).parameters]
    assert {f.__name__ for f in decorated} >= {"table_one", "endpoint_table", "hr_table", "km_plot", "forest_plot"}


def test_settings_doctests():
    import doctest

    from ensemble_helpers import settings

    result = doctest.testmod(settings)
    assert result.attempted >= 5 and result.failed == 0
