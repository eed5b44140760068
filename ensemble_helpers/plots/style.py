"""The look of every report figure, set in one place: the Okabe-Ito palette, one colour per
group (:data:`GROUP_COLORS`, :func:`group_color`) and the matplotlib theme (:func:`theme_rc`,
:func:`theme`, :func:`set_theme`).
"""

from __future__ import annotations

import contextlib
import zlib
from types import MappingProxyType
from typing import Any, Iterator, Mapping, Sequence

import matplotlib as mpl
import numpy as np
from cycler import cycler


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


#: Journal column widths, inches: single column (85 mm) and double column (180 mm).
SINGLE_COLUMN = 85 / 25.4
DOUBLE_COLUMN = 180 / 25.4


def column_rc(width: float) -> dict[str, Any]:
    """Font sizes of a figure ``width`` inches wide, printed at that size: the theme's at a
    double-column width; 1–2 pt smaller (never under 7 pt) at a single-column width, so that
    titles, legends and the number-at-risk table fit the column without shrinking the figure.

    Examples
    --------
    >>> column_rc(DOUBLE_COLUMN)
    {}
    >>> column_rc(SINGLE_COLUMN)["xtick.labelsize"]
    8.0
    """
    if width >= 4.5:
        return {}
    return {"font.size": 8.5, "axes.labelsize": 8.5, "xtick.labelsize": 8.0, "ytick.labelsize": 8.0,
            "axes.titlesize": 9.5, "legend.fontsize": 8.0, "legend.title_fontsize": 8.0,
            "lines.markersize": 4.5, "xtick.major.size": 3, "ytick.major.size": 3}


@contextlib.contextmanager
def theme(**overrides: Any) -> Iterator[None]:
    """Context in which figures get the report theme without changing global settings.

    Only the theme's own rcParams are restored on exit (not all of them, as
    ``plt.rc_context`` does): Jupyter's inline backend switches interactive mode on when the
    first figure is created, and undoing that would stop every later figure from showing.
    ``overrides``: rcParams changed on top of the theme (e.g. :func:`column_rc`), with dots
    written as in ``theme(**{"font.size": 8})``.
    """
    rc = {**theme_rc(), **overrides}
    saved = {key: mpl.rcParams[key] for key in rc}
    mpl.rcParams.update(rc)
    try:
        yield
    finally:
        mpl.rcParams.update(saved)


def set_theme() -> None:
    """Apply the report theme globally (call once at the top of a notebook)."""
    mpl.rcParams.update(theme_rc())
