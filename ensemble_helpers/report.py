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

from ensemble_helpers import __version__
from ensemble_helpers.labels import label
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


def _html(text: str) -> Any:
    from IPython.display import HTML

    return HTML(text)


def header(params: Params) -> Any:
    """The report header: population title, filters, confidence settings (escaped HTML).

    The data file is named by its file name only, never its folder.
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
    return _html(f"<table style='font-size:0.9em;margin-bottom:1em'>{body}</table>")


def note(text: str, kind: str = "info") -> Any:
    """A short highlighted note (escaped), e.g. 'too few patients for this analysis'."""
    colour = {"info": "#eef4fb", "warning": "#fff4e5"}.get(kind, "#eef4fb")
    return _html(
        f"<div style='background:{colour};padding:0.5em 0.8em;border-radius:4px;margin:0.5em 0'>"
        f"{html.escape(text)}</div>"
    )


def km_figure(cohort: Any, endpoint: str, by: str | None = None, **kwargs: Any) -> Any:
    """Kaplan–Meier figure of one endpoint of a cohort, with the parameter file's settings."""
    from ensemble_helpers import plots

    p = cohort.params
    by_text = "" if by is None else " by " + label(by)[:1].lower() + label(by)[1:]
    kwargs.setdefault("title", label(endpoint) + by_text)
    return plots.km_plot(
        cohort.endpoint(endpoint), "AVAL", "event", by=by, conf_level=p.conf_level,
        ci_transform=p.ci_transform, min_cell_size=p.min_cell_size, **kwargs,
    )


def subgroup_section(cohort: Any, results: Any, variable: str) -> Any:
    """Medians, log-rank tests and hazard ratios of PFS and OS by ``variable``, as HTML tables.

    Runs :func:`ensemble_helpers.analysis.subgroup_analyses`, records the estimates in
    ``results`` and returns one displayable block. A variable with fewer than two levels with
    patients gets a note instead of tests.
    """
    from ensemble_helpers import analysis, tables

    p = cohort.params
    out = analysis.subgroup_analyses(cohort, variable)
    analysis.record_subgroups(results, out, variable, p.timepoints)
    parts = [tables.to_html(
        tables.endpoint_table(out["summaries"], timepoints=p.timepoints, conf_level=p.conf_level,
                              min_cell_size=p.min_cell_size),
        caption=f"PFS and OS by {label(variable)[:1].lower() + label(variable)[1:]}",
    )]
    parts.append(tables.to_html(tables.logrank_table(out["logrank"]), caption="Log-rank test"))
    if out["hr"].empty:
        parts.append(f"<p>{html.escape('Fewer than two groups with patients: no hazard ratio.')}</p>")
    else:
        for adjusted, part in out["hr"].groupby("adjusted", sort=True):
            shown = part.copy()
            shown["term"] = [f"{label(e)}: {label(lvl)} vs {label(ref)}"
                             for e, lvl, ref in zip(shown["endpoint"], shown["level"], shown["reference"])]
            caption = ("Cox hazard ratio adjusted for age, ECOG, hormone receptor, visceral and brain metastasis, "
                       "prior lines" if adjusted else "Cox hazard ratio, unadjusted")
            parts.append(tables.to_html(
                tables.hr_table(shown, conf_level=p.conf_level, min_cell_size=p.min_cell_size, show_counts=True),
                caption=caption,
            ))
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
    cohort = load_cohort(params)
    plots.set_theme()
    export.start(export.Publication(notebook, params.output_path(), title=params.title,
                                    min_cell_size=params.min_cell_size))
    return params, cohort, Results(notebook)


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
    """ORR and disease control by ``variable`` as a table; the estimates go into ``results``."""
    from ensemble_helpers import analysis, tables

    p = cohort.params
    resp = analysis.response(cohort, by=variable)
    results.add_proportions(resp, variable=variable, analysis="response")
    caption = f"Response by {label(variable)[:1].lower() + label(variable)[1:]}"
    return tables.display_table(
        tables.response_table(resp, conf_level=p.conf_level, min_cell_size=p.min_cell_size), caption=caption
    )


def top_regimens(cohort: Any, n: int = 10) -> pd.DataFrame:
    """The most frequent first post-T-DXd regimens (rare ones pooled, never named)."""
    from ensemble_helpers.tables import top_counts

    table = top_counts(cohort.adsl["next_regimen"], n=n, min_cell_size=cohort.params.min_cell_size)
    return table.rename(columns={"next_regimen": "Regimen"})


def ild_figure(cohort: Any) -> Any:
    """Cumulative incidence of ILD recurrence (death competing), or a note when events are few.

    With fewer than ``min_cell_size`` recurrences the curve's steps would show each one, so a
    note is returned instead.
    """
    from ensemble_helpers import analysis, plots

    p = cohort.params
    ild = analysis.ild_population(cohort)
    events = int((ild["EVENT"] == 1).sum())
    if is_suppressed(events, p.min_cell_size) or len(ild) == 0:
        return note(f"Cumulative incidence not drawn: {suppress_count(events, p.min_cell_size)} ILD "
                    f"recurrence(s) (fewer than {p.min_cell_size}: each step would show one patient).")
    curve, _ = analysis.ild_cumulative_incidence(cohort)
    return plots.cuminc_plot(curve, label="ILD recurrence (death competing)", durations=ild["AVAL"],
                             min_cell_size=p.min_cell_size, title="Cumulative incidence of ILD recurrence")
