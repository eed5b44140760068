"""Issue 13: what a report run publishes besides its HTML, checked on real rendered runs.

Runs on the session fixture ``rendered`` (tests/conftest.py: every shipped parameter file x every
notebook, on a 300-patient synthetic cohort). For every report:

* no object repr in the HTML (``<Axes: ...>``, ``<Figure size ...>``, ``<... object at 0x...>``);
* every image has alt text saying what it shows (kind, title, groups with their n for curves),
  never nbconvert's "No description has been provided";
* every figure shown is also a file beside the report, ``<notebook>_figures/<name>.{svg,pdf,png}``:
  SVG parses as XML, PDF starts with ``%PDF``, PNG is 300 dpi;
* the tables are beside it too (``<notebook>.docx``, ``.xlsx``) and index.html links them; the
  numbers they hold equal the HTML's and ``results.json``'s.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ensemble_helpers.batch.plan import workbook_notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [nb.stem for nb in workbook_notebooks(ROOT)]
PARAM_SETS = [p.stem for p in sorted((ROOT / "params").glob("*.yaml"))]
RUN_IDS = [f"{p}/{nb}" for p in PARAM_SETS for nb in NOTEBOOKS]

#: Text an object's default repr leaves in a report.
OBJECT_REPR = re.compile(r"&lt;(?:Axes|Figure|ReportFigure|matplotlib|Text|Line2D)\b|&lt;[\w.]+ object at 0x|"
                         r"<(?:Axes|Figure|ReportFigure)[:\s]")
#: What each figure kind's alt text starts with.
ALT_KINDS = ("Kaplan–Meier curves", "Cumulative incidence", "Forest plot", "Bar chart", "Histogram",
             "Flow diagram", "Mirrored histogram", "Love plot", "Scaled Schoenfeld residuals", "Box plot",
             "Count plot", "Empirical cumulative distribution", "Figure")


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))


def images(page: str) -> list[dict[str, str | None]]:
    parser = _Images()
    parser.feed(page)
    return parser.images


def report(rendered, run_id: str) -> Path:
    return Path(rendered.result.output_dir) / f"{run_id}.html"


@pytest.mark.parametrize("run_id", RUN_IDS)
def test_no_object_repr_in_any_report(rendered, run_id):
    page = report(rendered, run_id).read_text(encoding="utf-8")
    found = OBJECT_REPR.findall(page)
    assert not found, f"{run_id}: object repr left in the report: {found[:3]}"


@pytest.mark.parametrize("run_id", RUN_IDS)
def test_every_image_says_what_it_shows(rendered, run_id):
    page = report(rendered, run_id).read_text(encoding="utf-8")
    assert "No description has been provided" not in page
    for img in images(page):
        if not str(img.get("src", "")).startswith("data:image/png"):
            continue
        alt = img.get("alt") or ""
        assert alt.startswith(ALT_KINDS) and len(alt) > 30, f"{run_id}: alt text {alt!r}"
        if alt.startswith(("Kaplan–Meier curves", "Cumulative incidence")) and "Too few patients" not in alt:
            assert "over months" in alt, alt
        if alt.startswith("Kaplan–Meier curves") and "Too few patients" not in alt:
            assert re.search(r"\(n=(\d+|<\d+)\)", alt), f"{run_id}: KM alt text without group sizes: {alt!r}"


@pytest.mark.parametrize("run_id", RUN_IDS)
def test_every_figure_shown_is_a_file_beside_its_report(rendered, run_id):
    from PIL import Image

    html = report(rendered, run_id)
    page = html.read_text(encoding="utf-8")
    shown = [i for i in images(page) if str(i.get("src", "")).startswith("data:image/png")]
    folder = html.with_name(f"{html.stem}_figures")
    files = sorted(folder.glob("*.png")) if folder.is_dir() else []
    pngs = [f for f in files if not f.stem.endswith("_85mm")]
    assert len(pngs) == len(shown), f"{run_id}: {len(shown)} figures shown, {len(pngs)} PNG files"
    for png in pngs:  # curves are written at a single-column width too
        if png.stem.startswith(("km_", "cuminc_")):
            assert png.with_name(f"{png.stem}_85mm.png") in files, f"{run_id}: no 85 mm file of {png.name}"
    for png in files:
        svg, pdf = png.with_suffix(".svg"), png.with_suffix(".pdf")
        assert re.fullmatch(r"[a-z0-9_]+", png.stem), png.name
        assert ET.parse(svg).getroot().tag.endswith("svg")
        assert pdf.read_bytes()[:5] == b"%PDF-"
        with Image.open(png) as im:
            assert im.info["dpi"] == pytest.approx((300, 300), abs=0.5)
            assert min(im.size) > 300


def test_index_links_the_table_and_figure_files(rendered):
    out = Path(rendered.result.output_dir)
    index = (out / "index.html").read_text(encoding="utf-8")
    for run_id in RUN_IDS:
        for suffix in (".docx", ".xlsx"):
            assert (out / f"{run_id}{suffix}").is_file(), f"{run_id}{suffix} not published"
            assert f'href="{run_id}{suffix}"' in index
        if (out / f"{run_id}_figures").is_dir():
            assert f'href="{run_id}_figures"' in index


# ---------------------------------------------------------------------------------------------
# tables: .docx and .xlsx hold what the HTML shows, and the numbers results.json records
def _norm(text: str) -> str:
    return " ".join(str(text).replace("\xa0", " ").split())


def html_tables(page: str) -> list[tuple[str, list[list[str]]]]:
    """(caption, rows of cell texts) of every captioned table of a report, in order; a table shown
    twice is kept once (as the run's collector keeps it)."""
    from bs4 import BeautifulSoup

    out: list[tuple[str, list[list[str]]]] = []
    for table in BeautifulSoup(page, "html.parser").find_all("table"):
        caption = table.find("caption")
        if caption is None:
            continue
        rows = [[_norm(c.get_text(" ", strip=True)) for c in tr.find_all(["th", "td"])] for tr in table.find_all("tr")]
        item = (_norm(caption.get_text(" ", strip=True)), rows)
        if item not in out:
            out.append(item)
    return out


def docx_tables(path: Path) -> list[tuple[str, list[list[str]]]]:
    """(caption, rows of cell texts) of every table of a .docx report file, in order."""
    import docx

    doc = docx.Document(str(path))
    captions = [_norm(p.text) for p in doc.paragraphs if re.match(r"Table \d+\. ", p.text)]
    assert len(captions) == len(doc.tables), f"{path.name}: {len(captions)} captions, {len(doc.tables)} tables"
    return [(caption.split(". ", 1)[1], [[_norm(c.text) for c in row.cells] for row in table.rows])
            for caption, table in zip(captions, doc.tables)]


def xlsx_rows(path: Path) -> list[tuple[str, list[dict[str, object]]]]:
    """(caption, rows as {header: value}) of every sheet of a .xlsx report file, in order."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    out = []
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        caption = str(rows[0][0]).split(". ", 1)[1]
        header = [str(h) for h in rows[2]]
        body = []
        for row in rows[3:]:
            if all(v is None for v in row):
                break  # the footnotes follow a blank row
            body.append(dict(zip(header, row)))
        out.append((caption, body))
    return out


@pytest.mark.parametrize("run_id", RUN_IDS)
def test_docx_and_xlsx_show_the_html_tables(rendered, run_id):
    from ensemble_helpers.export import cell_numbers

    html = report(rendered, run_id)
    shown = html_tables(html.read_text(encoding="utf-8"))
    written = docx_tables(html.with_suffix(".docx"))
    sheets = xlsx_rows(html.with_suffix(".xlsx"))
    assert [c for c, _ in written] == [c for c, _ in shown], f"{run_id}: the .docx tables are not the HTML's"
    for (caption, rows), (_, docx_rows) in zip(shown, written):
        assert docx_rows == rows, f"{run_id}: .docx table {caption!r} differs from the HTML"
    assert [c for c, _ in sheets] == [c for c, _ in written]
    for (caption, rows), (_, sheet) in zip(written, sheets):
        header, body = rows[0], rows[1:]
        assert len(sheet) == len(body), f"{run_id}: sheet {caption!r} has {len(sheet)} rows, table {len(body)}"
        for texts, cells in zip(body, sheet):
            for col, text in zip(header[1:], texts[1:]):
                for role, number in cell_numbers(text).items():
                    # a number column beside the text ("col: estimate"), or the column itself when it
                    # holds plain numbers; a plain count in a column of "n (%)" cells is its "n"
                    keys = [f"{col}: {'%' if role == 'percent' else role}", col] + ([f"{col}: n"] if role == "value" else [])
                    got = [cells[k] for k in keys if k in cells and isinstance(cells[k], (int, float))]
                    assert got and got[0] == pytest.approx(number), (
                        f"{run_id} {caption!r} {col!r} {text!r}: {dict((k, cells.get(k)) for k in keys)}")


#: results.json records whose estimates a report table shows, and the decimals it shows them with.
SHOWN_RECORDS = {"km_median": 1, "km_rate_6m": 3, "km_rate_12m": 3, "response": 3}


@pytest.mark.parametrize("run_id", RUN_IDS)
def test_xlsx_numbers_equal_results_json(rendered, run_id):
    from ensemble_helpers.results import read_results

    html = report(rendered, run_id)
    results = html.with_name(f"{html.stem}.results.json")
    if not results.is_file() or not html.with_suffix(".xlsx").is_file():
        pytest.skip(f"{run_id}: no results or tables")
    page = _norm(html.read_text(encoding="utf-8"))
    triples = set()
    for _, body in xlsx_rows(html.with_suffix(".xlsx")):
        for cells in body:
            for key, value in cells.items():
                if key.endswith(": estimate") and isinstance(value, (int, float)):
                    col = key.removesuffix(": estimate")
                    triples.add((value, cells.get(f"{col}: lower"), cells.get(f"{col}: upper")))
    checked = 0
    for rec in read_results(results):
        digits = SHOWN_RECORDS.get(rec["analysis"])
        if digits is None or rec["estimate"] is None or not (rec["estimate"] == rec["estimate"]):
            continue
        if rendered.min_cell_size and rec.get("n") is not None and rec["n"] < rendered.min_cell_size:
            continue

        def shown(x):
            return None if x is None or x != x else float(f"{x:.{digits}f}")

        est, lo, hi = shown(rec["estimate"]), shown(rec.get("lower")), shown(rec.get("upper"))
        # the cell as the report writes it ("4.2 (3.8–4.6)", "30.7% (27.1–34.3)"); records no
        # table shows (e.g. the headline records of the published comparison) are not checked
        scale, unit = (100, "%") if digits == 3 else (1, "")
        if lo is None or hi is None:
            continue
        cell = f"{est * scale:.1f}{unit} ({lo * scale:.1f}–{hi * scale:.1f})"
        if cell not in page:
            continue
        match = [t for t in triples if t[0] == pytest.approx(est) and (lo is None or t[1] == pytest.approx(lo))
                 and (hi is None or t[2] == pytest.approx(hi))]
        assert match, f"{run_id}: {rec['analysis']} {rec['endpoint']} {rec['group']} {est} ({lo}–{hi}) not in the .xlsx"
        checked += 1
    if run_id.endswith("02_endpoints"):
        assert checked >= 4, f"{run_id}: only {checked} records checked"
