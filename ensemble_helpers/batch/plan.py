"""Planning: parameter files x notebooks -> runs, their fingerprints, and the up-to-date check."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import secrets
import tempfile
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from ensemble_helpers.batch.errors import BatchError, ParamFileError
from ensemble_helpers.batch.runs import RunSpec
from ensemble_helpers.cache import sha256_file

__all__ = ["VERSIONED_PACKAGES", "package_hash", "package_versions"]

#: Packages whose versions go into each report's footer, the manifest and the skip fingerprint.
VERSIONED_PACKAGES = ("ensemble-helpers", "pandas", "numpy", "lifelines", "matplotlib", "papermill",
                      "nbconvert")
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # ensemble_helpers/


def _sha256_path(path: Path) -> str | None:
    """SHA-256 of a file, of a directory's files (names + contents), or ``None`` if absent."""
    if path.is_file():
        return sha256_file(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(child.relative_to(path).as_posix().encode() + b"\0")
            digest.update(sha256_file(child).encode())
        return digest.hexdigest()
    return None


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


def _check_unique_stems(paths: Sequence[Path], kind: str) -> None:
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise BatchError(f"two {kind}s share the name {path.stem!r} ({seen[path.stem]} and {path});"
                             " the report folder is named after it, so rename one")
        seen[path.stem] = path


def _load_params(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamFileError(f"{path}: not valid YAML ({exc})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ParamFileError(f"{path}: expected a mapping of parameter names to values,"
                             f" got {type(data).__name__}")
    return data


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
    dest = spec.dest
    prov = _read_json(dest / f"{spec.notebook}.provenance.json")
    if not isinstance(prov, dict) or prov.get("inputs") != spec.inputs:
        return False
    return (dest / f"{spec.notebook}.html").is_file() and (dest / f"{spec.notebook}.ipynb").is_file()


def _existing_paths(dest: Path, notebook: str) -> dict[str, str]:
    names = {
        "html": f"{notebook}.html",
        "ipynb": f"{notebook}.ipynb",
        "results": f"{notebook}.results.json",
        "provenance": f"{notebook}.provenance.json",
        "files": f"{notebook}_files",
        "failed_html": f"{notebook}.failed.html",
        "failed_ipynb": f"{notebook}.failed.ipynb",
    }
    return {key: str(dest / name) for key, name in names.items() if (dest / name).exists()}



def _plan(param_paths: Sequence[Path], notebook_paths: Sequence[Path], out: Path, root: Path,
          show_code: bool, runtime_root: str = "") -> list[RunSpec]:
    helpers = package_hash()
    versions = package_versions()
    notebook_hashes = {nb: sha256_file(nb) for nb in notebook_paths}
    data_hashes: dict[Path, str | None] = {}
    specs = []
    for param_path in param_paths:
        parameters = _load_params(param_path)
        data_path = parameters.get("data_path")
        data_file = None
        if isinstance(data_path, str) and data_path:
            data_file = Path(data_path) if Path(data_path).is_absolute() else root / data_path
            if data_file not in data_hashes:
                data_hashes[data_file] = _sha256_path(data_file)
        param_hash = sha256_file(param_path)
        for nb_path in notebook_paths:
            inputs = {
                "notebook_sha256": notebook_hashes[nb_path],
                "param_sha256": param_hash,
                "data_sha256": data_hashes.get(data_file) if data_file else None,
                "package_sha256": helpers,
                "versions": versions,
                "show_code": show_code,
            }
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
                runtime_root=runtime_root or tempfile.gettempdir()))
    return specs
