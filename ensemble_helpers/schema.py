"""The data contract: read one row per patient, check every rule, return typed columns.

The contract is written out for people in ``docs/data_contract.md``; this module is its
executable form. :func:`load_patients` reads CSV, gzip-compressed CSV, Parquet, Excel or SAS
(:mod:`ensemble_helpers.readers`), converts text to the contract's types *strictly* (a value
that cannot be read is a violation, never silently set to missing or to ``False``), checks every
column and row rule, and raises one :class:`DataContractError` listing every broken rule with the
column(s), the number of rows affected and up to 10 example ``patient_id`` values (or CSV line
numbers when the file itself cannot be parsed).

The conversion runs on Arrow arrays (``pyarrow.compute``) and NumPy, column by column in two
threads, with quick whole-column scans (:mod:`ensemble_helpers.arrowscan`) that let a valid
column skip the slower checks that say which rows are wrong: a million-row file loads in about
1.5 times pyarrow's CSV read, 2.3 times its Parquet read (``benchmarks/bench_scale.py
--load-ratios``; README, Performance).

Examples
--------
>>> from ensemble_helpers.schema import load_patients  # doctest: +SKIP
>>> patients = load_patients("data/ensemble_synthetic.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ensemble_helpers import arrowscan
from ensemble_helpers.columns import (
    CONTROL,
    ID_TROUBLE,
    as_string,
    check_boolean,
    check_category,
    check_date,
    check_number,
    distinct_ids,
    has_any,
    is_text,
    mask_array,
    missing_mask,
    objects,
    text_column,
)
from ensemble_helpers.exceptions import EnsembleError
from ensemble_helpers.readers import ReadProblem, cell_text, read_raw

logger = logging.getLogger(__name__)

#: How many example patient ids an error message lists per rule.
MAX_EXAMPLES = 10
#: Threads that check columns side by side (NumPy and Arrow release the GIL).
_THREADS = 2

ID_COLUMNS = ("patient_id", "site_id")
TEXT_COLUMNS = ("next_regimen",)
#: Text columns with few distinct values: read dictionary-encoded from Parquet (as it stores
#: them), so each distinct value is decoded and checked once.
FEW_VALUES_COLUMNS = ("site_id",) + TEXT_COLUMNS
DATE_COLUMNS = (
    "tdxd_start",
    "tdxd_end",
    "next_start",
    "next_end",
    "progression_date",
    "second_next_start",
    "death_date",
    "last_followup",
    "ild_recurrence_date",
)
FLOAT_COLUMNS = ("age",)
INT_COLUMNS = ("ecog", "prior_lines", "tdxd_ild_grade")
BOOL_COLUMNS = ("visceral_metastasis", "brain_metastasis", "measurable_disease")
CATEGORIES: dict[str, tuple[str, ...]] = {
    "hormone_receptor": ("positive", "negative"),
    "tdxd_discontinuation_reason": ("progression", "ild", "other_adverse_event", "other"),
    "next_class": (
        "anti_her2_antibody",
        "anti_her2_tki",
        "anti_her2_other",
        "chemotherapy",
        "endocrine",
        "other",
    ),
    "next_best_response": ("CR", "PR", "SD", "PD", "NE"),
}
#: Optional columns: a file may lack them; when present they follow their rules (no missing
#: values, the type below). Booleans: prior anti-HER2 therapy before T-DXd.
OPTIONAL_BOOL_COLUMNS = ("prior_trastuzumab", "prior_pertuzumab", "prior_tdm1")
OPTIONAL_CATEGORIES: dict[str, tuple[str, ...]] = {
    "tdxd_best_response": ("CR", "PR", "SD", "PD", "NE"),
}
OPTIONAL_COLUMNS: tuple[str, ...] = OPTIONAL_BOOL_COLUMNS + tuple(OPTIONAL_CATEGORIES)
#: Every column of the contract, in the order of the documentation.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "site_id",
    "age",
    "ecog",
    "hormone_receptor",
    "visceral_metastasis",
    "brain_metastasis",
    "prior_lines",
    "tdxd_start",
    "tdxd_end",
    "tdxd_discontinuation_reason",
    "tdxd_ild_grade",
    "next_start",
    "next_class",
    "next_regimen",
    "next_end",
    "next_best_response",
    "measurable_disease",
    "progression_date",
    "second_next_start",
    "death_date",
    "last_followup",
    "ild_recurrence_date",
)
#: Columns that may hold missing values (an empty CSV cell).
NULLABLE_COLUMNS = frozenset(
    {
        "ecog",
        "tdxd_ild_grade",
        "next_end",
        "progression_date",
        "second_next_start",
        "death_date",
        "ild_recurrence_date",
    }
)
#: Event dates that follow the start of the first post-T-DXd regimen.
EVENT_DATES = ("next_end", "progression_date", "second_next_start", "ild_recurrence_date")
DATE_FORMAT = "%Y-%m-%d"
#: Default plausible window of every date: not before 2019-01-01 (the year of T-DXd's first
#: approval) and not after today. ``load_patients(..., date_window=(earliest, latest))`` changes it.
DEFAULT_EARLIEST_DATE = dt.date(2019, 1, 1)
#: Ranges of the numeric columns (inclusive; ``None`` = unbounded).
RANGES: dict[str, tuple[float | None, float | None, str]] = {
    "age": (18, 110, "must be between 18 and 110 years"),
    "ecog": (0, 4, "must be between 0 and 4"),
    "prior_lines": (0, None, "must be 0 or more"),
    "tdxd_ild_grade": (1, 5, "must be between 1 and 5"),
}


class DataContractError(EnsembleError, ValueError):
    """The patient file breaks the data contract.

    Attributes
    ----------
    source : str
        The file (or description of the DataFrame) that was checked.
    violations : list of Violation
        Each broken rule with its columns, row count and example patient ids.
    """

    def __init__(self, source: str, violations: Sequence["Violation"], hint: str = "") -> None:
        self.source = str(source)
        self.violations = list(violations)
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        rows = sum(v.count for v in self.violations)
        lines = [
            f"{self.source} breaks the EN-SEMBLE data contract: "
            f"{len(self.violations)} rule(s) broken, {rows} row(s) affected "
            "(see docs/data_contract.md)."
        ]
        lines += [f"  - {v}" for v in self.violations]
        if self.hint:
            lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Violation:
    """One broken rule: which rule, which columns, how many rows, which patients."""

    rule: str
    columns: tuple[str, ...]
    count: int
    examples: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        cols = ", ".join(self.columns) if self.columns else "-"
        text = f"column(s) {cols}: {self.rule}"
        if self.count:
            text += f" — {self.count} row(s)"
        if self.examples:
            more = ", ..." if self.count > len(self.examples) else ""
            text += f", e.g. {', '.join(self.examples)}{more}"
        return text


# ----------------------------------------------------------------------------------------------
# reading


def read_table(path: str | Path, data_sheet: str | int | None = None) -> tuple[pa.Table, str, bool]:
    """Read a patient file of any supported format without interpreting values.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.csv.gz``, ``.parquet``, ``.xlsx``, ``.sas7bdat`` or ``.xpt``.
    data_sheet : str or int, optional
        The sheet of an ``.xlsx`` workbook (default: the first).

    Returns
    -------
    (pyarrow.Table, str, bool)
        The raw table, its format, and whether its columns carry stored types (Parquet) rather
        than text (every other format). From Parquet, the text columns of
        :data:`FEW_VALUES_COLUMNS` come dictionary-encoded.

    Raises
    ------
    DataContractError
        When the file is missing, empty, of another format than its name says, not UTF-8, or not
        a readable table (ragged rows and unbalanced quotes with their line numbers).
    """
    path = Path(path)
    src = str(path)
    if not path.exists():
        raise DataContractError(src, [Violation("file does not exist", (), 0)])
    try:
        raw = read_raw(path, data_sheet=data_sheet, dictionary_columns=FEW_VALUES_COLUMNS)
    except ReadProblem as exc:
        raise DataContractError(src, [Violation(exc.rule, (), exc.count, exc.lines)], hint=exc.hint) from exc
    except OSError as exc:
        raise DataContractError(src, [Violation(f"file cannot be read ({exc.strerror})", (), 0)]) from exc
    return raw.table, raw.fmt, raw.typed


def load_patients(
    path: str | Path,
    use_cache: bool = True,
    *,
    data_sheet: str | int | None = None,
    date_window: tuple[Any, Any] | None = None,
) -> pd.DataFrame:
    """Read, validate and type a patient file of the data contract.

    Parameters
    ----------
    path : str or Path
        CSV (UTF-8, comma-separated, dates ``YYYY-MM-DD``, empty cell = missing), ``.csv.gz``,
        Parquet, Excel ``.xlsx`` or SAS (``.sas7bdat``, ``.xpt``): see ``docs/data_contract.md``.
    use_cache : bool
        Reuse the validated table of an unchanged file (:mod:`ensemble_helpers.cache`: a folder
        ``.ensemble-cache`` beside the file; ``ENSEMBLE_CACHE_DIR=off`` turns it off). A file
        that breaks the contract is validated, and reported, every time.
    data_sheet : str or int, optional
        The sheet of an Excel workbook to read (name or 0-based position; default the first).
    date_window : (earliest, latest), optional
        Plausible window of every date (inclusive; ``YYYY-MM-DD`` text or dates; ``None`` for a
        bound keeps its default). Default: 2019-01-01 (:data:`DEFAULT_EARLIEST_DATE`) to today.

    Returns
    -------
    DataFrame
        One row per patient: dates as ``datetime64[ns]``, categories as categoricals with the
        contract's levels, booleans as ``bool``, ``ecog``/``tdxd_ild_grade`` as ``Int64``,
        ``prior_lines`` as ``int64``, ``age`` as ``float64``, ids and text as ``object``. Extra
        columns are kept as read (text for CSV, Excel and SAS).

    Raises
    ------
    DataContractError
        Listing every broken rule (file, rule, columns, row count, up to 10 patient ids).

    Examples
    --------
    >>> patients = load_patients("data/ensemble_synthetic.csv")  # doctest: +SKIP
    >>> patients["next_class"].dtype  # doctest: +SKIP
    CategoricalDtype(categories=['anti_her2_antibody', ...], ordered=False, ...)
    """
    from ensemble_helpers import columns, readers
    from ensemble_helpers.cache import cached_frame

    window = _date_window(date_window)

    def build() -> pd.DataFrame:
        table, _, typed = read_table(path, data_sheet=data_sheet)
        return _validate(table, str(path), strict=typed, window=window, owned=True)

    if not use_cache or not Path(path).is_file():
        return build()  # (a missing file is reported by read_table)
    # an unchanged file that passed validation once is not validated again (see cache.py);
    # the latest date is not part of the key: a file valid up to today stays valid later
    explicit = "" if date_window is None else f"{window[0]}..{date_window[1]}"
    extra = f"sheet={data_sheet!r};earliest={window[0]};window={explicit}"
    code = [Path(m.__file__) for m in (readers, columns, arrowscan)]  # the code that reads and checks
    return cached_frame(path, [Path(__file__), *code], build, extra=extra)


def validate_patients(
    df: pd.DataFrame,
    source: str = "<DataFrame>",
    strict_types: bool = False,
    date_window: tuple[Any, Any] | None = None,
) -> pd.DataFrame:
    """Check a patient table against the contract and return it with the contract's types.

    Parameters
    ----------
    df : DataFrame
        Raw text columns (as read from CSV) or already typed columns.
    source : str
        Named in the error message (the file path).
    strict_types : bool
        When True (Parquet), a column stored with the wrong physical type (e.g. dates as
        numbers or text, ``age`` as text) is a violation rather than parsed.
    date_window : (earliest, latest), optional
        As for :func:`load_patients`.

    Returns
    -------
    DataFrame
        A typed copy; the input is not modified.

    Raises
    ------
    DataContractError
        On any violation.
    """
    return _validate(_frame_to_arrow(df), source, strict=strict_types, window=_date_window(date_window))


# ----------------------------------------------------------------------------------------------
# steps


def _date_window(window: tuple[Any, Any] | None) -> tuple[dt.date, dt.date]:
    earliest, latest = window if window is not None else (None, None)

    def as_date(value: Any, default: dt.date) -> dt.date:
        if value is None:
            return default
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value))

    lo, hi = as_date(earliest, DEFAULT_EARLIEST_DATE), as_date(latest, dt.date.today())
    if not (dt.date(1700, 1, 1) <= lo <= hi <= dt.date(2200, 12, 31)):
        raise ValueError(f"date_window must run forwards within 1700-01-01..2200-12-31 (got {lo}..{hi})")
    return lo, hi


def _frame_to_arrow(df: pd.DataFrame) -> pa.Table:
    """A DataFrame as an Arrow table, column by column; mixed object columns become text."""
    arrays, names = [], []
    for i in range(df.shape[1]):
        s = df.iloc[:, i]
        try:
            arr = pa.array(s, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            arr = pa.array([cell_text(v) for v in s.tolist()], type=pa.string())
        arrays.append(arr)
        names.append(str(df.columns[i]) if not isinstance(df.columns[i], str) else df.columns[i])
    return pa.Table.from_arrays(arrays, names=names)


def _check_names(names: Sequence[str], source: str) -> None:
    """Column names: none blank, none padded with spaces, none repeated; every required one."""
    violations = []
    blank = [f"column {i + 1}" for i, n in enumerate(names) if n is None or not str(n).strip()]
    if blank:
        violations.append(Violation("blank column name (every column needs a name)", tuple(blank), 0))
    padded = [repr(n) for n in names if n and str(n).strip() and str(n) != str(n).strip()]
    if padded:
        violations.append(
            Violation("column name has leading or trailing whitespace", tuple(padded), 0)
        )
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    repeated = [n for n, k in counts.items() if k > 1 and str(n).strip()]
    if repeated:
        violations.append(Violation("duplicate column name (each column once)", tuple(repeated), 0))
    present = [str(n) for n in names]
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    extra = [c for c in present if c not in REQUIRED_COLUMNS]
    for col in missing:
        close = difflib.get_close_matches(col, [e.strip() for e in extra], n=1, cutoff=0.75)
        suggestion = f" (found {close[0]!r}: misspelt?)" if close else ""
        violations.append(Violation(f"required column is missing{suggestion}", (col,), 0))
    if not violations:
        return
    hint = ""
    if len(present) == 1 and any(sep in present[0] for sep in (";", "\t", "|")):
        sep = next(s for s in (";", "\t", "|") if s in present[0])
        hint = f"the header looks {sep!r}-delimited; the contract needs comma-separated CSV."
    raise DataContractError(source, violations, hint=hint)


class _Labels:
    """Example labels for messages: the patient_id with its row number (``PT-0042 (row 6)``), or
    the row number alone when the id is missing. Row ``n`` is the ``n``-th data row (line
    ``n + 1`` of a CSV file with a header); a published copy of the message keeps the row number
    and loses the id (:func:`ensemble_helpers.disclosure.scrub_text`)."""

    def __init__(self, pid: np.ndarray) -> None:
        self._pid = pid

    def at(self, positions: np.ndarray, quote: bool = False) -> list[str]:
        """Labels of the rows at 0-based ``positions`` (``quote``: the id as ``repr``)."""
        out = []
        for i in positions:
            value = self._pid[int(i)]
            if pd.isna(value):
                out.append(f"row {int(i) + 1}")
            else:
                out.append(f"{value!r} (row {int(i) + 1})" if quote else f"{value} (row {int(i) + 1})")
        return out


def _violation(
    rule: str, columns: Iterable[str], mask: np.ndarray, ids: _Labels, quote: bool = False
) -> Violation:
    idx = np.flatnonzero(mask)
    examples = list(dict.fromkeys(ids.at(idx[: MAX_EXAMPLES * 2], quote)))[:MAX_EXAMPLES]
    return Violation(rule, tuple(columns), int(idx.size), tuple(examples))


def _bool_columns(names: Iterable[str]) -> tuple[str, ...]:
    """The boolean columns of the contract present (optional ones only when there)."""
    names = set(names)
    return BOOL_COLUMNS + tuple(c for c in OPTIONAL_BOOL_COLUMNS if c in names)


def _categories(names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The categorical columns of the contract present, with their levels."""
    names = set(names)
    return {**CATEGORIES, **{c: lv for c, lv in OPTIONAL_CATEGORIES.items() if c in names}}


