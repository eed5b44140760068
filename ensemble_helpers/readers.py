"""Read a patient file of any supported format into an Arrow table, without interpreting values.

The format is chosen by the file name's extension and then checked against the file's first
bytes, so that a workbook or a gzip file named ``.csv`` is named as what it is rather than
reported as "not UTF-8". Each format goes through one well-kept reader:

============  =======================  ===================================================
extension     reader                   what the contract receives
============  =======================  ===================================================
``.csv``      ``pyarrow.csv``          every cell as text (empty cell = missing)
``.csv.gz``   ``pyarrow.csv`` (gzip)   as ``.csv``
``.parquet``  ``pyarrow.parquet``      the stored types (checked by the contract)
``.xlsx``     ``openpyxl``             every cell as text (see :func:`cell_text`)
``.sas7bdat`` ``pyreadstat``           every value as text; SAS dates/datetimes -> dates
``.xpt``      ``pyreadstat``           as ``.sas7bdat`` (SAS transport v5/v8)
============  =======================  ===================================================

Text from Excel and SAS is written in the same canonical spelling the CSV contract accepts
(:func:`cell_text`), so every format meets the same rules and the same error messages.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import pyarrow as pa

from ensemble_helpers.exceptions import EnsembleError

__all__ = ["FORMATS", "RawTable", "ReadProblem", "cell_text", "format_of", "read_raw", "sniff"]

#: Extension (lower case) -> format name. ``.txt`` is read as CSV.
FORMATS: dict[str, str] = {
    ".csv.gz": "csv.gz",
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
    ".sas7bdat": "sas7bdat",
    ".xpt": "xpt",
}
#: What the first bytes of each format look like (the content ``sniff`` names).
_EXPECTED = {
    "csv": "text",
    "csv.gz": "gzip",
    "parquet": "Parquet",
    "xlsx": "zip",
    "sas7bdat": "sas7bdat",
    "xpt": "xpt",
}
_DESCRIBE = {
    "zip": "a ZIP archive (an Excel .xlsx workbook?)",
    "gzip": "gzip-compressed (name it .csv.gz)",
    "Parquet": "a Parquet file (name it .parquet)",
    "sas7bdat": "a SAS dataset (name it .sas7bdat)",
    "xpt": "a SAS transport file (name it .xpt)",
    "ole2": "an old-style Excel .xls / Office file (save it as .xlsx or CSV UTF-8)",
    "utf-16": "UTF-16 text (save it as CSV UTF-8)",
    "utf-32": "UTF-32 text (save it as CSV UTF-8)",
    "pdf": "a PDF document",
    "text": "text",
    "binary": "binary data",
}
_SAS7BDAT_MAGIC = bytes.fromhex("000000000000000000000000c2ea8160b31411cfbd92080009c7318c181f1011")
_XPT_MAGIC = b"HEADER RECORD*******LIB"  # LIBRARY (v5) or LIBV8 (v8)


class ReadProblem(EnsembleError):
    """A file that cannot be read as a table: ``rule`` is the message, ``lines`` the CSV lines."""

    def __init__(self, rule: str, lines: tuple[str, ...] = (), count: int = 0, hint: str = "") -> None:
        super().__init__(rule)
        self.rule, self.lines, self.count, self.hint = rule, lines, count, hint


@dataclass
class RawTable:
    """A table as read: ``typed`` is False when every column is text (CSV, Excel, SAS)."""

    table: pa.Table
    fmt: str
    typed: bool


def format_of(path: str | Path) -> str | None:
    """The format named by the file's extension, or ``None`` when it is not supported."""
    name = Path(path).name.lower()
    for ext, fmt in FORMATS.items():
        if name.endswith(ext):
            return fmt
    return None


def sniff(head: bytes) -> str:
    """Name the content of a file from its first bytes (a key of the descriptions above)."""
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"PAR1"):
        return "Parquet"
    if head.startswith(_SAS7BDAT_MAGIC):
        return "sas7bdat"
    if head.startswith(_XPT_MAGIC):
        return "xpt"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "ole2"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(b"\x00") * 3 >= len(sample):
        # every other byte NUL: UTF-16 without a byte-order mark
        return "utf-16"
    return "text"


