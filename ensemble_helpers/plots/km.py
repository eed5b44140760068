"""Kaplan-Meier curves with a number-at-risk table (:func:`km_plot`).

The arithmetic is :mod:`ensemble_helpers.stats`' (one implementation for tables and figures, so
a legend's median is the table's median); this module only draws it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes

from ensemble_helpers import labels as _labels
from ensemble_helpers.privacy import suppress_count
from ensemble_helpers import stats as _stats
from ensemble_helpers.formats import format_estimate
from ensemble_helpers.plots._figure import (
    _draw_at_risk,
    _finish,
    _new_axes,
    _time_axis,
    _time_ticks,
)
from ensemble_helpers.plots.style import group_colors, theme
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

    @property
    def max_time(self) -> float:
        return float(self.times[-1])

    def at_risk(self, ticks: np.ndarray) -> np.ndarray:
        """Number with duration >= t (R's number at risk at t)."""
        idx = np.searchsorted(self.times, ticks, side="left")
        return np.where(idx < self.times.size, self.n_risk[np.minimum(idx, self.times.size - 1)], 0).astype(np.int64)


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
    ci: bool = False,
    censor_ticks: bool = True,
    show_median: bool = True,
    at_risk: bool = True,
    tick_every: float = 3,
    xmax: float | None = None,
    min_cell_size: int | None = None,
    title: str | None = None,
    xlabel: str = "Months",
    ylabel: str = "Survival probability",
    summary: pd.DataFrame | None = None,
    legend_loc: str | None = None,
    max_points: int = 4000,
) -> Axes:
    """Kaplan–Meier curves with censoring marks, medians and a number-at-risk table.

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
        Where to draw; a new 8 x 5.5 in figure by default. The at-risk table is a new axes
        appended under ``ax`` (``label == "at_risk"``), sharing its x axis.
    conf_level, ci_transform : float, str
        Confidence level and transform ("log-log" as R's ``conf.type = "log-log"``, "log",
        "plain") of the pointwise CI and of the median's CI.
    ci : bool
        Draw pointwise CI bands.
    censor_ticks : bool
        Mark censoring times with "+" (at distinct censoring times; at most one per 1/150 of the
        x range, as closer marks overlap anyway).
    show_median : bool
        Median with CI in the legend ("NR" = not reached) and dashed lines at S = 0.5.
    at_risk : bool
        Number-at-risk table under the plot, one row per group in its colour.
    tick_every : float
        Spacing of the x ticks and at-risk columns (doubled until there are at most 14).
    xmax : float, optional
        Right end of the x axis; default the longest follow-up rounded up to a tick.
    min_cell_size : int, optional
        Suppress at-risk counts and group sizes below this (see
        :func:`ensemble_helpers.privacy.suppress_count`).
    title, xlabel, ylabel : str
        Texts (``title`` goes through :func:`ensemble_helpers.labels.label`, so "PFS" works).
    summary : DataFrame, optional
        ``stats.km_summary_by`` output (``group``, ``n``, ``median``, ``median_lower``,
        ``median_upper``) to print in the legend instead of this function's own estimates, so
        that figure and table show the same numbers.
    legend_loc : str, optional
        ``"above"`` (default: over the plot, outside the axes, so it never covers a curve) or a
        matplotlib location inside the axes (e.g. ``"upper right"``).
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
    KeyError
        ``summary`` has no row for a plotted group.
    """
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
    if not fits and too_small:
        with theme():
            ax = ax if ax is not None else _new_axes((8.0, 2.0))
            ax.set_axis_off()
            if title:
                ax.set_title(_labels.label(title), loc="left")
            ax.text(0.0, 0.5, f"Too few patients to draw a curve (fewer than {min_cell_size} per group).",
                    transform=ax.transAxes, va="center", gid="km_too_few")
        return ax
    if not fits:
        raise ValueError(f"km_plot: no patient to plot ({len(df)} rows, none with a duration, an event"
                         f"{' and a ' + by if by else ''})")

    ticks, x_end = _time_ticks(max(km.max_time for _, km in fits), tick_every, xmax)
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

    with theme():
        ncol = 1 if len(fits) <= 3 else 2
        created = ax is None
        if created:
            legend_rows = math.ceil(len(fits) / ncol) + (1 if show_median else 0)
            height = (0.35 if title else 0.1) + 0.19 * legend_rows + 3.3 + 0.15
            height += 0.78 + 0.24 * len(fits) + 0.3 if at_risk else 0.6
            ax = _new_axes((8.0, height))
        medians = []
        for level, km in fits:
            color = colors[level]
            name = _labels.label(level) if by is not None else "Overall"
            n_text = suppress_count(km.n, min_cell_size)
            legend = f"{name} (n={n_text})"
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
            ax.step(x, y, where="post", color=color, lw=1.7, label=legend, gid="km_curve", zorder=3)
            if ci:
                ok = ~np.isnan(ylo) & ~np.isnan(yhi)
                ax.fill_between(x[ok], ylo[ok], yhi[ok], step="post", color=color, alpha=0.15, lw=0,
                                gid="km_ci", zorder=2)
            if censor_ticks and km.censor_time.size:
                ct, cs = _thin(km.censor_time, km.censor_surv, x_end, bins=150)
                ax.plot(ct, cs, ls="none", marker="+", ms=6, mew=1.1, color=color, gid="km_censor", zorder=4)
            if show_median and np.isfinite(med[0]) and med[0] <= x_end:
                medians.append((float(med[0]), color))
        if medians:
            ax.plot([0, max(m for m, _ in medians)], [0.5, 0.5], ls=(0, (4, 3)), lw=0.9, color="0.45",
                    gid="km_median", zorder=1)
            for m, color in medians:
                ax.plot([m, m], [0, 0.5], ls=(0, (4, 3)), lw=0.9, color=color, gid="km_median", zorder=1)
        _time_axis(ax, ticks, x_end, xlabel, ylabel)
        if too_small:
            names = ", ".join(_labels.label(lvl) for lvl in too_small)
            ax.text(0.99, 0.98, f"Not drawn (fewer than {min_cell_size} patients): {names}", ha="right",
                    va="top", transform=ax.transAxes, fontsize="small", color="0.35", gid="km_too_few")
        ax.set_ylim(-0.02, 1.03)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.1f}"))
        legend_title = f"Median, {xlabel.lower()} ({conf_level * 100:g}% CI)" if show_median else None
        above = legend_loc in (None, "above")
        if above:  # outside, over the plot (as survminer's default): never covers a curve
            leg = ax.legend(loc="lower left", bbox_to_anchor=(0, 1), borderaxespad=0.3, ncols=ncol,
                            title=legend_title, alignment="left", handlelength=1.6, columnspacing=1.6)
        else:
            leg = ax.legend(loc=legend_loc, ncols=ncol, title=legend_title, alignment="left", handlelength=1.6)
        if title:
            pad_pt = 8.0
            if above:
                fig = ax.figure
                pad_pt += leg.get_window_extent(fig.canvas.get_renderer()).height * 72.0 / fig.dpi
            ax.set_title(_labels.label(title), pad=pad_pt, loc="left")
        extra = []
        if at_risk:
            rows = [(_labels.label(lvl) if by is not None else "Overall", colors[lvl], km.at_risk(ticks))
                    for lvl, km in fits]
            extra.append(_draw_at_risk(ax, ticks, rows, min_cell_size))
        groups = "; ".join(t.get_text() for t in leg.get_texts())
        details = (f"{ylabel} over {xlabel.lower()}, {len(fits)} group{'s' if len(fits) > 1 else ''}"
                   f"{' (median, ' + format(conf_level, '.0%') + ' CI)' if show_median else ''}: {groups}."
                   + (" Numbers at risk under the plot." if at_risk else "")
                   + (f" Not drawn (fewer than {min_cell_size} patients): {names}." if too_small else ""))
        return _finish(ax, created, extra, kind="Kaplan–Meier curves",
                       title=_labels.label(title) if title else ylabel, details=details)
