"""Report tables: formatting, Table 1, endpoint / response / HR tables, top counts, safe HTML.

Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

from html import escape as html_escape

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ensemble_helpers import stats, tables
from ensemble_helpers.tables import (
    INDENT,
    display_table,
    endpoint_table,
    format_estimate,
    format_number,
    format_p,
    format_pct,
    hr_table,
    response_table,
    table_one,
    to_html,
    top_counts,
)

NAN = float("nan")


# ----------------------------------------------------------------------------------------------
# formatting


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((4.123, 3.5, 4.8), {}, "4.1 (3.5–4.8)"),
        ((4.05, 3.54, 4.75), {}, "4.0 (3.5–4.8)"),
        ((NAN, 3.5, NAN), {}, "NR (3.5–NR)"),
        ((None, None, None), {}, "NR (NR–NR)"),
        ((12.0, 10.0, np.inf), {}, "12.0 (10.0–NR)"),
        ((0.8512, 0.7, 1.03), {"digits": 2}, "0.85 (0.70–1.03)"),
        ((0.452, 0.401, 0.503), {"scale": 100}, "45.2 (40.1–50.3)"),
        ((1.2, NAN, 2.0), {"digits": 2, "na": "NE"}, "1.20 (NE–2.00)"),
        ((-0.01, -0.2, 0.1), {}, "0.0 (-0.2–0.1)"),
    ],
)
def test_format_estimate(args, kwargs, expected):
    assert format_estimate(*args, **kwargs) == expected


def test_format_number_has_no_negative_zero():
    assert format_number(-0.04) == "0.0"
    assert format_number(-0.04, digits=2) == "-0.04"
    assert format_number(pd.NA) == "NR"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0.452, 0.401, 0.503), "45.2% (40.1–50.3)"),
        ((1.0, 1.0, 1.0), "100.0% (100.0–100.0)"),
        ((0.5, NAN, 0.61), "50.0% (NE–61.0)"),
        ((NAN, 0.1, 0.2), "NE"),
    ],
)
def test_format_pct(args, expected):
    assert format_pct(*args) == expected


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.00001, "<0.001"),
        (0.000999, "<0.001"),
        (0.001, "0.001"),
        (0.04249, "0.042"),
        (0.0425, "0.043"),
        (0.5, "0.500"),
        (0.9994, "0.999"),
        (0.99999, ">0.999"),
        (1.0, ">0.999"),
        (0.0, "<0.001"),
        (NAN, ""),
        (None, ""),
    ],
)
def test_format_p(p, expected):
    assert format_p(p) == expected


def test_format_p_rejects_impossible_values():
    with pytest.raises(ValueError, match="between 0 and 1"):
        format_p(1.2)


# ----------------------------------------------------------------------------------------------
# Table 1 on 12 hand-made patients


@pytest.fixture
def patients() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "arm": ["A"] * 7 + ["B"] * 5,
            "age": [40, 50, 60, 70, 80, 90, np.nan, 30, 35, 45, 55, 65],
            "hormone_receptor": pd.Categorical(
                ["positive"] * 6 + ["negative"] + ["positive"] * 2 + ["negative"] * 3,
                categories=["positive", "negative"],
            ),
            "brain_metastasis": [True, True, False, False, False, False, False] + [True] * 5,
            "ecog": pd.array([0, 0, 0, 1, 1, 2, None, 0, 1, 1, 1, 1], dtype="Int64"),
        }
    )


VARS = ["age", "hormone_receptor", "brain_metastasis", "ecog"]


def cell(t: pd.DataFrame, text: str, column: str, variable: str | None = None) -> str:
    rows = t[t["Characteristic"] == text]
    if variable is not None:
        rows = rows[rows.index.get_level_values("variable") == variable]
    assert len(rows) == 1, f"{text!r}: {len(rows)} rows"
    return rows.iloc[0][column]


def test_table_one_layout(patients):
    t = table_one(patients, "arm", VARS, min_cell_size=5)
    assert list(t.columns) == ["Characteristic", "Overall, N = 12", "A, N = 7", "B, N = 5"]
    assert t["Characteristic"].tolist() == [
        "Age, years", f"{INDENT}Median (IQR)", f"{INDENT}Range", f"{INDENT}Missing",
        "Hormone receptor", f"{INDENT}Positive", f"{INDENT}Negative",
        "Brain metastasis",  # yes/no: one row, the "Yes" count (gtsummary dichotomous)
        "ECOG performance status", f"{INDENT}0", f"{INDENT}1", f"{INDENT}2", f"{INDENT}Missing",
    ]
    assert t.index.get_level_values("row_type").tolist() == [
        "label", "stat", "stat", "missing", "label", "level", "level", "label", "label",
        "level", "level", "level", "missing",
    ]
    assert "n (%)" in t.attrs["footnote"] and "Median (IQR)" in t.attrs["footnote"]
    assert "shown as <5" in t.attrs["footnote"]


def test_table_one_continuous_by_hand(patients):
    t = table_one(patients, "arm", ["age"], min_cell_size=5)
    ov, a, b = "Overall, N = 12", "A, N = 7", "B, N = 5"
    # Overall, 11 values 30 35 40 45 50 55 60 65 70 80 90; type-2 quantiles (gtsummary):
    # median x6 = 55; Q1: 11*0.25 = 2.75 -> x3 = 40; Q3: 8.25 -> x9 = 70
    assert cell(t, f"{INDENT}Median (IQR)", ov) == "55.0 (40.0–70.0)"
    assert cell(t, f"{INDENT}Range", ov) == "30.0–90.0"
    # A, 6 values 40..90: median (60+70)/2 = 65; Q1: 1.5 -> x2 = 50; Q3: 4.5 -> x5 = 80
    assert cell(t, f"{INDENT}Median (IQR)", a) == "65.0 (50.0–80.0)"
    assert cell(t, f"{INDENT}Range", a) == "40.0–90.0"
    # B, 5 values 30 35 45 55 65: median 45; Q1: 1.25 -> x2 = 35; Q3: 3.75 -> x4 = 55
    assert cell(t, f"{INDENT}Median (IQR)", b) == "45.0 (35.0–55.0)"
    # one missing age, in A; 1 is suppressed, 0 is not
    assert [cell(t, f"{INDENT}Missing", c) for c in (ov, a, b)] == ["<5", "<5", "0"]


def test_table_one_categorical_suppressed_by_hand(patients):
    t = table_one(patients, "arm", VARS, min_cell_size=5)
    ov, a, b = "Overall, N = 12", "A, N = 7", "B, N = 5"
    # hormone receptor: positive 8/12, 6/7, 2/5; negative 4, 1, 3 (all < 5: primary). Shown, the
    # positives 8 and 6 would give the negatives back as N - positive: complementary "≥5"
    assert [cell(t, f"{INDENT}Positive", c) for c in (ov, a, b)] == ["≥5", "≥5", "<5"]
    assert [cell(t, f"{INDENT}Negative", c) for c in (ov, a, b)] == ["<5", "<5", "<5"]
    # brain metastasis yes: 7/12, 2/7, 5/5; the Overall 7 minus B's 5 would be A's 2: hidden
    assert [cell(t, "Brain metastasis", c) for c in (ov, a, b)] == ["≥5", "<5", "5 (100.0%)"]
    # ECOG among non-missing (11, 6, 5): 0 -> 4, 3, 1; 1 -> 6, 2, 4; 2 -> 1, 1, 0; one missing
    # (in A): the Overall denominator 11 is N - missing, so no percentage where missing is hidden
    assert [cell(t, f"{INDENT}0", c) for c in (ov, a, b)] == ["<5", "<5", "<5"]
    assert [cell(t, f"{INDENT}1", c) for c in (ov, a, b)] == ["6", "<5", "<5"]
    assert [cell(t, f"{INDENT}2", c) for c in (ov, a, b)] == ["<5", "<5", "0 (0.0%)"]
    assert [cell(t, f"{INDENT}Missing", c, "ecog") for c in (ov, a, b)] == ["<5", "<5", "0"]
    assert "complementary suppression" in t.attrs["footnote"]


def test_table_one_no_hidden_count_can_be_worked_out(patients):
    """Every count Table 1 hides keeps at least two possible values given everything it prints
    (the column N, the Overall column, the levels, the percentages' denominators)."""
    from ensemble_helpers.tables.table_one import _protect
    from ensemble_helpers.tables._common import _variable_type
    from ensemble_helpers.disclosure import audit

    groups = patients["arm"]
    columns = [("Overall", np.ones(len(patients), dtype=bool)),
               ("A", (groups == "A").to_numpy()), ("B", (groups == "B").to_numpy())]
    kinds = {v: _variable_type(patients[v], v) for v in VARS}
    prot = _protect(patients, columns, VARS, kinds, with_overall=True, min_cell_size=5)
    assert prot.complete and prot.secondary
    assert audit(prot.values, prot.status, prot.lines, 5) == []


def test_table_one_without_suppression_by_hand(patients):
    t = table_one(patients, "arm", VARS, min_cell_size=None)
    ov, a, b = "Overall, N = 12", "A, N = 7", "B, N = 5"
    assert [cell(t, f"{INDENT}Negative", c) for c in (ov, a, b)] == ["4 (33.3%)", "1 (14.3%)", "3 (60.0%)"]
    assert [cell(t, f"{INDENT}0", c) for c in (ov, a, b)] == ["4 (36.4%)", "3 (50.0%)", "1 (20.0%)"]
    assert [cell(t, f"{INDENT}Missing", c, "ecog") for c in (ov, a, b)] == ["1", "1", "0"]
    assert "shown as" not in t.attrs["footnote"]


def test_table_one_small_group_blanks_continuous_summary(patients):
    # B has 5 ages: with min_cell_size 6 its median/IQR/range would describe fewer than 6 patients
    t = table_one(patients, "arm", ["age"], min_cell_size=6)
    assert cell(t, f"{INDENT}Median (IQR)", "B, N = <6") == ""
    assert cell(t, f"{INDENT}Range", "B, N = <6") == ""
    assert "Range" not in table_one(patients, "arm", ["age"], show_range=False)["Characteristic"].str.strip().tolist()


def test_table_one_pvalues_match_scipy(patients):
    t = table_one(patients, "arm", VARS, pvalues=True, min_cell_size=None)
    assert t.columns[-1] == "p-value"
    # hormone receptor 2x2 [[6, 2], [1, 3]]: an expected count < 5 -> Fisher's exact test
    p_hr = sps.fisher_exact([[6, 2], [1, 3]]).pvalue
    assert cell(t, "Hormone receptor", "p-value") == format_p(p_hr)
    p_age = sps.kruskal([40, 50, 60, 70, 80, 90], [30, 35, 45, 55, 65]).pvalue
    assert cell(t, "Age, years", "p-value") == format_p(p_age)
    # p-values only on the variable rows
    assert (t.loc[t.index.get_level_values("row_type") != "label", "p-value"] == "").all()
    assert "Fisher's exact test" in t.attrs["footnote"] and "Kruskal" in t.attrs["footnote"]


def test_table_one_chi_square_when_expected_counts_are_large():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"g": rng.choice(["a", "b"], 400), "x": rng.choice(["u", "v", "w"], 400)})
    t = table_one(df, "g", ["x"], pvalues=True, min_cell_size=None)
    expected = sps.chi2_contingency(pd.crosstab(df["x"], df["g"]).to_numpy())[1]
    assert cell(t, "x", "p-value") == format_p(expected)
    assert "chi-squared" in t.attrs["footnote"]


