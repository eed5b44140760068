"""Figure mechanics shared by the plot modules: figures this package creates
(:class:`ReportFigure`, shown in Jupyter without a second tight-bbox draw), what they show
(:func:`describe`: file name and alt text), fitted margins, time axes and the number-at-risk
table drawn under time-to-event figures.

When a report figure is shown in a notebook run, its display hook (:func:`_display_fitted`)
writes its files (:func:`ensemble_helpers.export.save_figure`: ``<notebook>_figures/<name>``
as SVG, PDF and 300-dpi PNG) and gives the image its alt text (output metadata ``alt``, which
the report's HTML template writes into the ``<img>`` tag).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from mpl_toolkits.axes_grid1 import axes_size, make_axes_locatable

from ensemble_helpers.privacy import suppress_count


class ReportFigure(Figure):
    """A figure made by this module. When :func:`_fit_margins` has fitted its margins
    (``margins_fitted``), Jupyter shows it without a "tight" bounding box: the content already
    ends ``pad`` inches from the edges, and the tight box costs a second full draw of the figure
    (~0.1 s each, the largest part of a report's figure time).

    ``report_name`` (file name) and ``report_alt`` (alt text) say what it shows
    (:func:`describe`); ``files_written`` is set once its files are written;
    ``report_variants`` (suffix -> function drawing it again, e.g. at 85 mm) adds files of the
    same figure at other sizes."""

    margins_fitted = False
    report_name: str | None = None
    report_alt: str | None = None
    files_written = False


def describe(fig: Any, kind: str, title: str | None, details: str = "", name: str | None = None) -> None:
    """Say what a figure shows: its file name and its alt text.

    Parameters
    ----------
    fig : Figure
    kind : str
        What kind of figure ("Kaplan–Meier curves", "Bar chart").
    title : str, optional
        Its title (already a label).
    details : str
        One or two sentences: the groups and their n (suppressed as the figure shows them), the
        axes.
    name : str, optional
        File name (default: ``kind`` and ``title``; made file-safe by
        :func:`ensemble_helpers.export.slug`).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plt.figure()
    >>> describe(fig, "Kaplan–Meier curves", "PFS by regimen group", "2 groups: A (n=40), B (n=<5).")
    >>> fig.report_alt
    'Kaplan–Meier curves: PFS by regimen group. 2 groups: A (n=40), B (n=<5).'
    >>> plt.close(fig)
    """
    head = f"{kind}: {title}" if title else kind
    fig.report_alt = f"{head}. {details}".strip() if details else head
    fig.report_name = name or (f"{_KIND_NAMES.get(kind, kind)} {title}" if title else kind)


#: Short file-name prefixes of figure kinds.
_KIND_NAMES = {"Kaplan–Meier curves": "km", "Kaplan–Meier curve": "km", "Cumulative incidence": "cuminc",
               "Forest plot": "forest", "Bar chart": "bar", "Histogram": "hist", "Flow diagram": "flow"}


def figure_alt(fig: Any) -> str:
    """The alt text of a figure: :func:`describe`'s, else its axes' titles, labels and legends."""
    alt = getattr(fig, "report_alt", None)
    if alt:
        return alt
    parts = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        title = next((t for t in (ax.get_title("left"), ax.get_title(), ax.get_title("right")) if t), "")
        axes = [f"{k} axis: {v}" for k, v in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if v]
        legend = ax.get_legend()
        entries = [t.get_text() for t in legend.get_texts()] if legend is not None else []
        text = "; ".join(x for x in [title, ", ".join(axes), ", ".join(entries)] if x)
        if text:
            parts.append(text)
    return "Figure: " + ". ".join(parts) if parts else "Figure"


def figure_name(fig: Any) -> str:
    """The file name of a figure: :func:`describe`'s, else its first axes title, else "figure"."""
    name = getattr(fig, "report_name", None)
    if name:
        return name
    for ax in fig.axes:
        title = ax.get_title("left") or ax.get_title()
        if title:
            return title
    return "figure"


def _write_files(fig: Figure) -> None:
    """Write the figure's files for the current report run (once per figure; no-op outside a run)."""
    if getattr(fig, "files_written", False):
        return
    from ensemble_helpers import export

    if export.current() is None:
        return
    name = figure_name(fig)
    export.save_figure(fig, name)
    fig.files_written = True
    # the same figure drawn again at another width (Kaplan–Meier and cumulative incidence at a
    # single-column width): "<name>_85mm", never shown
    for suffix, draw in getattr(fig, "report_variants", {}).items():
        other = draw().figure
        try:
            export.save_figure(other, f"{name}_{suffix}")
        finally:
            plt.close(other)


def _display_fitted(formatter: Any) -> Any:
    """IPython printer for :class:`ReportFigure`: whatever the shell uses for ``Figure`` in
    this output format (looked up at display time, so ``%config InlineBackend`` changes still
    apply), with ``bbox_inches=None`` for a figure whose margins are fitted."""
    import functools

    def printer(fig: Figure) -> Any:
        base = formatter.type_printers.get(Figure)
        if base is None:
            return None  # this format is not enabled for figures
        _write_files(fig)
        data = _print(fig, base)
        if data is None:
            return None
        md: dict[str, Any] = {}
        if isinstance(data, tuple):  # (data, metadata), e.g. the "retina" PNG printer
            data, md = data[0], dict(data[1] or {})
        md["alt"] = figure_alt(fig)
        return data, md

    def _print(fig: Figure, base: Any) -> Any:
        if not (getattr(fig, "margins_fitted", False) and isinstance(base, functools.partial)):
            return base(fig)
        # bbox_inches=None falls back to rcParams["savefig.bbox"], which the theme sets to
        # "tight" (for fig.savefig): switch only that key, only while printing
        saved = mpl.rcParams["savefig.bbox"]
        mpl.rcParams["savefig.bbox"] = "standard"
        try:
            return base(fig, bbox_inches=None)
        finally:
            mpl.rcParams["savefig.bbox"] = saved

    return printer


def _register_display() -> None:
    """Register :func:`_display_fitted` in the running IPython shell (once; no-op outside)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return
    shell = get_ipython()
    if shell is None:
        return
    for formatter in shell.display_formatter.formatters.values():
        if Figure in formatter.type_printers and ReportFigure not in formatter.type_printers:
            formatter.for_type(ReportFigure, _display_fitted(formatter))


def _new_axes(figsize: tuple[float, float]) -> Axes:
    fig, ax = plt.subplots(figsize=figsize, FigureClass=ReportFigure)
    _register_display()  # after plt.subplots, which sets up the inline backend's printers
    return ax


def _fit_margins(fig: Any, pad: float = 0.1) -> None:
    """Set the figure's subplot margins so that everything drawn (tick labels, titles, legends
    and texts outside the axes, at-risk labels) fits inside it with ``pad`` inches to spare.

    For figures this module creates; the equivalent of ``tight_layout`` for axes appended with
    ``make_axes_locatable`` (which ``tight_layout`` does not handle).
    """
    renderer = fig.canvas.get_renderer()
    width, height = fig.get_size_inches()
    dpi = fig.dpi
    # one pass: what sticks out of the axes (labels, legends, at-risk names) has a fixed size in
    # inches, so moving the axes edges by the overhang fits it
    boxes = [a.get_tightbbox(renderer) for a in fig.axes if a.get_visible()]
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return
    x0, x1 = min(b.x0 for b in boxes) / dpi, max(b.x1 for b in boxes) / dpi
    y0, y1 = min(b.y0 for b in boxes) / dpi, max(b.y1 for b in boxes) / dpi
    sp = fig.subplotpars
    left = sp.left + (pad - x0) / width
    right = sp.right + (width - pad - x1) / width
    bottom = sp.bottom + (pad - y0) / height
    top = sp.top + (height - pad - y1) / height
    if right - left < 0.2 or top - bottom < 0.2:
        return  # the texts do not fit this figure size: keep matplotlib's default margins
    fig.subplots_adjust(left=left, right=right, bottom=bottom, top=top)
    if isinstance(fig, ReportFigure):
        fig.margins_fitted = True


def _materialise_ticks(*axes: Axes) -> None:
    # Tick objects are created lazily and read rcParams when created: create them inside the
    # theme context so that a figure drawn later keeps the theme.
    for a in axes:
        a.xaxis.get_major_ticks()
        a.yaxis.get_major_ticks()


def _time_ticks(longest: float, tick_every: float, xmax: float | None, max_ticks: int = 14) -> tuple[np.ndarray, float]:
    """Ticks every ``tick_every`` (doubled until at most ``max_ticks``) and the axis end: ``xmax``,
    or the longest follow-up rounded up to a tick."""
    if tick_every <= 0:
        raise ValueError(f"tick_every must be > 0 (got {tick_every})")
    end = float(xmax) if xmax is not None else longest
    step = float(tick_every)
    while end / step > max_ticks:
        step *= 2
    if xmax is None:
        end = math.ceil(end / step - 1e-9) * step if end > 0 else step
    ticks = np.arange(0.0, end + step / 2, step)
    return ticks[ticks <= end + 1e-9], end


def _time_axis(ax: Axes, ticks: np.ndarray, x_end: float, xlabel: str, ylabel: str) -> None:
    """x axis of time-to-event figures: from 0 (with a 3% margin) to ``x_end``, ticks as numbers."""
    pad = 0.03 * x_end
    ax.set_xlim(-pad, x_end + pad)
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _finish(ax: Axes, created: bool, extra: Sequence[Axes] = (), *, kind: str | None = None,
            title: str | None = None, details: str = "", name: str | None = None) -> Axes:
    """Create the ticks inside the theme and, for a figure made here, fit its margins and say
    what it shows (:func:`describe`, when ``kind`` is given)."""
    _materialise_ticks(ax, *extra)
    if created:
        _fit_margins(ax.figure)
        if _fit_title(ax):
            _fit_margins(ax.figure)
        if kind is not None:
            describe(ax.figure, kind, title, details, name)
    return ax


def _draw_at_risk(
    ax: Axes,
    ticks: np.ndarray,
    rows: Sequence[tuple[str, str, np.ndarray]],
    min_cell_size: int | None,
    title: str = "Number at risk",
    *,
    label: str = "at_risk",
    pad: float = 0.78,
    divider: Any = None,
    swatches: bool = False,
) -> Axes:
    """A table of counts at the x ticks (number at risk, cumulative events) in a new axes under
    ``ax``, sharing its x axis: each count is centred on its tick, so the columns line up with the
    x axis whatever the figure width and the number of rows.

    ``rows`` are (label, colour, counts at ``ticks``). Counts go through ``suppress_count``.
    ``divider`` (from an earlier table under the same axes, ``rax.table_divider``) puts this
    table under that one, ``pad`` inches below. ``swatches``: each row is named by a bar of its
    colour (as the legend's lines) instead of its label, for narrow figures where the labels
    would take a quarter of the width or more (survminer's ``tables.y.text = FALSE``).
    """
    divider = divider if divider is not None else make_axes_locatable(ax)
    fontsize_labels = min(8.5, mpl.rcParams["ytick.labelsize"])
    row_in = 0.24 if fontsize_labels >= 8.5 else 0.2
    height = row_in * len(rows) + 0.08
    rax = divider.append_axes("bottom", size=axes_size.Fixed(height), pad=axes_size.Fixed(pad), sharex=ax)
    rax.table_divider = divider
    rax.set_label(label)
    n = len(rows)
    texts = [[suppress_count(int(k), min_cell_size) for k in counts] for _, _, counts in rows]
    # smaller digits when long counts would touch their neighbours (DejaVu digits: 0.64 em wide)
    x0, x1 = ax.get_xlim()
    column_pt = ax.bbox.width * 72.0 / ax.figure.dpi * (ticks[1] - ticks[0]) / (x1 - x0) if len(ticks) > 1 else 1e9
    longest = max((len(t) for row in texts for t in row), default=1)
    fontsize = float(min(fontsize_labels, max(5.5, 0.92 * column_pt / (0.64 * longest))))
    for i, ((_, color, _), row) in enumerate(zip(rows, texts)):
        y = n - 1 - i
        for t, text in zip(ticks, row):
            rax.text(t, y, text, ha="center", va="center", fontsize=fontsize, color=_text_color(color),
                     gid=f"{label}_count")
    rax.set_ylim(-0.6, n - 0.4)
    rax.set_yticks(np.arange(n - 1, -1, -1), ["\u2501\u2501" if swatches else r[0] for r in rows])
    for tick_label, (_, color, _) in zip(rax.get_yticklabels(), rows):
        tick_label.set_color(color if swatches else _text_color(color))
        tick_label.set_fontsize(fontsize_labels)
    # the first column's counts are centred on the first tick, near the axes' left edge: the row
    # labels keep clear of them
    first_half_pt = max((len(row[0]) for row in texts if row), default=1) * 0.64 * fontsize / 2
    margin_pt = ax.bbox.width * 72.0 / ax.figure.dpi * (ticks[0] - x0) / (x1 - x0) if len(ticks) else 0.0
    rax.tick_params(axis="y", length=0, pad=max(6.0, first_half_pt - margin_pt + 5.0))
    rax.tick_params(axis="x", bottom=False, labelbottom=False)
    for side in ("left", "right", "top", "bottom"):
        rax.spines[side].set_visible(False)
    rax.set_title(title, loc="left", fontsize=fontsize_labels + 0.5, fontweight="bold", pad=3)
    rax.set_xlabel("")
    return rax


def _text_color(color: str) -> str:
    """``color`` darkened until small text in it reads on white (contrast ratio >= 4.5, WCAG AA):
    the light palette colours (sky blue, orange, grey) of thin table digits."""
    rgb = np.array(mpl.colors.to_rgb(color))

    def contrast(c: np.ndarray) -> float:
        lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return 1.05 / (float(lin @ [0.2126, 0.7152, 0.0722]) + 0.05)

    while contrast(rgb) < 4.5:
        rgb = rgb * 0.9
    return mpl.colors.to_hex(rgb)


#: Corners tried, in order, for a text placed inside the axes: (x, y, ha, va) in axes fraction.
_CORNERS = {
    "upper right": (0.98, 0.97, "right", "top"),
    "lower left": (0.02, 0.03, "left", "bottom"),
    "lower right": (0.98, 0.03, "right", "bottom"),
    "upper left": (0.02, 0.97, "left", "top"),
    "center right": (0.98, 0.55, "right", "center"),
}


def _hits(box: Any, obstacles: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> bool:
    """Whether a box (data coordinates) meets any obstacle: a step function ``(x, low, high)``
    drawn ``where="post"`` (a curve: low == high; a CI band: low < high)."""
    for x, lo, hi in obstacles:
        if x.size == 0:
            continue
        # the steps in force between box.x0 and box.x1: the one at box.x0 and those starting inside
        first = max(int(np.searchsorted(x, box.x0, side="right")) - 1, 0)
        last = int(np.searchsorted(x, box.x1, side="right"))
        if x[0] > box.x1 or x[-1] < box.x0:
            continue
        seg_lo, seg_hi = lo[first:max(last, first + 1)], hi[first:max(last, first + 1)]
        ok = ~(np.isnan(seg_lo) | np.isnan(seg_hi))
        if ok.any() and np.nanmin(seg_lo[ok]) <= box.y1 and np.nanmax(seg_hi[ok]) >= box.y0:
            return True
    return False


def _place_texts(ax: Axes, blocks: Sequence[tuple[str, str]],
                 obstacles: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                 fontsize: float | None = None) -> list[Any]:
    """Put each (text, gid) block in a free corner of the axes: the first of :data:`_CORNERS`
    where it meets no curve, band or median line (``obstacles``, see :func:`_hits`) and no
    earlier block; the last corner tried when none is free. Returns the Text artists."""
    renderer = ax.figure.canvas.get_renderer()
    to_data = ax.transData.inverted()
    placed: list[Any] = []
    taken: list[Any] = []
    for text, gid in blocks:
        if not text:
            continue
        chosen = None
        for corner, (x, y, ha, va) in _CORNERS.items():
            if corner in taken:
                continue
            t = ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, gid=gid, linespacing=1.25,
                        fontsize=fontsize or mpl.rcParams["legend.fontsize"], zorder=5)
            box = t.get_window_extent(renderer).transformed(to_data)
            overlaps = any(box.overlaps(p.get_window_extent(renderer).transformed(to_data)) for p in placed)
            if not overlaps and not _hits(box, obstacles):
                chosen = (t, corner)
                break
            t.remove()
        if chosen is None:  # nowhere free: the first free corner, over the curves, with a white box
            corner = next(c for c in _CORNERS if c not in taken)
            x, y, ha, va = _CORNERS[corner]
            t = ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, gid=gid, linespacing=1.25,
                        fontsize=fontsize or mpl.rcParams["legend.fontsize"], zorder=5,
                        bbox=dict(boxstyle="square,pad=0.25", facecolor="white", edgecolor="none", alpha=0.85))
            chosen = (t, corner)
        placed.append(chosen[0])
        taken.append(chosen[1])
    return placed


def _wrap(text: str, width_in: float, fontsize: float) -> str:
    """``text`` wrapped to lines at most ``width_in`` inches long at ``fontsize`` points
    (DejaVu Sans: about 0.58 em per character, bold a little wider)."""
    import textwrap

    chars = max(12, int(width_in * 72.0 / (0.6 * fontsize)))
    return "\n".join(textwrap.wrap(text, chars, break_on_hyphens=False)) if len(text) > chars else text


def _fit_title(ax: Axes, pad: float = 0.1) -> bool:
    """Re-wrap the axes' left title when it runs past the figure's right edge (it starts at the
    plot's left edge, after the y tick labels); whether it did."""
    from matplotlib.text import Text

    text = ax.get_title("left")
    if not text:
        return False
    title = next(c for c in ax.get_children() if isinstance(c, Text) and c.get_text() == text)
    fig = ax.figure
    box = title.get_window_extent(fig.canvas.get_renderer())
    right = fig.get_size_inches()[0] - pad
    if box.x1 / fig.dpi <= right:
        return False
    title.set_text(_wrap(text.replace("\n", " "), right - box.x0 / fig.dpi, title.get_fontsize()))
    return True


def _grow_to_fit(ax: Axes, plot_height: float, pad: float = 0.1) -> None:
    """Set the height of ``ax``'s figure so that, once its margins are fitted, the plot itself
    is ``plot_height`` inches tall: whatever is above it (title, legend) and under it (x axis,
    number-at-risk tables) has a fixed size in inches, measured here, so a wrapped title or a
    legend taller than planned makes the figure taller instead of the plot smaller."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    boxes = [a.get_tightbbox(renderer) for a in fig.axes if a.get_visible()]
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return
    dpi = fig.dpi
    top = max(b.y1 for b in boxes) / dpi
    bottom = min(b.y0 for b in boxes) / dpi
    box = ax.get_window_extent(renderer)
    above, below = top - box.y1 / dpi, box.y0 / dpi - bottom
    width = fig.get_size_inches()[0]
    fig.set_size_inches(width, above + plot_height + below + 2 * pad)