def _text_problems(
    col: str, text: Any, distinct: Any, ids: _Labels, is_id: bool, suspect: bool | None = None
) -> list[Violation]:
    """Control characters in any text; for ids also blank and padded values (``distinct``:
    the distinct non-missing values of ``text``, checked instead of every row; ``suspect``:
    :func:`ensemble_helpers.arrowscan.suspect_text` of ``distinct`` when already known)."""
    out: list[Violation] = []
    if suspect is None:
        suspect = arrowscan.suspect_text(distinct, edges=is_id)
    if not suspect:  # a scan of the bytes clears most columns
        return out
    if not has_any(pc.match_substring_regex(distinct, ID_TROUBLE if is_id else CONTROL)):
        return out
    text = as_string(text)

    def rows(pattern: str) -> np.ndarray:
        hits = pc.filter(distinct, pc.match_substring_regex(distinct, pattern))
        return mask_array(pc.is_in(text, value_set=hits))

    control = rows(CONTROL)
    if control.any():
        out.append(_violation(
            "control character (NUL, tab, line break or other) inside a text value", (col,), control, ids
        ))
    if is_id:
        blank = rows(r"^\s*$")
        if blank.any():
            out.append(_violation("id is empty or only whitespace", (col,), blank, ids, quote=True))
        padded = rows(r"^\s|\s$") & ~blank
        if padded.any():
            out.append(_violation("id has leading or trailing whitespace", (col,), padded, ids, quote=True))
    return out


