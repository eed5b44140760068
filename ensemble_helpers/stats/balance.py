"""Standardised mean differences: the one implementation Table 1 and the propensity-score
diagnostics share.

* a number (age, prior lines): ``(mean_1 - mean_2) / sqrt((s1^2 + s2^2) / 2)``, the sample
  variances (``n - 1``) of the two groups (Austin 2009; R ``tableone``, ``cobalt``);
* a yes/no variable or one indicator: the same with the binomial variance ``p (1 - p)``;
* a categorical variable with k levels: the multi-level SMD of Yang & Dalton (SAS Global Forum
  2012, paper 335), as R ``tableone`` computes it: ``sqrt((T - C)' S^-1 (T - C))`` with ``T``,
  ``C`` the proportions of levels 2..k and ``S = (S_T + S_C) / 2``, ``S_ij = p_i (1 - p_i)`` on the
  diagonal and ``-p_i p_j`` off it (a generalised inverse when ``S`` is singular). With two
  levels it is the absolute yes/no SMD.

Missing values are left out (as ``tableone``). With weights (propensity-score weighting), the
proportions or means of the numerator are weighted and the variances stay unweighted, so the
SMD changes only through the means (Austin & Stuart 2015; cobalt's default). Written by hand:
a few lines, and no Python package computes the multi-level SMD; checked against an R
computation in ``tests/test_balance.py``.

Examples
--------
>>> import numpy as np
>>> round(smd_numeric(np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0])), 6)
-1.0
>>> round(smd_categorical(np.array(["a", "a", "b"]), np.array(["a", "b", "b"])), 4)
0.7071
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

#: |SMD| above which a difference between the groups is flagged (Austin 2009).
SMD_THRESHOLD = 0.1


def _mean(x: np.ndarray, w: np.ndarray | None) -> float:
    return float(x.mean()) if w is None else float((w * x).sum() / w.sum())


def smd_numeric(
    x1: Any, x2: Any, w1: Any = None, w2: Any = None, binary: bool | None = None,
) -> float:
    """SMD of a number between group 1 and group 2 (signed: group 1 minus group 2).

    Parameters
    ----------
    x1, x2 : array-like
        Values of each group (NaN left out, with their weights).
    w1, w2 : array-like, optional
        Weights of the means (the variances are unweighted).
    binary : bool, optional
        Use the binomial variance ``p (1 - p)``; default when every value is 0 or 1.

    Returns
    -------
    float
        NaN when a group has no value or both variances are 0.
    """
    return float(smd_columns(np.asarray(x1, float).reshape(-1, 1), np.asarray(x2, float).reshape(-1, 1),
                             w1, w2, None if binary is None else [binary])[0])


def smd_columns(
    x1: np.ndarray, x2: np.ndarray, w1: Any = None, w2: Any = None, binary: Sequence[bool] | None = None,
) -> np.ndarray:
    """Column-wise :func:`smd_numeric` of two matrices (patients x covariates) without missing
    values (a design matrix).

    ``binary`` per column; default: the columns whose values are all 0 or 1.
    """
    x1 = np.asarray(x1, dtype=float)
    x2 = np.asarray(x2, dtype=float)
    w1 = None if w1 is None else np.asarray(w1, dtype=float)
    w2 = None if w2 is None else np.asarray(w2, dtype=float)
    out = np.full(x1.shape[1], np.nan)
    for j in range(x1.shape[1]):
        a, b = x1[:, j], x2[:, j]
        ka, kb = ~np.isnan(a), ~np.isnan(b)
        a, b = a[ka], b[kb]
        wa = None if w1 is None else w1[ka]
        wb = None if w2 is None else w2[kb]
        if a.size == 0 or b.size == 0:
            continue
        is_bin = (np.isin(np.r_[a, b], (0.0, 1.0)).all()) if binary is None else bool(binary[j])
        if is_bin:
            va, vb = a.mean() * (1 - a.mean()), b.mean() * (1 - b.mean())
        else:
            va = a.var(ddof=1) if a.size > 1 else 0.0
            vb = b.var(ddof=1) if b.size > 1 else 0.0
        sd = math.sqrt((va + vb) / 2.0)
        if sd > 0:
            out[j] = (_mean(a, wa) - _mean(b, wb)) / sd
    return out


def smd_categorical(
    x1: Any, x2: Any, w1: Any = None, w2: Any = None, levels: Sequence[Any] | None = None,
) -> float:
    """Multi-level SMD of Yang & Dalton (2012) of a categorical variable (unsigned).

    Parameters
    ----------
    x1, x2 : array-like
        Values of each group (missing values left out).
    w1, w2 : array-like, optional
        Weights of the proportions of the numerator (the covariance stays unweighted).
    levels : sequence, optional
        The levels, first one dropped (default: the sorted values seen in either group).

    Returns
    -------
    float
        NaN when a group has no value; 0 when only one level is seen.
    """
    s1, s2 = pd.Series(np.asarray(x1, dtype=object)), pd.Series(np.asarray(x2, dtype=object))
    k1, k2 = s1.notna().to_numpy(), s2.notna().to_numpy()
    if not k1.any() or not k2.any():
        return math.nan
    if levels is None:
        seen = pd.unique(pd.concat([s1[k1], s2[k2]]))
        try:
            levels = sorted(seen)
        except TypeError:
            levels = sorted(seen, key=str)
    levels = list(levels)
    if len(levels) < 2:
        return 0.0

    def props(s: pd.Series, keep: np.ndarray, w: Any) -> tuple[np.ndarray, np.ndarray]:
        v = s[keep].to_numpy()
        ind = np.column_stack([(v == lv) for lv in levels[1:]]).astype(float)
        plain = ind.mean(axis=0)
        weighted = plain if w is None else (np.asarray(w, float)[keep][:, None] * ind).sum(axis=0) / \
            np.asarray(w, float)[keep].sum()
        return plain, weighted

    p1, t = props(s1, k1, w1)
    p2, c = props(s2, k2, w2)

    def cov(p: np.ndarray) -> np.ndarray:
        return np.diag(p) - np.outer(p, p)

    s = (cov(p1) + cov(p2)) / 2.0
    d = t - c
    value = float(d @ np.linalg.pinv(s) @ d)  # generalised inverse, as tableone (MASS::ginv)
    return math.sqrt(max(value, 0.0))


def variable_smd(values: pd.Series, group1: np.ndarray, group2: np.ndarray, kind: str) -> float:
    """Table 1 SMD of one variable between two row masks.

    Parameters
    ----------
    values : Series
        One value per patient.
    group1, group2 : boolean arrays
        The two groups (the compared level first).
    kind : {"continuous", "dichotomous", "categorical"}
        As Table 1 summarises the variable: continuous -> pooled-SD SMD (absolute value);
        dichotomous and categorical -> Yang & Dalton (a yes/no variable is a two-level one).

    Returns
    -------
    float
        Non-negative (as gtsummary / tableone print it), NaN when not computable.
    """
    if kind == "continuous":
        x = pd.to_numeric(values, errors="raise").to_numpy(dtype=float, na_value=np.nan)
        return abs(smd_numeric(x[group1], x[group2], binary=False))
    v = values.astype(object).where(values.notna(), None).to_numpy()
    levels = list(values.cat.categories) if isinstance(values.dtype, pd.CategoricalDtype) else None
    if kind == "dichotomous":
        levels = [False, True]
        v = np.array([None if x is None else bool(x) for x in v], dtype=object)
    return smd_categorical(v[group1], v[group2], levels=levels)
