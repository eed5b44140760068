"""Display glue the notebooks share: the report header, notes, and sections that run an
analysis, record its estimates and show its tables and figures (:func:`start`, :func:`finish`,
:func:`subgroup_section`, :func:`km_figure`, ...).

Nothing is computed or formatted here: numbers come from :mod:`ensemble_helpers.analysis`,
tables from :mod:`ensemble_helpers.tables` (the notebooks' small tables, e.g.
:func:`followup_table`, are re-exported from there), figures from :mod:`ensemble_helpers.plots`.
Everything inserted into HTML is escaped here; counts go through :mod:`ensemble_helpers.privacy`.
"""

from __future__ import annotations

import datetime as _dt
import html
from typing import Any

import pandas as pd

from ensemble_helpers import __version__, populations
from ensemble_helpers.labels import in_sentence, label
from ensemble_helpers.params import Params, Range
from ensemble_helpers.formats import suppressed_count
from ensemble_helpers.privacy import is_suppressed, suppress_count
# the notebooks' small tables live in tables (tables lay out, report displays); the names stay here
from ensemble_helpers.tables import (  # noqa: F401
    attrition_table,
    followup_table,
    frequency_table,
    published_table,
    rate_table,
    site_table,
)


#: The covariates of the adjusted Cox models, as captions name them (analysis.ADJUSTMENT).
ADJUSTMENT_TEXT = "age, ECOG, hormone receptor, visceral and brain metastasis, prior lines"


def _html(text: str) -> Any:
    from IPython.display import HTML

    return HTML(text)


def header(params: Params, cohort: Any = None) -> Any:
    """The report header: population title, filters, confidence settings (escaped HTML).

    The data file is named by its file name only, never its folder. With the ``cohort`` (from
    :func:`start`), one line under it names the levels without patients that the tables leave
    out (:func:`ensemble_helpers.populations.empty_levels_note`).
    """
    filters = "; ".join(
        f"{label(col)} {vals}" if isinstance(vals, Range) else f"{label(col)} in {{{', '.join(label(v) for v in vals)}}}"
        for col, vals in params.filters.items()
    ) or "none (all patients)"
    rows = [
        ("Population", params.title),
        ("Filters", filters),
        *([("Comparison", f"{label(params.comparison.variable)}: {label(params.comparison.treatment)} vs "
            f"{label(params.comparison.reference)} (reference)")] if params.comparison else []),
        ("Data file", params.data_file().name),
        ("Kaplan–Meier CIs", f"{params.conf_level:.0%}, {params.ci_transform} transform (Greenwood variance)"),
        ("Small counts", f"1–{params.min_cell_size - 1} shown as {suppressed_count(params.min_cell_size)}"
         if params.min_cell_size and params.min_cell_size > 1 else "not suppressed"),
        ("Generated", f"{_dt.date.today().isoformat()}, ensemble_helpers {__version__}"),
    ]
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    text = f"<table style='font-size:0.9em;margin-bottom:1em'>{body}</table>"
    if cohort is not None:
        empty = populations.empty_levels_note(cohort.dropped_levels, shown_variables(cohort))
        if empty:
            text += note(empty).data
    return _html(text)


def shown_variables(cohort: Any) -> set[str]:
    """ADSL variables whose levels the report's tables list (Table 1, subgroups, comparison)."""
    from ensemble_helpers import analysis

    p = cohort.params
    return {*analysis.baseline_variables(cohort.adsl), "next_class", *analysis.HEADLINE_SUBGROUPS,
            *p.subgroup_variables, *([p.comparison.variable] if p.comparison else [])}


def note(text: str, kind: str = "info") -> Any:
    """A short highlighted note (escaped), e.g. 'too few patients for this analysis'."""
    colour = {"info": "#eef4fb", "warning": "#fff4e5"}.get(kind, "#eef4fb")
    return _html(
        f"<div style='background:{colour};padding:0.5em 0.8em;border-radius:4px;margin:0.5em 0'>"
        f"{html.escape(text)}</div>"
    )