def read_raw(
    path: str | Path, data_sheet: str | int | None = None, dictionary_columns: Sequence[str] = ()
) -> RawTable:
    """Read ``path`` by its extension after checking that its content is of that format.

    Parameters
    ----------
    path : str or Path
        The patient file.
    data_sheet : str or int, optional
        For ``.xlsx``: the sheet to read (name, or 0-based position); the first sheet by default.
    dictionary_columns : sequence of str
        For Parquet: text columns to read dictionary-encoded (each distinct value decoded once,
        as Parquet stores such columns), when the file has them once each. Other formats ignore it.

    Raises
    ------
    ReadProblem
        The file is of an unsupported type, its content is not what its name says, or it is not
        readable (with the line numbers of ragged rows or unbalanced quotes for CSV).
    """
    path = Path(path)
    fmt = format_of(path)
    if fmt is None:
        raise ReadProblem(
            f"unsupported file type {''.join(path.suffixes[-2:]) or path.name!r}: use "
            + ", ".join(sorted(set(FORMATS) - {".txt", ".pq"}))
        )
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head:
        raise ReadProblem("file is empty (no header, no rows)")
    content = sniff(head)
    if content != _EXPECTED[fmt]:
        raise ReadProblem(
            f"file is named {fmt.upper() if fmt != 'csv.gz' else '.csv.gz'} but its content is "
            f"{_DESCRIBE.get(content, content)}",
            hint="rename the file to match its content, or export it again in the named format.",
        )
    if data_sheet is not None and fmt != "xlsx":
        raise ReadProblem(f"data_sheet is set ({data_sheet!r}) but the file is {fmt}, not an Excel workbook")
    reader: Callable[..., RawTable] = {
        "csv": _read_csv,
        "csv.gz": _read_csv_gz,
        "parquet": _read_parquet,
        "xlsx": _read_xlsx,
        "sas7bdat": _read_sas,
        "xpt": _read_sas,
    }[fmt]
    if fmt == "xlsx":
        return reader(path, fmt, data_sheet)
    return reader(path, fmt, tuple(dictionary_columns)) if fmt == "parquet" else reader(path, fmt)


# ----------------------------------------------------------------------------------------------
# CSV


def _read_csv(path: Path, fmt: str) -> RawTable:
    table = _parse_csv_directly(path)
    if table is None:  # a problem: read again, the way that says what and where
        table = _parse_csv(path, open_text=lambda: open(path, "rb"))
    return RawTable(table, fmt, typed=False)


def _read_csv_gz(path: Path, fmt: str) -> RawTable:
    try:
        with gzip.open(path, "rb") as fh:
            inner = fh.read(8192)
    except (OSError, EOFError) as exc:
        raise ReadProblem(f"not a readable gzip file ({exc})") from exc
    content = sniff(inner)
    if not inner:
        raise ReadProblem("file is empty (no header, no rows)")
    if content != "text":
        raise ReadProblem(f"the gzip file holds {_DESCRIBE.get(content, content)}, not CSV text")
    return RawTable(_parse_csv(path, open_text=lambda: gzip.open(path, "rb")), fmt, typed=False)


