"""Exceptions raised before a batch starts (a failing *run* is a ``RunResult``, not an exception)."""
from __future__ import annotations

from ensemble_helpers.exceptions import EnsembleError

__all__ = ["BatchError", "MissingDependencyError", "OutputDirBusyError", "OutputDirError",
           "UnsafePathError"]


class BatchError(EnsembleError):
    """A batch cannot start or go on (nothing to run, unsafe names, output folder busy or not
    writable)."""


class UnsafePathError(BatchError):
    """The runner was about to write outside ``--output-dir`` (refused; nothing written)."""


class OutputDirBusyError(BatchError):
    """Another ``ensemble-run`` is writing into the same output directory."""


class OutputDirError(BatchError):
    """The output folder is read-only, not permitted or full: the batch stops, previous reports
    stay as they were and no temporary file is left."""


class MissingDependencyError(BatchError, ImportError):
    """An optional dependency (``distributed`` for ``--dask-scheduler``) is not installed."""