def km_figure(cohort: Any, endpoint: str, by: str | None = None, **kwargs: Any) -> Any:
    """Kaplan–Meier figure of one endpoint of a cohort, with the parameter file's settings
    (``conf_level``, ``ci_transform``, ``min_cell_size``, ``km_ci_bands``, ``km_annotation``);
    every report's Kaplan–Meier figure is drawn here. ``kwargs`` go to
    :func:`ensemble_helpers.plots.km_plot` (e.g. ``ylabel``, ``cumulative_events``).

    None (no figure) when ``by`` is constant in the population: its section says so instead.
    """
    from ensemble_helpers import plots

    frame = cohort.endpoint(endpoint)
    if by is not None and not populations.subgroup_applies(frame, by):
        return None
    p = cohort.params
    by_text = "" if by is None else " by " + in_sentence(by)
    kwargs.setdefault("title", label(endpoint) + by_text)
    return plots.km_plot(
        frame, "AVAL", "event", by=by, settings=p.settings, **kwargs,
    )


def distribution_figures(cohort: Any, by: str = "next_class") -> Any:
    """The continuous baseline variables by ``by`` (default the class of the first post-T-DXd
    regimen), drawn with seaborn (:mod:`ensemble_helpers.plots.distributions`, which imports it
    only then): age as box plots, prior lines as the share of each group at each count. None
    (the figures show themselves); one sentence instead when ``by`` is constant in the population.
    """
    from ensemble_helpers.plots import distributions

    applies = populations.subgroup_applies(cohort.adsl, by)
    if not applies:
        return note(f"No figures by {in_sentence(by)}: {applies.detail}.")
    s = cohort.params.settings
    distributions.box_plot(cohort.adsl, "age", by, settings=s, title=f"Age by class of the {in_sentence(by)}")
    distributions.count_plot(cohort.adsl, "prior_lines", by, top=6, settings=s,
                             title=f"Prior lines for metastatic disease by class of the {in_sentence(by)}")
    return None


def followup_figure(cohort: Any, by: str = "next_class") -> Any:
    """Observed follow-up (from the start of the first post-T-DXd regimen to death or last
    contact) by ``by``, as empirical cumulative distributions drawn with seaborn; one sentence
    instead when ``by`` is constant in the population."""
    from ensemble_helpers.plots import distributions

    applies = populations.subgroup_applies(cohort.adsl, by)
    if not applies:
        return note(f"No follow-up figure by {in_sentence(by)}: {applies.detail}.")
    distributions.ecdf_plot(cohort.endpoint("OS"), "AVAL", by, settings=cohort.params.settings,
                            title=f"Observed follow-up by class of the {in_sentence(by)}",
                            xlabel="Months from the start of the regimen to death or last contact",
                            what="observed follow-up")
    return None


def subgroup_section(cohort: Any, results: Any, variable: str) -> Any:
    """Medians, log-rank tests and hazard ratios of PFS and OS by ``variable``, as HTML tables.

    Runs :func:`ensemble_helpers.analysis.subgroup_analyses`, records the estimates in
    ``results`` and returns one displayable block. A variable with fewer than two levels with
    patients gets a note instead of tests; a variable constant in the population gets one
    sentence instead of the section (:func:`ensemble_helpers.populations.subgroup_applies`).
    """
    from ensemble_helpers import analysis, tables

    applies = populations.subgroup_applies(cohort.adsl, variable)
    if not applies:
        return note(applies.reason)
    p = cohort.params
    out = analysis.subgroup_analyses(cohort, variable)
    analysis.record_subgroups(results, out, variable, p.timepoints)
    parts = [tables.to_html(
        tables.endpoint_table(out["summaries"], settings=p.settings),
        caption=f"PFS and OS by {in_sentence(variable)}",
    )]
    by_text = f" by {in_sentence(variable)}"  # each section's tables named apart in the .docx/.xlsx files
    parts.append(tables.to_html(tables.logrank_table(out["logrank"]), caption="Log-rank test" + by_text))
    if out["hr"].empty:
        parts.append(f"<p>{html.escape('Fewer than two groups with patients: no hazard ratio.')}</p>")
    else:
        population = {ep: len(cohort.endpoint(ep)) for ep in out["hr"]["endpoint"].unique()}
        for adjusted, part in out["hr"].groupby("adjusted", sort=True):
            shown = part.assign(population=part["endpoint"].map(population))
            shown["term"] = [f"{label(e)}: {label(lvl)} vs {label(ref)}"
                             for e, lvl, ref in zip(shown["endpoint"], shown["level"], shown["reference"])]
            caption = (f"Cox hazard ratio{by_text} adjusted for {ADJUSTMENT_TEXT} (complete cases)" if adjusted
                       else f"Cox hazard ratio{by_text}, unadjusted")
            parts.append(tables.to_html(
                tables.hr_table(shown, settings=p.settings, show_counts=True),
                caption=caption,
            ))
        parts.append(tables.to_html(tables.ph_table(out["ph"]), caption=f"Proportional hazards (cox.zph){by_text}"))
    return _html("".join(parts))


