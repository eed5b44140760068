"""Distributions of a baseline variable by group, drawn with seaborn: box plots
(:func:`box_plot`), empirical cumulative distributions (:func:`ecdf_plot`) and counts
(:func:`count_plot`).

seaborn is imported inside each function, when it draws: importing it (and, through it,
``scipy.stats``) costs about a second, which notebooks without these figures do not pay.

Small counts (:mod:`ensemble_helpers.privacy`): groups of fewer than ``min_cell_size`` patients are
not drawn (a note names them), group sizes and counts from 1 to ``min_cell_size - 1`` are shown as
``<min_cell_size``, and no figure marks the extremes of a group: box plots end their whiskers at
the most extreme values within the 5th and 95th percentiles and draw no outlier points; a count
plot draws no bar of fewer than ``min_cell_size`` patients. (An ECDF steps at each value, as a Kaplan–Meier curve does at each
event: it is drawn for groups of at least ``min_cell_size`` patients, the rule for curves.)
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ensemble_helpers import labels as _labels
from ensemble_helpers.plots._figure import _finish, _new_axes, _wrap
from ensemble_helpers.plots.style import DOUBLE_COLUMN, column_rc, group_colors, theme
from ensemble_helpers.privacy import is_suppressed, suppress_count
from ensemble_helpers.settings import takes_settings

__all__ = ["box_plot", "ecdf_plot", "count_plot"]


def _groups(df: pd.DataFrame, value: str, by: str, min_cell_size: int | None) -> tuple[list[Any], list[Any], pd.DataFrame]:
    """(levels drawn, levels too small, rows with a value and a drawn group), levels in category
    order (else sorted); empty levels are dropped."""
    for col in (value, by):
        if col not in df.columns:
            raise KeyError(f"column {col!r} missing (have {list(df.columns)})")
    data = df.loc[df[value].notna() & df[by].notna(), [value, by]]
    levels = list(df[by].cat.categories) if isinstance(df[by].dtype, pd.CategoricalDtype) else sorted(data[by].unique())
    counts = data[by].value_counts()
    present = [lvl for lvl in levels if counts.get(lvl, 0) > 0]
    small = [lvl for lvl in present if min_cell_size is not None and is_suppressed(int(counts[lvl]), min_cell_size)]
    drawn = [lvl for lvl in present if lvl not in small]
    return drawn, small, data[data[by].isin(drawn)]


def _names(data: pd.DataFrame, by: str, levels: Sequence[Any], min_cell_size: int | None) -> dict[Any, str]:
    counts = data[by].value_counts()
    return {lvl: f"{_labels.label(lvl)} (n={suppress_count(int(counts.get(lvl, 0)), min_cell_size)})" for lvl in levels}


def _not_drawn(small: Sequence[Any], min_cell_size: int | None) -> str:
    if not small:
        return ""
    return f"Not drawn (fewer than {min_cell_size} patients): {', '.join(_labels.label(s) for s in small)}."


def _title(ax: Axes, title: str | None, width: float, *, above_legend: bool = False) -> str | None:
    """Set the wrapped, left-aligned title; with ``above_legend``, raised over a legend placed
    above the plot. Returns the title's text (None without a title)."""
    if not title:
        return None
    head = _labels.label(title)
    pad = None
    legend = ax.get_legend() if above_legend else None
    if legend is not None:
        renderer = ax.figure.canvas.get_renderer()
        pad = 8.0 + legend.get_window_extent(renderer).height * 72.0 / ax.figure.dpi
    elif above_legend:
        pad = 8.0
    ax.set_title(_wrap(head, width - 0.3, mpl.rcParams["axes.titlesize"]), loc="left", pad=pad)
    return head


def _note(ax: Axes, text: str) -> None:
    """A grey note under the x axis label, from the left edge of the plot."""
    if text:
        width_in = ax.figure.get_size_inches()[0] * 0.9
        ax.annotate(_wrap(text, width_in, mpl.rcParams["legend.fontsize"]), xy=(0, 0),
                    xycoords=("axes fraction", ax.xaxis.label), xytext=(0, -4), textcoords="offset points",
                    ha="left", va="top", fontsize=mpl.rcParams["legend.fontsize"], color="0.35", gid="dist_note")


