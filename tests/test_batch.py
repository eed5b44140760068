"""Tests for ensemble_helpers.batch (``ensemble-run``), on small fixture notebooks.

Fixtures (tests/fixtures/): ``light.ipynb`` (standard library only; ``fail_mode`` parameter makes it
raise, kill its kernel or kill the worker process), ``stack.ipynb`` (pandas, lifelines, a matplotlib
figure), ``raises.ipynb`` (always raises in its third cell), ``patients.csv`` (40 made-up patients).
Each kernel costs 1-3 s, so every test runs as few notebooks as it can.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ensemble_helpers import batch
from ensemble_helpers.batch import plan, runner
from ensemble_helpers.batch import (
    BatchError,
    BatchResult,
    external_resources,
    format_estimate,
    main,
    run_batch,
    select_key_estimates,
)

FIXTURES = Path(__file__).parent / "fixtures"
LIGHT = FIXTURES / "light.ipynb"
STACK = FIXTURES / "stack.ipynb"
RAISES = FIXTURES / "raises.ipynb"


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A miniature repository: data/patients.csv and params/ (relative data_path, like the real one)."""
    (tmp_path / "data").mkdir()
    shutil.copy(FIXTURES / "patients.csv", tmp_path / "data" / "patients.csv")
    (tmp_path / "params").mkdir()
    return tmp_path


def write_params(repo: Path, name: str, fail_mode: str = "", **extra: object) -> Path:
    """A valid parameter file; ``fail_mode`` goes into the title, where light.ipynb reads it."""
    title = f"Set {name} <&>" + (f" fail_mode={fail_mode}" if fail_mode else "")
    values = {"title": title, "data_path": "data/patients.csv", "conf_level": 0.95, **extra}
    lines = [f"{key}: {json.dumps(value)}" for key, value in values.items()]
    path = repo / "params" / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def batch_in(repo: Path, params: list[Path], notebooks: list[Path], **kwargs: object) -> BatchResult:
    kwargs.setdefault("progress", False)
    return run_batch(params, notebooks, repo / "reports", cwd=repo, **kwargs)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def by_id(result: BatchResult) -> dict[str, batch.RunResult]:
    return {run.run_id: run for run in result.runs}