def start(namespace: Any, params_file: str | None, notebook: str) -> tuple[Params, Any, Any]:
    """First step of every notebook: validate the parameters, load the cohort, set the theme,
    and collect the report's tables and figure files (:mod:`ensemble_helpers.export`).

    Parameters
    ----------
    namespace : Mapping
        The notebook's ``globals()`` (Papermill injected the parameters there).
    params_file : str or None
        The parameter file the batch runner passed, re-validated here.
    notebook : str
        Name recorded in ``results.json``.

    Returns
    -------
    (Params, Cohort, Results)
    """
    from ensemble_helpers import plots
    from ensemble_helpers.cohort import load_cohort
    from ensemble_helpers.params import parameters_from
    from ensemble_helpers.results import Results

    from ensemble_helpers import export

    params = parameters_from(namespace, params_file)
    cohort, _ = populations.shaped_cohort(load_cohort(params))  # empty levels out of every table
    _check_subgroup_data(params, cohort.adsl)
    plots.set_theme()
    export.start(export.Publication(notebook, params.output_path(), title=params.title,
                                    min_cell_size=params.settings.min_cell_size))
    return params, cohort, Results(notebook)


def _check_subgroup_data(params: Params, adsl: pd.DataFrame) -> None:
    """A ParameterError when a subgroup or comparison variable holds dates or too many distinct
    numbers to be a category (:func:`ensemble_helpers.disclosure.check_subgroup_column`): the
    parameter check knows names only."""
    from ensemble_helpers.disclosure import check_subgroup_column
    from ensemble_helpers.params import ParameterError

    uses = [("subgroup_variables", v) for v in params.subgroup_variables]
    uses += [("comparison.variable", params.comparison.variable)] if params.comparison else []
    for key, column in uses:
        reason = check_subgroup_column(adsl[column], column) if column in adsl else None
        if reason:
            raise ParameterError(params.source, key, reason)


def finish(params: Params, results: Any) -> list[Any]:
    """Last step of every notebook: write ``results.json`` and the report's table files.

    Writes ``<output_dir>/results.json`` and, when the report showed tables,
    ``<output_dir>/<notebook>.docx`` and ``<notebook>.xlsx`` (the figure files were written as the
    figures were shown). Returns the paths written.
    """
    from ensemble_helpers import export

    written = [results.write(params.output_path())]
    pub = export.current()
    if pub is not None:
        written += pub.write_tables()
    return written


def response_by(cohort: Any, results: Any, variable: str) -> Any:
    """ORR and disease control by ``variable`` as a table; the estimates go into ``results``.

    One sentence instead when no patient has measurable disease or ``variable`` is constant.
    """
    from ensemble_helpers import analysis, tables

    for applies in (populations.response_applies(cohort.adsl), populations.subgroup_applies(cohort.adsl, variable)):
        if not applies:
            return note(f"Response by {in_sentence(variable)}: not applicable, {applies.detail}.")
    p = cohort.params
    resp = analysis.response(cohort, by=variable)
    results.add_proportions(resp, variable=variable, analysis="response")
    caption = f"Response by {in_sentence(variable)}"
    return tables.display_table(
        tables.response_table(resp, settings=p.settings), caption=caption
    )


def top_regimens(cohort: Any, n: int = 10) -> pd.DataFrame:
    """The most frequent first post-T-DXd regimens (rare ones pooled, never named)."""
    from ensemble_helpers.tables import top_counts

    table = top_counts(cohort.adsl["next_regimen"], n=n, settings=cohort.settings)
    return table.rename(columns={"next_regimen": "Regimen"})


