"""What the analysed population lets the report show (issue 14.1).

A filtered population (``params/tki.yaml``, ``stopped_for_progression.yaml``, ...) makes some
variables constant and some levels empty. The report then says so instead of showing tables of
zeros:

* a variable that is constant in the population (fewer than two levels with patients) is not a
  subgroup, not a Table 1 split and not a forest-plot variable (:func:`subgroup_variables`,
  :func:`table_one_split`, :func:`subgroup_applies`);
* levels without patients are dropped from every table (:func:`drop_empty_levels`; unused
  categories are removed from ADSL once, at the start of a report) with one line saying which
  (:func:`empty_levels_note`);
* a section whose analysis does not apply says so in one sentence (:func:`ild_applies`,
  :func:`response_applies`): ILD recurrence when nobody stopped T-DXd for ILD, response when no
  patient has measurable disease.

Every decision is an :class:`Applicability` (``applies`` and the sentence to show when it does
not), so notebooks show either the section or the sentence. :func:`sections_left_out` lists what
a population leaves out.

Examples
--------
>>> import pandas as pd
>>> adsl = pd.DataFrame({"regimen_group": pd.Categorical(["tki", "tki"], categories=["antibody", "tki"]),
...                      "hormone_receptor": ["positive", "negative"]})
>>> subgroup_variables(adsl, ["regimen_group", "hormone_receptor"])
('hormone_receptor',)
>>> subgroup_applies(adsl, "regimen_group").reason
'Not applicable in this population: every patient has the same regimen class (Anti-HER2 TKI).'
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from ensemble_helpers.labels import label

#: The reason value of the patients who stopped T-DXd for ILD.
ILD_REASON = "ild"


@dataclass(frozen=True)
class Applicability:
    """Whether a section applies to the population, and the sentence shown when it does not.

    Attributes
    ----------
    applies : bool
    detail : str
        Why not, as a clause ("no patient stopped T-DXd for ILD"; "" when the section applies).
    """

    applies: bool
    detail: str = ""

    def __bool__(self) -> bool:
        return self.applies

    @property
    def reason(self) -> str:
        """The sentence shown instead of the section ("" when it applies)."""
        return f"Not applicable in this population: {self.detail}." if self.detail else ""


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return label(value)


def _name(variable: str) -> str:
    text = label(variable)
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def observed_levels(values: pd.Series) -> list[Any]:
    """Levels with at least one patient (missing values not a level), in category order.

    Examples
    --------
    >>> observed_levels(pd.Series(pd.Categorical(["b", "b"], categories=["a", "b", "c"])))
    ['b']
    """
    present = values.dropna()
    if isinstance(values.dtype, pd.CategoricalDtype):
        seen = set(present.unique())
        return [c for c in values.cat.categories if c in seen]
    if pd.api.types.is_bool_dtype(values):
        seen = set(bool(v) for v in present.unique())
        return [v for v in (False, True) if v in seen]
    uniq = list(present.unique())
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=str)


def empty_levels(values: pd.Series) -> list[Any]:
    """Categories of a categorical column without a patient (other columns have none)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return []
    seen = set(values.dropna().unique())
    return [c for c in values.cat.categories if c not in seen]


def is_constant(values: pd.Series) -> bool:
    """Fewer than two levels with patients (a missing value is not a level)."""
    return len(observed_levels(values)) < 2


def subgroup_applies(adsl: pd.DataFrame, variable: str) -> Applicability:
    """A subgroup section by ``variable`` applies when it has two levels with patients.

    Raises
    ------
    KeyError
        ``variable`` is not an ADSL column.
    """
    if variable not in adsl.columns:
        raise KeyError(f"subgroup variable {variable!r} is not an ADSL column")
    levels = observed_levels(adsl[variable])
    if len(levels) >= 2:
        return Applicability(True)
    if not levels:
        return Applicability(False, f"no patient has a value of {_name(variable)}")
    return Applicability(False, f"every patient has the same {_name(variable)} ({_text(levels[0])})")


