"""Model tables: Cox hazard ratios, subgroup HRs, weighted comparisons, balance, proportional-hazards and log-rank tests."""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from ensemble_helpers.disclosure import subset_count
from ensemble_helpers.formats import (
    ci_name,
    format_estimate,
    format_number,
    format_p,
    format_statistic,
    secondary_suppressed_count,
)
from ensemble_helpers.formats import is_missing as _missing
from ensemble_helpers.labels import label
from ensemble_helpers.privacy import is_suppressed, suppress_count
from ensemble_helpers.stats.balance import SMD_THRESHOLD
from ensemble_helpers.tables._common import (
    EXCLUDED,
    INDENT,
    _require,
    _value_label,
)
from ensemble_helpers.settings import takes_settings


@takes_settings
def hr_table(
    cox: pd.DataFrame,
    *,
    digits: int = 2,
    conf_level: float = 0.95,
    min_cell_size: int | None = 5,
    show_counts: bool = False,
) -> pd.DataFrame:
    """Hazard ratios (``stats.cox_hr`` output) as a report table.

    Parameters
    ----------
    cox : DataFrame
        ``variable``, ``level``, ``reference``, ``hr``, ``hr_lower``, ``hr_upper``, ``p`` (and
        ``n``, ``events`` for ``show_counts``); an optional ``endpoint`` column (PARAMCD) adds an
        Endpoint column, for tables of several endpoints. The model's caveats (non-convergence,
        a hazard ratio that may be infinite), from ``cox.attrs["notes"]`` or an optional
        ``note`` column, become the table's footnote.
    digits : int
        Decimals of the HR and its CI.
    conf_level : float
        Only for the header.
    min_cell_size : int or None
        Suppression of N and Events when shown.
    show_counts : bool
        Add ``N`` and ``Events`` columns; with an ``n_excluded`` column (patients left out for a
        missing covariate, :func:`ensemble_helpers.analysis.hazard_ratios`) also
        "Excluded (missing covariate)", and ``N`` is printed by
        :func:`ensemble_helpers.disclosure.subset_count` (a hidden exclusion is not given away);
        when patients were left out, ``Events`` is printed ``"≥k"`` (the events of the patients
        left out would be the population's minus the model's). An optional ``population``
        column (patients of the endpoint) replaces ``n + n_excluded`` as the total: a model that
        left out the levels below ``min_cell_size`` then does not print the N that gives their
        size back.

    Returns
    -------
    DataFrame
        [``Endpoint``], ``Term`` ("Regimen class: Anti-HER2 TKI vs Anti-HER2 antibody"; a
        numeric covariate is its label), [``N``, ``Events``], ``"HR (95% CI)"`` ("NE" = not
        estimable), ``p-value``; ``attrs["footnote"]`` holds the caveats, if any.

    Examples
    --------
    >>> c = pd.DataFrame({"term": ["regimen_group[T.tki]"], "variable": ["regimen_group"], "level": ["tki"],
    ...                   "reference": ["antibody"], "hr": [1.3], "hr_lower": [1.05], "hr_upper": [1.61],
    ...                   "p": [0.0123]})
    >>> hr_table(c).values.tolist()
    [['Regimen class: Anti-HER2 TKI vs Anti-HER2 antibody', '1.30 (1.05–1.61)', '0.012']]
    """
    needed = ["variable", "level", "hr", "hr_lower", "hr_upper", "p"] + (["n", "events"] if show_counts else [])
    _require(cox, needed, "hr_table")
    hr_col = f"HR ({ci_name(conf_level)})"
    rows = []
    for rec in cox.to_dict("records"):
        term = label(rec["variable"])
        if not _missing(rec.get("level")):
            term = f"{term}: {_value_label(rec['level'])}"
            if not _missing(rec.get("reference")):
                term += f" vs {_value_label(rec['reference'])}"
        row = {"Endpoint": label(rec["endpoint"])} if "endpoint" in cox.columns else {}
        row["Term"] = term
        if show_counts:
            excluded = rec.get("n_excluded")
            with_excluded = "n_excluded" in cox.columns and not _missing(excluded)
            total = int(rec["n"]) + int(excluded) if with_excluded else None
            if "population" in cox.columns and not _missing(rec.get("population")):
                total = int(rec["population"])  # levels left out count as left out too
            row["N"] = subset_count(int(rec["n"]), total, min_cell_size) if total is not None \
                else suppress_count(rec["n"], min_cell_size)
            row["Events"] = suppress_count(rec["events"], min_cell_size)
            if total is not None and total > int(rec["n"]) and not is_suppressed(rec["events"], min_cell_size) \
                    and min_cell_size is not None and min_cell_size > 1:
                # the population's events minus the model's would be the events of the patients
                # left out, possibly 1..k-1: the model's events are not printed exactly
                row["Events"] = secondary_suppressed_count(min_cell_size)
            if "n_excluded" in cox.columns:
                row[EXCLUDED] = suppress_count(int(excluded), min_cell_size) if with_excluded else ""
        row[hr_col] = "NE" if _missing(rec["hr"]) else format_estimate(
            rec["hr"], rec["hr_lower"], rec["hr_upper"], digits=digits, na="NE")
        row["p-value"] = format_p(rec["p"])
        rows.append(row)
    counts = ["N", "Events"] + ([EXCLUDED] if "n_excluded" in cox.columns else [])
    cols = (["Endpoint"] if "endpoint" in cox.columns else []) + ["Term"] + (counts if show_counts else []) + [
        hr_col, "p-value"]
    out = pd.DataFrame(rows, columns=cols)
    notes = _model_notes(cox)
    if notes:
        out.attrs["footnote"] = " ".join(notes)
    return out


