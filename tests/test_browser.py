"""Issue "A real browser": index.html and every report opened in headless Chromium.

Each page is opened from a file:// URL, as a reader would open it from a shared folder, and must:
log no console error and raise no JavaScript error; load every <img> (naturalWidth > 0); ask for
nothing but file:, data: and about: URLs (offline, nothing fetched from the network); fire no
JavaScript dialog (the ``alert()`` payloads of the hostile cohort must not run; they must show as
table text). index.html's links must point at files that exist.

Full-page screenshots of the index and one report go to ``<tmp>/screenshots/`` and, when the
environment variable ``ENSEMBLE_SAVE_SCREENSHOTS`` is set, also to
``benchmarks/results/screenshots/``.

Uses the system Chromium (Playwright cannot download its own browser here); skipped only where
no Chromium is installed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from ensemble_helpers.batch.plan import workbook_notebooks

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_URL = ("file:", "data:", "about:")
RUN_IDS = [f"{p.stem}/{nb.stem}" for p in sorted((ROOT / "params").glob("*.yaml"))
           for nb in workbook_notebooks(ROOT)]
SCREENSHOT_PAGES = ("index", "full_cohort/01_cohort")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (no `chromium` on PATH, no /usr/bin/chromium): install Debian's chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def open_page(browser, path: Path) -> dict:
    """Load ``path`` and return what happened: errors, requests, dialogs, images, links, texts."""
    seen = {"console_errors": [], "page_errors": [], "requests": [], "dialogs": []}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # nothing may leave the machine, even if a page asked: record the request, then refuse it
    context.route(re.compile(r"^(?!file:|data:|about:)"), lambda route: route.abort())
    page = context.new_page()
    page.on("console", lambda msg: msg.type == "error" and seen["console_errors"].append(msg.text))
    page.on("pageerror", lambda err: seen["page_errors"].append(str(err)))
    page.on("request", lambda req: seen["requests"].append(req.url))

    def on_dialog(dialog):
        seen["dialogs"].append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_load_state("networkidle")
    seen["images"] = page.evaluate(
        "() => Array.from(document.images).map(i => ({src: i.src.slice(0, 40), complete: i.complete,"
        " width: i.naturalWidth}))")
    seen["links"] = page.evaluate("() => Array.from(document.links).map(a => a.href)")
    seen["cell_texts"] = page.evaluate("() => Array.from(document.querySelectorAll('td, th')).map(c => c.textContent)")
    seen["page"], seen["context"] = page, context
    return seen


def page_path(rendered, page: str) -> Path:
    out = Path(rendered.result.output_dir)
    return out / "index.html" if page == "index" else out / f"{page}.html"


@pytest.mark.parametrize("page_id", ["index", *RUN_IDS])
def test_page_loads_offline_without_errors(browser, rendered, screenshot_dir, page_id):
    seen = open_page(browser, page_path(rendered, page_id))
    try:
        assert seen["console_errors"] == []
        assert seen["page_errors"] == []
        assert seen["dialogs"] == [], "a script ran (XSS payload?)"
        assert [u for u in seen["requests"] if not u.startswith(LOCAL_URL)] == []
        assert [i for i in seen["images"] if not (i["complete"] and i["width"] > 0)] == []
        if page_id != "index":
            assert seen["images"], "a report without a single figure"
        if page_id in SCREENSHOT_PAGES:
            name = page_id.replace("/", "__") + ".png"
            seen["page"].screenshot(path=str(screenshot_dir / name), full_page=True)
            if os.environ.get("ENSEMBLE_SAVE_SCREENSHOTS"):
                keep = ROOT / "benchmarks" / "results" / "screenshots"
                keep.mkdir(parents=True, exist_ok=True)
                shutil.copy2(screenshot_dir / name, keep / name)
    finally:
        seen["context"].close()


def test_hostile_regimen_names_show_as_text(browser, rendered):
    """The payloads are table text in the browser (escaped), and no dialog fired."""
    seen = open_page(browser, page_path(rendered, "full_cohort/01_cohort"))
    seen["context"].close()
    for payload in rendered.hostile:
        assert payload in seen["cell_texts"]
    assert seen["dialogs"] == []


def test_index_links_point_at_existing_files(browser, rendered):
    seen = open_page(browser, page_path(rendered, "index"))
    seen["context"].close()
    local = [unquote(urlparse(u).path) for u in seen["links"] if u.startswith("file:")]
    assert len(local) >= len(RUN_IDS), seen["links"]
    # files, and each report's figure folder (<notebook>_figures/, which must hold figures)
    assert [p for p in local if not (Path(p).is_file() or (Path(p).is_dir() and any(Path(p).iterdir())))] == []
    assert not [u for u in seen["links"] if not u.startswith(LOCAL_URL)], "index links to the network"


def test_the_checks_catch_a_bad_page(browser, tmp_path):
    """Control: a page that breaks every rule is caught by every check above."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>alert(1)</script><img src='http://example.invalid/x.png'>"
                   "<img src='missing.png'><script>console.error('boom'); undefinedFunction();</script>"
                   "</body></html>", encoding="utf-8")
    seen = open_page(browser, bad)
    seen["context"].close()
    assert seen["dialogs"] == ["alert: 1"]
    assert "http://example.invalid/x.png" in seen["requests"]
    assert any(not i["width"] for i in seen["images"])
    assert "boom" in seen["console_errors"]
    assert any("undefinedFunction" in e for e in seen["page_errors"])
