"""Kaplan-Meier curves with a number-at-risk table (:func:`km_plot`).

The arithmetic is :mod:`ensemble_helpers.stats`' (one implementation for tables and figures, so
a legend's median is the table's median); this module only draws it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes

from ensemble_helpers import labels as _labels
from ensemble_helpers.params import KM_ANNOTATIONS
from ensemble_helpers.privacy import suppress_count
from ensemble_helpers import stats as _stats
from ensemble_helpers.formats import format_estimate
from ensemble_helpers.plots._figure import (
    _draw_at_risk,
    _finish,
    _fit_margins,
    _grow_to_fit,
    _new_axes,
    _place_texts,
    _time_axis,
    _time_ticks,
    _wrap,
)
from ensemble_helpers.plots.style import DOUBLE_COLUMN, SINGLE_COLUMN, column_rc, group_colors, theme
from ensemble_helpers.settings import takes_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _KM:
    """Kaplan–Meier curve of one group at its distinct times (a slice of ``stats.km_curve``)."""

    n: int
    times: np.ndarray  # every distinct time (events and censorings), ascending
    n_risk: np.ndarray  # number with duration >= times
    event_time: np.ndarray  # distinct event times
    surv: np.ndarray  # S(t) just after each event time
    lower: np.ndarray
    upper: np.ndarray
    censor_time: np.ndarray  # distinct censoring times
    censor_surv: np.ndarray
    n_event: np.ndarray  # events at each of ``times``

    @property
    def max_time(self) -> float:
        return float(self.times[-1])

    def at_risk(self, ticks: np.ndarray) -> np.ndarray:
        """Number with duration >= t (R's number at risk at t)."""
        idx = np.searchsorted(self.times, ticks, side="left")
        return np.where(idx < self.times.size, self.n_risk[np.minimum(idx, self.times.size - 1)], 0).astype(np.int64)

    def events_by(self, ticks: np.ndarray) -> np.ndarray:
        """Cumulative number of events at times <= t."""
        cum = np.r_[0, np.cumsum(self.n_event)]
        return cum[np.searchsorted(self.times, ticks, side="right")].astype(np.int64)


def _km(curve: pd.DataFrame) -> _KM:
    """One group's rows of :func:`ensemble_helpers.stats.km_curve` as arrays for drawing."""
    times = curve["time"].to_numpy()
    n_risk = curve["n_at_risk"].to_numpy()
    surv = curve["estimate"].to_numpy()
    ev = curve["n_event"].to_numpy() > 0
    cens = curve["n_censor"].to_numpy() > 0
    return _KM(
        n=int(n_risk[0]),
        times=times,
        n_risk=n_risk,
        event_time=times[ev],
        surv=surv[ev],
        lower=curve["lower"].to_numpy()[ev],
        upper=curve["upper"].to_numpy()[ev],
        censor_time=times[cens],
        censor_surv=surv[cens],
        n_event=curve["n_event"].to_numpy(),
    )


def _thin(times: np.ndarray, values: np.ndarray, xmax: float, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """At most one point per 1/bins of the x range (keeps the first of each bin)."""
    if times.size <= bins or xmax <= 0:
        return times, values
    b = np.minimum((times / xmax * bins).astype(np.int64), bins)
    _, first = np.unique(b, return_index=True)
    return times[first], values[first]


def _step_points(km: _KM, max_points: int, xmax: float) -> tuple[np.ndarray, ...]:
    """x, S, lower, upper of the curve from 0 to the last follow-up, thinned to ``max_points``."""
    t, s, lo, hi = km.event_time, km.surv, km.lower, km.upper
    if t.size > max_points and xmax > 0:
        # keep the last event of each 1/max_points of the x range: the step heights stay exact at
        # the kept times; steps closer than a pixel merge into one
        b = np.minimum((t / xmax * max_points).astype(np.int64), max_points)
        last = np.r_[np.flatnonzero(b[1:] != b[:-1]), t.size - 1]
        t, s, lo, hi = t[last], s[last], lo[last], hi[last]
    end = max(km.max_time, float(t[-1]) if t.size else 0.0)
    s_end = s[-1] if s.size else 1.0
    x = np.r_[0.0, t, end]
    y = np.r_[1.0, s, s_end]
    ylo = np.r_[1.0, lo, lo[-1] if lo.size else 1.0]
    yhi = np.r_[1.0, hi, hi[-1] if hi.size else 1.0]
    return x, y, ylo, yhi


#: Values of ``annotation``: those of the parameter ``km_annotation``.
ANNOTATIONS = KM_ANNOTATIONS


def _annotation(df: pd.DataFrame, duration: str, event: str, by: str, levels: list[Any], kind: str,
                conf_level: float, min_cell_size: int | None) -> str:
    """The log-rank p or the hazard ratios (95% CI) vs the first group, of the groups drawn."""
    from ensemble_helpers.formats import format_p

    if kind == "none" or len(levels) < 2:
        return ""
    data = df.loc[df[by].isin(levels), [duration, event, by]]
    data = data.assign(**{by: pd.Categorical(data[by].astype(object), categories=levels)})
    if kind == "logrank":
        test = _stats.logrank(data, duration, event, by)
        p = float(test["p"].iloc[0])
        if not np.isfinite(p):
            return ""
        text = format_p(p)  # "0.012", "<0.001", ">0.999"
        return f"Log-rank p {text[0]} {text[1:]}" if text[0] in "<>" else f"Log-rank p = {text}"
    hr = _stats.cox_hr(data, duration, event, [by], reference={by: levels[0]}, conf_level=conf_level)
    head = f"HR ({conf_level:.0%} CI) vs {_labels.label(levels[0])}"
    lines = [head]
    for rec in hr.to_dict("records"):
        value = format_estimate(rec["hr"], rec["hr_lower"], rec["hr_upper"], digits=2, na="NE")
        lines.append(f"{_labels.label(rec['level'])}: {value}" if len(levels) > 2 else value)
    return "\n".join(lines) if len(levels) > 2 else f"{head}: {lines[1]}"


def _legend_above(ax: Axes, ncol: int, title: str | None, available: float | None) -> Any:
    """The legend over the plot, outside the axes; in a new figure (``available``: inches from
    the plot's left edge to the figure's right edge) one column when two do not fit, and each
    entry on two lines ("name (n)" / "median (CI)") when one line does not fit."""
    def draw(columns: int) -> Any:
        return ax.legend(loc="lower left", bbox_to_anchor=(0, 1), borderaxespad=0.3, ncols=columns, title=title,
                         alignment="left", handlelength=1.6, columnspacing=1.6)

    leg = draw(ncol)
    if available is None:
        return leg
    fig = ax.figure
    renderer = fig.canvas.get_renderer()

    def too_wide(legend: Any) -> bool:
        return legend.get_window_extent(renderer).width / fig.dpi > available

    if ncol > 1 and too_wide(leg):
        leg.remove()
        leg = draw(1)
    if too_wide(leg):
        for text in leg.get_texts():
            text.set_text(text.get_text().replace("): ", "):\n", 1))
        for line in ax.get_lines():
            if line.get_gid() == "km_curve":
                line.set_label(line.get_label().replace("): ", "):\n", 1))
        leg.remove()
        leg = draw(1)
    return leg


@takes_settings
def km_plot(
    df: pd.DataFrame,
    duration: str,
    event: str,
    by: str | None = None,
    ax: Axes | None = None,
    *,
    conf_level: float = 0.95,
    ci_transform: str = "log-log",
    ci: bool = True,
    annotation: str = "logrank",
    censor_ticks: bool = True,
    show_median: bool = True,
    at_risk: bool = True,
    cumulative_events: bool = False,
    tick_every: float = 3,
    xmax: float | None = None,
    min_cell_size: int | None = None,
    title: str | None = None,
    xlabel: str = "Months",
    ylabel: str = "Survival probability",
    summary: pd.DataFrame | None = None,
    legend_loc: str | None = None,
    width: float = DOUBLE_COLUMN,
    max_points: int = 4000,
) -> Axes:
    """Kaplan–Meier curves with CI bands, censoring marks, medians, the log-rank p or hazard
    ratios, and the numbers at risk (optionally the cumulative events) under the plot.

    Parameters
    ----------
    df : DataFrame
        One row per patient.
    duration : str
        Time column (months, >= 0).
    event : str
        Event indicator: 1/True = event, 0/False = censored (other values are an error; use
        :func:`cuminc_plot` for competing events).
    by : str, optional
        Group column; groups in category order (else sorted), empty groups are skipped and rows
        with a missing group left out (both logged). ``None`` draws one curve, "Overall".
    ax : Axes, optional
        Where to draw; by default a new figure ``width`` inches wide, as tall as its parts need.
        The at-risk table is a new axes appended under ``ax`` (``label == "at_risk"``), sharing
        its x axis; the cumulative events another under it (``label == "events"``).
    conf_level, ci_transform : float, str
        Confidence level and transform ("log-log" as R's ``conf.type = "log-log"``, "log",
        "plain") of the pointwise CI and of the median's CI.
    ci : bool
        Draw the pointwise CI of each curve as a step ribbon (the parameter ``km_ci_bands``).
    annotation : {"logrank", "hr", "none"}
        With two or more groups drawn, in a corner of the plot free of curves: the log-rank
        p-value (R ``survdiff``), or the Cox hazard ratio with its CI of each group against the
        first group drawn (Efron ties, as R ``coxph``), or nothing (the parameter
        ``km_annotation``). Computed on the groups drawn (those of at least ``min_cell_size``
        patients), as the report's hazard-ratio tables are.
    censor_ticks : bool
        Mark censoring times with "+" (at distinct censoring times; at most one per 1/150 of the
        x range, 1/90 in a single-column figure, as closer marks overlap anyway).
    show_median : bool
        Median with CI in the legend ("NR" = not reached) and dashed lines at S = 0.5.
    at_risk : bool
        Number-at-risk table under the plot, one row per group in its colour, one column per x
        tick.
    cumulative_events : bool
        A second table under it: the cumulative number of events at each x tick.
    tick_every : float
        Spacing of the x ticks and table columns (doubled until they fit the width: at most 14,
        fewer in a narrow figure).
    xmax : float, optional
        Right end of the x axis; default the longest follow-up rounded up to a tick.
    min_cell_size : int, optional
        Groups with fewer patients are not drawn (their curve would show each one's event
        time; a note names them); counts from 1 to ``min_cell_size - 1`` in the tables and
        group sizes are shown as ``<min_cell_size`` (:func:`ensemble_helpers.privacy.suppress_count`).
    title, xlabel, ylabel : str
        Texts (``title`` goes through :func:`ensemble_helpers.labels.label`, so "PFS" works; it
        is wrapped to the figure's width).
    summary : DataFrame, optional
        ``stats.km_summary_by`` output (``group``, ``n``, ``median``, ``median_lower``,
        ``median_upper``) to print in the legend instead of this function's own estimates, so
        that figure and table show the same numbers.
    legend_loc : str, optional
        ``"above"`` (default: over the plot, outside the axes, so it never covers a curve) or a
        matplotlib location inside the axes (e.g. ``"upper right"``).
    width : float
        Width of a new figure, inches: :data:`~ensemble_helpers.plots.style.DOUBLE_COLUMN`
        (180 mm, default) or :data:`~ensemble_helpers.plots.style.SINGLE_COLUMN` (85 mm), where
        fonts are 1–2 pt smaller (:func:`~ensemble_helpers.plots.style.column_rc`), the legend
        is one column and the x ticks fewer. Printed at that width, no text is under 7 pt (the
        at-risk digits may go down to 5.5 pt only when very long counts would touch).
    max_points : int
        Most steps drawn per curve (steps closer than the x range / max_points merge).

    Returns
    -------
    Axes
        The curves' axes.

    Raises
    ------
    ensemble_helpers.stats.StatsInputError
        (a ValueError) A column is missing, a duration is negative, an event is not 0/1, or
        ``conf_level`` / ``ci_transform`` is invalid. Rows with a missing duration or event are
        left out, as in :func:`ensemble_helpers.stats.km_summary_by`.
    ValueError
        ``annotation`` is not one of :data:`ANNOTATIONS`.
    KeyError
        ``summary`` has no row for a plotted group.
    """
    call = dict(locals())  # to draw the same figure at a single-column width (its 85 mm file)
    if annotation not in ANNOTATIONS:
        raise ValueError(f"km_plot: annotation must be one of {ANNOTATIONS} (got {annotation!r})")
    # the curves are stats.km_curve's (same validation and missing-value rule as
    # stats.km_summary_by: rows missing the duration or event are left out; negative times and
    # events other than 0/1 are errors); this function only draws them
    curve = _stats.km_curve(df, duration, event, by=by, conf_level=conf_level, ci_transform=ci_transform)
    if by is not None:
        n_missing = int((df[by].isna() & df[duration].notna() & df[event].notna()).sum())
        if n_missing:
            logger.info("km_plot: %d row(s) with a missing %s left out", n_missing, by)
    levels = list(curve["group"].cat.categories)
    bounds = np.searchsorted(curve["group"].cat.codes.to_numpy(), np.arange(len(levels) + 1))
    fits: list[tuple[Any, _KM]] = []
    too_small: list[Any] = []
    for code, level in enumerate(levels):
        lo, hi = int(bounds[code]), int(bounds[code + 1])
        if hi == lo:
            logger.info("km_plot: group %s=%s has no patients and is not drawn", by, level)
            continue
        km = _km(curve.iloc[lo:hi])
        if min_cell_size is not None and km.n < min_cell_size:
            # the curve of so few patients would show each one's event time
            too_small.append(level)
            continue
        fits.append((level, km))
    created = ax is None
    rc = column_rc(width) if created else {}
    if not fits and too_small:
        with theme(**rc):
            if ax is None:
                ax = _new_axes((width, 1.2 if width < 4.5 else 1.5))
                if width > SINGLE_COLUMN:
                    ax.figure.report_variants = {"85mm": lambda: km_plot(**{**call, "width": SINGLE_COLUMN})}
            ax.set_axis_off()
            head = _labels.label(title) if title else None
            if head:
                ax.set_title(_wrap(head, width - 0.3, mpl.rcParams["axes.titlesize"]), loc="left")
            note = f"Too few patients to draw a curve (fewer than {min_cell_size} per group)."
            ax.text(0.0, 0.5, _wrap(note, width - 0.3, mpl.rcParams["font.size"]),
                    transform=ax.transAxes, va="center", gid="km_too_few")
            return _finish(ax, created, kind="Kaplan–Meier curves", title=head or ylabel, details=note)
    if not fits:
        raise ValueError(f"km_plot: no patient to plot ({len(df)} rows, none with a duration, an event"
                         f"{' and a ' + by if by else ''})")

    colors = group_colors([lvl for lvl, _ in fits])
    if summary is None and show_median:
        # the legend prints the table's numbers: stats.km_summary(_by), same arithmetic as the curve
        if by is None:
            summary = _stats.km_summary(df[duration], df[event], conf_level=conf_level,
                                        ci_transform=ci_transform, timepoints=()).assign(group=levels[0])
        else:
            summary = _stats.km_summary_by(df, duration, event, by, conf_level=conf_level,
                                           ci_transform=ci_transform, timepoints=(), overall=False)
    by_group = None
    if summary is not None:
        by_group = {str(g): rec for g, rec in zip(summary["group"], summary.to_dict("records"))}
    names = {lvl: (_labels.label(lvl) if by is not None else "Overall") for lvl, _ in fits}
    annotation_text = (_annotation(df, duration, event, by, [lvl for lvl, _ in fits], annotation, conf_level,
                                   min_cell_size) if by is not None else "")

    with theme(**rc):
        narrow = bool(rc)
        ncol = 1 if len(fits) <= 3 or narrow else 2
        n_tables = (1 if at_risk else 0) + (1 if cumulative_events else 0)
        head = _labels.label(title) if title else None
        if head:
            head = _wrap(head, width - 0.25, mpl.rcParams["axes.titlesize"])
        if created:
            row_in = 0.2 if narrow else 0.24
            legend_rows = math.ceil(len(fits) / ncol) + (1 if show_median else 0)
            title_in = (0.22 * (head.count("\n") + 1) + 0.13) if head else 0.1
            plot_in = min(3.3, max(1.9, 0.52 * width))
            height = title_in + (0.17 if narrow else 0.19) * legend_rows + plot_in + 0.15
            height += (n_tables * (0.3 + row_in * len(fits) + 0.08) + 0.5 + 0.15 * (n_tables - 1)
                       if n_tables else 0.6)
            ax = _new_axes((width, height))
            if width > SINGLE_COLUMN:
                ax.figure.report_variants = {"85mm": lambda: km_plot(**{**call, "width": SINGLE_COLUMN})}
        # rows of the tables named by colour bars when their labels would take a quarter of the width
        label_in = max(len(n) for n in names.values()) * 0.6 * mpl.rcParams["ytick.labelsize"] / 72 + 0.2
        swatches = created and label_in > width / 4
        if swatches:
            label_in = 0.45
        # x ticks: fewer when the plot is narrow (a table column needs ~0.3 in for "<5" or "123")
        max_ticks = 14 if not created else max(4, min(14, int((width - max(label_in, 0.6) - 0.3) / 0.3)))
        ticks, x_end = _time_ticks(max(km.max_time for _, km in fits), tick_every, xmax, max_ticks=max_ticks)
        medians = []
        obstacles: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        line_width = 1.4 if narrow else 1.7
        for level, km in fits:
            color = colors[level]
            n_text = suppress_count(km.n, min_cell_size)
            legend = f"{names[level]} (n={n_text})"
            med = (math.nan, math.nan, math.nan)
            if by_group is not None:
                rec = by_group.get(str(level))
                if rec is None:
                    raise KeyError(f"km_plot: summary has no row for group {level!r} "
                                   f"(groups: {list(by_group)})")
                med = (rec["median"], rec["median_lower"], rec["median_upper"])
            if show_median:
                legend += f": {format_estimate(*med, digits=1)}"
            x, y, ylo, yhi = _step_points(km, max_points, x_end)
            ax.step(x, y, where="post", color=color, lw=line_width, label=legend, gid="km_curve", zorder=3)
            obstacles.append((x, y, y))
            if ci:
                ok = ~np.isnan(ylo) & ~np.isnan(yhi)
                ax.fill_between(x[ok], ylo[ok], yhi[ok], step="post", color=color, alpha=0.15, lw=0,
                                gid="km_ci", zorder=2)
                obstacles.append((x[ok], ylo[ok], yhi[ok]))
            if censor_ticks and km.censor_time.size:
                ct, cs = _thin(km.censor_time, km.censor_surv, x_end, bins=90 if narrow else 150)
                ax.plot(ct, cs, ls="none", marker="+", ms=mpl.rcParams["lines.markersize"], mew=1.0 if narrow else 1.1,
                        color=color, gid="km_censor", zorder=4)
            if show_median and np.isfinite(med[0]) and med[0] <= x_end:
                medians.append((float(med[0]), color))
        if medians:
            right = max(m for m, _ in medians)
            ax.plot([0, right], [0.5, 0.5], ls=(0, (4, 3)), lw=0.9, color="0.45", gid="km_median", zorder=1)
            obstacles.append((np.array([0.0, right]), np.array([0.5, np.nan]), np.array([0.5, np.nan])))
            for m, color in medians:
                ax.plot([m, m], [0, 0.5], ls=(0, (4, 3)), lw=0.9, color=color, gid="km_median", zorder=1)
                obstacles.append((np.array([m, m + 1e-9 * max(x_end, 1)]), np.array([0.0, np.nan]),
                                  np.array([0.5, np.nan])))
        _time_axis(ax, ticks, x_end, xlabel, ylabel)
        ax.set_ylim(-0.02, 1.03)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.1f}"))
        legend_title = f"Median, {xlabel.lower()} ({conf_level * 100:g}% CI)" if show_median else None
        above = legend_loc in (None, "above")
        if above:  # outside, over the plot (as survminer's default): never covers a curve
            leg = _legend_above(ax, ncol, legend_title, width - max(label_in, 0.6) - 0.1 if created else None)
        else:
            leg = ax.legend(loc=legend_loc, ncols=ncol, title=legend_title, alignment="left", handlelength=1.6)
        if head:
            pad_pt = 8.0
            if above:
                fig = ax.figure
                pad_pt += leg.get_window_extent(fig.canvas.get_renderer()).height * 72.0 / fig.dpi
            ax.set_title(head, pad=pad_pt, loc="left")
        extra = []
        if at_risk:
            rows = [(names[lvl], colors[lvl], km.at_risk(ticks)) for lvl, km in fits]
            extra.append(_draw_at_risk(ax, ticks, rows, min_cell_size, swatches=swatches))
        if cumulative_events:
            rows = [(names[lvl], colors[lvl], km.events_by(ticks)) for lvl, km in fits]
            extra.append(_draw_at_risk(ax, ticks, rows, min_cell_size, "Cumulative number of events",
                                       label="events", pad=0.3 if extra else 0.78, swatches=swatches,
                                       divider=extra[0].table_divider if extra else None))
        not_drawn = (f"Not drawn (fewer than {min_cell_size} patients): "
                     f"{', '.join(_labels.label(lvl) for lvl in too_small)}") if too_small else ""
        if not_drawn and created:
            not_drawn = _wrap(not_drawn, 0.6 * (width - max(label_in, 0.6)), mpl.rcParams["legend.fontsize"])
        if created:
            _grow_to_fit(ax, plot_in)
            _fit_margins(ax.figure)  # the corners are found on the final layout
        _place_texts(ax, [(annotation_text, "km_annotation"), (not_drawn, "km_too_few")], obstacles)
        groups = "; ".join(t.get_text().replace("\n", " ") for t in leg.get_texts())
        details = (f"{ylabel} over {xlabel.lower()}, {len(fits)} group{'s' if len(fits) > 1 else ''}"
                   f"{' (median, ' + format(conf_level, '.0%') + ' CI)' if show_median else ''}: {groups}."
                   + (f" {annotation_text.replace(chr(10), '; ').replace(': ', ' ', 1) if chr(10) in annotation_text else annotation_text}." if annotation_text else "")
                   + (" Numbers at risk under the plot." if at_risk else "")
                   + (f" {not_drawn}." if not_drawn else ""))
        return _finish(ax, created, extra, kind="Kaplan–Meier curves", title=head.replace("\n", " ") if head else ylabel,
                       details=details)
