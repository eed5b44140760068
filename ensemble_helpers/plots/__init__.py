"""Report figures: Kaplan–Meier curves with a number-at-risk table, forest, cumulative incidence,
bar, histogram and flow plots.

Each function draws on a matplotlib Axes (a new figure when ``ax`` is None) and returns it; no
figure is closed or shown. Conventions:

* the look is set in one place, :func:`theme_rc` — notebooks call :func:`set_theme` once, and
  every function here draws inside :func:`theme` so figures look the same either way;
* a group has one colour in every figure, :data:`GROUP_COLORS` / :func:`group_color`
  (Okabe–Ito colour-blind-safe palette);
* one module per figure family: :mod:`.style` (palette and theme), :mod:`.km`,
  :mod:`.forest`, :mod:`.cuminc`, :mod:`.charts` (bar, histogram, flow); ``_figure`` holds the
  figure mechanics they share (margins, time axis, number-at-risk table);
* names come from :func:`ensemble_helpers.labels.label`; counts shown in figures go through
  :func:`ensemble_helpers.privacy.suppress_count`; numbers are formatted by
  :mod:`ensemble_helpers.formats`.

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

from ensemble_helpers.plots._figure import ReportFigure
from ensemble_helpers.plots.charts import bar_plot, flow_plot, hist_plot
from ensemble_helpers.plots.cuminc import cuminc_plot
from ensemble_helpers.plots.forest import forest_plot
from ensemble_helpers.plots.km import km_plot
from ensemble_helpers.plots.style import (
    FALLBACK_COLORS,
    GROUP_COLORS,
    OKABE_ITO,
    group_color,
    group_colors,
    set_theme,
    theme,
    theme_rc,
)

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
