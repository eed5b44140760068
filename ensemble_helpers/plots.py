"""Report figures: Kaplan–Meier curves with a number-at-risk table, forest, cumulative incidence,
bar, histogram and flow plots.

Each function draws on a matplotlib Axes (a new figure when ``ax`` is None) and returns it; no
figure is closed or shown. Conventions:

* the look is set in one place, :func:`theme_rc` — notebooks call :func:`set_theme` once, and
  every function here draws inside :func:`theme` so figures look the same either way;
* a group has one colour in every figure, :data:`GROUP_COLORS` / :func:`group_color`
  (Okabe–Ito colour-blind-safe palette);
* names come from :func:`ensemble_helpers.labels.label`; counts shown in figures go through
  :func:`ensemble_helpers.privacy.suppress_count`; numbers are formatted by
  :mod:`ensemble_helpers.tables`.

:func:`km_plot` aggregates to unique times with NumPy (no per-row Python loop), so a million
rows draw in well under a second; estimates in its legend follow R ``survival::survfit``
(computed by :mod:`ensemble_helpers.stats`: Greenwood variance, ``conf.type`` log-log by default,
median rule of ``print.survfit``).

Examples
--------
>>> import numpy as np, pandas as pd
>>> df = pd.DataFrame({"AVAL": [1.0, 2.0, 3.5, 4.0, 6.0], "event": [1, 0, 1, 1, 0]})
>>> ax = km_plot(df, "AVAL", "event")
>>> ax.get_legend().get_texts()[0].get_text()
'Overall (n=5): 4.0 (1.0–NR)'
"""

from __future__ import annotations

import contextlib
import logging
import math
import textwrap
import zlib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterator, Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from mpl_toolkits.axes_grid1 import axes_size, make_axes_locatable

from ensemble_helpers import labels as _labels
from ensemble_helpers import stats as _stats
from ensemble_helpers.privacy import is_suppressed, suppress_count, suppress_count_pct
from ensemble_helpers.tables import format_estimate, format_p

logger = logging.getLogger(__name__)

__all__ = [
    "OKABE_ITO",
    "GROUP_COLORS",
    "group_color",
    "group_colors",
    "theme_rc",
    "theme",
    "set_theme",
    "km_plot",
    "forest_plot",
    "cuminc_plot",
    "bar_plot",
    "hist_plot",
    "flow_plot",
]

# ----------------------------------------------------------------------------------------------
# colours and theme

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO: Mapping[str, str] = MappingProxyType(
    {
        "black": "#000000",
        "orange": "#E69F00",
        "sky_blue": "#56B4E9",
        "bluish_green": "#009E73",
        "yellow": "#F0E442",
        "blue": "#0072B2",
        "vermillion": "#D55E00",
        "reddish_purple": "#CC79A7",
        "grey": "#999999",
    }
)
_C = OKABE_ITO

#: Colour of each group code (the one place colours are chosen). Codes of one grouping variable
#: have distinct colours; a code means the same thing, and has the same colour, in every figure.
GROUP_COLORS: Mapping[str, str] = MappingProxyType(
    {
        "Overall": _C["black"],
        # first post-T-DXd regimen class (next_class) and regimen group (regimen_group)
        "anti_her2_antibody": _C["blue"],
        "antibody": _C["blue"],
        "anti_her2_tki": _C["vermillion"],
        "tki": _C["vermillion"],
        "anti_her2_other": _C["reddish_purple"],
        "chemotherapy": _C["bluish_green"],
        "non_antibody_tki": _C["bluish_green"],  # "Other regimen": mostly chemotherapy
        "endocrine": _C["orange"],
        "other": _C["grey"],
        # T-DXd discontinuation (tdxd_discontinuation_reason, discontinuation_group)
        "progression": _C["sky_blue"],
        "adverse_event": _C["orange"],
        "ild": _C["vermillion"],
        "other_adverse_event": _C["reddish_purple"],
        # hormone receptor
        "positive": _C["orange"],
        "negative": _C["sky_blue"],
        # yes/no flags (booleans are looked up as "Yes"/"No")
        "Yes": _C["vermillion"],
        "No": _C["blue"],
    }
)

