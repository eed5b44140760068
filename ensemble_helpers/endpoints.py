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

#: Best response to T-DXd (optional contract column ``tdxd_best_response``) counted as a response.
TDXD_RESPONSES = ("CR", "PR")

#: Levels of ``tdxd_response_by_stop``: T-DXd responder or not x why T-DXd was stopped.
TDXD_RESPONSE_BY_STOP = tuple(
    f"{resp}_{stop}" for resp in ("responder", "non_responder") for stop in DISCONTINUATION_GROUPS
)

#: Levels of ``ild_grade_group`` (patients who stopped T-DXd for ILD): grades 3, 4 and 5 pooled.
ILD_GRADE_GROUPS = ("grade_1", "grade_2", "grade_3_5", "grade_unknown")

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
        - ``ild_recurrence`` (bool): an ILD recurrence/exacerbation date is recorded;
        - ``tdxd_responder`` (nullable boolean): best response to T-DXd CR or PR; SD, PD and NE
          are non-responders (NE counted in the denominator, as an ORR is); missing (``<NA>``)
          for every patient when the data file has no ``tdxd_best_response`` column;
        - ``tdxd_response_by_stop`` (category, :data:`TDXD_RESPONSE_BY_STOP`): responder or
          non_responder x ``discontinuation_group``, e.g. ``responder_adverse_event``; missing
          where ``tdxd_responder`` is missing;
        - ``ild_grade_group`` (category, :data:`ILD_GRADE_GROUPS`) for patients who stopped T-DXd
          for ILD: grade 1, grade 2, grade 3-5, grade unknown (``tdxd_ild_grade`` missing);
          missing for every other reason.

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
    # isin/map work on the categories, not on a million strings
    next_class = adsl["next_class"]
    adsl["anti_her2"] = next_class.isin(["anti_her2_antibody", "anti_her2_tki", "anti_her2_other"]).to_numpy()
    group = next_class.map(_REGIMEN_GROUP)
    adsl["regimen_group"] = pd.Categorical(
        group.astype(object).where(group.notna(), "non_antibody_tki"), categories=list(REGIMEN_GROUPS)
    )
    reason = adsl["tdxd_discontinuation_reason"].map(_DISCONTINUATION_GROUP)
    adsl["discontinuation_group"] = pd.Categorical(reason, categories=list(DISCONTINUATION_GROUPS))
    response = adsl["next_best_response"]
    adsl["responder"] = response.isin(["CR", "PR"]).to_numpy()
    adsl["disease_control"] = response.isin(["CR", "PR", "SD"]).to_numpy()
    adsl["ild_recurrence"] = adsl["ild_recurrence_date"].notna().to_numpy()
    adsl["tdxd_responder"] = _tdxd_responder(adsl)
    responder = adsl["tdxd_responder"]
    combined = np.where(responder.fillna(False).to_numpy(dtype=bool), "responder_", "non_responder_").astype(object)
    combined = combined + reason.astype(object).fillna("").to_numpy()
    adsl["tdxd_response_by_stop"] = pd.Categorical(
        np.where(responder.isna().to_numpy() | reason.isna().to_numpy(), None, combined),
        categories=list(TDXD_RESPONSE_BY_STOP),
    )
    adsl["ild_grade_group"] = _ild_grade_group(adsl)
    return adsl


def _tdxd_responder(adsl: pd.DataFrame) -> pd.Series:
    """CR or PR on T-DXd as a nullable boolean; all missing without ``tdxd_best_response``."""
    if "tdxd_best_response" not in adsl.columns:
        return pd.Series(pd.array([pd.NA] * len(adsl), dtype="boolean"), index=adsl.index)
    best = adsl["tdxd_best_response"]
    flag = pd.array(best.isin(list(TDXD_RESPONSES)).to_numpy(), dtype="boolean")
    flag[best.isna().to_numpy()] = pd.NA  # not in a validated file; kept missing, never "non-responder"
    return pd.Series(flag, index=adsl.index)


