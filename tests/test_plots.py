"""Report figures: artists checked on tiny hand-made data, every figure rendered to PNG."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from ensemble_helpers import plots, stats  # noqa: E402
from ensemble_helpers.plots._figure import _display_fitted, _new_axes, _text_color  # noqa: E402
from ensemble_helpers.plots import (  # noqa: E402
    GROUP_COLORS,
    bar_plot,
    cuminc_plot,
    flow_plot,
    forest_plot,
    group_color,
    group_colors,
    hist_plot,
    km_plot,
)
from ensemble_helpers.tables import format_estimate  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def render(ax, tmp_path, name: str) -> None:
    """Save the figure as PNG and check it is a real image."""
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def by_gid(ax, gid: str) -> list:
    return [a for a in ax.get_children() if a.get_gid() == gid]


def at_risk_axes(ax):
    found = [a for a in ax.figure.axes if a.get_label() == "at_risk"]
    assert len(found) == 1
    return found[0]


def at_risk_rows(ax) -> dict[str, list[str]]:
    """{row label: counts left to right} of the number-at-risk table."""
    rax = at_risk_axes(ax)
    names = {round(y): t.get_text() for y, t in zip(rax.get_yticks(), rax.get_yticklabels())}
    rows: dict[str, list[tuple[float, str]]] = {}
    for t in rax.texts:
        if t.get_gid() == "at_risk_count":
            x, y = t.get_position()
            rows.setdefault(names[round(y)], []).append((x, t.get_text()))
    return {k: [s for _, s in sorted(v)] for k, v in rows.items()}


# ----------------------------------------------------------------------------------------------
# colours and theme


def test_group_colors_are_fixed_and_immutable():
    assert group_color("anti_her2_antibody") == group_color("antibody") == plots.OKABE_ITO["blue"]
    assert group_color(True) == group_color("Yes") == group_color("True")
    assert group_color("Overall") == "#000000"
    with pytest.raises(TypeError):
        GROUP_COLORS["antibody"] = "#FFFFFF"  # type: ignore[index]
    # colours within one grouping variable differ
    for codes in (
        ["anti_her2_antibody", "anti_her2_tki", "anti_her2_other", "chemotherapy", "endocrine", "other"],
        ["antibody", "tki", "non_antibody_tki"],
        ["progression", "ild", "other_adverse_event", "other"],
        ["progression", "adverse_event", "other"],
        ["positive", "negative"],
        ["Yes", "No"],
    ):
        assert len({group_color(c) for c in codes}) == len(codes), codes


def test_unknown_groups_get_stable_distinct_colours():
    assert group_color("ECOG 3") == group_color("ECOG 3") in plots.FALLBACK_COLORS
    assert group_color(2) == group_color("2") == group_color(2.0)
    codes = [f"site {i}" for i in range(8)]
    colors = group_colors(codes)
    assert len(set(colors.values())) == 8  # hash collisions resolved within a figure
    assert group_colors(codes) == colors


def test_theme_keeps_settings_changed_inside_it():
    # Jupyter's inline backend turns interactive mode on when the first figure is created; a
    # theme context that restored every rcParam turned it off again and later figures of a
    # notebook were never shown
    before = mpl.is_interactive()
    try:
        mpl.interactive(False)
        with plots.theme():
            assert mpl.rcParams["axes.spines.top"] is False
            mpl.interactive(True)
        assert mpl.is_interactive()
    finally:
        mpl.interactive(before)


def test_figures_show_in_a_notebook(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "import pandas as pd\nfrom ensemble_helpers import plots\nplots.set_theme()",
        "plots.flow_plot(pd.DataFrame({'step': ['a', 'b'], 'n': [10, 8], 'excluded': [0, 2]}));",
        "ax = plots.km_plot(pd.DataFrame({'t': [1, 2, 3, 4.0], 'e': [1, 0, 1, 1]}), 't', 'e')\n"
        "print(*(ax.figure.get_size_inches() * ax.figure.dpi).round().astype(int))",
        "plots.bar_plot(pd.DataFrame({'level': ['a', 'b'], 'n': [5, 6]}));",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    images = [sum("image/png" in o.get("data", {}) for o in c.outputs) for c in nb.cells[1:]]
    assert images == [1, 1, 1]
    # report figures are printed at their own size (fitted margins, no tight-bbox pass)
    km_png = next(o for o in nb.cells[2].outputs if "image/png" in o.get("data", {}))
    size = next(o for o in nb.cells[2].outputs if o.get("name") == "stdout")["text"].split()
    shown = _png_size(km_png["data"]["image/png"])
    assert all(abs(a - b) <= 1 for a, b in zip(shown, map(int, size)))  # 180 mm = 708.7 px at 100 dpi


def _png_size(data: bytes | str) -> tuple[int, int]:
    import base64
    import struct

    raw = base64.b64decode(data) if isinstance(data, str) else data
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


def test_fitted_report_figures_are_shown_without_a_tight_bbox_pass(tmp_path):
    # a figure whose margins _fit_margins set is printed at its own size (one draw, no crop);
    # any other figure keeps the shell's printer (tight bbox) unchanged; every printed figure
    # comes with its alt text and, in a report run, writes its files once
    from functools import partial

    from ensemble_helpers import export

    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    class Formatter:  # what IPython's display formatters offer: type_printers
        type_printers = {Figure: partial(print_figure, fmt="png")}

    printer = _display_fitted(Formatter())
    data = pd.DataFrame({"t": [1.0, 2.0, 3.0, 4.0], "e": [1, 0, 1, 1]})
    fig = km_plot(data, "t", "e", title="PFS").figure
    assert isinstance(fig, plots.ReportFigure) and fig.margins_fitted
    width, height = fig.get_size_inches() * fig.dpi
    before = mpl.rcParams["savefig.bbox"]
    try:
        mpl.rcParams["savefig.bbox"] = "tight"  # what set_theme does
        pub = export.start(export.Publication("02_endpoints", tmp_path))
        png, md = printer(fig)
        assert all(abs(a - b) <= 1 for a, b in zip(_png_size(png), (width, height)))
        assert md["alt"].startswith("Kaplan–Meier curves: Progression-free survival. ")
        assert "Overall (n=<5)" not in md["alt"] and "Overall (n=4)" in md["alt"]
        printer(fig)  # shown again: its files are not written twice
        # a Kaplan–Meier figure is also drawn at a single-column width, for its own files only
        assert list(pub.figures) == ["km_progression_free_survival", "km_progression_free_survival_85mm"]
        assert sorted(p.name for p in (tmp_path / "02_endpoints_figures").iterdir()) == [
            f"km_progression_free_survival{size}.{ext}" for size in ("", "_85mm") for ext in ("pdf", "png", "svg")]
        from PIL import Image

        with Image.open(tmp_path / "02_endpoints_figures" / "km_progression_free_survival_85mm.png") as im:
            assert im.size[0] == pytest.approx(85 / 25.4 * 300, abs=1)
        assert plt.get_fignums() == [fig.number]  # the 85 mm figure is closed, never shown
        export.stop()
        assert mpl.rcParams["savefig.bbox"] == "tight"  # switched only while printing
        loose = _new_axes((4.0, 3.0))  # margins not fitted: matplotlib's default margins
        loose.plot([0, 1])
        assert not loose.figure.margins_fitted
        assert _png_size(printer(loose.figure)[0]) != (400, 300)  # cropped by the tight bbox
        own = plt.figure(figsize=(4, 3))  # a user's figure is not a ReportFigure
        own.add_subplot().plot([0, 1])
        assert printer(own)[0] == Formatter.type_printers[Figure](own)
        Formatter.type_printers = {}  # format not enabled for figures
        assert printer(fig) is None
    finally:
        export.stop()
        mpl.rcParams["savefig.bbox"] = before
        plt.close("all")


def test_plots_do_not_change_global_settings_but_set_theme_does():
    before = dict(mpl.rcParams)
    km_plot(pd.DataFrame({"t": [1.0, 2.0], "e": [1, 0]}), "t", "e")
    assert dict(mpl.rcParams) == before
    try:
        plots.set_theme()
        assert mpl.rcParams["axes.spines.top"] is False
        assert list(mpl.rcParams["figure.figsize"]) == [8.0, 5.5]
    finally:
        mpl.rcParams.update(before)


# ----------------------------------------------------------------------------------------------
# Kaplan–Meier


@pytest.fixture
def tiny() -> pd.DataFrame:
    # A: 1 event, 2 cens, 3 event, 4 cens, 5 event -> S = 0.8 (t=1), 0.8*2/3 (t=3), 0 (t=5)
    # B: 2 two events of 4 -> S = 0.5 (flat until 7), 6 cens, 7 event -> 0; median (2+7)/2 = 4.5
    return pd.DataFrame(
        {
            "t": [1, 2, 3, 4, 5, 2, 2, 6, 7],
            "e": [1, 0, 1, 0, 1, 1, 1, 0, 1],
            "arm": ["A"] * 5 + ["B"] * 4,
        }
    )


def test_km_plot_artists_by_hand(tiny, tmp_path):
    ax = km_plot(tiny, "t", "e", by="arm", tick_every=2, min_cell_size=3, title="PFS")
    curves = by_gid(ax, "km_curve")
    assert len(curves) == 2
    x, y = curves[0].get_xdata(), curves[0].get_ydata()
    np.testing.assert_allclose(x, [0, 1, 3, 5, 5])
    np.testing.assert_allclose(y, [1, 0.8, 0.8 * 2 / 3, 0, 0])
    np.testing.assert_allclose(curves[1].get_xdata(), [0, 2, 7, 7])
    # censoring marks at distinct censoring times: A at 2 and 4, B at 6
    marks = by_gid(ax, "km_censor")
    np.testing.assert_allclose(marks[0].get_xdata(), [2, 4])
    np.testing.assert_allclose(marks[0].get_ydata(), [0.8, 0.8 * 2 / 3])
    np.testing.assert_allclose(marks[1].get_xdata(), [6])
    # medians 5 (A) and 4.5 (B, R's midpoint rule): one horizontal line, one vertical per group
    med = by_gid(ax, "km_median")
    assert len(med) == 3
    np.testing.assert_allclose(med[0].get_xdata(), [0, 5])
    assert sorted(m.get_xdata()[0] for m in med[1:]) == [4.5, 5]
    assert ax.get_title(loc="left") == "Progression-free survival"
    # x ticks every 2 months up to the longest follow-up (7) rounded up
    np.testing.assert_allclose(ax.get_xticks(), [0, 2, 4, 6, 8])
    # number at risk (duration >= t), suppressed below 3:
    # A: 5, 4, 2, 0, 0 -> 5 4 <3 0 0; B: 4, 4, 2, 2, 0 -> 4 4 <3 <3 0
    assert at_risk_rows(ax) == {"A": ["5", "4", "<3", "0", "0"], "B": ["4", "4", "<3", "<3", "0"]}
    rax = at_risk_axes(ax)
    assert rax.get_shared_x_axes().joined(ax, rax)  # aligned with the x ticks
    # each row in its group's colour, darkened where small text would not read on white
    assert [t.get_color() for t in rax.get_yticklabels()] == [_text_color(group_color("A")), _text_color(group_color("B"))]
    render(ax, tmp_path, "km")


def test_km_plot_legend_matches_stats_summary(tiny):
    ax = km_plot(tiny, "t", "e", by="arm", min_cell_size=4)
    s = stats.km_summary_by(tiny, "t", "e", "arm", timepoints=()).set_index("group")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    expected = [
        f"{g} (n={n}): {format_estimate(s.at[g, 'median'], s.at[g, 'median_lower'], s.at[g, 'median_upper'])}"
        for g, n in (("A", "5"), ("B", "4"))
    ]
    assert texts == expected
    assert texts[1].startswith("B (n=4): 4.5 (")
    assert ax.get_legend().get_title().get_text() == "Median, months (95% CI)"


def test_km_plot_uses_a_given_summary(tiny):
    s = pd.DataFrame({"group": ["A", "B"], "n": [5, 4], "median": [9.9, np.nan],
                      "median_lower": [8.0, 1.0], "median_upper": [np.nan, np.nan]})
    ax = km_plot(tiny, "t", "e", by="arm", summary=s)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "A (n=5): 9.9 (8.0–NR)", "B (n=4): NR (1.0–NR)"]
    with pytest.raises(KeyError, match="no row for group"):
        km_plot(tiny, "t", "e", by="arm", summary=s.iloc[:1])


def test_km_plot_overall_and_options(tiny, tmp_path):
    ax = km_plot(tiny, "t", "e", ci=True, censor_ticks=False, show_median=False, at_risk=False,
                 legend_loc="upper right")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Overall (n=9)"]
    assert len(by_gid(ax, "km_curve")) == 1 and not by_gid(ax, "km_censor") and not by_gid(ax, "km_median")
    assert len([c for c in by_gid(ax, "km_ci") if isinstance(c, PolyCollection)]) == 1
    assert len(ax.figure.axes) == 1
    render(ax, tmp_path, "km_overall")


def test_km_plot_group_order_empty_and_missing_groups(tiny):
    df = tiny.copy()
    df["arm"] = pd.Categorical(df["arm"], categories=["B", "C", "A"])
    df.loc[0, "arm"] = np.nan
    ax = km_plot(df, "t", "e", by="arm")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [t.split(" ")[0] for t in texts] == ["B", "A"]  # category order, empty C skipped
    assert texts[1].startswith("A (n=4)")  # the row with a missing group is left out
    assert list(at_risk_rows(ax)) == ["B", "A"]


def test_km_plot_labels_and_colours_groups(tiny):
    df = tiny.assign(arm=tiny["arm"].map({"A": "antibody", "B": "tki"}))
    ax = km_plot(df, "t", "e", by="arm")
    assert [t.get_text().split(" (")[0] for t in ax.get_legend().get_texts()] == ["Anti-HER2 antibody", "Anti-HER2 TKI"]
    assert [c.get_color() for c in by_gid(ax, "km_curve")] == [group_color("antibody"), group_color("tki")]


def test_km_plot_draws_on_a_given_axes(tiny):
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    out = km_plot(tiny, "t", "e", by="arm", ax=right, xmax=6, tick_every=2)
    assert out is right and not left.lines
    assert right.get_xlim()[1] >= 6 and list(right.get_xticks()) == [0, 2, 4, 6]
    assert at_risk_rows(right)["A"] == ["5", "4", "2", "0"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"e": [2, 0, 1, 0, 1, 1, 1, 0, 1]}, "0/1"),
        ({"t": [-1, 2, 3, 4, 5, 2, 2, 6, 7]}, ">= 0"),
    ],
)
def test_km_plot_rejects_bad_input(tiny, change, message):
    with pytest.raises(ValueError, match=message):
        km_plot(tiny.assign(**change), "t", "e")
    with pytest.raises(ValueError, match="not in the data"):
        km_plot(tiny, "t", "e", by="nope")
    with pytest.raises(ValueError, match="ci_transform"):
        km_plot(tiny, "t", "e", ci_transform="arcsine")


def test_km_plot_large_data_is_aggregated(tmp_path):
    # 200,000 rows with continuous times: steps and censoring marks are thinned, never one artist
    # (or one vertex) per row; timings are in the benchmark report, not asserted here
    rng = np.random.default_rng(0)
    n = 200_000
    t_event, t_cens = rng.weibull(1.1, n) * 6, rng.uniform(0, 36, n)
    df = pd.DataFrame({"t": np.minimum(t_event, t_cens), "e": (t_event <= t_cens).astype(int),
                       "g": rng.choice(["antibody", "tki"], n)})
    ax = km_plot(df, "t", "e", by="g", ci=True, max_points=2000)
    assert len(ax.lines) == 2 + 2 + 3  # curves, censoring marks, median lines
    assert all(len(c.get_xdata()) <= 2000 + 3 for c in by_gid(ax, "km_curve"))
    assert all(len(c.get_xdata()) <= 151 for c in by_gid(ax, "km_censor"))
    render(ax, tmp_path, "km_large")


# ----------------------------------------------------------------------------------------------
# forest


def forest_rows() -> pd.DataFrame:
    nan = np.nan
    return pd.DataFrame(
        {
            "label": ["Regimen group", "  Anti-HER2 antibody", "  Anti-HER2 TKI", "  Other regimen",
                      "Brain metastasis", "  No", "  Yes"],
            "n": [nan, 358, 4, 120, nan, 500, 164],
            "events": [nan, 300, 3, 100, nan, 420, 150],
            "hr": [nan, 1.0, nan, 0.85, nan, 1.0, 1.32],
            "hr_lower": [nan, nan, nan, 0.70, nan, nan, 1.05],
            "hr_upper": [nan, nan, nan, 1.03, nan, nan, 8.0],
            "p": [nan, nan, nan, 0.0961, nan, nan, 0.0004],
            "is_header": [True, False, False, False, True, False, False],
            "note": ["", "reference", "", "", "", "reference", ""],
        }
    )


def test_forest_plot_by_hand(tmp_path):
    ax = forest_plot(forest_rows(), min_cell_size=5, xlim=(0.5, 4), title="OS")
    texts = lambda gid: [t.get_text() for t in by_gid(ax, gid)]  # noqa: E731
    assert texts("forest_label") == ["Regimen group", "Anti-HER2 antibody", "Anti-HER2 TKI", "Other regimen",
                                     "Brain metastasis", "No", "Yes"]
    bold = [t.get_fontweight() for t in by_gid(ax, "forest_label")]
    assert bold[0] == "bold" and bold[4] == "bold" and bold[1] == "normal"
    assert texts("forest_counts") == ["", "358 / 300", "<5 / <5", "120 / 100", "", "500 / 420", "164 / 150"]
    assert texts("forest_hr") == ["", "reference", "not estimable", "0.85 (0.70–1.03)", "", "reference",
                                  "1.32 (1.05–8.00)"]
    assert texts("forest_p") == ["", "", "", "0.096", "", "", "<0.001"]
    # markers only for the two estimable rows; the CI beyond xlim ends in an arrow head
    assert len(by_gid(ax, "forest_point")) == 2 and len(by_gid(ax, "forest_ci")) == 2
    assert len(by_gid(ax, "forest_arrow")) == 1
    assert ax.get_xscale() == "log" and ax.get_xlim() == (0.5, 4.0)
    ref = by_gid(ax, "forest_ref")[0]
    assert np.allclose(ref.get_segments()[0][:, 0], 1.0)
    assert [t.get_text() for t in by_gid(ax, "forest_title")] == ["Overall survival"]
    render(ax, tmp_path, "forest")


def test_forest_plot_without_optional_columns():
    df = forest_rows()[["label", "n", "events", "hr", "hr_lower", "hr_upper"]].iloc[[3, 6]]
    ax = forest_plot(df)
    assert [t.get_text() for t in by_gid(ax, "forest_p")] == []
    lo, hi = ax.get_xlim()
    assert lo <= 0.70 and hi >= 8.0  # fits every CI
    assert [t.get_text() for t in ax.get_xticklabels()][:3] == ["0.5", "1", "2"]
    with pytest.raises(KeyError, match="hr_upper"):
        forest_plot(df.drop(columns="hr_upper"))


# ----------------------------------------------------------------------------------------------
# cumulative incidence, bars, histogram, flow


def test_cuminc_plot_by_hand(tmp_path):
    # 8 patients: event of interest at 2, competing at 3, 3, 6; censored at 1, 2, 3, 5
    df = pd.DataFrame({"t": [1, 2, 2, 3, 3, 3, 5, 6], "ev": [0, 1, 0, 2, 0, 2, 0, 2]})
    curve = stats.cumulative_incidence(df, "t", "ev")
    ax = cuminc_plot(curve, durations=df["t"], tick_every=2, min_cell_size=3, title="ILDREC",
                     label="ILD recurrence")
    line = by_gid(ax, "cuminc_curve")[0]
    # 1/7 after t = 2 (S(2-) = 1, one event of 7 at risk), in percent; extended to follow-up 6
    np.testing.assert_allclose(line.get_xdata(), [0, 2, 3, 6, 6])
    np.testing.assert_allclose(line.get_ydata(), [0] + [100 / 7] * 4)
    assert len(by_gid(ax, "cuminc_ci")) == 1
    # at risk (t >= tick) at 0, 2, 4, 6: 8, 7, 2, 1 -> suppressed below 3
    assert at_risk_rows(ax) == {"ILD recurrence": ["8", "7", "<3", "<3"]}
    assert ax.get_ylabel() == "Cumulative incidence (%)"
    assert ax.get_title(loc="left") == "ILD recurrence/exacerbation"
    render(ax, tmp_path, "cuminc")


def test_cuminc_plot_groups_and_no_at_risk():
    df = pd.DataFrame({"t": [1, 2, 2, 3, 3, 3, 5, 6], "ev": [0, 1, 0, 2, 0, 2, 0, 2]})
    a = stats.cumulative_incidence(df, "t", "ev").assign(group="antibody")
    b = stats.cumulative_incidence(df.assign(ev=[1, 1, 0, 1, 0, 2, 0, 2]), "t", "ev").assign(group="tki")
    ax = cuminc_plot(pd.concat([a, b]), ci=False)
    assert [c.get_color() for c in by_gid(ax, "cuminc_curve")] == [group_color("antibody"), group_color("tki")]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Anti-HER2 antibody", "Anti-HER2 TKI"]
    assert len(ax.figure.axes) == 1 and not by_gid(ax, "cuminc_ci")


def test_bar_plot_by_hand(tmp_path):
    freq = pd.DataFrame({"level": ["progression", "ild", "other_adverse_event", "other"], "n": [60, 25, 3, 12]})
    ax = bar_plot(freq, "n", "level", min_cell_size=5, title="tdxd_discontinuation_reason")
    assert [t.get_text() for t in by_gid(ax, "bar_label")] == ["60 (60.0%)", "25 (25.0%)", "<5", "12 (12.0%)"]
    bars = by_gid(ax, "bar")
    assert [b.get_width() for b in bars] == [60, 25, 12]  # no bar for the hidden count
    assert [b.get_facecolor()[:3] for b in bars] == [mpl.colors.to_rgb(group_color(c))
                                                     for c in ("progression", "ild", "other")]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Progression", "ILD", "Other adverse event", "Other"]
    render(ax, tmp_path, "bar")


def test_hist_plot_by_hand(tmp_path):
    per_site = [1] * 10 + [2] * 6 + [3] * 2 + [7]
    ax = hist_plot(per_site, min_cell_size=5, xlabel="Patients per site", ylabel="Sites")
    heights = {p.get_x() + p.get_width() / 2: p.get_height() for p in by_gid(ax, "hist_bar")}
    assert heights == {1.0: 10, 2.0: 6, 4.0: 0, 5.0: 0, 6.0: 0}  # 3 (2 sites) and 7 (1 site) hidden
    assert [t.get_text() for t in by_gid(ax, "hist_suppressed")] == ["<5", "<5"]
    render(ax, tmp_path, "hist")


def test_flow_plot_by_hand(tmp_path):
    attrition = pd.DataFrame({"step": ["Patients in the data file", "regimen_group in {antibody}", "Analysed"],
                              "n": [664, 358, 358], "excluded": [0, 306, 0]})
    ax = flow_plot(attrition, min_cell_size=5)
    boxes = [t.get_text() for t in by_gid(ax, "flow_box")]
    assert boxes == ["Patients in the data file\nn = 664", "regimen_group in {antibody}\nn = 358", "Analysed\nn = 358"]
    assert [t.get_text() for t in by_gid(ax, "flow_excluded")] == ["Excluded: n = 306"]
    assert len(by_gid(ax, "flow_arrow")) == 3
    small = flow_plot(attrition.assign(n=[7, 3, 3], excluded=[0, 4, 0]), min_cell_size=5)
    assert [t.get_text() for t in by_gid(small, "flow_excluded")] == ["Excluded: n = <5"]
    assert by_gid(small, "flow_box")[1].get_text().endswith("n = <5")
    render(ax, tmp_path, "flow")


def test_km_plot_does_not_draw_groups_below_min_cell_size(tiny, tmp_path):
    # B has 4 patients: with min_cell_size=5 its curve would show individual event times
    ax = km_plot(tiny, "t", "e", by="arm", min_cell_size=5)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(texts) == 1 and texts[0].startswith("A (n=5)")
    notes = [t.get_text() for t in ax.texts if t.get_gid() == "km_too_few"]
    assert notes == ["Not drawn (fewer than 5 patients): B"]
    # nothing to draw at all: a clear note instead of an error
    ax = km_plot(tiny[tiny["arm"] == "B"], "t", "e", by="arm", min_cell_size=5)
    assert [t.get_gid() for t in ax.texts] == ["km_too_few"]
    render(ax, tmp_path, "km_too_few")


# ----------------------------------------------------------------------------------------------
# Kaplan–Meier figures for a manuscript (issue 13.1)


@pytest.fixture
def three_groups() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 240
    g = rng.choice(["anti_her2_antibody", "anti_her2_tki", "non_antibody_tki"], n, p=[0.5, 0.2, 0.3])
    t = rng.exponential(np.where(g == "anti_her2_tki", 9.0, 6.0))
    c = rng.uniform(2, 30, n)
    return pd.DataFrame({"t": np.minimum(t, c).round(2), "e": (t <= c).astype(int), "g": g})


def _texts(fig):
    """Every visible, non-empty text of a figure (tick labels, titles, legend, table, notes)."""
    out = []
    for t in fig.findobj(matplotlib.text.Text):
        if t.get_visible() and t.get_text().strip() and t.get_figure() is fig:
            out.append(t)
    return out


@pytest.mark.parametrize("width", [plots.style.SINGLE_COLUMN, plots.style.DOUBLE_COLUMN], ids=["85mm", "180mm"])
@pytest.mark.parametrize("annotation", ["logrank", "hr"])
def test_km_plot_fits_a_journal_column(three_groups, width, annotation, tmp_path):
    ax = km_plot(three_groups, "t", "e", by="g", min_cell_size=5, title="Progression-free survival by regimen group",
                 annotation=annotation, cumulative_events=True, width=width)
    fig = ax.figure
    assert fig.get_size_inches()[0] == pytest.approx(width)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    w_px, h_px = fig.bbox.width, fig.bbox.height
    texts = _texts(fig)
    for t in texts:  # nothing cut off at the edges, nothing under 7 pt but long table digits
        box = t.get_window_extent(renderer)
        assert box.x0 >= -1 and box.x1 <= w_px + 1 and box.y0 >= -1 and box.y1 <= h_px + 1, t.get_text()
        if t.get_gid() not in ("at_risk_count", "events_count"):
            assert t.get_fontsize() >= 7, (t.get_text(), t.get_fontsize())
    # the title, legend and corner note do not overlap one another nor the plot's curves' labels
    legend = ax.get_legend().get_window_extent(renderer)
    note = next(t for t in ax.texts if t.get_gid() == "km_annotation").get_window_extent(renderer)
    title = ax.title.get_window_extent(renderer)
    assert not legend.overlaps(title) and not legend.overlaps(note)
    assert note.y1 <= ax.bbox.y1 + 1 and note.x1 <= ax.bbox.x1 + 1  # inside the plot
    # the tables' columns are centred on the x ticks (same x axis), whatever the width
    for label in ("at_risk", "events"):
        table = next(a for a in fig.axes if a.get_label() == label)
        assert table.get_shared_x_axes().joined(ax, table)
        xs = sorted({t.get_position()[0] for t in table.texts})
        np.testing.assert_allclose(xs, ax.get_xticks())
        tick_px = [ax.transData.transform((x, 0))[0] for x in ax.get_xticks()]
        col_px = sorted({round(t.get_window_extent(renderer).x0 + t.get_window_extent(renderer).width / 2, 1)
                         for t in table.texts})
        assert max(min(abs(c - tp) for tp in tick_px) for c in col_px) < 1.5
    fig.savefig(tmp_path / f"km_{annotation}_{width:.2f}.png", dpi=150)
    plt.close(fig)


def test_km_plot_annotation_is_the_log_rank_p_or_the_hazard_ratios_of_the_groups_drawn(three_groups):
    from ensemble_helpers.formats import format_p

    small = three_groups.copy()
    small.loc[small.index[:3], "g"] = "other"  # 3 patients: not drawn, not in the test
    drawn = small[small["g"] != "other"]
    ax = km_plot(small, "t", "e", by="g", min_cell_size=5)
    note = next(t.get_text() for t in ax.texts if t.get_gid() == "km_annotation")
    p = stats.logrank(drawn, "t", "e", "g")["p"].iloc[0]
    text = format_p(p)
    assert note == (f"Log-rank p {text[0]} {text[1:]}" if text[0] in "<>" else f"Log-rank p = {text}")
    assert [t.get_text() for t in ax.texts if t.get_gid() == "km_too_few"] == [
        "Not drawn (fewer than 5 patients): Other"]
    ax = km_plot(small, "t", "e", by="g", min_cell_size=5, annotation="hr")
    note = next(t.get_text() for t in ax.texts if t.get_gid() == "km_annotation")
    levels = sorted(drawn["g"].unique())
    hr = stats.cox_hr(drawn.assign(g=pd.Categorical(drawn["g"], categories=levels)), "t", "e", ["g"],
                      reference={"g": levels[0]})
    lines = note.split("\n")
    assert lines[0] == f"HR (95% CI) vs {plots.km._labels.label(levels[0])}"
    for rec, line in zip(hr.to_dict("records"), lines[1:]):
        assert line.endswith(format_estimate(rec["hr"], rec["hr_lower"], rec["hr_upper"], digits=2))
    assert not [t for t in km_plot(small, "t", "e", by="g", annotation="none").texts if t.get_gid() == "km_annotation"]
    assert not [t for t in km_plot(small, "t", "e").texts if t.get_gid() == "km_annotation"]  # one curve
    with pytest.raises(ValueError, match="annotation must be one of"):
        km_plot(small, "t", "e", by="g", annotation="cox")
    plt.close("all")


def test_km_plot_bands_by_default_and_cumulative_events_suppressed(tiny):
    ax = km_plot(tiny, "t", "e", by="arm", tick_every=2, min_cell_size=3, cumulative_events=True)
    assert len([c for c in by_gid(ax, "km_ci") if isinstance(c, PolyCollection)]) == 2
    events = next(a for a in ax.figure.axes if a.get_label() == "events")
    rows = {}
    for t in events.texts:
        rows.setdefault(round(t.get_position()[1]), []).append((t.get_position()[0], t.get_text()))
    # A: events at 1, 3, 5 -> by 0, 2, 4, 6, 8: 0 1 2 3 3 -> 0 <3 <3 3 3; B: 2, 2, 7 -> 0 2 2 2 3
    by_row = {k: [x for _, x in sorted(v)] for k, v in rows.items()}
    assert by_row == {1: ["0", "<3", "<3", "3", "3"], 0: ["0", "<3", "<3", "<3", "3"]}
    plt.close("all")


# ----------------------------------------------------------------------------------------------
# seaborn distributions (issue 13.4)


def test_seaborn_is_imported_only_by_the_figures_that_draw_with_it():
    import subprocess
    import sys

    code = ("import sys; import ensemble_helpers.report, ensemble_helpers.plots, ensemble_helpers.plots.distributions; "
            "print('seaborn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture
def baseline() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    g = pd.Categorical(["anti_her2_antibody"] * 40 + ["chemotherapy"] * 30 + ["endocrine"] * 3,
                       categories=["anti_her2_antibody", "anti_her2_tki", "chemotherapy", "endocrine"])
    lines = np.r_[rng.integers(1, 4, 40), np.r_[[1] * 2, rng.integers(2, 4, 28)], [2, 2, 2]]
    return pd.DataFrame({"age": rng.normal(60, 10, 73).round(1), "prior_lines": lines, "next_class": g,
                         "fu": rng.uniform(1, 30, 73)})


def test_box_plot_no_outliers_no_small_groups(baseline, tmp_path):
    from ensemble_helpers.plots.distributions import box_plot

    ax = box_plot(baseline, "age", "next_class", min_cell_size=5, title="Age by regimen class")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Anti-HER2 antibody (n=40)", "Chemotherapy (n=30)"]  # empty and small classes not drawn
    notes = [t.get_text() for t in ax.texts if t.get_gid() == "dist_note"]
    assert notes == ["Not drawn (fewer than 5 patients): Endocrine."]
    # no marker for an individual value: whiskers end at the most extreme values within the 5th
    # and 95th percentiles (matplotlib's rule), no outlier points
    age = baseline.loc[baseline["next_class"] == "anti_her2_antibody", "age"].to_numpy()
    lo, hi = np.percentile(age, [5, 95])
    xs = {round(float(x), 6) for line in ax.get_lines() for x in line.get_xdata()}
    assert round(age[age >= lo].min(), 6) in xs and round(age[age <= hi].max(), 6) in xs
    assert round(age.min(), 6) not in xs and round(age.max(), 6) not in xs
    assert not [line for line in ax.get_lines() if line.get_marker() not in ("None", None, "", " ")
                and len(line.get_xdata())]
    assert ax.figure.report_alt.startswith("Box plot: Age by regimen class.")
    ax.figure.savefig(tmp_path / "box.png")
    plt.close("all")


def test_count_plot_shares_and_suppressed_bars(baseline):
    from ensemble_helpers.plots.distributions import count_plot

    ax = count_plot(baseline, "prior_lines", "next_class", top=3, min_cell_size=5)
    heights = sorted(round(p.get_height(), 6) for p in ax.patches if p.get_height() > 0)
    counts = pd.crosstab(baseline["next_class"], baseline["prior_lines"].clip(upper=3))
    expected = sorted(round(100 * k / counts.loc[g].sum(), 6) for g in ("anti_her2_antibody", "chemotherapy")
                      for k in counts.loc[g] if k >= 5)
    assert heights == expected  # chemotherapy's 2 patients with one line: no bar
    note = " ".join(next(t.get_text() for t in ax.texts if t.get_gid() == "dist_note").split())
    assert "bar of fewer than 5 patients not drawn" in note and "Endocrine" in note
    plt.close("all")


def test_ecdf_plot_by_group(baseline):
    from ensemble_helpers.plots.distributions import ecdf_plot

    ax = ecdf_plot(baseline, "fu", "next_class", min_cell_size=5, xlabel="Months", width=plots.style.SINGLE_COLUMN)
    assert len(ax.get_lines()) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Anti-HER2 antibody (n=40)", "Chemotherapy (n=30)"]
    assert ax.figure.get_size_inches()[0] == pytest.approx(85 / 25.4)
    plt.close("all")


def test_plot_docstring_examples():
    import doctest

    from ensemble_helpers.plots import _figure, style

    for module in (plots, _figure, style):
        result = doctest.testmod(module)
        assert result.attempted and not result.failed, module.__name__
    plt.close("all")