def test_table_one_groups_order_empty_and_missing(patients):
    df = patients.copy()
    df["arm"] = pd.Categorical(df["arm"], categories=["B", "C", "A"])
    df.loc[0, "arm"] = np.nan  # left out of every column, as gtsummary
    t = table_one(df, "arm", ["brain_metastasis"], min_cell_size=None, overall=False)
    # category order, empty group C left out, no Overall column
    assert list(t.columns) == ["Characteristic", "B, N = 5", "A, N = 6"]
    t = table_one(df, "arm", ["brain_metastasis"], min_cell_size=None)
    assert t.columns[1] == "Overall, N = 11"


def test_table_one_without_groups_and_with_type_override(patients):
    t = table_one(patients, None, ["ecog"], min_cell_size=None, types={"ecog": "continuous"})
    assert list(t.columns) == ["Characteristic", "Overall, N = 12"]
    # ECOG as a number: 11 values 0 0 0 0 1 1 1 1 1 1 2 -> median 1, Q1 x3 = 0, Q3 x9 = 1
    assert cell(t, f"{INDENT}Median (IQR)", "Overall, N = 12") == "1.0 (0.0–1.0)"


def test_table_one_labels_group_codes_and_text_columns():
    df = pd.DataFrame({"regimen_group": ["antibody", "tki", "tki", "antibody"], "site": ["x", "y", "y", "y"]})
    t = table_one(df, "regimen_group", ["site"], min_cell_size=None)
    assert list(t.columns) == ["Characteristic", "Overall, N = 4", "Anti-HER2 antibody, N = 2", "Anti-HER2 TKI, N = 2"]
    assert cell(t, f"{INDENT}y", "Anti-HER2 TKI, N = 2") == "2 (100.0%)"


