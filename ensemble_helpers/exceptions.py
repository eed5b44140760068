"""The errors and warnings of the workbook: one root for each, so a caller can catch them all.

Every error class the package raises subclasses :class:`EnsembleError` (and keeps its built-in
base, e.g. ``ValueError``, so ``except ValueError`` still works)::

    EnsembleError
    ├── DataContractError (ValueError)     schema: the patient file breaks the data contract
    ├── ParameterError (ValueError)        params: a parameter file or notebook parameter is invalid
    ├── StatsInputError (ValueError)       stats: input a statistic cannot be computed from
    ├── CalibrationError (RuntimeError)    synthetic: the generator cannot reach its targets
    └── BatchError                         batch: a batch cannot start (and its subclasses)

Numerical caveats that the reader of a report must see are warnings, issued with
:func:`warnings.warn` (and also written as a note on the result, which the table shows as a
footnote)::

    StatisticalWarning (UserWarning)       e.g. a hazard ratio that may be infinite
    └── ConvergenceWarning                 an iterative fit stopped before converging

Each class is defined here or beside the code that raises it (and names this module's root);
``tests/test_exceptions.py`` checks that every exception class in the package has this root.

Examples
--------
>>> from ensemble_helpers.exceptions import EnsembleError
>>> from ensemble_helpers.stats import StatsInputError, km_summary
>>> issubclass(StatsInputError, EnsembleError) and issubclass(StatsInputError, ValueError)
True
"""

from __future__ import annotations

__all__ = ["EnsembleError", "StatsInputError", "StatisticalWarning", "ConvergenceWarning"]


class EnsembleError(Exception):
    """Root of every error the workbook raises on purpose (bad data, parameters or input)."""


class StatsInputError(EnsembleError, ValueError):
    """Input a statistic cannot be computed from (bad column, code, level or option)."""


class StatisticalWarning(UserWarning):
    """A result was computed but needs a caveat (e.g. a hazard ratio that may be infinite)."""


class ConvergenceWarning(StatisticalWarning):
    """An iterative fit (Newton-Raphson of a Cox model) stopped before it converged."""