def ild_figure(cohort: Any) -> Any:
    """Cumulative incidence of ILD recurrence (death competing), or a note when events are few.

    With fewer than ``min_cell_size`` recurrences the curve's steps would show each one, so a
    note is returned instead; None when nobody stopped T-DXd for ILD (:func:`ild_rate` says so).
    None as well when the curve is drawn: the figure shows itself, as the cell's figure (returning
    its Axes would print ``<Axes: ...>`` in the report).
    """
    from ensemble_helpers import analysis, plots

    if not populations.ild_applies(cohort.adsl):
        return None  # ild_rate says why, once
    p = cohort.params
    ild = analysis.ild_population(cohort)
    events = int((ild["EVENT"] == 1).sum())
    if is_suppressed(events, p.min_cell_size) or len(ild) == 0:
        return note(f"Cumulative incidence not drawn: {suppress_count(events, p.min_cell_size)} ILD "
                    f"recurrence(s) (fewer than {p.min_cell_size}: each step would show one patient).")
    curve, _ = analysis.ild_cumulative_incidence(cohort)
    plots.cuminc_plot(curve, label="ILD recurrence (death competing)", durations=ild["AVAL"],
                      settings=p.settings, title="Cumulative incidence of ILD recurrence")
    return None


def ild_rate(cohort: Any, results: Any) -> Any:
    """Crude rate of ILD recurrence among the ILD stops as a table (recorded in ``results``), or
    one sentence when nobody in the population stopped T-DXd for ILD."""
    from ensemble_helpers import analysis, tables

    applies = populations.ild_applies(cohort.adsl)
    if not applies:
        return note(applies.reason)
    rate = analysis.ild_recurrence_rate(cohort)
    results.add_proportions(rate, variable="tdxd_discontinuation_reason", analysis="proportion")
    return tables.display_table(rate_table(rate, cohort.params), caption="ILD recurrence/exacerbation")


def ild_grades(cohort: Any) -> Any:
    """ILD grades among the patients who stopped T-DXd for ILD, or one sentence when none did."""
    from ensemble_helpers import analysis, tables

    applies = populations.ild_applies(cohort.adsl)
    if not applies:
        return note(applies.reason)
    adsl = cohort.adsl
    grades = analysis.frequencies(adsl[adsl["tdxd_discontinuation_reason"] == populations.ILD_REASON],
                                  "tdxd_ild_grade", dropna=True)
    return tables.display_table(frequency_table(grades, heading="ILD grade", settings=cohort.settings),
                                caption="ILD grade (T-DXd stopped for ILD)")


def response_overall(cohort: Any, results: Any) -> Any:
    """Best overall response (ORR, DCR) as a table recorded in ``results``, or one sentence when
    no patient in the population has measurable disease."""
    from ensemble_helpers import analysis, tables

    applies = populations.response_applies(cohort.adsl)
    if not applies:
        return note(applies.reason)
    p = cohort.params
    resp = analysis.response(cohort)
    results.add_proportions(resp, analysis="response")
    return tables.display_table(tables.response_table(resp, settings=p.settings),
                                caption="Best overall response")


def table_one(cohort: Any, by: str = "next_class") -> Any:
    """Table 1, by ``by`` unless it is constant in the population (then the Overall column only,
    with one sentence saying why). Variables missing for every patient are not rows; every
    variable with a missing value has a "Missing" row. With a ``comparison``, a second table: the
    two compared groups side by side with the standardised mean difference of each variable
    (flagged above 0.1)."""
    from ensemble_helpers import analysis, tables

    adsl = cohort.adsl
    split = populations.table_one_split(adsl, by)
    variables = [v for v in analysis.baseline_variables(adsl) if adsl[v].notna().any()]
    table = tables.table_one(adsl, split, variables, settings=cohort.settings)
    shown = tables.to_html(table, caption="Baseline characteristics")
    if split is None:
        shown = note(f"Overall column only: {populations.subgroup_applies(adsl, by).detail}.").data + shown
    comp = cohort.params.comparison
    if comp is not None:
        compared = adsl[comp.mask(adsl[comp.variable]).to_numpy()]
        groups = compared.assign(**{comp.variable: pd.Categorical(compared[comp.variable].astype(object),
                                                                  categories=list(comp.levels))})
        table = tables.table_one(groups, comp.variable, [v for v in variables if v != comp.variable], overall=False,
                                 smd=True, settings=cohort.settings)
        shown += tables.to_html(table, caption=f"Baseline characteristics: {label(comp.treatment)} vs "
                                               f"{label(comp.reference)} (standardised mean differences)")
    return _html(shown)