# ---------------------------------------------------------------------------------------------
# End to end
# ---------------------------------------------------------------------------------------------
def test_successful_batch_writes_offline_reports_index_and_summary(repo: Path) -> None:
    params = [write_params(repo, "alpha"), write_params(repo, "beta")]
    result = batch_in(repo, params, [STACK], jobs=2)

    assert [run.status for run in result.runs] == ["ok", "ok"]
    assert result.exit_code == 0
    out = repo / "reports"
    page = (out / "alpha" / "stack.html").read_text(encoding="utf-8")
    # offline: no script/stylesheet/image fetched from the network
    assert external_resources(page) == []
    assert '<script src="http' not in page
    assert "data:image/png;base64," in page  # the matplotlib figure is embedded
    assert "KaplanMeierFitter(" not in page  # code hidden by default
    assert "Set alpha &lt;&amp;&gt; - stack" in page  # title from the YAML, escaped
    # provenance footer: parameter file hash, notebook hash, data hash, versions
    param_hash = sha256(params[0])
    assert f"sha256 {param_hash}" in page
    assert f"sha256 {sha256(STACK)}" in page
    assert f"sha256 {sha256(repo / 'data' / 'patients.csv')}" in page
    assert "lifelines" in page and "papermill" in page
    assert (out / "alpha" / "stack.ipynb").is_file()
    records = json.loads((out / "alpha" / "stack.results.json").read_text())
    assert {r["endpoint"] for r in records} == {"PFS", "OS", "ORR"}

    index = (out / "index.html").read_text(encoding="utf-8")
    assert external_resources(index) == []
    assert 'href="alpha/stack.html"' in index and 'href="beta/stack.ipynb"' in index
    pfs = next(r for r in records if r["endpoint"] == "PFS")
    assert format_estimate(pfs) in index  # key estimate shown
    assert index.count(format_estimate(pfs)) == 2  # side by side for both parameter sets

    with open(out / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6
    assert {r["param_set"] for r in rows} == {"alpha", "beta"}
    assert {r["notebook"] for r in rows} == {"stack"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"]["alpha/stack"]["report"]["inputs"]["param_sha256"] == param_hash
    assert not list(out.glob(".tmp-*"))


def test_failing_run_is_isolated_and_reported(repo: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    write_params(repo, "alpha")
    monkeypatch.chdir(repo)  # the CLI runs from the repository root, with default params/
    code = main(["--notebooks", str(LIGHT), "--notebooks", str(RAISES), "--no-progress", "--jobs", "2",
                 "--show-code"])

    assert code != 0
    err = capsys.readouterr().err
    assert "alpha/raises" in err
    assert "In [" in err and 'raise ValueError("fixture failure' in err  # cell + source excerpt
    assert "ValueError: fixture failure: deliberately broken cell" in err
    out = repo / "reports" / "alpha"
    assert (out / "light.html").is_file()  # the other run completed
    assert "DictReader" in (out / "light.html").read_text()  # --show-code keeps code
    assert (out / "raises.failed.ipynb").is_file()
    failed_page = (out / "raises.failed.html").read_text()
    assert "This run failed" in failed_page and "ValueError" in failed_page
    assert "before the failure" in failed_page  # outputs up to the failing cell
    assert not (out / "raises.html").exists()
    index = (repo / "reports" / "index.html").read_text()
    assert "failed" in index and 'href="alpha/raises.failed.html"' in index


def test_failure_keeps_previous_good_report_and_marks_it_stale(repo: Path) -> None:
    params = write_params(repo, "alpha")
    first = batch_in(repo, [params], [LIGHT], jobs=1)
    assert first.runs[0].status == "ok"
    good = (repo / "reports" / "alpha" / "light.html").read_bytes()

    write_params(repo, "alpha", fail_mode="raise")
    second = batch_in(repo, [params], [LIGHT], jobs=1)

    run = second.runs[0]
    assert run.status == "failed" and run.stale
    assert run.error is not None and run.error.ename == "RuntimeError"
    out = repo / "reports" / "alpha"
    assert (out / "light.html").read_bytes() == good
    assert (out / "light.results.json").is_file()
    # the good run's table and figure files stay beside its report, linked from the index
    assert (out / "light.docx").is_file() and (out / "light_figures" / "orr.svg").is_file()
    assert not (out / "light_files").exists()
    assert (out / "light.failed.html").is_file() and (out / "light.failed.ipynb").is_file()
    index = (repo / "reports" / "index.html").read_text()
    assert "stale" in index and 'href="alpha/light.failed.html"' in index
    assert 'href="alpha/light.docx"' in index and 'href="alpha/light_figures"' in index
    with open(repo / "reports" / "summary.csv", newline="") as fh:
        assert {r["report_status"] for r in csv.DictReader(fh)} == {"stale"}


def test_unchanged_runs_are_skipped_force_reruns_and_changes_rerun_only_their_runs(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the real helper-package hash changes whenever someone edits ensemble_helpers/: pin it
    monkeypatch.setattr(plan, "package_hash", lambda package_dir=None: "pinned")
    alpha, beta = write_params(repo, "alpha"), write_params(repo, "beta")

    def statuses(**kwargs: object) -> dict[str, str]:
        return {k: r.status for k, r in by_id(batch_in(repo, [alpha, beta], [LIGHT], jobs=2, **kwargs)).items()}

    assert statuses() == {"alpha/light": "ok", "beta/light": "ok"}
    assert statuses() == {"alpha/light": "skipped", "beta/light": "skipped"}
    assert "skipped-unchanged" in (repo / "reports" / "index.html").read_text()
    assert statuses(force=True) == {"alpha/light": "ok", "beta/light": "ok"}
    write_params(repo, "beta", conf_level=0.9)
    assert statuses() == {"alpha/light": "skipped", "beta/light": "ok"}

    # the other inputs of the fingerprint, checked without running kernels again
    def up_to_date(**kwargs: object) -> list[bool]:
        specs = plan._plan([alpha, beta], [LIGHT], repo / "reports", repo, **{"show_code": False, **kwargs})
        return [plan._is_up_to_date(spec) for spec in specs]

    assert up_to_date() == [True, True]
    assert up_to_date(show_code=True) == [False, False]
    monkeypatch.setattr(plan, "package_hash", lambda package_dir=None: "edited helpers")
    assert up_to_date() == [False, False]
    monkeypatch.setattr(plan, "package_hash", lambda package_dir=None: "pinned")
    with open(repo / "data" / "patients.csv", "a") as fh:
        fh.write("P999,1.0,1,2.0,1,PR\n")
    assert up_to_date() == [False, False]


def test_killed_kernel_and_killed_worker_fail_only_their_runs(repo: Path) -> None:
    good = write_params(repo, "good")
    doomed = write_params(repo, "doomed")
    kernel = write_params(repo, "kernel", fail_mode="kill_kernel")
    first = batch_in(repo, [good, doomed], [LIGHT], jobs=2)
    assert {r.status for r in first.runs} == {"ok"}
    kept = (repo / "reports" / "doomed" / "light.html").read_bytes()

    write_params(repo, "doomed", fail_mode="kill_worker")
    result = batch_in(repo, [good, doomed, kernel], [LIGHT], jobs=2, force=True)

    runs = by_id(result)
    assert runs["good/light"].status == "ok"
    assert runs["kernel/light"].status == "failed"
    assert runs["kernel/light"].error.ename == "DeadKernelError"
    worker = runs["doomed/light"]
    assert worker.status == "failed" and worker.stale
    assert worker.error.ename == "BrokenProcessPool"
    assert "os.kill" in worker.error.source  # the cell that was running
    out = repo / "reports" / "doomed"
    assert (out / "light.html").read_bytes() == kept  # previous good report untouched
    assert (out / "light.failed.ipynb").is_file() and (out / "light.failed.html").is_file()
    assert not list((repo / "reports").glob(".tmp-*"))

    # a second invocation (the causes fixed) finishes the batch without redoing what succeeded
    write_params(repo, "doomed", conf_level=0.9)  # changed since its kept report
    write_params(repo, "kernel")
    second = by_id(batch_in(repo, [good, doomed, kernel], [LIGHT], jobs=2))
    assert second["good/light"].status == "skipped"
    assert second["doomed/light"].status == "ok" and second["kernel/light"].status == "ok"
    assert (out / "light.html").read_bytes() != kept  # replaced by the new good report


def test_checkpoint_at_cell_start_holds_the_running_cell_and_earlier_outputs(repo: Path) -> None:
    # what a killed worker leaves behind: the runner's Papermill engine writes the notebook when a
    # cell starts (not again when it completes); the probe cell reads that checkpoint from disk
    import nbformat

    probe = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                              "display_name": "Python 3"}})
    probe.cells = [
        nbformat.v4.new_code_cell('output_dir = "."', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('print("first output")'),
        nbformat.v4.new_code_cell(
            "import json, pathlib  # CHECKPOINT-PROBE\n"
            "saved = json.loads((pathlib.Path(output_dir).parent / 'probe.ipynb').read_text())\n"
            "cells = [c for c in saved['cells'] if c['cell_type'] == 'code']\n"
            "me = next(c for c in cells if 'CHECKPOINT-PROBE' in ''.join(c['source']))\n"
            "assert me['metadata']['papermill']['status'] == 'running', me['metadata']\n"
            "assert 'first output' in json.dumps(cells[-2]['outputs']), cells[-2]\n"
            "pathlib.Path(output_dir, 'results.json').write_text('[]')"),
    ]
    path = repo / "probe.ipynb"
    nbformat.write(probe, path)
    result = batch_in(repo, [write_params(repo, "alpha")], [path], jobs=1)
    run = result.runs[0]
    assert run.status == "ok", run.error
    final = nbformat.read(run.paths["ipynb"], as_version=4)  # the published notebook: standard
    nbformat.validate(final)
    assert [c.metadata.papermill.status for c in final.cells] == ["completed"] * len(final.cells)


def test_kernel_threads_share_the_cores_between_parallel_kernels() -> None:
    from ensemble_helpers.batch.execute import kernel_environment, kernel_threads

    assert kernel_threads(2, cpus=2) == 1 and kernel_threads(1, cpus=2) == 2
    assert kernel_threads(3, cpus=8) == 2 and kernel_threads(16, cpus=8) == 1
    env = kernel_environment({"PATH": "/bin", "OMP_NUM_THREADS": "4"}, 1)
    assert env["OPENBLAS_NUM_THREADS"] == "1" and env["MKL_NUM_THREADS"] == "1"
    assert env["OMP_NUM_THREADS"] == "4"  # the user's own setting wins
    assert env["MPLBACKEND"] == "module://matplotlib_inline.backend_inline"
    assert "OPENBLAS_NUM_THREADS" not in kernel_environment({}, 0)  # 0: library default


def test_parallel_kernels_get_their_share_of_blas_threads(repo: Path, monkeypatch) -> None:
    import os

    import nbformat

    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    probe = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                              "display_name": "Python 3"}})
    probe.cells = [
        nbformat.v4.new_code_cell('output_dir = "."', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import json, os, pathlib\n"
            "pathlib.Path(output_dir, 'results.json').write_text(json.dumps([{'notebook': 'probe',"
            " 'section': 'env', 'quantity': os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}]))"),
    ]
    path = repo / "probe.ipynb"
    nbformat.write(probe, path)
    result = batch_in(repo, [write_params(repo, "alpha"), write_params(repo, "beta")], [path], jobs=2)
    assert [r.status for r in result.runs] == ["ok", "ok"], [r.error for r in result.runs]
    expected = str(max(1, (os.cpu_count() or 1) // 2))
    for run in result.runs:
        seen = json.loads(Path(run.paths["results"]).read_text())
        assert [r.get("quantity") for r in seen] == [expected]


def _can_unshare() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


def test_dask_workers_need_no_shared_disk(repo: Path, tmp_path: Path) -> None:
    """Issue 19: a scheduler and workers started as separate processes (``dask scheduler``,
    ``dask worker``) in their own folder; where Linux allows it, the workers run in a mount
    namespace in which the repository's data and reports folders are empty, so they can only
    work from what the client sends."""
    distributed = pytest.importorskip("distributed")
    import os
    import time

    dask = Path(sys.executable).with_name("dask")
    if not dask.exists():
        pytest.skip("the dask command line is not installed")
    params = [write_params(repo, "alpha"), write_params(repo, "beta", fail_mode="raise")]
    (repo / "reports").mkdir()
    cluster = tmp_path / "cluster"
    (cluster / "workers").mkdir(parents=True)
    scheduler_file = cluster / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    logs = [open(cluster / name, "wb") for name in ("scheduler.log", "worker.log")]  # noqa: SIM115
    worker_cmd = f"exec {dask} worker --scheduler-file {scheduler_file} --nworkers 2 --nthreads 1" \
                 " --no-dashboard"
    if _can_unshare():
        worker_cmd = (f"mount -t tmpfs tmpfs {repo / 'data'} && mount -t tmpfs tmpfs"
                      f" {repo / 'reports'} && {worker_cmd}")
        worker_args = ["unshare", "-rm", "sh", "-c", worker_cmd]
    else:
        worker_args = ["sh", "-c", worker_cmd]
    processes = [subprocess.Popen([str(dask), "scheduler", "--scheduler-file", str(scheduler_file),
                                   "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
                                  cwd=cluster, env=env, stdout=logs[0], stderr=logs[0])]
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        processes.append(subprocess.Popen(worker_args, cwd=cluster / "workers", env=env,
                                          stdout=logs[1], stderr=logs[1]))
        with distributed.Client(scheduler_file=str(scheduler_file), timeout=120) as client:
            client.wait_for_workers(2, timeout=240)
            address = client.scheduler_info()["address"]
        result = batch_in(repo, params, [LIGHT, RAISES], dask_scheduler=address)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()
    runs = by_id(result)
    assert runs["alpha/light"].status == "ok", (runs["alpha/light"].error,
                                                (cluster / "worker.log").read_text()[-3000:])
    assert runs["alpha/raises"].status == "failed" and runs["alpha/raises"].error.ename == "ValueError"
    assert runs["beta/light"].error.ename == "RuntimeError"
    out = repo / "reports"
    page = (out / "alpha" / "light.html").read_text()
    assert external_resources(page) == [] and "40 patients" in page
    assert f"sha256 {sha256(repo / 'data' / 'patients.csv')}" in page  # the bytes sent
    assert (out / "alpha" / "light.results.json").is_file()
    # the publication files a worker made come back and go beside the report (issue 13)
    assert (out / "alpha" / "light.docx").read_bytes() == b"tables"
    assert (out / "alpha" / "light_figures" / "orr.svg").read_text() == "<svg/>"
    assert (out / "alpha" / "raises.failed.html").is_file() and (out / "beta" / "light.failed.ipynb").is_file()
    assert not list(out.glob(".tmp-*"))
    assert not list((cluster / "workers").rglob("*.ipynb"))  # nothing left in the workers' folder
    assert result.exit_code == 1


# ---------------------------------------------------------------------------------------------
# Command line (no notebooks executed)
# ---------------------------------------------------------------------------------------------
def test_main_parses_arguments_and_calls_run_batch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[tuple, dict]] = []

    def fake_run_batch(*args: object, **kwargs: object) -> BatchResult:
        calls.append((args, kwargs))
        failed = batch.RunResult("p", "nb", "failed", 1.0, batch.RunError("KeyError", "'x'", 3, 2, "d['x']"))
        return BatchResult(tmp_path, [failed], tmp_path / "index.html", tmp_path / "s.csv", tmp_path / "m.json")

    monkeypatch.setattr(runner, "run_batch", fake_run_batch)
    code = main(["a.yaml", "b.yaml", "--notebooks", "x.ipynb", "--output-dir", "out", "--jobs", "3",
                 "--show-code", "--force", "--dask-scheduler", "tcp://127.0.0.1:8786", "--no-progress"])
    assert code == 1
    args, kwargs = calls[-1]
    assert args == (["a.yaml", "b.yaml"], ["x.ipynb"], "out")
    assert kwargs == {"jobs": 3, "show_code": True, "force": True,
                      "dask_scheduler": "tcp://127.0.0.1:8786", "progress": False, "parameters": {}}

    main([])
    args, kwargs = calls[-1]
    assert args == ([], None, "reports")
    assert kwargs == {"jobs": None, "show_code": False, "force": False, "dask_scheduler": None,
                      "progress": True, "parameters": {}}
    # papermill style: --notebooks repeats (or takes commas) and never swallows parameter files;
    # -p values are YAML, -y is a YAML mapping, -p wins over -y
    main(["--notebooks", "01_cohort", "a.yaml", "--notebooks", "02_endpoints,03_subgroups", "b.yaml",
          "-y", "{min_cell_size: 10, timepoints: [6, 12]}", "-p", "min_cell_size", "11",
          "-p", "title", "Overridden", "-p", "published_comparison", "true", "--log-level", "info"])
    args, kwargs = calls[-1]
    assert args == (["a.yaml", "b.yaml"], ["01_cohort", "02_endpoints", "03_subgroups"], "reports")
    assert kwargs["parameters"] == {"min_cell_size": 11, "timepoints": [6, 12], "title": "Overridden",
                                    "published_comparison": True}
    for bad in (["--jobs", "0"], ["-y", "[1, 2]"], ["-y", "{a: &x 1, b: *x}"], ["--log-level", "loud"]):
        with pytest.raises(SystemExit):
            main(bad)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib import metadata

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"ensemble-run {metadata.version('ensemble-helpers')}"


def test_main_reports_setup_errors_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--no-progress"]) == 2
    assert "parameter file not found" in capsys.readouterr().err


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run([sys.executable, "-m", "ensemble_helpers.batch", "--help"],
                          capture_output=True, text=True, check=True)
    assert "--dask-scheduler" in proc.stdout and "--show-code" in proc.stdout


def test_bad_names_stop_the_batch_before_anything_is_written(repo: Path) -> None:
    other = repo / "other"
    other.mkdir()
    shutil.copy(LIGHT, other / "light.ipynb")
    with pytest.raises(BatchError, match="share the name 'light'"):
        batch_in(repo, [write_params(repo, "alpha")], [LIGHT, other / "light.ipynb"])
    with pytest.raises(BatchError, match="no notebooks"):
        batch_in(repo, [repo / "params" / "alpha.yaml"], [repo / "data"])
    shutil.copy(LIGHT, other / ".hidden.ipynb")
    with pytest.raises(BatchError, match="not a safe report name"):
        batch_in(repo, [repo / "params" / "alpha.yaml"], [other / ".hidden.ipynb"])
    assert not (repo / "reports").exists()


BILLION_LAUGHS = "".join(
    ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n']
    + [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)]
)


def test_invalid_parameter_files_fail_their_own_runs_before_any_kernel_starts(
        repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 19, "Why": dot-dot names, billion laughs, duplicate keys, a folder as data_path,
    misspelt columns and infinite timepoints are each reported once, before anything runs."""
    good = write_params(repo, "good")
    params = repo / "params"
    (params / "laughs.yaml").write_text(BILLION_LAUGHS)
    (params / "dup.yaml").write_text(good.read_text() + "min_cell_size: 5\nmin_cell_size: 1\n")
    (params / "folder.yaml").write_text(good.read_text().replace("data/patients.csv", "data"))
    (params / "typos.yaml").write_text(
        good.read_text() + "subgroup_variables: [respnse]\ntimepoints: [.inf]\n"
                           "filters: {sex: [F]}\nmin_cell_size: 1\n")
    (params / "list.yaml").write_text("- just\n- a list\n")
    (params / "...yaml").write_text(good.read_text())  # stem ".."
    notebooks = repo / "notebooks"
    notebooks.mkdir()
    shutil.copy(LIGHT, notebooks / "light.ipynb")
    before = (notebooks / "light.ipynb").read_bytes()
    bad = ["laughs", "dup", "folder", "typos", "list", ".."]

    with caplog.at_level("ERROR", logger="ensemble_helpers.batch"):
        result = batch_in(repo, [good, *(params / f"{n}.yaml" for n in bad)], ["light"], jobs=1)

    runs = by_id(result)
    assert runs["good/light"].status == "ok"  # the valid file still ran
    for name in bad:
        run = runs[f"{name}/light"]
        assert run.status == "failed" and run.error.ename == "InvalidParameters", name
        assert run.duration == 0.0  # never started
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "params/laughs.yaml: line 1: anchors and aliases (&name, *name) are not allowed in a"
        " parameter file; write each value out",
        "params/dup.yaml: parameter 'min_cell_size': duplicate key (lines 4 and 5); a key may"
        " appear once, delete one of them",
        "params/folder.yaml: parameter 'data_path': 'data' is a folder; it must be a data file"
        " (.csv or .parquet)",
        "params/typos.yaml: parameter 'filters.sex': column 'sex' is not in the data (nor derived"
        " in ADSL or in derived_variables)",
        "params/typos.yaml: parameter 'timepoints': must be a number (not inf or nan), got inf",
        "params/typos.yaml: parameter 'subgroup_variables': no column 'respnse' in the data;"
        " did you mean response, responder?",
        "params/list.yaml: the file must be a mapping of key: value",
        "params/...yaml: file name: '..' is not a safe report name (empty, hidden, '.', '..' or"
        " containing a path separator); rename the file",
    ]
    # nothing written outside the output folder, nothing under a bad name
    assert (notebooks / "light.ipynb").read_bytes() == before
    assert sorted(p.name for p in repo.iterdir()) == ["data", "notebooks", "params", "reports"]
    assert sorted(p.name for p in (repo / "reports").iterdir() if p.is_dir()) == ["good"]
    index = (repo / "reports" / "index.html").read_text()
    assert "duplicate key (lines 4 and 5)" in index and "dup</th>" in index


def test_dry_run_prints_the_plan_and_writes_nothing(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(plan, "package_hash", lambda package_dir=None: "pinned")
    alpha, beta = write_params(repo, "alpha"), write_params(repo, "beta")
    (repo / "params" / "gamma.yaml").write_text("title: G\ndata_path: data/patients.csv\ncolour: red\n")
    (repo / "notebooks").mkdir()
    shutil.copy(LIGHT, repo / "notebooks" / "light.ipynb")
    monkeypatch.chdir(repo)
    code = main(["--dry-run", "--notebooks", "light"])
    out = capsys.readouterr().out
    assert code == 1  # an invalid parameter file
    assert "to run (2):" in out and "alpha/light" in out and "no report yet" in out
    assert "not started (invalid parameter file) (1):" in out
    assert "params/gamma.yaml: parameter 'colour': unknown key" in out
    assert not (repo / "reports").exists()

    (repo / "params" / "gamma.yaml").unlink()
    assert batch_in(repo, [alpha, beta], [LIGHT], jobs=2).exit_code == 0
    write_params(repo, "beta", conf_level=0.9)
    assert main(["--dry-run", "--notebooks", "light"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"to run \(1\):\n  beta/light +parameter file changed", out)
    assert re.search(r"to skip \(1\):\n  alpha/light +unchanged since 20", out)
    assert main(["--dry-run", "--notebooks", "light", "-p", "conf_level", "0.8"]) == 0
    assert "parameter file changed, -p/-y overrides changed" in capsys.readouterr().out


def test_overrides_reach_the_kernel_and_are_validated(repo: Path) -> None:
    alpha = write_params(repo, "alpha")
    result = batch_in(repo, [alpha], [LIGHT], jobs=1, parameters={"title": "Overridden <b>"})
    assert result.runs[0].status == "ok", result.runs[0].error
    page = (repo / "reports" / "alpha" / "light.html").read_text()
    assert "Overridden &lt;b&gt;: 40 patients" in page  # printed by the kernel
    assert result.runs[0].inputs["overrides"] == {"title": "Overridden <b>"}
    bad = batch_in(repo, [alpha], [LIGHT], jobs=1, parameters={"conf_level": 2, "output_dir": "x"})
    assert bad.runs[0].error.ename == "InvalidParameters"
    assert "'output_dir': not a parameter-file key" in bad.runs[0].error.evalue
    assert "'conf_level': must be between 0 and 1" in bad.runs[0].error.evalue
    assert (repo / "reports" / "alpha" / "light.html").read_text() == page  # kept


def test_missing_distributed_gives_a_clear_error(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(batch.MissingDependencyError, match=r"ensemble-helpers\[dask\]"):
        batch_in(repo, [write_params(repo, "alpha")], [LIGHT], dask_scheduler="tcp://127.0.0.1:1")


# ---------------------------------------------------------------------------------------------
# Small pure functions
# ---------------------------------------------------------------------------------------------
def test_select_key_estimates_picks_overall_km_medians_and_orr() -> None:
    records = [
        {"endpoint": "PFS", "analysis": "km_median", "group": "HR-positive", "estimate": 1.0},
        {"endpoint": "OS", "analysis": "followup_median", "group": "Overall", "estimate": 17.6},
        {"endpoint": "PFS", "analysis": "km_median", "group": "Overall", "estimate": 5.0},
        {"endpoint": "PFS", "analysis": "km_rate_12m", "group": "Overall", "estimate": 0.3},
        {"endpoint": "ORR", "analysis": "proportion", "group": "overall", "estimate": 40.0},
    ]
    chosen = select_key_estimates(records)
    assert chosen["Median PFS (CI)"]["estimate"] == 5.0
    assert chosen["Median OS (CI)"] is None
    assert chosen["ORR"]["estimate"] == 40.0


def test_format_estimate() -> None:
    assert format_estimate(None) == "—"
    assert format_estimate({"estimate": 5.46, "lower": 4.0, "upper": 7.25, "unit": "months"}) == \
        "5.5 (4.0–7.2) months"
    assert format_estimate({"estimate": float("nan"), "lower": 9.5, "upper": None, "unit": "months"}) == \
        "NR (9.5–NR) months"
    assert format_estimate({"estimate": 37.5, "lower": 22.7, "upper": 54.2, "unit": "%"}) == \
        "37.5% (22.7–54.2)"
    assert format_estimate({"estimate": 0.375, "lower": None, "upper": None, "unit": "proportion"}) == \
        "37.5%"


def test_external_resources_flags_network_loads_only() -> None:
    page = ('<a href="https://example.org">link</a><img src="data:image/png;base64,AAA">'
            '<script src="https://cdn.example/require.js"></script><link rel="stylesheet" href="//cdn/x.css">')
    found = external_resources(page)
    assert len(found) == 2 and re.match(r"<script", found[0])
