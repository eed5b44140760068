"""Simple report charts: bars (:func:`bar_plot`), histograms (:func:`hist_plot`) and the
patient flow diagram (:func:`flow_plot`).
"""

from __future__ import annotations

import textwrap
from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes

from ensemble_helpers import labels as _labels
from ensemble_helpers.privacy import is_suppressed, suppress_count, suppress_count_pct
from ensemble_helpers.plots._figure import _finish, _new_axes
from ensemble_helpers.plots.style import _color_key, group_color, GROUP_COLORS, OKABE_ITO, theme
from ensemble_helpers.settings import takes_settings


@takes_settings
def bar_plot(
    counts_df: pd.DataFrame,
    x: str = "n",
    y: str = "level",
    ax: Axes | None = None,
    *,
    min_cell_size: int | None = None,
    total: int | None = None,
    digits: int = 1,
    color: str | None = None,
    title: str | None = None,
    xlabel: str = "Patients",
) -> Axes:
    """Horizontal bars of counts, labelled "n (%)", in the table's row order (top to bottom).

    Parameters
    ----------
    counts_df : DataFrame
        One row per category, e.g. :func:`ensemble_helpers.describe.frequencies` output.
    x : str
        Count column.
    y : str
        Category column (codes are labelled with :func:`ensemble_helpers.labels.label`).
    ax : Axes, optional
        Where to draw (a new figure sized to the rows by default).
    min_cell_size : int, optional
        A suppressed count draws no bar (its length would give it away) and is labelled
        "<min_cell_size" without a percentage.
    total : int, optional
        Denominator of the percentages (default: the sum of the counts).
    digits : int
        Decimals of the percentages.
    color : str, optional
        One colour for every bar; default each category's :func:`group_color` when every
        category has a fixed colour, else blue.
    title, xlabel : str
        Texts.

    Returns
    -------
    Axes
    """
    absent = [c for c in (x, y) if c not in counts_df.columns]
    if absent:
        raise KeyError(f"bar_plot: column(s) {absent} missing (have {list(counts_df.columns)})")
    cats = counts_df[y].tolist()
    counts = pd.to_numeric(counts_df[x]).to_numpy(dtype=float)
    if np.any(counts < 0) or np.any(np.isnan(counts)):
        raise ValueError(f"bar_plot: {x} must hold counts >= 0")
    denom = int(total) if total is not None else int(counts.sum())
    if color is None:
        known = all(_color_key(c) in GROUP_COLORS for c in cats)
        colors = [group_color(c) for c in cats] if known else [OKABE_ITO["blue"]] * len(cats)
    else:
        colors = [color] * len(cats)
    hidden = np.array([is_suppressed(k, min_cell_size) for k in counts])
    shown = np.where(hidden, 0.0, counts)
    pos = np.arange(len(cats))
    with theme():
        created = ax is None
        if created:
            ax = _new_axes((7.5, 0.38 * len(cats) + (1.3 if title else 0.9)))
        ax.barh(pos[~hidden], shown[~hidden], color=np.array(colors, dtype=object)[~hidden].tolist(),
                height=0.65, gid="bar")
        xmax = max(float(shown.max()) if shown.size else 0.0, 1.0)
        for i, k in enumerate(counts):
            text = suppress_count_pct(int(k), denom, min_cell_size, digits)
            ax.annotate(text, xy=(shown[i], pos[i]), xytext=(4, 0), textcoords="offset points", ha="left",
                        va="center", fontsize=9, gid="bar_label")
        ax.set_yticks(pos, [_labels.label(c) if not isinstance(c, (bool, np.bool_)) else _labels.label(bool(c))
                            for c in cats])
        ax.invert_yaxis()
        ax.set_xlim(0, xmax * 1.28)
        ax.set_xlabel(xlabel)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        if title:
            ax.set_title(_labels.label(title), loc="left")
        shown_bars = "; ".join(f"{t.get_text()}: {suppress_count_pct(int(k), denom, min_cell_size, digits)}"
                               for t, k in zip(ax.get_yticklabels(), counts))
        return _finish(ax, created, kind="Bar chart", title=_labels.label(title) if title else xlabel,
                       details=f"{xlabel} by category ({shown_bars}).")