def test_table_one_errors(patients):
    with pytest.raises(KeyError, match="nope"):
        table_one(patients, "arm", ["nope"])
    with pytest.raises(ValueError, match="unknown type"):
        table_one(patients, "arm", ["age"], types={"age": "ordinal"})
    df = patients.assign(d=pd.Timestamp("2024-01-01"))
    with pytest.raises(TypeError, match="date column"):
        table_one(df, "arm", ["d"])


# ----------------------------------------------------------------------------------------------
# endpoint, response and HR tables


def km_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "endpoint": ["PFS", "PFS", "OS"],
            "group": ["antibody", "tki", "Overall"],
            "n": [358, 8, 664],
            "events": [301, 3, 250],
            "median": [4.12, 3.0, NAN],
            "median_lower": [3.55, 1.2, 20.1],
            "median_upper": [4.71, NAN, NAN],
            "rate_6": [0.352, 0.25, 0.9],
            "rate_6_lower": [0.30, 0.05, 0.88],
            "rate_6_upper": [0.40, 0.55, 0.92],
            "rate_12": [0.10, NAN, 0.7],
            "rate_12_lower": [0.07, NAN, 0.66],
            "rate_12_upper": [0.14, NAN, 0.74],
        }
    )


def test_endpoint_table_by_hand():
    t = endpoint_table(km_rows(), min_cell_size=5)
    assert list(t.columns) == ["Endpoint", "Group", "N", "Events", "Median, months (95% CI)",
                               "6-month rate (95% CI)", "12-month rate (95% CI)"]
    assert t.iloc[0].tolist() == ["Progression-free survival", "Anti-HER2 antibody", "358", "301",
                                  "4.1 (3.5–4.7)", "35.2% (30.0–40.0)", "10.0% (7.0–14.0)"]
    # 3 events are suppressed; a CI bound not reached is NR; a rate past follow-up is NE
    assert t.iloc[1].tolist() == ["Progression-free survival", "Anti-HER2 TKI", "8", "<5",
                                  "3.0 (1.2–NR)", "25.0% (5.0–55.0)", "NE"]
    assert t.iloc[2, 4] == "NR (20.1–NR)"


