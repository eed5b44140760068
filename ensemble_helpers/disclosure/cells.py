"""Primary suppression: the one place where a single small count is hidden.

Every count that leaves the workbook in a table, a legend or a number-at-risk row goes through
:func:`suppress_count`. A count ``k`` with ``1 <= k < min_cell_size`` is shown as
``"<{min_cell_size}"``; zero stays ``"0"`` (an empty cell reveals no patient); ``None`` as
``min_cell_size`` turns suppression off (internal review copies).

A percentage next to a suppressed count would give the count back (``k = pct * N``), so
:func:`suppress_count_pct` drops the percentage of a suppressed count and
:func:`suppress_counts` blanks the percentage columns of suppressed rows.

This is *primary* suppression of one cell. A hidden count could still be derived by difference
from totals shown beside it; :mod:`ensemble_helpers.disclosure.margins` adds the *secondary*
(complementary) suppression of tables with margins.

Examples
--------
>>> suppress_count(3, 5)
'<5'
>>> suppress_count(0, 5)
'0'
>>> suppress_count_pct(12, 40, 5)
'12 (30.0%)'
>>> suppress_count_pct(3, 40, 5)
'<5'
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ensemble_helpers.formats import count_percent, suppressed_count

__all__ = ["suppress_count", "suppress_count_pct", "suppress_counts", "is_suppressed"]


def _check_min_cell_size(min_cell_size: int | None) -> None:
    if min_cell_size is None:
        return
    if isinstance(min_cell_size, bool) or not isinstance(min_cell_size, numbers.Integral) or min_cell_size < 1:
        raise ValueError(
            f"min_cell_size must be a whole number >= 1, or None to show every count (got {min_cell_size!r})"
        )


def _is_missing(k: Any) -> bool:
    if k is None or k is pd.NA or k is pd.NaT:
        return True
    try:
        return bool(pd.isna(k))
    except (TypeError, ValueError):
        return False


def _as_count(k: Any) -> int:
    """``k`` as a non-negative whole number, or a ValueError saying what was wrong."""
    if isinstance(k, (bool, np.bool_)):
        raise ValueError(f"a count must be a whole number, not a boolean ({k!r})")
    try:
        value = float(k)
    except (TypeError, ValueError):
        raise ValueError(f"a count must be a whole number (got {k!r})") from None
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise ValueError(f"a count must be a whole number >= 0 (got {k!r})")
    return int(value)


def is_suppressed(k: Any, min_cell_size: int | None) -> bool:
    """Whether :func:`suppress_count` hides ``k`` (``1 <= k < min_cell_size``).

    Parameters
    ----------
    k : int, float or None
        A count; missing values are never "suppressed" (they are shown as an empty cell).
    min_cell_size : int or None
        Smallest count shown; ``None`` shows every count.

    Returns
    -------
    bool
    """
    _check_min_cell_size(min_cell_size)
    if min_cell_size is None or _is_missing(k):
        return False
    return 1 <= _as_count(k) < min_cell_size


def suppress_count(k: Any, min_cell_size: int | None) -> str:
    """Display text of a count, hiding small non-zero counts.

    Parameters
    ----------
    k : int, float or None
        A count (a whole number >= 0). NaN, None and ``pd.NA`` give ``""``.
    min_cell_size : int or None
        Smallest count shown as a number. ``None`` shows every count (no suppression).

    Returns
    -------
    str
        ``"<{min_cell_size}"`` for ``1 <= k < min_cell_size``, else the count (``"0"`` for zero).

    Raises
    ------
    ValueError
        ``k`` is negative or not a whole number, or ``min_cell_size`` is not a whole number >= 1.

    Examples
    --------
    >>> [suppress_count(k, 5) for k in (0, 1, 4, 5, 120)]
    ['0', '<5', '<5', '5', '120']
    >>> suppress_count(3, None)
    '3'
    >>> suppress_count(float("nan"), 5)
    ''
    """
    _check_min_cell_size(min_cell_size)
    if _is_missing(k):
        return ""
    count = _as_count(k)
    if min_cell_size is not None and 1 <= count < min_cell_size:
        return suppressed_count(min_cell_size)
    return str(count)


def suppress_count_pct(k: Any, denominator: Any, min_cell_size: int | None, digits: int = 1) -> str:
    """``"k (pct%)"`` with the percentage dropped when the count is suppressed.

    Parameters
    ----------
    k : int
        The count.
    denominator : int
        The number the percentage is of. When it is 0 or missing, only the count is shown.
    min_cell_size : int or None
        See :func:`suppress_count`.
    digits : int
        Decimals of the percentage.

    Returns
    -------
    str
        ``"12 (30.0%)"``, ``"<5"`` (no percentage: it would reveal the count), ``"0 (0.0%)"``,
        or ``""`` when ``k`` is missing.

    Examples
    --------
    >>> suppress_count_pct(0, 40, 5)
    '0 (0.0%)'
    >>> suppress_count_pct(4, 40, None, digits=0)
    '4 (10%)'
    """
    text = suppress_count(k, min_cell_size)
    if text == "" or text.startswith("<") or _is_missing(denominator):
        return text
    total = _as_count(denominator)
    if total == 0:
        return text
    count = _as_count(k)
    if count > total:
        raise ValueError(f"count {count} is larger than its denominator {total}")
    return count_percent(text, count, total, digits)


def suppress_counts(
    df: pd.DataFrame,
    columns: Iterable[str],
    min_cell_size: int | None,
    *,
    percent_columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Copy of ``df`` with count columns turned into display strings, small counts hidden.

    Vectorised equivalent of applying :func:`suppress_count` to every cell of ``columns``.

    Parameters
    ----------
    df : DataFrame
        Any table of counts.
    columns : iterable of str
        Count columns (whole numbers >= 0, NaN allowed) to convert.
    min_cell_size : int or None
        See :func:`suppress_count`.
    percent_columns : mapping of str to str, optional
        ``{count column: percentage column}``: the percentage of a suppressed count is set to NaN
        (it would reveal the count). The percentage column keeps its numeric type.

    Returns
    -------
    DataFrame
        A copy; ``columns`` hold ``str`` (``""`` for missing values).

    Raises
    ------
    KeyError
        A named column is not in ``df``.
    ValueError
        A count is negative or not a whole number (the message names the column and row).

    Examples
    --------
    >>> t = pd.DataFrame({"level": ["a", "b", "c"], "n": [0, 3, 12], "pct": [0.0, 20.0, 80.0]})
    >>> suppress_counts(t, ["n"], 5, percent_columns={"n": "pct"}).values.tolist()
    [['a', '0', 0.0], ['b', '<5', nan], ['c', '12', 80.0]]
    """
    _check_min_cell_size(min_cell_size)
    columns = list(columns)
    percent_columns = dict(percent_columns or {})
    missing = [c for c in columns + list(percent_columns.values()) if c not in df.columns]
    missing += [c for c in percent_columns if c not in columns]
    if missing:
        raise KeyError(f"column(s) {missing} not in the table (columns: {list(df.columns)}); "
                       "percent_columns keys must also be listed in columns")
    out = df.copy()
    for col in columns:
        try:
            values = pd.to_numeric(df[col], errors="raise").to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError):
            raise ValueError(f"column {col!r} must hold counts (numbers), got dtype {df[col].dtype}") from None
        nan = np.isnan(values)
        bad = ~nan & ((values < 0) | (values != np.floor(values)) | ~np.isfinite(values))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"column {col!r} must hold whole counts >= 0: row {df.index[first]!r} has {values[first]!r} "
                f"({int(bad.sum())} such value(s))"
            )
        counts = np.where(nan, 0, values).astype(np.int64)
        text = counts.astype(str).astype(object)
        small = np.zeros(len(values), dtype=bool)
        if min_cell_size is not None:
            small = ~nan & (counts >= 1) & (counts < min_cell_size)
            text[small] = suppressed_count(min_cell_size)
        text[nan] = ""
        out[col] = pd.Series(text, index=df.index, dtype=object)
        if col in percent_columns:
            pct = percent_columns[col]
            out[pct] = pd.to_numeric(df[pct]).astype(float).mask(small)
    return out
