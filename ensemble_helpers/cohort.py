"""From a parameter file to the analysed cohort: load, derive, filter, count the attrition."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ensemble_helpers.endpoints import analysis_frame, derive_adsl, derive_adtte
from ensemble_helpers.params import Params, ParameterError, Range, level_mask, load_params
from ensemble_helpers.schema import load_patients
from ensemble_helpers.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cohort:
    """The analysed population of one parameter set.

    Attributes
    ----------
    adsl : DataFrame
        One row per analysed patient (after the filters).
    adtte : DataFrame
        ADTTE rows of the analysed patients.
    attrition : DataFrame
        ``step``, ``n`` (patients remaining), ``excluded`` (removed at this step).
    params : Params
        The parameters that made it.
    dropped_levels : dict
        Levels without patients removed from ADSL's categories, by column
        (:func:`ensemble_helpers.populations.shaped_cohort`; empty until then).
    """

    adsl: pd.DataFrame
    adtte: pd.DataFrame
    attrition: pd.DataFrame
    params: Params
    dropped_levels: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def endpoint(self, paramcd: str) -> pd.DataFrame:
        """One endpoint joined to ADSL (see :func:`ensemble_helpers.endpoints.analysis_frame`)."""
        return analysis_frame(self.adsl, self.adtte, paramcd)

    @property
    def settings(self) -> Settings:
        """The run's settings (``params.settings``): pass as ``settings=`` to tables and plots."""
        return self.params.settings

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The PARAMCDs of ADTTE, in the order of the data (e.g. ``("TTF", "TTNT", "PFS", "OS")``)."""
        return tuple(str(p) for p in pd.unique(self.adtte["PARAMCD"])) if "PARAMCD" in self.adtte else ()

    def _summary(self) -> list[tuple[str, str]]:
        """(field, text) pairs of the short description shown by ``repr`` and in Jupyter."""
        total = int(self.attrition["n"].iloc[0]) if len(self.attrition) else len(self.adsl)
        filters = "; ".join(self.attrition["step"].iloc[1:-1]) or "none"
        rows = [
            ("population", self.params.title),
            ("patients", f"{len(self.adsl)} analysed of {total} in {self.params.data_path}"),
            ("filters", filters),
            ("endpoints", ", ".join(self.endpoints) + "  (cohort.endpoint('PFS') gives one as a table)"),
            ("tables", "cohort.adsl (one row per patient), cohort.adtte, cohort.attrition"),
        ]
        if self.params.comparison is not None:
            c = self.params.comparison
            rows.insert(3, ("comparison", f"{c.variable}: {c.levels[0]} vs {c.levels[1]} (reference)"))
        return rows

    def __repr__(self) -> str:
        lines = [f"Cohort({self.params.source})"]
        lines += [f"  {k:<12}{v}" for k, v in self._summary()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """A small table in Jupyter instead of hundreds of lines of DataFrames."""
        import html

        body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       f"<td style='text-align:left'>{html.escape(v)}</td></tr>" for k, v in self._summary())
        return f"<table><caption style='text-align:left'><b>Cohort</b> ({html.escape(self.params.source)})</caption>{body}</table>"


def apply_filters(
    adsl: pd.DataFrame, params: Params
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the patients the parameter file's ``filters`` allow, counting each step.

    Parameters
    ----------
    adsl : DataFrame
        Output of :func:`ensemble_helpers.endpoints.derive_adsl`.
    params : Params
        Validated parameters; ``filters`` maps an ADSL column to its allowed values.

    Returns
    -------
    (DataFrame, DataFrame)
        The filtered ADSL and the attrition table (``step``, ``n``, ``excluded``).

    Raises
    ------
    ParameterError
        A filter names a column the data does not have, a value the column cannot hold,
        or leaves no patient.
    """
    rows = [{"step": "Patients in the data file", "n": len(adsl), "excluded": 0}]
    keep = pd.Series(True, index=adsl.index)
    for col, allowed in params.filters.items():
        key = f"filters.{col}"
        if col not in adsl.columns:
            raise ParameterError(params.source, key, f"column {col!r} is not in the data (nor derived in ADSL)")
        values = adsl[col]
        if isinstance(allowed, Range):
            if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
                raise ParameterError(params.source, key, f"a range (min/max) needs a numeric column; {col} is not")
            before = int(keep.sum())
            keep &= allowed.mask(values)
            rows.append({"step": f"{col} {allowed}", "n": int(keep.sum()), "excluded": before - int(keep.sum())})
            continue
        if pd.api.types.is_bool_dtype(values):
            if not all(isinstance(a, bool) for a in allowed):
                raise ParameterError(params.source, key, f"{col} is true/false; got {list(allowed)!r}")
            match = values.isin(allowed)
        else:
            text = values.astype(str)
            wanted = [str(a) for a in allowed]
            if isinstance(values.dtype, pd.CategoricalDtype):
                levels = [str(c) for c in values.cat.categories]
                unknown = [a for a in wanted if a not in levels]
                if unknown:
                    raise ParameterError(
                        params.source, key, f"value(s) {unknown} not allowed for {col} (allowed: {', '.join(levels)})"
                    )
            match = text.isin(wanted) & values.notna()
        before = int(keep.sum())
        keep &= match
        after = int(keep.sum())
        shown = ", ".join(str(a) for a in allowed)
        rows.append({"step": f"{col} in {{{shown}}}", "n": after, "excluded": before - after})
    if not keep.any():
        raise ParameterError(params.source, "filters", "the filters leave 0 patients to analyse")
    attrition = pd.DataFrame(rows)
    attrition.loc[len(attrition)] = {"step": "Analysed", "n": int(keep.sum()), "excluded": 0}
    return adsl.loc[keep].reset_index(drop=True), attrition


