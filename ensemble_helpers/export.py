"""Publication files of a notebook run: its tables as ``.docx`` and ``.xlsx``, its figures as
SVG, PDF and 300-dpi PNG.

A run opens a :class:`Publication` (``report.start`` does it) and makes it the kernel's current
one; from then on

* :func:`ensemble_helpers.tables.display_table` registers every table it shows
  (:func:`register_table`), so a notebook cell stays one line;
* every report figure shown is written to ``<notebook>_figures/<name>.{svg,pdf,png}``
  (:func:`save_figure`, called by the figure's display hook, ``plots._figure._display_fitted``);
* the notebook's last cell (``report.finish``) writes ``<notebook>.docx`` and
  ``<notebook>.xlsx`` (:meth:`Publication.write_tables`).

One computed result feeds every target: a registered table is the very DataFrame the HTML shows,
already formatted and suppressed (:mod:`ensemble_helpers.privacy` ran once, in the ``tables``
layer). The numbers of the ``.xlsx`` file are read back from those cells
(:func:`cell_numbers`), so a spreadsheet can never hold more than the report shows: a count shown
as ``<5`` has no number, a rate hidden with its count has none either.

Examples
--------
>>> cell_numbers("4.1 (3.5–4.8)")
{'estimate': 4.1, 'lower': 3.5, 'upper': 4.8}
>>> cell_numbers("45.2% (40.1–50.3)")
{'estimate': 0.452, 'lower': 0.401, 'upper': 0.503}
>>> cell_numbers("12 (45.3%)")
{'n': 12, 'percent': 0.453}
>>> cell_numbers("<5"), cell_numbers("664")
({}, {'value': 664})
"""

from __future__ import annotations

import contextlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import pandas as pd

logger = logging.getLogger(__name__)

__all__ = [
    "FIGURE_FORMATS",
    "FIGURE_DPI",
    "ReportTable",
    "Publication",
    "start",
    "current",
    "register_table",
    "save_figure",
    "cell_numbers",
    "numeric_columns",
    "slug",
    "write_docx",
    "write_xlsx",
]

#: Formats of every figure file, in the order they are written.
FIGURE_FORMATS: tuple[str, ...] = ("svg", "pdf", "png")
#: Resolution of the PNG figure files (journals ask for at least 300 dpi).
FIGURE_DPI = 300
#: Font of the .docx tables (Word's default sans serif; journals re-typeset anyway).
DOCX_FONT = "Arial"
DOCX_FONT_PT = 9

_DASH = "\u2013"
_NUM = r"-?\d+(?:\.\d+)?"
_OPT = rf"(?:{_NUM}|NR|NE)"
#: Cell layouts the report tables use (tables.format_* and privacy.suppress_*), most specific first.
_PATTERNS: tuple[tuple[re.Pattern[str], tuple[str, ...], str], ...] = (
    # "45.2% (40.1–50.3)": a proportion with its CI
    (re.compile(rf"^({_OPT})%? \(({_OPT})%?{_DASH}({_OPT})%?\)$"), ("estimate", "lower", "upper"), "ci"),
    # "12 (45.3%)": n (%)
    (re.compile(rf"^(\d+) \(({_NUM})%\)$"), ("n", "percent"), "npct"),
    # "40 / 100", "<5 / 20": numerator / denominator
    (re.compile(rf"^(\d+|<\d+) / (\d+|<\d+)$"), ("n", "N"), "ratio"),
    # "50.0–70.0": a range
    (re.compile(rf"^({_NUM}){_DASH}({_NUM})$"), ("lower", "upper"), "range"),
    # "45.2%"
    (re.compile(rf"^({_NUM})%$"), ("value",), "pct"),
    # "664", "0.042"
    (re.compile(rf"^({_NUM})$"), ("value",), "number"),
)
#: Order of the number columns written beside a text column.
_PARTS = ("value", "n", "N", "percent", "estimate", "lower", "upper")
_PART_NAMES = {"value": "value", "n": "n", "N": "N", "percent": "%", "estimate": "estimate",
               "lower": "lower", "upper": "upper"}


