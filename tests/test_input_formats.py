"""Every input format meets the same contract: one cohort, six formats, identical frames; and one
broken rule per format gets the same error."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from ensemble_helpers.readers import cell_text, format_of, sniff
from ensemble_helpers.schema import BOOL_COLUMNS, DataContractError, load_patients
from ensemble_helpers.synthetic import generate_cohort

WINDOW = ("2010-01-01", None)  # a non-default date_window: every format honours the setting
R_HAVEN = shutil.which("Rscript") is not None and subprocess.run(
    ["Rscript", "-e", "library(haven)"], capture_output=True).returncode == 0


def _sas_ready(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.date
        elif col in BOOL_COLUMNS:
            out[col] = out[col].astype(int)  # SAS has no booleans: 1/0
        elif isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(str)
        elif str(out[col].dtype) in ("Int64", "int64"):
            out[col] = out[col].astype(float)
    return out


def write_as(df: pd.DataFrame, folder: Path, fmt: str) -> Path:
    """``df`` (typed, as the loader returns it) written in format ``fmt``."""
    path = folder / f"cohort.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False, date_format="%Y-%m-%d")
    elif fmt == "csv.gz":
        path.write_bytes(gzip.compress(df.to_csv(index=False, date_format="%Y-%m-%d").encode()))
    elif fmt == "parquet":
        df.to_parquet(path, index=False)
    elif fmt == "xlsx":
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            pd.DataFrame({"about": ["the patients are on the next sheet"]}).to_excel(writer, sheet_name="readme", index=False)
            df.to_excel(writer, sheet_name="patients", index=False)
    elif fmt == "xpt":
        import pyreadstat

        pyreadstat.write_xport(_sas_ready(df), str(path), file_format_version=8, table_name="PATIENTS")
    elif fmt == "sas7bdat":
        csv = folder / "for_sas.csv"
        df.to_csv(csv, index=False, date_format="%Y-%m-%d")
        script = (
            "suppressMessages(library(haven)); a <- commandArgs(TRUE); d <- read.csv(a[1], na.strings='', "
            "colClasses='character'); for (c in names(d)) { if (grepl('(_start|_end|_date|_followup)$', c)) "
            "d[[c]] <- as.Date(d[[c]]) else if (c %in% c('age','ecog','prior_lines','tdxd_ild_grade')) "
            "d[[c]] <- as.numeric(d[[c]]) }; write_sas(d, a[2])"
        )
        subprocess.run(["Rscript", "-e", script, str(csv), str(path)], check=True, capture_output=True)
    return path


FORMATS = ["csv", "csv.gz", "parquet", "xlsx", "xpt",
           pytest.param("sas7bdat", marks=pytest.mark.skipif(not R_HAVEN, reason="needs R with haven to write .sas7bdat"))]


def _options(fmt: str) -> dict:
    return {"data_sheet": "patients"} if fmt == "xlsx" else {}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("reference")
    generated = generate_cohort(n=40, n_sites=4, seed=11)
    generated.loc[3, "next_regimen"] = "trastuzumab, éribuline ± T-DM1"  # quoting and non-ASCII
    path = folder / "reference.csv"
    generated.to_csv(path, index=False, date_format="%Y-%m-%d")
    return load_patients(path, use_cache=False, date_window=WINDOW)


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_cohort_every_format_identical_frames(cohort: pd.DataFrame, tmp_path: Path, fmt: str) -> None:
    path = write_as(cohort, tmp_path, fmt)
    assert format_of(path) == fmt
    loaded = load_patients(path, use_cache=False, date_window=WINDOW, **_options(fmt))
    pd.testing.assert_frame_equal(loaded, cohort, check_dtype=True, check_exact=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_broken_rule_per_format(cohort: pd.DataFrame, tmp_path: Path, fmt: str) -> None:
    broken = cohort.copy()
    broken.loc[5, "age"] = 150.0
    path = write_as(broken, tmp_path, fmt)
    with pytest.raises(DataContractError) as info:
        load_patients(path, use_cache=False, date_window=WINDOW, **_options(fmt))
    message = str(info.value)
    assert str(path) in message and "between 18 and 110" in message
    assert cohort.loc[5, "patient_id"] in message
    assert len(info.value.violations) == 1


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_the_cache_returns_the_same_frame_for_every_format(cohort, tmp_path, monkeypatch, fmt):
    monkeypatch.setenv("ENSEMBLE_CACHE_DIR", str(tmp_path / "cache"))
    path = write_as(cohort, tmp_path, fmt)
    first = load_patients(path, date_window=WINDOW, **_options(fmt))
    pd.testing.assert_frame_equal(load_patients(path, date_window=WINDOW, **_options(fmt)), first)
    pd.testing.assert_frame_equal(first, cohort)


def test_a_date_window_setting_widens_or_narrows(cohort: pd.DataFrame, tmp_path: Path) -> None:
    path = write_as(cohort, tmp_path, "csv")
    latest = cohort["last_followup"].max().date()
    with pytest.raises(DataContractError, match="outside the plausible window"):
        load_patients(path, use_cache=False, date_window=(WINDOW[0], str(latest - pd.Timedelta(days=1))))
    load_patients(path, use_cache=False, date_window=(WINDOW[0], str(latest)))


@pytest.mark.parametrize(
    "value, text",
    [(None, None), ("", None), (float("nan"), None), (True, "true"), (2.0, "2"), (60.5, "60.5"),
     (pd.Timestamp("2022-01-01").to_pydatetime(), "2022-01-01"),
     (pd.Timestamp("2022-01-01 10:30").to_pydatetime(), "2022-01-01 10:30:00"), (" x ", " x ")],
)
def test_cell_text_is_canonical(value, text):
    assert cell_text(value) == text


def test_sniff_names_the_content():
    assert sniff(b"PK\x03\x04rest") == "zip"
    assert sniff(b"\x1f\x8b\x08") == "gzip"
    assert sniff("a,b\n".encode("utf-16")) == "utf-16"
    assert sniff("a,b\n1,2\n".encode("utf-16-le")) == "utf-16"
    assert sniff(b"PAR1....") == "Parquet"
    assert sniff(b"patient_id,site_id\n") == "text"