def add_derived_variables(adsl: pd.DataFrame, params: Params) -> pd.DataFrame:
    """ADSL with the parameter file's ``derived_variables`` added as categorical columns.

    Raises
    ------
    ParameterError
        A variable is derived from a column the data does not have, or a range is cut on a
        column that is not numeric.
    """
    if not params.derived_variables:
        return adsl
    out = adsl.copy()
    for d in params.derived_variables:
        key = f"derived_variables.{d.name}"
        if d.source not in out.columns:
            raise ParameterError(params.source, f"{key}.from", f"unknown column {d.source!r} (not in the data nor in ADSL)")
        if d.name in adsl.columns:
            raise ParameterError(params.source, key, f"{d.name!r} is already an ADSL column; choose another name")
        if d.breaks is not None and not pd.api.types.is_numeric_dtype(out[d.source]):
            raise ParameterError(params.source, f"{key}.breaks", f"cut points need a numeric column; {d.source} is not")
        out[d.name] = d.apply(out)
    return out


def check_comparison(adsl: pd.DataFrame, params: Params) -> None:
    """Check the ``comparison`` against the analysed population.

    Raises
    ------
    ParameterError
        The variable is not an ADSL column, or one of its two levels has no patient.
    """
    comp = params.comparison
    if comp is None:
        return
    if comp.variable not in adsl.columns:
        raise ParameterError(params.source, "comparison.variable",
                             f"column {comp.variable!r} is not in ADSL nor in derived_variables")
    values = adsl[comp.variable]
    absent = [lv for lv in comp.levels if not level_mask(values, [lv]).any()]
    if absent:
        present = sorted({str(v) for v in values.dropna().unique()})
        raise ParameterError(params.source, "comparison.levels",
                             f"level(s) {absent} of {comp.variable} have no patient in the analysed population"
                             f" (present: {', '.join(present)})")


def load_cohort(params: Params | str | Path) -> Cohort:
    """Load the data file, validate it, derive ADSL/ADTTE and apply the filters.

    Parameters
    ----------
    params : Params, str or Path
        Validated parameters, or a parameter file (read with
        :func:`ensemble_helpers.params.load_params`; relative paths resolve from the working
        directory, else from the project root).

    Returns
    -------
    Cohort

    Raises
    ------
    DataContractError
        The data file breaks the data contract.
    ParameterError
        A filter is invalid or leaves no patient.
    """
    if isinstance(params, (str, Path)):
        params = load_params(params)
    elif not isinstance(params, Params):
        raise TypeError(f"load_cohort takes Params or a parameter file path, not {type(params).__name__}")
    path = params.data_file()
    if not path.exists():
        raise ParameterError(params.source, "data_path", f"data file {path} does not exist")
    patients = load_patients(path, data_sheet=params.data_sheet)
    adsl, attrition = apply_filters(add_derived_variables(derive_adsl(patients), params), params)
    check_comparison(adsl, params)
    adtte = derive_adtte(adsl)  # ADSL keeps every patient column
    logger.info("%s: %d of %d patients analysed", params.source, len(adsl), len(patients))
    return Cohort(adsl=adsl, adtte=adtte, attrition=attrition, params=params)
