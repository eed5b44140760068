"""Parameter files: read a small YAML file, check every key before any analysis runs.

A parameter file describes one analysis population. Example (``params/antibody.yaml``)::

    title: First post-T-DXd regimen with an anti-HER2 antibody
    data_path: data/ensemble_synthetic.csv
    filters:
      regimen_group: [antibody]
    min_cell_size: 5

A filter value is a list of allowed values or a range with ``min`` and/or ``max`` (inclusive,
missing values excluded)::

    filters:
      age: {min: 65}

``derived_variables`` defines categorical ADSL columns, usable in filters, subgroups, the
comparison and Table 1, by cut points (intervals closed on the left) or by grouping levels::

    derived_variables:
      age_group: {from: age, breaks: [65], labels: ["<65", ">=65"]}
      ecog_group: {from: ecog, groups: {"0-1": [0, 1], ">=2": [2, 3, 4]}}

``comparison`` names two levels of one ADSL column; the second level is the reference::

    comparison: {variable: regimen_group, levels: [tki, antibody]}

Every key is optional except ``title`` and ``data_path``; defaults are in :class:`Params`.
Relative paths are resolved against the project root (the folder holding ``pyproject.toml``),
so a notebook opened in JupyterLab from ``notebooks/`` finds the same files as a batch run.

A parameter file is read with a strict YAML loader (:func:`read_parameter_file`): anchors and
aliases (``&x``, ``*x``) and duplicate keys are refused, so a file cannot grow in memory as it is
read and a second ``min_cell_size`` cannot silently replace the first. ``output_dir`` is not a
parameter-file key: ``ensemble-run`` decides where reports go (``--output-dir``); a notebook run
interactively writes ``results.json`` to its own ``output_dir`` variable (default ``scratch``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np
import pandas as pd
import yaml

if TYPE_CHECKING:
    from ensemble_helpers.settings import Settings

from ensemble_helpers.exceptions import EnsembleError

CI_TRANSFORMS = ("log", "log-log", "plain")
DEFAULT_SUBGROUPS = (
    "regimen_group",
    "discontinuation_group",
    "hormone_receptor",
    "visceral_metastasis",
    "brain_metastasis",
)


class ParameterError(EnsembleError, ValueError):
    """A parameter file (or notebook parameter) is invalid: names the file, the key and the rule."""

    def __init__(self, source: str, key: str, rule: str) -> None:
        self.source, self.key, self.rule = str(source), key, rule
        super().__init__(f"{self.source}: parameter {key!r}: {rule}")


@dataclass(frozen=True)
class Range:
    """A filter keeping values between ``min`` and ``max`` (both inclusive, either may be None).

    Missing values never pass a range filter.
    """

    min: float | None = None
    max: float | None = None

    def mask(self, values: pd.Series) -> pd.Series:
        """Boolean Series: the values inside the range (missing -> False)."""
        x = pd.to_numeric(values, errors="coerce").astype(float)
        keep = x.notna()
        if self.min is not None:
            keep &= x >= self.min
        if self.max is not None:
            keep &= x <= self.max
        return keep.fillna(False).astype(bool)

    def __str__(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{_num(self.min)} to {_num(self.max)}"
        return f">= {_num(self.min)}" if self.min is not None else f"<= {_num(self.max)}"


@dataclass(frozen=True)
class Comparison:
    """Two levels of one ADSL column compared in the report; the second level is the reference.

    Attributes
    ----------
    variable : str
        ADSL column (contract, derived in ADSL, or a ``derived_variables`` entry).
    levels : tuple of (treatment, reference)
    """

    variable: str
    levels: tuple[Any, Any]

    @property
    def treatment(self) -> Any:
        """The compared level (first)."""
        return self.levels[0]

    @property
    def reference(self) -> Any:
        """The reference level (second)."""
        return self.levels[1]

    @property
    def label(self) -> str:
        """``"tki vs antibody"``."""
        return f"{self.treatment} vs {self.reference}"

    def mask(self, values: pd.Series) -> pd.Series:
        """Boolean Series: the rows in either compared level."""
        return level_mask(values, self.levels)

    def indicator(self, values: pd.Series) -> pd.Series:
        """1.0 for the treatment level, 0.0 for the reference, NaN otherwise."""
        out = pd.Series(np.nan, index=values.index)
        out[level_mask(values, [self.treatment])] = 1.0
        out[level_mask(values, [self.reference])] = 0.0
        return out


@dataclass(frozen=True)
class DerivedVariable:
    """A categorical ADSL column defined in the parameter file.

    Exactly one of ``breaks`` (cut points, intervals closed on the left, ``labels`` one more
    than the breaks) or ``groups`` (label -> source values) is set. Source values outside every
    interval or group, and missing source values, are missing.
    """

    name: str
    source: str
    breaks: tuple[float, ...] | None = None
    labels: tuple[str, ...] = ()
    groups: Mapping[str, tuple[Any, ...]] | None = None

    def apply(self, adsl: pd.DataFrame) -> pd.Series:
        """The derived column (an ordered categorical with the labels as categories)."""
        values = adsl[self.source]
        if self.breaks is not None:
            x = pd.to_numeric(values, errors="coerce").astype(float)
            bins = [-math.inf, *self.breaks, math.inf]
            cut = pd.cut(x, bins=bins, right=False, labels=list(self.labels))
            return pd.Series(pd.Categorical(cut, categories=list(self.labels), ordered=True), index=adsl.index)
        assert self.groups is not None
        out = pd.Series(pd.Categorical([None] * len(values), categories=list(self.groups), ordered=True),
                        index=adsl.index)
        for label, members in self.groups.items():
            out[level_mask(values, members)] = label
        return out


def level_mask(values: pd.Series, levels: Any) -> pd.Series:
    """Rows whose value is one of ``levels``, compared as text (``0`` matches ``0`` and ``"0"``;
    ``true`` matches a boolean True); missing values never match."""
    wanted = {_text(v) for v in levels}
    if pd.api.types.is_bool_dtype(values):
        text = values.map(_text)
    else:
        text = values.astype(object).map(lambda v: None if _isna(v) else _text(v))
    return (text.isin(wanted) & values.notna()).astype(bool)


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _text(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _num(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


#: Values of ``km_annotation``: what grouped Kaplan–Meier figures print (``plots.km_plot(annotation=)``).
KM_ANNOTATIONS = ("logrank", "hr", "none")


@dataclass(frozen=True)
class Params:
    """Validated parameters of one analysis population.

    Attributes
    ----------
    title : str
        Report title.
    data_path : str
        Patient file in the data contract: .csv, .csv.gz, .parquet, .xlsx, .sas7bdat or .xpt
        (relative to the project root or absolute).
    data_sheet : str or int or None
        For an Excel ``data_path``: the sheet to read (name or 0-based position; default first).
    filters : dict
        Column -> tuple of allowed values or a :class:`Range`, applied in order (ADSL columns,
        derived variables included).
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
    derived_variables : tuple of DerivedVariable
        Categorical columns added to ADSL before the filters.
    comparison : Comparison or None
        Two levels of one column compared in the report (second level the reference).
    weighting : str
        Propensity-score weights of the adjusted comparison: ``overlap`` (default), ``ate``
        (stabilised inverse probability of treatment) or ``att`` (``docs/adjusted.md``).
    internal_results : bool
        Also write the unsuppressed ``results.json`` of each run, for the study team's own
        checks, into ``<output-dir>/internal/<parameter set>/`` (owner-only, never linked from
        ``index.html``). Default false: only the suppressed records are written
        (``docs/disclosure.md``).
    km_ci_bands : bool
        Kaplan–Meier figures draw each curve's pointwise confidence interval as a band (default
        true; level and transform: ``conf_level``, ``ci_transform``).
    km_annotation : str
        What grouped Kaplan–Meier figures print in a corner free of curves: ``logrank`` (default,
        the log-rank p-value), ``hr`` (each group's Cox hazard ratio with its CI against the
        first group) or ``none``.
    output_dir : str
        Folder for ``results.json``: the notebook variable ``output_dir`` (default ``scratch``,
        git-ignored, never a batch's report folder); the batch runner sets it per run. Not a
        parameter-file key.
    source : str
        The file these parameters came from (for messages).
    """

    title: str
    data_path: str
    data_sheet: str | int | None = None
    filters: Mapping[str, tuple[Any, ...] | Range] = field(default_factory=dict)
    ci_transform: str = "log-log"
    conf_level: float = 0.95
    timepoints: tuple[float, ...] = (6.0, 12.0)
    min_cell_size: int | None = 5
    subgroup_variables: tuple[str, ...] = DEFAULT_SUBGROUPS
    published_comparison: bool = False
    derived_variables: tuple[DerivedVariable, ...] = ()
    comparison: Comparison | None = None
    weighting: str = "overlap"
    internal_results: bool = False
    km_ci_bands: bool = True
    km_annotation: str = "logrank"
    output_dir: str = "scratch"
    source: str = "<parameters>"

    def data_file(self) -> Path:
        """The data file as an absolute path."""
        return resolve_path(self.data_path)

    def output_path(self) -> Path:
        """The output folder as an absolute path."""
        return resolve_path(self.output_dir)

    @property
    def settings(self) -> "Settings":
        """The run's :class:`~ensemble_helpers.settings.Settings` (confidence level, CI transform,
        timepoints, ``min_cell_size``), passed down as ``settings=``."""
        from ensemble_helpers.settings import Settings

        return Settings.from_params(self)


#: Parameters of a run (notebook variables).
PARAM_KEYS = tuple(f.name for f in dataclasses.fields(Params) if f.name != "source")
#: Keys a parameter file may hold: every parameter but ``output_dir`` (set by whoever runs it).
FILE_KEYS = tuple(k for k in PARAM_KEYS if k != "output_dir")
_OUTPUT_DIR_RULE = (
    "not a parameter-file key: ensemble-run writes reports to its --output-dir, and a notebook"
    " run by hand writes to its output_dir variable; remove this line"
)


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


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses anchors, aliases and duplicate mapping keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            line = event.start_mark.line + 1
            raise ParameterError("", "-", f"line {line}: anchors and aliases (&name, *name) are not"
                                          " allowed in a parameter file; write each value out")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.setdefault(key, line)
            except TypeError:  # unhashable key: SafeConstructor reports it
                continue
            if first != line:
                raise ParameterError("", str(key), f"duplicate key (lines {first} and {line}); a key"
                                                   " may appear once, delete one of them")
        return super().construct_mapping(node, deep=deep)


def read_parameter_file(path: str | Path) -> dict[str, Any]:
    r"""The mapping in a YAML parameter file, read strictly (no anchors, aliases, duplicate keys).

    Parameters
    ----------
    path : str or Path
        The YAML file.

    Returns
    -------
    dict
        Key -> value, as written (not yet validated: see :func:`params_from_mapping`).

    Raises
    ------
    ParameterError
        Missing or unreadable file, not YAML, an anchor or alias, a duplicate key, not a mapping.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "p.yaml"
    >>> _ = f.write_text("min_cell_size: 5\nmin_cell_size: 1\n")
    >>> read_parameter_file(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ensemble_helpers.params.ParameterError: ...: parameter 'min_cell_size': duplicate key (lines 1 and 2)...
    """
    source = str(path)
    p = resolve_path(path)  # from the working directory, else from the project root
    if not p.is_file():
        rule = "is a folder, not a file" if p.is_dir() else "parameter file does not exist"
        raise ParameterError(source, "-", rule)
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506
    except ParameterError as exc:  # raised by _StrictLoader, which does not know the file name
        raise ParameterError(source, exc.key, exc.rule) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ParameterError(source, "-", f"not a valid YAML file ({exc})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ParameterError(source, "-", "the file must be a mapping of key: value")
    if "output_dir" in data:
        raise ParameterError(source, "output_dir", _OUTPUT_DIR_RULE)
    return data


def parameter_problems(values: Mapping[str, Any], source: str = "<parameters>") -> list[ParameterError]:
    """Every problem of a parameter mapping, one per key (empty when valid).

    :func:`params_from_mapping` stops at the first problem; this validates again without each
    offending key until the rest passes, so that a file with three mistakes is reported once with
    three lines.

    Examples
    --------
    >>> [e.key for e in parameter_problems({"title": "t", "data_path": "d.csv",
    ...                                     "conf_level": 2, "timepoints": [float("inf")]})]
    ['conf_level', 'timepoints']
    """
    remaining = dict(values)
    problems: list[ParameterError] = []
    for _ in range(len(values) + 2):
        try:
            params_from_mapping(remaining, source=source)
            return problems
        except ParameterError as exc:
            problems.append(exc)
            key = exc.key.split(".", 1)[0]
            if key in ("title", "data_path") or key not in remaining:
                return problems  # required, or not attributable to one key: stop here
            del remaining[key]
    return problems


def column_problems(params: Params, columns: Iterable[str],
                    keys: Iterable[str] | None = None) -> list[ParameterError]:
    """Columns named by the parameters that the data will not have.

    Parameters
    ----------
    params : Params
        Validated parameters.
    columns : iterable of str
        Columns of the analysis data set: the data file's header plus the columns
        ``derive_adsl`` adds (:func:`derived_columns`).
    keys : iterable of str, optional
        Check only these keys (those a parameter file sets); default every key.

    Returns
    -------
    list of ParameterError
        One per unknown column, with the closest known names.
    """
    import difflib

    known = set(columns)
    wanted = set(PARAM_KEYS if keys is None else keys)
    references = []
    if "derived_variables" in wanted:  # their sources must exist; their names then may be used
        references += [(f"derived_variables.{d.name}", d.source) for d in params.derived_variables]
    known |= {d.name for d in params.derived_variables}
    if "filters" in wanted:
        references += [(f"filters.{col}", col) for col in params.filters]
    if "subgroup_variables" in wanted:
        references += [("subgroup_variables", col) for col in params.subgroup_variables]
    if "comparison" in wanted and params.comparison is not None:
        references += [("comparison.variable", params.comparison.variable)]
    problems = []
    for key, col in references:
        if col not in known:
            close = difflib.get_close_matches(col, sorted(known), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            problems.append(ParameterError(params.source, key, f"no column {col!r} in the data{hint}"))
    return problems


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
        Missing file, not YAML, anchors/aliases, duplicate or unknown key, wrong type or value.

    Examples
    --------
    >>> p = load_params("params/full_cohort.yaml")  # doctest: +SKIP
    >>> p.ci_transform  # doctest: +SKIP
    'log-log'
    """
    source = str(path)
    data = read_parameter_file(path)
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
    derived: tuple[DerivedVariable, ...] = ()
    if v.get("derived_variables") is not None:
        derived = _derived_variables(source, v["derived_variables"])
        out["derived_variables"] = derived
    if v.get("data_sheet") is not None:
        sheet = v["data_sheet"]
        if isinstance(sheet, bool) or not isinstance(sheet, (str, int)):
            raise ParameterError(source, "data_sheet", f"must be a sheet name or 0-based number, got {sheet!r}")
        if not str(out["data_path"]).lower().endswith(".xlsx"):
            raise ParameterError(source, "data_sheet", "is only for an Excel (.xlsx) data_path")
        out["data_sheet"] = sheet
    if "filters" in v and v["filters"] is not None:
        out["filters"] = _filters(source, v["filters"])
        known = known_columns()
        for col in out["filters"]:
            if known and col not in known | {d.name for d in derived}:
                raise ParameterError(source, f"filters.{col}",
                                     f"column {col!r} is not in the data (nor derived in ADSL or in derived_variables)")
    if v.get("comparison") is not None:
        out["comparison"] = _comparison(source, v["comparison"], derived)
    if "weighting" in v:
        from ensemble_helpers.adjust import WEIGHTINGS

        wt = _typed(source, "weighting", v["weighting"], str)
        if wt not in WEIGHTINGS:
            raise ParameterError(source, "weighting", f"must be one of {', '.join(WEIGHTINGS)}, got {wt!r}")
        out["weighting"] = wt
    if "km_ci_bands" in v:
        out["km_ci_bands"] = _typed(source, "km_ci_bands", v["km_ci_bands"], bool)
    if "km_annotation" in v:
        ann = _typed(source, "km_annotation", v["km_annotation"], str)
        if ann not in KM_ANNOTATIONS:
            raise ParameterError(source, "km_annotation", f"must be one of {', '.join(KM_ANNOTATIONS)}, got {ann!r}")
        out["km_annotation"] = ann
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
    _refuse_identifying_columns(source, out, derived)
    if "internal_results" in v:
        out["internal_results"] = _typed(source, "internal_results", v["internal_results"], bool)
    if "output_dir" in v and v["output_dir"] is not None:
        out["output_dir"] = str(_typed(source, "output_dir", v["output_dir"], (str, Path)))
    return Params(**out)


def _refuse_identifying_columns(source: str, out: Mapping[str, Any],
                                derived: tuple[DerivedVariable, ...]) -> None:
    """A ParameterError when ``filters``, ``subgroup_variables`` or ``comparison`` name an
    identifier, a date or (to split patients) an unbinned continuous variable
    (:func:`ensemble_helpers.disclosure.refused_reason`); derived variables with cut points are
    categories and always accepted."""
    from ensemble_helpers.disclosure import refused_reason

    binned = [d.name for d in derived]
    uses = [(f"filters.{col}", col, "filters") for col in out.get("filters", {})]
    uses += [("subgroup_variables", col, "subgroup_variables") for col in out.get("subgroup_variables", ())]
    if out.get("comparison") is not None:
        uses.append(("comparison.variable", out["comparison"].variable, "subgroup_variables"))
    for key, col, use in uses:
        reason = refused_reason(col, use, binned)
        if reason:
            raise ParameterError(source, key, reason)


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
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(source, key, f"must be a number (not inf or nan), got {value!r}")
    return float(value)


def _filters(source: str, filters: Any) -> dict[str, tuple[Any, ...] | Range]:
    if not isinstance(filters, dict):
        raise ParameterError(source, "filters", "must be a mapping of column: [allowed values]")
    out: dict[str, tuple[Any, ...] | Range] = {}
    for col, allowed in filters.items():
        if not isinstance(col, str):
            raise ParameterError(source, "filters", f"column name must be text, got {col!r}")
        key = f"filters.{col}"
        if isinstance(allowed, Range):
            out[col] = allowed
        elif isinstance(allowed, dict):
            extra = sorted(set(allowed) - {"min", "max"}, key=str)
            if extra or not allowed:
                raise ParameterError(source, key, "a range is a mapping with min and/or max (inclusive),"
                                     f" e.g. {{min: 65}}; got {allowed!r}")
            lo = _number(source, key, allowed["min"]) if allowed.get("min") is not None else None
            hi = _number(source, key, allowed["max"]) if allowed.get("max") is not None else None
            if lo is None and hi is None:
                raise ParameterError(source, key, "a range needs min and/or max")
            if lo is not None and hi is not None and lo > hi:
                raise ParameterError(source, key, f"min ({_num(lo)}) is greater than max ({_num(hi)})")
            out[col] = Range(lo, hi)
        elif isinstance(allowed, (list, tuple)) and allowed:
            out[col] = tuple(allowed)
        else:
            raise ParameterError(source, key, "must be a non-empty list of allowed values"
                                 " or a range {min: ..., max: ...}")
    return out


def _derived_variables(source: str, spec: Any) -> tuple[DerivedVariable, ...]:
    if isinstance(spec, (tuple, list)) and all(isinstance(d, DerivedVariable) for d in spec):
        return tuple(spec)
    if not isinstance(spec, dict):
        raise ParameterError(source, "derived_variables", "must be a mapping of name: {from: column, ...}")
    known = known_columns()
    out = []
    for name, d in spec.items():
        key = f"derived_variables.{name}"
        if not isinstance(name, str) or not name.isidentifier():
            raise ParameterError(source, "derived_variables", f"name must be a column-like word, got {name!r}")
        if isinstance(d, DerivedVariable):
            out.append(d)
            continue
        if not isinstance(d, dict):
            raise ParameterError(source, key, "must be a mapping with from and breaks/labels or groups")
        extra = sorted(set(d) - {"from", "breaks", "labels", "groups"}, key=str)
        if extra:
            raise ParameterError(source, key, f"unknown key {extra[0]!r} (allowed: from, breaks, labels, groups)")
        src = d.get("from")
        if not isinstance(src, str) or not src:
            raise ParameterError(source, f"{key}.from", "required: the ADSL column it is derived from")
        if known and src not in known:
            raise ParameterError(source, f"{key}.from", f"unknown column {src!r} (ADSL columns: {', '.join(sorted(known))})")
        if known and name in known:
            raise ParameterError(source, key, f"{name!r} is already an ADSL column; choose another name")
        if ("breaks" in d) == ("groups" in d):
            raise ParameterError(source, key, "give either breaks (with labels) or groups, not both nor neither")
        if "breaks" in d:
            breaks = d["breaks"]
            if not isinstance(breaks, (list, tuple)) or not breaks:
                raise ParameterError(source, f"{key}.breaks", "must be a non-empty list of cut points")
            b = tuple(_number(source, f"{key}.breaks", x) for x in breaks)
            if any(b2 <= b1 for b1, b2 in zip(b, b[1:])):
                raise ParameterError(source, f"{key}.breaks", f"breaks must be strictly increasing, got {list(breaks)}")
            labels = d.get("labels")
            if not isinstance(labels, (list, tuple)) or len(labels) != len(b) + 1:
                got = len(labels) if isinstance(labels, (list, tuple)) else 0
                raise ParameterError(source, f"{key}.labels",
                                     f"{len(b)} break(s) make {len(b) + 1} intervals: give {len(b) + 1} labels, got {got}")
            lab = tuple(str(x) for x in labels)
            if len(set(lab)) != len(lab):
                raise ParameterError(source, f"{key}.labels", f"labels must differ, got {list(labels)}")
            out.append(DerivedVariable(name, src, breaks=b, labels=lab))
        else:
            groups = d["groups"]
            if "labels" in d:
                raise ParameterError(source, f"{key}.labels", "labels go with breaks; with groups the keys are the labels")
            if not isinstance(groups, dict) or not groups:
                raise ParameterError(source, f"{key}.groups", "must be a mapping of label: [source values]")
            seen: dict[str, str] = {}
            parsed = {}
            for label, members in groups.items():
                if not isinstance(members, (list, tuple)) or not members:
                    raise ParameterError(source, f"{key}.groups.{label}", "must be a non-empty list of source values")
                for m in members:
                    if _text(m) in seen:
                        raise ParameterError(source, f"{key}.groups",
                                             f"overlapping groups: value {m!r} is in {seen[_text(m)]!r} and {str(label)!r}")
                    seen[_text(m)] = str(label)
                parsed[str(label)] = tuple(members)
            out.append(DerivedVariable(name, src, labels=tuple(parsed), groups=parsed))
    return tuple(out)


def _comparison(source: str, spec: Any, derived: tuple[DerivedVariable, ...]) -> Comparison:
    if isinstance(spec, Comparison):
        return spec
    if not isinstance(spec, dict) or set(spec) != {"variable", "levels"}:
        raise ParameterError(source, "comparison", "must be a mapping {variable: column, levels: [compared, reference]}")
    var = spec["variable"]
    if not isinstance(var, str) or not var:
        raise ParameterError(source, "comparison.variable", f"must be a column name, got {var!r}")
    base = known_columns()
    known = base | {d.name for d in derived}
    if base and var not in known:
        raise ParameterError(source, "comparison.variable", f"unknown column {var!r} (ADSL columns and derived variables:"
                             f" {', '.join(sorted(known))})")
    levels = spec["levels"]
    if not isinstance(levels, (list, tuple)) or len(levels) != 2 or _text(levels[0]) == _text(levels[1]):
        raise ParameterError(source, "comparison.levels",
                             f"must be exactly two different levels [compared, reference], got {levels!r}")
    dv = next((d for d in derived if d.name == var), None)
    if dv is not None:
        missing = [lv for lv in levels if _text(lv) not in {_text(x) for x in dv.labels}]
        if missing:
            raise ParameterError(source, "comparison.levels", f"{missing} not among the labels of {var}: {list(dv.labels)}")
    return Comparison(var, (levels[0], levels[1]))


def known_columns() -> frozenset[str]:
    """Columns of ADSL before any ``derived_variables``: the data contract's (required and
    optional) plus the ones :func:`ensemble_helpers.endpoints.derive_adsl` adds.

    Found by deriving ADSL from an empty contract table, so a new derived flag is known here
    without a second list. Empty when that is not possible (checks then happen on the data).
    """
    return _known_columns()


def derived_columns() -> frozenset[str]:
    """The columns :func:`ensemble_helpers.endpoints.derive_adsl` adds to the data file's (empty
    when they cannot be found without data): a data file's header plus these are the names a
    parameter file may use before its own ``derived_variables``."""
    from ensemble_helpers import schema

    contract = set(schema.REQUIRED_COLUMNS) | set(getattr(schema, "OPTIONAL_COLUMNS", ()))
    return frozenset(_known_columns() - contract)


@functools.lru_cache(maxsize=1)
def _known_columns() -> frozenset[str]:
    from ensemble_helpers import schema
    from ensemble_helpers.endpoints import derive_adsl

    columns = tuple(schema.REQUIRED_COLUMNS) + tuple(getattr(schema, "OPTIONAL_COLUMNS", ()))
    empty = pd.DataFrame({c: pd.Series([], dtype="datetime64[ns]" if c in schema.DATE_COLUMNS else object)
                          for c in columns})
    try:
        return frozenset(derive_adsl(empty).columns)
    except Exception:  # noqa: BLE001 - a derivation that needs real rows: check on the data instead
        return frozenset()