def _ild_grade_group(adsl: pd.DataFrame) -> pd.Categorical:
    """ILD grade group of the patients who stopped T-DXd for ILD (missing for other reasons)."""
    ild = (adsl["tdxd_discontinuation_reason"].astype(object) == "ild").to_numpy()
    if "tdxd_ild_grade" not in adsl:  # a frame without grades (e.g. built by hand): grade unknown
        grade = np.full(len(adsl), np.nan)
    else:  # validated by the contract: a whole number 1-5 or missing
        grade = pd.to_numeric(adsl["tdxd_ild_grade"]).to_numpy(dtype=float, na_value=np.nan)
    group = np.select(
        [np.isnan(grade), grade == 1, grade == 2, grade >= 3],
        ["grade_unknown", "grade_1", "grade_2", "grade_3_5"],
        default="grade_unknown",
    ).astype(object)
    return pd.Categorical(np.where(ild, group, None), categories=list(ILD_GRADE_GROUPS))


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


def _first_event(patients: pd.DataFrame, events: tuple[_Event, ...]) -> tuple[np.ndarray, ...]:
    """Earliest event date per patient, the index of that event in ``events`` (-1 = censored)
    and its EVENT code; censored patients get ``last_followup``."""
    n = len(patients)
    best = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    which = np.full(n, -1, dtype=np.int8)
    for i, ev in enumerate(events):
        date = patients[ev.column].to_numpy(dtype="datetime64[ns]")
        # strictly earlier than the best so far: ties keep the earlier-listed event
        take = ~np.isnat(date) & (np.isnat(best) | (date < best))
        best[take] = date[take]
        which[take] = i
    has_event = which >= 0
    adt = np.where(has_event, best, patients["last_followup"].to_numpy(dtype="datetime64[ns]"))
    codes = np.array([ev.code for ev in events] + [0], dtype=np.int8)
    return adt, which, codes[which]  # which == -1 picks the trailing 0


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
        Parameters TDXDDUR, TTF, TTNT, PFS, OS, ILDREC (see ``docs/endpoints.md``); the rows of
        each parameter are in the order of ``patients``.

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
    n = len(patients)
    # descriptions are stored as a categorical: integer codes into this list
    reasons = [str(r) for r in pd.unique(patients["tdxd_discontinuation_reason"].astype(str))]
    descs = [CENSORED_DESC] + [f"T-DXd stopped: {r}" for r in reasons]
    for events in _DEFINITIONS.values():
        descs += [ev.desc for ev in events if ev.desc not in descs]
    desc_code = {d: i for i, d in enumerate(descs)}

    reason_codes = pd.Categorical(patients["tdxd_discontinuation_reason"].astype(str), categories=reasons).codes
    start = [patients["tdxd_start"].to_numpy(dtype="datetime64[ns]")]
    adt = [patients["tdxd_end"].to_numpy(dtype="datetime64[ns]")]
    desc = [(reason_codes + 1).astype(np.int16)]
    event = [np.ones(n, dtype=np.int8)]
    next_start = patients["next_start"].to_numpy(dtype="datetime64[ns]")
    for events in _DEFINITIONS.values():
        a, which, code = _first_event(patients, events)
        lookup = np.array([desc_code[ev.desc] for ev in events] + [desc_code[CENSORED_DESC]], dtype=np.int16)
        start.append(next_start)
        adt.append(a)
        desc.append(lookup[which])
        event.append(code)
    paramcds = ["TDXDDUR", *_DEFINITIONS]
    param_codes = np.repeat(np.array([list(PARAMS).index(p) for p in paramcds], dtype=np.int8), n)
    startdt, adtv = np.concatenate(start), np.concatenate(adt)
    days = ((adtv - startdt) // np.timedelta64(1, "D")).astype(np.int64)
    eventv = np.concatenate(event)
    cnsr = np.where(eventv == 0, 1, 0).astype(np.int8)
    events_desc = pd.Categorical.from_codes(np.concatenate(desc), categories=descs)
    return pd.DataFrame(
        {
            "patient_id": np.tile(patients["patient_id"].to_numpy(), len(paramcds)),
            "PARAMCD": pd.Categorical.from_codes(param_codes, categories=list(PARAMS)),
            "PARAM": pd.Categorical.from_codes(param_codes, categories=list(PARAMS.values())),
            "STARTDT": startdt,
            "ADT": adtv,
            "AVAL": days / DAYS_PER_MONTH,
            "AVALD": days,
            "CNSR": cnsr,
            "EVNTDESC": events_desc,
            "EVENT": eventv,
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