def test_endpoint_table_options_and_errors():
    t = endpoint_table(km_rows().drop(columns="endpoint"), timepoints=[6], conf_level=0.9, min_cell_size=None)
    assert list(t.columns) == ["Group", "N", "Events", "Median, months (90% CI)", "6-month rate (90% CI)"]
    assert t["Events"].tolist() == ["301", "3", "250"]
    with pytest.raises(KeyError, match="rate_24"):
        endpoint_table(km_rows(), timepoints=[24])


def test_endpoint_table_takes_km_summary_by_output():
    df = pd.DataFrame({"t": [3, 5, 7, 9, 2, 4], "e": [1, 1, 0, 1, 1, 1], "arm": ["A", "A", "A", "A", "B", "B"]})
    s = stats.km_summary_by(df, "t", "e", "arm", timepoints=(6,))
    s.insert(0, "endpoint", "OS")
    t = endpoint_table(s, timepoints=[6], min_cell_size=None)
    assert t["Group"].tolist() == ["A", "B", "Overall"]
    assert t["N"].tolist() == ["4", "2", "6"]
    assert t["Median, months (95% CI)"].tolist()[1].startswith("3.0 (")


def test_response_table_blanks_rates_of_suppressed_counts():
    s = pd.DataFrame({"group": ["antibody", "tki"], "measure": ["ORR", "ORR"], "successes": [40, 3],
                      "n": [100, 20], "estimate": [0.4, 0.15], "lower": [0.303, 0.032], "upper": [0.503, 0.379]})
    t = response_table(s, min_cell_size=5)
    assert t.values.tolist() == [
        ["Anti-HER2 antibody", "ORR", "40 / 100", "40.0% (30.3–50.3)"],
        ["Anti-HER2 TKI", "ORR", "<5 / 20", ""],  # 0.15 x 20 would give 3 back
    ]
    assert response_table(s, min_cell_size=None).iloc[1, 3] == "15.0% (3.2–37.9)"


