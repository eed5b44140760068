"""The data contract: read one row per patient, check every rule, return typed columns.

The contract is written out for people in ``docs/data_contract.md``; this module is its
executable form. :func:`load_patients` reads CSV or Parquet, converts text to the contract's
types *strictly* (a value that cannot be read is a violation, never silently set to missing),
runs the row rules with pandera, and raises one :class:`DataContractError` listing every broken
rule with the column(s), the number of rows affected and up to 10 example ``patient_id`` values.

Examples
--------
>>> from ensemble_helpers.schema import load_patients  # doctest: +SKIP
>>> patients = load_patients("data/ensemble_synthetic.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ensemble_helpers.exceptions import EnsembleError

if TYPE_CHECKING:
    import pandera.pandas as pa

logger = logging.getLogger(__name__)

#: How many example patient ids an error message lists per rule.
MAX_EXAMPLES = 10

ID_COLUMNS = ("patient_id", "site_id")
TEXT_COLUMNS = ("next_regimen",)
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
# accepted spellings of booleans in CSV text (no other value is read as a boolean)
_TRUE = frozenset(v for w in ("true", "1", "yes") for v in (w, w.upper(), w.title()))
_FALSE = frozenset(v for w in ("false", "0", "no") for v in (w, w.upper(), w.title()))


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


def read_table(path: str | Path) -> tuple[pd.DataFrame, str]:
    """Read a CSV or Parquet file without interpreting values.

    CSV cells are read as text (empty cell = missing) so that conversion to the contract's
    types can report every unreadable value; Parquet keeps its stored types.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` or ``.parquet`` / ``.pq`` file.

    Returns
    -------
    (DataFrame, str)
        The raw table and its format (``"csv"`` or ``"parquet"``).

    Raises
    ------
    DataContractError
        When the file is missing, empty, not UTF-8 text or not a readable table.
    """
    path = Path(path)
    src = str(path)
    if not path.exists():
        raise DataContractError(src, [Violation("file does not exist", (), 0)])
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        try:
            return pd.read_parquet(path), "parquet"
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise DataContractError(
                src, [Violation(f"not a readable Parquet file ({exc})", (), 0)]
            ) from exc
    if suffix not in {".csv", ".txt"}:
        raise DataContractError(
            src, [Violation(f"unsupported file type {suffix!r}: use .csv or .parquet", (), 0)]
        )
    if path.stat().st_size == 0:
        raise DataContractError(src, [Violation("file is empty (no header, no rows)", (), 0)])
    try:
        raw = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8",
            skipinitialspace=False,
        )
    except UnicodeDecodeError as exc:
        raise DataContractError(
            src,
            [Violation(f"file is not UTF-8 text ({exc.reason} at byte {exc.start})", (), 0)],
            hint="re-save the file as UTF-8 (e.g. 'Save as CSV UTF-8' in Excel).",
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataContractError(src, [Violation("file is empty (no header, no rows)", (), 0)]) from exc
    except pd.errors.ParserError as exc:
        raise DataContractError(src, [Violation(f"not a readable CSV file ({exc})", (), 0)]) from exc
    return raw, "csv"


def load_patients(path: str | Path, use_cache: bool = True) -> pd.DataFrame:
    """Read, validate and type a patient file of the data contract.

    Parameters
    ----------
    path : str or Path
        CSV (UTF-8, comma-separated, dates ``YYYY-MM-DD``, empty cell = missing) or Parquet.
    use_cache : bool
        Reuse the validated table of an unchanged file (:mod:`ensemble_helpers.cache`: a folder
        ``.ensemble-cache`` beside the file; ``ENSEMBLE_CACHE_DIR=off`` turns it off). A file
        that breaks the contract is validated, and reported, every time.

    Returns
    -------
    DataFrame
        One row per patient: dates as ``datetime64[ns]``, categories as categoricals with the
        contract's levels, booleans as ``bool``, ``ecog``/``tdxd_ild_grade`` as ``Int64``,
        ``prior_lines`` as ``int64``. Extra columns are kept as read.

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
    from ensemble_helpers.cache import cached_frame

    def build() -> pd.DataFrame:
        raw, fmt = read_table(path)
        return validate_patients(raw, source=str(path), strict_types=(fmt == "parquet"))

    if not use_cache or not Path(path).is_file():
        return build()  # (a missing file is reported by read_table)
    # an unchanged file that passed validation once is not validated again (see cache.py)
    return cached_frame(path, Path(__file__), build)


def validate_patients(
    df: pd.DataFrame, source: str = "<DataFrame>", strict_types: bool = False
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
        numbers, ``age`` as text) is a violation rather than parsed.

    Returns
    -------
    DataFrame
        A typed copy; the input is not modified.

    Raises
    ------
    DataContractError
        On any violation.
    """
    if df.shape[0] == 0:
        raise DataContractError(source, [Violation("file has a header but no patient rows", (), 0)])
    _check_columns(df, source)
    ids = _id_labels(df)
    violations: list[Violation] = []
    if strict_types:
        violations += _check_stored_types(df)
        if violations:
            raise DataContractError(source, violations)
    typed, parse_violations = _convert(df, ids)
    violations += parse_violations
    violations += _check_rules(typed, ids, skip=_unparsed_columns(parse_violations))
    if violations:
        raise DataContractError(source, violations)
    typed["prior_lines"] = typed["prior_lines"].astype("int64")
    return typed


# ----------------------------------------------------------------------------------------------
# steps


def _check_columns(df: pd.DataFrame, source: str) -> None:
    present = [str(c) for c in df.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if not missing:
        return
    violations = []
    extra = [c for c in present if c not in REQUIRED_COLUMNS]
    for col in missing:
        close = difflib.get_close_matches(col, extra, n=1, cutoff=0.75)
        suggestion = f" (found {close[0]!r}: misspelt?)" if close else ""
        violations.append(Violation(f"required column is missing{suggestion}", (col,), 0))
    hint = ""
    if len(present) == 1 and any(sep in present[0] for sep in (";", "\t", "|")):
        sep = next(s for s in (";", "\t", "|") if s in present[0])
        hint = f"the header looks {sep!r}-delimited; the contract needs comma-separated CSV."
    raise DataContractError(source, violations, hint=hint)


def _id_labels(df: pd.DataFrame) -> np.ndarray:
    """Labels used in messages: the patient_id, or the row number when it is missing."""
    pid = df["patient_id"]
    rows = np.array([f"row {i + 1}" for i in range(len(df))]) if pid.isna().any() else None
    labels = pid.astype(str).to_numpy(dtype=object)
    if rows is not None:
        labels = np.where(pid.isna().to_numpy(), rows, labels)
    return labels


def _violation(rule: str, columns: Iterable[str], mask: np.ndarray, ids: np.ndarray) -> Violation:
    idx = np.flatnonzero(mask)
    examples = list(dict.fromkeys(ids[idx[: MAX_EXAMPLES * 2]]))[:MAX_EXAMPLES]
    return Violation(rule, tuple(columns), int(idx.size), tuple(examples))


def _check_stored_types(df: pd.DataFrame) -> list[Violation]:
    """Parquet columns must already have the contract's physical types."""
    out = []
    for col in DATE_COLUMNS:
        s = df[col]
        if not (pd.api.types.is_datetime64_any_dtype(s) or s.isna().all() or _is_date_objects(s)):
            out.append(Violation(f"stored as {s.dtype}, expected a date/timestamp type", (col,), 0))
    for col in FLOAT_COLUMNS + INT_COLUMNS:
        s = df[col]
        if not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)) and not s.isna().all():
            out.append(Violation(f"stored as {s.dtype}, expected a numeric type", (col,), 0))
    for col in _bool_columns(df):
        s = df[col]
        if not pd.api.types.is_bool_dtype(s):
            out.append(Violation(f"stored as {s.dtype}, expected boolean", (col,), 0))
    return out


def _bool_columns(df: pd.DataFrame) -> tuple[str, ...]:
    """The boolean columns of the contract present in ``df`` (optional ones only when there)."""
    return BOOL_COLUMNS + tuple(c for c in OPTIONAL_BOOL_COLUMNS if c in df.columns)


def _categories(df: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """The categorical columns of the contract present in ``df`` with their levels."""
    extra = {c: lv for c, lv in OPTIONAL_CATEGORIES.items() if c in df.columns}
    return {**CATEGORIES, **extra}


def _is_date_objects(s: pd.Series) -> bool:
    import datetime as _dt

    first = s.dropna()
    return len(first) > 0 and isinstance(first.iloc[0], _dt.date)


def _convert(df: pd.DataFrame, ids: np.ndarray) -> tuple[pd.DataFrame, list[Violation]]:
    out = df.copy()
    violations: list[Violation] = []
    for col in ID_COLUMNS + TEXT_COLUMNS:
        out[col] = _as_text(df[col])
    for col in DATE_COLUMNS:
        out[col], bad = _to_date(df[col])
        if bad.any():
            violations.append(_violation("not a valid date in YYYY-MM-DD format", (col,), bad, ids))
    for col in FLOAT_COLUMNS + INT_COLUMNS:
        values, bad = _to_number(df[col])
        if bad.any():
            violations.append(_violation("not a number", (col,), bad, ids))
            out[col] = values
            continue
        if col in INT_COLUMNS:
            frac = values.notna().to_numpy() & (values.fillna(0) % 1 != 0).to_numpy()
            if frac.any():
                violations.append(_violation("not a whole number", (col,), frac, ids))
                out[col] = values
                continue
            values = values.round().astype("Int64")
        out[col] = values
    for col in _bool_columns(df):
        out[col], bad = _to_bool(df[col])
        if bad.any():
            violations.append(
                _violation("not a boolean (use true/false or 1/0)", (col,), bad, ids)
            )
        missing = df[col].isna().to_numpy(dtype=bool)
        if missing.any():  # a blank yes/no is unknown, never False
            violations.append(_violation("missing value in a required column", (col,), missing, ids))
    for col, levels in _categories(df).items():
        text = _as_text(df[col])
        bad = (text.notna() & ~text.isin(levels)).to_numpy()
        if bad.any():
            seen = sorted(set(text[bad].astype(str)))[:5]
            violations.append(
                _violation(
                    f"value not allowed (found {', '.join(map(repr, seen))}; "
                    f"allowed: {', '.join(levels)})",
                    (col,),
                    bad,
                    ids,
                )
            )
            text = text.where(~bad)
        out[col] = pd.Categorical(text, categories=list(levels))
    return out, violations


def _as_text(s: pd.Series) -> pd.Series:
    """Values as read, as text: no stripping or case change (a stray space is a violation)."""
    if s.dtype == object or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype)):
        return s
    return s.astype(str).where(s.notna())


def _to_date(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_datetime64_any_dtype(s):
        values = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        values = values.astype("datetime64[ns]")
        # a date has no time of day: anything else is a violation, not rounded away
        bad = (values.notna() & (values != values.dt.normalize())).to_numpy()
        return values, bad
    if s.dtype == object and _is_date_objects(s):
        values = pd.to_datetime(s, errors="coerce").astype("datetime64[ns]")
        return values, (s.notna() & values.isna()).to_numpy()
    text = _as_text(s)
    values = pd.to_datetime(text, format=DATE_FORMAT, errors="coerce").astype("datetime64[ns]")
    return values, (text.notna() & values.isna()).to_numpy()


def _to_number(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float), np.ones(len(s), dtype=bool)
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("Float64").astype(float), np.zeros(len(s), dtype=bool)
    text = _as_text(s)
    values = pd.to_numeric(text, errors="coerce")
    return values.astype(float), (text.notna() & values.isna()).to_numpy()


def _to_bool(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.astype(bool), np.zeros(len(s), dtype=bool)
    if s.dtype == object:  # Python booleans mixed with missing values
        s = s.map({True: "true", False: "false"}).fillna(s)
    text = _as_text(s)
    true, false = text.isin(_TRUE), text.isin(_FALSE)
    bad = (s.notna() & ~(true | false)).to_numpy()
    # missing booleans are reported by the not-null rule; keep them False only in this
    # intermediate frame, which is never returned when any violation exists.
    return true.to_numpy(dtype=bool), bad


def _unparsed_columns(violations: Sequence[Violation]) -> set[str]:
    return {c for v in violations for c in v.columns}


def _rules() -> list[tuple[str, tuple[str, ...], Callable[[pd.DataFrame], pd.Series]]]:
    """The row rules: (description, columns, function(df) -> boolean Series of *valid* rows)."""

    def ge(later: str, earlier: str):
        return lambda d: d[later].isna() | d[earlier].isna() | (d[later] >= d[earlier])

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
            lambda d: d["death_date"].isna() | (d["last_followup"] == d["death_date"]),
        )
    )
    return rules


def _schema(skip: set[str], present: pd.DataFrame) -> pa.DataFrameSchema:
    import pandera.pandas as pa  # here, not at the top: a cached table needs no pandera (~0.3 s)

    columns: dict[str, pa.Column] = {}

    def add(col: str, checks: list[pa.Check]) -> None:
        # a value that could not be read is already reported; it must not count as missing too
        columns[col] = pa.Column(
            nullable=col in NULLABLE_COLUMNS or col in skip,
            checks=checks,
            unique=(col == "patient_id"),
            coerce=False,
        )

    add("patient_id", [])
    add("site_id", [])
    add("next_regimen", [])
    add("age", [pa.Check.in_range(18, 110, error="must be between 18 and 110 years")])
    add("ecog", [pa.Check.in_range(0, 4, error="must be between 0 and 4")])
    add("prior_lines", [pa.Check.ge(0, error="must be 0 or more")])
    add("tdxd_ild_grade", [pa.Check.in_range(1, 5, error="must be between 1 and 5")])
    for col in DATE_COLUMNS + _bool_columns(present) + tuple(_categories(present)):
        add(col, [])
    return pa.DataFrameSchema(columns, strict=False)


def _check_rules(df: pd.DataFrame, ids: np.ndarray, skip: set[str]) -> list[Violation]:
    """Column checks with pandera (lazy: every failure collected), then the date-order rules.

    The cross-column rules are plain vectorised comparisons rather than pandera dataframe
    checks, because pandera reports those per column and loses which rule failed.
    """
    from pandera.errors import SchemaErrors

    out: list[Violation] = []
    try:
        _schema(skip, df).validate(df, lazy=True)
    except SchemaErrors as err:
        out += _translate(err.failure_cases, df, ids)
    for text, cols, fn in _rules():  # unreadable values are NaN/NaT here and pass
        bad = ~fn(df).to_numpy(dtype=bool)
        if bad.any():
            out.append(_violation(text, cols, bad, ids))
    return out


def _translate(fc: pd.DataFrame, df: pd.DataFrame, ids: np.ndarray) -> list[Violation]:
    out: list[Violation] = []
    for (column, check), grp in fc.groupby(["column", "check"], sort=False, dropna=False):
        index = pd.to_numeric(grp["index"], errors="coerce").dropna().astype(int).unique()
        mask = np.zeros(len(df), dtype=bool)
        mask[df.index.get_indexer(index)] = True
        out.append(_violation(_check_text(str(check), str(column)), (str(column),), mask, ids))
    return out


def _check_text(check: str, column: str) -> str:
    if check == "not_nullable":
        return "missing value in a required column"
    if check == "field_uniqueness":
        return "duplicate values (patient_id must be unique)"
    return check


