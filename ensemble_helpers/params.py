"""Parameter files: read a small YAML file, check every key before any analysis runs.

A parameter file describes one analysis population. Example (``params/antibody.yaml``)::

    title: First post-T-DXd regimen with an anti-HER2 antibody
    data_path: data/ensemble_synthetic.csv
    filters:
      regimen_group: [antibody]
    min_cell_size: 5

Every key is optional except ``title`` and ``data_path``; defaults are in :class:`Params`.
Relative paths are resolved against the project root (the folder holding ``pyproject.toml``),
so a notebook opened in JupyterLab from ``notebooks/`` finds the same files as a batch run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

CI_TRANSFORMS = ("log", "log-log", "plain")
DEFAULT_SUBGROUPS = (
    "regimen_group",
    "discontinuation_group",
    "hormone_receptor",
    "visceral_metastasis",
    "brain_metastasis",
)


class ParameterError(ValueError):
    """A parameter file (or notebook parameter) is invalid: names the file, the key and the rule."""

    def __init__(self, source: str, key: str, rule: str) -> None:
        self.source, self.key, self.rule = str(source), key, rule
        super().__init__(f"{self.source}: parameter {key!r}: {rule}")


@dataclass(frozen=True)
class Params:
    """Validated parameters of one analysis population.

    Attributes
    ----------
    title : str
        Report title.
    data_path : str
        CSV or Parquet file in the data contract (relative to the project root or absolute).
    filters : dict
        Column -> list of allowed values, applied in order (ADSL columns, e.g. ``regimen_group``).
    ci_transform : str
        Confidence-interval transform of Kaplan–Meier estimates: log, log-log (default) or plain.
    conf_level : float
        Confidence level in (0, 1), default 0.95.
    timepoints : tuple of float
        Landmark times in months for survival rates, default (6, 12).
    min_cell_size : int or None
        Counts from 1 to ``min_cell_size - 1`` are suppressed in shared output; None turns it off.
    subgroup_variables : tuple of str
        ADSL columns for the subgroup forest plot.
    published_comparison : bool
        Show the table "published vs this run".
    output_dir : str
        Folder for ``results.json`` (the batch runner sets it per run).
    source : str
        The file these parameters came from (for messages).
    """

    title: str
    data_path: str
    filters: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    ci_transform: str = "log-log"
    conf_level: float = 0.95
    timepoints: tuple[float, ...] = (6.0, 12.0)
    min_cell_size: int | None = 5
    subgroup_variables: tuple[str, ...] = DEFAULT_SUBGROUPS
    published_comparison: bool = False
    output_dir: str = "reports/results"
    source: str = "<parameters>"

    def data_file(self) -> Path:
        """The data file as an absolute path."""
        return resolve_path(self.data_path)

    def output_path(self) -> Path:
        """The output folder as an absolute path."""
        return resolve_path(self.output_dir)


#: Keys a parameter file may hold.
PARAM_KEYS = tuple(f.name for f in dataclasses.fields(Params) if f.name != "source")


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``pyproject.toml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").exists() and (folder / "ensemble_helpers").is_dir():
            return folder
    return here


def resolve_path(path: str | Path) -> Path:
    """Resolve a path from a parameter file: absolute, relative to cwd, or to the project root."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    if (Path.cwd() / p).exists():
        return (Path.cwd() / p).resolve()
    return project_root() / p