@takes_settings
def box_plot(
    df: pd.DataFrame,
    value: str,
    by: str,
    ax: Axes | None = None,
    *,
    min_cell_size: int | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    width: float = DOUBLE_COLUMN,
) -> Axes:
    """Horizontal box plots of ``value`` by ``by`` (seaborn ``boxplot``): median, quartiles and
    whiskers to the most extreme values within the 5th and 95th percentiles; no outlier points
    (each would be one patient).

    Parameters
    ----------
    df : DataFrame
        One row per patient.
    value, by : str
        A continuous column and the group column (groups in category order; one colour each,
        :func:`~ensemble_helpers.plots.style.group_color`).
    ax : Axes, optional
        Where to draw (a new figure ``width`` inches wide by default).
    min_cell_size : int, optional
        Groups with fewer patients are not drawn; group sizes below it are shown as ``<k``.
    title, xlabel : str, optional
        Texts (``xlabel`` defaults to the label of ``value``).
    width : float
        Width of a new figure, inches (180 mm by default; 85 mm: smaller fonts).

    Returns
    -------
    Axes
    """
    import seaborn as sns

    drawn, small, data = _groups(df, value, by, min_cell_size)
    names = _names(data, by, drawn, min_cell_size)
    created = ax is None
    narrow = created and width < 4.5
    if narrow:  # group names on two lines: the plot keeps most of a single column
        names = {lvl: name.replace(" (n=", "\n(n=") for lvl, name in names.items()}
    colors = group_colors(drawn)
    with theme(**(column_rc(width) if created else {})):
        if created:
            row = 0.5 if narrow else 0.42
            ax = _new_axes((width, row * max(len(drawn), 1) + (1.35 if title else 1.0) + (0.25 if small else 0)))
        shown = data.assign(_group=data[by].map(names))
        order = [names[lvl] for lvl in drawn]
        if drawn:
            with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11's deprecated vert=
                warnings.filterwarnings("ignore", message=".*vert: bool was deprecated")
                sns.boxplot(data=shown, x=value, y="_group", hue="_group", order=order, hue_order=order,
                            palette={names[lvl]: colors[lvl] for lvl in drawn}, showfliers=False, whis=(5, 95),
                            width=0.6, linewidth=1.0, legend=False, ax=ax, saturation=1.0,
                            boxprops={"alpha": 0.85}, medianprops={"color": "white", "linewidth": 1.6})
        ax.set_ylabel("")
        ax.set_xlabel(xlabel or _labels.label(value))
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        head = _title(ax, title, width)
        note = _not_drawn(small, min_cell_size)
        _note(ax, note)
        details = (f"{_labels.label(value)} by {_labels.in_sentence(by)}: median, quartiles and whiskers within the 5th "
                   f"and 95th percentiles of {len(drawn)} groups ({'; '.join(order).replace(chr(10), ' ')}). "
                   f"{note}").strip()
        return _finish(ax, created, kind="Box plot", title=head or _labels.label(value), details=details,
                       name=f"box {value} by {by}")


@takes_settings
def ecdf_plot(
    df: pd.DataFrame,
    value: str,
    by: str,
    ax: Axes | None = None,
    *,
    min_cell_size: int | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    width: float = DOUBLE_COLUMN,
    what: str | None = None,
) -> Axes:
    """Empirical cumulative distribution of ``value`` by ``by`` (seaborn ``ecdfplot``): the
    proportion of each group with a value at or below x. Arguments as :func:`box_plot`;
    ``what`` names the value in the alt text and file name (default its label)."""
    import seaborn as sns

    drawn, small, data = _groups(df, value, by, min_cell_size)
    names = _names(data, by, drawn, min_cell_size)
    colors = group_colors(drawn)
    created = ax is None
    with theme(**(column_rc(width) if created else {})):
        narrow = created and width < 4.5
        if created:
            ax = _new_axes((width, (2.6 if narrow else 3.3) + (0.35 if title else 0.1) + 0.25 * len(drawn) + 0.6))
        shown = data.assign(_group=data[by].map(names))
        order = [names[lvl] for lvl in drawn]
        if drawn:
            sns.ecdfplot(data=shown, x=value, hue="_group", hue_order=order,
                         palette={names[lvl]: colors[lvl] for lvl in drawn}, linewidth=1.5, ax=ax)
            legend = ax.get_legend()
            if legend is not None:  # over the plot, outside the axes: never over a curve
                sns.move_legend(ax, "lower left", bbox_to_anchor=(0, 1), title=None, frameon=False,
                                ncols=1 if narrow or len(order) <= 3 else 2, borderaxespad=0.3)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("Proportion of patients")
        ax.set_xlabel(xlabel or _labels.label(value))
        head = _title(ax, title, width, above_legend=True)
        note = _not_drawn(small, min_cell_size)
        _note(ax, note)
        what = what or _labels.in_sentence(value)
        details = (f"Proportion of patients with {what} at or below each value, "
                   f"{len(drawn)} groups ({'; '.join(order)}). {note}").strip()
        return _finish(ax, created, kind="Empirical cumulative distribution", title=head or _labels.label(value),
                       details=details, name=f"ecdf {what} by {by}")