def forest_section(cohort: Any, results: Any, endpoint: str = "PFS") -> Any:
    """Hazard ratios across the subgroup variables as a forest plot, with one sentence naming
    the variables left out (constant in the population:
    :func:`ensemble_helpers.populations.subgroup_variables`).

    With a ``comparison``: the treatment-effect forest (the comparison's HR within each level,
    box size by inverse variance, interaction p per variable, the overall estimate on top;
    :func:`ensemble_helpers.comparison.subgroup_forest`), recorded in ``results``
    (``subgroup_hr``, ``interaction``) and shown as a table too. Without one: each level's HR
    versus the variable's first level (:func:`ensemble_helpers.analysis.forest_table`).
    """
    from ensemble_helpers import analysis, comparison, plots, tables

    p = cohort.params
    comp = p.comparison
    adsl = cohort.adsl if comp is None else cohort.adsl[comp.mask(cohort.adsl[comp.variable]).to_numpy()]
    exclude = [comp.variable] if comp is not None else []
    variables = populations.subgroup_variables(adsl, p.subgroup_variables, exclude=exclude)
    text = populations.left_out_note(populations.left_out_subgroups(adsl, p.subgroup_variables, exclude=exclude),
                                     "the forest plot")
    if not variables and comp is None:
        return note(text or "No subgroup variable.")
    name = label(endpoint)
    if comp is None:
        forest = analysis.forest_table(cohort, endpoint, variables)
        plots.forest_plot(forest, settings=p.settings, title=f"{name}: hazard ratio by subgroup")
        fits = [({"endpoint": endpoint, "model": label(v)}, analysis.hazard_model(cohort, endpoint, v)[1])
                for v in variables]
        ph = analysis.ph_tests(fits)
        shown = tables.to_html(tables.ph_table(ph), caption=f"{name}: proportional hazards of the forest plot's models")
        return _html((note(text).data if text else "") + shown)
    forest = comparison.subgroup_forest(cohort, endpoint, variables)
    comparison.record_forest(results, forest, endpoint)
    plots.forest_plot(forest, settings=p.settings, p_label="Interaction p",
                      title=f"{name}: {label(comp.treatment)} vs {label(comp.reference)} by subgroup",
                      xlabel=f"Hazard ratio ({label(comp.treatment)} vs {label(comp.reference)})")
    shown = tables.to_html(tables.subgroup_hr_table(forest, settings=p.settings),
                           caption=f"{name}: {label(comp.treatment)} vs {label(comp.reference)} within subgroups")
    return _html((note(text).data if text else "") + shown)