def _model_notes(cox: pd.DataFrame) -> list[str]:
    """The distinct caveats of the models behind ``cox`` (``attrs["notes"]``, ``note`` column),
    prefixed with the endpoint when the table has several."""
    notes = list(cox.attrs.get("notes", ()))
    if "note" in cox.columns:
        by_endpoint = "endpoint" in cox.columns and cox["endpoint"].nunique() > 1
        for rec in cox.to_dict("records"):
            text = rec.get("note")
            if isinstance(text, str) and text:
                notes.append(f"{label(rec['endpoint'])}: {text}" if by_endpoint else text)
    return list(dict.fromkeys(notes))


@takes_settings
def subgroup_hr_table(forest: pd.DataFrame, *, conf_level: float = 0.95, min_cell_size: int | None = 5,
                      digits: int = 2) -> pd.DataFrame:
    """The treatment-effect forest (:func:`ensemble_helpers.comparison.subgroup_forest`) as a table.

    Columns: ``Subgroup``, ``N``, ``Events``, ``"HR (95% CI)"`` (or the row's note), ``Interaction
    p`` (on the variable's row), ``PH p`` (cox.zph of the comparison term in the level's model).
    """
    hr_col = f"HR ({ci_name(conf_level)})"
    rows = []
    for rec in forest.to_dict("records"):
        header = bool(rec["is_header"])
        rows.append({
            "Subgroup": str(rec["label"]).strip() if header or rec["is_overall"] else INDENT + str(rec["label"]).strip(),
            "N": "" if header else suppress_count(rec["n"], min_cell_size),
            "Events": "" if header else suppress_count(rec["events"], min_cell_size),
            hr_col: "" if header else (rec["note"] or format_estimate(rec["hr"], rec["hr_lower"], rec["hr_upper"],
                                                                      digits=digits, na="NE")),
            "Interaction p": format_p(rec["p"]) if header and not _missing(rec["p"]) else "",
            "PH p": "" if header or _missing(rec["zph_p"]) else format_p(rec["zph_p"]),
        })
    out = pd.DataFrame(rows, columns=["Subgroup", "N", "Events", hr_col, "Interaction p", "PH p"])
    out.attrs["footnote"] = ("Cox HR of the comparison within each level (Efron ties); interaction p: likelihood-"
                             "ratio test of comparison x subgroup; PH p: cox.zph test of the comparison term in "
                             "the level's model.")
    return out


@takes_settings
def weighted_estimates_table(comp: Any, *, conf_level: float = 0.95, min_cell_size: int | None = 5,
                             digits: int = 2) -> pd.DataFrame:
    """Unadjusted, covariate-adjusted and weighted estimates of an
    :class:`ensemble_helpers.adjust.AdjustedComparison`, per endpoint: the median (CI) of each
    group unweighted and weighted, and the hazard ratio (CI) of each method.

    Returns
    -------
    DataFrame
        ``Endpoint``, ``Method``, one ``"Median, months (95% CI)"`` column per group, ``"HR (95% CI)"``,
        ``p-value``, ``N``; a group of fewer than ``min_cell_size`` patients has no median.
    """
    ci = ci_name(conf_level)
    med = comp.medians
    rows = []
    methods = {"unadjusted": "unweighted", "covariate-adjusted": None, "weighted": "weighted"}
    for rec in comp.hrs.to_dict("records"):
        ep, method = rec["endpoint"], rec["method"]
        row = {"Endpoint": label(ep), "Method": method[:1].upper() + method[1:]}
        for level in comp.levels:
            col = f"{label(level)}: median, months ({ci})"
            kind = methods.get(method)
            hit = med[(med["endpoint"] == ep) & (med["method"] == kind) & (med["group"].astype(str) == str(level))] \
                if kind else med.iloc[0:0]
            if hit.empty:
                row[col] = ""
            else:
                h = hit.iloc[0]
                row[col] = "" if is_suppressed(int(h["n"]), min_cell_size) else format_estimate(
                    h["median"], h["median_lower"], h["median_upper"])
        row[f"HR ({ci})"] = format_estimate(rec["hr"], rec["hr_lower"], rec["hr_upper"], digits=digits, na="NE")
        row["p-value"] = format_p(rec["p"])
        row["N"] = suppress_count(int(rec["n"]), min_cell_size)
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["footnote"] = (f"Weights: {comp.weighting} (propensity score from a logistic model of "
                             f"{', '.join(label(c) for c in comp.covariates)}). Weighted: Kaplan–Meier on "
                             "weighted counts and Cox model with case weights and robust (sandwich) variance, as R "
                             "survfit/coxph(weights, robust = TRUE). Covariate-adjusted: complete cases. "
                             "Medians: NR = not reached.")
    return out


