"""Benchmark ``ensemble-run`` against its floor and against a sequential shell loop.

Measures, in one invocation and on the same runs (params/*.yaml x notebooks/*.ipynb of the
repository, or the test fixtures when the repository has no notebooks or parameter files yet):

* ``batch``      - ``python -m ensemble_helpers.batch PARAMS --notebooks NBS --force``
* ``floor``      - the same command on as many *trivial* notebooks, which only import the stack
                   (numpy, pandas, matplotlib, lifelines, ensemble_helpers) and write an empty
                   results.json: kernel start, imports, execution and rendering, no analysis.
* ``sequential`` - a loop of ``papermill`` and ``jupyter nbconvert --to html --no-input`` commands,
                   one run after the other (what a shell script would do).

Each is timed as a subprocess from start to exit (interpreter start-up included, as a user sees
it). Prints both ratios against the targets (batch <= 1.3 x floor, batch <= 0.6 x sequential) and
appends a row to ``benchmarks/results/batch.csv``. This is a measurement, not a test: it never
fails on a missed target.

Usage::

    .venv/bin/python benchmarks/bench_batch.py [--jobs N] [--repeat R] [--no-sequential]
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ensemble_helpers.batch.plan import workbook_notebooks

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
RESULTS = ROOT / "benchmarks" / "results" / "batch.csv"
BIN = Path(sys.executable).parent
TARGET_FLOOR = 1.3  # issue 19
TARGET_SEQUENTIAL = 0.6
KERNELSPEC = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
              "language_info": {"name": "python"}}


def workload(scratch: Path) -> tuple[str, list[Path], list[Path]]:
    """(name, parameter files, notebooks): the repository's, else the test fixtures."""
    params = sorted((ROOT / "params").glob("*.yaml"))
    notebooks = workbook_notebooks(ROOT)
    if params and notebooks:
        return "repository", params, notebooks
    folder = scratch / "fixture-params"
    folder.mkdir()
    params = []
    for name in ("overall", "her2_low", "second_line"):
        path = folder / f"{name}.yaml"
        path.write_text(f'title: "Fixture {name}"\ndata_path: {FIXTURES / "patients.csv"}\n'
                        "conf_level: 0.95\n", encoding="utf-8")
        params.append(path)
    return "fixtures", params, [FIXTURES / "stack.ipynb", FIXTURES / "light.ipynb"]


def floor_notebooks(folder: Path, count: int) -> list[Path]:
    """``count`` notebooks that only take parameters, import the stack and write results.json."""
    folder.mkdir()
    paths = []
    for i in range(1, count + 1):
        nb = new_notebook(metadata=KERNELSPEC, cells=[
            new_markdown_cell("# Floor notebook: imports only"),
            new_code_cell('params_file = None\noutput_dir = "."', metadata={"tags": ["parameters"]}),
            new_code_cell("import json, pathlib\nimport numpy, pandas, matplotlib.pyplot, lifelines\n"
                          "import ensemble_helpers"),
            new_code_cell('pathlib.Path(output_dir, "results.json").write_text(json.dumps([]))'),
        ])
        for j, cell in enumerate(nb.cells):
            cell["id"] = f"floor-{j}"
        path = folder / f"floor_{i:02d}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def cold_cache_env(out: Path) -> dict[str, str]:
    """Environment with an empty cache of validated data files (ensemble_helpers.cache) for the
    runs writing into ``out``, as after a data change: the first kernels validate the data file,
    later ones reuse it."""
    return {**os.environ, "ENSEMBLE_CACHE_DIR": str(out.parent / f".cache-{out.name}")}


def time_batch(params: list[Path], notebooks: list[Path], out: Path, jobs: int | None) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "ensemble_helpers.batch", *map(str, params),
           *[arg for nb in notebooks for arg in ("--notebooks", str(nb))],
           "--output-dir", str(out), "--force", "--no-progress"]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    env = cold_cache_env(out)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        print(proc.stderr[-2000:], file=sys.stderr)
    return elapsed, proc.returncode


def time_sequential(params: list[Path], notebooks: list[Path], out: Path) -> tuple[float, int]:
    failures = 0
    env = cold_cache_env(out)
    start = time.perf_counter()
    for param in params:
        for notebook in notebooks:
            run_dir = out / param.stem / notebook.stem
            run_dir.mkdir(parents=True)
            executed = out / param.stem / f"{notebook.stem}.ipynb"
            failures += subprocess.run(
                [str(BIN / "papermill"), str(notebook), str(executed), "-f", str(param),
                 "-p", "params_file", str(param), "-p", "output_dir", str(run_dir),
                 "--cwd", str(ROOT), "--no-progress-bar"],
                cwd=ROOT, capture_output=True, env=env).returncode != 0
            subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input",
                            str(executed)], cwd=ROOT, capture_output=True)
    return time.perf_counter() - start, failures


