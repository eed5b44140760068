"""Count tables: frequencies, top values, attrition and sites, every count through the disclosure rules."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ensemble_helpers.formats import (
    DASH,
)
from ensemble_helpers.disclosure import TOTAL, protect_partition
from ensemble_helpers.labels import label
from ensemble_helpers.privacy import suppress_count, suppress_count_pct
from ensemble_helpers.tables._common import (
    _value_label,
)
from ensemble_helpers.settings import takes_settings


@takes_settings
def top_counts(
    series: pd.Series, n: int = 10, min_cell_size: int | None = 5, *, digits: int = 1,
    other_label: str = "All other values",
) -> pd.DataFrame:
    """The most frequent values (e.g. regimens) with n (%), rare values pooled.

    Values seen fewer than ``min_cell_size`` times are never listed by name (a rare regimen can
    identify a patient): they are pooled with the values beyond the top ``n`` into one row.

    Parameters
    ----------
    series : Series
        One value per patient.
    n : int
        How many values to list at most.
    min_cell_size : int or None
        See :func:`ensemble_helpers.privacy.suppress_count`; also the smallest count listed by name.
    digits : int
        Decimals of the percentages (of non-missing values).
    other_label : str
        Text of the pooled row.

    Returns
    -------
    DataFrame
        Columns ``<label of the series name>`` (or ``Value``) and ``n (%)``; most frequent first
        (ties by value), then the pooled row and a ``Missing`` row when there are any.

    Examples
    --------
    >>> s = pd.Series(["a"] * 6 + ["b"] * 5 + ["c"] * 2 + ["d"], name="regimen")
    >>> top_counts(s, n=1).values.tolist()
    [['a', '6 (42.9%)'], ['All other values', '8 (57.1%)']]
    """
    if n < 0:
        raise ValueError(f"n must be >= 0 (got {n})")
    name = label(series.name) if series.name is not None else "Value"
    values = series.dropna()
    total = len(values)
    counts = values.value_counts(sort=False)
    freq = pd.DataFrame({"value": counts.index.astype(object), "n": counts.to_numpy(dtype=np.int64)})
    freq["key"] = freq["value"].astype(str)
    freq = freq[freq["n"] > 0].sort_values(["n", "key"], ascending=[False, True], kind="mergesort")
    listable = freq if min_cell_size is None else freq[freq["n"] >= min_cell_size]
    shown = listable.head(n)
    rest = int(total - shown["n"].sum())
    rows = [[_value_label(v), suppress_count_pct(int(k), total, min_cell_size, digits)]
            for v, k in zip(shown["value"], shown["n"])]
    if rest:
        rows.append([other_label, suppress_count_pct(rest, total, min_cell_size, digits)])
    n_missing = int(series.isna().sum())
    if n_missing:
        rows.append(["Missing", suppress_count(n_missing, min_cell_size)])
    return pd.DataFrame(rows, columns=[name, "n (%)"])


@takes_settings
def frequency_table(freq: pd.DataFrame, min_cell_size: int | None, heading: str = "Category") -> pd.DataFrame:
    """Format :func:`ensemble_helpers.describe.frequencies` output as ``n (%)`` with suppression.

    The levels add up to their total, which the percentages give away: a hidden count could be
    worked out as the total minus the others, so more levels are hidden (printed ``"≥k"``,
    :func:`ensemble_helpers.disclosure.protect_partition`) and the table's footnote says so.

    Examples
    --------
    >>> f = pd.DataFrame({"level": ["1", "2", "3"], "n": [10, 6, 2]})
    >>> frequency_table(f, 5, "ILD grade")["n (%)"].tolist()
    ['10 (55.6%)', '≥5', '<5']
    """
    counts = {i: int(k) for i, k in enumerate(freq["n"])}
    prot = protect_partition(counts, None, min_cell_size)
    out = pd.DataFrame(
        {
            heading: [label(v) for v in freq["level"]],
            "n (%)": [prot.text_pct(i, TOTAL) for i in counts],
        }
    )
    if prot.note() and prot.secondary:
        out.attrs["footnote"] = prot.note()
    return out


@takes_settings
def attrition_table(attrition: pd.DataFrame, min_cell_size: int | None) -> pd.DataFrame:
    """The attrition steps with suppressed counts."""
    return pd.DataFrame(
        {
            "Step": attrition["step"],
            "Patients remaining": [suppress_count(int(k), min_cell_size) for k in attrition["n"]],
            "Excluded at this step": [suppress_count(int(k), min_cell_size) for k in attrition["excluded"]],
        }
    )


@takes_settings
def site_table(sites: pd.DataFrame, min_cell_size: int | None) -> pd.DataFrame:
    """Format :func:`ensemble_helpers.describe.site_summary` (no site is named)."""
    row = sites.iloc[0]
    if not row.get("sites"):
        return pd.DataFrame({"Measure": ["Sites"], "Value": ["0"]})
    return pd.DataFrame(
        {
            "Measure": ["Sites", "Patients", "Patients per site, median (IQR)", "Sites with a single patient"],
            "Value": [
                f"{int(row['sites'])}",
                suppress_count(int(row["patients"]), min_cell_size),
                f"{row['median']:g} ({row['q1']:g}{DASH}{row['q3']:g})",
                suppress_count(int(row["single_patient_sites"]), min_cell_size),
            ],
        }
    )
