"""Planning: parameter files x notebooks -> runs, their fingerprints, and the up-to-date check."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from ensemble_helpers import params
from ensemble_helpers.batch.errors import BatchError
from ensemble_helpers.batch.runs import RunSpec
from ensemble_helpers.cache import sha256_file

__all__ = ["VERSIONED_PACKAGES", "data_columns", "package_hash", "package_versions", "safe_name_problem"]

#: Packages whose versions go into each report's footer, the manifest and the skip fingerprint.
VERSIONED_PACKAGES = ("ensemble-helpers", "pandas", "numpy", "lifelines", "matplotlib", "papermill",
                      "nbconvert")
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # ensemble_helpers/


def package_hash(package_dir: Path | None = None) -> str:
    """SHA-256 over every ``*.py``, ``*.yaml`` and ``*.j2`` file of the helper package and its
    subpackages (relative names + contents).

    Parameters
    ----------
    package_dir : Path, optional
        Defaults to the installed ``ensemble_helpers`` folder.
    """
    root = Path(package_dir) if package_dir is not None else _PACKAGE_DIR
    digest = hashlib.sha256()
    files = sorted(p for pattern in ("*.py", "*.yaml", "*.j2") for p in root.rglob(pattern)
                   if "__pycache__" not in p.parts)
    for path in files:
        name = path.relative_to(root).as_posix()
        digest.update(name.encode() + b"\0" + sha256_file(path).encode())
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of ``VERSIONED_PACKAGES`` plus Python (``"not installed"`` if absent)."""
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["python"] = platform.python_version()
    return versions


# --------------------------------------------------------------------------------------------
# Planning: which runs exist, which are up to date
# --------------------------------------------------------------------------------------------
def _expand(items: Iterable[str | os.PathLike[str]], patterns: Sequence[str], kind: str) -> list[Path]:
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted({p for pattern in patterns for p in path.glob(pattern)})
            paths.extend(p for p in found if not p.name.startswith("."))
        elif path.is_file():
            paths.append(path)
        else:
            raise BatchError(f"{kind} not found: {path}")
    unique: dict[Path, None] = dict.fromkeys(p.resolve() for p in paths)
    return list(unique)


#: The workbook's notebooks: ``notebooks/NN_name.ipynb`` (two digits, an underscore, a lowercase
#: name), run in that order. The one place that says which notebooks make the workbook: anything
#: else in ``notebooks/`` (``Untitled.ipynb``, ``02_endpoints-Copy1.ipynb``) is not run by
#: ``ensemble-run`` nor checked by the tests; explorers work in ``scratch/``.
WORKBOOK_NOTEBOOK = re.compile(r"^\d{2}_[a-z0-9_]+\.ipynb$")


def workbook_notebooks(root: Path) -> list[Path]:
    """The workbook's declared notebooks under ``<root>/notebooks`` (see :data:`WORKBOOK_NOTEBOOK`)."""
    folder = root / "notebooks"
    return sorted(p for p in folder.glob("*.ipynb") if WORKBOOK_NOTEBOOK.match(p.name))


def _notebook_items(items: Iterable[str | os.PathLike[str]], root: Path) -> list[Path]:
    """Notebook arguments as paths: a path as given, else a short name such as ``02_endpoints``
    (``<root>/notebooks/02_endpoints.ipynb``)."""
    paths = []
    for item in items:
        path = Path(item)
        if not path.exists() and len(path.parts) == 1:
            for candidate in (root / "notebooks" / f"{item}.ipynb", root / "notebooks" / path):
                if candidate.is_file():
                    path = candidate
                    break
        paths.append(path)
    return paths


def collect_inputs(param_files: Iterable[str | os.PathLike[str]] | None,
                   notebooks: Iterable[str | os.PathLike[str]] | None,
                   root: Path) -> tuple[list[Path], list[Path]]:
    """Parameter files and notebooks of a batch, expanded from files, folders and short names.

    Raises
    ------
    BatchError
        Nothing found, a name used twice, or a notebook name that is not a safe file name.
    """
    param_items = list(param_files or []) or [root / "params"]
    notebook_items = _notebook_items(list(notebooks or []), root)
    param_paths = _expand(param_items, ("*.yaml", "*.yml"), "parameter file")
    if notebook_items:
        notebook_paths = [p for p in _expand(notebook_items, ("*.ipynb",), "notebook")
                          if not p.stem.endswith("-checkpoint")]
    else:  # the workbook's declared notebooks, never whatever else lies in notebooks/
        notebook_paths = [p.resolve() for p in workbook_notebooks(root)]
    if not param_paths:
        raise BatchError(f"no parameter files (*.yaml) in {', '.join(map(str, param_items))}")
    if not notebook_paths:
        where = ", ".join(map(str, notebook_items)) or f"{root / 'notebooks'} (workbook notebooks are NN_name.ipynb)"
        raise BatchError(f"no notebooks (*.ipynb) in {where}")
    _check_unique_stems(param_paths, "parameter file")
    _check_unique_stems(notebook_paths, "notebook")
    for path in notebook_paths:
        problem = safe_name_problem(path.stem)
        if problem:
            raise BatchError(f"notebook {path.name}: {problem}; rename it")
    return param_paths, notebook_paths


