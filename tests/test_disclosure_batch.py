"""The disclosure policy applied by ``ensemble-run`` to the files it publishes (issue 12).

On the light fixture notebook (standard library only) with a data file of a few patients:
``results.json``, ``summary.csv`` and ``index.html`` hold no count below ``min_cell_size`` and no
estimate of a group that small; the raw records only with ``internal_results: true``, owner-only
in ``<output-dir>/internal/``; every shared file 0644, every shared folder 0755.
"""
from __future__ import annotations

import csv
import json
import shutil
import stat
from pathlib import Path

import pytest

from ensemble_helpers import disclosure
from ensemble_helpers.batch import run_batch
from ensemble_helpers.batch.index import WITHHELD

FIXTURES = Path(__file__).parent / "fixtures"
LIGHT = FIXTURES / "light.ipynb"
K = 5


def small_repo(tmp_path: Path, patients: int) -> Path:
    """A miniature repository whose data file keeps the first ``patients`` fixture patients."""
    (tmp_path / "data").mkdir()
    lines = (FIXTURES / "patients.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "data" / "patients.csv").write_text("\n".join(lines[: patients + 1]) + "\n", encoding="utf-8")
    (tmp_path / "params").mkdir()
    return tmp_path


def write_params(repo: Path, name: str, **extra: object) -> Path:
    values = {"title": f"Set {name}", "data_path": "data/patients.csv", "min_cell_size": K, **extra}
    path = repo / "params" / f"{name}.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()), encoding="utf-8")
    return path


def small_counts(record: dict) -> list[str]:
    return [f for f in ("n", "events") if isinstance(record.get(f), (int, float)) and 1 <= record[f] < K]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def tiny_batch(tmp_path_factory: pytest.TempPathFactory):
    """Three patients, one parameter set with internal_results, one without."""
    repo = small_repo(tmp_path_factory.mktemp("tiny"), 3)
    params = [write_params(repo, "shared"), write_params(repo, "team", internal_results=True)]
    result = run_batch(params, [LIGHT], repo / "reports", cwd=repo, progress=False, jobs=2)
    assert [r.status for r in result.runs] == ["ok", "ok"], [str(r.error) for r in result.runs]
    return repo / "reports"


def test_results_json_has_no_small_count_and_no_statistic_of_a_small_group(tiny_batch: Path) -> None:
    for param_set in ("shared", "team"):
        records = json.loads((tiny_batch / param_set / "light.results.json").read_text())
        assert records, "the notebook wrote records"
        assert [r for r in records if small_counts(r)] == []
        assert all(r["estimate"] is None and r["lower"] is None for r in records)
        assert all("estimate" in r["suppressed"] for r in records)


def test_summary_and_index_follow_the_same_rule(tiny_batch: Path) -> None:
    with open(tiny_batch / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["n"] == "" and r["estimate"] == "" for r in rows)
    assert all("primary" in r["suppressed"] for r in rows)
    index = (tiny_batch / "index.html").read_text(encoding="utf-8")
    assert index.count(WITHHELD) == 3 * 2  # median PFS, median OS and ORR of both sets
    assert "5.5 (4.0" not in index  # the fixture's median and its interval
    assert "internal" not in index


def test_raw_results_only_with_internal_results_and_owner_only(tiny_batch: Path) -> None:
    internal = tiny_batch / disclosure.INTERNAL_DIR
    assert sorted(p.relative_to(internal).as_posix() for p in internal.rglob("*")) == [
        "team", "team/light.results.json"]
    raw = json.loads((internal / "team" / "light.results.json").read_text())
    assert {r["n"] for r in raw} == {3}  # unsuppressed
    assert mode(internal) == mode(internal / "team") == 0o700
    assert mode(internal / "team" / "light.results.json") == 0o600
    manifest = (tiny_batch / "manifest.json").read_text()
    assert "internal" not in manifest


def test_every_shared_file_is_0644_and_every_shared_folder_0755(tiny_batch: Path) -> None:
    internal = tiny_batch / disclosure.INTERNAL_DIR
    shared = [p for p in tiny_batch.rglob("*") if internal not in (p, *p.parents)]
    assert len(shared) > 10
    wrong = {p.relative_to(tiny_batch).as_posix(): oct(mode(p)) for p in shared
             if mode(p) != (0o755 if p.is_dir() else 0o644)}
    assert wrong == {}


def test_turning_internal_results_off_removes_the_raw_copy(tmp_path: Path) -> None:
    repo = small_repo(tmp_path, 8)
    run = lambda **extra: run_batch([write_params(repo, "team", **extra)], [LIGHT], repo / "reports",  # noqa: E731
                                    cwd=repo, progress=False, jobs=1)
    run(internal_results=True)
    raw = repo / "reports" / "internal" / "team" / "light.results.json"
    assert json.loads(raw.read_text())[0]["events"] == 7  # 8 - 1: shown raw only here
    shared = json.loads((repo / "reports" / "team" / "light.results.json").read_text())
    assert shared[0]["n"] == 8 and shared[0]["events"] is None  # 1 censored patient: hidden
    run(internal_results=False)
    assert not raw.exists()


def test_internal_results_must_be_a_boolean(tmp_path: Path) -> None:
    repo = small_repo(tmp_path, 8)
    result = run_batch([write_params(repo, "team", internal_results="yes")], [LIGHT], repo / "reports",
                       cwd=repo, progress=False, jobs=1)
    assert result.runs[0].status == "failed"
    assert "internal_results" in str(result.runs[0].error)
    shutil.rmtree(repo / "reports")


# ---------------------------------------------------------------------------------------------
# Executed notebooks and failed reports: project-relative paths, no identifier
# ---------------------------------------------------------------------------------------------
def test_published_notebooks_carry_project_relative_paths_only(tiny_batch: Path) -> None:
    repo = tiny_batch.parent
    for param_set in ("shared", "team"):
        text = (tiny_batch / param_set / "light.ipynb").read_text(encoding="utf-8")
        html = (tiny_batch / param_set / "light.html").read_text(encoding="utf-8")
        for published in (text, html):
            assert str(repo) not in published and "/tmp/" not in published
        assert f"params/{param_set}.yaml" in text  # the injected params_file, made relative


def test_rejected_data_file_names_rows_not_patients(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A data file with a duplicated patient id fails 01_cohort in its kernel: the published
    failed report, manifest and index name the rows; the ids are in the terminal and in the
    owner-only errors log only."""
    from ensemble_helpers.batch.publish import ERRORS_LOG
    from ensemble_helpers.synthetic import generate_cohort, write_cohort

    root = Path(__file__).resolve().parents[1]
    cohort = generate_cohort(n=40, n_sites=5, seed=3)
    cohort["patient_id"] = [f"PTID-{i:05d}" for i in range(len(cohort))]
    cohort.loc[cohort.index[7], "patient_id"] = cohort["patient_id"].iloc[3]  # rows 4 and 8
    duplicated = cohort["patient_id"].iloc[3]
    data = write_cohort(cohort, tmp_path / "cohort.csv")
    params = tmp_path / "bad.yaml"
    params.write_text(f"title: bad file\ndata_path: {data}\nmin_cell_size: 5\n", encoding="utf-8")
    out = tmp_path / "reports"
    with caplog.at_level("WARNING"):
        result = run_batch([params], [root / "notebooks" / "01_cohort.ipynb"], out, cwd=root,
                           progress=False, jobs=1)
    (run,) = result.runs
    assert run.status == "failed"
    published = {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
                 for p in out.rglob("*") if p.is_file() and disclosure.INTERNAL_DIR not in p.parts}
    assert {"bad/01_cohort.failed.html", "bad/01_cohort.failed.ipynb", "manifest.json", "index.html"} <= set(published)
    for name, text in published.items():
        assert duplicated not in text, name
        assert str(tmp_path) not in text, name
    for name in ("bad/01_cohort.failed.html", "manifest.json", "index.html"):
        assert "[id] (row 4)" in published[name] and "(row 8)" in published[name], name
    log = out / disclosure.INTERNAL_DIR / ERRORS_LOG
    assert f"{duplicated} (row 4)" in log.read_text() and mode(log) == 0o600
    assert duplicated in caplog.text  # the terminal


# ---------------------------------------------------------------------------------------------
# Identifier-safe parameters: refused by name before any kernel starts
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra, key", [
    ({"filters": {"patient_id": ["PTID-1"]}}, "filters.patient_id"),
    ({"filters": {"site_id": ["SITE-1"]}}, "filters.site_id"),
    ({"filters": {"tdxd_start": {"min": 0}}}, "filters.tdxd_start"),
    ({"subgroup_variables": ["regimen_group", "site_id"]}, "subgroup_variables"),
    ({"subgroup_variables": ["death_date"]}, "subgroup_variables"),
    ({"subgroup_variables": ["age"]}, "subgroup_variables"),
    ({"comparison": {"variable": "patient_id", "levels": ["A", "B"]}}, "comparison.variable"),
    ({"comparison": {"variable": "age", "levels": [60, 70]}}, "comparison.variable"),
])
def test_identifier_date_and_continuous_columns_are_refused(extra: dict, key: str) -> None:
    from ensemble_helpers.params import ParameterError, params_from_mapping

    with pytest.raises(ParameterError) as info:
        params_from_mapping({"title": "t", "data_path": "d.csv", **extra}, source="p.yaml")
    assert info.value.key == key


def test_binned_continuous_variable_and_ranges_are_accepted() -> None:
    from ensemble_helpers.params import params_from_mapping

    p = params_from_mapping({"title": "t", "data_path": "d.csv", "filters": {"age": {"min": 65}},
                             "derived_variables": {"age_group": {"from": "age", "breaks": [65],
                                                                 "labels": ["<65", ">=65"]}},
                             "subgroup_variables": ["age_group"]})
    assert p.subgroup_variables == ("age_group",)


def test_batch_refuses_an_identifier_subgroup_without_starting_a_kernel(tmp_path: Path) -> None:
    repo = small_repo(tmp_path, 8)
    result = run_batch([write_params(repo, "sites", subgroup_variables=["site_id"])], [LIGHT], repo / "reports",
                       cwd=repo, progress=False, jobs=1)
    (run,) = result.runs
    assert run.status == "failed" and run.error.ename == "InvalidParameters"
    assert "subgroup_variables" in run.error.evalue and "site_id identifies a site" in run.error.evalue
    assert not (repo / "reports" / "sites").exists()  # nothing ran, nothing published


def test_a_numeric_column_with_many_values_is_not_a_subgroup() -> None:
    import pandas as pd

    from ensemble_helpers.params import ParameterError, params_from_mapping
    from ensemble_helpers.report import _check_subgroup_data

    params = params_from_mapping({"title": "t", "data_path": "d.csv", "subgroup_variables": ["prior_lines"]})
    _check_subgroup_data(params, pd.DataFrame({"prior_lines": [0, 1, 2, 3] * 5}))
    with pytest.raises(ParameterError, match="prior_lines is continuous"):
        _check_subgroup_data(params, pd.DataFrame({"prior_lines": range(30)}))


def test_logrank_leaves_out_groups_below_min_cell_size() -> None:
    """A log-rank p-value is a statistic of every group it compares: a group of 3 is left out,
    as the Cox models leave it out."""
    from types import SimpleNamespace

    import pandas as pd

    from ensemble_helpers import analysis, stats

    rng = __import__("numpy").random.default_rng(1)
    frame = pd.DataFrame({"AVAL": rng.exponential(5, 43), "event": rng.integers(0, 2, 43),
                          "g": ["a"] * 20 + ["b"] * 20 + ["c"] * 3})
    cohort = SimpleNamespace(endpoint=lambda ep: frame, params=SimpleNamespace(min_cell_size=5))
    test = analysis.logrank_by(cohort, "PFS", "g").iloc[0]
    assert (test["n"], test["n_groups"]) == (40, 2)
    assert test["p"] == stats.logrank(frame[frame["g"] != "c"], "AVAL", "event", "g").iloc[0]["p"]