@takes_settings
def hist_plot(
    values: Any,
    ax: Axes | None = None,
    *,
    bins: int | Sequence[float] | str | None = None,
    min_cell_size: int | None = None,
    color: str | None = None,
    title: str | None = None,
    xlabel: str = "",
    ylabel: str = "Count",
) -> Axes:
    """Histogram (e.g. patients per site) with optional suppression of small bins.

    Parameters
    ----------
    values : array-like
        Numbers (missing values are left out).
    bins : int, sequence or str, optional
        NumPy bins; default one bin per integer for whole numbers spanning at most 40 values,
        else "auto".
    min_cell_size : int, optional
        A bin with a suppressed count draws no bar and is labelled "<min_cell_size".
    color, title, xlabel, ylabel : str
        Bar colour (default blue) and texts.

    Returns
    -------
    Axes
    """
    v = pd.to_numeric(pd.Series(values), errors="raise").dropna().to_numpy(dtype=float)
    if v.size == 0:
        raise ValueError("hist_plot: no values to plot")
    discrete = bool(np.all(v == np.round(v))) and (v.max() - v.min()) <= 40
    if bins is None:
        bins = np.arange(v.min() - 0.5, v.max() + 1.5) if discrete else "auto"
    counts, edges = np.histogram(v, bins=bins)
    hidden = np.array([is_suppressed(int(k), min_cell_size) for k in counts])
    with theme():
        created = ax is None
        if created:
            ax = _new_axes((7.0, 4.0))
        centers, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
        keep = ~hidden
        ax.bar(centers[keep], counts[keep], width=widths[keep] * 0.92, color=color or OKABE_ITO["blue"], gid="hist_bar")
        for c, k in zip(centers[hidden], counts[hidden]):
            ax.annotate(suppress_count(int(k), min_cell_size), xy=(c, 0), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", rotation=90, fontsize=7.5, color="0.3", gid="hist_suppressed")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if discrete:
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        if title:
            ax.set_title(_labels.label(title), loc="left")
        return _finish(ax, created, kind="Histogram", title=_labels.label(title) if title else xlabel,
                       details=f"x axis: {xlabel or 'value'}; y axis: {ylabel or 'count'}"
                               f" ({int(counts.sum())} in all; bars of fewer than {min_cell_size} not drawn)."
                       if min_cell_size else f"x axis: {xlabel or 'value'}; y axis: {ylabel or 'count'}.")


@takes_settings
def flow_plot(
    attrition_df: pd.DataFrame,
    ax: Axes | None = None,
    *,
    min_cell_size: int | None = None,
    title: str | None = None,
    wrap: int = 42,
) -> Axes:
    """CONSORT-like flow of the cohort: one box per step, exclusions in side boxes.

    Parameters
    ----------
    attrition_df : DataFrame
        ``step`` (text), ``n`` (patients remaining after the step), ``excluded`` (removed at the
        step; 0 for the first row), as ``cohort.apply_filters`` returns.
    ax : Axes, optional
        Where to draw (a new figure sized to the steps by default).
    min_cell_size : int, optional
        Suppress n and excluded below this. Note that a hidden exclusion can still be derived
        from the n of consecutive boxes (see :mod:`ensemble_helpers.privacy`).
    title : str, optional
        Title.
    wrap : int
        Characters per line of the box texts.

    Returns
    -------
    Axes
    """
    absent = [c for c in ("step", "n", "excluded") if c not in attrition_df.columns]
    if absent:
        raise KeyError(f"flow_plot: column(s) {absent} missing (have {list(attrition_df.columns)})")
    rows = attrition_df.reset_index(drop=True)
    k = len(rows)
    if k == 0:
        raise ValueError("flow_plot: the attrition table has no rows")
    box = dict(boxstyle="round,pad=0.6", facecolor="white", edgecolor="0.25", linewidth=1.0)
    side = dict(boxstyle="round,pad=0.5", facecolor="#F4F4F4", edgecolor="0.55", linewidth=0.9)
    arrow = dict(arrowstyle="-|>", color="0.3", lw=1.0, shrinkA=0, shrinkB=0, mutation_scale=12)
    with theme():
        created = ax is None
        if created:
            ax = _new_axes((7.0, 0.95 * k + (0.6 if title else 0.3)))
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.5, k - 0.5)
        ax.set_axis_off()
        x_main, x_side = 0.35, 0.62
        boxes = []
        for i, rec in enumerate(rows.to_dict("records")):
            yy = k - 1 - i
            text = f"{textwrap.fill(_labels.label(rec['step']), wrap)}\nn = {suppress_count(rec['n'], min_cell_size)}"
            boxes.append(ax.text(x_main, yy, text, ha="center", va="center", fontsize=9, bbox=box,
                                 gid="flow_box", zorder=3))
        for i in range(1, k):
            ax.annotate("", xy=(0.5, 1.0), xycoords=boxes[i], xytext=(0.5, 0.0), textcoords=boxes[i - 1],
                        arrowprops=arrow, gid="flow_arrow")
            excluded = rows.at[i, "excluded"]
            if not pd.isna(excluded) and int(excluded) > 0:
                y_mid = k - 1 - i + 0.5
                side_box = ax.text(x_side, y_mid, f"Excluded: n = {suppress_count(excluded, min_cell_size)}",
                                   ha="left", va="center", fontsize=8.5, bbox=side, gid="flow_excluded", zorder=3)
                ax.annotate("", xy=(0.0, 0.5), xycoords=side_box, xytext=(x_main, y_mid), textcoords="data",
                            arrowprops=arrow, gid="flow_arrow")
        if title:
            ax.set_title(_labels.label(title), loc="left")
        steps = "; ".join(f"{_labels.label(r['step'])}: n = {suppress_count(r['n'], min_cell_size)}"
                          for r in rows.to_dict("records"))
        return _finish(ax, created, kind="Flow diagram", title=_labels.label(title) if title else "patient flow",
                       details=f"{k} steps ({steps}).")
