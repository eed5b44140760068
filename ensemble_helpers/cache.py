"""A content-addressed cache of validated patient tables.

``ensemble-run`` executes every notebook with every parameter file, so one data file is read and
validated by many kernels (15 for the shipped parameter files). Validation itself is quick, but it
needs pandera, whose import costs ~0.3 s per kernel. :func:`cached_frame` keeps the validated,
typed table of a data file so that a later kernel (or a re-run in JupyterLab) loads it in a few
milliseconds.

The key is the SHA-256 of the file's bytes plus the source of the module that validates it and
the versions of pandas, NumPy and pandera: editing the data, the data contract or the stack gives
a new key, so an entry is never stale. A file that breaks the contract is never cached (the
validation raises before anything is written), so every run reports the same error.

Where: a folder ``.ensemble-cache`` beside the data file, so that the patient-level copy stays
where the data already is, under the same access rules (never in a home folder or beside the
reports); ``$ENSEMBLE_CACHE_DIR`` overrides it, and an empty value or ``off`` disables the cache.
The folder is created readable by its owner only. Entries are pickles written by this package;
only the newest :data:`MAX_ENTRIES` are kept. Any problem with the cache (read-only folder, a
damaged entry) falls back to validating the file: the cache can make a run faster, never make it
fail.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pandas is imported where a table is loaded: the batch runner imports
    import pandas as pd  # sha256_file from here without the analysis stack

logger = logging.getLogger(__name__)

__all__ = ["MAX_ENTRIES", "cache_dir", "cache_key", "cached_frame", "sha256_file"]

#: Entries kept (newest by modification time); a data file of 1e6 patients is ~150 MB pickled.
MAX_ENTRIES = 8
_PREFIX = "patients-"
_SUFFIX = ".pkl"


def cache_dir(path: str | Path) -> Path | None:
    """The cache folder for data file ``path``, or ``None`` when the cache is off.

    ``<folder of path>/.ensemble-cache``, or ``$ENSEMBLE_CACHE_DIR`` when set; an empty value
    or ``off`` turns the cache off.
    """
    configured = os.environ.get("ENSEMBLE_CACHE_DIR")
    if configured is not None:
        if configured.strip().lower() in ("", "off", "0", "false", "no"):
            return None
        return Path(configured).expanduser()
    return Path(path).resolve().parent / ".ensemble-cache"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(path: str | Path, code: Path) -> str:
    """SHA-256 over the file's bytes, the source of ``code`` and the stack's versions.

    Parameters
    ----------
    path : str or Path
        The data file.
    code : Path
        The source file of the module that reads and validates it.
    """
    digest = hashlib.sha256(sha256_file(path).encode())
    digest.update(b"\0" + Path(path).suffix.lower().encode())
    digest.update(b"\0" + code.read_bytes())
    for package in ("pandas", "numpy", "pandera"):
        digest.update(f"\0{package}={_version(package)}".encode())
    return digest.hexdigest()


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob(f"{_PREFIX}*{_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        try:
            old.unlink()
        except OSError:
            pass


def cached_frame(path: str | Path, code: Path, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``build()``, or the table it returned earlier for the same file, code and versions.

    Parameters
    ----------
    path : str or Path
        The data file ``build`` reads.
    code : Path
        Source file of the code in ``build`` (part of the key).
    build : callable
        Reads and validates ``path``; its exceptions propagate and nothing is cached.

    Returns
    -------
    DataFrame
        A fresh object each call (unpickled or built): callers may modify it.
    """
    import pandas as pd

    folder = cache_dir(path)
    if folder is None:
        return build()
    try:
        entry = folder / f"{_PREFIX}{cache_key(path, code)}{_SUFFIX}"
    except OSError:  # unreadable file: let build() report it
        return build()
    if entry.is_file():
        try:
            with open(entry, "rb") as fh:
                frame = pickle.load(fh)
            if isinstance(frame, pd.DataFrame):
                logger.debug("validated table of %s from the cache (%s)", path, entry.name)
                return frame
        except Exception as exc:  # a damaged entry: validate again and overwrite it
            logger.debug("ignoring cache entry %s: %s", entry, exc)
    frame = build()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=_SUFFIX, dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(frame, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, entry)  # atomic: a parallel kernel sees the old state or the new one
        except BaseException:
            os.unlink(tmp)
            raise
        _prune(folder)
    except OSError as exc:
        logger.debug("could not write the cache entry %s: %s", entry, exc)
    return frame
