"""Endpoint derivation on hand-built patients whose answers are checked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from ensemble_helpers.endpoints import (
    DAYS_PER_MONTH,
    TDXD_RESPONSE_BY_STOP,
    PARAMS,
    analysis_frame,
    derive_adsl,
    derive_adtte,
)
from ensemble_helpers.schema import validate_patients
from factories import patient, patients_frame


def _adtte(*records):
    typed = validate_patients(patients_frame(*records))
    return derive_adtte(typed).set_index(["patient_id", "PARAMCD"])


def test_one_row_per_patient_and_parameter():
    adtte = _adtte(patient(), patient(patient_id="P2"))
    assert len(adtte) == 2 * len(PARAMS)
    assert not adtte.index.duplicated().any()


def test_progression_then_treatment_end_then_next_treatment():
    # next_start 2022-09-15; progression 2023-01-10 (117 days); next_end 2023-01-15 (122);
    # second_next_start 2023-01-20 (127); alive at 2023-09-15 (365).
    a = _adtte(patient())
    assert (a.loc[("P1", "PFS"), "AVALD"], a.loc[("P1", "PFS"), "CNSR"]) == (117, 0)
    assert a.loc[("P1", "PFS"), "EVNTDESC"] == "Progression"
    assert (a.loc[("P1", "TTF"), "AVALD"], a.loc[("P1", "TTF"), "CNSR"]) == (122, 0)
    assert (a.loc[("P1", "TTNT"), "AVALD"], a.loc[("P1", "TTNT"), "CNSR"]) == (127, 0)
    assert (a.loc[("P1", "OS"), "AVALD"], a.loc[("P1", "OS"), "CNSR"]) == (365, 1)
    assert a.loc[("P1", "OS"), "EVNTDESC"] == "Censored at last follow-up"
    assert a.loc[("P1", "PFS"), "AVAL"] == pytest.approx(117 / DAYS_PER_MONTH)
    # T-DXd duration: 2022-01-01 -> 2022-09-01 = 243 days, always an event
    assert (a.loc[("P1", "TDXDDUR"), "AVALD"], a.loc[("P1", "TDXDDUR"), "CNSR"]) == (243, 0)


def test_death_without_progression_is_a_pfs_event():
    a = _adtte(
        patient(
            progression_date=None, next_end="2023-02-01", second_next_start=None,
            death_date="2023-03-01", last_followup="2023-03-01",
        )
    )
    # 2022-09-15 -> 2023-03-01 = 167 days
    assert (a.loc[("P1", "PFS"), "AVALD"], a.loc[("P1", "PFS"), "EVNTDESC"]) == (167, "Death")
    assert (a.loc[("P1", "OS"), "AVALD"], a.loc[("P1", "OS"), "CNSR"]) == (167, 0)
    assert a.loc[("P1", "TTNT"), "EVNTDESC"] == "Death"
    assert a.loc[("P1", "TTF"), "EVNTDESC"] == "Regimen discontinued"  # 2023-02-01 first


def test_ongoing_regimen_is_censored_at_last_followup():
    a = _adtte(patient(next_end=None, progression_date=None, second_next_start=None))
    for param in ("TTF", "TTNT", "PFS", "OS"):
        assert a.loc[("P1", param), "CNSR"] == 1
        assert a.loc[("P1", param), "AVALD"] == 365


def test_same_day_ties():
    # progression and death on the same day: PFS event is progression;
    # regimen end and death on the same day: TTF event is death.
    a = _adtte(
        patient(
            progression_date="2023-01-10", next_end="2023-01-10", second_next_start=None,
            death_date="2023-01-10", last_followup="2023-01-10",
        )
    )
    assert a.loc[("P1", "PFS"), "EVNTDESC"] == "Progression"
    assert a.loc[("P1", "TTF"), "EVNTDESC"] == "Death"
    assert {a.loc[("P1", p), "AVALD"] for p in ("PFS", "TTF", "TTNT", "OS")} == {117}


def test_same_day_event_gives_zero_duration():
    a = _adtte(patient(progression_date="2022-09-15"))
    assert a.loc[("P1", "PFS"), "AVALD"] == 0


def test_ild_recurrence_with_death_competing():
    a = _adtte(
        patient(patient_id="ILD", tdxd_discontinuation_reason="ild", tdxd_ild_grade=2,
                ild_recurrence_date="2022-12-01"),
        patient(patient_id="DEAD", tdxd_discontinuation_reason="ild", tdxd_ild_grade=1,
                next_end="2023-01-15", progression_date=None, second_next_start=None,
                death_date="2023-02-01", last_followup="2023-02-01"),
        patient(patient_id="CENS"),
    )
    assert (a.loc[("ILD", "ILDREC"), "EVENT"], a.loc[("ILD", "ILDREC"), "CNSR"]) == (1, 0)
    assert a.loc[("ILD", "ILDREC"), "AVALD"] == 77  # 2022-09-15 -> 2022-12-01
    assert (a.loc[("DEAD", "ILDREC"), "EVENT"], a.loc[("DEAD", "ILDREC"), "CNSR"]) == (2, 0)
    assert a.loc[("DEAD", "ILDREC"), "EVNTDESC"].startswith("Death")
    assert (a.loc[("CENS", "ILDREC"), "EVENT"], a.loc[("CENS", "ILDREC"), "CNSR"]) == (0, 1)


def test_derive_adsl_groups():
    typed = validate_patients(
        patients_frame(
            patient(patient_id="A", next_class="anti_her2_antibody", next_best_response="CR"),
            patient(patient_id="B", next_class="anti_her2_tki", tdxd_discontinuation_reason="ild",
                    tdxd_ild_grade=3, next_best_response="SD"),
            patient(patient_id="C", next_class="chemotherapy",
                    tdxd_discontinuation_reason="other_adverse_event", next_best_response="PD"),
            patient(patient_id="D", next_class="anti_her2_other", tdxd_discontinuation_reason="other"),
        )
    )
    adsl = derive_adsl(typed).set_index("patient_id")
    assert adsl["anti_her2"].tolist() == [True, True, False, True]
    assert adsl["regimen_group"].astype(str).tolist() == ["antibody", "tki", "non_antibody_tki", "non_antibody_tki"]
    assert adsl["discontinuation_group"].astype(str).tolist() == [
        "progression", "adverse_event", "adverse_event", "other"
    ]
    assert adsl["responder"].tolist() == [True, False, False, False]
    assert adsl["disease_control"].tolist() == [True, True, False, True]


def test_analysis_frame_joins_one_endpoint():
    typed = validate_patients(patients_frame(patient(), patient(patient_id="P2", progression_date=None)))
    adsl = derive_adsl(typed)
    frame = analysis_frame(adsl, derive_adtte(typed), "PFS")
    assert frame["patient_id"].tolist() == ["P1", "P2"]
    assert frame["event"].tolist() == [1, 0]
    with pytest.raises(KeyError, match="unknown PARAMCD"):
        analysis_frame(adsl, derive_adtte(typed), "DFS")


def test_tdxd_response_by_stop_and_ild_grade_group():
    typed = validate_patients(
        patients_frame(
            patient(patient_id="A", tdxd_best_response="CR", tdxd_discontinuation_reason="ild", tdxd_ild_grade=1),
            patient(patient_id="B", tdxd_best_response="PR", tdxd_discontinuation_reason="progression"),
            patient(patient_id="C", tdxd_best_response="SD", tdxd_discontinuation_reason="other_adverse_event"),
            patient(patient_id="D", tdxd_best_response="NE", tdxd_discontinuation_reason="other"),
            patient(patient_id="E", tdxd_best_response="PD", tdxd_discontinuation_reason="ild", tdxd_ild_grade=4),
            patient(patient_id="F", tdxd_best_response="PR", tdxd_discontinuation_reason="ild"),
            patient(patient_id="G", tdxd_best_response="SD", tdxd_discontinuation_reason="ild", tdxd_ild_grade=2),
        )
    )
    adsl = derive_adsl(typed).set_index("patient_id")
    # NE counts as a non-responder (in the denominator, as for an ORR)
    assert adsl["tdxd_responder"].tolist() == [True, True, False, False, False, True, False]
    assert adsl["tdxd_response_by_stop"].astype(str).tolist() == [
        "responder_adverse_event", "responder_progression", "non_responder_adverse_event",
        "non_responder_other", "non_responder_adverse_event", "responder_adverse_event",
        "non_responder_adverse_event",
    ]
    # ILD stops only; grade 4 pooled with 3-5; no grade recorded = unknown
    assert adsl["ild_grade_group"].astype(object).where(adsl["ild_grade_group"].notna(), None).tolist() == [
        "grade_1", None, None, None, "grade_3_5", "grade_unknown", "grade_2",
    ]
    assert list(adsl["tdxd_response_by_stop"].cat.categories) == list(TDXD_RESPONSE_BY_STOP)


def test_tdxd_responder_missing_without_the_column():
    typed = validate_patients(patients_frame(patient(), patient(patient_id="P2", tdxd_discontinuation_reason="ild")))
    assert "tdxd_best_response" not in typed.columns
    adsl = derive_adsl(typed)
    assert adsl["tdxd_responder"].isna().all() and str(adsl["tdxd_responder"].dtype) == "boolean"
    assert adsl["tdxd_response_by_stop"].isna().all()
    assert adsl["ild_grade_group"].astype(object).where(adsl["ild_grade_group"].notna(), None).tolist() == [
        None, "grade_unknown",
    ]


def test_derive_adsl_on_an_empty_table_keeps_the_new_columns():
    adsl = derive_adsl(validate_patients(patients_frame(patient())).iloc[:0])
    assert {"tdxd_responder", "tdxd_response_by_stop", "ild_grade_group"} <= set(adsl.columns)
