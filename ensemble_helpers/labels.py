"""Display labels for coded values: the one place where a code becomes words.

Tables, figures and notebooks call :func:`label` so that a group is named the
same way everywhere (and keeps the same colour, see :mod:`ensemble_helpers.plots`).
"""

from __future__ import annotations

import re

from types import MappingProxyType
from typing import Any, Mapping

#: Human-readable labels for the coded values of the data contract and ADTTE.
LABELS: Mapping[str, str] = MappingProxyType(
    {
        # first post-T-DXd regimen class (next_class)
        "anti_her2_antibody": "Anti-HER2 antibody",
        "anti_her2_tki": "Anti-HER2 TKI",
        "anti_her2_other": "Other anti-HER2",
        "chemotherapy": "Chemotherapy",
        "endocrine": "Endocrine",
        "other": "Other",
        # regimen group used in subgroup analyses (derive_adsl: regimen_group)
        "antibody": "Anti-HER2 antibody",
        "tki": "Anti-HER2 TKI",
        "non_antibody_tki": "Other regimen",
        # T-DXd discontinuation (tdxd_discontinuation_reason / discontinuation_group)
        "progression": "Progression",
        "ild": "ILD",
        "other_adverse_event": "Other adverse event",
        "adverse_event": "Adverse event",
        # hormone receptor
        "positive": "Positive",
        "negative": "Negative",
        # endpoints (PARAMCD)
        "TDXDDUR": "T-DXd duration",
        "TTF": "Time to treatment failure",
        "TTNT": "Time to next treatment",
        "PFS": "Progression-free survival",
        "OS": "Overall survival",
        "ILDREC": "ILD recurrence/exacerbation",
        # baseline variables
        "age": "Age, years",
        "ecog": "ECOG performance status",
        "hormone_receptor": "Hormone receptor",
        "visceral_metastasis": "Visceral metastasis",
        "brain_metastasis": "Brain metastasis",
        "prior_lines": "Prior lines for metastatic disease",
        "prior_trastuzumab": "Prior trastuzumab",
        "prior_pertuzumab": "Prior pertuzumab",
        "prior_tdm1": "Prior T-DM1",
        "tdxd_best_response": "Best response to T-DXd",
        "tdxd_ild_grade": "ILD grade (T-DXd stopped for ILD)",
        "next_class": "First post-T-DXd regimen",
        "regimen_group": "Regimen class",
        "tdxd_discontinuation_reason": "Reason for stopping T-DXd",
        "discontinuation_group": "Reason T-DXd was stopped",
        "anti_her2": "Any anti-HER2 therapy",
        "tdxd_responder": "Responded to T-DXd (CR or PR)",
        "tdxd_response_by_stop": "Response to T-DXd and reason it was stopped",
        "ild_grade_group": "ILD grade (T-DXd stopped for ILD)",
        # tdxd_response_by_stop levels
        "responder_adverse_event": "Responder, stopped for adverse event",
        "responder_progression": "Responder, stopped for progression",
        "responder_other": "Responder, stopped for other reason",
        "non_responder_adverse_event": "Non-responder, stopped for adverse event",
        "non_responder_progression": "Non-responder, stopped for progression",
        "non_responder_other": "Non-responder, stopped for other reason",
        # ild_grade_group levels
        "grade_1": "Grade 1",
        "grade_2": "Grade 2",
        "grade_3_5": "Grade 3-5",
        "grade_unknown": "Grade unknown",
        # re-treatment of the ILD stops (clinical.RETREATMENT)
        "anti_her2_retreatment": "Anti-HER2 re-treatment",
        "anti_her2_next": "Anti-HER2 next",
        "no_anti_her2_next": "No anti-HER2 next",
        "Overall": "Overall",
    }
)


def label(code: Any) -> str:
    """Return the display label of a coded value.

    Parameters
    ----------
    code : Any
        A category code, PARAMCD or column name. Booleans become "Yes"/"No".

    Returns
    -------
    str
        The label, or ``str(code)`` when the code has none.

    Examples
    --------
    >>> label("anti_her2_tki")
    'Anti-HER2 TKI'
    >>> label(True)
    'Yes'
    >>> label("ecog_group")  # a derived variable of a parameter file: its name spelt out
    'ECOG group'
    """
    if isinstance(code, bool):
        return "Yes" if code else "No"
    text = str(code)
    if text in LABELS:
        return LABELS[text]
    return _spelt_out(text) if _SNAKE_CASE.fullmatch(text) else text


#: Words kept in their own spelling when a column name without a label is spelt out.
_WORDS = {"ecog": "ECOG", "ild": "ILD", "her2": "HER2", "tdxd": "T-DXd", "pfs": "PFS", "os": "OS",
          "ttf": "TTF", "ttnt": "TTNT", "orr": "ORR", "hr": "HR", "tki": "TKI", "bmi": "BMI", "id": "ID"}
#: A column name (``age_group``): lower-case words joined by underscores.
_SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


def _spelt_out(name: str) -> str:
    """``age_group`` -> ``Age group``: derived variables (named in a parameter file) read as
    words in tables and figures, not as code."""
    words = [_WORDS.get(w, w) for w in name.split("_")]
    if words[0] == name.split("_")[0]:
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def in_sentence(code: Any) -> str:
    """The label of ``code`` as it reads inside a sentence ("PFS by regimen class").

    The first letter is lowercased unless the label opens with an acronym or a symbol
    (ECOG, ILD, T-DXd, HER2 keep their capitals).

    Examples
    --------
    >>> in_sentence("regimen_group")
    'regimen class'
    >>> in_sentence("ecog")
    'ECOG performance status'
    >>> in_sentence("TDXDDUR")
    'T-DXd duration'
    """
    text = label(code)
    if len(text) >= 2 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text