def _to_number(text: str) -> int | float | None:
    if text in ("NR", "NE") or text.startswith("<"):
        return None
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def cell_numbers(text: Any) -> dict[str, int | float]:
    """The numbers a formatted report cell shows, by role; ``{}`` for text and suppressed cells.

    Parameters
    ----------
    text : str
        A cell as :mod:`ensemble_helpers.tables` formats it: ``"4.1 (3.5–4.8)"`` (estimate, lower,
        upper), ``"45.2% (40.1–50.3)"`` (proportions 0–1), ``"12 (45.3%)"`` (n, percent as a
        proportion), ``"40 / 100"`` (n, N), ``"50.0–70.0"`` (lower, upper), ``"664"`` or
        ``"0.042"`` (value). ``NR``/``NE`` and suppressed counts (``"<5"``) give no number.

    Returns
    -------
    dict
        Role -> number, at the precision shown (never more than the report shows).

    Examples
    --------
    >>> cell_numbers("NR (3.5–NR)")
    {'lower': 3.5}
    >>> cell_numbers("<5 / 20")
    {'N': 20}
    >>> cell_numbers("Anti-HER2 TKI")
    {}
    """
    if not isinstance(text, str):
        if isinstance(text, (int, float)) and not isinstance(text, bool) and pd.notna(text):
            return {"value": text}
        return {}
    s = text.strip()
    for pattern, roles, kind in _PATTERNS:
        m = pattern.match(s)
        if not m:
            continue
        out: dict[str, int | float] = {}
        percent = kind in ("npct", "pct") or (kind == "ci" and "%" in s)
        for role, raw in zip(roles, m.groups()):
            value = _to_number(raw)
            if value is None:
                continue
            if percent and role != "n":
                value = round(float(value) / 100, 10)
            out[role] = value
        return out
    return {}


def numeric_columns(df: pd.DataFrame) -> dict[str, list[str]]:
    """For each text column (the first, the row labels, excepted): the number roles its cells
    show, in :data:`_PARTS` order; columns showing none are left out.

    A column whose cells are all plain numbers (or blank/suppressed) gets ``["value"]``: it is
    written as numbers in place rather than beside itself.
    """
    out: dict[str, list[str]] = {}
    for col in list(df.columns)[1:]:
        roles: set[str] = set()
        for cell in df[col]:
            roles |= set(cell_numbers(cell))
        if "value" in roles and "n" in roles:
            roles.discard("value")  # a plain count (Table 1's "Missing" row) is an n
        if roles:
            out[str(col)] = [r for r in _PARTS if r in roles]
    return out


def slug(text: str, limit: int = 60) -> str:
    """File-name-safe lower-case name: ``"PFS by regimen class"`` -> ``"pfs_by_regimen_class"``.

    Examples
    --------
    >>> slug("Kaplan–Meier: T-DXd duration (months)")
    'kaplan_meier_t_dxd_duration_months'
    """
    text = re.sub("[\u2010-\u2015]", "-", str(text))  # dashes separate words
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return (name[:limit].rstrip("_") or "figure")


@dataclass(frozen=True)
class ReportTable:
    """One table of a report, exactly as the HTML shows it (formatted and suppressed)."""

    frame: pd.DataFrame
    caption: str
    footnote: str | None = None

    @property
    def label_rows(self) -> list[bool]:
        """Rows printed in bold (Table 1's variable names: index level ``row_type == "label"``)."""
        if "row_type" in (self.frame.index.names or []):
            return [k == "label" for k in self.frame.index.get_level_values("row_type")]
        return [False] * len(self.frame)


