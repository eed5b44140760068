"""One column of a patient table, from Arrow to the data contract's type, with its checks.

:mod:`ensemble_helpers.schema` calls one ``check_*`` function per column (dates, numbers,
booleans, categories) and :func:`text_column` / :func:`objects` for text; each returns the typed
values, the missing mask and the broken rules as row masks, which the schema reports with
patient ids. Valid columns take a fast path (one Arrow cast, or a scan of the buffers with
:mod:`ensemble_helpers.arrowscan`); only a column with a value the fast path refuses goes through
the slower checks that say which rows are wrong. The functions hold no state and release the GIL
in NumPy and Arrow, so the schema runs them in threads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ensemble_helpers import arrowscan
from ensemble_helpers.readers import cell_text

# accepted spellings of booleans in CSV text (no other value is read as a boolean)
_TRUE = frozenset(v for w in ("true", "1", "yes") for v in (w, w.upper(), w.title()))
_FALSE = frozenset(v for w in ("false", "0", "no") for v in (w, w.upper(), w.title()))

# --- Arrow helpers ------------------------------------------------------------------------------
# Valid files take the fast path (one Arrow cast per column); only a column with a value the cast
# refuses goes through the slower checks that say which rows are wrong.

_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
CONTROL = r"[\x00-\x1f\x7f]"
ID_TROUBLE = r"[\x00-\x1f\x7f]|^\s|\s$|^$"


def has_any(mask: Any) -> bool:
    if isinstance(mask, np.ndarray):
        return bool(mask.any())
    return bool(pc.any(mask).as_py())


def mask_array(mask: Any) -> np.ndarray:
    """A boolean Arrow array as a NumPy bool array (null = False)."""
    if isinstance(mask, np.ndarray):
        return mask
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def as_string(arr: Any) -> Any:
    """Text of a column: strings as stored; a dictionary decoded; anything else canonically."""
    t = arr.type
    if t == pa.string():
        return arr
    if is_text(t) or (pa.types.is_dictionary(t) and is_text(t.value_type)):
        return arr.cast(pa.string())
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string())
    return pa.array([cell_text(v) for v in arr.to_pylist()], type=pa.string())


def missing_mask(arr: Any) -> Any:
    """Null (and NaN in float columns) = missing, as an Arrow mask; None when none is missing."""
    floating = pa.types.is_floating(arr.type)
    if not floating and arr.null_count == 0:
        return None
    return pc.is_null(arr, nan_is_null=floating)


def _codes(arr: Any, value_set: Any, dtype: Any = np.int32) -> np.ndarray:
    """The position of each value of a text column in ``value_set`` (-1: missing or not there).

    A dictionary-encoded column is looked up once per dictionary entry, then by its indices
    (chunks that share one dictionary, as read from one Parquet row group, together)."""
    if not pa.types.is_dictionary(arr.type):
        return _np_int(pc.index_in(as_string(arr), value_set=value_set)).astype(dtype)
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    groups: list[list[pa.DictionaryArray]] = []
    for ch in chunks:
        if groups and ch.dictionary.equals(groups[-1][0].dictionary):
            groups[-1].append(ch)
        else:
            groups.append([ch])
    parts = []
    for group in groups:
        entries = group[0].dictionary.cast(pa.string())
        lookup = np.append(_np_int(pc.index_in(entries, value_set=value_set)), -1).astype(dtype)
        indices = pa.chunked_array([ch.indices for ch in group])
        codes = lookup[(indices.fill_null(0) if indices.null_count else indices).to_numpy(zero_copy_only=False)]
        if indices.null_count:
            codes[mask_array(indices.is_null())] = -1
        parts.append(codes)
    if not parts:
        return np.zeros(0, dtype)
    return np.concatenate(parts) if len(parts) != 1 else parts[0]


def _np_int(arr: Any) -> np.ndarray:
    """Integers of an Arrow array as int32 NumPy values (null = -1)."""
    if arr.null_count:
        arr = pc.fill_null(arr, -1)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.int32)


def text_column(arr: Any) -> tuple[Any, Any, np.ndarray, Any]:
    """A text column with few distinct values: ``(text, distinct values, NumPy object array with
    one str per distinct value and NaN for missing, missing mask or None)``.

    A dictionary-encoded column (Parquet: :data:`FEW_VALUES_COLUMNS`) is decoded through its
    dictionaries; ``distinct`` then also holds dictionary entries no row uses (checks on it
    only decide whether to look at the rows)."""
    if pa.types.is_dictionary(arr.type) and is_text(arr.type.value_type):
        chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
        entries = pa.chunked_array([ch.dictionary for ch in chunks], type=arr.type.value_type)
        distinct = pc.unique(entries.cast(pa.string())).drop_null()
        codes = _codes(arr, distinct)
        lookup = np.empty(len(distinct) + 1, dtype=object)
        lookup[:-1] = distinct.to_pylist()
        lookup[-1] = np.nan
        unknown = codes < 0  # every value is among the distinct ones: -1 is a missing value
        return arr, distinct, lookup[codes], unknown if unknown.any() else None
    text = as_string(arr)
    distinct = pc.unique(text).drop_null()
    return text, distinct, objects(text, distinct), missing_mask(text)


def objects(text: Any, distinct: Any) -> np.ndarray:
    """Text as a NumPy object array (NaN for missing), sharing one str per distinct value."""
    if len(distinct) > len(text) // 2 or distinct is text:  # mostly distinct (ids): directly
        values = text.to_numpy(zero_copy_only=False)
        return np.where(pd.isna(values), np.nan, values) if text.null_count else values
    lookup = np.empty(len(distinct) + 1, dtype=object)
    lookup[:-1] = distinct.to_pylist()
    lookup[-1] = np.nan
    idx = pc.fill_null(pc.index_in(text, value_set=distinct), -1).to_numpy(zero_copy_only=False)
    return lookup[idx]


# --- one column each --------------------------------------------------------------------------


def _dates(arr: Any, strict: bool, window: tuple[dt.date, dt.date]):
    """``(date32 values or None, problems, stored-type rule or None)``; problems are masks."""
    problems: list[tuple[str, Any]] = []
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.date32()), problems, None
    if pa.types.is_dictionary(t):
        arr, t = arr.cast(t.value_type), t.value_type
    if is_text(t):
        if strict:
            return None, problems, f"stored as {t}, expected a date/timestamp type"
        text = arr.cast(pa.string())
        try:
            days = text.cast(pa.date32())  # strict ISO YYYY-MM-DD
        except pa.ArrowInvalid:
            shaped = pc.match_substring_regex(text, _ISO_DATE)
            parsed = []
            for v, ok in zip(text.to_pylist(), mask_array(shaped)):
                try:
                    parsed.append(dt.date.fromisoformat(v) if ok else None)
                except ValueError:  # 2024-02-30
                    parsed.append(None)
            days = pa.array(parsed, type=pa.date32())
            problems.append(("not a valid date in YYYY-MM-DD format", pc.and_(pc.is_valid(text), pc.is_null(days))))
    elif pa.types.is_timestamp(t):
        local = pc.local_timestamp(arr) if t.tz is not None else arr
        day = pc.floor_temporal(local, unit="day")
        timed = pc.not_equal(local, day)
        if has_any(timed):
            if t.tz is not None:
                rule = (f"timezone-aware timestamp (timezone {t.tz}) is not at midnight in its "
                        "timezone: store calendar dates")
            else:
                rule = "timestamp has a time of day: a date must be a calendar date"
            problems.append((rule, timed))
        days = day.cast(pa.date32())
    elif pa.types.is_date(t):
        days = arr.cast(pa.date32())
    else:
        return None, problems, f"stored as {t}, expected a date/timestamp type"
    outside = pc.or_(pc.less(days, pa.scalar(window[0], pa.date32())),
                     pc.greater(days, pa.scalar(window[1], pa.date32())))
    if has_any(outside):
        problems.append(
            (f"date outside the plausible window {window[0]} to {window[1]} "
             "(a typo? the window is the date_window setting)", outside)
        )
        days = pc.if_else(outside, pa.scalar(None, pa.date32()), days)
    return days, problems, None


#: Nanoseconds per day.
DAY_NS = 86_400_000_000_000
#: Rows per block of the checks on dates (blocks that stay in the CPU cache).
_BLOCK = 1 << 15


def _naive_ns_dates(arr: Any, window: tuple[dt.date, dt.date]) -> tuple[np.ndarray, Any] | None:
    """Fast path for Parquet/pandas dates: naive ``timestamp[ns]`` values that are all at midnight
    and within the window come back as ``datetime64[ns]`` (with their missing mask, None when
    complete); anything else returns None and goes through :func:`_dates`, which says what is
    wrong."""
    if not (pa.types.is_timestamp(arr.type) and arr.type.tz is None and arr.type.unit == "ns"):
        return None
    values = arr.to_numpy(zero_copy_only=False).astype("datetime64[ns]", copy=False)
    i8 = values.view("i8")
    first, last = (np.datetime64(d, "D").astype(np.int64) for d in window)
    span = np.uint64(last - first)
    off = 0
    for start in range(0, len(i8), _BLOCK):  # blocks that stay in the CPU cache
        ns = i8[start: start + _BLOCK]
        day = ns // DAY_NS
        # off the window, or not at midnight; a missing date (NaT, the smallest int64) is off
        # the window too, so a valid column has exactly as many of these rows as missing values
        off += np.count_nonzero(((day - first).view(np.uint64) > span) | (day * DAY_NS != ns))
    if off != arr.null_count:
        return None
    return values, (np.isnat(values) if arr.null_count else None)


#: Whole numbers read via float64 are exact below this (2**53); larger ones are refused.
WHOLE_LIMIT = 2**53


def _digit_text_integers(text: Any) -> Any:
    """Text whose every value is written with the digits 0-9 only (``2``, ``007``), below 2**53,
    as int64 (the numbers :func:`_numbers` would read, without the round trip via float); None
    for any other text (``-1``, ``1.0``, ``1e3``, ``0x1``, ``two``: read by :func:`_numbers`)."""
    try:
        values = text.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not pc.all(pc.utf8_is_digit(text)).as_py():
        return None
    largest = pc.max(values).as_py()
    return None if largest is not None and largest >= WHOLE_LIMIT else values


def _integers(arr: Any) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A column stored as integers (that fit int64) as ``(int64 values, 0 where missing; missing
    mask or None when complete)``; None for any other storage (read by :func:`_numbers`). The
    values may be a read-only view of the Arrow buffer."""
    t = arr.type
    if not pa.types.is_integer(t):
        return None
    if t == pa.uint64() and (pc.max(arr).as_py() or 0) > np.iinfo(np.int64).max:
        return None  # (read as a number, too large to be a whole number read exactly)
    values = arr.fill_null(0) if arr.null_count else arr
    values = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)
    return values, (mask_array(pc.is_null(arr)) if arr.null_count else None)


