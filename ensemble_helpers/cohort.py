"""From a parameter file to the analysed cohort: load, derive, filter, count the attrition."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from ensemble_helpers.endpoints import analysis_frame, derive_adsl, derive_adtte
from ensemble_helpers.params import Params, ParameterError
from ensemble_helpers.schema import load_patients

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
    """

    adsl: pd.DataFrame
    adtte: pd.DataFrame
    attrition: pd.DataFrame
    params: Params

    def endpoint(self, paramcd: str) -> pd.DataFrame:
        """One endpoint joined to ADSL (see :func:`ensemble_helpers.endpoints.analysis_frame`)."""
        return analysis_frame(self.adsl, self.adtte, paramcd)


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


def load_cohort(params: Params) -> Cohort:
    """Load the data file, validate it, derive ADSL/ADTTE and apply the filters.

    Parameters
    ----------
    params : Params
        Validated parameters.

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
    path = params.data_file()
    if not path.exists():
        raise ParameterError(params.source, "data_path", f"data file {path} does not exist")
    patients = load_patients(path)
    adsl, attrition = apply_filters(derive_adsl(patients), params)
    adtte = derive_adtte(adsl)  # ADSL keeps every patient column
    logger.info("%s: %d of %d patients analysed", params.source, len(adsl), len(patients))
    return Cohort(adsl=adsl, adtte=adtte, attrition=attrition, params=params)
