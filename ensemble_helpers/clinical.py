"""The study's own clinical questions (issue 17): response to T-DXd, ILD grade, anti-HER2 after ILD.

One function per analysis of a :class:`~ensemble_helpers.cohort.Cohort`, each returning tidy
DataFrames that :mod:`ensemble_helpers.report` lays out with :mod:`ensemble_helpers.tables` and
:mod:`ensemble_helpers.plots`; the numbers come from :mod:`ensemble_helpers.stats` through
:mod:`ensemble_helpers.analysis`. Definitions and the reference groups: ``docs/clinical.md``.

* PFS and OS by ``tdxd_response_by_stop`` (responder or not x why T-DXd was stopped), hazard
  ratios versus :data:`RESPONSE_REFERENCE` (:func:`survival_by`);
* among the patients who stopped T-DXd for ILD (:func:`ild_stops`): PFS and OS by
  ``ild_grade_group`` versus :data:`ILD_GRADE_REFERENCE`, the share re-treated with an anti-HER2
  regimen (:func:`anti_her2_share`), ILD recurrence by grade and by re-treatment (crude rate with
  an exact CI, :func:`recurrence_rates`; cumulative incidence with death competing,
  :func:`recurrence_incidence`).

Disclosure (``min_cell_size`` = k): no estimate of a group of fewer than k patients is computed
for display -- its Kaplan–Meier row is shown as "too few patients" by
:func:`ensemble_helpers.tables.endpoint_table`, and it is left out of the Cox model and the log-rank
test (:func:`survival_by`); a rate whose numerator or denominator is 1..k-1 is blanked by
:func:`ensemble_helpers.tables.response_table`; a cumulative incidence curve is drawn only for a
group with at least k patients and k recurrences (:func:`drawable_groups`). :func:`withheld` lists
what a section cannot show, for its one sentence.

Examples
--------
>>> import pandas as pd
>>> adsl = pd.DataFrame({"g": ["a"] * 6 + ["b"] * 3, "flag": [True, False] * 3 + [True] * 3})
>>> rate_by(adsl, "flag", "g", measure="x")[["group", "successes", "n"]].values.tolist()
[['Overall', 6, 9], ['a', 3, 6], ['b', 3, 3]]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ensemble_helpers import analysis, populations, stats
from ensemble_helpers.cohort import Cohort
from ensemble_helpers.disclosure import is_suppressed
from ensemble_helpers.labels import label
from ensemble_helpers.results import Results, group_name

#: Reference of the hazard ratios by ``tdxd_response_by_stop``: T-DXd responders who stopped for
#: progression. The study's finding is about responders who stopped for an adverse event; against
#: this group their HR compares the reason for stopping among responders, and the non-responders'
#: HR compares the response among patients who progressed (the largest, most stable group).
RESPONSE_REFERENCE = "responder_progression"

#: Reference of the hazard ratios by ``ild_grade_group``: grade 1 ILD (the study's best outcomes,
#: the largest group).
ILD_GRADE_REFERENCE = "grade_1"

#: Endpoints compared across groups.
ENDPOINTS = ("PFS", "OS")

#: ``measure`` of the rows of :func:`anti_her2_share` and :func:`recurrence_rates`.
ANTI_HER2_MEASURE = "Anti-HER2 regimen after ILD stop"
RECURRENCE_MEASURE = "ILD recurrence"

#: Column :func:`ild_stops` adds: re-treated with an anti-HER2 regimen after the ILD stop or not
#: (``anti_her2`` as a category, so that tables and figures name both groups).
RETREATMENT = "anti_her2_retreatment"
RETREATMENT_LEVELS = ("anti_her2_next", "no_anti_her2_next")

#: The EVENT codes of ILDREC (``endpoints.derive_adtte``): recurrence, death competing.
RECURRENCE, DEATH = 1, 2


@dataclass(frozen=True)
class GroupedSurvival:
    """PFS and OS by one variable, with hazard ratios against a stated reference.

    Attributes
    ----------
    variable : str
        The ADSL grouping column.
    reference : object or None
        The reference level of the hazard ratios (None when fewer than two groups are shown).
    preferred : object
        The reference asked for; differs from ``reference`` when that group has fewer than
        ``min_cell_size`` patients here.
    summaries : DataFrame
        :func:`ensemble_helpers.analysis.survival_summaries` by ``variable`` (``endpoint``,
        ``group``, ``n``, ``events``, ``median`` ... ``rate_<t>_upper``), every group.
    hr : DataFrame
        :func:`ensemble_helpers.analysis.hazard_ratios` rows (``endpoint``, ``level``,
        ``reference``, ``hr``, ``hr_lower``, ``hr_upper``, ``p``, ``n``, ``events``), unadjusted,
        fitted on the shown groups; ``n_excluded`` counts the patients with a value of
        ``variable`` left out because their group is hidden (so the model's N is printed only
        when that is 0 or at least ``min_cell_size``); empty when fewer than two groups are shown.
    logrank : DataFrame
        :func:`ensemble_helpers.stats.logrank` across the shown groups, one row per endpoint.
    ph : DataFrame
        :func:`ensemble_helpers.analysis.ph_tests` of the Cox models.
    shown : tuple
        Groups with at least ``min_cell_size`` patients (the only ones estimated).
    hidden : tuple
        Groups with 1 to ``min_cell_size`` - 1 patients: counted as "<k", never estimated.
    """

    variable: str
    reference: Any
    preferred: Any
    summaries: pd.DataFrame
    hr: pd.DataFrame
    logrank: pd.DataFrame
    ph: pd.DataFrame
    shown: tuple
    hidden: tuple


def group_sizes(adsl: pd.DataFrame, variable: str) -> dict[Any, int]:
    """Patients per observed level of ``variable`` (missing values in no level), in level order."""
    values = adsl[variable]
    return {lvl: int((values == lvl).sum()) for lvl in populations.observed_levels(values)}


def shown_and_hidden(sizes: Mapping[Any, int], min_cell_size: int | None) -> tuple[tuple, tuple]:
    """Split levels into those estimated (>= ``min_cell_size`` patients) and those hidden (1..k-1).

    Examples
    --------
    >>> shown_and_hidden({"a": 10, "b": 3, "c": 0}, 5)
    (('a',), ('b',))
    """
    shown = tuple(lvl for lvl, n in sizes.items() if n > 0 and not is_suppressed(n, min_cell_size))
    hidden = tuple(lvl for lvl, n in sizes.items() if is_suppressed(n, min_cell_size))
    return shown, hidden


def pick_reference(shown: Sequence[Any], preferred: Any) -> Any:
    """``preferred`` when it is a shown group, else the first shown group (None when none).

    Examples
    --------
    >>> pick_reference(["b", "c"], "a"), pick_reference(["a", "b"], "a"), pick_reference([], "a")
    ('b', 'a', None)
    """
    if preferred in shown:
        return preferred
    return shown[0] if len(shown) else None


def survival_by(cohort: Cohort, variable: str, preferred_reference: Any,
                endpoints: Sequence[str] = ENDPOINTS) -> GroupedSurvival:
    """Kaplan–Meier summaries, log-rank tests and Cox hazard ratios of ``endpoints`` by ``variable``.

    Parameters
    ----------
    cohort : Cohort
    variable : str
        ADSL grouping column (e.g. ``tdxd_response_by_stop``, ``ild_grade_group``).
    preferred_reference : object
        Reference level of the hazard ratios (:data:`RESPONSE_REFERENCE`,
        :data:`ILD_GRADE_REFERENCE`); when it has fewer than ``min_cell_size`` patients in this
        population, the first group in level order that has enough (:func:`pick_reference`).
    endpoints : sequence of str
        PARAMCDs.

    Returns
    -------
    GroupedSurvival
        Summaries of every group; the hazard ratios (unadjusted, Efron ties) and the log-rank
        test use only the groups with at least ``min_cell_size`` patients, so no statistic
        depends on a group whose size is hidden.
    """
    k = cohort.params.min_cell_size
    shown, hidden = shown_and_hidden(group_sizes(cohort.adsl, variable), k)
    reference = pick_reference(shown, preferred_reference)
    summaries = analysis.survival_summaries(cohort, endpoints, by=variable, overall=False)
    hrs, tests, fits = [], [], []
    for ep in endpoints:
        if len(shown) >= 2:
            hr, fit = analysis.hazard_model(cohort, ep, variable, reference=reference)
            left_out = int(cohort.adsl[variable].notna().sum()) - fit.n  # hidden groups (no covariate)
            hrs.append(hr.assign(endpoint=ep, n_excluded=left_out))
            fits.append(({"endpoint": ep, "model": "unadjusted"}, fit))
            frame = cohort.endpoint(ep)
            test = stats.logrank(frame[frame[variable].isin(shown).to_numpy()], "AVAL", "event", variable)
            tests.append(test.assign(endpoint=ep))
    hr = pd.concat(hrs, ignore_index=True) if hrs else pd.DataFrame(
        columns=["endpoint", "variable", "level", "reference", "hr", "hr_lower", "hr_upper", "p", "n", "events"])
    logrank = pd.concat(tests, ignore_index=True) if tests else pd.DataFrame(
        columns=["statistic", "df", "p", "n", "events", "n_groups", "endpoint"])
    return GroupedSurvival(variable=variable, reference=reference, preferred=preferred_reference,
                           summaries=summaries, hr=hr, logrank=logrank, ph=analysis.ph_tests(fits),
                           shown=shown, hidden=hidden)


def record_survival_by(results: Results, res: GroupedSurvival, timepoints: Iterable[float]) -> None:
    """Add :func:`survival_by` to ``results``: ``km_median`` (and rates) with group
    ``"<variable>=<level>"``, ``logrank`` with group ``<variable>``, ``cox_hr``, ``cox_zph``.
    The hidden groups (fewer than ``min_cell_size`` patients) are not recorded: no estimate of
    theirs leaves the run, in ``results.json`` either."""
    shown = res.summaries[~res.summaries["group"].isin(res.hidden).to_numpy()]
    analysis.record_survival(results, shown, res.variable, timepoints)
    for row in res.logrank.to_dict("records"):
        results.add("logrank", row["endpoint"], res.variable, n=row["n"], events=row["events"],
                    estimate=row["statistic"], p=row["p"], unit="chisq")
    for ep, part in res.hr.groupby("endpoint", sort=False):
        results.add_hr(part, str(ep))
    analysis.record_ph(results, res.ph, res.variable)


def response_applies(adsl: pd.DataFrame) -> populations.Applicability:
    """Analyses by response to T-DXd apply when the data file has ``tdxd_best_response`` and a
    patient of the population has a value of ``tdxd_response_by_stop``."""
    if "tdxd_best_response" not in adsl.columns:
        return populations.Applicability(False, "the data file has no best response to T-DXd "
                                                "(optional column tdxd_best_response)")
    if adsl["tdxd_response_by_stop"].isna().all():
        return populations.Applicability(False, "no patient has a recorded best response to T-DXd")
    return populations.Applicability(True)


def ild_stops(cohort: Cohort) -> Cohort:
    """The cohort restricted to the patients who stopped T-DXd for ILD, with :data:`RETREATMENT`.

    Levels without patients are dropped from ADSL's categories
    (:func:`ensemble_helpers.populations.shaped_cohort`); ADTTE keeps the same patients, in ADSL
    order. The result has no patient when nobody stopped for ILD
    (:func:`ensemble_helpers.populations.ild_applies` says so).
    """
    adsl = cohort.adsl
    keep = (adsl["tdxd_discontinuation_reason"].astype(object) == populations.ILD_REASON).to_numpy()
    sub = adsl.loc[keep].reset_index(drop=True)
    retreated = sub["anti_her2"].to_numpy(dtype=bool)
    sub[RETREATMENT] = pd.Categorical(np.where(retreated, RETREATMENT_LEVELS[0], RETREATMENT_LEVELS[1]),
                                      categories=list(RETREATMENT_LEVELS))
    adtte = cohort.adtte.loc[cohort.adtte["patient_id"].isin(sub["patient_id"]).to_numpy()].reset_index(drop=True)
    shaped, _ = populations.shaped_cohort(replace(cohort, adsl=sub, adtte=adtte))
    return shaped


def rate_by(frame: pd.DataFrame, flag: str, by: str | None, measure: str, conf_level: float = 0.95,
            overall: bool = True) -> pd.DataFrame:
    """Share of patients with ``flag`` overall and in each observed level of ``by`` (Clopper–Pearson).

    Parameters
    ----------
    frame : DataFrame
        One row per patient.
    flag : str
        Boolean column (missing counts as False).
    by : str or None
        Grouping column; None for the overall row only.
    measure : str
        Text of the ``measure`` column.
    conf_level : float
    overall : bool
        Include the ``"Overall"`` row (first).

    Returns
    -------
    DataFrame
        ``measure``, ``group``, ``successes``, ``n``, ``estimate``, ``lower``, ``upper``
        (:func:`ensemble_helpers.stats.proportion_ci`, exact as R ``binom.test``).
    """
    hit = frame[flag].astype("boolean").fillna(False).to_numpy(dtype=bool)
    parts: list[tuple[Any, np.ndarray]] = [("Overall", np.ones(len(frame), dtype=bool))] if overall else []
    if by is not None:
        values = frame[by]
        parts += [(lvl, (values == lvl).to_numpy(dtype=bool)) for lvl in populations.observed_levels(values)]
    rows = []
    for group, mask in parts:
        ci = stats.proportion_ci(int(hit[mask].sum()), int(mask.sum()), conf_level=conf_level)
        rows.append(ci.assign(measure=measure, group=group))
    columns = ["measure", "group", "successes", "n", "estimate", "lower", "upper"]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


def anti_her2_share(ild: Cohort, by: str | None = "ild_grade_group") -> pd.DataFrame:
    """Share of the ILD stops whose first post-T-DXd regimen contains an anti-HER2 agent.

    Parameters
    ----------
    ild : Cohort
        :func:`ild_stops`.
    by : str or None
        Also by this column (default the ILD grade group).

    Returns
    -------
    DataFrame
        :func:`rate_by` rows, measure :data:`ANTI_HER2_MEASURE`: "Overall" (the published 81.5%)
        then each level.
    """
    return rate_by(ild.adsl, "anti_her2", by, ANTI_HER2_MEASURE, ild.params.conf_level)


def _recurrence_frame(ild: Cohort) -> pd.DataFrame:
    """ILDREC of the ILD stops with ``recurred`` (EVENT 1: recurrence before death or censoring)."""
    frame = ild.endpoint("ILDREC")
    return frame.assign(recurred=frame["EVENT"].to_numpy() == RECURRENCE)


def recurrence_rates(ild: Cohort, by: str) -> pd.DataFrame:
    """Crude rate of ILD recurrence/exacerbation on the first post-T-DXd regimen by ``by``.

    Parameters
    ----------
    ild : Cohort
        :func:`ild_stops`.
    by : str
        ``ild_grade_group`` or :data:`RETREATMENT` (re-treated with an anti-HER2 regimen).

    Returns
    -------
    DataFrame
        :func:`rate_by` rows, measure :data:`RECURRENCE_MEASURE`, "Overall" first (the published
        3.4%: the same count as :func:`ensemble_helpers.analysis.ild_recurrence_rate`).
    """
    return rate_by(_recurrence_frame(ild), "recurred", by, RECURRENCE_MEASURE, ild.params.conf_level)


def recurrence_incidence(ild: Cohort, by: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cumulative incidence of ILD recurrence (Aalen–Johansen, death competing) in each level of ``by``.

    Returns
    -------
    (DataFrame, DataFrame)
        The curves (:func:`ensemble_helpers.stats.cumulative_incidence` with a ``group``
        column) and the incidence at the parameter file's timepoints in the layout of
        :func:`rate_by` (``measure`` "Cumulative incidence at <t> months", ``group``,
        ``successes`` = recurrences by then, ``n`` = patients of the group, ``estimate``,
        ``lower``, ``upper``), so that one table and one suppression rule show both.
    """
    frame = _recurrence_frame(ild)
    p = ild.params
    curves, rows = [], []
    for lvl in populations.observed_levels(frame[by]):
        part = frame[(frame[by] == lvl).to_numpy(dtype=bool)]
        curves.append(stats.cumulative_incidence(part, "AVAL", "EVENT", RECURRENCE, DEATH, p.conf_level)
                      .assign(group=lvl))
        at = stats.cumulative_incidence_at(part, "AVAL", "EVENT", p.timepoints, RECURRENCE, DEATH, p.conf_level)
        rows.append(pd.DataFrame({
            "measure": [f"Cumulative incidence at {t:g} months" for t in at["time"]], "group": lvl,
            "successes": at["events"], "n": at["n"], "estimate": at["estimate"], "lower": at["lower"],
            "upper": at["upper"]}))
    columns = ["measure", "group", "successes", "n", "estimate", "lower", "upper"]
    curve = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(
        columns=["time", "n_at_risk", "estimate", "lower", "upper", "group"])
    return curve, (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns))


