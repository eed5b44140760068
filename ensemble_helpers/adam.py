"""ADaM export for double programming: ADSL and ADTTE as SAS transport (v5) and Parquet.

Statisticians re-derive key results in SAS or R and compare. :func:`export_adam` writes the
analysed population of one parameter file (after its filters) as

- ``adsl.xpt`` and ``adtte.xpt``: SAS transport v5 (variable names of at most 8 characters,
  labels of at most 40), readable by SAS ``LIBNAME XPORT``, R ``haven::read_xpt`` and
  ``pandas.read_sas``; dates are SAS dates (days since 1960-01-01, format ``DATE9.``), booleans
  numeric ``1``/``0``, categories and text character variables, missing values SAS missing;
- ``adsl.parquet`` and ``adtte.parquet``: the same variables and values, with pandas types;
- ``define.csv``: one row per variable (dataset, name, label, type, SAS format, source column).

These files hold **patient-level data**: they are written only to the folder asked for, never
under the reports folder (or the parameter file's ``output_dir``), with owner-only permissions
(folder ``0700``, files ``0600``). They do not go through the disclosure rules, because they are
not published.

Command line::

    python -m ensemble_helpers.adam --params params/all_patients.yaml --out /secure/adam
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from ensemble_helpers.exceptions import EnsembleError

logger = logging.getLogger(__name__)

__all__ = ["AdamExportError", "AdamFiles", "adam_frames", "export_adam", "main", "write_adam"]

STUDYID = "ENSEMBLE"
MAX_NAME, MAX_LABEL = 8, 40
#: ADSL column -> (SAS name, label). Columns not listed get a name made from theirs.
ADSL_NAMES: dict[str, tuple[str, str]] = {
    "patient_id": ("USUBJID", "Unique subject identifier"),
    "site_id": ("SITEID", "Study site identifier"),
    "age": ("AGE", "Age at T-DXd start (years)"),
    "ecog": ("ECOG", "ECOG performance status"),
    "hormone_receptor": ("HRSTAT", "Hormone receptor status"),
    "visceral_metastasis": ("VISCMET", "Visceral metastasis (1=yes)"),
    "brain_metastasis": ("BRAINMET", "Brain metastasis (1=yes)"),
    "prior_lines": ("PRIORLN", "Prior lines for metastatic disease"),
    "prior_trastuzumab": ("PRTRAS", "Prior trastuzumab (1=yes)"),
    "prior_pertuzumab": ("PRPERT", "Prior pertuzumab (1=yes)"),
    "prior_tdm1": ("PRTDM1", "Prior T-DM1 (1=yes)"),
    "tdxd_start": ("TRTSDT", "T-DXd start date"),
    "tdxd_end": ("TRTEDT", "T-DXd end date"),
    "tdxd_discontinuation_reason": ("DCREAS", "Reason T-DXd was stopped"),
    "tdxd_ild_grade": ("ILDGR", "ILD grade on T-DXd"),
    "tdxd_best_response": ("TDXDBOR", "Best response on T-DXd"),
    "next_start": ("NXTSDT", "Start of next regimen"),
    "next_class": ("NXTCLASS", "Class of next regimen"),
    "next_regimen": ("NXTREG", "Next regimen"),
    "next_end": ("NXTEDT", "End of next regimen"),
    "next_best_response": ("NXTBOR", "Best response on next regimen"),
    "measurable_disease": ("MEASDIS", "Measurable disease (1=yes)"),
    "progression_date": ("PDDT", "Progression date"),
    "second_next_start": ("NXT2SDT", "Start of the following regimen"),
    "death_date": ("DTHDT", "Death date"),
    "last_followup": ("LSTALVDT", "Last date known alive"),
    "ild_recurrence_date": ("ILDRECDT", "ILD recurrence/exacerbation date"),
    "anti_her2": ("ANTIHER2", "Next regimen contains anti-HER2 (1=yes)"),
    "regimen_group": ("REGGRP", "Regimen group"),
    "discontinuation_group": ("DCGRP", "T-DXd discontinuation group"),
    "responder": ("RESPFL", "Responder on next regimen (1=yes)"),
    "disease_control": ("DCFL", "Disease control on next regimen (1=yes)"),
    "ild_recurrence": ("ILDRECFL", "ILD recurrence recorded (1=yes)"),
    "tdxd_responder": ("TDXDRSFL", "T-DXd responder, CR or PR (1=yes)"),
    "tdxd_response_by_stop": ("TDXDRSTP", "T-DXd response x reason stopped"),
    "ild_grade_group": ("ILDGRGRP", "ILD grade group (stopped for ILD)"),
}
ADTTE_NAMES: dict[str, tuple[str, str]] = {
    "patient_id": ("USUBJID", "Unique subject identifier"),
    "PARAMCD": ("PARAMCD", "Parameter code"),
    "PARAM": ("PARAM", "Parameter"),
    "STARTDT": ("STARTDT", "Time-to-event origin date"),
    "ADT": ("ADT", "Analysis date"),
    "AVAL": ("AVAL", "Analysis value (months)"),
    "AVALD": ("AVALD", "Analysis value (days)"),
    "CNSR": ("CNSR", "Censor (0=event, 1=censored)"),
    "EVNTDESC": ("EVNTDESC", "Event or censoring description"),
    "EVENT": ("EVENT", "0=censored 1=event 2=competing event"),
}


class AdamExportError(EnsembleError, ValueError):
    """The ADaM export cannot be written where it was asked (e.g. under the reports folder)."""


@dataclass(frozen=True)
class AdamFiles:
    """Paths of one export."""

    adsl_xpt: Path
    adtte_xpt: Path
    adsl_parquet: Path
    adtte_parquet: Path
    define: Path


def _sas_name(column: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Z0-9_]", "", column.upper()) or "VAR"
    if base[0].isdigit():
        base = "V" + base
    name = base[:MAX_NAME]
    k = 1
    while name in taken:
        suffix = str(k)
        name = base[: MAX_NAME - len(suffix)] + suffix
        k += 1
    return name


def _sas_column(s: pd.Series) -> tuple[pd.Series, str, str]:
    """A column as SAS stores it: (values, 'Num'/'Char', SAS format)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        # SAS dates: days since 1960-01-01 (numeric even when every value is missing)
        days = (s - pd.Timestamp("1960-01-01")) / pd.Timedelta(days=1)
        return days.astype("float64"), "Num", "DATE9."
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64"), "Num", ""
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s):
        return s.astype(object).where(s.notna(), ""), "Char", ""
    return pd.to_numeric(s, errors="raise").astype("float64"), "Num", ""


