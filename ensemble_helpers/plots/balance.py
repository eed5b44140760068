"""Propensity-score diagnostics: the distribution of the scores by group and the love plot."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ensemble_helpers import labels as _labels
from ensemble_helpers.plots._figure import _finish, _new_axes
from ensemble_helpers.plots.style import OKABE_ITO, group_color, theme
from ensemble_helpers.privacy import is_suppressed
from ensemble_helpers.settings import takes_settings


@takes_settings
def propensity_plot(
    scores: Any, treated: Any, levels: Sequence[Any], ax: Axes | None = None, *, bins: int = 20,
    min_cell_size: int | None = None,
) -> Axes:
    """Mirrored histogram of the propensity scores: the compared level above, the reference below.

    A bin holding a suppressed number of patients (``1..min_cell_size-1``) is not drawn, so the
    figure shows no small count. Overlap of the two histograms is the positivity check.

    Returns
    -------
    Axes
    """
    e = np.asarray(scores, dtype=float)
    t = np.asarray(treated, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    with theme():
        created = ax is None
        if created:
            ax = _new_axes((7.0, 4.0))
        centers, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges) * 0.92
        for level, mask, sign in ((levels[0], t, 1.0), (levels[1], ~t, -1.0)):
            counts, _ = np.histogram(e[mask], bins=edges)
            keep = np.array([not is_suppressed(int(k), min_cell_size) for k in counts])
            ax.bar(centers[keep], sign * counts[keep], width=width[keep], color=group_color(level),
                   label=_labels.label(level), gid=f"ps_{'compared' if sign > 0 else 'reference'}")
        ax.axhline(0, color="0.3", lw=0.8)
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{abs(v):.0f}")
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"Propensity score: probability of {_labels.label(levels[0])}")
        ax.set_ylabel("Patients")
        ax.legend(loc="upper right", frameon=False)
        groups = " (up) vs ".join(_labels.label(lvl) for lvl in levels[:2])
        return _finish(ax, created, kind="Mirrored histogram", title="propensity scores by group",
                       details=f"{groups} (down); bars of fewer than {min_cell_size} patients not drawn."
                       if min_cell_size else f"{groups} (down).", name="propensity_scores_by_group")


def love_plot(balance: pd.DataFrame, ax: Axes | None = None, *, threshold: float = 0.1) -> Axes:
    """Absolute standardised mean differences before (open) and after (filled) weighting.

    Parameters
    ----------
    balance : DataFrame
        :func:`ensemble_helpers.adjust.balance` output (``covariate``, ``smd_unweighted``,
        ``smd_weighted``); rows are drawn top to bottom in the order given.
    threshold : float
        Dashed line of acceptable imbalance (0.1).

    Returns
    -------
    Axes
    """
    b = balance.reset_index(drop=True)
    y = np.arange(len(b))[::-1]
    with theme():
        created = ax is None
        if created:
            ax = _new_axes((7.0, max(2.5, 0.28 * len(b) + 1.0)))
        ax.scatter(b["smd_unweighted"].abs(), y, facecolors="none", edgecolors=OKABE_ITO["vermillion"],
                   label="Unweighted", zorder=3, gid="smd_unweighted")
        ax.scatter(b["smd_weighted"].abs(), y, color=OKABE_ITO["blue"], label="Weighted", zorder=3, gid="smd_weighted")
        ax.axvline(threshold, color="0.4", ls="--", lw=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels([covariate_label(c) for c in b["covariate"]])
        ax.set_xlim(left=0)
        ax.set_xlabel("Absolute standardised mean difference")
        ax.legend(loc="lower right", frameon=False)
        return _finish(ax, created, kind="Love plot", title="standardised mean differences before and after weighting",
                       details=f"{len(b)} covariates; dashed line at {threshold:g}.", name="love_plot_smd")


def covariate_label(name: str) -> str:
    """``visceral_metastasis`` -> "Visceral metastasis"; ``ecog=2`` -> "ECOG performance status: 2"."""
    if "=" in name:
        var, level = name.split("=", 1)
        return f"{_labels.label(var)}: {_labels.label(level)}"
    return _labels.label(name)
