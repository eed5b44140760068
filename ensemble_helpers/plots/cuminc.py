"""Cumulative incidence curves with a competing risk (:func:`cuminc_plot`).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes

from ensemble_helpers import labels as _labels
from ensemble_helpers.plots._figure import (
    _draw_at_risk,
    _finish,
    _grow_to_fit,
    _new_axes,
    _time_axis,
    _time_ticks,
    _wrap,
)
from ensemble_helpers.plots.style import DOUBLE_COLUMN, GROUP_COLORS, SINGLE_COLUMN, column_rc, group_colors, theme
from ensemble_helpers.settings import takes_settings


@takes_settings
def cuminc_plot(
    curve: pd.DataFrame,
    ax: Axes | None = None,
    *,
    label: str | None = None,
    color: str | None = None,
    ci: bool = True,
    durations: Any = None,
    tick_every: float = 3,
    xmax: float | None = None,
    ymax: float | None = None,
    min_cell_size: int | None = None,
    title: str | None = None,
    xlabel: str = "Months",
    ylabel: str = "Cumulative incidence (%)",
    width: float = DOUBLE_COLUMN,
) -> Axes:
    """Cumulative incidence curve(s) from ``stats.cumulative_incidence``, y axis in percent.

    Parameters
    ----------
    curve : DataFrame
        ``time``, ``estimate``, ``lower``, ``upper`` (proportions 0–1), one row per event time
        from time 0; an optional ``group`` column draws one curve per group (in order of
        appearance, coloured by :func:`group_color`).
    ax : Axes, optional
        Where to draw (a new figure by default).
    label : str, optional
        Legend text of a single curve (default: no legend for one curve).
    color : str, optional
        Colour of a single curve (default black, the "Overall" colour).
    ci : bool
        Draw the pointwise CI band.
    durations : array-like or mapping, optional
        Every patient's follow-up time (a mapping group -> array for a grouped curve). When
        given, a number-at-risk table (duration >= t) is drawn under the plot and each curve is
        extended to its last follow-up time. (The curve's own ``n_at_risk`` is only known at event
        times, so it cannot give the number at risk at a tick exactly.)
    tick_every, xmax : float
        x ticks and at-risk columns; right end of the x axis.
    ymax : float, optional
        Top of the y axis in percent (default: fits the upper CI, at least 10%).
    min_cell_size : int, optional
        Suppress at-risk counts below this.
    title, xlabel, ylabel : str
        Texts.
    width : float
        Width of a new figure, inches: 180 mm (default) or 85 mm (smaller fonts,
        :func:`~ensemble_helpers.plots.style.column_rc`).

    Returns
    -------
    Axes
    """
    call = dict(locals())  # to draw the same figure at a single-column width (its 85 mm file)
    needed = ["time", "estimate"] + (["lower", "upper"] if ci else [])
    absent = [c for c in needed if c not in curve.columns]
    if absent:
        raise KeyError(f"cuminc_plot: curve lacks column(s) {absent} (have {list(curve.columns)})")
    if len(curve) == 0:
        raise ValueError("cuminc_plot: the curve has no rows")
    if "group" in curve.columns:
        groups = list(dict.fromkeys(curve["group"].tolist()))
        parts = [(g, curve[curve["group"] == g]) for g in groups]
        colors = group_colors(groups)
    else:
        parts = [(None, curve)]
        colors = {None: color or GROUP_COLORS["Overall"]}

    def follow_up(g: Any) -> np.ndarray | None:
        if durations is None:
            return None
        if isinstance(durations, Mapping):
            if g not in durations:
                raise KeyError(f"cuminc_plot: durations has no entry for group {g!r}")
            d = durations[g]
        else:
            d = durations
        d = np.sort(pd.to_numeric(pd.Series(np.asarray(d)), errors="raise").dropna().to_numpy(dtype=float))
        return d

    ends = []
    for g, part in parts:
        d = follow_up(g)
        ends.append(max(float(pd.to_numeric(part["time"]).max()), float(d[-1]) if d is not None and d.size else 0.0))

    def with_origin(t: np.ndarray, v: np.ndarray, end: float) -> tuple[np.ndarray, np.ndarray]:
        if t[0] > 0:
            t, v = np.r_[0.0, t], np.r_[0.0, v]
        return np.r_[t, end], np.r_[v, v[-1]]

    created = ax is None
    names = [label or "Overall" if g is None else _labels.label(g) for g, _ in parts]
    with theme(**(column_rc(width) if created else {})):
        # as km_plot: table rows named by colour bars when their labels would take a quarter of
        # the width, fewer x ticks in a narrow figure
        label_in = max(len(n) for n in names) * 0.6 * mpl.rcParams["ytick.labelsize"] / 72 + 0.2
        swatches = created and label_in > width / 4
        label_in = 0.45 if swatches else label_in
        max_ticks = 14 if not created else max(4, min(14, int((width - max(label_in, 0.6) - 0.3) / 0.3)))
        ticks, x_end = _time_ticks(max(ends), tick_every, xmax, max_ticks=max_ticks)
        plot_in = min(3.3, max(1.9, 0.52 * width))
        if created:
            n_rows = len(parts) if durations is not None else 0
            ax = _new_axes((width, (0.35 if title else 0.1) + plot_in + 0.15
                            + (0.78 + 0.24 * n_rows + 0.3 if n_rows else 0.6)))
            if width > SINGLE_COLUMN:
                ax.figure.report_variants = {"85mm": lambda: cuminc_plot(**{**call, "width": SINGLE_COLUMN})}
        top = 0.0
        risk_rows = []
        for (g, part), end in zip(parts, ends):
            part = part.sort_values("time", kind="stable")
            t = pd.to_numeric(part["time"]).to_numpy(dtype=float)
            x, y = with_origin(t, pd.to_numeric(part["estimate"]).to_numpy(dtype=float) * 100, end)
            name = label if g is None else _labels.label(g)
            c = colors[g]
            ax.step(x, y, where="post", color=c, lw=1.7, label=name, gid="cuminc_curve", zorder=3)
            top = max(top, float(np.nanmax(y)))
            if ci:
                _, ylo = with_origin(t, pd.to_numeric(part["lower"]).to_numpy(dtype=float) * 100, end)
                _, yhi = with_origin(t, pd.to_numeric(part["upper"]).to_numpy(dtype=float) * 100, end)
                ok = ~np.isnan(ylo) & ~np.isnan(yhi)
                ax.fill_between(x[ok], ylo[ok], yhi[ok], step="post", color=c, alpha=0.15, lw=0,
                                gid="cuminc_ci", zorder=2)
                if ok.any():
                    top = max(top, float(np.nanmax(yhi[ok])))
            d = follow_up(g)
            if d is not None:
                risk_rows.append((name or "Overall", c, d.size - np.searchsorted(d, ticks, side="left")))
        y_top = ymax if ymax is not None else max(10.0, math.ceil(top * 1.1 / 5) * 5)
        ax.set_ylim(-0.01 * y_top, y_top)
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        _time_axis(ax, ticks, x_end, xlabel, ylabel)
        pad_pt = 8.0
        if len(parts) > 1 or label:  # over the plot, outside the axes: never over a curve or band
            leg = ax.legend(loc="lower left", bbox_to_anchor=(0, 1), borderaxespad=0.3, alignment="left",
                            ncols=1 if len(parts) <= 3 or width < 4.5 else 2, handlelength=1.6)
            pad_pt += leg.get_window_extent(ax.figure.canvas.get_renderer()).height * 72.0 / ax.figure.dpi
        if title:
            ax.set_title(_wrap(_labels.label(title), width - 0.3, mpl.rcParams["axes.titlesize"]), loc="left",
                         pad=pad_pt)
        extra = [_draw_at_risk(ax, ticks, risk_rows, min_cell_size, swatches=swatches)] if risk_rows else []
        if created:
            _grow_to_fit(ax, plot_in)
        details = (f"{ylabel} over {xlabel.lower()}, {len(parts)} curve{'s' if len(parts) > 1 else ''}: "
                   f"{'; '.join(names)}." + (" Numbers at risk under the plot." if risk_rows else ""))
        return _finish(ax, created, extra, kind="Cumulative incidence",
                       title=_labels.label(title) if title else ylabel, details=details)