@dataclass
class Publication:
    """The tables and figure files of one notebook run.

    Parameters
    ----------
    notebook : str
        Notebook name (``"02_endpoints"``): names the files.
    output_dir : path
        Where ``<notebook>.docx``, ``<notebook>.xlsx`` and ``<notebook>_figures/`` go.
    title : str
        Report title (first line of the .docx file).
    min_cell_size : int, optional
        For the small-count footnote.
    figure_formats : sequence of str
        Formats of the figure files (default :data:`FIGURE_FORMATS`; empty: no figure files).
    """

    notebook: str
    output_dir: Path
    title: str = ""
    min_cell_size: int | None = None
    figure_formats: Sequence[str] = FIGURE_FORMATS
    tables: list[ReportTable] = field(default_factory=list)
    figures: dict[str, list[Path]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        unknown = sorted(set(self.figure_formats) - set(FIGURE_FORMATS))
        if unknown:
            raise ValueError(f"figure_formats: unknown format(s) {unknown}; use some of {list(FIGURE_FORMATS)}")

    @property
    def figure_dir(self) -> Path:
        return self.output_dir / f"{self.notebook}_figures"

    def add_table(self, df: pd.DataFrame, caption: str | None, footnote: str | None = None) -> None:
        """Keep a table for the .docx/.xlsx files (the same table shown twice is kept once)."""
        if footnote is None:
            footnote = df.attrs.get("footnote") or None
        caption = caption or f"Table {len(self.tables) + 1}"
        for t in self.tables:
            if t.caption == caption and t.footnote == footnote and t.frame.equals(df):
                return
        self.tables.append(ReportTable(df.copy(), caption, footnote))

    def figure_name(self, name: str) -> str:
        """``name`` made unique among this run's figures (``_2``, ``_3``... appended)."""
        base = slug(name, limit=90)
        candidate, k = base, 1
        while candidate in self.figures:
            k += 1
            candidate = f"{base}_{k}"
        return candidate

    def save_figure(self, fig: Any, name: str) -> list[Path]:
        """Write ``fig`` as ``<notebook>_figures/<name>.{svg,pdf,png}``; the paths written.

        Each format is one ``savefig`` of the same Figure object (no redraw of the notebook's
        figure, no tight-bbox pass: report figures fit their own margins). SVG keeps text as text
        (editable, smaller, faster than glyph paths); PDF embeds TrueType (Type 42) fonts, as
        journals' preflight checks ask; PNG is :data:`FIGURE_DPI` dpi.
        """
        import matplotlib as mpl

        if not self.figure_formats:
            return []
        stem = self.figure_name(name)
        self.figure_dir.mkdir(parents=True, exist_ok=True)
        written = []
        rc = {"svg.fonttype": "none", "pdf.fonttype": 42, "svg.hashsalt": stem, "savefig.bbox": "standard"}
        with mpl.rc_context(rc), pdf_font_subsets_without_layout_tables():
            for fmt in self.figure_formats:
                path = self.figure_dir / f"{stem}.{fmt}"
                meta = {"Creator": None} if fmt == "svg" else ({"CreationDate": None} if fmt == "pdf" else None)
                fig.savefig(path, format=fmt, dpi=FIGURE_DPI, bbox_inches=None, metadata=meta)
                written.append(path)
        self.figures[stem] = written
        return written

    def write_tables(self) -> list[Path]:
        """Write ``<notebook>.docx`` and ``<notebook>.xlsx`` (nothing without tables); the paths."""
        if not self.tables:
            return []
        self.output_dir.mkdir(parents=True, exist_ok=True)
        note = small_count_note(self.min_cell_size)
        docx_path = write_docx(self.tables, self.output_dir / f"{self.notebook}.docx", title=self.title,
                               small_count_note=note)
        xlsx_path = write_xlsx(self.tables, self.output_dir / f"{self.notebook}.xlsx", title=self.title,
                               small_count_note=note)
        return [docx_path, xlsx_path]


# The kernel's current run: set by report.start, read by tables.display_table and the figure
# display hook. One notebook kernel runs one report, so one slot is enough; outside a run
# (tests, scripts) nothing is collected.
_current: list[Publication] = []


def start(publication: Publication) -> Publication:
    """Make ``publication`` the current run's (replacing any earlier one); returns it."""
    _current[:] = [publication]
    return publication


def current() -> Publication | None:
    """The current run's :class:`Publication`, or None outside a report run."""
    return _current[0] if _current else None


def stop() -> None:
    """Forget the current run (tests)."""
    _current.clear()


def register_table(df: pd.DataFrame, caption: str | None, footnote: str | None = None) -> None:
    """Keep ``df`` for the current run's table files (no-op outside a run)."""
    pub = current()
    if pub is not None:
        pub.add_table(df, caption, footnote)


def save_figure(fig: Any, name: str) -> list[Path]:
    """Write the figure files of ``fig`` for the current run (no-op outside a run)."""
    pub = current()
    return pub.save_figure(fig, name) if pub is not None else []


#: OpenType tables a PDF viewer never reads: glyph substitution and positioning (GSUB, GPOS,
#: GDEF) and the legacy kerning table. Matplotlib has already placed every glyph itself.
_LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF", "kern")


@contextlib.contextmanager
def pdf_font_subsets_without_layout_tables() -> Iterator[None]:
    """While active, the fonts matplotlib embeds in a PDF (Type 42, subset by fontTools) leave
    out the OpenType layout tables :data:`_LAYOUT_TABLES`.

    Why by hand: matplotlib subsets each font for each PDF and offers no option for the tables
    it keeps; decompiling DejaVu Sans's GSUB/GPOS tables is about two thirds of a report figure's
    PDF time (0.33 s -> 0.13 s per Kaplan-Meier figure, three fonts). A PDF places every glyph
    at an explicit position (matplotlib computed the kerning when it laid the text out), so the
    page draws the same; the embedded fonts keep their outlines (``glyf``), metrics and
    character map. fontTools keeps the default list as the class attribute
    ``Options._drop_tables_default`` (read by every ``Options()``); it is extended here and
    restored on exit. Without that attribute nothing changes (the PDF is only slower).
    """
    try:
        from fontTools.subset import Options
    except ImportError:  # pragma: no cover - matplotlib depends on fontTools
        yield
        return
    saved = getattr(Options, "_drop_tables_default", None)
    if not isinstance(saved, list):
        yield
        return
    Options._drop_tables_default = saved + [t for t in _LAYOUT_TABLES if t not in saved]
    try:
        yield
    finally:
        Options._drop_tables_default = saved


def small_count_note(min_cell_size: int | None) -> str | None:
    """The footnote explaining ``<k`` cells, or None when nothing is suppressed."""
    if not min_cell_size or min_cell_size <= 1:
        return None
    return (f"Counts from 1 to {min_cell_size - 1} are shown as <{min_cell_size}, and estimates of "
            f"groups of fewer than {min_cell_size} patients are not shown.")


def _is_suppressed_text(cell: Any) -> bool:
    return isinstance(cell, str) and bool(re.search(r"(^|\s)<\d+(\s|$)", cell))


def _footnotes(table: ReportTable, small: str | None) -> list[str]:
    notes = [table.footnote] if table.footnote else []
    if small and any(_is_suppressed_text(c) for col in table.frame.columns for c in table.frame[col]):
        notes.append(small)
    return notes


# ----------------------------------------------------------------------------------------------
# Word


def _border(element: Any, edges: dict[str, dict[str, str]], tag: str) -> None:
    """Set ``edges`` (e.g. {"top": {"val": "single", "sz": "8"}}) on a w:tblBorders / w:tcBorders."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    borders = element.find(qn(f"w:{tag}"))
    if borders is None:
        borders = OxmlElement(f"w:{tag}")
        element.append(borders)
    for edge, attrs in edges.items():
        el = borders.find(qn(f"w:{edge}"))
        if el is None:
            el = OxmlElement(f"w:{edge}")
            borders.append(el)
        for k, v in attrs.items():
            el.set(qn(f"w:{k}"), v)


_RULE = {"val": "single", "sz": "8", "space": "0", "color": "000000"}
_THIN = {"val": "single", "sz": "4", "space": "0", "color": "000000"}
_NONE = {"val": "nil"}


def write_docx(tables: Iterable[ReportTable], path: str | Path, *, title: str = "",
               small_count_note: str | None = None) -> Path:
    """Write report tables to a Word file in journal style.

    Each table gets a numbered caption above it ("Table 2. Kaplan–Meier estimates"), its footnotes
    under it, horizontal rules only (above and below the table, under the header: no vertical
    rules), a bold header and bold variable rows (Table 1). Tables wider than six columns are put
    on a landscape page.

    Parameters
    ----------
    tables : iterable of ReportTable
    path : path
        The ``.docx`` file to write.
    title : str
        First line of the document.
    small_count_note : str, optional
        Footnote added to tables that show a suppressed count.

    Returns
    -------
    Path
    """
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    doc = Document()
    doc.core_properties.author = "ensemble_helpers"
    doc.core_properties.title = title
    normal = doc.styles["Normal"]
    normal.font.name = DOCX_FONT
    normal.font.size = Pt(DOCX_FONT_PT + 1)
    if title:
        doc.add_heading(title, level=1)
    portrait = True
    for number, table in enumerate(tables, start=1):
        df = table.frame
        wide = df.shape[1] > 6
        if wide == portrait:  # change the page orientation for this table
            section = doc.add_section()
            width, height = section.page_width, section.page_height
            if wide != (width > height):
                section.orientation = WD_ORIENT.LANDSCAPE if wide else WD_ORIENT.PORTRAIT
                section.page_width, section.page_height = height, width
            portrait = not wide
        cap = doc.add_paragraph()
        cap.paragraph_format.keep_with_next = True
        cap.paragraph_format.space_before = Pt(12)
        run = cap.add_run(f"Table {number}. ")
        run.bold = True
        cap.add_run(table.caption)
        t = doc.add_table(rows=1 + len(df), cols=df.shape[1])
        t.alignment = WD_TABLE_ALIGNMENT.LEFT
        tbl_pr = t._tbl.tblPr
        _border(tbl_pr, {"top": _RULE, "bottom": _RULE, "left": _NONE, "right": _NONE,
                         "insideH": _NONE, "insideV": _NONE}, "tblBorders")
        bold_rows = table.label_rows
        for j, col in enumerate(df.columns):
            cell = t.rows[0].cells[j]
            _cell_text(cell, str(col), bold=True, align=WD_ALIGN_PARAGRAPH.LEFT if j == 0 else
                       WD_ALIGN_PARAGRAPH.CENTER)
            _border(cell._tc.get_or_add_tcPr(), {"bottom": _THIN}, "tcBorders")
        # the header repeats on every page of a long table
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

        tr_pr = t.rows[0]._tr.get_or_add_trPr()
        header = OxmlElement("w:tblHeader")
        header.set(qn("w:val"), "true")
        tr_pr.append(header)
        for i, values in enumerate(df.itertuples(index=False), start=1):
            for j, value in enumerate(values):
                text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
                _cell_text(t.rows[i].cells[j], text, bold=bold_rows[i - 1] and j == 0,
                           align=WD_ALIGN_PARAGRAPH.LEFT if j == 0 else WD_ALIGN_PARAGRAPH.CENTER)
        for note in _footnotes(table, small_count_note):
            p = doc.add_paragraph()
            p.paragraph_format.space_before = Pt(2)
            p.paragraph_format.space_after = Pt(0)
            r = p.add_run(note)
            r.font.size = Pt(DOCX_FONT_PT - 1)
    path = Path(path)
    doc.save(str(path))
    return path


def _cell_text(cell: Any, text: str, *, bold: bool, align: Any) -> None:
    from docx.shared import Pt

    para = cell.paragraphs[0]
    para.alignment = align
    para.paragraph_format.space_after = Pt(0)
    # keep the indentation of level rows (non-breaking spaces) as a paragraph indent
    stripped = text.lstrip("\u00a0")
    if len(stripped) < len(text):
        para.paragraph_format.left_indent = Pt(2.5 * (len(text) - len(stripped)))
    run = para.add_run(stripped)
    run.bold = bold
    run.font.size = Pt(DOCX_FONT_PT)


# ----------------------------------------------------------------------------------------------
# Excel


def _sheet_name(caption: str, used: set[str], number: int) -> str:
    """Excel sheet names: at most 31 characters, none of []:*?/\\, unique (case-insensitive)."""
    base = re.sub(r"[\[\]:*?/\\]", " ", caption).strip() or f"Table {number}"
    base = re.sub(r"\s+", " ", base)[:31].rstrip()
    name, k = base, 1
    while name.lower() in used:
        k += 1
        suffix = f" ({k})"
        name = base[: 31 - len(suffix)].rstrip() + suffix
    used.add(name.lower())
    return name


def write_xlsx(tables: Iterable[ReportTable], path: str | Path, *, title: str = "",
               small_count_note: str | None = None) -> Path:
    """Write report tables to an Excel workbook: one sheet per table.

    Layout of a sheet: the caption (bold) in A1, the header in row 3, one row per table row, then
    the footnotes. Every column shows the report's text; a column whose cells are numbers holds
    them as numbers; a column of estimates with CIs (or n (%), n / N, ranges) is followed by one
    number column per part (``"Median, months (95% CI): estimate"``, ``...: lower``,
    ``...: upper``). Proportions are stored as 0–1 with a percent format. Suppressed cells have
    no number.

    Returns
    -------
    Path
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.title = title or None
    wb.properties.creator = "ensemble_helpers"
    used: set[str] = set()
    rule, thin = Side(style="medium"), Side(style="thin")
    for number, table in enumerate(tables, start=1):
        ws = wb.create_sheet(_sheet_name(table.caption, used, number))
        df = table.frame
        roles = numeric_columns(df)
        # header: each text column, then its number columns (plain number columns in place)
        layout: list[tuple[str, str | None]] = []  # (source column, role or None = text)
        headers: list[str] = []
        for j, col in enumerate(df.columns):
            col = str(col)
            r = roles.get(col, [])
            if j > 0 and r == ["value"]:
                layout.append((col, "value_in_place"))
                headers.append(col)
                continue
            layout.append((col, None))
            headers.append(col)
            for role in r:
                layout.append((col, role))
                headers.append(f"{col}: {_PART_NAMES[role]}")
        ws.cell(row=1, column=1, value=f"Table {number}. {table.caption}").font = Font(bold=True)
        header_row = 3
        for k, text in enumerate(headers, start=1):
            c = ws.cell(row=header_row, column=k, value=text)
            c.font = Font(bold=True)
            c.alignment = Alignment(wrap_text=True, vertical="bottom", horizontal="left" if k == 1 else "center")
            c.border = Border(top=rule, bottom=thin)
        bold_rows = table.label_rows
        columns = {str(c): i for i, c in enumerate(df.columns)}
        for i, values in enumerate(df.itertuples(index=False)):
            row = header_row + 1 + i
            for k, (col, role) in enumerate(layout, start=1):
                raw = values[columns[col]]
                text = "" if raw is None or (isinstance(raw, float) and pd.isna(raw)) else str(raw)
                if role is None:
                    c = ws.cell(row=row, column=k, value=text.replace("\u00a0", " ") if text else None)
                    if k == 1 and bold_rows[i]:
                        c.font = Font(bold=True)
                    if k == 1 and text.startswith("\u00a0"):
                        c.value = text.lstrip("\u00a0")
                        c.alignment = Alignment(indent=1)
                    continue
                nums = cell_numbers(text)
                if "value" in nums and role == "n":
                    nums = {"n": nums["value"]}
                key = "value" if role == "value_in_place" else role
                if role == "value_in_place" and not nums:
                    c = ws.cell(row=row, column=k, value=text or None)  # "<5", "<0.001", "NR"
                    c.alignment = Alignment(horizontal="right")
                    continue
                value = nums.get(key)
                c = ws.cell(row=row, column=k, value=value)
                if value is not None:
                    c.number_format = _number_format(text, key)
        last = header_row + len(df)
        for k in range(1, len(layout) + 1):
            ws.cell(row=last, column=k).border = Border(bottom=rule)
        for offset, note in enumerate(_footnotes(table, small_count_note), start=2):
            ws.cell(row=last + offset, column=1, value=note).font = Font(italic=True, size=9)
        for k, text in enumerate(headers, start=1):
            col = layout[k - 1][0]
            longest = max([len(str(v)) for v in df[col]] + [min(len(text), 28), 8]) if layout[k - 1][1] in (
                None, "value_in_place") else 12
            ws.column_dimensions[get_column_letter(k)].width = min(60, longest + 2)
        ws.freeze_panes = ws.cell(row=header_row + 1, column=2)
    path = Path(path)
    wb.save(str(path))
    return path


def _number_format(text: str, role: str) -> str:
    """Excel number format showing a number as the report does (decimals, percent)."""
    if role == "n" or role == "N":
        return "0"
    percent = "%" in text and role in ("estimate", "lower", "upper", "percent", "value")
    decimals = 0
    for raw in re.findall(_NUM, text):
        if "." in raw:
            decimals = max(decimals, len(raw.split(".")[1]))
    base = "0" + ("." + "0" * decimals if decimals else "")
    return base + "%" if percent else base
