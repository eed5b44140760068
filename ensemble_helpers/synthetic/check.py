"""Generated vs targeted: every calibrated figure of a synthetic cohort beside its published value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ensemble_helpers.endpoints import DAYS_PER_MONTH
from ensemble_helpers.synthetic.model import Targets

#: Convergence tolerances at n = 200,000 (tests/test_synthetic.py): relative for medians,
#: absolute for proportions, months for the follow-up range.
MEDIAN_TOLERANCE = 0.03
PROPORTION_TOLERANCE = 0.005
RANGE_TOLERANCE_MONTHS = 1.0

_ANTI_HER2 = ("anti_her2_antibody", "anti_her2_tki", "anti_her2_other")

#: Kaplan–Meier medians: key -> (PARAMCD, ADSL column, level) (None = whole cohort).
_KM_MEDIANS: dict[str, tuple[str, str | None, str | None]] = {
    "tdxd_duration": ("TDXDDUR", None, None),
    "ttf": ("TTF", None, None),
    "ttnt": ("TTNT", None, None),
    "pfs": ("PFS", None, None),
    "os": ("OS", None, None),
    "pfs_antibody": ("PFS", "regimen_group", "antibody"),
    "pfs_tki": ("PFS", "regimen_group", "tki"),
    "os_antibody": ("OS", "regimen_group", "antibody"),
    "os_tki": ("OS", "regimen_group", "tki"),
    "pfs_progression": ("PFS", "discontinuation_group", "progression"),
    "pfs_adverse_event": ("PFS", "discontinuation_group", "adverse_event"),
}


def _km_median(time: np.ndarray, event: np.ndarray) -> float:
    from ensemble_helpers import stats

    return float(stats.km_summary(time, event)["median"].iloc[0])


def calibration_table(patients: pd.DataFrame, targets: Targets | None = None) -> pd.DataFrame:
    """Each calibration target beside the value in ``patients`` (a :func:`generate_cohort` output).

    Parameters
    ----------
    patients : DataFrame
        A synthetic cohort (data-contract columns plus the optional ones).
    targets : Targets, optional
        Default: the published figures.

    Returns
    -------
    DataFrame
        ``key``, ``kind`` (``median``, ``proportion`` or ``range``), ``target``, ``generated``,
        ``tolerance`` (relative for medians, absolute otherwise) and ``within`` (bool).
        Medians of time-to-event endpoints are Kaplan–Meier medians; the baseline medians and
        the observed follow-up (months from ``next_start`` to death or last contact) are plain.
    """
    from ensemble_helpers.endpoints import derive_adsl, derive_adtte

    t = targets or Targets.from_published()
    adsl = derive_adsl(patients)
    adtte = derive_adtte(patients)
    rows: list[tuple[str, str, float, float]] = []
    for key, (paramcd, column, level) in _KM_MEDIANS.items():
        frame = adtte[adtte["PARAMCD"] == paramcd]
        if column is not None:
            ids = adsl.loc[adsl[column] == level, "patient_id"]
            frame = frame[frame["patient_id"].isin(ids)]
        rows.append((key, "median", getattr(t, key),
                     _km_median(frame["AVAL"].to_numpy(), (frame["CNSR"] == 0).to_numpy())))
    followup = (patients["last_followup"] - patients["next_start"]).dt.days.to_numpy() / DAYS_PER_MONTH
    rows += [
        ("followup", "median", t.followup, float(np.median(followup))),
        ("age", "median", t.age, float(patients["age"].median())),
        ("prior_lines", "median", t.prior_lines, float(patients["prior_lines"].median())),
        ("followup_min", "range", t.followup_min, float(followup.min())),
        ("followup_max", "range", t.followup_max, float(followup.max())),
    ]
    measurable = adsl[adsl["measurable_disease"]]
    ild = patients["tdxd_discontinuation_reason"] == "ild"
    reason = patients["tdxd_discontinuation_reason"].value_counts(normalize=True)
    klass = patients["next_class"].value_counts(normalize=True)
    grade = patients.loc[ild, "tdxd_ild_grade"]
    proportions = {
        "orr": measurable["responder"].mean(),
        "ild_recurrence": patients["ild_recurrence_date"].notna().mean(),
        "ild_recurrence_ild_stop": patients.loc[ild, "ild_recurrence_date"].notna().mean(),
        "anti_her2": adsl["anti_her2"].mean(),
        "anti_her2_ild": patients.loc[ild, "next_class"].isin(_ANTI_HER2).mean(),
        "antibody": klass["anti_her2_antibody"],
        "tki": klass["anti_her2_tki"],
        "stop_progression": reason["progression"],
        "stop_ild": reason["ild"],
        "stop_other_ae": reason["other_adverse_event"],
        "ecog_0_1": patients["ecog"].isin([0, 1]).mean(),
        "visceral": patients["visceral_metastasis"].mean(),
        "brain": patients["brain_metastasis"].mean(),
        "prior_trastuzumab": patients["prior_trastuzumab"].mean(),
        "prior_pertuzumab": patients["prior_pertuzumab"].mean(),
        "prior_tdm1": patients["prior_tdm1"].mean(),
        "ild_grade_1": (grade == 1).fillna(False).mean(),
        "ild_grade_2": (grade == 2).fillna(False).mean(),
        "ild_grade_3": (grade == 3).fillna(False).mean(),
    }
    rows += [(k, "proportion", getattr(t, k), float(v)) for k, v in proportions.items()]
    out = pd.DataFrame(rows, columns=["key", "kind", "target", "generated"])
    tol = {"median": MEDIAN_TOLERANCE, "proportion": PROPORTION_TOLERANCE, "range": RANGE_TOLERANCE_MONTHS}
    out["tolerance"] = out["kind"].map(tol)
    diff = np.where(out["kind"] == "median", out["generated"] / out["target"] - 1, out["generated"] - out["target"])
    out["within"] = np.abs(diff) <= out["tolerance"]
    return out
