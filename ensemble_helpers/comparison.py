"""The ``comparison`` of a report (issue 14.2): its hazard ratio overall, unadjusted and
adjusted, and within each level of each subgroup variable, with the interaction test.

With ``comparison: {variable: regimen_group, levels: [tki, antibody]}`` the patients in the two
levels are compared (the second level the reference). For each endpoint:

* :func:`overall_hr`: the comparison's Cox HR (Efron ties) unadjusted and adjusted for
  :data:`ensemble_helpers.analysis.ADJUSTMENT` (complete cases: ``n`` used and ``n_excluded`` for
  a missing covariate), each with its proportional-hazards test (R ``cox.zph``);
* :func:`subgroup_forest`: per subgroup variable, the comparison's HR within each level (one Cox
  model per level), its inverse-variance weight (box size), and the likelihood-ratio test of the
  comparison x subgroup interaction (R ``anova(coxph(~ t + s), coxph(~ t * s))``, by
  :func:`ensemble_helpers.stats.cox_lrt`), with the overall estimate on top.

Disclosure: before fitting, the levels of a subgroup variable whose size the tables hide are
pooled (:func:`ensemble_helpers.disclosure.pool_levels`); within a level, no HR is shown when
either compared group has fewer than ``min_cell_size`` patients.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"AVAL": [5, 6, 6, 2, 4, 4, 8, 9, 3, 7, 1, 10],
...                       "event": [1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1],
...                       "treated": [1.0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0],
...                       "hr_status": ["a", "b"] * 6})
>>> round(interaction_test(frame, "hr_status")["df"].item())
1
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ensemble_helpers import stats
from ensemble_helpers.disclosure import is_suppressed, pool_levels
from ensemble_helpers.labels import label

#: The 0/1 column of the compared level in :func:`comparison_frame`.
TREATED = "treated"

_MODEL_COLUMNS = ["model", "term", "hr", "hr_lower", "hr_upper", "p", "se", "n", "events", "n_excluded",
                  "zph_p", "note"]


def comparison_frame(cohort: Any, endpoint: str) -> pd.DataFrame:
    """The endpoint's analysis frame restricted to the two compared levels, with :data:`TREATED`
    (1.0 for the compared level, 0.0 for the reference).

    Raises
    ------
    ValueError
        The parameters have no ``comparison``.
    """
    comp = cohort.params.comparison
    if comp is None:
        raise ValueError("the parameter file has no comparison")
    frame = cohort.endpoint(endpoint)
    treated = comp.indicator(frame[comp.variable])
    keep = treated.notna().to_numpy()
    out = frame.loc[keep].reset_index(drop=True)
    out[TREATED] = treated.to_numpy()[keep]
    return out


def _zph_p(fit: stats.CoxFit, term: str) -> float:
    """p of the cox.zph test of ``term`` (NaN when the model cannot be tested)."""
    try:
        table = stats.cox_zph(fit).table
    except (stats.StatsInputError, np.linalg.LinAlgError):
        return math.nan
    hit = table.loc[table["term"] == term, "p"]
    return float(hit.iloc[0]) if len(hit) else math.nan


def _treated_row(fit: stats.CoxFit, model: str) -> dict[str, Any]:
    row = fit.table.loc[fit.table["term"] == TREATED].iloc[0]
    return {"model": model, "term": TREATED, "hr": row["hr"], "hr_lower": row["hr_lower"],
            "hr_upper": row["hr_upper"], "p": row["p"], "se": row["se"], "n": fit.n, "events": fit.events,
            "n_excluded": fit.n_excluded, "zph_p": _zph_p(fit, TREATED) if np.isfinite(row["hr"]) else math.nan,
            "note": " ".join(fit.table.attrs.get("notes", ()))}


def overall_hr(cohort: Any, endpoint: str, adjust_for: Sequence[str] = ()) -> tuple[pd.DataFrame, list]:
    """The comparison's HR, unadjusted and (when ``adjust_for``) adjusted.

    Returns
    -------
    (DataFrame, list of (str, CoxFit))
        One row per model (``model`` "unadjusted" / "adjusted"): ``hr``, ``hr_lower``,
        ``hr_upper``, ``p``, ``se``, ``n`` (patients used), ``events``, ``n_excluded`` (left out
        for a missing covariate), ``zph_p`` (cox.zph test of the comparison term), ``note``; and
        the fits (for the full proportional-hazards tables).
    """
    frame = comparison_frame(cohort, endpoint)
    conf = cohort.params.conf_level
    rows, fits = [], []
    for model, covs in (("unadjusted", []), ("adjusted", [c for c in adjust_for if c != TREATED])):
        if model == "adjusted" and not covs:
            continue
        fit = stats.cox_fit(frame[["AVAL", "event", TREATED, *covs]], "AVAL", "event", [TREATED, *covs],
                            conf_level=conf)
        rows.append(_treated_row(fit, model))
        fits.append((model, fit))
    return pd.DataFrame(rows, columns=_MODEL_COLUMNS), fits


def interaction_test(frame: pd.DataFrame, variable: str) -> pd.DataFrame:
    """Likelihood-ratio test of the :data:`TREATED` x ``variable`` interaction.

    Compares ``treated + variable + treated:variable`` with ``treated + variable`` on the
    patients with ``variable`` known (as R ``anova(coxph(~ t + s), coxph(~ t * s))``).

    Returns
    -------
    DataFrame
        One row: ``chisq``, ``df``, ``p`` (:func:`ensemble_helpers.stats.cox_lrt`).
    """
    data = frame.loc[frame[variable].notna(), ["AVAL", "event", TREATED, variable]].copy()
    values = data[variable]
    levels = [lv for lv in (values.cat.categories if isinstance(values.dtype, pd.CategoricalDtype)
                            else sorted(values.unique(), key=str)) if (values == lv).any()]
    data[variable] = pd.Categorical(values, categories=levels)
    inter = []
    for j, lv in enumerate(levels[1:]):
        name = f"{TREATED}:{variable}={j + 1}"
        data[name] = data[TREATED] * (values == lv).to_numpy(dtype=float)
        inter.append(name)
    reduced = stats.cox_fit(data, "AVAL", "event", [TREATED, variable])
    full = stats.cox_fit(data, "AVAL", "event", [TREATED, variable, *inter])
    return stats.cox_lrt(full, reduced)


def subgroup_forest(
    cohort: Any, endpoint: str, variables: Sequence[str], overall: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rows of the treatment-effect forest plot of one endpoint.

    Parameters
    ----------
    cohort : Cohort
    endpoint : str
    variables : sequence of str
        Subgroup variables (constant ones should be left out first:
        :func:`ensemble_helpers.populations.subgroup_variables`).
    overall : DataFrame, optional
        :func:`overall_hr` output (its unadjusted row is the top line); computed when None.

    Returns
    -------
    DataFrame
        Top to bottom: the overall row, then per variable a header row (``p`` = interaction p)
        and one row per level: ``label``, ``variable``, ``level``, ``n``, ``events``,
        ``n_compared``, ``n_reference``, ``hr``, ``hr_lower``, ``hr_upper``, ``se``, ``weight``
        (inverse variance, for the box size), ``p`` (interaction, header rows only),
        ``interaction_chisq``, ``interaction_df``, ``zph_p``, ``is_header``, ``is_overall``,
        ``note`` (why a level has no estimate).
    """
    p = cohort.params
    k = p.min_cell_size
    frame = comparison_frame(cohort, endpoint)
    if overall is None:
        overall = overall_hr(cohort, endpoint)[0]
    top = overall[overall["model"] == "unadjusted"].iloc[0]
    t = frame[TREATED].to_numpy() == 1.0
    rows = [{"label": "All patients", "variable": None, "level": None, "n": len(frame),
             "events": int(frame["event"].sum()), "n_compared": int(t.sum()), "n_reference": int((~t).sum()),
             "hr": top["hr"], "hr_lower": top["hr_lower"], "hr_upper": top["hr_upper"], "se": top["se"],
             "weight": 1.0 / top["se"] ** 2 if top["se"] > 0 else math.nan, "p": math.nan,
             "interaction_chisq": math.nan, "interaction_df": math.nan, "zph_p": top["zph_p"],
             "is_header": False, "is_overall": True, "note": ""}]
    for var in variables:
        pooled, _ = pool_levels(frame[var], k)
        data = frame.assign(**{var: pooled})
        levels = [lv for lv in (pooled.cat.categories if isinstance(pooled.dtype, pd.CategoricalDtype)
                                else sorted(pooled.dropna().unique(), key=str)) if (pooled == lv).any()]
        test = interaction_test(data, var).iloc[0] if len(levels) >= 2 else None
        rows.append({"label": label(var), "variable": var, "level": None, "n": math.nan, "events": math.nan,
                     "n_compared": math.nan, "n_reference": math.nan, "hr": math.nan, "hr_lower": math.nan,
                     "hr_upper": math.nan, "se": math.nan, "weight": math.nan,
                     "p": test["p"] if test is not None else math.nan,
                     "interaction_chisq": test["chisq"] if test is not None else math.nan,
                     "interaction_df": test["df"] if test is not None else math.nan, "zph_p": math.nan,
                     "is_header": True, "is_overall": False, "note": ""})
        for lv in levels:
            sub = data[(data[var] == lv).to_numpy()]
            st = sub[TREATED].to_numpy() == 1.0
            row = {"label": f"  {label(lv.item() if isinstance(lv, np.generic) else lv)}", "variable": var, "level": lv, "n": len(sub),
                   "events": int(sub["event"].sum()), "n_compared": int(st.sum()), "n_reference": int((~st).sum()),
                   "hr": math.nan, "hr_lower": math.nan, "hr_upper": math.nan, "se": math.nan, "weight": math.nan,
                   "p": math.nan, "interaction_chisq": math.nan, "interaction_df": math.nan, "zph_p": math.nan,
                   "is_header": False, "is_overall": False, "note": ""}
            if is_suppressed(int(st.sum()), k) or is_suppressed(int((~st).sum()), k) or st.all() or not st.any():
                row["note"] = "too few patients"
            else:
                fit = stats.cox_fit(sub[["AVAL", "event", TREATED]], "AVAL", "event", [TREATED], conf_level=p.conf_level)
                est = _treated_row(fit, "level")
                if est["note"] or not np.isfinite(est["hr"]):
                    row["note"] = "not estimable"
                else:
                    row.update({c: est[c] for c in ("hr", "hr_lower", "hr_upper", "se", "zph_p")})
                    row["weight"] = 1.0 / est["se"] ** 2
            rows.append(row)
    return pd.DataFrame(rows)


def record_forest(results: Any, forest: pd.DataFrame, endpoint: str) -> None:
    """``subgroup_hr`` records (group ``"<variable>=<level>"``; the overall row as ``Overall``)
    and one ``interaction`` record per variable (``group`` = variable, ``estimate`` = chi-square,
    ``p``)."""
    from ensemble_helpers.results import group_name

    for row in forest.to_dict("records"):
        if row["is_header"]:
            if not pd.isna(row["p"]):
                results.add("interaction", endpoint, row["variable"], estimate=row["interaction_chisq"],
                            p=row["p"], unit="chisq")
            continue
        group = "Overall" if row["is_overall"] else group_name(row["variable"], row["level"])
        results.add("subgroup_hr", endpoint, group, n=row["n"], events=row["events"], estimate=row["hr"],
                    lower=row["hr_lower"], upper=row["hr_upper"], unit="ratio")
