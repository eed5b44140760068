"""Hand-built patients for tests: one valid patient, changed field by field."""

from __future__ import annotations

from typing import Any

import pandas as pd

BASE: dict[str, Any] = {
    "patient_id": "P1",
    "site_id": "S1",
    "age": 60.0,
    "ecog": 1,
    "hormone_receptor": "positive",
    "visceral_metastasis": True,
    "brain_metastasis": False,
    "prior_lines": 2,
    "tdxd_start": "2022-01-01",
    "tdxd_end": "2022-09-01",
    "tdxd_discontinuation_reason": "progression",
    "tdxd_ild_grade": None,
    "next_start": "2022-09-15",
    "next_class": "anti_her2_antibody",
    "next_regimen": "trastuzumab + pertuzumab + eribulin",
    "next_end": "2023-01-15",
    "next_best_response": "SD",
    "measurable_disease": True,
    "progression_date": "2023-01-10",
    "second_next_start": "2023-01-20",
    "death_date": None,
    "last_followup": "2023-09-15",
    "ild_recurrence_date": None,
}


def patient(**changes: Any) -> dict[str, Any]:
    """One patient record (text values, as read from a CSV) with ``changes`` applied."""
    rec = dict(BASE)
    rec.update(changes)
    return rec


def patients_frame(*records: dict[str, Any]) -> pd.DataFrame:
    """A raw (text) patient table like ``pd.read_csv(dtype=str)`` would return."""
    df = pd.DataFrame(list(records))
    return df.astype(object).where(df.notna(), None).map(
        lambda v: None if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
    )


def write_csv(tmp_path, *records: dict[str, Any], name: str = "patients.csv"):
    """Write records to a CSV in ``tmp_path`` and return its path."""
    path = tmp_path / name
    pd.DataFrame(list(records)).to_csv(path, index=False)
    return path
