"""A content-addressed cache of validated patient tables that cannot run code.

``ensemble-run`` executes every notebook with every parameter file, so one data file is read and
validated by many kernels. :func:`cached_frame` keeps the validated, typed table of a data file
so that a later kernel (or a re-run in JupyterLab) loads it without validating again.

Key: the SHA-256 of the file's bytes plus the source of the modules that read and validate it,
the reading options (e.g. the Excel sheet, the date window) and the versions of pandas, NumPy and
pyarrow: editing the data, the data contract or the stack gives a new key, so an entry is never
stale. A file that breaks the contract is never cached (the validation raises before anything is
written), so every run reports the same error.

Entries are **Arrow IPC files** (data only: no pickle, nothing in them is executed), each with a
``.sha256`` file holding the checksum of the entry's bytes, recorded when it was written and
verified before the entry is read: a damaged or replaced entry is ignored and the file validated
again.

Where: a folder ``.ensemble-cache`` beside the data file, so that the patient-level copy stays
where the data already is, under the same access rules (never in a home folder or beside the
reports); ``$ENSEMBLE_CACHE_DIR`` overrides it, and an empty value or ``off`` disables it. The
folder is created readable by its owner only. A folder that is group- or world-writable is
tightened to owner-only when it is ours; a folder owned by someone else, or one that cannot be
tightened, is not used (a :class:`CacheWarning` says so, and the file is validated). Only the
newest :data:`MAX_ENTRIES` entries are kept. Any problem with the cache falls back to validating
the file: the cache can make a run faster, never make it fail or change what is loaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
import warnings
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:  # pandas is imported where a table is loaded: the batch runner imports
    import pandas as pd  # sha256_file from here without the analysis stack

logger = logging.getLogger(__name__)

__all__ = ["MAX_ENTRIES", "CacheWarning", "cache_dir", "cache_key", "cached_frame", "sha256_file"]

#: Entries kept (newest by modification time).
MAX_ENTRIES = 8
_PREFIX = "patients-"
_SUFFIX = ".arrow"
_SUM = ".sha256"


class CacheWarning(UserWarning):
    """The validated-table cache is not used (unsafe folder); the file is validated instead."""


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


def cache_key(path: str | Path, code: Path | Sequence[Path], extra: str = "") -> str:
    """SHA-256 over the file's bytes, the source of ``code``, ``extra`` and the stack's versions.

    Parameters
    ----------
    path : str or Path
        The data file.
    code : Path or sequence of Path
        The source file(s) of the modules that read and validate it.
    extra : str
        Reading options that change the result (sheet, date window).
    """
    digest = hashlib.sha256(sha256_file(path).encode())
    digest.update(b"\0" + Path(path).name.lower().encode().rsplit(b".", 1)[-1])
    for source in [code] if isinstance(code, Path) else code:
        digest.update(b"\0" + Path(source).read_bytes())
    digest.update(b"\0" + extra.encode())
    for package in ("pandas", "numpy", "pyarrow"):
        digest.update(f"\0{package}={_version(package)}".encode())
    return digest.hexdigest()


def _safe_folder(folder: Path) -> bool:
    """Create ``folder`` owner-only, or check (and tighten) an existing one; False = do not use."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError as exc:
        logger.debug("cache folder %s unavailable: %s", folder, exc)
        return False
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        warnings.warn(f"cache folder {folder} is not a plain folder: not used (validating instead)",
                      CacheWarning, stacklevel=3)
        return False
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        warnings.warn(
            f"cache folder {folder} belongs to another user: not used (validating instead); "
            "remove it or set ENSEMBLE_CACHE_DIR", CacheWarning, stacklevel=3,
        )
        return False
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH | stat.S_IRWXO):
        try:
            os.chmod(folder, 0o700)
            logger.warning("cache folder %s was open to other users: tightened to owner-only", folder)
        except OSError as exc:
            warnings.warn(f"cache folder {folder} is writable by others and cannot be tightened "
                          f"({exc}): not used (validating instead)", CacheWarning, stacklevel=3)
            return False
    return True


def _read_verified(entry: Path) -> bytes | None:
    """The entry's bytes when its recorded checksum matches, else None (never follows links)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        recorded = (entry.parent / (entry.name + _SUM)).read_text().strip()
        fd = os.open(entry, flags)
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
                return None
            data = fh.read()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != recorded:
        logger.warning("cache entry %s does not match its checksum: ignored", entry.name)
        return None
    return data


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob(f"{_PREFIX}*{_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        for stale in (old, old.parent / (old.name + _SUM)):
            try:
                stale.unlink()
            except OSError:
                pass


def _write_atomic(folder: Path, target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)  # atomic: a parallel kernel sees the old state or the new one
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def cached_frame(
    path: str | Path,
    code: Path | Sequence[Path],
    build: Callable[[], pd.DataFrame],
    extra: str = "",
) -> pd.DataFrame:
    """``build()``, or the table it returned earlier for the same file, code, options and versions.

    Parameters
    ----------
    path : str or Path
        The data file ``build`` reads.
    code : Path or sequence of Path
        Source file(s) of the code in ``build`` (part of the key).
    build : callable
        Reads and validates ``path``; its exceptions propagate and nothing is cached.
    extra : str
        Options of ``build`` that change its result (part of the key).

    Returns
    -------
    DataFrame
        A fresh object each call: callers may modify it.
    """
    import pyarrow as pa

    folder = cache_dir(path)
    if folder is None:
        return build()
    try:
        entry = folder / f"{_PREFIX}{cache_key(path, code, extra)}{_SUFFIX}"
    except OSError:  # unreadable file: let build() report it
        return build()
    if not _safe_folder(folder):
        return build()
    data = _read_verified(entry)
    if data is not None:
        try:
            with pa.ipc.open_file(pa.py_buffer(data)) as reader:
                frame = reader.read_all().to_pandas()
            logger.debug("validated table of %s from the cache (%s)", path, entry.name)
            return frame
        except Exception as exc:  # a damaged entry: validate again and overwrite it
            logger.debug("ignoring cache entry %s: %s", entry, exc)
    frame = build()
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        payload = sink.getvalue().to_pybytes()
        _write_atomic(folder, entry.parent / (entry.name + _SUM), hashlib.sha256(payload).hexdigest().encode())
        _write_atomic(folder, entry, payload)
        _prune(folder)
    except (OSError, pa.ArrowException) as exc:
        logger.debug("could not write the cache entry %s: %s", entry, exc)
    return frame
