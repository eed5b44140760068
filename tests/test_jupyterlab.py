"""Issue 18: the JupyterLab path in a real browser.

JupyterLab is started on a free local port over a copy of the project (a git checkout with the
nbstripout filter that ``make`` configures); headless Chromium opens each workbook notebook, runs
"Run All Cells" from the Run menu, saves (as autosave would), and the saved notebook must hold no
error output. Then a scratch notebook is created in ``notebooks/`` (the trap the issue found) and
`make test`'s notebook checks and a dry run of the batch must be unaffected; interactive runs must
have written only to ``scratch/``, never a report folder.

Uses the system Chromium (Playwright cannot download its own browser here); skipped only where no
Chromium is installed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from ensemble_helpers.batch.plan import workbook_notebooks
from ensemble_helpers.synthetic import generate_cohort, write_cohort
from notebook_checks import notebook_problems

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
GIT = shutil.which("git")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (no `chromium` on PATH, no /usr/bin/chromium): install Debian's chromium (apt-get install chromium)"),
    pytest.mark.skipif(GIT is None, reason="git is not installed (the test works on a git checkout)"),
]


def _git(repo: Path, *args: str) -> None:
    subprocess.run([GIT, "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.org", *args],
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A checkout of the workbook: declared notebooks, parameter files, a data file, the filter."""
    root = tmp_path_factory.mktemp("lab") / "project"
    (root / "notebooks").mkdir(parents=True)
    for nb in workbook_notebooks(ROOT):
        shutil.copy(nb, root / "notebooks" / nb.name)
    shutil.copytree(ROOT / "params", root / "params")
    for name in ("pyproject.toml", ".gitattributes", ".gitignore"):
        shutil.copy(ROOT / name, root / name)
    (root / "ensemble_helpers").symlink_to(ROOT / "ensemble_helpers")  # the project root marker
    write_cohort(generate_cohort(n=300, n_sites=40, seed=3), root / "data" / "ensemble_synthetic.csv")
    _git(root, "init", "-q")
    _git(root, "config", "filter.nbstripout.clean", f"'{sys.executable}' -m nbstripout --keep-id")
    _git(root, "config", "filter.nbstripout.smudge", "cat")
    _git(root, "add", "notebooks", "params", "pyproject.toml", ".gitattributes", ".gitignore")
    _git(root, "commit", "-q", "-m", "workbook")
    return root


@pytest.fixture(scope="module")
def lab(project, tmp_path_factory):
    """(base URL, token) of a JupyterLab server over ``project``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    state = tmp_path_factory.mktemp("lab-state")
    env = dict(os.environ, JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
               JUPYTERLAB_SETTINGS_DIR=str(state / "settings"), JUPYTER_RUNTIME_DIR=str(state / "runtime"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    log = (state / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={project}"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"JupyterLab did not start: {(state / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    try:
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 900})
        finally:
            browser.close()


def _open(page, lab, path: str) -> None:
    base, token = lab
    page.goto(f"{base}/lab/tree/{path}?reset&token={token}")  # reset: only this notebook open
    page.wait_for_selector(".jp-Notebook", timeout=120_000)
    accept = page.locator(".jp-Dialog .jp-mod-accept")  # "Select Kernel" for a new notebook
    try:
        accept.wait_for(timeout=3_000)
        accept.click()
    except Exception:  # no dialog: the notebook names its kernel
        pass
    _wait_idle(page, 120_000)


def _wait_idle(page, timeout: int) -> None:
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.jp-Notebook-ExecutionIndicator'))"
        ".some(e => e.offsetParent !== null && e.dataset.status === 'idle')", timeout=timeout)


def _run_all_and_save(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-InputPrompt').length > 0 && !Array.from("
        "document.querySelectorAll('.jp-InputPrompt')).some(p => p.textContent.includes('*'))",
        timeout=300_000)
    _wait_idle(page, 60_000)
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1_500)


@pytest.mark.parametrize("notebook", [p.name for p in workbook_notebooks(ROOT)])
def test_run_all_in_jupyterlab_without_errors(project, lab, page, notebook):
    path = project / "notebooks" / notebook
    _open(page, lab, f"notebooks/{notebook}")
    _run_all_and_save(page)
    saved = nbformat.read(path, as_version=4)  # what autosave leaves in the working copy
    code = [c for c in saved.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "Run All did not run every cell"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{o.ename}: {o.evalue}" for o in errors]
    # an interactive run writes only where its parameters say: scratch/, never a report folder
    assert (project / "scratch" / "results.json").is_file()
    assert not (project / "reports").exists()


def test_a_scratch_notebook_breaks_nothing(project, lab, page):
    base, token = lab
    request = urllib.request.Request(f"{base}/api/contents/notebooks", method="POST",
                                     data=json.dumps({"type": "notebook"}).encode(),
                                     headers={"Authorization": f"token {token}"})
    created = json.load(urllib.request.urlopen(request, timeout=30))["path"]
    assert created == "notebooks/Untitled.ipynb"  # where the file browser puts it
    _open(page, lab, created)
    page.locator(".jp-Cell .cm-content").first.click()
    page.keyboard.type("1 + 1")
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(".jp-OutputArea-output:has-text('2')", timeout=60_000)
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1_500)
    _git(project, "add", "-A")  # a user staging everything, autosaved outputs included

    # make test's notebook checks: the workbook is unchanged, what is staged carries no output
    assert [p.name for p in workbook_notebooks(project)] == [p.name for p in workbook_notebooks(ROOT)]
    for nb in workbook_notebooks(project):
        assert notebook_problems(nb) == [], nb.name
        assert any(c.get("outputs") for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code")
    # a dry run of the batch plans the workbook's notebooks only
    done = subprocess.run([sys.executable, "-m", "ensemble_helpers.batch", "--dry-run", "--no-progress"],
                          cwd=project, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    assert "Untitled" not in done.stdout + done.stderr
    n_runs = len(list((project / "params").glob("*.yaml"))) * len(workbook_notebooks(project))
    assert f"to run ({n_runs})" in done.stdout