#: Colours for groups without an entry in GROUP_COLORS (picked by a stable hash of the code).
FALLBACK_COLORS: tuple[str, ...] = (
    _C["blue"], _C["vermillion"], _C["bluish_green"], _C["reddish_purple"], _C["orange"],
    _C["sky_blue"], "#8C564B", _C["grey"], "#332288", "#882255",
)


def _color_key(code: Any) -> str:
    if isinstance(code, (bool, np.bool_)):
        return "Yes" if code else "No"
    if isinstance(code, str) and code in ("True", "False"):
        return "Yes" if code == "True" else "No"
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


def group_color(code: Any) -> str:
    """Colour of a group code (hex).

    Known codes (:data:`GROUP_COLORS`) have fixed colours; booleans are looked up as "Yes"/"No";
    any other code gets a colour of :data:`FALLBACK_COLORS` chosen by a stable hash (CRC-32) of
    its text, so it is the same in every figure and every run.

    Examples
    --------
    >>> group_color("anti_her2_tki") == group_color("tki") == "#D55E00"
    True
    >>> group_color(True)
    '#D55E00'
    """
    key = _color_key(code)
    if key in GROUP_COLORS:
        return GROUP_COLORS[key]
    return FALLBACK_COLORS[zlib.crc32(key.encode("utf-8")) % len(FALLBACK_COLORS)]


def group_colors(codes: Sequence[Any]) -> dict[Any, str]:
    """Colours of the groups of one figure: :func:`group_color`, with hash collisions resolved.

    Two codes without a fixed colour can hash to the same colour; the later one then takes the
    next fallback colour not yet used in the figure (deterministic for a given list of codes).
    """
    out: dict[Any, str] = {}
    used = {GROUP_COLORS[_color_key(c)] for c in codes if _color_key(c) in GROUP_COLORS}
    for code in codes:
        key = _color_key(code)
        if key in GROUP_COLORS:
            out[code] = GROUP_COLORS[key]
            continue
        start = zlib.crc32(key.encode("utf-8")) % len(FALLBACK_COLORS)
        for i in range(len(FALLBACK_COLORS)):
            color = FALLBACK_COLORS[(start + i) % len(FALLBACK_COLORS)]
            if color not in used:
                break
        else:
            color = FALLBACK_COLORS[start]
        used.add(color)
        out[code] = color
    return out


def theme_rc() -> dict[str, Any]:
    """The rcParams of every report figure (seaborn's "ticks" style, "notebook" context at
    0.85 font scale, written out so that drawing a figure does not import seaborn and, through
    it, ``scipy.stats``: ~1 s per notebook kernel).

    Figures are sized for an HTML report: 8 x 5.5 in at 100 dpi on screen, saved at 150 dpi with
    a tight bounding box.
    """
    rc: dict[str, Any] = {
        # seaborn.axes_style("ticks") (seaborn 0.13), without its "rocket" colour map
        "figure.facecolor": "white", "axes.facecolor": "white", "axes.edgecolor": ".15",
        "axes.labelcolor": ".15", "text.color": ".15", "xtick.color": ".15", "ytick.color": ".15",
        "axes.axisbelow": True, "axes.grid": False, "grid.color": ".8", "grid.linestyle": "-",
        "xtick.direction": "out", "ytick.direction": "out", "xtick.top": False, "ytick.right": False,
        "xtick.bottom": True, "ytick.left": True, "lines.solid_capstyle": "round",
        "patch.edgecolor": "w",
        # seaborn.plotting_context("notebook", font_scale=0.85)
        "font.size": 10.2, "axes.labelsize": 10.2, "xtick.labelsize": 9.35, "ytick.labelsize": 9.35,
        "grid.linewidth": 1.0, "lines.markersize": 6.0, "patch.linewidth": 1.0,
        "xtick.minor.width": 1.0, "ytick.minor.width": 1.0, "xtick.minor.size": 4.0,
        "ytick.minor.size": 4.0,
    }
    rc.update(
        {
            "font.family": ["sans-serif"],
            "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "sans-serif"],
            "figure.figsize": (8.0, 5.5),
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "savefig.facecolor": "white",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.linewidth": 1.0,
            "xtick.major.width": 1.0,
            "ytick.major.width": 1.0,
            "xtick.major.size": 4,
            "ytick.major.size": 4,
            "axes.titlesize": 11.5,
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
            "axes.titlepad": 10,
            "axes.prop_cycle": cycler(color=list(FALLBACK_COLORS)),
            "legend.frameon": False,
            "legend.fontsize": 9,
            "legend.title_fontsize": 9,
            "lines.linewidth": 1.6,
            "patch.force_edgecolor": False,
        }
    )
    return rc


