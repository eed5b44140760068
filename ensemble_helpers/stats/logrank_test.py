"""k-group log-rank test, optionally stratified (R ``survdiff``).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
# scipy.special, not scipy.stats: the same distribution functions without the ~1 s import of
# scipy.stats that every notebook kernel would pay
from scipy import special as _special

from ensemble_helpers.stats._checks import (
    _clean_survival,
    _group_codes,
    _next_stratum_start,
    _require_columns,
)

logger = logging.getLogger(__name__)


def _logrank_components(
    t: np.ndarray, e: np.ndarray, g: np.ndarray, s: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected and variance matrix of the log-rank test (R survdiff, rho = 0).

    Vectorised version of survival/src/survdiff2.c: hypergeometric variance, summed over
    strata ``s`` (risk sets never mix strata). ``g`` holds group codes 0..k-1.
    """
    observed = np.bincount(g, weights=e, minlength=k)
    if t.size == 0:
        return observed, np.zeros(k), np.zeros((k, k))
    order = np.lexsort((t, s))
    ts, ss, gs, es = t[order], s[order], g[order], e[order]
    new_block = np.ones(ts.size, dtype=bool)
    new_block[1:] = (ts[1:] != ts[:-1]) | (ss[1:] != ss[:-1])
    block = np.cumsum(new_block) - 1
    n_blocks = int(block[-1]) + 1
    counts = np.bincount(block * k + gs, minlength=n_blocks * k).reshape(n_blocks, k)
    deaths = np.bincount(block * k + gs, weights=es, minlength=n_blocks * k).reshape(n_blocks, k)
    # number at risk per group: suffix sums over the (time-ordered) blocks of the same stratum
    block_stratum = ss[new_block]
    next_start = _next_stratum_start(block_stratum)
    suffix = np.vstack([counts[::-1].cumsum(axis=0)[::-1], np.zeros((1, k))])
    at_risk = suffix[:-1] - suffix[next_start]
    d = deaths.sum(axis=1)
    ev = d > 0
    r, d = at_risk[ev], d[ev]
    n = r.sum(axis=1)
    expected = (d / n) @ r
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(n > 1, d * (n - d) / (n * (n - 1.0)), 0.0)
    var = np.diag(c @ r) - (r * (c / n)[:, None]).T @ r
    return observed, expected, var


def _logrank_table(
    df: pd.DataFrame, duration: str, event: str, by: str, strata: str | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-group N, observed and expected events (R survdiff's printed table) and V."""
    cols = [duration, event, by] + ([strata] if strata is not None else [])
    _require_columns(df, cols)
    t, e, ok = _clean_survival(
        df[duration], df[event], index=df.index, duration_name=duration, event_name=event
    )
    g, levels = _group_codes(df[by])
    ok &= g >= 0
    if strata is not None:
        s, _ = _group_codes(df[strata])
        ok &= s >= 0
    else:
        s = np.zeros(t.size, dtype=np.int64)
    k = len(levels)
    observed, expected, var = _logrank_components(t[ok], e[ok], g[ok], s[ok], k)
    table = pd.DataFrame(
        {
            "group": pd.Series(levels, dtype=object),
            "n": np.bincount(g[ok], minlength=k),
            "observed": observed,
            "expected": expected,
        }
    )
    return table, var


def logrank(
    df: pd.DataFrame, duration: str, event: str, by: str, strata: str | None = None
) -> pd.DataFrame:
    """Log-rank test of equal survival across the groups of ``by`` (k groups), as R survdiff.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per patient.
    duration, event : str
        Follow-up time and event indicator (int 0/1 or bool) columns.
    by : str
        Grouping column.
    strata : str, optional
        Stratification column: observed - expected and the variance are computed within each
        stratum and summed, as ``survdiff(Surv(t, e) ~ by + strata(s))``.

    Returns
    -------
    pandas.DataFrame
        One row: ``statistic`` (chi-square), ``df``, ``p``, ``n`` (patients used),
        ``events``, ``n_groups`` (groups with at least one patient).

    Notes
    -----
    Patients with a missing duration, event, group or stratum are left out. As in R,
    groups with no expected events (no patient at risk at any event time) are left out of
    the test and its degrees of freedom (``df`` = groups with expected events - 1). With
    fewer than two such groups the statistic and p-value are NaN.

    Examples
    --------
    >>> df = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 1, 1, 0, 1, 0, 1, 0],
    ...                    "arm": ["A", "B", "A", "B", "A", "B", "A", "B"]})
    >>> logrank(df, "t", "e", "arm")[["df", "n", "events", "n_groups"]]
       df  n  events  n_groups
    0   1  8       5         2
    """
    table, var = _logrank_table(df, duration, event, by, strata)
    o = table["observed"].to_numpy()
    ex = table["expected"].to_numpy()
    used = np.flatnonzero(ex > 0)
    dof = max(used.size - 1, 0)
    statistic = p = math.nan
    if used.size >= 2:
        keep = used[1:]
        diff = (o - ex)[keep]
        vv = var[np.ix_(keep, keep)]
        try:
            statistic = float(diff @ np.linalg.solve(vv, diff))
        except np.linalg.LinAlgError:
            logger.warning("log-rank variance matrix is singular; using a generalised inverse")
            statistic = float(diff @ np.linalg.pinv(vv) @ diff)
        p = float(_special.chdtrc(dof, statistic))  # chi-square upper tail
    return pd.DataFrame(
        [
            {
                "statistic": statistic,
                "df": int(dof),
                "p": p,
                "n": int(table["n"].sum()),
                "events": int(round(float(o.sum()))),
                "n_groups": int((table["n"] > 0).sum()),
            }
        ]
    )