def comparison_section(cohort: Any, results: Any) -> Any:
    """The comparison's hazard ratio for PFS and OS, unadjusted and adjusted (N used and N
    excluded for a missing covariate), and the proportional-hazards tests of both models;
    recorded in ``results`` (``comparison_hr`` / ``comparison_hr_adjusted`` with group
    ``"<variable>=<compared level>"``, ``complete_case``, ``cox_zph``). One sentence when the
    parameter file has no comparison."""
    from ensemble_helpers import analysis, comparison, tables

    p = cohort.params
    comp = p.comparison
    if comp is None:
        return note("No comparison in this parameter file (parameter comparison).")
    hrs, fits = [], []
    for ep in ("PFS", "OS"):
        overall, ep_fits = comparison.overall_hr(cohort, ep, analysis.ADJUSTMENT)
        rows = overall.assign(endpoint=ep, variable=comp.variable, level=comp.treatment, reference=comp.reference,
                              adjusted=overall["model"] == "adjusted")
        hrs.append(rows)
        fits += [({"endpoint": ep, "model": m}, f) for m, f in ep_fits]
        for adjusted, part in rows.groupby("adjusted"):
            results.add_hr(part, ep, analysis="comparison_hr_adjusted" if adjusted else "comparison_hr")
            if adjusted:
                analysis.record_excluded(results, ep, f"{comp.variable} adjusted", int(part["n_excluded"].iloc[0]))
    ph = analysis.ph_tests(fits)
    analysis.record_ph(results, ph, comp.variable)
    hr = pd.concat(hrs, ignore_index=True)
    parts = []
    for adjusted, part in hr.groupby("adjusted", sort=True):
        caption = (f"Cox hazard ratio adjusted for {ADJUSTMENT_TEXT} (complete cases)" if adjusted
                   else "Cox hazard ratio, unadjusted")
        parts.append(tables.to_html(tables.hr_table(part, settings=p.settings,
                                                    show_counts=True), caption=caption))
    term_labels = {comparison.TREATED: f"{label(comp.treatment)} vs {label(comp.reference)}"}
    parts.append(tables.to_html(tables.ph_table(ph, term_labels), caption="Proportional hazards (cox.zph)"))
    return _html("".join(parts))


def comparison_ph_figure(cohort: Any, endpoint: str) -> Any:
    """Binned scaled Schoenfeld residuals of the comparison term of the unadjusted Cox model of
    ``endpoint`` (:func:`ensemble_helpers.plots.ph.schoenfeld_plot`); None without a comparison
    (:func:`comparison_section` says so)."""
    from ensemble_helpers import comparison, stats
    from ensemble_helpers.plots.ph import schoenfeld_plot

    comp = cohort.params.comparison
    if comp is None:
        return None
    _, fits = comparison.overall_hr(cohort, endpoint)
    fit = fits[0][1]
    coef = float(fit.table.loc[fit.table["term"] == comparison.TREATED, "coef"].iloc[0])
    name = f"{label(comp.treatment)} vs {label(comp.reference)}"
    return schoenfeld_plot(stats.cox_zph(fit), comparison.TREATED, coef, settings=cohort.settings,
                           term_label=name, title=f"{label(endpoint)}: {name}")


def adjusted_comparison(cohort: Any, results: Any) -> Any:
    """The "Adjusted comparison" section (issue 15.4): propensity-score weighting of the
    ``comparison`` (:func:`ensemble_helpers.adjust.compare`, weights from the parameter
    ``weighting``) with its diagnostics -- the propensity scores by group and the love plot
    (figures), effective sample sizes and extreme weights, standardised mean differences before and
    after weighting -- and the weighted medians and hazard ratios beside the unadjusted ones.
    Records ``iptw_hr``, ``iptw_km_median`` and ``smd`` (:func:`ensemble_helpers.adjust.record`).

    One sentence instead without a comparison, when a compared group has fewer than
    ``min_cell_size`` patients, or when the propensity model cannot be fitted.
    """
    from ensemble_helpers import adjust, analysis, tables
    from ensemble_helpers.plots.balance import love_plot, propensity_plot

    p = cohort.params
    comp = p.comparison
    if comp is None:
        return note("No comparison in this parameter file (parameter comparison): no adjusted comparison.")
    values = cohort.adsl[comp.variable]
    sizes = [int(comp.indicator(values).eq(code).sum()) for code in (1.0, 0.0)]
    if any(is_suppressed(n, p.min_cell_size) for n in sizes):
        return note(f"No adjusted comparison: a compared group has fewer than {p.min_cell_size} patients.")
    try:
        res = adjust.compare(cohort, comp.variable, comp.levels, p.weighting, adjustment=analysis.ADJUSTMENT)
    except adjust.AdjustmentError as exc:
        return note(f"No adjusted comparison: {exc}.", kind="warning")
    adjust.record(results, res, p.min_cell_size)
    shown = adjust.shown_balance(res, p.min_cell_size)
    propensity_plot(res.fit.scores, res.fit.treated, res.levels, settings=p.settings)
    love_plot(shown)
    name = f"{label(comp.treatment)} vs {label(comp.reference)}"
    parts = [
        tables.to_html(tables.weighted_estimates_table(res, settings=p.settings),
                       caption=f"{name}: unadjusted, covariate-adjusted and {p.weighting}-weighted estimates"),
        tables.to_html(tables.weight_summary_table(res.summary, settings=p.settings),
                       caption=f"Propensity scores and {p.weighting} weights by group"),
        tables.to_html(tables.balance_table(shown), caption="Standardised mean differences before and after weighting"),
    ]
    return _html("".join(parts))


