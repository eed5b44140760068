"""Exceptions raised before a batch starts (a failing *run* is a ``RunResult``, not an exception)."""
from __future__ import annotations

from ensemble_helpers.exceptions import EnsembleError

__all__ = ["BatchError", "MissingDependencyError", "OutputDirBusyError", "ParamFileError"]


class BatchError(EnsembleError):
    """A batch cannot start (bad parameter file, nothing to run, output directory busy)."""


class ParamFileError(BatchError, ValueError):
    """A parameter file is missing, is not YAML, or is not a mapping of parameter names."""


class OutputDirBusyError(BatchError):
    """Another ``ensemble-run`` is writing into the same output directory."""


class MissingDependencyError(BatchError, ImportError):
    """An optional dependency (``distributed`` for ``--dask-scheduler``) is not installed."""