def test_hr_table_by_hand():
    cox = pd.DataFrame(
        {
            "term": ["regimen_group=tki", "regimen_group=non_antibody_tki", "age", "brain_metastasis"],
            "variable": ["regimen_group", "regimen_group", "age", "brain_metastasis"],
            "level": ["tki", "non_antibody_tki", None, True],
            "reference": ["antibody", "antibody", None, False],
            "hr": [1.3, NAN, 1.012, 1.2],
            "hr_lower": [1.05, NAN, 1.001, 0.9],
            "hr_upper": [1.61, NAN, 1.0234, 1.6],
            "p": [0.0123, NAN, 0.0004, 0.2],
            "n": [600, 600, 600, 600],
            "events": [500, 500, 500, 500],
        }
    )
    t = hr_table(cox, show_counts=True, min_cell_size=5)
    assert list(t.columns) == ["Term", "N", "Events", "HR (95% CI)", "p-value"]
    assert t.values.tolist() == [
        ["Regimen class: Anti-HER2 TKI vs Anti-HER2 antibody", "600", "500", "1.30 (1.05–1.61)", "0.012"],
        ["Regimen class: Other regimen vs Anti-HER2 antibody", "600", "500", "NE", ""],
        ["Age, years", "600", "500", "1.01 (1.00–1.02)", "<0.001"],
        ["Brain metastasis: Yes vs No", "600", "500", "1.20 (0.90–1.60)", "0.200"],
    ]


def test_hr_table_names_the_endpoint_when_given():
    cox = pd.DataFrame({"endpoint": ["PFS"], "variable": ["regimen_group"], "level": ["tki"],
                        "reference": ["antibody"], "hr": [0.9], "hr_lower": [0.7], "hr_upper": [1.1], "p": [0.3]})
    t = hr_table(cox, min_cell_size=None)
    assert t.values.tolist() == [["Progression-free survival", "Regimen class: Anti-HER2 TKI vs Anti-HER2 antibody",
                                  "0.90 (0.70–1.10)", "0.300"]]


def test_top_counts_pools_rare_values():
    s = pd.Series(["T-DM1"] * 9 + ["eribulin"] * 6 + ["capecitabine"] * 5 + ["rare"] * 2 + [None], name="next_regimen")
    t = top_counts(s, n=2, min_cell_size=5)
    # 22 non-missing: T-DM1 9 (40.9%), eribulin 6 (27.3%); capecitabine (beyond n=2) and "rare"
    # (never named: 2 < 5) pooled: 7 (31.8%); missing 1 -> <5
    assert list(t.columns) == ["Next regimen", "n (%)"]  # a column without a label is spelt out
    assert t.values.tolist() == [["T-DM1", "9 (40.9%)"], ["eribulin", "6 (27.3%)"],
                                 ["All other values", "7 (31.8%)"], ["Missing", "<5"]]
    t = top_counts(s, n=10, min_cell_size=5)
    assert t.iloc[:, 0].tolist() == ["T-DM1", "eribulin", "capecitabine", "All other values", "Missing"]
    assert t.iloc[3, 1] == "<5"
    t = top_counts(s, n=10, min_cell_size=None)
    assert t.iloc[:, 0].tolist() == ["T-DM1", "eribulin", "capecitabine", "rare", "Missing"]


def test_top_counts_ties_are_ordered_by_value():
    s = pd.Series(["b", "a", "b", "a", "c"])
    assert top_counts(s, n=3, min_cell_size=None).iloc[:, 0].tolist() == ["a", "b", "c"]
    assert top_counts(s, min_cell_size=None).columns[0] == "Value"