# ----------------------------------------------------------------------------------------------
# the study's clinical questions (issue 17; computed by ensemble_helpers.clinical)


def _grouped_survival(cohort: Any, results: Any, res: Any, what: str) -> Any:
    """Record and show a :class:`ensemble_helpers.clinical.GroupedSurvival`: one sentence naming
    the groups too small to estimate, the Kaplan–Meier table, the log-rank test, the hazard ratios
    versus the stated reference and their proportional-hazards tests."""
    from ensemble_helpers import clinical, tables

    p = cohort.params
    clinical.record_survival_by(results, res, p.timepoints)
    parts = []
    hidden = clinical.withheld_sentence({"estimates": res.hidden}, p.min_cell_size)
    if hidden:
        parts.append(note(hidden).data)
    parts.append(tables.to_html(
        tables.endpoint_table(res.summaries, settings=p.settings),
        caption=f"PFS and OS by {what}"))
    if res.hr.empty:
        parts.append(note(f"Fewer than two groups with at least {p.min_cell_size} patients: no log-rank test or "
                          f"hazard ratio by {what}.").data)
        return _html("".join(parts))
    parts.append(tables.to_html(tables.logrank_table(res.logrank),
                                caption=f"Log-rank test by {what} (groups of at least {p.min_cell_size} patients)"))
    footnote = None
    if res.reference != res.preferred:
        footnote = (f"The stated reference, {label(res.preferred)}, has fewer than {p.min_cell_size} patients "
                    f"or none in this population: the reference here is {label(res.reference)}.")
    hr = tables.hr_table(res.hr, settings=p.settings, show_counts=True)
    hr = hr.rename(columns={tables.EXCLUDED: f"Left out (groups of fewer than {p.min_cell_size})"})
    parts.append(tables.to_html(
        hr,
        caption=f"Cox hazard ratio by {what} versus {label(res.reference)} (reference), unadjusted",
        footnote=footnote))
    parts.append(tables.to_html(tables.ph_table(res.ph), caption=f"Proportional hazards (cox.zph), by {what}"))
    return _html("".join(parts))


def response_stop_section(cohort: Any, results: Any) -> Any:
    """PFS and OS by response to T-DXd x reason it was stopped (``tdxd_response_by_stop``), hazard
    ratios versus responders who stopped for progression
    (:data:`ensemble_helpers.clinical.RESPONSE_REFERENCE`); recorded in ``results``. One sentence
    instead when the data file has no ``tdxd_best_response`` or the population has one group."""
    from ensemble_helpers import clinical

    variable = "tdxd_response_by_stop"
    applies = clinical.response_applies(cohort.adsl)
    if not applies:
        return note(f"PFS and OS by response to T-DXd cannot be shown: {applies.detail}.")
    applies = populations.subgroup_applies(cohort.adsl, variable)
    if not applies:
        return note(applies.reason)
    res = clinical.survival_by(cohort, variable, clinical.RESPONSE_REFERENCE)
    return _grouped_survival(cohort, results, res, in_sentence(variable))


def ild_grade_section(cohort: Any, results: Any) -> Any:
    """Among the patients who stopped T-DXd for ILD: PFS and OS by ILD grade group, hazard ratios
    versus grade 1 (:data:`ensemble_helpers.clinical.ILD_GRADE_REFERENCE`); one sentence when
    nobody stopped T-DXd for ILD."""
    from ensemble_helpers import clinical

    applies = populations.ild_applies(cohort.adsl)
    if not applies:
        return note(applies.reason)
    res = clinical.survival_by(clinical.ild_stops(cohort), "ild_grade_group", clinical.ILD_GRADE_REFERENCE)
    return _grouped_survival(cohort, results, res, "ILD grade (T-DXd stopped for ILD)")