@contextlib.contextmanager
def theme() -> Iterator[None]:
    """Context in which figures get the report theme without changing global settings.

    Only the theme's own rcParams are restored on exit (not all of them, as
    ``plt.rc_context`` does): Jupyter's inline backend switches interactive mode on when the
    first figure is created, and undoing that would stop every later figure from showing.
    """
    rc = theme_rc()
    saved = {key: mpl.rcParams[key] for key in rc}
    mpl.rcParams.update(rc)
    try:
        yield
    finally:
        mpl.rcParams.update(saved)


def set_theme() -> None:
    """Apply the report theme globally (call once at the top of a notebook)."""
    mpl.rcParams.update(theme_rc())


class ReportFigure(Figure):
    """A figure made by this module. When :func:`_fit_margins` has fitted its margins
    (``margins_fitted``), Jupyter shows it without a "tight" bounding box: the content already
    ends ``pad`` inches from the edges, and the tight box costs a second full draw of the figure
    (~0.1 s each, the largest part of a report's figure time)."""

    margins_fitted = False


def _display_fitted(formatter: Any) -> Any:
    """IPython printer for :class:`ReportFigure`: whatever the shell uses for ``Figure`` in
    this output format (looked up at display time, so ``%config InlineBackend`` changes still
    apply), with ``bbox_inches=None`` for a figure whose margins are fitted."""
    import functools

    def printer(fig: Figure) -> Any:
        base = formatter.type_printers.get(Figure)
        if base is None:
            return None  # this format is not enabled for figures
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


# ----------------------------------------------------------------------------------------------
# Kaplan–Meier: the arithmetic is ensemble_helpers.stats' (one implementation for tables and
# figures, so a legend's median is the table's median); this module only draws it.

@dataclass(frozen=True)
class _KM:
    """Kaplan–Meier estimate of one group at its distinct times (``stats._km_curve``)."""

    n: int
    times: np.ndarray  # every distinct time (events and censorings), ascending
    n_risk: np.ndarray  # number with duration >= times
    event_time: np.ndarray  # distinct event times
    surv: np.ndarray  # S(t) just after each event time
    lower: np.ndarray
    upper: np.ndarray
    censor_time: np.ndarray  # distinct censoring times
    censor_surv: np.ndarray
    median: float
    median_lower: float
    median_upper: float

    @property
    def max_time(self) -> float:
        return float(self.times[-1])

    def at_risk(self, ticks: np.ndarray) -> np.ndarray:
        """Number with duration >= t (R's number at risk at t)."""
        idx = np.searchsorted(self.times, ticks, side="left")
        return np.where(idx < self.times.size, self.n_risk[np.minimum(idx, self.times.size - 1)], 0).astype(np.int64)


def _km(t: np.ndarray, e: np.ndarray, z: float, ci_transform: str) -> _KM:
    times, n_risk, n_event, surv, se_log = _stats._km_curve(t, e)
    lower, upper = _stats._surv_confint(surv, se_log, ci_transform, z)
    n_at_time = n_risk - np.r_[n_risk[1:], 0]
    ev, cens = n_event > 0, (n_at_time - n_event) > 0
    return _KM(
        n=int(t.size),
        times=times,
        n_risk=n_risk,
        event_time=times[ev],
        surv=surv[ev],
        lower=lower[ev],
        upper=upper[ev],
        censor_time=times[cens],
        censor_surv=surv[cens],
        # as stats.km_summary: the lower band gives the median's lower limit
        median=_stats._r_median(surv, times),
        median_lower=_stats._r_median(lower, times),
        median_upper=_stats._r_median(upper, times),
    )


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