def _csv_options(names: list[str], **parse: Any) -> dict[str, Any]:
    """pyarrow's CSV options of the contract: every column as text, an empty cell missing."""
    import pyarrow.csv as pcsv

    columns = [f"c{i}" for i in range(len(names))]
    return {
        "read_options": pcsv.ReadOptions(column_names=columns, skip_rows=1),
        "parse_options": pcsv.ParseOptions(newlines_in_values=False, **parse),
        "convert_options": pcsv.ConvertOptions(
            column_types={c: pa.string() for c in columns},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    }


def _parse_csv_directly(path: Path) -> pa.Table | None:
    """A plain CSV file read by pyarrow itself, which checks that every value is UTF-8 and every
    row as wide as the header; None at the first problem (then :func:`_parse_csv` reads the
    whole file into memory to say what it is and where)."""
    import pyarrow.csv as pcsv

    with open(path, "rb") as fh:
        first = fh.readline().removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
    try:
        names = next(csv.reader([first.decode("utf-8")])) if first.strip() else None
    except UnicodeDecodeError:
        return None
    if not names:
        return None
    try:
        table = pcsv.read_csv(str(path), **_csv_options(names))  # (pyarrow skips a byte-order mark)
    except pa.ArrowInvalid:
        return None
    return table.rename_columns(names)


def _parse_csv(path: Path, open_text: Callable[[], Any]) -> pa.Table:
    """Every column as text with pyarrow; ragged rows and bad quotes are found with line numbers."""
    import pyarrow.csv as pcsv

    try:
        with open_text() as fh:
            data = fh.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:  # a truncated or damaged .csv.gz
        raise ReadProblem(f"not a readable gzip file ({exc})") from exc
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    _check_utf8(data)
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    if not first.strip():
        raise ReadProblem("file is empty (no header, no rows)" if not data.strip() else "the first line (the header) is blank")
    names = next(csv.reader([first.decode("utf-8")]))
    invalid: list[int] = []

    def on_invalid(row: Any) -> str:
        invalid.append(1)
        return "skip"

    try:
        table = pcsv.read_csv(pa.py_buffer(data), **_csv_options(names, invalid_row_handler=on_invalid))
    except pa.ArrowInvalid as exc:
        _csv_structure(data, len(names))  # raises with line numbers when it finds the problem
        raise ReadProblem(f"not a readable CSV file ({exc})") from exc
    if invalid:
        _csv_structure(data, len(names))
        raise ReadProblem(f"{len(invalid)} row(s) do not have {len(names)} fields")
    return table.rename_columns(names)


def _check_utf8(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ReadProblem(
            f"file is not UTF-8 text ({exc.reason} at byte {exc.start}, line {line})",
            hint="re-save the file as UTF-8 (e.g. 'Save as CSV UTF-8' in Excel).",
        ) from exc


def _csv_structure(data: bytes, width: int) -> None:
    """Find ragged rows and unbalanced quotes with the standard library's parser (line numbers)."""
    text = io.StringIO(data.decode("utf-8"), newline="")
    reader = csv.reader(text, strict=True)
    ragged: list[str] = []
    spans: list[str] = []
    end = 0
    try:
        for record in reader:
            start, end = end + 1, reader.line_num
            if start == 1:
                continue  # the header
            if not record:
                continue
            if end > start:
                spans.append(f"lines {start}-{end}")
            elif len(record) != width:
                ragged.append(f"line {start}")
    except csv.Error as exc:
        raise ReadProblem(
            f"unbalanced quote: the quoted value opened at or after line {end + 1} is never closed ({exc})",
            lines=(f"line {end + 1}",),
            count=1,
        ) from exc
    if spans:
        raise ReadProblem(
            "a quoted value runs over several lines (an unbalanced quote, or a line break inside a "
            "value)", lines=tuple(spans[:10]), count=len(spans),
        )
    if ragged:
        raise ReadProblem(
            f"row has a different number of fields than the header ({width})",
            lines=tuple(ragged[:10]), count=len(ragged),
        )


# ----------------------------------------------------------------------------------------------
# Parquet


def _read_parquet(path: Path, fmt: str, dictionary_columns: tuple[str, ...] = ()) -> RawTable:
    import pyarrow.parquet as pq

    names: list[str] = []
    if dictionary_columns:
        try:
            names = pq.read_schema(path).names
        except Exception:  # a damaged file: read_table below says what is wrong
            pass
    # (pyarrow refuses a name the file holds twice: such a file is read as stored and the
    # contract reports the repeated name; a column that is not text is read as stored)
    dictionary = [c for c in dictionary_columns if names.count(c) == 1]
    try:  # one chunk per row group: columns without missing values convert without a copy
        with pq.ParquetFile(path, read_dictionary=dictionary or None) as parquet:
            table = parquet.read()
    except Exception:  # pyarrow raises several types for a damaged file: read_table names them
        try:
            table = pq.read_table(path, read_dictionary=dictionary or None)
        except Exception as exc:
            raise ReadProblem(f"not a readable Parquet file ({exc})") from exc
    return RawTable(table, fmt, typed=True)


# ----------------------------------------------------------------------------------------------
# Excel and SAS: values written as the contract's text


def cell_text(value: Any) -> str | None:
    """The canonical text of one Excel or SAS value (``None`` = missing).

    ``None``, an empty string and NaN (SAS missing, including ``.A``-``.Z``) are missing;
    ``True``/``False`` become ``true``/``false``; a whole float becomes an integer (``2.0`` ->
    ``2``), other floats their shortest exact repr; a date, or a datetime at midnight, becomes
    ``YYYY-MM-DD``; a datetime with a time of day keeps it (and is then not a valid date).
    Text is kept exactly as stored.
    """
    if value is None or value != value:  # None, NaN, NaT
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return repr(value)
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value.isoformat()
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _text_table(names: list[str], columns: list[list[Any]]) -> pa.Table:
    arrays = [pa.array([cell_text(v) for v in col], type=pa.string()) for col in columns]
    # names may repeat or be blank here: the contract reports them
    return pa.Table.from_arrays(arrays, names=names)


def _read_xlsx(path: Path, fmt: str, data_sheet: str | int | None) -> RawTable:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException
        raise ReadProblem(f"not a readable Excel workbook ({type(exc).__name__}: {exc})") from exc
    sheets = book.sheetnames
    if data_sheet is None:
        name = sheets[0]
    elif isinstance(data_sheet, int) and not isinstance(data_sheet, bool):
        if not 0 <= data_sheet < len(sheets):
            raise ReadProblem(f"data_sheet {data_sheet} does not exist (the workbook has sheets {sheets})")
        name = sheets[data_sheet]
    elif data_sheet in sheets:
        name = str(data_sheet)
    else:
        raise ReadProblem(f"data_sheet {data_sheet!r} is not a sheet of the workbook (sheets: {sheets})")
    rows = [list(r) for r in book[name].iter_rows(values_only=True)]
    raw = [list(r) for r in formulas[name].iter_rows(values_only=True)]
    book.close()
    formulas.close()
    # completely empty trailing rows and columns (formatting only) are not data
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    if not rows:
        raise ReadProblem(f"sheet {name!r} is empty (no header, no rows)")
    width = max(len(r) for r in rows)
    rows = [r + [None] * (width - len(r)) for r in rows]
    while width and all(r[width - 1] is None for r in rows):
        width -= 1
    lost = [
        f"row {i + 1}"
        for i, (r, f) in enumerate(zip(rows, raw))
        for v, w in zip(r[:width], f[:width])
        if v is None and isinstance(w, str) and w.startswith("=")
    ]
    if lost:
        raise ReadProblem(
            "formula cell(s) without a stored result (open the workbook in Excel and save it)",
            lines=tuple(dict.fromkeys(lost))[:10], count=len(lost),
        )
    header = [cell_text(v) or "" for v in rows[0][:width]]
    columns = [[r[j] for r in rows[1:]] for j in range(width)]
    return RawTable(_text_table(header, columns), fmt, typed=False)


def _read_sas(path: Path, fmt: str) -> RawTable:
    import pyreadstat

    read = pyreadstat.read_sas7bdat if fmt == "sas7bdat" else pyreadstat.read_xport
    try:
        frame, _ = read(str(path), dates_as_pandas_datetime=False)
    except Exception as exc:  # pyreadstat.ReadstatError and friends
        raise ReadProblem(f"not a readable {fmt} file ({exc})") from exc
    names = [str(c) for c in frame.columns]
    columns = [frame.iloc[:, j].tolist() for j in range(frame.shape[1])]
    return RawTable(_text_table(names, columns), fmt, typed=False)
