"""ensemble_helpers.export: table files (.docx, .xlsx) read back with python-docx and openpyxl,
figure files (SVG parses, PDF header, 300-dpi PNG), the per-run collector."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from ensemble_helpers import export, tables  # noqa: E402
from ensemble_helpers.export import ReportTable, cell_numbers  # noqa: E402

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@pytest.fixture(autouse=True)
def _no_current_run():
    export.stop()
    yield
    export.stop()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("4.1 (3.5–4.8)", {"estimate": 4.1, "lower": 3.5, "upper": 4.8}),
        ("NR (3.5–NR)", {"lower": 3.5}),
        ("NR (NR–NR)", {}),
        ("45.2% (40.1–50.3)", {"estimate": 0.452, "lower": 0.401, "upper": 0.503}),
        ("50.0% (NE–61.0)", {"estimate": 0.5, "upper": 0.61}),
        ("1.30 (1.05–1.61)", {"estimate": 1.3, "lower": 1.05, "upper": 1.61}),
        ("-0.12 (-0.30–0.05)", {"estimate": -0.12, "lower": -0.3, "upper": 0.05}),
        ("12 (45.3%)", {"n": 12, "percent": 0.453}),
        ("40 / 100", {"n": 40, "N": 100}),
        ("<5 / 20", {"N": 20}),
        ("28.2–87.8", {"lower": 28.2, "upper": 87.8}),
        ("664", {"value": 664}),
        ("0.042", {"value": 0.042}),
        ("<5", {}),
        ("<0.001", {}),
        ("NE", {}),
        ("too few patients", {}),
        ("", {}),
        (None, {}),
        ("3.21 (2)", {}),
    ],
)
def test_cell_numbers_reads_what_the_cell_shows_and_nothing_suppressed(text, expected):
    assert cell_numbers(text) == expected


def test_cell_numbers_of_every_formatter_round_trip():
    # the tables layer's formats are what export parses: one case per formatter
    assert cell_numbers(tables.format_estimate(4.123, 3.54, 4.75)) == {"estimate": 4.1, "lower": 3.5, "upper": 4.8}
    assert cell_numbers(tables.format_pct(0.4523, 0.4012, 0.5031)) == {"estimate": 0.452, "lower": 0.401,
                                                                       "upper": 0.503}
    assert cell_numbers(tables.format_p(0.04249)) == {"value": 0.042}
    from ensemble_helpers.privacy import suppress_count_pct

    assert cell_numbers(suppress_count_pct(12, 40, 5)) == {"n": 12, "percent": 0.3}
    assert cell_numbers(suppress_count_pct(3, 40, 5)) == {}


def _tables() -> list[ReportTable]:
    km = pd.DataFrame({
        "Endpoint": ["Progression-free survival", "Overall survival"],
        "Group": ["Overall", "Overall"],
        "N": ["664", "664"],
        "Events": ["500", "<5"],
        "Median, months (95% CI)": ["4.1 (3.6–4.7)", "NR (14.2–NR)"],
        "6-month rate (95% CI)": ["35.0% (31.0–39.0)", "too few patients"],
    })
    t1 = pd.DataFrame(
        {"Characteristic": ["Age, years", "\u00a0" * 4 + "Median (IQR)", "ECOG", "\u00a0" * 4 + "0",
                            "\u00a0" * 4 + "Missing"],
         "Overall, N = 664": ["", "57.0 (50.1–64.5)", "", "247 (38.7%)", "25"],
         "A, N = 300": ["", "56.0 (49.0–63.0)", "", "<5", "3"]},
        index=pd.MultiIndex.from_tuples([("age", "label"), ("age", "stat"), ("ecog", "label"),
                                         ("ecog", "level"), ("ecog", "missing")], names=["variable", "row_type"]),
    )
    wide = pd.DataFrame({f"c{i}": [str(i)] for i in range(8)})
    return [ReportTable(km, "Kaplan–Meier estimates", "NR: not reached."),
            ReportTable(t1, "Baseline characteristics: [all]", None),
            ReportTable(wide, "Kaplan–Meier estimates", None)]


def test_xlsx_one_sheet_per_table_numbers_as_numbers_beside_the_text(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    path = export.write_xlsx(_tables(), tmp_path / "t.xlsx", title="T", small_count_note="Counts <5 hidden.")
    wb = openpyxl.load_workbook(path)
    # names: at most 31 characters, no []:*?/\, unique
    assert wb.sheetnames == ["Kaplan–Meier estimates", "Baseline characteristics all", "Kaplan–Meier estimates (2)"]
    ws = wb["Kaplan–Meier estimates"]
    assert ws["A1"].value == "Table 1. Kaplan–Meier estimates" and ws["A1"].font.bold
    header = [c.value for c in ws[3]]
    assert header == ["Endpoint", "Group", "N", "Events", "Median, months (95% CI)",
                      "Median, months (95% CI): estimate", "Median, months (95% CI): lower",
                      "Median, months (95% CI): upper", "6-month rate (95% CI)", "6-month rate (95% CI): estimate",
                      "6-month rate (95% CI): lower", "6-month rate (95% CI): upper"]
    assert all(c.font.bold for c in ws[3])
    pfs, os_ = [c.value for c in ws[4]], [c.value for c in ws[5]]
    assert pfs == ["Progression-free survival", "Overall", 664, 500, "4.1 (3.6–4.7)", 4.1, 3.6, 4.7,
                   "35.0% (31.0–39.0)", 0.35, 0.31, 0.39]
    # a suppressed count stays text; NR and a hidden rate have no number
    assert os_ == ["Overall survival", "Overall", 664, "<5", "NR (14.2–NR)", None, 14.2, None,
                   "too few patients", None, None, None]
    assert ws.cell(row=4, column=10).number_format == "0.0%"
    assert ws.cell(row=4, column=6).number_format == "0.0"
    notes = [ws.cell(row=r, column=1).value for r in range(6, 10)]
    assert "NR: not reached." in notes and "Counts <5 hidden." in notes
    t1 = wb["Baseline characteristics all"]
    assert [c.value for c in t1[3]][:7] == ["Characteristic", "Overall, N = 664", "Overall, N = 664: n",
                                           "Overall, N = 664: %", "Overall, N = 664: estimate",
                                           "Overall, N = 664: lower", "Overall, N = 664: upper"]
    assert t1["A4"].font.bold and not t1["A5"].font.bold and t1["A5"].value == "Median (IQR)"
    assert [c.value for c in t1[7]][:4] == ["0", "247 (38.7%)", 247, 0.387]
    assert [c.value for c in t1[8]][:3] == ["Missing", "25", 25]


def test_docx_journal_style_caption_bold_header_no_vertical_rules_footnotes(tmp_path):
    docx = pytest.importorskip("docx")
    path = export.write_docx(_tables(), tmp_path / "t.docx", title="Report", small_count_note="Counts <5 hidden.")
    doc = docx.Document(str(path))
    assert len(doc.tables) == 3
    texts = [p.text for p in doc.paragraphs]
    assert "Table 1. Kaplan–Meier estimates" in texts and "Table 3. Kaplan–Meier estimates" in texts
    assert "NR: not reached." in texts and "Counts <5 hidden." in texts
    km = doc.tables[0]
    assert [c.text for c in km.rows[0].cells][:3] == ["Endpoint", "Group", "N"]
    assert all(r.bold for c in km.rows[0].cells for p in c.paragraphs for r in p.runs)
    assert [c.text for c in km.rows[2].cells] == ["Overall survival", "Overall", "664", "<5", "NR (14.2–NR)",
                                                 "too few patients"]
    borders = km._tbl.tblPr.find(f"{W}tblBorders")
    val = {el.tag.removeprefix(W): el.get(f"{W}val") for el in borders}
    assert val["top"] == val["bottom"] == "single"
    assert val["left"] == val["right"] == val["insideV"] == val["insideH"] == "nil"
    # Table 1: variable rows bold, level rows indented
    t1 = doc.tables[1]
    assert t1.rows[1].cells[0].paragraphs[0].runs[0].bold
    level = t1.rows[2].cells[0].paragraphs[0]
    assert level.text == "Median (IQR)" and level.paragraph_format.left_indent > 0
    # the wide table is on a landscape page
    sections = doc.sections
    assert sections[-1].page_width > sections[-1].page_height


def test_display_table_registers_the_shown_table_once_in_the_current_run(tmp_path):
    pub = export.start(export.Publication("nb", tmp_path, title="T", min_cell_size=5))
    df = pd.DataFrame({"Measure": ["ORR"], "n / N": ["<5 / 20"], "Rate (95% CI)": [""]})
    tables.display_table(df, caption="Response")
    tables.display_table(df, caption="Response")  # shown twice (e.g. re-run cell): kept once
    tables.display_table(df, caption="Response again")
    assert [t.caption for t in pub.tables] == ["Response", "Response again"]
    paths = pub.write_tables()
    assert [p.name for p in paths] == ["nb.docx", "nb.xlsx"]
    export.stop()
    tables.display_table(df, caption="outside a run")  # nothing collected, nothing raised
    assert export.current() is None


def test_no_table_no_files(tmp_path):
    assert export.Publication("nb", tmp_path).write_tables() == []
    assert not any(tmp_path.iterdir())


def test_figure_files_svg_parses_pdf_header_png_300_dpi(tmp_path):
    from PIL import Image

    pub = export.start(export.Publication("02_endpoints", tmp_path))
    fig, ax = plt.subplots(figsize=(3.35, 2.5))
    ax.plot([0, 1], [1, 0])
    ax.set_title("PFS by regimen class")
    paths = export.save_figure(fig, "Kaplan–Meier: PFS by regimen class")
    again = export.save_figure(fig, "Kaplan–Meier: PFS by regimen class")
    plt.close(fig)
    assert [p.name for p in paths] == ["kaplan_meier_pfs_by_regimen_class.svg",
                                       "kaplan_meier_pfs_by_regimen_class.pdf",
                                       "kaplan_meier_pfs_by_regimen_class.png"]
    assert again[0].name == "kaplan_meier_pfs_by_regimen_class_2.svg"
    assert all(p.parent == tmp_path / "02_endpoints_figures" for p in paths)
    svg, pdf, png = paths
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "PFS by regimen class" in svg.read_text()  # text kept as text (editable)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    with Image.open(png) as im:
        assert im.info["dpi"] == pytest.approx((300, 300), abs=0.1)
        assert im.size == (round(3.35 * 300), round(2.5 * 300))
    assert pub.figures["kaplan_meier_pfs_by_regimen_class"] == paths


def test_unknown_figure_format_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="figure_formats"):
        export.Publication("nb", tmp_path, figure_formats=("svg", "eps"))


def test_docstring_examples():
    import doctest

    result = doctest.testmod(export)
    assert result.attempted > 0 and result.failed == 0


def _pdf_streams(data: bytes) -> list[bytes]:
    """Every stream of a PDF written by matplotlib, inflated."""
    import re
    import zlib

    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            out.append(zlib.decompress(m.group(1)))
        except zlib.error:
            out.append(m.group(1))
    return out


def test_pdf_fonts_embedded_without_layout_tables_page_drawn_the_same(tmp_path):
    from fontTools.subset import Options

    fig, ax = plt.subplots(figsize=(3.35, 2.5))
    ax.plot([0, 1], [1, 0])
    ax.set_title("AVATAR To Wa: PFS by regimen", fontweight="bold")  # kerning pairs, two fonts
    ax.set_xlabel("Months since start (Yr)")
    default_tables = list(Options._drop_tables_default)
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        fig.savefig(tmp_path / "full.pdf", format="pdf", metadata={"CreationDate": None})
        with export.pdf_font_subsets_without_layout_tables():
            assert {"GSUB", "GPOS", "GDEF", "kern"} <= set(Options._drop_tables_default)
            fig.savefig(tmp_path / "lean.pdf", format="pdf", metadata={"CreationDate": None})
    plt.close(fig)
    assert Options._drop_tables_default == default_tables  # restored
    full, lean = (_pdf_streams((tmp_path / f"{n}.pdf").read_bytes()) for n in ("full", "lean"))
    pages = [[s for s in streams if b" Tf" in s] for streams in (full, lean)]
    assert pages[0] and pages[0] == pages[1]  # every glyph drawn at the same place
    fonts = [[s for s in streams if s[:4] == b"\x00\x01\x00\x00"] for streams in (full, lean)]
    assert len(fonts[0]) == len(fonts[1]) >= 2  # regular and bold, embedded in both
    assert all(b"glyf" in f and b"cmap" in f for f in fonts[1])  # outlines and character map kept
    assert any(b"GPOS" in f for f in fonts[0]) and not any(b"GPOS" in f or b"GSUB" in f for f in fonts[1])