def _check_unique_stems(paths: Sequence[Path], kind: str) -> None:
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise BatchError(f"two {kind}s share the name {path.stem!r} ({seen[path.stem]} and {path});"
                             " the report folder is named after it, so rename one")
        seen[path.stem] = path


def _display_path(path: Path, root: Path) -> str:
    """Path relative to the repository root when inside it, else just the file name (no home dirs)."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.name


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_up_to_date(spec: RunSpec) -> bool:
    return decide(spec, force=False)[0] == "skip"


#: What a change of each fingerprint field is called in ``--dry-run`` and the log.
_CHANGES = {"notebook_sha256": "notebook changed", "param_sha256": "parameter file changed",
            "data_sha256": "data file changed", "package_sha256": "ensemble_helpers changed",
            "versions": "package versions changed", "show_code": "--show-code changed",
            "overrides": "-p/-y overrides changed"}


def decide(spec: RunSpec, force: bool) -> tuple[str, str]:
    """``("run" | "skip" | "fail", reason)`` for one planned run; reads only its provenance file.

    Examples: ``("skip", "unchanged since 2026-01-01T10:00:00+00:00")``,
    ``("run", "data file changed")``, ``("fail", "invalid parameter file (2 problems)")``.
    """
    if spec.problems:
        n = len(spec.problems)
        return "fail", f"invalid parameter file ({n} problem{'s' if n > 1 else ''})"
    if force:
        return "run", "forced (--force)"
    dest = spec.dest
    prov = _read_json(dest / f"{spec.notebook}.provenance.json")
    if not isinstance(prov, dict) or not isinstance(prov.get("inputs"), dict):
        return "run", "no report yet"
    if not ((dest / f"{spec.notebook}.html").is_file() and (dest / f"{spec.notebook}.ipynb").is_file()):
        return "run", "report files missing"
    old = prov["inputs"]
    changed = [label for key, label in _CHANGES.items() if old.get(key) != spec.inputs.get(key)]
    changed += [f"{key} changed" for key in sorted(set(old) ^ set(spec.inputs)) if key not in _CHANGES]
    if changed:
        return "run", ", ".join(changed)
    return "skip", f"unchanged since {prov.get('run_date', '?')}"


def _existing_paths(dest: Path, notebook: str) -> dict[str, str]:
    names = {
        "html": f"{notebook}.html",
        "ipynb": f"{notebook}.ipynb",
        "results": f"{notebook}.results.json",
        "provenance": f"{notebook}.provenance.json",
        "files": f"{notebook}_files",
        "docx": f"{notebook}.docx",
        "xlsx": f"{notebook}.xlsx",
        "figures": f"{notebook}_figures",
        "failed_html": f"{notebook}.failed.html",
        "failed_ipynb": f"{notebook}.failed.ipynb",
    }
    return {key: str(dest / name) for key, name in names.items() if (dest / name).exists()}


#: File types whose header ensemble-run reads to check column names (others: checked in the kernel).
_HEADER_TYPES = (".csv", ".txt", ".parquet", ".pq")
_UNSAFE_NAME = re.compile(r"[/\\\x00]")


def safe_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a report folder or file name (``None`` when it can).

    Run names come from file stems and become one path component under ``--output-dir``: empty,
    ``.``/``..``, hidden (leading dot) or containing a path separator are refused.

    Examples
    --------
    >>> safe_name_problem("full_cohort") is None
    True
    >>> safe_name_problem("..")
    "'..' is not a safe report name (empty, hidden, '.', '..' or containing a path separator)"
    """
    if not name or name.startswith(".") or _UNSAFE_NAME.search(name) or name != name.strip():
        return (f"{name!r} is not a safe report name (empty, hidden, '.', '..' or containing a path"
                " separator)")
    return None