def load_params(path: str | Path, **overrides: Any) -> Params:
    """Read and validate a YAML parameter file.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    **overrides
        Values that replace the file's (e.g. ``output_dir`` set by the batch runner).

    Returns
    -------
    Params

    Raises
    ------
    ParameterError
        Missing file, not YAML, not a mapping, unknown key, wrong type or value.

    Examples
    --------
    >>> p = load_params("params/full_cohort.yaml")  # doctest: +SKIP
    >>> p.ci_transform  # doctest: +SKIP
    'log-log'
    """
    source = str(path)
    p = Path(path)
    if not p.exists():
        raise ParameterError(source, "-", "parameter file does not exist")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ParameterError(source, "-", f"not a valid YAML file ({exc})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParameterError(source, "-", "the file must be a mapping of key: value")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return params_from_mapping(data, source=source)


def params_from_mapping(values: Mapping[str, Any], source: str = "<parameters>") -> Params:
    """Validate a mapping of parameters (from a YAML file or notebook variables).

    Raises
    ------
    ParameterError
        Unknown key, wrong type or value.
    """
    unknown = sorted(set(values) - set(PARAM_KEYS))
    if unknown:
        raise ParameterError(
            source, unknown[0], f"unknown key (allowed keys: {', '.join(PARAM_KEYS)})"
        )
    for key in ("title", "data_path"):
        if key not in values or values[key] in (None, ""):
            raise ParameterError(source, key, "required")
    v = dict(values)
    out: dict[str, Any] = {"source": source}
    out["title"] = _typed(source, "title", v["title"], str)
    out["data_path"] = str(_typed(source, "data_path", v["data_path"], (str, Path)))
    if "filters" in v and v["filters"] is not None:
        out["filters"] = _filters(source, v["filters"])
    if "ci_transform" in v:
        ct = _typed(source, "ci_transform", v["ci_transform"], str)
        if ct not in CI_TRANSFORMS:
            raise ParameterError(source, "ci_transform", f"must be one of {', '.join(CI_TRANSFORMS)}, got {ct!r}")
        out["ci_transform"] = ct
    if "conf_level" in v:
        cl = _number(source, "conf_level", v["conf_level"])
        if not 0 < cl < 1:
            raise ParameterError(source, "conf_level", f"must be between 0 and 1 (exclusive), got {cl}")
        out["conf_level"] = float(cl)
    if "timepoints" in v:
        tps = v["timepoints"]
        if not isinstance(tps, (list, tuple)) or not tps:
            raise ParameterError(source, "timepoints", "must be a non-empty list of months")
        vals = tuple(float(_number(source, "timepoints", t)) for t in tps)
        if any(t <= 0 for t in vals):
            raise ParameterError(source, "timepoints", "every timepoint must be > 0 months")
        out["timepoints"] = vals
    if "min_cell_size" in v:
        m = v["min_cell_size"]
        if m is not None:
            if isinstance(m, bool) or not isinstance(m, int):
                raise ParameterError(source, "min_cell_size", f"must be a whole number or null, got {m!r}")
            if m < 1:
                raise ParameterError(source, "min_cell_size", f"must be at least 1 (or null to turn off), got {m}")
        out["min_cell_size"] = m
    if "subgroup_variables" in v:
        sv = v["subgroup_variables"]
        if not isinstance(sv, (list, tuple)) or not all(isinstance(s, str) for s in sv):
            raise ParameterError(source, "subgroup_variables", "must be a list of column names")
        out["subgroup_variables"] = tuple(sv)
    if "published_comparison" in v:
        out["published_comparison"] = _typed(source, "published_comparison", v["published_comparison"], bool)
    if "output_dir" in v and v["output_dir"] is not None:
        out["output_dir"] = str(_typed(source, "output_dir", v["output_dir"], (str, Path)))
    return Params(**out)


def parameters_from(namespace: Mapping[str, Any], params_file: str | None = None) -> Params:
    """Validated parameters of a notebook run.

    Papermill injects the keys of a parameter file as notebook variables; this collects them
    from the notebook's namespace (``globals()``). When the batch runner also passes
    ``params_file``, the file itself is validated (unknown keys included) and the notebook
    variables (``output_dir``) override it.

    Parameters
    ----------
    namespace : Mapping
        The notebook's ``globals()``.
    params_file : str, optional
        The parameter file the values came from.

    Returns
    -------
    Params
    """
    values = {k: namespace[k] for k in PARAM_KEYS if k in namespace}
    if params_file:
        return load_params(params_file, output_dir=values.get("output_dir"))
    return params_from_mapping(values, source="notebook parameters")


def _typed(source: str, key: str, value: Any, types: type | tuple[type, ...]) -> Any:
    if not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise ParameterError(source, key, f"must be {names}, got {type(value).__name__} {value!r}")
    return value


def _number(source: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ParameterError(source, key, f"must be a number, got {value!r}")
    return float(value)


def _filters(source: str, filters: Any) -> dict[str, tuple[Any, ...]]:
    if not isinstance(filters, dict):
        raise ParameterError(source, "filters", "must be a mapping of column: [allowed values]")
    out = {}
    for col, allowed in filters.items():
        if not isinstance(col, str):
            raise ParameterError(source, "filters", f"column name must be text, got {col!r}")
        if not isinstance(allowed, list) or not allowed:
            raise ParameterError(source, f"filters.{col}", "must be a non-empty list of allowed values")
        out[col] = tuple(allowed)
    return out