def _finish(ax: Axes, created: bool, extra: Sequence[Axes] = ()) -> Axes:
    """Create the ticks inside the theme and, for a figure made here, fit its margins."""
    _materialise_ticks(ax, *extra)
    if created:
        _fit_margins(ax.figure)
    return ax


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


def _draw_at_risk(
    ax: Axes,
    ticks: np.ndarray,
    rows: Sequence[tuple[str, str, np.ndarray]],
    min_cell_size: int | None,
    title: str = "Number at risk",
) -> Axes:
    """A number-at-risk table in a new axes under ``ax``, sharing its x axis.

    ``rows`` are (label, colour, counts at ``ticks``). Counts go through ``suppress_count``.
    """
    divider = make_axes_locatable(ax)
    height = 0.24 * len(rows) + 0.08
    rax = divider.append_axes("bottom", size=axes_size.Fixed(height), pad=axes_size.Fixed(0.78), sharex=ax)
    rax.set_label("at_risk")
    n = len(rows)
    texts = [[suppress_count(int(k), min_cell_size) for k in counts] for _, _, counts in rows]
    # smaller digits when long counts would touch their neighbours (DejaVu digits: 0.64 em wide)
    x0, x1 = ax.get_xlim()
    column_pt = ax.bbox.width * 72.0 / ax.figure.dpi * (ticks[1] - ticks[0]) / (x1 - x0) if len(ticks) > 1 else 1e9
    longest = max((len(t) for row in texts for t in row), default=1)
    fontsize = float(min(8.5, max(5.5, 0.92 * column_pt / (0.64 * longest))))
    for i, ((_, color, _), row) in enumerate(zip(rows, texts)):
        y = n - 1 - i
        for t, text in zip(ticks, row):
            rax.text(t, y, text, ha="center", va="center", fontsize=fontsize, color=color, gid="at_risk_count")
    rax.set_ylim(-0.6, n - 0.4)
    rax.set_yticks(np.arange(n - 1, -1, -1), [r[0] for r in rows])
    for tick_label, (_, color, _) in zip(rax.get_yticklabels(), rows):
        tick_label.set_color(color)
        tick_label.set_fontsize(8.5)
    rax.tick_params(axis="y", length=0, pad=6)
    rax.tick_params(axis="x", bottom=False, labelbottom=False)
    for side in ("left", "right", "top", "bottom"):
        rax.spines[side].set_visible(False)
    rax.set_title(title, loc="left", fontsize=9, fontweight="bold", pad=3)
    rax.set_xlabel("")
    return rax


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
    z = _stats._z_value(_stats._check_conf_level(conf_level))
    ci_transform = _stats._check_transform(ci_transform)
    _stats._require_columns(df, [c for c in (duration, event, by) if c is not None])
    # same validation and missing-value rule as stats.km_summary_by (rows missing the duration or
    # event are left out; negative times and events other than 0/1 are errors)
    t_all, e_all, ok = _stats._clean_survival(df[duration], df[event], index=df.index,
                                              duration_name=duration, event_name=event)
    if by is None:
        codes, levels = np.where(ok, 0, -1), [_stats.OVERALL]
    else:
        codes, levels = _stats._group_codes(df[by])
        n_missing = int(((codes < 0) & ok).sum())
        if n_missing:
            logger.info("km_plot: %d row(s) with a missing %s left out", n_missing, by)
        codes = np.where(ok, codes, -1)
    fits: list[tuple[Any, _KM]] = []
    too_small: list[Any] = []
    for level, pos in zip(levels, _stats._split_by_code(codes, len(levels))):
        if pos.size == 0:
            logger.info("km_plot: group %s=%s has no patients and is not drawn", by, level)
            continue
        if min_cell_size is not None and pos.size < min_cell_size:
            # the curve of so few patients would show each one's event time
            too_small.append(level)
            continue
        fits.append((level, _km(t_all[pos], e_all[pos], z, ci_transform)))
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
            med = (km.median, km.median_lower, km.median_upper)
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
        return _finish(ax, created, extra)


# ----------------------------------------------------------------------------------------------
# forest plot


