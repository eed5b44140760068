"""Analysis datasets in the ADaM vocabulary: ADSL (one row per patient) and ADTTE.

Definitions are written for people in ``docs/endpoints.md``. Every derivation is a vectorised
comparison of date columns (no per-patient Python loop), so a million patients take seconds.

Examples
--------
>>> from ensemble_helpers.synthetic import generate_cohort  # doctest: +SKIP
>>> adtte = derive_adtte(generate_cohort(n=100))  # doctest: +SKIP
>>> sorted(adtte["PARAMCD"].unique())  # doctest: +SKIP
['ILDREC', 'OS', 'PFS', 'TDXDDUR', 'TTF', 'TTNT']
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

#: Days per month used for AVAL (365.25 / 12), as in most oncology reports.
DAYS_PER_MONTH = 30.4375

#: PARAMCD -> PARAM.
PARAMS: Mapping[str, str] = MappingProxyType(
    {
        "TDXDDUR": "T-DXd treatment duration (months)",
        "TTF": "Time to treatment failure of the first post-T-DXd regimen (months)",
        "TTNT": "Time to next treatment after the first post-T-DXd regimen (months)",
        "PFS": "Progression-free survival on the first post-T-DXd regimen (months)",
        "OS": "Overall survival from the start of the first post-T-DXd regimen (months)",
        "ILDREC": "Time to ILD recurrence/exacerbation, death competing (months)",
    }
)

#: Endpoints of the first post-T-DXd regimen (time zero = next_start).
POST_TDXD_ENDPOINTS = ("TTF", "TTNT", "PFS", "OS")

REGIMEN_GROUPS = ("antibody", "tki", "non_antibody_tki")
DISCONTINUATION_GROUPS = ("progression", "adverse_event", "other")

_REGIMEN_GROUP = {
    "anti_her2_antibody": "antibody",
    "anti_her2_tki": "tki",
}
_DISCONTINUATION_GROUP = {
    "progression": "progression",
    "ild": "adverse_event",
    "other_adverse_event": "adverse_event",
    "other": "other",
}

CENSORED_DESC = "Censored at last follow-up"


def derive_adsl(patients: pd.DataFrame) -> pd.DataFrame:
    """Subject-level analysis dataset: the patient columns plus derived flags.

    Parameters
    ----------
    patients : DataFrame
        Output of :func:`ensemble_helpers.schema.load_patients`.

    Returns
    -------
    DataFrame
        One row per patient with, in addition:

        - ``anti_her2`` (bool): the first post-T-DXd regimen contains an anti-HER2 agent
          (``next_class`` is anti_her2_antibody, anti_her2_tki or anti_her2_other);
        - ``regimen_group`` (category antibody / tki / non_antibody_tki);
        - ``discontinuation_group`` (category progression / adverse_event / other), where
          adverse_event is ILD or another adverse event;
        - ``responder`` (CR or PR) and ``disease_control`` (CR, PR or SD), bool;
        - ``ild_recurrence`` (bool): an ILD recurrence/exacerbation date is recorded.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"next_class": ["anti_her2_tki"], "tdxd_discontinuation_reason": ["ild"],
    ...                   "next_best_response": ["PR"], "ild_recurrence_date": [pd.NaT]})
    >>> row = derive_adsl(p).iloc[0]
    >>> row["regimen_group"], row["discontinuation_group"], bool(row["responder"])
    ('tki', 'adverse_event', True)
    """
    adsl = patients.copy()
    next_class = adsl["next_class"].astype(str)
    adsl["anti_her2"] = next_class.str.startswith("anti_her2").to_numpy()
    adsl["regimen_group"] = pd.Categorical(
        next_class.map(_REGIMEN_GROUP).fillna("non_antibody_tki"), categories=list(REGIMEN_GROUPS)
    )
    reason = adsl["tdxd_discontinuation_reason"].astype(str).map(_DISCONTINUATION_GROUP)
    adsl["discontinuation_group"] = pd.Categorical(reason, categories=list(DISCONTINUATION_GROUPS))
    response = adsl["next_best_response"].astype(str)
    adsl["responder"] = response.isin(["CR", "PR"]).to_numpy()
    adsl["disease_control"] = response.isin(["CR", "PR", "SD"]).to_numpy()
    adsl["ild_recurrence"] = adsl["ild_recurrence_date"].notna().to_numpy()
    return adsl


@dataclass(frozen=True)
class _Event:
    """One kind of event that ends an endpoint: the date column and how it is described."""

    column: str
    desc: str
    code: int = 1  # 1 = event of interest, 2 = competing event


# Order matters: when two events fall on the same day the first listed wins (docs/endpoints.md).
_DEFINITIONS: Mapping[str, tuple[_Event, ...]] = MappingProxyType(
    {
        "TTF": (_Event("death_date", "Death"), _Event("next_end", "Regimen discontinued")),
        "TTNT": (_Event("death_date", "Death"), _Event("second_next_start", "Next treatment started")),
        "PFS": (_Event("progression_date", "Progression"), _Event("death_date", "Death")),
        "OS": (_Event("death_date", "Death"),),
        "ILDREC": (
            _Event("ild_recurrence_date", "ILD recurrence/exacerbation"),
            _Event("death_date", "Death (competing event)", code=2),
        ),
    }
)


def _first_event(patients: pd.DataFrame, events: tuple[_Event, ...]) -> pd.DataFrame:
    """Earliest event date per patient, its description and code; censored at last_followup."""
    n = len(patients)
    adt = patients["last_followup"].to_numpy(dtype="datetime64[ns]").copy()
    best = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    desc = np.full(n, CENSORED_DESC, dtype=object)
    code = np.zeros(n, dtype=np.int8)
    for ev in events:
        date = patients[ev.column].to_numpy(dtype="datetime64[ns]")
        # strictly earlier than the best so far: ties keep the earlier-listed event
        take = ~np.isnat(date) & (np.isnat(best) | (date < best))
        best = np.where(take, date, best)
        desc = np.where(take, ev.desc, desc)
        code = np.where(take, ev.code, code)
    has_event = ~np.isnat(best)
    adt = np.where(has_event, best, adt)
    return pd.DataFrame({"ADT": adt, "EVNTDESC": desc, "EVENT": code, "CNSR": (~has_event).astype(np.int8)})


def derive_adtte(patients: pd.DataFrame) -> pd.DataFrame:
    """Time-to-event analysis dataset: one row per patient and parameter.

    Parameters
    ----------
    patients : DataFrame
        Output of :func:`ensemble_helpers.schema.load_patients` (typed dates).

    Returns
    -------
    DataFrame
        Columns ``patient_id``, ``PARAMCD``, ``PARAM``, ``STARTDT``, ``ADT``, ``AVAL`` (months =
        days / 30.4375), ``AVALD`` (days), ``CNSR`` (0 event, 1 censored), ``EVNTDESC`` and
        ``EVENT`` (0 censored, 1 event of interest, 2 competing event: death for ILDREC).
        Parameters TDXDDUR, TTF, TTNT, PFS, OS, ILDREC (see ``docs/endpoints.md``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.to_datetime
    >>> p = pd.DataFrame({"patient_id": ["P1"], "tdxd_start": d(["2022-01-01"]),
    ...     "tdxd_end": d(["2022-07-01"]), "tdxd_discontinuation_reason": ["progression"],
    ...     "next_start": d(["2022-07-15"]), "next_end": d(["2022-11-01"]),
    ...     "progression_date": d(["2022-10-20"]), "second_next_start": [pd.NaT],
    ...     "death_date": [pd.NaT], "last_followup": d(["2023-03-01"]),
    ...     "ild_recurrence_date": [pd.NaT]})
    >>> pfs = derive_adtte(p).set_index("PARAMCD").loc["PFS"]
    >>> int(pfs["AVALD"]), int(pfs["CNSR"]), pfs["EVNTDESC"]
    (97, 0, 'Progression')
    """
    pieces = [_tdxd_duration(patients)]
    start = patients["next_start"].to_numpy(dtype="datetime64[ns]")
    for paramcd, events in _DEFINITIONS.items():
        piece = _first_event(patients, events)
        piece.insert(0, "STARTDT", start)
        piece.insert(0, "PARAMCD", paramcd)
        piece.insert(0, "patient_id", patients["patient_id"].to_numpy())
        pieces.append(piece)
    adtte = pd.concat(pieces, ignore_index=True)
    adtte["PARAMCD"] = pd.Categorical(adtte["PARAMCD"], categories=list(PARAMS))
    adtte.insert(2, "PARAM", adtte["PARAMCD"].map(PARAMS).astype("category"))
    days = (adtte["ADT"] - adtte["STARTDT"]).dt.days.astype("int64")
    adtte["AVALD"] = days
    adtte["AVAL"] = days / DAYS_PER_MONTH
    return adtte[
        ["patient_id", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "AVALD", "CNSR", "EVNTDESC", "EVENT"]
    ]


def _tdxd_duration(patients: pd.DataFrame) -> pd.DataFrame:
    n = len(patients)
    reason = patients["tdxd_discontinuation_reason"].astype(str).to_numpy()
    return pd.DataFrame(
        {
            "patient_id": patients["patient_id"].to_numpy(),
            "PARAMCD": "TDXDDUR",
            "STARTDT": patients["tdxd_start"].to_numpy(dtype="datetime64[ns]"),
            "ADT": patients["tdxd_end"].to_numpy(dtype="datetime64[ns]"),
            "EVNTDESC": np.char.add("T-DXd stopped: ", reason.astype(str)).astype(object),
            "EVENT": np.ones(n, dtype=np.int8),
            "CNSR": np.zeros(n, dtype=np.int8),
        }
    )


def analysis_frame(adsl: pd.DataFrame, adtte: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    """One endpoint joined to the subject-level variables, ready for :mod:`ensemble_helpers.stats`.

    Parameters
    ----------
    adsl : DataFrame
        Output of :func:`derive_adsl`.
    adtte : DataFrame
        Output of :func:`derive_adtte`.
    paramcd : str
        One of :data:`PARAMS`.

    Returns
    -------
    DataFrame
        ADSL columns plus ``AVAL``, ``AVALD``, ``CNSR``, ``EVENT`` and ``event`` (int, 1 when
        ``CNSR == 0``), one row per ADSL patient, in ADSL order.

    Raises
    ------
    KeyError
        When ``paramcd`` is unknown.
    """
    if paramcd not in PARAMS:
        raise KeyError(f"unknown PARAMCD {paramcd!r}; expected one of {', '.join(PARAMS)}")
    sub = adtte.loc[adtte["PARAMCD"] == paramcd]
    ids = adsl["patient_id"].to_numpy()
    sub_ids = sub["patient_id"].to_numpy()
    # derive_adtte writes each parameter in ADSL order: then rows align and no join is needed
    # (a pandas merge on string ids was most of the time of a KM summary at n = 100,000)
    if len(sub_ids) == len(ids) and (sub_ids == ids).all():
        pos = np.arange(len(ids))
    else:
        index = pd.Index(sub_ids)
        if not index.is_unique:
            raise ValueError(f"ADTTE has several {paramcd} rows for one patient")
        pos = index.get_indexer(ids)
        if (pos < 0).any():
            missing = ids[pos < 0][:10].tolist()
            raise ValueError(f"ADTTE has no {paramcd} row for patient(s) {missing}")
    out = adsl.copy(deep=False)
    for col in ("AVAL", "AVALD", "CNSR", "EVENT"):
        out[col] = sub[col].to_numpy()[pos]
    out["event"] = (out["CNSR"].to_numpy() == 0).astype(int)
    return out
