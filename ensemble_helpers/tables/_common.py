"""Input checks and value labels shared by the table builders."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ensemble_helpers.labels import label

#: Indentation of level rows under their variable (non-breaking spaces survive HTML).
INDENT = "\u00a0" * 4
#: Integer columns with fewer distinct values than this are summarised as categories (gtsummary).
CATEGORICAL_MAX_LEVELS = 10
#: Shown instead of estimates of a group smaller than ``min_cell_size``.
TOO_FEW = "too few patients"
#: Shown instead of estimates of an empty group.
NO_PATIENTS = "no patients"
#: Column of the patients an adjusted model left out (complete-case analysis).
EXCLUDED = "Excluded (missing covariate)"




def _require(df: pd.DataFrame, columns: Sequence[str], caller: str, hint: str = "") -> None:
    absent = [c for c in columns if c not in df.columns]
    if absent:
        raise KeyError(f"{caller}: column(s) {absent} not in the table (columns: {list(df.columns)})"
                       + (f"; {hint}" if hint else ""))


def _value_label(value: Any) -> str:
    """Label of a level: booleans (also "True"/"False" text) become Yes/No."""
    if isinstance(value, (bool, np.bool_)):
        return label(bool(value))
    if isinstance(value, str) and value in ("True", "False"):
        return label(value == "True")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return label(value)


def _variable_type(s: pd.Series, name: str) -> str:
    """``dichotomous``, ``categorical`` or ``continuous`` (the gtsummary defaults)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return "dichotomous"
    if isinstance(s.dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(s.dtype) or pd.api.types.is_timedelta64_dtype(s.dtype):
        raise TypeError(f"table_one cannot summarise date column {name!r}; derive a number (e.g. months) first")
    if pd.api.types.is_integer_dtype(s.dtype):
        return "categorical" if s.nunique(dropna=True) < CATEGORICAL_MAX_LEVELS else "continuous"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "continuous"
    values = set(s.dropna().unique())
    if values and values <= {True, False}:
        return "dichotomous"
    return "categorical"


def _levels(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return list(s.cat.categories)
    values = s.dropna().unique()
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)
