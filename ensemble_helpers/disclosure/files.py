"""Published files: no absolute path, no identifier, documented permissions.

Everything the batch runner writes under its output folder is *shared* (readable by whoever the
folder is given to) except ``<output-dir>/internal/``, which is the owner's alone:

=====================================  =========  ==================================================
what                                   mode       holds
=====================================  =========  ==================================================
shared folders                         ``0755``   reports, index, summary, manifest, figure/table files
shared files                           ``0644``   only what the disclosure policy let through
``internal/`` and its folders          ``0700``   unsuppressed results (``internal_results: true``)
files in ``internal/``, the id log     ``0600``   raw numbers, patient ids of a rejected data file
=====================================  =========  ==================================================

:func:`scrub_text` removes absolute paths (a path inside the project becomes project-relative,
any other path its file name) and identifiers (patient and site ids read from the data file
become ``[id]``); :func:`publishable_notebook` applies it to every text of an executed notebook
(sources, parameters, outputs, Papermill metadata) before it is rendered and published, so the
HTML and the ``.ipynb`` carry the same values.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from typing import Any, Iterable

__all__ = [
    "INTERNAL_DIR",
    "INTERNAL_DIR_MODE",
    "INTERNAL_FILE_MODE",
    "SHARED_DIR_MODE",
    "SHARED_FILE_MODE",
    "ID_PLACEHOLDER",
    "IdentifierScrubber",
    "data_identifiers",
    "publishable_notebook",
    "scrub_text",
    "set_shared_permissions",
    "write_internal",
    "append_internal",
    "is_owner_only",
]

logger = logging.getLogger(__name__)

SHARED_FILE_MODE = 0o644
SHARED_DIR_MODE = 0o755
INTERNAL_FILE_MODE = 0o600
INTERNAL_DIR_MODE = 0o700
#: Folder of the output directory holding unsuppressed results; never linked from index.html.
INTERNAL_DIR = "internal"
#: What an identifier of the input file becomes in a published file.
ID_PLACEHOLDER = "[id]"

# An absolute POSIX path of at least two components, not inside a URL, a date, a number or base64.
_ABS_PATH = re.compile(r"(?<![\w.:/+=%-])/(?:[^\s/'\"<>:;,()\[\]{}|=]+/)+[^\s/'\"<>:;,()\[\]{}|=]*")
_WIN_PATH = re.compile(r"\b[A-Za-z]:\\(?:[^\s\\'\"<>:;,()|]+\\)*[^\s\\'\"<>:;,()|]*")


_TOKEN = re.compile(r"[\w-]+")


class IdentifierScrubber:
    """Replaces every occurrence of a set of identifiers by :data:`ID_PLACEHOLDER`.

    An id counts where it stands alone: not preceded or followed by a word character or ``-``
    (``PT-0042`` is not found inside ``PT-00421``). Built once per data file and applied to
    every text of a notebook.

    Why not one regular expression of all ids (``a|b|c...``): Python's ``re`` tries every
    alternative at every position, so its cost grows with the number of ids (0.9 s for one
    report's texts with 886 ids; minutes with a million). Ids made of word characters and
    ``-`` only (all ids of the contract's examples) are matched instead by looking up each
    run of such characters in a set, which gives the same matches in time proportional to the
    text; the few ids with other characters (``A.7``) keep a regular expression, applied first
    and longest first as before.
    """

    def __init__(self, identifiers: Iterable[str] = ()) -> None:
        ids = {str(i) for i in identifiers if i is not None and str(i).strip()}
        self.simple = frozenset(i for i in ids if _TOKEN.fullmatch(i))
        other = sorted(ids - self.simple, key=len, reverse=True)
        self.other = (re.compile("|".join(rf"(?<![\w-]){re.escape(i)}(?![\w-])" for i in other))
                      if other else None)

    def __bool__(self) -> bool:
        return bool(self.simple) or self.other is not None

    def __call__(self, text: str) -> str:
        if self.other is not None:
            text = self.other.sub(ID_PLACEHOLDER, text)
        if self.simple:
            simple = self.simple
            text = _TOKEN.sub(lambda m: ID_PLACEHOLDER if m.group(0) in simple else m.group(0), text)
        return text


def scrub_text(text: str, root: str | os.PathLike[str] | None = None,
               identifiers: Iterable[str] | IdentifierScrubber = ()) -> str:
    """``text`` without absolute paths or identifiers.

    Parameters
    ----------
    text : str
    root : path, optional
        The project root: paths inside it become relative to it; every other absolute path is
        replaced by its last component (a file name carries no user name or folder layout).
    identifiers : iterable of str or IdentifierScrubber
        Patient and site ids of the input file; each occurrence becomes ``[id]`` (pass an
        :class:`IdentifierScrubber` to scrub many texts with the same ids).

    Examples
    --------
    >>> scrub_text("read /home/ana/study/data/x.csv and /tmp/a/b.yaml", "/home/ana/study")
    'read data/x.csv and b.yaml'
    >>> scrub_text("duplicate patient_id PT-0042 (line 7)", identifiers=["PT-0042"])
    'duplicate patient_id [id] (line 7)'
    """
    if not text:
        return text
    root_text = str(Path(root).resolve()) if root is not None else None

    def repl(match: re.Match[str]) -> str:
        path = match.group(0)
        if root_text and (path == root_text or path.startswith(root_text + "/")):
            rel = path[len(root_text):].lstrip("/")
            return rel or "."
        stripped = path.rstrip("/")
        return stripped.rsplit("/", 1)[-1] or "."

    out = _ABS_PATH.sub(repl, text)
    out = _WIN_PATH.sub(lambda m: m.group(0).rstrip("\\").rsplit("\\", 1)[-1], out)
    scrubber = identifiers if isinstance(identifiers, IdentifierScrubber) else IdentifierScrubber(identifiers)
    return scrubber(out) if scrubber else out


def data_identifiers(data_file: str | os.PathLike[str] | None) -> set[str]:
    """Patient and site ids of a data file (CSV or Parquet), read leniently.

    Used to scrub published files, including those of a run whose data file was rejected (the
    validation message may quote ids). An unreadable file gives an empty set.
    """
    if not data_file:
        return set()
    path = Path(data_file)
    if not path.is_file():
        return set()
    import pandas as pd

    wanted = ["patient_id", "site_id"]
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False,
                             usecols=lambda c: str(c).strip().lower() in wanted)
    except Exception as exc:  # noqa: BLE001 - a broken file has no ids to protect here
        logger.info("identifiers of %s not read: %s", path.name, exc)
        return set()
    ids: set[str] = set()
    for col in df.columns:
        if str(col).strip().lower() in wanted:
            ids |= {str(v).strip() for v in df[col].dropna() if str(v).strip()}
    return ids


def _scrub_value(value: Any, root: str | None, ids: Iterable[str] | IdentifierScrubber) -> Any:
    if isinstance(value, str):
        return scrub_text(value, root, ids)
    if isinstance(value, list):
        return [_scrub_value(v, root, ids) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_value(v, root, ids) for k, v in value.items()}
    return value


def publishable_notebook(nb: Any, root: str | os.PathLike[str] | None = None,
                         identifiers: Iterable[str] | IdentifierScrubber = ()) -> Any:
    """Scrub an executed notebook (nbformat node, changed in place and returned).

    Every text a reader of the ``.ipynb`` sees goes through :func:`scrub_text`: cell sources
    (the injected parameters hold the data and parameter file paths), stream and error outputs,
    every non-image representation of a display output, and the Papermill metadata (input and
    output paths, parameters). Images (base64) are left as they are.
    """
    root_text = str(Path(root).resolve()) if root is not None else None
    ids = identifiers if isinstance(identifiers, IdentifierScrubber) else IdentifierScrubber(identifiers)
    meta = nb.metadata.get("papermill")
    if meta:
        for key in ("input_path", "output_path"):
            if meta.get(key):
                meta[key] = scrub_text(str(meta[key]), root_text)
        if "parameters" in meta:
            meta["parameters"] = _scrub_value(meta["parameters"], root_text, ids)
        if meta.get("exception"):
            meta["exception"] = _scrub_value(meta["exception"], root_text, ids)
    for cell in nb.cells:
        cell.source = scrub_text(cell.source, root_text, ids)
        for out in cell.get("outputs", []) or []:
            if "text" in out:
                out["text"] = scrub_text(out["text"], root_text, ids)
            if "traceback" in out:
                out["traceback"] = [scrub_text(t, root_text, ids) for t in out["traceback"]]
            if "evalue" in out:
                out["evalue"] = scrub_text(out["evalue"], root_text, ids)
            data = out.get("data") or {}
            for mime, value in list(data.items()):
                if mime.startswith("image/") and mime != "image/svg+xml":
                    continue
                data[mime] = _scrub_value(value, root_text, ids)
    return nb


def set_shared_permissions(path: str | os.PathLike[str]) -> None:
    """Give a shared file ``0644`` (a folder ``0755``), whatever the umask or ``mkstemp`` gave."""
    p = Path(path)
    try:
        os.chmod(p, SHARED_DIR_MODE if p.is_dir() else SHARED_FILE_MODE)
    except FileNotFoundError:
        return


def write_internal(output_dir: str | os.PathLike[str], relative: str, text: str) -> Path:
    """Write ``text`` to ``<output_dir>/internal/<relative>``, owner-only (folders 0700, file 0600).

    Returns
    -------
    Path
        The file written.
    """
    base = Path(output_dir) / INTERNAL_DIR
    target = base / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = target.parent
    while True:  # internal/ and every folder below it: owner only
        os.chmod(folder, INTERNAL_DIR_MODE)
        if folder == base:
            break
        folder = folder.parent
    staged = target.with_name(f".{target.name}.tmp")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, INTERNAL_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(staged, INTERNAL_FILE_MODE)
    os.replace(staged, target)
    return target


def _owner_only_folders(base: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    while True:  # internal/ and every folder below it: owner only
        os.chmod(folder, INTERNAL_DIR_MODE)
        if folder == base:
            break
        folder = folder.parent


def append_internal(output_dir: str | os.PathLike[str], relative: str, text: str) -> Path:
    """Append ``text`` to the owner-only file ``<output_dir>/internal/<relative>`` (a log).

    The file is created 0600 and its folders 0700, like :func:`write_internal`.

    Examples
    --------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> log = append_internal(out, "errors.log", "duplicate patient_id PT-0042 (row 6)\\n")
    >>> is_owner_only(log), log.read_text()
    (True, 'duplicate patient_id PT-0042 (row 6)\\n')
    """
    base = Path(output_dir) / INTERNAL_DIR
    target = base / relative
    _owner_only_folders(base, target.parent)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, INTERNAL_FILE_MODE)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(target, INTERNAL_FILE_MODE)
    return target


def is_owner_only(path: str | os.PathLike[str]) -> bool:
    """Whether group and others have no access to ``path``."""
    return not (stat.S_IMODE(os.stat(path).st_mode) & 0o077)