def drawable_groups(rates: pd.DataFrame, min_cell_size: int | None) -> list[Any]:
    """Groups of :func:`recurrence_rates` whose cumulative incidence curve may be drawn: at least
    ``min_cell_size`` patients and recurrences (each step of a curve shows one recurrence)."""
    groups = rates[rates["group"].astype(str) != "Overall"]
    return [g for g, k, n in zip(groups["group"], groups["successes"], groups["n"])
            if not is_suppressed(k, min_cell_size) and not is_suppressed(n, min_cell_size) and n > 0]


def withheld(table: pd.DataFrame, min_cell_size: int | None, counts: Sequence[str] = ("n", "successes")) -> list[Any]:
    """Groups of a :func:`rate_by` table (in order of first appearance) with one of ``counts`` from
    1 to k-1 in some row: those rows' estimates are not shown.

    Examples
    --------
    >>> t = pd.DataFrame({"group": ["a", "b", "b"], "n": [9, 9, 9], "successes": [0, 6, 2]})
    >>> withheld(t, 5)
    ['b']
    """
    hidden = np.zeros(len(table), dtype=bool)
    for col in counts:
        hidden |= np.array([is_suppressed(c, min_cell_size) for c in table[col]], dtype=bool)
    return list(dict.fromkeys(table["group"][hidden]))


