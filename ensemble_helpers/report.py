"""Small display pieces the notebooks share: a report header, notes, formatted frequency tables.

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
from ensemble_helpers.privacy import is_suppressed, suppress_count, suppress_count_pct
from ensemble_helpers.tables import ci_name


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
        ("Small counts", f"1–{params.min_cell_size - 1} shown as <{params.min_cell_size}"
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


def frequency_table(freq: pd.DataFrame, min_cell_size: int | None, heading: str = "Category") -> pd.DataFrame:
    """Format :func:`ensemble_helpers.describe.frequencies` output as ``n (%)`` with suppression."""
    total = int(freq["n"].sum())
    return pd.DataFrame(
        {
            heading: [label(v) for v in freq["level"]],
            "n (%)": [suppress_count_pct(int(k), total, min_cell_size) for k in freq["n"]],
        }
    )


def attrition_table(attrition: pd.DataFrame, min_cell_size: int | None) -> pd.DataFrame:
    """The attrition steps with suppressed counts."""
    return pd.DataFrame(
        {
            "Step": attrition["step"],
            "Patients remaining": [suppress_count(int(k), min_cell_size) for k in attrition["n"]],
            "Excluded at this step": [suppress_count(int(k), min_cell_size) for k in attrition["excluded"]],
        }
    )


def published_table(comparison: pd.DataFrame, conf_level: float = 0.95, min_cell_size: int | None = 5) -> pd.DataFrame:
    """Format :func:`ensemble_helpers.published.compare_published` output for display.

    An estimate whose ``n`` or ``events`` is suppressed by ``min_cell_size`` is not shown: a
    proportion and its exact CI give the count back.
    """

    def fmt(value: float, unit: str) -> str:
        if pd.isna(value):
            return "—"
        if unit == "proportion":
            return f"{100 * value:.1f}%"
        if unit == "count":
            return f"{value:.0f}"
        return f"{value:.1f}"

    def hidden(row: dict) -> bool:
        return any(is_suppressed(row.get(k), min_cell_size) for k in ("n", "events"))

    out = []
    for row in comparison.to_dict("records"):
        ci = "" if pd.isna(row["lower"]) else f" ({fmt(row['lower'], row['unit'])}–{fmt(row['upper'], row['unit'])})"
        this_run = fmt(row["estimate"], row["unit"]) + (ci if not pd.isna(row["estimate"]) else "")
        within = {True: "yes", False: "no", None: "—"}[row["within_ci"]]
        if hidden(row):
            this_run, within = f"not shown (count <{min_cell_size})", "—"
        out.append(
            {
                "Figure": row["label"],
                "Published": fmt(row["published"], row["unit"]),
                f"This run ({ci_name(conf_level)})": this_run,
                "Published value inside this run's CI": within,
            }
        )
    return pd.DataFrame(out)


def site_table(sites: pd.DataFrame, min_cell_size: int | None) -> pd.DataFrame:
    """Format :func:`ensemble_helpers.describe.site_summary` (no site is named)."""
    row = sites.iloc[0]
    if not row.get("sites"):
        return pd.DataFrame({"Measure": ["Sites"], "Value": ["0"]})
    return pd.DataFrame(
        {
            "Measure": ["Sites", "Patients", "Patients per site, median (IQR)", "Sites with a single patient"],
            "Value": [
                f"{int(row['sites'])}",
                suppress_count(int(row["patients"]), min_cell_size),
                f"{row['median']:g} ({row['q1']:g}–{row['q3']:g})",
                suppress_count(int(row["single_patient_sites"]), min_cell_size),
            ],
        }
    )


def followup_table(fu: pd.DataFrame, conf_level: float, min_cell_size: int | None) -> pd.DataFrame:
    """Format :func:`ensemble_helpers.stats.followup_median` output."""
    from ensemble_helpers.tables import format_estimate

    row = fu.iloc[0]
    return pd.DataFrame(
        {
            "Patients": [suppress_count(int(row["n"]), min_cell_size)],
            f"Median follow-up, months ({ci_name(conf_level)})": [
                format_estimate(row["median"], row["median_lower"], row["median_upper"])
            ],
        }
    )


def rate_table(rate: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Format a crude rate (``measure``, ``successes``, ``n``, ``estimate``, ``lower``, ``upper``).

    The rate of a suppressed count is left blank: rate x patients (or its exact CI) gives it back.
    """
    from ensemble_helpers.tables import format_pct

    m = params.min_cell_size
    return pd.DataFrame(
        {
            "Measure": [str(x) for x in rate["measure"]],
            "Events / patients": [
                f"{suppress_count(int(k), m)} / {suppress_count(int(n), m)}" for k, n in zip(rate["successes"], rate["n"])
            ],
            f"Rate ({ci_name(params.conf_level)}, exact)": [
                "" if is_suppressed(k, m) or is_suppressed(n, m) else format_pct(e, lo, hi)
                for k, n, e, lo, hi in zip(rate["successes"], rate["n"], rate["estimate"], rate["lower"], rate["upper"])
            ],
        }
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
    lr = out["logrank"]
    parts.append(tables.to_html(
        pd.DataFrame({
            "Endpoint": [label(e) for e in lr["endpoint"]],
            "Log-rank chi-square (df)": [
                "not estimable" if pd.isna(s) else f"{s:.2f} ({int(d)})" for s, d in zip(lr["statistic"], lr["df"])
            ],
            "p": [tables.format_p(x) for x in lr["p"]],
        }),
        caption="Log-rank test",
    ))
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