def _text_width_pt(texts: Sequence[Any], renderer: Any, dpi: float) -> float:
    widths = [t.get_window_extent(renderer).width for t in texts if t.get_text()]
    return max(widths, default=0.0) * 72.0 / dpi


_HR_TICKS = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 4, 5, 10, 20, 50, 100])


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
        ``hr`` and no note is shown as "not estimable" without a marker.
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
        p-value column; default when a ``p`` column with a value exists.
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
            ax = _new_axes((9.0, 0.3 * (n_rows + 1.5 + (1.2 if title else 0)) + 0.9))
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
                ax.plot([hr[i]], [y[i]], marker="s", ms=6.5, color=color, ls="none", gid="forest_point", zorder=3)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xlabel(xlabel)
        tick_values = _HR_TICKS[(_HR_TICKS >= x_lo * (1 - 1e-9)) & (_HR_TICKS <= x_hi * (1 + 1e-9))]
        if tick_values.size > 7:
            tick_values = tick_values[np.isin(tick_values, [0.01, 0.1, 0.25, 0.5, 1, 2, 4, 10, 100])]
        ax.xaxis.set_major_locator(ticker.FixedLocator(tick_values))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(ticker.NullLocator())

        header_y = n_rows - 0.1
        labels_raw = [str(v) if not pd.isna(v) else "" for v in rows[label]]
        indent = bool(is_header.any())
        lab_texts, count_texts, hr_texts, p_texts = [], [], [], []
        for i in range(n_rows):
            weight = "bold" if is_header[i] else "normal"
            lab_texts.append(ax.annotate(labels_raw[i].strip(), xy=(0, y[i]), xycoords=("axes fraction", "data"),
                                         textcoords="offset points", xytext=(0, 0), ha="left", va="center",
                                         fontsize=9, fontweight=weight, annotation_clip=False, gid="forest_label"))
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
                p_texts.append(ax.annotate(format_p(p[i]) if estimable[i] else "", xy=(1, y[i]),
                                           xycoords=("axes fraction", "data"), textcoords="offset points",
                                           xytext=(0, 0), ha="right", va="center", fontsize=9,
                                           annotation_clip=False, gid="forest_p"))
        head = dict(xycoords=("axes fraction", "data"), textcoords="offset points", xytext=(0, 0), va="center",
                    fontsize=9, fontweight="bold", annotation_clip=False, gid="forest_header")
        h_lab = ax.annotate("Subgroup" if indent else "", xy=(0, header_y), ha="left", **head)
        h_cnt = ax.annotate("n / events", xy=(0, header_y), ha="right", **head)
        h_hr = ax.annotate(f"HR ({conf_level * 100:g}% CI)", xy=(1, header_y), ha="left", **head)
        h_p = ax.annotate("p-value" if show_p else "", xy=(1, header_y), ha="right", **head)

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
        return _finish(ax, created)


# ----------------------------------------------------------------------------------------------
# cumulative incidence


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

    Returns
    -------
    Axes
    """
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
    ticks, x_end = _time_ticks(max(ends), tick_every, xmax)

    def with_origin(t: np.ndarray, v: np.ndarray, end: float) -> tuple[np.ndarray, np.ndarray]:
        if t[0] > 0:
            t, v = np.r_[0.0, t], np.r_[0.0, v]
        return np.r_[t, end], np.r_[v, v[-1]]

    with theme():
        created = ax is None
        if created:
            n_rows = len(parts) if durations is not None else 0
            ax = _new_axes((8.0, (0.35 if title else 0.1) + 3.3 + 0.15
                            + (0.78 + 0.24 * n_rows + 0.3 if n_rows else 0.6)))
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
        if title:
            ax.set_title(_labels.label(title), loc="left")
        if len(parts) > 1 or label:
            ax.legend(loc="upper left")
        extra = [_draw_at_risk(ax, ticks, risk_rows, min_cell_size)] if risk_rows else []
        return _finish(ax, created, extra)


# ----------------------------------------------------------------------------------------------
# bar, histogram and flow


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
        return _finish(ax, created)


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
        return _finish(ax, created)


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
        return _finish(ax, created)
