"""Schoenfeld residual figure (plots/ph.py) and the weighted treatment-effect forest."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from ensemble_helpers.plots import forest_plot  # noqa: E402
from ensemble_helpers.plots.ph import binned_residuals, schoenfeld_plot  # noqa: E402
from ensemble_helpers.stats import cox_fit, cox_zph  # noqa: E402


def test_binned_residuals_never_show_fewer_than_k_events():
    rng = np.random.default_rng(0)
    t, r = rng.exponential(size=57), rng.normal(size=57)
    for k in (5, 11):
        out = binned_residuals(t, r, k)
        assert (out["events"] >= k).all() and out["events"].sum() == 57
        assert (out["lower"] <= out["mean"]).all() and out["time"].is_monotonic_increasing
    assert binned_residuals(t[:4], r[:4], 5).empty


def test_schoenfeld_plot_draws_means_not_patients():
    rng = np.random.default_rng(2)
    n = 300
    df = pd.DataFrame({"t": rng.exponential(size=n), "e": rng.integers(0, 2, n), "x": rng.integers(0, 2, n)})
    fit = cox_fit(df, "t", "e", ["x"])
    zph = cox_zph(fit)
    ax = schoenfeld_plot(zph, "x", float(fit.coef[0]), min_cell_size=5)
    lines = [ln for ln in ax.get_lines() if ln.get_gid() == "ph_bins"] or \
        [c for c in ax.containers if getattr(c, "get_gid", lambda: None)() == "ph_bins"]
    assert lines
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("cox.zph p" in t for t in legend)
    n_points = sum(len(ln.get_xdata()) for ln in ax.get_lines() if ln.get_marker() == "o")
    assert 0 < n_points <= int(df["e"].sum()) // 5


def test_forest_box_size_by_weight_and_overall_diamond():
    rows = pd.DataFrame({
        "label": ["All", "Var", "  a", "  b"], "n": [100, np.nan, 60, 40], "events": [50, np.nan, 30, 20],
        "hr": [1.0, np.nan, 0.8, 1.3], "hr_lower": [0.7, np.nan, 0.5, 0.8], "hr_upper": [1.4, np.nan, 1.2, 2.1],
        "p": [np.nan, 0.04, np.nan, np.nan], "weight": [40.0, np.nan, 25.0, 6.25],
        "is_header": [False, True, False, False], "is_overall": [True, False, False, False], "note": ["", "", "", ""],
    })
    ax = forest_plot(rows, min_cell_size=5, p_label="Interaction p")
    points = [ln for ln in ax.get_lines() if ln.get_gid() == "forest_point"]
    sizes = sorted(ln.get_markersize() for ln in points)
    assert sizes[1] == pytest.approx(2 * sizes[0])  # area proportional to weight: 4x weight, 2x width
    assert [ln.get_marker() for ln in ax.get_lines() if ln.get_gid() == "forest_overall"] == ["D"]
    texts = [t.get_text() for t in ax.texts if t.get_gid() == "forest_p"]
    assert "0.040" in texts
    assert "Interaction p" in [t.get_text() for t in ax.texts if t.get_gid() == "forest_header"]