def _dataset(frame: pd.DataFrame, names: dict[str, tuple[str, str]], dataset: str):
    """(SAS-ready frame, Parquet frame, define rows) of one dataset."""
    taken: set[str] = {"STUDYID"}
    sas = {"STUDYID": pd.Series([STUDYID] * len(frame), index=frame.index, dtype=object)}
    pq = {"STUDYID": sas["STUDYID"]}
    define = [{"dataset": dataset.upper(), "variable": "STUDYID", "label": "Study identifier",
               "type": "Char", "sas_format": "", "source": ""}]
    for column in frame.columns:
        name, label = names.get(column, (None, None))
        if name is None or name in taken:
            name = _sas_name(column, taken)
            label = column.replace("_", " ")
        taken.add(name)
        values, kind, fmt = _sas_column(frame[column])
        sas[name] = values
        pq[name] = frame[column].astype(object) if isinstance(frame[column].dtype, pd.CategoricalDtype) \
            else frame[column]
        define.append({"dataset": dataset.upper(), "variable": name, "label": label[:MAX_LABEL],
                       "type": kind, "sas_format": fmt, "source": column})
    return pd.DataFrame(sas), pd.DataFrame(pq).reset_index(drop=True), define


def adam_frames(adsl: pd.DataFrame, adtte: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, list[dict]]]:
    """The SAS-ready and Parquet frames and the define rows of ADSL and ADTTE.

    Parameters
    ----------
    adsl, adtte : DataFrame
        As in :class:`ensemble_helpers.cohort.Cohort`.
    """
    return {"adsl": _dataset(adsl, ADSL_NAMES, "adsl"), "adtte": _dataset(adtte, ADTTE_NAMES, "adtte")}


