"""Descriptive counts of the cohort: frequencies, patients per site, ILD grades.

Functions return tidy DataFrames of counts; suppression of small counts for sharing happens in
:mod:`ensemble_helpers.tables` / :mod:`ensemble_helpers.privacy`, never here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def frequencies(df: pd.DataFrame, column: str, dropna: bool = False) -> pd.DataFrame:
    """Count each level of a column, in category order (levels with 0 patients included).

    Parameters
    ----------
    df : DataFrame
        One row per patient.
    column : str
        A categorical, boolean or text column.
    dropna : bool
        Leave missing values out (else they form a level ``"Missing"``).

    Returns
    -------
    DataFrame
        ``level``, ``n``, ``pct`` (percentage of all rows counted, 0–100).

    Examples
    --------
    >>> import pandas as pd
    >>> frequencies(pd.DataFrame({"x": ["a", "b", "a"]}), "x")["n"].tolist()
    [2, 1]
    """
    s = df[column]
    counts = s.value_counts(dropna=True, sort=not isinstance(s.dtype, pd.CategoricalDtype))
    if isinstance(s.dtype, pd.CategoricalDtype):
        counts = counts.reindex(s.cat.categories, fill_value=0)
    elif pd.api.types.is_bool_dtype(s):
        counts = counts.reindex([True, False], fill_value=0)
    elif pd.api.types.is_numeric_dtype(s):  # grades, scores: in their natural order
        counts = counts.sort_index()
    out = pd.DataFrame({"level": counts.index.astype(object), "n": counts.to_numpy(dtype=int)})
    missing = int(s.isna().sum())
    if missing and not dropna:
        out.loc[len(out)] = {"level": "Missing", "n": missing}
    total = int(out["n"].sum())
    out["pct"] = 100.0 * out["n"] / total if total else np.nan
    return out


def patients_per_site(df: pd.DataFrame, site: str = "site_id") -> pd.Series:
    """Number of patients of each site, sorted descending, without the site identifiers."""
    return df[site].value_counts().reset_index(drop=True).rename("patients")


def site_summary(df: pd.DataFrame, site: str = "site_id") -> pd.DataFrame:
    """Distribution of patients per site.

    Returns
    -------
    DataFrame
        One row: ``sites``, ``patients``, ``median``, ``q1``, ``q3``, ``min``, ``max``,
        ``single_patient_sites``.
    """
    per = patients_per_site(df, site)
    if per.empty:
        return pd.DataFrame([{"sites": 0, "patients": 0}])
    q1, med, q3 = np.percentile(per, [25, 50, 75])
    return pd.DataFrame(
        [{"sites": int(per.size), "patients": int(per.sum()), "median": float(med), "q1": float(q1),
          "q3": float(q3), "min": int(per.min()), "max": int(per.max()),
          "single_patient_sites": int((per == 1).sum())}]
    )