# ----------------------------------------------------------------------------------------------
# HTML

XSS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]


def test_to_html_escapes_every_text():
    df = pd.DataFrame({"Regimen": XSS, XSS[1]: ["1", "2"]})
    html = to_html(df, caption=XSS[0], footnote=XSS[1])
    for raw in ("<script", "<img", "onerror=alert(1)>"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<table" in html and "<style" in html


def test_to_html_escapes_table_one_values(patients):
    df = patients.assign(next_regimen=[XSS[0]] * 6 + [XSS[1]] * 6)
    html = to_html(table_one(df, "arm", ["next_regimen"], min_cell_size=None))
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_to_html_layout(patients):
    t = table_one(patients, "arm", VARS)
    html = to_html(t, caption="Table 1")
    assert "<caption>Table 1</caption>" in html
    assert html.count("ens-label") == 1 + 4  # CSS rule + one Characteristic cell per variable
    assert html_escape(t.attrs["footnote"]) in html
    assert 'class="blank' not in html and "<th" in html  # the index is hidden
    assert html == to_html(t, caption="Table 1")  # reproducible: no random ids


def test_display_table_shows_the_html(patients):
    t = table_one(patients, "arm", ["age"])
    shown = display_table(t, caption="x")
    assert shown._repr_html_() == tables.to_html(t, caption="x")


def test_endpoint_table_hides_estimates_of_groups_below_min_cell_size():
    s = pd.DataFrame({"endpoint": ["PFS", "PFS"], "group": ["A", "B"], "n": [20, 3], "events": [10, 2],
                      "median": [4.1, 2.0], "median_lower": [3.0, 1.0], "median_upper": [5.0, float("nan")],
                      "rate_6": [0.3, 0.33], "rate_6_lower": [0.1, 0.01], "rate_6_upper": [0.5, 0.9]})
    t = endpoint_table(s, timepoints=[6], min_cell_size=5)
    assert t.iloc[0, 4] == "4.1 (3.0–5.0)"
    assert t.iloc[1].tolist() == ["Progression-free survival", "B", "<5", "<5", "too few patients", "too few patients"]
    assert endpoint_table(s, timepoints=[6], min_cell_size=None).iloc[1, 4] == "2.0 (1.0–NR)"


def test_hr_table_does_not_give_back_the_size_of_a_level_left_out():
    """A model fitted without a level of 3 patients has an N 3 below its population: the N and
    events are printed as ≥5, not 147 and 120."""
    c = pd.DataFrame({"endpoint": ["PFS"], "variable": ["regimen_group"], "level": ["tki"], "reference": ["antibody"],
                      "hr": [1.2], "hr_lower": [0.9], "hr_upper": [1.6], "p": [0.2], "n": [147], "events": [120],
                      "n_excluded": [0], "population": [150]})
    row = hr_table(c, min_cell_size=5, show_counts=True).iloc[0]
    assert (row["N"], row["Events"], row["Excluded (missing covariate)"]) == ("≥5", "≥5", "0")
    full = hr_table(c.assign(population=147), min_cell_size=5, show_counts=True).iloc[0]
    assert (full["N"], full["Events"]) == ("147", "120")


def test_table_one_keeps_the_column_n_printed_elsewhere_and_blanks_what_it_cannot_protect():
    """B has 6 patients (a group size the frequency tables print): one has a grade, five are
    missing. With N = 6 printed, any "<5"/"≥5" pair in B would pin both counts (1 and 5), so B's
    grade counts are left blank; the other columns protect what is left."""
    df = pd.DataFrame({"arm": ["A"] * 20 + ["B"] * 6,
                       "grade": pd.array([1] * 6 + [2] * 6 + [None] * 8 + [1] + [None] * 5, dtype="Int64")})
    t = table_one(df, "arm", ["grade"], min_cell_size=5)
    assert list(t.columns) == ["Characteristic", "Overall, N = 26", "A, N = 20", "B, N = 6"]
    assert t["B, N = 6"].tolist() == ["", "", "", ""]
    assert t["A, N = 20"].tolist() == ["", "≥5", "6", "≥5"]
    assert "A blank count" in t.attrs["footnote"]
