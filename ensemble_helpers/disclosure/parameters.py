"""Identifier-safe parameters: which columns may select patients or split them into subgroups.

A filter on ``patient_id`` prints that id in the report header and can isolate one patient's
profile; a subgroup on ``site_id`` draws every site id on the forest plot; a date as a filter or a
subgroup is an input date in a shared file; a continuous variable (age) as a subgroup gives one
forest row per distinct value. :func:`refused_reason` says why a column may not be used, and
:mod:`ensemble_helpers.params` turns it into a ``ParameterError`` before any analysis runs.

A continuous variable becomes acceptable once binned: a derived variable with cut points in the
parameter file (``derived_variables``) is a category, so its name is accepted.
"""

from __future__ import annotations

from typing import Iterable

import pandas as pd

__all__ = [
    "IDENTIFIER_COLUMNS",
    "CONTINUOUS_COLUMNS",
    "MAX_SUBGROUP_LEVELS",
    "check_subgroup_column",
    "date_columns",
    "refused_reason",
]

#: Columns that identify a patient or a site.
IDENTIFIER_COLUMNS = ("patient_id", "site_id")
#: Input columns measured on a continuous scale (a subgroup needs cut points).
CONTINUOUS_COLUMNS = ("age",)
#: A numeric column with more distinct values than this is continuous, not a subgroup.
MAX_SUBGROUP_LEVELS = 10


def date_columns() -> tuple[str, ...]:
    """Every date column of the data contract."""
    from ensemble_helpers.schema import DATE_COLUMNS

    return tuple(DATE_COLUMNS)


def refused_reason(column: str, use: str, binned: Iterable[str] = ()) -> str | None:
    """Why ``column`` may not be used as a filter or subgroup, or ``None`` when it may.

    Parameters
    ----------
    column : str
        A column name from a parameter file.
    use : {"filters", "subgroup_variables"}
        The parameter naming it.
    binned : iterable of str
        Names of derived variables with cut points (always accepted).

    Examples
    --------
    >>> refused_reason("site_id", "subgroup_variables")
    'site_id identifies a site: a report may not select or split patients by an identifier'
    >>> refused_reason("age", "subgroup_variables") is not None, refused_reason("age", "filters")
    (True, None)
    >>> refused_reason("age_group", "subgroup_variables", binned=["age_group"]) is None
    True
    """
    name = str(column)
    if name in set(binned):
        return None
    low = name.strip().lower()
    if low in IDENTIFIER_COLUMNS:
        what = "a patient" if low == "patient_id" else "a site"
        return f"{name} identifies {what}: a report may not select or split patients by an identifier"
    if low in date_columns() or low.endswith(("_date", "_dt", "_dtc")):
        return (f"{name} is a date: a report may not select or split patients by a date (every input "
                "date stays out of shared files); derive a period or a duration first")
    if use == "subgroup_variables" and low in CONTINUOUS_COLUMNS:
        return (f"{name} is continuous: one subgroup per distinct value would describe single "
                "patients; bin it with cut points in the parameter file (derived_variables) and use "
                "the binned variable")
    return None


def check_subgroup_column(values: pd.Series, name: str) -> str | None:
    """Why the data of ``name`` cannot be a subgroup variable (too many distinct numbers), or None.

    The parameter check knows names only; this one, run on the data, catches a derived numeric
    column that is continuous.

    Examples
    --------
    >>> check_subgroup_column(pd.Series(range(40)), "score") is not None
    True
    >>> check_subgroup_column(pd.Series([0, 1, 2] * 10), "ecog") is None
    True
    """
    if isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(values):
        return None
    if pd.api.types.is_datetime64_any_dtype(values):
        return f"{name} holds dates: a report may not split patients by a date"
    if pd.api.types.is_numeric_dtype(values) and values.nunique(dropna=True) > MAX_SUBGROUP_LEVELS:
        return (f"{name} is continuous ({values.nunique(dropna=True)} distinct values): bin it with "
                "cut points in the parameter file (derived_variables) first")
    return None