def withheld_sentence(items: Mapping[str, Sequence[Any]], min_cell_size: int | None) -> str | None:
    """One sentence naming what a section cannot show (None when nothing is withheld).

    Parameters
    ----------
    items : mapping
        What is withheld ("estimates", "recurrence rate") -> the groups (labels via
        :func:`ensemble_helpers.labels.label`); empty lists are skipped.

    Examples
    --------
    >>> withheld_sentence({"estimates": ["grade_unknown"], "recurrence rate": ["grade_1", True]}, 5)
    'Not shown (fewer than 5 patients or events: min_cell_size): estimates of Grade unknown; recurrence rate of Grade 1, Yes.'
    """
    parts = [f"{what} of {', '.join(label(g) for g in groups)}" for what, groups in items.items() if len(groups)]
    if not parts:
        return None
    return f"Not shown (fewer than {min_cell_size} patients or events: min_cell_size): {'; '.join(parts)}."


def shown_rows(table: pd.DataFrame, min_cell_size: int | None) -> pd.DataFrame:
    """Rows of a :func:`rate_by` table whose ``successes`` and ``n`` are both 0 or at least
    ``min_cell_size``: the only ones whose rate is shown or recorded."""
    keep = [not (is_suppressed(k, min_cell_size) or is_suppressed(n, min_cell_size))
            for k, n in zip(table["successes"], table["n"])]
    return table[np.array(keep, dtype=bool)]