def subgroup_variables(adsl: pd.DataFrame, candidates: Iterable[str], exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """The ``candidates`` that are subgroups in this population: two levels or more with patients.

    ``exclude`` removes variables too (e.g. the comparison's own variable: it is not a subgroup
    of itself).
    """
    skip = set(exclude)
    return tuple(v for v in candidates if v not in skip and subgroup_applies(adsl, v).applies)


def left_out_subgroups(adsl: pd.DataFrame, candidates: Iterable[str], exclude: Iterable[str] = ()) -> dict[str, str]:
    """Candidates that are not subgroups here, with the reason (a clause each)."""
    skip = set(exclude)
    out = {}
    for v in candidates:
        if v in skip:
            out[v] = f"{_name(v)} is the comparison"
            continue
        ok = subgroup_applies(adsl, v)
        if not ok:
            out[v] = ok.detail
    return out


def left_out_note(left: Mapping[str, str], where: str) -> str | None:
    """One sentence: ``"Not in the forest plot: every patient has the same ..."`` (None when
    nothing is left out)."""
    return f"Not in {where}: {'; '.join(left.values())}." if left else None


def table_one_split(adsl: pd.DataFrame, preferred: str) -> str | None:
    """The Table 1 grouping column: ``preferred`` unless it is constant here (then None: the
    Overall column only, which the group column would repeat)."""
    return preferred if subgroup_applies(adsl, preferred).applies else None


def drop_empty_levels(adsl: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[Any]]]:
    """ADSL with the unused categories of every categorical column removed.

    Returns
    -------
    (DataFrame, dict)
        The new ADSL (the input is not changed; the same frame when nothing is dropped) and the
        dropped levels by column.
    """
    dropped = {c: empty_levels(adsl[c]) for c in adsl.columns}
    dropped = {c: lv for c, lv in dropped.items() if lv}
    if not dropped:
        return adsl, {}
    out = adsl.copy()
    for c in dropped:
        out[c] = out[c].cat.remove_unused_categories()
    return out, dropped


def empty_levels_note(dropped: Mapping[str, Sequence[Any]], variables: Iterable[str] | None = None) -> str | None:
    """One line naming the levels without patients, left out of the tables (None when none).

    Only the ``variables`` the report shows are named (all when None); a variable left with no
    level at all is not listed (its section says so itself).

    Examples
    --------
    >>> empty_levels_note({"regimen_group": ["antibody", "non_antibody_tki"]})
    'Not shown, no patient in this population: regimen class Anti-HER2 antibody, Other regimen.'
    """
    shown = None if variables is None else set(variables)
    parts = [f"{_name(v)} {', '.join(_text(lv) for lv in levels)}" for v, levels in dropped.items()
             if levels and (shown is None or v in shown)]
    if not parts:
        return None
    return "Not shown, no patient in this population: " + "; ".join(parts) + "."


def shaped_cohort(cohort: Any) -> tuple[Any, dict[str, list[Any]]]:
    """The cohort with the empty levels of its ADSL dropped (:func:`drop_empty_levels`).

    Returns
    -------
    (Cohort, dict)
        A new :class:`~ensemble_helpers.cohort.Cohort` (ADTTE is unchanged: endpoints take the
        subject variables from ADSL) and the dropped levels by column.
    """
    adsl, dropped = drop_empty_levels(cohort.adsl)
    if not dropped:
        return cohort, {}
    return replace(cohort, adsl=adsl, dropped_levels={c: tuple(v) for c, v in dropped.items()}), dropped


def ild_applies(adsl: pd.DataFrame) -> Applicability:
    """ILD sections (grades, recurrence) apply when a patient stopped T-DXd for ILD."""
    if (adsl["tdxd_discontinuation_reason"] == ILD_REASON).any():
        return Applicability(True)
    return Applicability(False, "no patient stopped T-DXd for ILD")


def response_applies(adsl: pd.DataFrame, measurable: str = "measurable_disease") -> Applicability:
    """Response sections apply when a patient has measurable disease (the denominator)."""
    if adsl[measurable].astype("boolean").fillna(False).to_numpy(dtype=bool).any():
        return Applicability(True)
    return Applicability(False, "no patient has measurable disease")


def sections_left_out(adsl: pd.DataFrame, subgroups: Iterable[str], headline: Iterable[str] = ()) -> list[str]:
    """What a population leaves out of the report, one sentence each (for its summary).

    Parameters
    ----------
    adsl : DataFrame
    subgroups : iterable of str
        The parameter file's subgroup variables (forest plot, response by subgroup).
    headline : iterable of str
        Variables with their own subgroup section (regimen group, reason T-DXd was stopped).
    """
    out = []
    for v in dict.fromkeys([*headline, *subgroups]):
        ok = subgroup_applies(adsl, v)
        if not ok:
            out.append(f"{label(v)}: {ok.detail}")
    for name, ok in (("ILD grade and recurrence", ild_applies(adsl)), ("Response", response_applies(adsl))):
        if not ok:
            out.append(f"{name}: {ok.detail}")
    return out