def breakdown(out: Path) -> tuple[float, float, list[tuple[float, str]]]:
    """(mean run seconds, mean seconds inside notebook cells, slowest cells) of one batch folder.

    Run seconds come from the manifest (worker wall time: kernel start, execution, rendering,
    publishing); cell seconds from Papermill's per-cell timings in the executed notebooks. The
    difference is the runner's own cost plus kernel start-up.
    """
    manifest = json.loads((out / "manifest.json").read_text())
    runs = [e for e in manifest["runs"].values() if e["status"] == "ok"]
    cells: list[tuple[float, str]] = []
    in_cells = []
    for entry in runs:
        nb = json.loads((out / entry["paths"]["ipynb"]).read_text())
        total = 0.0
        for cell in nb["cells"]:
            seconds = (cell.get("metadata", {}).get("papermill", {}) or {}).get("duration") or 0.0
            total += seconds
            first_line = "".join(cell.get("source", "")).strip().splitlines()[:1]
            head = first_line[0][:60] if first_line else ""
            cells.append((seconds, f"{entry['param_set']}/{entry['notebook']}: {head}"))
        in_cells.append(total)
    if not runs:
        return float("nan"), float("nan"), []
    mean_run = statistics.mean(e["duration"] for e in runs)
    return mean_run, statistics.mean(in_cells), sorted(cells, reverse=True)[:6]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=None, help="passed to ensemble-run")
    parser.add_argument("--repeat", type=int, default=1, help="take the median of R timings")
    parser.add_argument("--no-sequential", action="store_true", help="skip the slow shell loop")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        name, params, notebooks = workload(scratch)
        floor = floor_notebooks(scratch / "floor-notebooks", len(notebooks))
        runs = len(params) * len(notebooks)
        print(f"workload: {name}: {len(params)} parameter files x {len(notebooks)} notebooks ="
              f" {runs} runs; jobs={args.jobs or os.cpu_count()} on {os.cpu_count()} CPUs")
        # warm the OS file cache so the first measurement is not penalised
        subprocess.run([sys.executable, "-c", "import papermill, nbconvert, pandas, lifelines,"
                        " matplotlib.pyplot"], check=True)

        timings: dict[str, list[float]] = {"batch": [], "floor": [], "sequential": []}
        failed: dict[str, int] = {}
        for i in range(args.repeat):
            seconds, rc = time_batch(params, floor, scratch / f"floor-{i}", args.jobs)
            timings["floor"].append(seconds)
            failed["floor"] = rc
            seconds, rc = time_batch(params, notebooks, scratch / f"batch-{i}", args.jobs)
            timings["batch"].append(seconds)
            failed["batch"] = rc
            if not args.no_sequential:
                seconds, failures = time_sequential(params, notebooks, scratch / f"seq-{i}")
                timings["sequential"].append(seconds)
                failed["sequential"] = failures

        median = {k: statistics.median(v) for k, v in timings.items() if v}
        print(f"\n{'mode':<12}{'seconds':>10}{'per run':>10}  note")
        notes = {"batch": "ensemble-run, parallel", "floor": "same runs, trivial notebooks",
                 "sequential": "papermill + jupyter nbconvert loop"}
        for mode, seconds in median.items():
            flag = "  (some runs failed)" if failed.get(mode) else ""
            print(f"{mode:<12}{seconds:>10.1f}{seconds / runs:>10.2f}  {notes[mode]}{flag}")
        ratio_floor = median["batch"] / median["floor"]
        ratio_seq = median["batch"] / median["sequential"] if "sequential" in median else float("nan")
        print(f"\nbatch / floor      = {ratio_floor:.2f}  (target <= {TARGET_FLOOR})"
              f"  {'met' if ratio_floor <= TARGET_FLOOR else 'MISSED'}")
        if "sequential" in median:
            print(f"batch / sequential = {ratio_seq:.2f}  (target <= {TARGET_SEQUENTIAL})"
                  f"  {'met' if ratio_seq <= TARGET_SEQUENTIAL else 'MISSED'}")

        for mode, folder in (("floor", scratch / "floor-0"), ("batch", scratch / "batch-0")):
            run_s, cell_s, slowest = breakdown(folder)
            print(f"\n{mode}: mean run {run_s:.2f}s = {cell_s:.2f}s inside notebook cells"
                  f" + {run_s - cell_s:.2f}s kernel start-up, rendering and publishing")
            if mode == "batch":
                print("slowest cells (seconds, run: first line):")
                for seconds, where in slowest:
                    print(f"  {seconds:6.2f}  {where}")

        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        new = not RESULTS.exists()
        with open(RESULTS, "a", newline="") as fh:
            writer = csv.writer(fh)
            if new:
                writer.writerow(["date", "host_cpus", "python", "workload", "runs", "jobs", "repeat",
                                 "batch_s", "floor_s", "sequential_s", "batch_over_floor",
                                 "batch_over_sequential", "target_floor", "target_sequential"])
            writer.writerow([dt.datetime.now().isoformat(timespec="seconds"), os.cpu_count(),
                             platform.python_version(), name, runs, args.jobs or os.cpu_count(),
                             args.repeat, f"{median['batch']:.2f}", f"{median['floor']:.2f}",
                             f"{median.get('sequential', float('nan')):.2f}", f"{ratio_floor:.3f}",
                             f"{ratio_seq:.3f}", TARGET_FLOOR, TARGET_SEQUENTIAL])
        print(f"appended to {RESULTS.relative_to(ROOT)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