def _validate(
    table: pa.Table, source: str, strict: bool, window: tuple[dt.date, dt.date], owned: bool = False
) -> pd.DataFrame:
    """Every column and row rule on an Arrow table; the typed DataFrame or one error. ``owned``:
    the table was read from a file for this call alone (its buffers may become the columns)."""
    names = list(table.column_names)
    _check_names(names, source)
    n = table.num_rows
    if n == 0:
        raise DataContractError(source, [Violation("file has a header but no patient rows", (), 0)])
    cols = {name: table.column(i) for i, name in enumerate(names)}
    out: dict[str, Any] = {}
    violations: list[Violation] = []
    stored: list[Violation] = []
    missing: dict[str, Any] = {}

    def bad_values(rule: str, col: str, mask: Any) -> None:
        if mask is not None and has_any(mask):
            violations.append(_violation(rule, (col,), mask_array(mask), ids))

    # the column checks run in NumPy and Arrow, which release the GIL: two threads run them while
    # the ids become Python strings (which holds the GIL); their results are reported below in
    # the contract's order, as if run one after the other
    pid = as_string(cols["patient_id"])
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        unique_ids = pool.submit(distinct_ids, pid)
        suspect_ids = pool.submit(arrowscan.suspect_text, pid, edges=True)
        texts = {col: pool.submit(text_column, cols[col]) for col in ID_COLUMNS + TEXT_COLUMNS if col != "patient_id"}
        jobs = {col: pool.submit(check_date, cols[col], strict, window) for col in DATE_COLUMNS}
        jobs |= {col: pool.submit(
            check_number, cols[col], strict, RANGES.get(col, (None, None, "")), col in INT_COLUMNS,
            col in NULLABLE_COLUMNS) for col in FLOAT_COLUMNS + INT_COLUMNS}
        jobs |= {col: pool.submit(check_boolean, cols[col], strict) for col in _bool_columns(names)}
        jobs |= {col: pool.submit(check_category, cols[col], levels) for col, levels in _categories(names).items()}

        # ids first: they label every other message
        pid_obj = objects(pid, pid)
        ids = _Labels(pid_obj)
        for col in ID_COLUMNS + TEXT_COLUMNS:
            if col == "patient_id":  # (nearly) all distinct: check every row
                out[col], missing[col] = pid_obj, missing_mask(pid)
                violations += _text_problems(col, pid, pid, ids, is_id=True, suspect=suspect_ids.result())
                continue
            text, distinct, out[col], missing[col] = texts[col].result()
            violations += _text_problems(col, text, distinct, ids, is_id=col in ID_COLUMNS)

        for col, job in jobs.items():
            checked = job.result()
            if checked.wrong:
                stored.append(Violation(checked.wrong, (col,), 0))
                continue
            out[col], missing[col] = checked.values, checked.missing
            for rule, mask in checked.problems:
                bad_values(rule, col, mask)
        if stored:
            raise DataContractError(source, stored)
        # the row rules, in the threads too; their violations come last
        rules = _rules()
        dates = _Dates({col: out[col] for col in DATE_COLUMNS})
        list(pool.map(dates.known, DATE_COLUMNS))
        hit = list(pool.map(lambda rule: bool(rule[2](dates).any()), rules))

    for col in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
        if col in missing and col not in NULLABLE_COLUMNS:
            # a blank yes/no or date is unknown, never False or a default
            bad_values("missing value in a required column", col, missing[col])
    if not unique_ids.result():
        dup = pd.Series(pid_obj).duplicated(keep=False).to_numpy()
        if missing["patient_id"] is not None:
            dup &= ~mask_array(missing["patient_id"])
        violations.append(_violation("duplicate values (patient_id must be unique)", ("patient_id",), dup, ids))

    # extra columns: kept as read (text checked for control characters)
    for name in names:
        if name in out:
            continue
        arr = cols[name]
        if is_text(arr.type):
            text = arr.cast(pa.string())
            values = pc.unique(text).drop_null()
            violations += _text_problems(name, text, values, ids, is_id=False)
            out[name] = objects(text, values)
        else:
            try:
                out[name] = arr.to_pandas()
            except (pa.ArrowInvalid, ValueError, OverflowError) as exc:
                violations.append(Violation(f"extra column cannot be read ({exc})", (name,), 0))

    for (text, cols_, broken), found in zip(rules, hit):  # unreadable dates are NaT here: they pass
        if found:
            violations.append(_violation(text, cols_, broken(dates), ids))
    if violations:
        raise DataContractError(source, violations)
    typed = pd.DataFrame({name: _writable(out[name], cols[name], owned) for name in names if name in out},
                         copy=False)
    for col in INT_COLUMNS:
        if col not in NULLABLE_COLUMNS and typed[col].dtype != np.int64:  # complete: plain integers
            typed[col] = typed[col].astype("int64")
    return typed