def data_columns(path: Path) -> set[str] | None:
    """Column names from the header (CSV) or schema (Parquet) of a data file, without reading
    its rows; ``None`` for a file type checked only in the kernel."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return set(pq.read_schema(path).names)
    if suffix in (".csv", ".txt"):
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
        return {name.strip() for name in header}
    return None


def _describe(problem: Any, display: str) -> str:
    """One line: ``params/x.yaml: parameter 'key': rule``."""
    key, rule = getattr(problem, "key", "-"), getattr(problem, "rule", str(problem))
    return f"{display}: {rule}" if key == "-" else f"{display}: parameter {key!r}: {rule}"


def _validate(param_path: Path, root: Path, overrides: Mapping[str, Any],
              columns_of: Callable[[Path], set[str] | None]) -> tuple[dict[str, Any], Path | None, list[str]]:
    """(effective parameters, data file, problems) of one parameter file; nothing runs yet."""
    display = _display_path(param_path, root)
    problems: list[str] = []
    name_problem = safe_name_problem(param_path.stem)
    if name_problem:
        problems.append(f"{display}: file name: {name_problem}; rename the file")
    if "output_dir" in overrides:
        problems.append(f"{display}: parameter 'output_dir': {params._OUTPUT_DIR_RULE}"
                        " (use --output-dir)")
        overrides = {k: v for k, v in overrides.items() if k != "output_dir"}
    try:
        values = {**params.read_parameter_file(param_path), **overrides}
    except params.ParameterError as exc:
        return {}, None, [*problems, _describe(exc, display)]
    found = params.parameter_problems(values, source=display)
    problems += [_describe(p, display) for p in found]
    data_path = values.get("data_path")
    data_file = None
    if isinstance(data_path, (str, os.PathLike)) and str(data_path):
        data_file = Path(data_path) if Path(data_path).is_absolute() else root / data_path
        if not data_file.is_file():  # a folder is refused here, never hashed
            reason = ("is a folder" if data_file.is_dir() else
                      "is not a regular file" if data_file.exists() else "does not exist")
            problems.append(f"{display}: parameter 'data_path': {str(data_path)!r} {reason};"
                            " it must be a data file (.csv or .parquet)")
            data_file = None
    bad_keys = {p.key.split(".", 1)[0] for p in found}
    if data_file is not None and not bad_keys & {"title", "data_path", "-"}:
        try:
            columns = columns_of(data_file)
        except Exception as exc:  # unreadable header: the kernel's reader gives the full story
            problems.append(f"{display}: parameter 'data_path': cannot read the header of"
                            f" {data_file.name}: {exc}")
            columns = None
        if columns is not None:
            # the keys that passed, checked against the data's columns
            good = {k: v for k, v in values.items() if k not in bad_keys}
            checked = params.params_from_mapping(good, source=display)
            known = columns | params.derived_columns()
            problems += [_describe(p, display)
                         for p in params.column_problems(checked, known, keys=good)]
    return values, data_file, problems


def _plan(param_paths: Sequence[Path], notebook_paths: Sequence[Path], out: Path, root: Path,
          show_code: bool, runtime_root: str = "",
          overrides: Mapping[str, Any] | None = None, watch: Any = None) -> list[RunSpec]:
    """One ``RunSpec`` per parameter file x notebook, validated; nothing is executed or written.

    A parameter file with problems still gives its runs, each carrying the file's problems
    (``RunSpec.problems``): the runner fails them without starting a kernel and runs the rest.
    ``overrides`` (``-p``/``-y``) are applied to every file before validation. ``watch``
    (a ``publish.DataWatch``) hashes the data files, so that the check after each run reuses
    the hash while the file is untouched.
    """
    overrides = dict(overrides or {})
    helpers = package_hash()
    versions = package_versions()
    notebook_hashes = {nb: sha256_file(nb) for nb in notebook_paths}
    data_hashes: dict[Path, str | None] = {}
    columns: dict[Path, set[str] | None] = {}

    def columns_of(path: Path) -> set[str] | None:
        if path not in columns:
            columns[path] = data_columns(path)
        return columns[path]

    specs = []
    for param_path in param_paths:
        parameters, data_file, problems = _validate(param_path, root, overrides, columns_of)
        if data_file is not None and data_file not in data_hashes:
            data_hashes[data_file] = watch.sha256(data_file) if watch else sha256_file(data_file)
        param_hash = sha256_file(param_path) if param_path.is_file() else None
        for nb_path in notebook_paths:
            inputs = {
                "notebook_sha256": notebook_hashes[nb_path],
                "param_sha256": param_hash,
                "data_sha256": data_hashes.get(data_file) if data_file else None,
                "package_sha256": helpers,
                "versions": versions,
                "show_code": show_code,
            }
            if overrides:
                inputs["overrides"] = overrides
            display = {
                "param_file": _display_path(param_path, root),
                "notebook": _display_path(nb_path, root),
                "data_file": _display_path(data_file, root) if data_file else "",
            }
            token = secrets.token_hex(4)
            specs.append(RunSpec(
                param_set=param_path.stem, notebook=nb_path.stem, param_file=str(param_path),
                notebook_path=str(nb_path), parameters=parameters, output_dir=str(out),
                tmp_dir=str(out / f".tmp-{param_path.stem}-{nb_path.stem}-{token}"), cwd=str(root),
                show_code=show_code, inputs=inputs, display=display,
                runtime_root=runtime_root or tempfile.gettempdir(), problems=tuple(problems),
                data_file=str(data_file) if data_file else "",
                overridden=bool(overrides)))
    return specs