def _forbidden_folders(params) -> list[Path]:
    from ensemble_helpers.params import resolve_path

    folders = [resolve_path("reports")]
    if params is not None:
        folders.append(params.output_path())
    return [f.resolve() for f in folders]


def _check_destination(out: Path, params) -> Path:
    out = Path(out).expanduser().resolve()
    for folder in _forbidden_folders(params):
        if out == folder or folder in out.parents:
            raise AdamExportError(
                f"ADaM export to {out}: refused, the folder is under {folder}, where reports are "
                "published; these files hold patient-level data: choose a folder outside it"
            )
    return out


def _owner_only(path: Path) -> None:
    os.chmod(path, 0o600)


def write_adam(adsl: pd.DataFrame, adtte: pd.DataFrame, out_dir: str | Path, params=None) -> AdamFiles:
    """Write ADSL and ADTTE (SAS transport v5 and Parquet) and ``define.csv`` to ``out_dir``.

    Parameters
    ----------
    adsl, adtte : DataFrame
        The analysed population (as in :class:`ensemble_helpers.cohort.Cohort`).
    out_dir : str or Path
        Created owner-only when missing; must not be under the reports folder.
    params : Params, optional
        When given, its ``output_dir`` is refused too.

    Returns
    -------
    AdamFiles

    Raises
    ------
    AdamExportError
        When ``out_dir`` is under the reports folder.
    """
    import pyreadstat

    out = _check_destination(Path(out_dir), params)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    define: list[dict] = []
    paths: dict[str, Path] = {}
    for dataset, (sas, parquet, rows) in adam_frames(adsl, adtte).items():
        xpt = out / f"{dataset}.xpt"
        labels = {r["variable"]: r["label"] for r in rows}
        formats = {r["variable"]: r["sas_format"] for r in rows if r["sas_format"]}
        pyreadstat.write_xport(sas, str(xpt), file_format_version=5, table_name=dataset.upper(),
                               file_label=f"{dataset.upper()} EN-SEMBLE"[:MAX_LABEL],
                               column_labels=labels, variable_format=formats)
        _owner_only(xpt)
        pq = out / f"{dataset}.parquet"
        parquet.to_parquet(pq, index=False)
        _owner_only(pq)
        paths[f"{dataset}_xpt"], paths[f"{dataset}_parquet"] = xpt, pq
        define += rows
    define_path = out / "define.csv"
    pd.DataFrame(define).to_csv(define_path, index=False)
    _owner_only(define_path)
    logger.info("ADaM export: %d subjects, %d ADTTE rows to %s", len(adsl), len(adtte), out)
    return AdamFiles(define=define_path, **paths)


def export_adam(params_file: str | Path, out_dir: str | Path) -> AdamFiles:
    """Load the analysed population of ``params_file`` and write its ADaM export to ``out_dir``.

    Examples
    --------
    >>> export_adam("params/all_patients.yaml", "/secure/adam")  # doctest: +SKIP
    """
    from ensemble_helpers.cohort import load_cohort
    from ensemble_helpers.params import load_params

    params = load_params(params_file)
    _check_destination(Path(out_dir), params)  # before any work
    cohort = load_cohort(params)
    return write_adam(cohort.adsl, cohort.adtte, out_dir, params=params)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m ensemble_helpers.adam --params FILE --out DIR``."""
    parser = argparse.ArgumentParser(prog="python -m ensemble_helpers.adam", description=__doc__.split("\n")[0])
    parser.add_argument("--params", required=True, help="parameter file of the analysed population")
    parser.add_argument("--out", required=True, help="folder for the export (not under reports/)")
    args = parser.parse_args(argv)
    try:
        files = export_adam(args.params, args.out)
    except EnsembleError as exc:
        parser.exit(2, f"error: {exc}\n")
    sys.stdout.write("\n".join(str(p) for p in vars(files).values()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
