"""Scaled Schoenfeld residuals of one Cox term against time (the picture of R
``plot(cox.zph(fit)[term])``), drawn without showing any single patient.

Each scaled residual belongs to one event, i.e. one patient's event time: drawing them would
publish individual data. The figure shows instead the mean residual of consecutive events in
bins of at least ``min_cell_size`` events (and at least a tenth of the events), with its 95%
interval, against the bin's median time; the dashed line is the fitted (time-constant) log hazard
ratio. Under proportional hazards the means scatter around it without a trend.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ensemble_helpers import labels as _labels
from ensemble_helpers.formats import format_p
from ensemble_helpers.plots._figure import _finish, _new_axes
from ensemble_helpers.plots.style import OKABE_ITO, theme
from ensemble_helpers.settings import takes_settings


def binned_residuals(time: Any, residuals: Any, min_cell_size: int | None = 5, bins: int = 10) -> pd.DataFrame:
    """Mean scaled residual per bin of consecutive event times.

    Parameters
    ----------
    time, residuals : array-like
        Event times and the scaled Schoenfeld residuals of one term (``ZphResult.time`` and a
        column of ``ZphResult.residuals``).
    min_cell_size : int or None
        Smallest number of events in a bin.
    bins : int
        At most this many bins.

    Returns
    -------
    DataFrame
        ``time`` (median event time of the bin), ``mean``, ``lower``, ``upper`` (mean -/+ 1.96
        standard errors), ``events``. Empty when there are fewer events than one bin needs.

    Examples
    --------
    >>> out = binned_residuals(np.arange(20.0), np.r_[np.zeros(10), np.ones(10)], 5, bins=2)
    >>> out["mean"].tolist(), out["events"].tolist()
    ([0.0, 1.0], [10, 10])
    """
    t = np.asarray(time, dtype=float)
    r = np.asarray(residuals, dtype=float)
    ok = np.isfinite(t) & np.isfinite(r)
    t, r = t[ok], r[ok]
    order = np.argsort(t, kind="stable")
    t, r = t[order], r[order]
    size = max(min_cell_size or 1, math.ceil(t.size / bins), 2)
    n_bins = t.size // size
    rows = []
    if n_bins == 0:
        return pd.DataFrame(columns=["time", "mean", "lower", "upper", "events"])
    edges = np.linspace(0, t.size, n_bins + 1).round().astype(int)  # every bin >= size events
    for a, b in zip(edges[:-1], edges[1:]):
        x = r[a:b]
        se = x.std(ddof=1) / math.sqrt(x.size)
        rows.append({"time": float(np.median(t[a:b])), "mean": float(x.mean()), "lower": float(x.mean() - 1.96 * se),
                     "upper": float(x.mean() + 1.96 * se), "events": int(x.size)})
    return pd.DataFrame(rows)


@takes_settings
def schoenfeld_plot(
    zph: Any, term: str, coef: float, ax: Axes | None = None, *, min_cell_size: int | None = 5,
    term_label: str | None = None, title: str | None = None, xlabel: str = "Months",
) -> Axes:
    """Binned scaled Schoenfeld residuals of ``term`` against time, with the fitted log HR.

    Parameters
    ----------
    zph : ZphResult
        From :func:`ensemble_helpers.stats.cox_zph`.
    term : str
        A column of ``zph.residuals``.
    coef : float
        The fitted coefficient (log hazard ratio) of ``term``.
    min_cell_size : int or None
        Smallest number of events per plotted mean.
    term_label, title, xlabel : str
        Texts; the row of ``zph.table`` for ``term`` gives the p-value in the legend.

    Returns
    -------
    Axes
    """
    binned = binned_residuals(zph.time, zph.residuals[term], min_cell_size)
    row = zph.table.loc[zph.table["term"] == term]
    p_text = f"cox.zph p = {format_p(float(row['p'].iloc[0]))}" if len(row) else ""
    name = term_label or _labels.label(term)
    with theme():
        created = ax is None
        if created:
            ax = _new_axes((7.0, 4.0))
        ax.axhline(coef, color="0.4", ls="--", lw=0.9, label=f"Fitted log HR ({math.exp(coef):.2f})", gid="ph_coef")
        ax.axhline(0.0, color="0.75", lw=0.7)
        if not binned.empty:
            ax.errorbar(binned["time"], binned["mean"],
                        yerr=[binned["mean"] - binned["lower"], binned["upper"] - binned["mean"]],
                        fmt="o-", color=OKABE_ITO["blue"], ms=5, lw=1.2, capsize=2,
                        label=f"Mean scaled residual ({p_text})" if p_text else "Mean scaled residual", gid="ph_bins")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Beta(t): log hazard ratio")
        ax.set_title(title or f"Proportional hazards: {name}")
        ax.legend(loc="best", frameon=False, fontsize=8)
        shown_title = ax.get_title("left") or ax.get_title()
        return _finish(ax, created, kind="Scaled Schoenfeld residuals", title=shown_title,
                       details="Binned mean residuals over time with the fitted log hazard ratio (dashed).",
                       name=f"schoenfeld {shown_title}")
