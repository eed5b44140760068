"""Forest plot of hazard ratios (:func:`forest_plot`), log scale.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes

from ensemble_helpers import labels as _labels
from ensemble_helpers.privacy import suppress_count
from ensemble_helpers.formats import format_estimate, format_p
from ensemble_helpers.plots._figure import _finish, _new_axes
from ensemble_helpers.plots.style import DOUBLE_COLUMN, theme
from ensemble_helpers.settings import takes_settings


def _text_width_pt(texts: Sequence[Any], renderer: Any, dpi: float) -> float:
    widths = [t.get_window_extent(renderer).width for t in texts if t.get_text()]
    return max(widths, default=0.0) * 72.0 / dpi


_HR_TICKS = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 4, 5, 10, 20, 50, 100])
#: Which of two ticks too close on the log axis is kept (doubling series first).
_TICK_PREFERENCE = (1, 0.5, 2, 0.25, 4, 0.1, 10, 0.01, 100, 0.2, 5, 0.05, 20, 0.02, 50)


def _spaced_ticks(values: np.ndarray, min_ratio: float = 1.5) -> np.ndarray:
    """Ticks at least ``min_ratio`` apart on the log axis (0.2 and 0.25 print over each other),
    keeping the preferred of two neighbours.

    >>> _spaced_ticks(np.array([0.2, 0.25, 0.5, 1.0])).tolist()
    [0.25, 0.5, 1.0]
    """
    kept: list[float] = []
    for v in sorted(values.tolist(), key=lambda t: _TICK_PREFERENCE.index(t)):
        if all(max(v, k) / min(v, k) >= min_ratio for k in kept):
            kept.append(v)
    return np.array(sorted(kept))


def _snap_to_tick(limit: float, data: float, low: bool) -> float:
    """An axis limit moved to a tick: outwards by up to 30%, else inwards by up to 10% while the
    data (``data``: the smallest / largest value to show) stays inside."""
    outward = _HR_TICKS[_HR_TICKS <= limit] if low else _HR_TICKS[_HR_TICKS >= limit]
    if outward.size:
        tick = float(outward[-1] if low else outward[0])
        if abs(math.log(tick / limit)) < math.log(1.3):
            return tick
    inward = _HR_TICKS[(_HR_TICKS > limit) & (_HR_TICKS <= data)] if low else \
        _HR_TICKS[(_HR_TICKS < limit) & (_HR_TICKS >= data)]
    if inward.size:
        tick = float(inward[0] if low else inward[-1])
        if abs(math.log(tick / limit)) < math.log(1.1):
            return tick
    return limit


def _marker_size(weight: np.ndarray, i: int, is_overall: np.ndarray) -> float:
    """Marker size (points) of row ``i``: 6.5 without weights; else the box area proportional
    to the weight among the non-overall rows (3 to 11 points wide); the overall diamond 8."""
    if is_overall[i]:
        return 8.0
    finite = weight[np.isfinite(weight) & ~is_overall & (weight > 0)]
    if not finite.size or not np.isfinite(weight[i]) or weight[i] <= 0:
        return 6.5
    return float(max(3.0, 11.0 * np.sqrt(weight[i] / finite.max())))


@takes_settings
def forest_plot(
    hr_table: pd.DataFrame,
    ax: Axes | None = None,
    *,
    label: str = "label",
    min_cell_size: int | None = None,
    conf_level: float = 0.95,
    digits: int = 2,
    xlabel: str = "Hazard ratio",
    title: str | None = None,
    xlim: tuple[float, float] | None = None,
    show_p: bool | None = None,
    p_label: str = "p-value",
    color: str = "#222222",
) -> Axes:
    """Forest plot of hazard ratios: a log x axis with text columns left and right.

    Parameters
    ----------
    hr_table : DataFrame
        One row per line, top to bottom: ``label`` (the ``label`` column), ``n``, ``events``,
        ``hr``, ``hr_lower``, ``hr_upper``; optional ``p``, ``is_header`` (bold row, no estimate,
        e.g. a variable name) and ``note`` (text shown instead of the estimate, e.g.
        "reference"), as made by :func:`ensemble_helpers.analysis.forest_table`. A row with NaN
        ``hr`` and no note is shown as "not estimable" without a marker. Optional ``weight``
        (e.g. inverse variance): box areas proportional to it; ``is_overall``: the row is drawn
        as a diamond (bold label), as :func:`ensemble_helpers.comparison.subgroup_forest` makes.
    ax : Axes, optional
        Where to draw; a new figure sized to the rows by default (its margins fit the text).
        Text columns are placed outside the axes (left: label, n / events; right: HR (95% CI),
        p): leave room for them on a user-supplied axes.
    label : str
        Column of the row labels (leading spaces are replaced by a fixed indent).
    min_cell_size : int, optional
        Suppress n and events below this.
    conf_level, digits : float, int
        CI level (header only) and decimals of the HR text.
    xlabel, title : str
        Axis label and title.
    xlim : (float, float), optional
        HR axis limits; CIs beyond them end in an arrow head. Default: fits every CI and 1.
    show_p : bool, optional
        p-value column; default when a ``p`` column with a value exists. A header row's p
        (e.g. the interaction test of the variable) is shown on the header row.
    p_label : str
        Heading of the p-value column (e.g. "Interaction p").
    color : str
        Colour of markers and CI lines.

    Returns
    -------
    Axes
    """
    needed = [label, "n", "events", "hr", "hr_lower", "hr_upper"]
    absent = [c for c in needed if c not in hr_table.columns]
    if absent:
        raise KeyError(f"forest_plot: column(s) {absent} missing (have {list(hr_table.columns)})")
    rows = hr_table.reset_index(drop=True)
    n_rows = len(rows)
    if n_rows == 0:
        raise ValueError("forest_plot: the table has no rows")
    is_header = rows["is_header"].fillna(False).astype(bool).to_numpy() if "is_header" in rows else np.zeros(n_rows, bool)
    notes = rows["note"].fillna("").astype(str).to_numpy() if "note" in rows else np.full(n_rows, "")
    hr = pd.to_numeric(rows["hr"]).to_numpy(dtype=float, na_value=np.nan)
    lo = pd.to_numeric(rows["hr_lower"]).to_numpy(dtype=float, na_value=np.nan)
    hi = pd.to_numeric(rows["hr_upper"]).to_numpy(dtype=float, na_value=np.nan)
    p = pd.to_numeric(rows["p"]).to_numpy(dtype=float, na_value=np.nan) if "p" in rows else np.full(n_rows, np.nan)
    if show_p is None:
        show_p = bool(np.isfinite(p).any())
    is_overall = rows["is_overall"].fillna(False).astype(bool).to_numpy() if "is_overall" in rows else np.zeros(n_rows, bool)
    weight = pd.to_numeric(rows["weight"]).to_numpy(dtype=float, na_value=np.nan) if "weight" in rows \
        else np.full(n_rows, np.nan)
    estimable = ~is_header & (notes == "") & np.isfinite(hr) & (hr > 0)
    if np.any((hr <= 0) & np.isfinite(hr)):
        raise ValueError("forest_plot: hazard ratios must be > 0")

    finite = np.r_[hr[estimable], lo[estimable & np.isfinite(lo) & (lo > 0)], hi[estimable & np.isfinite(hi)], 1.0]
    if xlim is None:
        x_lo, x_hi = float(finite.min()) / 1.25, float(finite.max()) * 1.25
        span = math.log(x_hi / x_lo)
        if span < math.log(4):  # at least 0.5-2 wide around the data
            grow = math.exp((math.log(4) - span) / 2)
            x_lo, x_hi = x_lo / grow, x_hi * grow
        x_lo, x_hi = _snap_to_tick(x_lo, float(finite.min()), low=True), _snap_to_tick(x_hi, float(finite.max()), low=False)
    else:
        x_lo, x_hi = map(float, xlim)
    y = n_rows - 1 - np.arange(n_rows)

    with theme():
        created = ax is None
        if created:
            ax = _new_axes((DOUBLE_COLUMN, 0.3 * (n_rows + 1.5 + (1.2 if title else 0)) + 0.9))
        fig = ax.figure
        ax.set_xscale("log")
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(-0.7, n_rows + 0.3)
        ax.vlines(1.0, -0.5, n_rows - 0.5, colors="0.55", lw=0.9, zorder=1, gid="forest_ref")
        for i in np.flatnonzero(estimable):
            l_, h_ = lo[i], hi[i]
            if np.isfinite(l_) and np.isfinite(h_):
                a, b = max(l_, x_lo), min(h_, x_hi)
                ax.plot([a, b], [y[i], y[i]], color=color, lw=1.3, solid_capstyle="butt", gid="forest_ci", zorder=2)
                if l_ < x_lo:
                    ax.plot([x_lo], [y[i]], marker="<", ms=5, color=color, clip_on=False, gid="forest_arrow")
                if h_ > x_hi:
                    ax.plot([x_hi], [y[i]], marker=">", ms=5, color=color, clip_on=False, gid="forest_arrow")
            if x_lo <= hr[i] <= x_hi:
                ax.plot([hr[i]], [y[i]], marker="D" if is_overall[i] else "s", ms=_marker_size(weight, i, is_overall),
                        color=color, ls="none", gid="forest_overall" if is_overall[i] else "forest_point", zorder=3)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xlabel(xlabel)
        tick_values = _HR_TICKS[(_HR_TICKS >= x_lo * (1 - 1e-9)) & (_HR_TICKS <= x_hi * (1 + 1e-9))]
        if tick_values.size > 7:
            tick_values = tick_values[np.isin(tick_values, [0.01, 0.1, 0.25, 0.5, 1, 2, 4, 10, 100])]
        tick_values = _spaced_ticks(tick_values)
        ax.xaxis.set_major_locator(ticker.FixedLocator(tick_values))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(ticker.NullLocator())

        header_y = n_rows - 0.1
        labels_raw = [str(v) if not pd.isna(v) else "" for v in rows[label]]
        indent = bool(is_header.any())
        lab_texts, count_texts, hr_texts, p_texts = [], [], [], []
        for i in range(n_rows):
            font_weight = "bold" if is_header[i] or is_overall[i] else "normal"
            lab_texts.append(ax.annotate(labels_raw[i].strip(), xy=(0, y[i]), xycoords=("axes fraction", "data"),
                                         textcoords="offset points", xytext=(0, 0), ha="left", va="center",
                                         fontsize=9, fontweight=font_weight, annotation_clip=False, gid="forest_label"))
            counts = "" if is_header[i] else (
                f"{suppress_count(rows.at[i, 'n'], min_cell_size)} / {suppress_count(rows.at[i, 'events'], min_cell_size)}"
                if not (pd.isna(rows.at[i, "n"]) and pd.isna(rows.at[i, "events"])) else "")
            count_texts.append(ax.annotate(counts, xy=(0, y[i]), xycoords=("axes fraction", "data"),
                                           textcoords="offset points", xytext=(0, 0), ha="right", va="center",
                                           fontsize=9, annotation_clip=False, gid="forest_counts"))
            if notes[i]:
                hr_text, style, tcolor = notes[i], "italic", "0.35"
            elif is_header[i]:
                hr_text, style, tcolor = "", "normal", "0.15"
            elif estimable[i]:
                hr_text = format_estimate(hr[i], lo[i], hi[i], digits=digits, na="NE")
                style, tcolor = "normal", "0.15"
            else:
                hr_text, style, tcolor = "not estimable", "italic", "0.35"
            hr_texts.append(ax.annotate(hr_text, xy=(1, y[i]), xycoords=("axes fraction", "data"),
                                        textcoords="offset points", xytext=(0, 0), ha="left", va="center",
                                        fontsize=9, fontstyle=style, color=tcolor, annotation_clip=False,
                                        gid="forest_hr"))
            if show_p:
                shown_p = (estimable[i] or is_header[i]) and np.isfinite(p[i])
                p_texts.append(ax.annotate(format_p(p[i]) if shown_p else "", xy=(1, y[i]),
                                           xycoords=("axes fraction", "data"), textcoords="offset points",
                                           xytext=(0, 0), ha="right", va="center", fontsize=9,
                                           annotation_clip=False, gid="forest_p"))
        head = dict(xycoords=("axes fraction", "data"), textcoords="offset points", xytext=(0, 0), va="center",
                    fontsize=9, fontweight="bold", annotation_clip=False, gid="forest_header")
        h_lab = ax.annotate("Subgroup" if indent else "", xy=(0, header_y), ha="left", **head)
        h_cnt = ax.annotate("n / events", xy=(0, header_y), ha="right", **head)
        h_hr = ax.annotate(f"HR ({conf_level * 100:g}% CI)", xy=(1, header_y), ha="left", **head)
        h_p = ax.annotate(p_label if show_p else "", xy=(1, header_y), ha="right", **head)

        renderer = fig.canvas.get_renderer()
        gap, indent_pt = 12.0, 10.0
        w_cnt = _text_width_pt(count_texts + [h_cnt], renderer, fig.dpi)
        w_lab = _text_width_pt(lab_texts + [h_lab], renderer, fig.dpi) + (indent_pt if indent else 0)
        w_hr = _text_width_pt(hr_texts + [h_hr], renderer, fig.dpi)
        w_p = _text_width_pt(p_texts + [h_p], renderer, fig.dpi) if show_p else 0.0
        x_cnt = -gap
        x_lab = x_cnt - w_cnt - gap - w_lab
        for t in count_texts + [h_cnt]:
            t.xyann = (x_cnt, 0)
        for i, t in enumerate(lab_texts):
            t.xyann = (x_lab + (indent_pt if indent and not is_header[i] else 0), 0)
        h_lab.xyann = (x_lab, 0)
        for t in hr_texts + [h_hr]:
            t.xyann = (gap, 0)
        for t in p_texts + [h_p]:
            t.xyann = (gap + w_hr + gap + w_p, 0)
        if title:
            ax.set_ylim(-0.7, n_rows + 1.1)
            ax.annotate(_labels.label(title), xy=(0, n_rows + 0.8), xycoords=("axes fraction", "data"),
                        textcoords="offset points", xytext=(x_lab, 0), ha="left", va="center",
                        fontsize=mpl.rcParams["axes.titlesize"], fontweight="bold", annotation_clip=False,
                        gid="forest_title")
        if created:
            w_in, h_in = fig.get_size_inches()
            text_in = (-x_lab + gap + w_hr + (gap + w_p if show_p else 0)) / 72 + 0.4
            if w_in - text_in < 2.5:  # keep at least 2.5 in for the estimates
                fig.set_size_inches(text_in + 2.5, h_in)
        n_estimates = int(np.isfinite(hr).sum())
        return _finish(ax, created, kind="Forest plot", title=_labels.label(title) if title else xlabel,
                       details=f"{xlabel} with {conf_level:.0%} CI on a log scale, {n_estimates} estimates in "
                               f"{n_rows} rows ({int(is_header.sum())} variables).")