def _numbers(arr: Any, strict: bool):
    """``(float64 NumPy values with NaN, unreadable mask or None, stored-type rule or None)``."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr, t = arr.cast(t.value_type), t.value_type
    if pa.types.is_null(t):
        return np.full(len(arr), np.nan), None, None
    bad = None
    if is_text(t):
        if strict:
            return None, None, f"stored as {t}, expected a numeric type"
        text = arr.cast(pa.string())
        try:
            values = text.cast(pa.float64())
            if not has_any(pc.invert(pc.is_finite(values))):
                return values.to_numpy(zero_copy_only=False).astype("float64", copy=False), None, None
        except pa.ArrowInvalid:
            pass
        shaped = pc.match_substring_regex(text, _NUMBER)  # no nan/inf spellings
        values = pc.if_else(shaped, text, pa.scalar(None, pa.string())).cast(pa.float64())
        bad = pc.and_(pc.is_valid(text), pc.invert(shaped))
    elif pa.types.is_integer(t):  # beyond 2**53 the nearest float: a range check still refuses it
        values = arr.cast(pa.float64(), safe=False)
    elif pa.types.is_floating(t) or pa.types.is_decimal(t):
        values = arr.cast(pa.float64())
    else:
        return None, None, f"stored as {t}, expected a numeric type"
    return values.fill_null(np.nan).to_numpy(zero_copy_only=False).astype("float64", copy=False), bad, None


_SPELLINGS = sorted(_TRUE) + sorted(_FALSE)


def _booleans(arr: Any, strict: bool):
    t = arr.type
    if pa.types.is_boolean(t):
        return arr.fill_null(False).to_numpy(zero_copy_only=False).astype(bool), None, None
    if pa.types.is_null(t):
        return np.zeros(len(arr), bool), None, None
    if strict or not (is_text(t) or pa.types.is_dictionary(t)):
        return None, None, f"stored as {t}, expected boolean"
    text = as_string(arr)
    idx = pc.index_in(text, value_set=pa.array(_SPELLINGS))
    bad = pc.and_(pc.is_valid(text), pc.is_null(idx))
    return mask_array(pc.less(idx, len(_TRUE))), bad, None


def _category(arr: Any, levels: tuple[str, ...]):
    value_set = pa.array(list(levels))
    codes = _codes(arr, value_set, np.int8)
    if np.count_nonzero(codes < 0) == arr.null_count:  # each value a level, or missing
        return pd.Categorical.from_codes(codes, categories=list(levels)), None, []
    if pa.types.is_dictionary(arr.type) and is_text(arr.type.value_type):
        # map each chunk's dictionary (a few values), then its indices
        chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
        parts = [pc.take(pc.index_in(ch.dictionary.cast(pa.string()), value_set=value_set), ch.indices)
                 for ch in chunks]
        idx = pa.chunked_array(parts, type=pa.int32())
        text = as_string(arr) if has_any(pc.and_(pc.is_valid(arr), pc.is_null(idx))) else arr
    else:
        text = as_string(arr)
        idx = pc.index_in(text, value_set=value_set)
    bad = pc.and_(pc.is_valid(text), pc.is_null(idx))
    codes = pc.fill_null(idx, -1).to_numpy(zero_copy_only=False).astype("int8")
    seen = sorted(set(pc.filter(as_string(text), bad).to_pylist()))[:5] if has_any(bad) else []
    return pd.Categorical.from_codes(codes, categories=list(levels)), bad, seen


@dataclass
class Checked:
    """One column after its checks: the typed values and missing mask (None: complete), the
    broken rules as ``(rule, row mask)`` in the order they are reported, or ``wrong``: the
    stored-type rule that stops the load."""

    values: Any = None
    missing: Any = None
    problems: list[tuple[str, Any]] = field(default_factory=list)
    wrong: str | None = None


def check_date(arr: Any, strict: bool, window: tuple[dt.date, dt.date]) -> Checked:
    fast = _naive_ns_dates(arr, window)
    if fast is not None:  # timestamps in ns at midnight within the window: already typed
        return Checked(*fast)
    parsed, problems, wrong = _dates(arr, strict, window)
    if wrong:
        return Checked(wrong=wrong)
    values = parsed.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False).astype("datetime64[ns]", copy=False)
    return Checked(values, missing_mask(arr), problems)


def check_number(
    arr: Any, strict: bool, bounds: tuple[float | None, float | None, str], whole_numbers: bool, nullable: bool
) -> Checked:
    """A numeric column: within ``bounds`` (low, high, the rule's text; None = unbounded); with
    ``whole_numbers`` an ``Int64`` column (plain ``int64`` when complete and not ``nullable``),
    otherwise ``float64``."""
    lo, hi, rule = bounds
    whole = None
    if whole_numbers:
        digits = arr if strict or not is_text(arr.type) else _digit_text_integers(arr)
        whole = _integers(digits) if digits is not None else None
    if whole is not None:  # stored as integers: no fraction to look for, no round trip via float
        values, mask = whole
        outside = ((values < lo) if lo is not None else False) | ((values > hi) if hi is not None else False)
        if mask is not None:
            outside &= ~mask
        values = np.require(values, requirements="W")  # (pyarrow may lend its buffer, read-only)
        if mask is None and not nullable:
            typed = values
        else:  # an Int64 column must accept new values
            mask = np.require(mask, requirements="W") if mask is not None else np.zeros(len(values), bool)
            typed = pd.arrays.IntegerArray(values, mask)
        return Checked(typed, mask, [(rule, outside)])
    values, bad, wrong = _numbers(arr, strict)
    if wrong:
        return Checked(wrong=wrong)
    problems: list[tuple[str, Any]] = [("not a number", bad)]
    nan = np.isnan(values)
    if whole_numbers:
        frac = ~nan & (np.mod(values, 1) != 0)
        if frac.any():
            problems.append(("not a whole number", frac))
            values = np.where(frac, np.nan, values)
            nan = np.isnan(values)
        huge = ~nan & (np.abs(values) >= WHOLE_LIMIT)  # int64 cannot hold it, or a float rounded it
        if huge.any():
            problems.append((f"whole number too large to be read exactly ({WHOLE_LIMIT:,} or more)", huge))
            values = np.where(huge, np.nan, values)
            nan = np.isnan(values)
    with np.errstate(invalid="ignore"):
        outside = ~nan & (((values < lo) if lo is not None else False)
                          | ((values > hi) if hi is not None else False))
    problems.append((rule, outside))
    if whole_numbers:
        values = pd.arrays.IntegerArray(np.where(nan, 0, values).astype("int64"), nan)
    return Checked(values, missing_mask(arr), problems)


def check_boolean(arr: Any, strict: bool) -> Checked:
    values, bad, wrong = _booleans(arr, strict)
    if wrong:
        return Checked(wrong=wrong)
    return Checked(values, missing_mask(arr), [("not a boolean (use true/false or 1/0)", bad)])


def check_category(arr: Any, levels: tuple[str, ...]) -> Checked:
    values, bad, seen = _category(arr, levels)
    rule = f"value not allowed (found {', '.join(map(repr, seen))}; allowed: {', '.join(levels)})"
    return Checked(values, missing_mask(arr), [(rule, bad)])


def distinct_ids(pid: Any) -> bool:
    """Whether no id is repeated (missing ids aside). All-different 64-bit hashes prove it
    (:func:`ensemble_helpers.arrowscan.hash64`, a few milliseconds for a million ids); only when
    two hashes agree are the ids themselves counted."""
    hashes = arrowscan.hash64(pid)
    hashes.sort()
    if not (hashes[1:] == hashes[:-1]).any():
        return True
    return pc.count_distinct(pid, mode="only_valid").as_py() == len(pid) - pid.null_count
