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
    pngs = sorted(folder.glob("*.png")) if folder.is_dir() else []
    assert len(pngs) == len(shown), f"{run_id}: {len(shown)} figures shown, {len(pngs)} PNG files"
    for png in pngs:
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