def ild_km_figure(cohort: Any, endpoint: str) -> Any:
    """Kaplan–Meier curves of ``endpoint`` by ILD grade group among the ILD stops (:func:`km_figure`);
    None when nobody stopped for ILD or one grade group only (:func:`ild_grade_section` says so)."""
    from ensemble_helpers import clinical

    if not populations.ild_applies(cohort.adsl):
        return None
    return km_figure(clinical.ild_stops(cohort), endpoint, by="ild_grade_group",
                     title=f"{label(endpoint)} by ILD grade (T-DXd stopped for ILD)")


def anti_her2_after_ild(cohort: Any, results: Any) -> Any:
    """Share of the ILD stops re-treated with an anti-HER2 regimen (exact CI), overall and by ILD
    grade group, recorded in ``results`` (the overall share estimates the published 81.5%)."""
    from ensemble_helpers import clinical

    applies = populations.ild_applies(cohort.adsl)
    if not applies:
        return note(applies.reason)
    p = cohort.params
    share = clinical.anti_her2_share(clinical.ild_stops(cohort))
    clinical.record_rates(results, share, "ild_grade_group", "anti_her2", p.min_cell_size)
    return _rates_section(share, p, "Anti-HER2 regimen after T-DXd was stopped for ILD (exact CI)",
                          {"share": clinical.withheld(share, p.min_cell_size)})


def _rates_section(rates: pd.DataFrame, params: Params, caption: str, withheld: dict[str, list]) -> Any:
    """One sentence naming what is withheld (when anything is), then the rates table."""
    from ensemble_helpers import clinical, tables

    sentence = clinical.withheld_sentence(withheld, params.min_cell_size)
    table = tables.to_html(tables.response_table(rates, settings=params.settings), caption=caption)
    return _html((note(sentence).data if sentence else "") + table)


def ild_recurrence_section(cohort: Any, results: Any) -> None:
    """ILD recurrence among the ILD stops by ILD grade and by re-treatment with an anti-HER2
    regimen (:func:`ild_recurrence_by` for each); one sentence when nobody stopped T-DXd for ILD."""
    from IPython.display import display

    from ensemble_helpers import clinical

    applies = populations.ild_applies(cohort.adsl)
    if not applies:
        display(note(applies.reason))
        return
    for by in ("ild_grade_group", clinical.RETREATMENT):
        display(ild_recurrence_by(cohort, results, by))


def ild_recurrence_by(cohort: Any, results: Any, by: str) -> Any:
    """ILD recurrence among the ILD stops by ``by`` (``ild_grade_group`` or
    :data:`ensemble_helpers.clinical.RETREATMENT`): the crude
    rate and the cumulative incidence at the timepoints (death competing), exact / Aalen–Johansen
    CIs, recorded in ``results``; the cumulative incidence curves of the groups with at least
    ``min_cell_size`` patients and recurrences. One sentence names what cannot be shown."""
    from ensemble_helpers import clinical, plots

    applies = populations.ild_applies(cohort.adsl)
    if not applies:
        return note(applies.reason)
    p = cohort.params
    ild = clinical.ild_stops(cohort)
    rates = clinical.recurrence_rates(ild, by)
    curve, at = clinical.recurrence_incidence(ild, by)
    clinical.record_rates(results, rates, by, clinical.RECURRENCE_MEASURE, p.min_cell_size)
    clinical.record_incidence(results, at, by, p.timepoints, p.min_cell_size)
    both = pd.concat([rates, at], ignore_index=True)
    drawn = clinical.drawable_groups(rates, p.min_cell_size)
    levels = [g for g in rates["group"] if str(g) != "Overall"]
    what = in_sentence(by).replace(" (T-DXd stopped for ILD)", "")
    if drawn:
        frame = ild.endpoint("ILDREC")
        plots.cuminc_plot(curve[curve["group"].isin(drawn)], settings=p.settings,
                          durations={g: frame.loc[(frame[by] == g).to_numpy(), "AVAL"].to_numpy() for g in drawn},
                          title=f"ILD recurrence by {what}")
    return _rates_section(both, p, f"ILD recurrence by {what} (T-DXd stopped for ILD)",
                          {"rates": clinical.withheld(both, p.min_cell_size),
                           "cumulative incidence curve": [g for g in levels if g not in drawn]})
