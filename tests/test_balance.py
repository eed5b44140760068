"""Standardised mean differences (stats/balance.py) against an independent R computation, and
their use in Table 1 and the propensity-score diagnostics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ensemble_helpers.endpoints import derive_adsl
from ensemble_helpers.stats.balance import smd_categorical, smd_columns, smd_numeric, variable_smd
from ensemble_helpers.synthetic import generate_cohort
from tests.rlive import needs_r, run_r

# Yang & Dalton's multi-level SMD and the pooled-SD SMD written in R from the paper's formulas
# (the same as R tableone's StdDiff / StdDiffMulti, which use MASS::ginv), on R's own table() and
# var(): an implementation independent of ours.
_R_SMD = """
smd_num <- function(x, g, w = rep(1, length(x))) {
  k <- !is.na(x); x <- x[k]; g <- g[k]; w <- w[k]
  a <- x[g == 1]; b <- x[g == 0]
  (weighted.mean(a, w[g == 1]) - weighted.mean(b, w[g == 0])) / sqrt((var(a) + var(b)) / 2)
}
smd_cat <- function(x, g, lev) {
  k <- !is.na(x); x <- factor(x[k], levels = lev); g <- g[k]
  tt <- prop.table(table(x[g == 1]))[-1]; cc <- prop.table(table(x[g == 0]))[-1]
  S <- function(p) { m <- -outer(p, p); diag(m) <- p * (1 - p); m }
  d <- as.numeric(tt - cc)
  sqrt(as.numeric(t(d) %*% MASS::ginv((S(tt) + S(cc)) / 2) %*% d))
}
g <- d$g
out("age", smd_num(d$age, g))
out("age_w", smd_num(d$age, g, d$w))
out("ecog", smd_cat(d$ecog, g, c(0, 1, 2, 3, 4)))
out("reason", smd_cat(d$reason, g, c("progression", "ild", "other_adverse_event", "other")))
out("response", smd_cat(d$response, g, c("CR", "PR", "SD", "PD", "NE")))
out("brain", smd_cat(d$brain, g, c(0, 1)))
out("hr", smd_cat(d$hr, g, c("negative", "positive")))
"""


@pytest.fixture(scope="module")
def two_groups():
    adsl = derive_adsl(generate_cohort(n=900, seed=5))
    adsl = adsl[adsl["regimen_group"].isin(["tki", "antibody"])].reset_index(drop=True)
    rng = np.random.default_rng(3)
    return adsl, (adsl["regimen_group"] == "tki").to_numpy(), rng.uniform(0.2, 1.0, len(adsl))


@needs_r("MASS")
def test_smd_matches_r(tmp_path, two_groups):
    adsl, t, w = two_groups
    assert adsl["ecog"].isna().any()  # missing values are left out, as tableone
    data = pd.DataFrame({
        "g": t.astype(int), "w": w, "age": adsl["age"], "ecog": adsl["ecog"],
        "reason": adsl["tdxd_discontinuation_reason"].astype(str),
        "response": adsl["tdxd_best_response"].astype(str),
        "brain": adsl["brain_metastasis"].astype(int), "hr": adsl["hormone_receptor"].astype(str),
    })
    r = run_r(tmp_path, _R_SMD, data)
    age = adsl["age"].to_numpy(float)
    assert smd_numeric(age[t], age[~t]) == pytest.approx(r["age"][0], rel=1e-9)
    assert smd_numeric(age[t], age[~t], w[t], w[~t]) == pytest.approx(r["age_w"][0], rel=1e-9)
    for name, col, kind in (("ecog", "ecog", "categorical"), ("reason", "tdxd_discontinuation_reason", "categorical"),
                            ("response", "tdxd_best_response", "categorical"),
                            ("brain", "brain_metastasis", "dichotomous"), ("hr", "hormone_receptor", "categorical")):
        got = variable_smd(adsl[col], t, ~t, kind)
        assert got == pytest.approx(r[name][0], rel=1e-9), name
    assert variable_smd(adsl["age"], t, ~t, "continuous") == pytest.approx(abs(r["age"][0]), rel=1e-9)


def test_smd_by_hand():
    # two levels: the yes/no SMD |p1 - p2| / sqrt((p1 q1 + p2 q2) / 2)
    p1, p2 = 0.25, 0.5
    x1 = np.array(["y"] * 1 + ["n"] * 3)
    x2 = np.array(["y"] * 2 + ["n"] * 2)
    want = abs(p1 - p2) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    assert smd_categorical(x1, x2) == pytest.approx(want)
    assert smd_numeric((x1 == "y").astype(float), (x2 == "y").astype(float)) == pytest.approx(p1 - p2 and -want)
    # identical distributions, one level, empty group
    assert smd_categorical(x1, x1) == 0.0
    assert smd_categorical(np.array(["a"]), np.array(["a"])) == 0.0
    assert math.isnan(smd_categorical(np.array([None], dtype=object), x2))
    assert math.isnan(smd_numeric([1.0, 1.0], [1.0, 1.0]))  # no spread
    # columns: binary detected, NaN left out
    m1 = np.array([[1.0, 0.0], [2.0, 1.0], [np.nan, 1.0]])
    m2 = np.array([[3.0, 0.0], [4.0, 0.0], [5.0, 1.0]])
    got = smd_columns(m1, m2)
    assert got[0] == pytest.approx((1.5 - 4.0) / math.sqrt((0.5 + 1.0) / 2))
    pa, pb = 2 / 3, 1 / 3
    assert got[1] == pytest.approx((pa - pb) / math.sqrt((pa * (1 - pa) + pb * (1 - pb)) / 2))


def test_table_one_smd_column(two_groups):
    from ensemble_helpers.tables import table_one

    adsl, t, _ = two_groups
    data = adsl.assign(regimen_group=pd.Categorical(adsl["regimen_group"].astype(str), categories=["tki", "antibody"]))
    variables = ["age", "ecog", "brain_metastasis", "tdxd_discontinuation_reason"]
    table = table_one(data, "regimen_group", variables, overall=False, smd=True, min_cell_size=None)
    assert list(table.columns)[-1] == "SMD"
    labels = table.xs("label", level="row_type")
    for var, kind in (("age", "continuous"), ("ecog", "categorical"), ("brain_metastasis", "dichotomous"),
                      ("tdxd_discontinuation_reason", "categorical")):
        want = variable_smd(adsl[var], t, ~t, kind)
        text = labels.loc[var, "SMD"]
        assert float(text.split()[0]) == pytest.approx(want, abs=0.005)
        assert text.endswith("†") == (want > 0.1)
    # every variable with a missing value has a Missing row
    missing_rows = set(table.index[table.index.get_level_values("row_type") == "missing"].get_level_values(0))
    assert missing_rows == {v for v in variables if adsl[v].isna().any()}
    assert "Yang & Dalton" in table.attrs["footnote"]
    # a suppressed count hides the variable's SMD (it could give the count back)
    small = table_one(data, "regimen_group", ["ecog"], overall=False, smd=True, min_cell_size=5)
    counts = pd.crosstab(adsl["ecog"], t)
    assert ((counts > 0) & (counts < 5)).any().any()
    assert small.xs("label", level="row_type").loc["ecog", "SMD"] == ""
    # without two groups there is no SMD column
    assert "SMD" not in table_one(data, None, ["age"], smd=True).columns
