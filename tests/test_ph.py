"""Proportional-hazards test (cox.zph) and likelihood-ratio test of Cox models, against live R."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ensemble_helpers import stats
from ensemble_helpers.stats import StatsInputError
from rlive import needs_r, run_r


def _data(n: int = 240, seed: int = 7, ties: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.choice(["A", "B"], n)
    grp = rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2])
    age = rng.normal(62, 9, n)
    # a non-proportional effect of arm: hazard ratio changes over time
    scale = np.where(arm == "B", 6.0, 10.0) * np.exp(0.02 * (age - 62))
    t = rng.weibull(np.where(arm == "B", 0.7, 1.4)) * scale
    c = rng.uniform(2, 25, n)
    time = np.minimum(t, c)
    df = pd.DataFrame({
        "t": np.ceil(time) if ties else time,
        "e": (t <= c).astype(int),
        "arm": arm,
        "grp": grp,
        "age": age.round(1),
        "site": rng.choice(["s1", "s2"], n),
    })
    df.loc[rng.choice(n, 9, replace=False), "age"] = np.nan  # complete cases, as R
    return df


ZPH_R = """
f <- coxph(Surv(t, e) ~ arm + age + grp, data = d, ties = "efron")
for (tr in c("km", "rank", "identity", "log")) {
  z <- cox.zph(f, transform = tr)
  out(paste0(tr, "_chisq"), z$table[, "chisq"]); out(paste0(tr, "_p"), z$table[, "p"])
  out(paste0(tr, "_df"), z$table[, "df"])
}
z <- cox.zph(f)
out("y_arm", z$y[, "arm"]); out("y_grp", z$y[, "grp"]); out("x", z$x); out("time", z$time)
fs <- coxph(Surv(t, e) ~ arm + age + strata(site), data = d, ties = "efron")
zs <- cox.zph(fs)
out("strata_chisq", zs$table[, "chisq"]); out("strata_y_arm", zs$y[, "arm"])
"""


@needs_r()
@pytest.mark.parametrize("ties", [True, False], ids=["tied times", "distinct times"])
def test_cox_zph_matches_r(tmp_path, ties):
    df = _data(ties=ties)
    ref = run_r(tmp_path, ZPH_R, df)
    for transform in ("km", "rank", "identity", "log"):
        res = stats.cox_zph(df, "t", "e", ["arm", "age", "grp"], transform=transform)
        assert res.table["term"].tolist() == ["arm", "age", "grp", "GLOBAL"]
        np.testing.assert_allclose(res.table["chisq"], ref[f"{transform}_chisq"], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(res.table["p"], ref[f"{transform}_p"], rtol=1e-6, atol=1e-9)
        assert res.table["df"].tolist() == ref[f"{transform}_df"].astype(int).tolist()
    res = stats.cox_zph(df, "t", "e", ["arm", "age", "grp"])
    np.testing.assert_allclose(res.residuals["arm"], ref["y_arm"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.residuals["grp"], ref["y_grp"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.x, ref["x"], rtol=1e-9)
    np.testing.assert_allclose(res.time, ref["time"], rtol=1e-12)
    strat = stats.cox_zph(df, "t", "e", ["arm", "age"], strata="site")
    np.testing.assert_allclose(strat.table["chisq"], ref["strata_chisq"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(strat.residuals["arm"], ref["strata_y_arm"], rtol=1e-6, atol=1e-9)


def test_cox_zph_detects_non_proportional_hazards_and_checks_input():
    df = _data(n=600, seed=3)
    res = stats.cox_zph(stats.cox_fit(df, "t", "e", ["arm", "age"]))
    table = res.table.set_index("term")
    assert table.loc["arm", "p"] < 0.05  # Weibull shapes differ by arm
    assert len(res.residuals) == int(df.dropna()["e"].sum())
    with pytest.raises(StatsInputError, match="transform"):
        stats.cox_zph(df, "t", "e", ["arm"], transform="sqrt")
    with pytest.raises(StatsInputError, match="at least one event"):
        stats.cox_zph(df.assign(e=0), "t", "e", ["arm"])


LRT_R = """
d$grp <- factor(d$grp)
f0 <- coxph(Surv(t, e) ~ arm + grp, data = d, ties = "efron")
f1 <- coxph(Surv(t, e) ~ arm * grp, data = d, ties = "efron")
a <- anova(f0, f1)
out("loglik0", f0$loglik[2]); out("loglik1", f1$loglik[2])
out("chisq", a$Chisq[2]); out("df", a$Df[2]); out("p", a[["Pr(>|Chi|)"]][2])
"""


@needs_r()
def test_cox_lrt_matches_r_anova(tmp_path):
    df = _data()
    ref = run_r(tmp_path, LRT_R, df)
    df["armB"] = (df["arm"] == "B").astype(float)
    for level in ("y", "z"):
        df[f"armB:grp{level}"] = df["armB"] * (df["grp"] == level)
    reduced = stats.cox_fit(df, "t", "e", ["armB", "grp"])
    full = stats.cox_fit(df, "t", "e", ["armB", "grp", "armB:grpy", "armB:grpz"])
    np.testing.assert_allclose([reduced.loglik, full.loglik], [ref["loglik0"][0], ref["loglik1"][0]], rtol=1e-9)
    lrt = stats.cox_lrt(full, reduced).iloc[0]
    np.testing.assert_allclose([lrt["chisq"], lrt["p"]], [ref["chisq"][0], ref["p"][0]], rtol=1e-6)
    assert lrt["df"] == ref["df"][0] == 2
    with pytest.raises(StatsInputError, match="same patients"):
        stats.cox_lrt(stats.cox_fit(df, "t", "e", ["armB", "age"]), reduced)
