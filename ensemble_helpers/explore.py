"""The explorer's entry point: a cohort from a parameter-file name, a path or keyword overrides.

JupyterLab users start here (``docs`` and the README's "Exploring in JupyterLab"); the batch
runner and the report notebooks use :func:`ensemble_helpers.report.start`, which reads the
same parameter files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ensemble_helpers.cohort import Cohort, load_cohort
from ensemble_helpers.params import Params, ParameterError, load_params, params_from_mapping, project_root


def parameter_files(root: Path | None = None) -> dict[str, Path]:
    """The shipped parameter files by name (``"full_cohort"`` -> ``params/full_cohort.yaml``)."""
    folder = (root or project_root()) / "params"
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def _parameter_file(name: str | Path) -> Path | str:
    """A parameter file from a name or a path; a clear error listing the names otherwise."""
    text = str(name)
    if Path(text).suffix.lower() in (".yaml", ".yml") or "/" in text or "\\" in text:
        return name  # a path: load_params resolves it (working directory, then project root)
    files = parameter_files()
    if text in files:
        return f"params/{files[text].name}"  # project-relative: messages and reports show no home folder
    known = ", ".join(files) or "none"
    raise ParameterError(text, "-", f"no parameter file named {text!r} in params/ (known: {known})")


def open_cohort(params: str | Path | Params = "full_cohort", **overrides: Any) -> Cohort:
    """Load the analysed cohort of a parameter file, with optional overrides.

    Parameters
    ----------
    params : str, Path or Params, default "full_cohort"
        A shipped parameter file's name (``"tki"``, the stem of a file in ``params/``), a path
        to a YAML parameter file (relative paths resolve from the working directory, else from
        the project root, so a notebook in ``scratch/`` or ``notebooks/`` can say
        ``"params/tki.yaml"``), or validated :class:`~ensemble_helpers.params.Params`.
    **overrides
        Parameter values replacing the file's, validated like the file
        (e.g. ``filters={"ecog": [0, 1]}``, ``min_cell_size=10``).

    Returns
    -------
    Cohort
        ``cohort.adsl`` (one row per patient), ``cohort.endpoint("PFS")`` (one endpoint joined
        to ADSL, with ``AVAL`` in months and ``event`` 0/1), ``cohort.params``.

    Raises
    ------
    TypeError
        ``params`` is neither a name, a path nor Params.
    ParameterError
        Unknown name, missing file, or an invalid parameter (the message names the key).
    DataContractError
        The data file breaks the data contract.

    Examples
    --------
    >>> from ensemble_helpers import open_cohort  # doctest: +SKIP
    >>> c = open_cohort("full_cohort", filters={"ecog": [0, 1]})  # doctest: +SKIP
    >>> c  # doctest: +SKIP
    Cohort(params/full_cohort.yaml)
      population  EN-SEMBLE full cohort (synthetic data)
      ...
    """
    if isinstance(params, Params):
        if overrides:
            values = {k: getattr(params, k) for k in params.__dataclass_fields__ if k != "source"}
            values.update(overrides)
            params = params_from_mapping(values, source=params.source)
        return load_cohort(params)
    if not isinstance(params, (str, Path)):
        raise TypeError(
            "open_cohort takes a parameter-file name (e.g. 'full_cohort'), a path to a YAML file"
            f" or Params; got {type(params).__name__}"
        )
    return load_cohort(load_params(_parameter_file(params), **overrides))