def record_rates(results: Results, rates: pd.DataFrame, variable: str, endpoint: str,
                 min_cell_size: int | None) -> None:
    """Add the shown rows (:func:`shown_rows`) of :func:`rate_by` (ILD stops) as ``proportion`` records.

    The "Overall" row gets ``endpoint`` and group ``"tdxd_discontinuation_reason=ild"`` (the key of
    the published figure it estimates, ``published.yaml``); a level's row gets
    ``"<endpoint> (T-DXd stopped for ILD)"`` and ``"<variable>=<level>"``, so that it is not read as
    a share among all patients with that level.
    """
    for row in shown_rows(rates, min_cell_size).to_dict("records"):
        if str(row["group"]) == "Overall":
            where, group = endpoint, group_name("tdxd_discontinuation_reason", populations.ILD_REASON)
        else:
            where, group = f"{endpoint} (T-DXd stopped for ILD)", group_name(variable, row["group"])
        results.add("proportion", where, group, n=row["n"], events=row["successes"],
                    estimate=row["estimate"], lower=row["lower"], upper=row["upper"], unit="proportion")


def record_incidence(results: Results, at: pd.DataFrame, variable: str, timepoints: Iterable[float],
                     min_cell_size: int | None) -> None:
    """Add :func:`recurrence_incidence`'s shown rates at the timepoints (:func:`shown_rows`):
    ``cuminc_<t>m`` records of endpoint ILDREC, group ``"<variable>=<level>"`` (events =
    recurrences by then)."""
    at = shown_rows(at, min_cell_size)
    for t in timepoints:
        part = at[at["measure"] == f"Cumulative incidence at {t:g} months"]
        for row in part.to_dict("records"):
            results.add(f"cuminc_{t:g}m", "ILDREC", group_name(variable, row["group"]), n=row["n"],
                        events=row["successes"], estimate=row["estimate"], lower=row["lower"],
                        upper=row["upper"], unit="proportion")
