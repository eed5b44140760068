"""Exploring in JupyterLab (issue 18): one obvious start, readable objects, and exploration that
never breaks the project (declared notebooks, scratch/, output-free commits)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib
import nbformat
import pytest

import ensemble_helpers
from ensemble_helpers import labels, open_cohort, report
from ensemble_helpers.batch.plan import collect_inputs, workbook_notebooks
from ensemble_helpers.cohort import Cohort, load_cohort
from ensemble_helpers.params import ParameterError, load_params
from ensemble_helpers.results import Results
from ensemble_helpers.synthetic import generate_cohort, write_cohort
from notebook_checks import committed_notebook, notebook_problems

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "ensemble_helpers" / "templates" / "explore.ipynb"


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("explore") / "cohort.csv"
    write_cohort(generate_cohort(n=300, n_sites=40, seed=5), path)
    return path


def test_open_cohort_by_name_path_params_and_overrides(data_file, monkeypatch):
    # from a notebook folder, as JupyterLab starts kernels: names and project paths still resolve
    monkeypatch.chdir(ROOT / "notebooks")
    by_name = open_cohort("full_cohort", data_path=str(data_file))
    assert isinstance(by_name, Cohort) and len(by_name.adsl) == 300
    assert by_name.params.source == "params/full_cohort.yaml"  # project-relative, no home folder
    by_path = open_cohort("params/tki.yaml", data_path=str(data_file))
    assert set(by_path.adsl["regimen_group"].astype(str)) == {"tki"}
    older = open_cohort(by_name.params, filters={"age": {"min": 65}})
    assert len(older.adsl) == int((by_name.adsl["age"] >= 65).sum())
    assert older.params.data_path == str(data_file)
    # the library functions take the same paths from any working directory
    assert load_params("params/full_cohort.yaml").title == load_params(ROOT / "params" / "full_cohort.yaml").title
    assert len(load_cohort(load_params("../params/tki.yaml", data_path=str(data_file))).adsl) == len(by_path.adsl)


def test_open_cohort_errors_are_clear(data_file):
    with pytest.raises(TypeError, match="parameter-file name"):
        open_cohort(3)
    with pytest.raises(TypeError, match="load_cohort takes Params or a parameter file path"):
        load_cohort(3)
    with pytest.raises(ParameterError, match="no parameter file named 'ful_cohort'.*full_cohort"):
        open_cohort("ful_cohort")
    with pytest.raises(ParameterError, match="min_cell_size"):
        open_cohort("full_cohort", data_path=str(data_file), min_cell_size="five")


def test_package_docstring_shows_where_to_start():
    doc = ensemble_helpers.__doc__
    for call in ("open_cohort(", "km_summary_by(", "km_plot(", "cox_hr(", "factors=", "table_one(", "filters="):
        assert call in doc, call
    assert "open_cohort" in dir(ensemble_helpers) or ensemble_helpers.open_cohort is open_cohort


def test_cohort_and_results_have_short_reprs(data_file):
    c = open_cohort("full_cohort", data_path=str(data_file), filters={"ecog": [0, 1]})
    text = repr(c)
    assert len(text.splitlines()) <= 8
    assert "300" in text and "ecog in {0, 1}" in text and "PFS" in text
    assert "patient_id" not in text  # no DataFrame dump
    html = c._repr_html_()
    assert html.startswith("<table>") and "<td" in html and "patient_id" not in html
    r = Results("02_endpoints")
    r.add("count", "patients", n=10, estimate=10, unit="count")
    assert repr(r) == "Results('02_endpoints': 1 records; count; .frame() shows them)"


def test_labels_inside_sentences_keep_acronyms(data_file):
    assert labels.in_sentence("ecog") == "ECOG performance status"
    assert labels.in_sentence("regimen_group") == "regimen class"
    assert labels.in_sentence("anti_her2_tki") == "anti-HER2 TKI"
    matplotlib.use("Agg")
    c = open_cohort("full_cohort", data_path=str(data_file))
    ax = report.km_figure(c, "PFS", by="ecog")
    assert ax.get_title(loc="left") == "Progression-free survival by ECOG performance status"


def test_scratch_notebooks_are_not_the_workbook(tmp_path):
    (tmp_path / "notebooks").mkdir()
    for name in ("01_cohort.ipynb", "02_endpoints.ipynb", "Untitled.ipynb", "02_endpoints-Copy1.ipynb",
                 "scratch.ipynb"):
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / "notebooks" / name)
    assert [p.name for p in workbook_notebooks(tmp_path)] == ["01_cohort.ipynb", "02_endpoints.ipynb"]
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "a.yaml").write_text("title: a\ndata_path: x.csv\n")
    _, notebooks = collect_inputs(None, None, tmp_path)
    assert [p.name for p in notebooks] == ["01_cohort.ipynb", "02_endpoints.ipynb"]
    # asked by name, a scratch notebook still runs
    _, notebooks = collect_inputs(None, ["Untitled"], tmp_path)
    assert [p.name for p in notebooks] == ["Untitled.ipynb"]


def test_starter_notebook_is_clean_and_runs(data_file, tmp_path):
    stored = committed_notebook(STARTER)
    assert all(not c.outputs and c.execution_count is None for c in stored.cells if c.cell_type == "code")
    assert all(len(c.source.splitlines()) <= 4 for c in stored.cells if c.cell_type == "code")
    import papermill

    out = tmp_path / "explore.ipynb"
    papermill.execute_notebook(str(STARTER), str(out), cwd=str(ROOT), progress_bar=False,
                               parameters={"overrides": {"data_path": str(data_file)}})
    done = nbformat.read(out, as_version=4)
    outputs = [o for c in done.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "<Axes" not in text and "Cohort(params/full_cohort.yaml)" in text
    assert "ecog=2" in text  # the factor's readable terms


def test_nbstripout_filter_keeps_outputs_out_of_commits(tmp_path):
    """The .gitattributes + the filter `make` configures: a notebook saved with outputs (JupyterLab
    autosave) is staged without them, and the notebook checks then pass on what is committed."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    assert "*.ipynb filter=nbstripout" in (ROOT / ".gitattributes").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "filter.nbstripout.clean" in makefile
    clean = re.search(r'filter\.nbstripout\.clean "(.*?)"', makefile).group(1)
    assert "--keep-id" in clean  # cell ids stay as committed: saving a notebook is not a diff of every cell
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / ".gitattributes", repo / ".gitattributes")
    shutil.copy(ROOT / "notebooks" / "02_endpoints.ipynb", repo / "notebooks" / "02_endpoints.ipynb")

    def run(*args: str) -> None:
        subprocess.run([git, "-C", str(repo), *args], check=True, capture_output=True)

    run("init", "-q")
    run("config", "filter.nbstripout.clean", f"'{sys.executable}' -m nbstripout --keep-id")
    run("config", "filter.nbstripout.smudge", "cat")
    nb_path = repo / "notebooks" / "02_endpoints.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    ids = [c.id for c in nb.cells]
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = i + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="autosaved\n")]
    nbformat.write(nb, nb_path)
    run("add", "notebooks/02_endpoints.ipynb")
    staged = committed_notebook(nb_path)
    assert all(not c.outputs and c.execution_count is None for c in staged.cells if c.cell_type == "code")
    assert [c.id for c in staged.cells] == ids
    assert notebook_problems(nb_path) == []  # the working copy has outputs; what is committed has none