def _writable(values: Any, column: Any, owned: bool) -> Any:
    """``values`` writable: a loaded table accepts new values (``df.loc[row, col] = value``) as a
    cached one does. A read-only view that the fast paths lend of an Arrow buffer becomes a
    writable view of that buffer when the table is ``owned`` (read from a file for this load; no
    copy), and a copy otherwise (a table of a caller's DataFrame may share its memory)."""
    array = values.values if isinstance(values, pd.Series) else values  # (extra columns: to_pandas)
    if not isinstance(array, np.ndarray) or array.flags.writeable:
        return values
    view = _buffer_view(values, column) if owned and isinstance(values, np.ndarray) else None
    return view if view is not None else values.copy()


def _buffer_view(values: np.ndarray, column: Any) -> np.ndarray | None:
    """A writable view of the mutable Arrow buffer whose values ``values`` are (one chunk, no
    missing value, the same memory), or None."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if len(chunks) != 1 or chunks[0].null_count or values.ndim != 1 or not values.flags.c_contiguous:
        return None
    chunk = chunks[0]
    buffers = chunk.buffers()
    if len(buffers) != 2 or buffers[1] is None or not buffers[1].is_mutable:
        return None
    offset = chunk.offset * values.itemsize
    if values.ctypes.data != buffers[1].address + offset or offset + values.nbytes > buffers[1].size:
        return None
    view = np.frombuffer(buffers[1], dtype=values.dtype, count=len(values), offset=offset)
    return view if view.flags.writeable else None


class _Dates:
    """The date columns (``datetime64[ns]``, at midnight) as int64 nanoseconds, for row rules of
    one comparison each: ``later < earlier`` where ``later`` is known (a missing date, NaT, is the
    smallest int64, so an unknown ``earlier`` never makes a row break a rule)."""

    def __init__(self, values: dict[str, np.ndarray]) -> None:
        self._ns = {col: v.view("i8") for col, v in values.items()}
        self._known: dict[str, np.ndarray | None] = {}

    def ns(self, col: str) -> np.ndarray:
        return self._ns[col]

    def known(self, col: str) -> np.ndarray | None:
        """Where the date is known; None when it is known in every row."""
        if col not in self._known:
            nat = self._ns[col] == np.iinfo(np.int64).min
            self._known[col] = ~nat if nat.any() else None
        return self._known[col]

    def before(self, later: str, earlier: str) -> np.ndarray:
        """Rows where ``later`` is known and comes before ``earlier``."""
        return _where_known(self.ns(later) < self.ns(earlier), self.known(later))


def _where_known(broken: np.ndarray, known: np.ndarray | None) -> np.ndarray:
    return broken if known is None else broken & known


def _rules() -> list[tuple[str, tuple[str, ...], Callable[[_Dates], np.ndarray]]]:
    """The row rules: (description, columns, function(dates) -> boolean array of *broken* rows).
    A rule on a missing date holds (nothing to compare)."""

    def ge(later: str, earlier: str):
        def broken(d: _Dates) -> np.ndarray:
            return d.before(later, earlier)

        return broken

    rules = [
        ("tdxd_end must be on or after tdxd_start", ("tdxd_start", "tdxd_end"), ge("tdxd_end", "tdxd_start")),
        ("next_start must be on or after tdxd_end", ("tdxd_end", "next_start"), ge("next_start", "tdxd_end")),
    ]
    for col in EVENT_DATES + ("death_date", "last_followup"):
        rules.append((f"{col} must be on or after next_start", (col, "next_start"), ge(col, "next_start")))
    rules.append(
        ("death_date must be on or after progression_date", ("progression_date", "death_date"),
         ge("death_date", "progression_date"))
    )
    for col in ("next_end", "second_next_start", "ild_recurrence_date"):
        rules.append((f"{col} is after death_date (no event after death)", (col, "death_date"), ge("death_date", col)))
    for col in EVENT_DATES + ("death_date",):
        rules.append(
            (f"last_followup must be on or after {col}", (col, "last_followup"), ge("last_followup", col))
        )
    rules.append(
        (
            "last_followup must equal death_date for a patient who died",
            ("death_date", "last_followup"),
            lambda d: _where_known(d.ns("last_followup") != d.ns("death_date"), d.known("death_date")),
        )
    )
    return rules
