"""ADaM export: ADSL/ADTTE as SAS transport v5 and Parquet, read back by pyreadstat and pandas."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ensemble_helpers.adam import AdamExportError, export_adam, main
from ensemble_helpers.params import resolve_path
from ensemble_helpers.synthetic import generate_cohort, write_cohort

SAS_EPOCH = pd.Timestamp("1960-01-01")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adam")
    data = folder / "cohort.parquet"
    write_cohort(generate_cohort(n=80, n_sites=5, seed=5), data)
    params = folder / "p.yaml"
    params.write_text(yaml.safe_dump({"title": "ADaM test", "data_path": str(data),
                                      "filters": {"regimen_group": ["antibody", "tki"]}}))
    out = folder / "export"
    files = export_adam(params, out)
    from ensemble_helpers.cohort import load_cohort
    from ensemble_helpers.params import load_params

    return files, load_cohort(load_params(params)), out, params


def test_names_labels_and_define(exported):
    files, cohort, out, _ = exported
    import pyreadstat

    define = pd.read_csv(files.define, keep_default_na=False)
    for dataset, path in (("ADSL", files.adsl_xpt), ("ADTTE", files.adtte_xpt)):
        frame, meta = pyreadstat.read_xport(str(path))
        assert meta.table_name == dataset
        assert all(len(c) <= 8 for c in frame.columns)
        assert all(len(meta.column_names_to_labels[c]) <= 40 for c in frame.columns)
        rows = define[define["dataset"] == dataset]
        assert list(rows["variable"]) == list(frame.columns)
        assert set(rows["type"]) <= {"Num", "Char"}
    assert len(pd.read_parquet(files.adsl_parquet)) == len(cohort.adsl)  # the analysed population only
    assert len(cohort.adsl) < 80


def _back(frame: pd.DataFrame, define: pd.DataFrame, dataset: str, sas_dates_as_days: bool) -> pd.DataFrame:
    out = frame.copy()
    for _, row in define[define["dataset"] == dataset].iterrows():
        col = out[row["variable"]]
        if row["sas_format"] == "DATE9.":
            out[row["variable"]] = (SAS_EPOCH + pd.to_timedelta(col, unit="D")) if sas_dates_as_days \
                else pd.to_datetime(col)
        elif row["type"] == "Char":
            out[row["variable"]] = col.map(lambda v: v.decode() if isinstance(v, bytes) else v)
    return out


@pytest.mark.parametrize("reader", ["pyreadstat", "pandas"])
def test_xpt_reads_back_the_same_values(exported, reader):
    files, cohort, _, _ = exported
    import pyreadstat

    define = pd.read_csv(files.define, keep_default_na=False)
    for dataset, path, source in (("ADSL", files.adsl_xpt, cohort.adsl), ("ADTTE", files.adtte_xpt, cohort.adtte)):
        if reader == "pyreadstat":
            frame, _ = pyreadstat.read_xport(str(path))
        else:
            frame = pd.read_sas(path, format="xport")
        back = _back(frame, define, dataset, sas_dates_as_days=(reader == "pandas"))
        for _, row in define[define["dataset"] == dataset].iterrows():
            got = back[row["variable"]]
            if not row["source"]:
                assert (got == "ENSEMBLE").all()
                continue
            want = source[row["source"]].reset_index(drop=True)
            if row["sas_format"] == "DATE9.":
                pd.testing.assert_series_equal(pd.to_datetime(got).rename(None), want.rename(None),
                                               check_dtype=False, check_names=False)
            elif row["type"] == "Char":
                expected = want.astype(object).where(want.notna(), "")
                assert got.fillna("").tolist() == expected.tolist(), row["variable"]
            else:
                # pandas.read_sas decodes a stored 0 as 16**-64 (IBM float quirk): compare to 1e-12
                np.testing.assert_allclose(got.to_numpy(float), want.astype("float64").to_numpy(),
                                           rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=row["variable"])


def test_parquet_holds_the_same_values(exported):
    files, cohort, _, _ = exported
    adtte = pd.read_parquet(files.adtte_parquet)
    np.testing.assert_array_equal(adtte["AVALD"].to_numpy(), cohort.adtte["AVALD"].to_numpy())
    assert adtte["USUBJID"].tolist() == cohort.adtte["patient_id"].tolist()


def test_owner_only_permissions(exported):
    files, _, out, _ = exported
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for path in vars(files).values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_refuses_the_reports_folders(exported, tmp_path):
    _, _, _, params = exported
    for target in (resolve_path("reports") / "adam", resolve_path("reports")):
        with pytest.raises(AdamExportError, match="patient-level"):
            export_adam(params, target)
    assert not (resolve_path("reports") / "adam").exists()


def test_command_line(exported, tmp_path):
    _, cohort, _, params = exported
    out = tmp_path / "cli"
    assert main(["--params", str(params), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["adsl.parquet", "adsl.xpt", "adtte.parquet", "adtte.xpt",
                                                     "define.csv"]
    done = subprocess.run([sys.executable, "-m", "ensemble_helpers.adam", "--params", str(params),
                           "--out", str(resolve_path("reports") / "adam")], capture_output=True, text=True)
    assert done.returncode == 2 and "patient-level" in done.stderr