@takes_settings
def count_plot(
    df: pd.DataFrame,
    value: str,
    by: str,
    ax: Axes | None = None,
    *,
    top: int | None = None,
    min_cell_size: int | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    width: float = DOUBLE_COLUMN,
) -> Axes:
    """Share of each group at each value of a count variable (seaborn ``barplot`` of the
    percentages), e.g. prior lines of therapy by regimen class; a bar of fewer than
    ``min_cell_size`` patients is not drawn.

    Parameters
    ----------
    df, value, by, ax, min_cell_size, title, xlabel, width
        As :func:`box_plot`; ``value`` holds whole numbers.
    top : int, optional
        Values at or above ``top`` are pooled into one bar ("≥top").

    Returns
    -------
    Axes
    """
    import seaborn as sns

    drawn, small, data = _groups(df, value, by, min_cell_size)
    names = _names(data, by, drawn, min_cell_size)
    colors = group_colors(drawn)
    values = pd.to_numeric(data[value]).round().astype(int)
    if top is not None:
        values = values.clip(upper=top)
    cats = sorted(values.unique())
    text = {v: (f"≥{v}" if top is not None and v == top else str(v)) for v in cats}
    counts = pd.crosstab(data[by], values).reindex(index=drawn, columns=cats, fill_value=0)
    rows = []
    hidden = 0
    for lvl in drawn:
        total = int(counts.loc[lvl].sum())
        for v in cats:
            k = int(counts.loc[lvl, v])
            if is_suppressed(k, min_cell_size):
                hidden += 1
                k_shown = np.nan
            else:
                k_shown = 100.0 * k / total
            rows.append({"group": names[lvl], "value": text[v], "percent": k_shown})
    table = pd.DataFrame(rows)
    created = ax is None
    with theme(**(column_rc(width) if created else {})):
        narrow = created and width < 4.5
        if created:
            ax = _new_axes((width, (2.4 if narrow else 3.0) + (0.35 if title else 0.1) + 0.25 * len(drawn) + 0.6))
        order = [names[lvl] for lvl in drawn]
        if drawn:
            sns.barplot(data=table, x="value", y="percent", hue="group", order=[text[v] for v in cats],
                        hue_order=order, palette={names[lvl]: colors[lvl] for lvl in drawn}, saturation=1.0,
                        errorbar=None, width=0.8, ax=ax)
            sns.move_legend(ax, "lower left", bbox_to_anchor=(0, 1), title=None, frameon=False,
                            ncols=1 if narrow or len(order) <= 3 else 2, borderaxespad=0.3)
        ax.set_ylabel("Patients in the group (%)")
        ax.set_xlabel(xlabel or _labels.label(value))
        head = _title(ax, title, width, above_legend=True)
        notes = [_not_drawn(small, min_cell_size)]
        if hidden:
            notes.append(f"{hidden} bar{'s' if hidden > 1 else ''} of fewer than {min_cell_size} patients not drawn.")
        note = " ".join(n for n in notes if n)
        _note(ax, note)
        details = (f"Share of each group by {_labels.in_sentence(value)}, {len(drawn)} groups ({'; '.join(order)}). "
                   f"{note}").strip()
        return _finish(ax, created, kind="Count plot", title=head or _labels.label(value), details=details,
                       name=f"count {value} by {by}")