@takes_settings
def weight_summary_table(summary: pd.DataFrame, *, min_cell_size: int | None = 5) -> pd.DataFrame:
    """:func:`ensemble_helpers.adjust.weight_summary` as a table: patients, effective sample size,
    weight percentiles (1st, median, 99th; never the minimum or maximum: one patient's value),
    extreme weights (above 10 times the group's mean) and propensity-score percentiles."""
    rows = []
    for rec in summary.to_dict("records"):
        rows.append({
            "Group": label(rec["group"]),
            "Patients": suppress_count(int(rec["n"]), min_cell_size),
            "Effective sample size": format_number(rec["ess"], 1),
            "Weight, median (1st–99th percentile)": format_estimate(rec["weight_median"], rec["weight_p1"],
                                                                   rec["weight_p99"], digits=3),
            "Extreme weights (> 10 x mean)": suppress_count(int(rec["extreme"]), min_cell_size),
            "Propensity score, median (1st–99th percentile)": format_estimate(rec["ps_median"], rec["ps_p1"],
                                                                             rec["ps_p99"], digits=3),
        })
    return pd.DataFrame(rows)


def balance_table(balance: pd.DataFrame) -> pd.DataFrame:
    """Standardised mean differences before and after weighting (the publishable rows of
    :func:`ensemble_helpers.adjust.balance`), flagged "†" above 0.1."""
    from ensemble_helpers.plots.balance import covariate_label

    def cell(v: float) -> str:
        return "" if _missing(v) else format_number(v, 3) + (" †" if abs(v) > SMD_THRESHOLD else "")

    out = pd.DataFrame({
        "Covariate": [covariate_label(c) for c in balance["covariate"]],
        "SMD unweighted": [cell(v) for v in balance["smd_unweighted"]],
        "SMD weighted": [cell(v) for v in balance["smd_weighted"]],
    })
    out.attrs["footnote"] = (f"Standardised mean difference, pooled unweighted SD (indicators: p(1-p)); † |SMD| > "
                             f"{SMD_THRESHOLD:g}. Indicators held by 1 to min_cell_size - 1 patients of a group are "
                             "not shown.")
    return out


def ph_table(ph: pd.DataFrame, term_labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Proportional-hazards tests (:func:`ensemble_helpers.analysis.ph_tests`) as a report table.

    One row per model term and a "Global" row per model; ``Flag`` says "p < 0.05" where the
    test rejects proportional hazards. The footnote names the test.

    Examples
    --------
    >>> ph = pd.DataFrame({"endpoint": ["PFS", "PFS"], "model": ["unadjusted"] * 2, "term": ["age", "GLOBAL"],
    ...                    "chisq": [4.61, 4.61], "df": [1, 1], "p": [0.0318, 0.0318], "flag": [True, True]})
    >>> ph_table(ph).values.tolist()[0]
    ['Progression-free survival', 'Unadjusted', 'Age, years', '4.61 (1)', '0.032', 'p < 0.05']
    """
    names = dict(term_labels or {})
    rows = []
    for rec in ph.to_dict("records"):
        row = {"Endpoint": label(rec["endpoint"])} if "endpoint" in ph.columns else {}
        if "model" in ph.columns:
            row["Model"] = str(rec["model"])[:1].upper() + str(rec["model"])[1:]
        term = str(rec["term"])
        row["Term"] = "Global" if term == "GLOBAL" else names.get(term, label(term))
        row["Chi-square (df)"] = format_statistic(rec["chisq"], rec["df"])
        row["p"] = format_p(rec["p"])
        row["Flag"] = "p < 0.05" if rec["flag"] else ""
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["footnote"] = ("Proportional-hazards test by scaled Schoenfeld residuals (R survival::cox.zph, "
                             "Kaplan–Meier time transform), per term and global. p < 0.05 flagged: the hazard "
                             "ratio may change over follow-up.")
    return out


def logrank_table(logrank: pd.DataFrame) -> pd.DataFrame:
    """Log-rank tests (``stats.logrank`` rows with an ``endpoint`` column) as a report table.

    Examples
    --------
    >>> lr = pd.DataFrame({"endpoint": ["PFS"], "statistic": [4.2512], "df": [1], "p": [0.0392]})
    >>> logrank_table(lr).values.tolist()
    [['Progression-free survival', '4.25 (1)', '0.039']]
    """
    return pd.DataFrame({
        "Endpoint": [label(e) for e in logrank["endpoint"]],
        "Log-rank chi-square (df)": [format_statistic(s, d) for s, d in zip(logrank["statistic"], logrank["df"])],
        "p": [format_p(x) for x in logrank["p"]],
    })
