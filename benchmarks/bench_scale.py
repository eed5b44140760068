"""Scale benchmark: time and peak memory of every stage of the analysis chain by cohort size.

Usage::

    .venv/bin/python benchmarks/bench_scale.py                 # n = 664, 10k, 100k, 1M
    .venv/bin/python benchmarks/bench_scale.py --sizes 664 10000 --notebook-sizes 664
    .venv/bin/python benchmarks/bench_scale.py --load-ratios 1000000 --repeats 5

``--load-ratios N`` (issue 11) times ``load_patients`` (read + every contract rule, no cache)
against pyarrow's bare reader on the same file, side by side in one process: for CSV
``pyarrow.csv.read_csv``, for Parquet ``pyarrow.parquet.read_table``; as a reference it also
times the reader followed by pyarrow's own ``to_pandas()`` (no rule). Each repeat times the
reader and the loader back to back, so both see the same machine load; the median of the
per-repeat ratios is reported (target: at most 2x) and written to
``benchmarks/results/load_ratios.csv``.

Each size runs in a fresh Python process, so peak RSS (``ru_maxrss``, the high-water mark of the
process) belongs to that size alone. Stages: generation; CSV and Parquet writing and loading with
validation; ADSL/ADTTE derivation; every Kaplan–Meier summary of the endpoints notebook; the Cox
models of the subgroups notebook; the KM figure with its at-risk table; and the whole
``02_endpoints`` notebook through Papermill. Prints one table and writes
``benchmarks/results/scale.csv``. Targets (issue 7) are printed beside the measurements; this is
a script, not a test: nothing here fails a build.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_SIZES = (664, 10_000, 100_000, 1_000_000)
DEFAULT_NOTEBOOK_SIZES = (664, 100_000)
CHAIN = ("generate", "validate", "derive", "km_summaries", "cox_models")
# the contract's default date window (2019-01-01 to today)
WINDOW = None


def load_ratios(n: int, repeats: int, workdir: Path) -> list[dict]:
    """Median ratio of ``load_patients`` to pyarrow's reader on the same n-row CSV and Parquet."""
    import statistics

    import pyarrow.csv as pacsv
    import pyarrow.parquet as papq

    from ensemble_helpers.schema import load_patients
    from ensemble_helpers.synthetic import generate_cohort, write_cohort

    patients = generate_cohort(n=n, n_sites=min(222, max(1, n // 3)), seed=2025)
    files = {"csv": workdir / f"ratio_{n}.csv", "parquet": workdir / f"ratio_{n}.parquet"}
    for path in files.values():
        write_cohort(patients, path)
    del patients
    readers = {"csv": ("pyarrow.csv.read_csv", pacsv.read_csv),
               "parquet": ("pyarrow.parquet.read_table", papq.read_table)}
    rows = []
    load_patients(files["csv"], use_cache=False, date_window=WINDOW)  # imports and warm file cache
    for fmt, path in files.items():
        name, read = readers[fmt]
        base, ours, plain = [], [], []
        for _ in range(repeats):
            # each result is kept until its clock has stopped and freed outside the timings: the
            # time to load, not to free a million strings of the previous frame (or table)
            t0 = time.perf_counter()
            table = read(path)
            base.append(time.perf_counter() - t0)
            del table
            t0 = time.perf_counter()
            frame = load_patients(path, use_cache=False, date_window=WINDOW)
            ours.append(time.perf_counter() - t0)
            del frame
            # reference: pyarrow's own conversion to pandas, no contract rule at all
            t0 = time.perf_counter()
            frame = read(path).to_pandas()
            plain.append(time.perf_counter() - t0)
            del frame
        ratios = [o / b for o, b in zip(ours, base)]
        rows.append({"n": n, "format": fmt, "reader": name, "repeats": repeats,
                     "reader_median_s": round(statistics.median(base), 3),
                     "load_patients_median_s": round(statistics.median(ours), 3),
                     "median_ratio": round(statistics.median(ratios), 2),
                     "reader_to_pandas_median_s": round(statistics.median(plain), 3),
                     "to_pandas_ratio": round(statistics.median([t / b for t, b in zip(plain, base)]), 2),
                     "ratios": " ".join(f"{r:.2f}" for r in ratios)})
    return rows


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(n: int, notebook: bool, workdir: Path) -> list[dict]:
    """Run every stage for one cohort size in this process; return one row per stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ensemble_helpers import analysis, report
    from ensemble_helpers.cohort import Cohort, apply_filters
    from ensemble_helpers.endpoints import derive_adsl, derive_adtte
    from ensemble_helpers.params import params_from_mapping
    from ensemble_helpers.schema import load_patients, validate_patients
    from ensemble_helpers.synthetic import generate_cohort, write_cohort

    rows: list[dict] = []

    def stage(name, fn):
        t0 = time.perf_counter()
        out = fn()
        rows.append({"n": n, "stage": name, "seconds": round(time.perf_counter() - t0, 3),
                     "peak_rss_mb": round(_peak_mb(), 1)})
        return out

    patients = stage("generate", lambda: generate_cohort(n=n, n_sites=min(222, max(1, n // 3)), seed=2025))
    typed = stage("validate", lambda: validate_patients(patients, source="generated"))
    csv, pq = workdir / f"cohort_{n}.csv", workdir / f"cohort_{n}.parquet"
    stage("write_csv", lambda: write_cohort(patients, csv))
    stage("write_parquet", lambda: write_cohort(patients, pq))
    stage("load_csv", lambda: load_patients(csv, use_cache=False, date_window=WINDOW))  # validation
    stage("load_parquet", lambda: load_patients(pq, use_cache=False, date_window=WINDOW))

    params = params_from_mapping({"title": f"n={n}", "data_path": str(pq), "output_dir": str(workdir)})

    def derive():
        adsl, attrition = apply_filters(derive_adsl(typed), params)
        return Cohort(adsl=adsl, adtte=derive_adtte(adsl), attrition=attrition, params=params)

    cohort = stage("derive", derive)

    def km_all():
        # every Kaplan–Meier estimate of the endpoints notebook
        analysis.survival_summaries(cohort)
        analysis.survival_summaries(cohort, ["TDXDDUR"])
        for var in analysis.HEADLINE_SUBGROUPS:
            analysis.survival_summaries(cohort, ["PFS", "OS"], by=var, overall=False)
        analysis.ild_cumulative_incidence(cohort)
        analysis.followup(cohort)

    stage("km_summaries", km_all)

    def cox_all():
        # the Cox models of the subgroups notebook: PFS and OS by each variable, unadjusted and adjusted
        for var in analysis.HEADLINE_SUBGROUPS:
            for ep in ("PFS", "OS"):
                analysis.hazard_ratios(cohort, ep, var)
                analysis.hazard_ratios(cohort, ep, var, adjust_for=analysis.ADJUSTMENT)

    stage("cox_models", cox_all)

    def km_figure():
        ax = report.km_figure(cohort, "PFS", by="regimen_group")
        ax.figure.savefig(workdir / f"km_{n}.png", dpi=100)
        plt.close("all")

    stage("km_figure", km_figure)

    if notebook:
        def run_notebook():
            import papermill as pm

            pm.execute_notebook(
                str(ROOT / "notebooks" / "02_endpoints.ipynb"), str(workdir / f"nb_{n}.ipynb"),
                parameters={"data_path": str(pq), "output_dir": str(workdir / f"out_{n}"),
                            "title": f"Benchmark n={n}"},
                progress_bar=False, cwd=str(ROOT), kernel_name="python3",
            )

        stage("notebook_02_endpoints", run_notebook)
    chain = sum(r["seconds"] for r in rows if r["stage"] in CHAIN)
    rows.append({"n": n, "stage": "chain_total", "seconds": round(chain, 3), "peak_rss_mb": round(_peak_mb(), 1)})
    return rows


def _child(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        rows = measure(args.child, args.notebook, Path(tmp))
    print("ROWS " + json.dumps(rows))


def main(argv: list[str] | None = None) -> int:
    # measure validation every time: no cached validated table (ensemble_helpers.cache), also
    # for the notebook kernels, which inherit the environment
    os.environ["ENSEMBLE_CACHE_DIR"] = "off"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    ap.add_argument("--notebook-sizes", type=int, nargs="*", default=list(DEFAULT_NOTEBOOK_SIZES),
                    help="sizes at which the 02_endpoints notebook is also run through Papermill")
    ap.add_argument("--load-ratios", type=int, metavar="N",
                    help="only time load_patients against pyarrow's readers on N rows (issue 11)")
    ap.add_argument("--repeats", type=int, default=5, help="repeats for --load-ratios (median reported)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--notebook", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args)
        return 0

    import pandas as pd

    if args.load_ratios:
        with tempfile.TemporaryDirectory(prefix="bench-ratio-") as tmp:
            ratios = pd.DataFrame(load_ratios(args.load_ratios, args.repeats, Path(tmp)))
        RESULTS.mkdir(parents=True, exist_ok=True)
        ratios.to_csv(RESULTS / "load_ratios.csv", index=False)
        print(ratios.to_string(index=False))
        for _, r in ratios.iterrows():
            print(f"  {r['format']}: load_patients / {r['reader']} = {r['median_ratio']:.2f}x "
                  f"(target <= 2x: {'met' if r['median_ratio'] <= 2 else 'NOT met'}); "
                  f"{r['reader']}(...).to_pandas() with no rule: {r['to_pandas_ratio']:.2f}x")
        print(f"\nwrote {RESULTS / 'load_ratios.csv'}")
        return 0

    rows: list[dict] = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--child", str(n)] + (["--notebook"] if n in args.notebook_sizes else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "MPLBACKEND": "Agg"})
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("ROWS ")]
        if proc.returncode or not line:
            print(f"n={n}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            return 1
        rows += json.loads(line[-1][5:])
        print(f"n={n:>9,}: done", file=sys.stderr)
    table = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / "scale.csv", index=False)
    wide = table.pivot(index="stage", columns="n", values="seconds").reindex(table["stage"].drop_duplicates())
    print("\nSeconds by stage and cohort size")
    print(wide.to_string(float_format=lambda v: f"{v:.2f}"))
    peak = table.groupby("n")["peak_rss_mb"].max()
    print("\nPeak RSS (MB) by cohort size")
    print(peak.to_string())
    print("\nTargets (issue 7)")
    if 1_000_000 in peak.index:
        chain = table[(table.n == 1_000_000) & (table.stage == "chain_total")]["seconds"].iloc[0]
        chain_mem = table[(table.n == 1_000_000) & (table.stage.isin(CHAIN))]["peak_rss_mb"].max()
        print(f"  chain at n=1,000,000: {chain:.1f} s (target <= 30 s: {'met' if chain <= 30 else 'NOT met'}), "
              f"peak RSS {chain_mem / 1024:.2f} GB (target <= 4 GB: {'met' if chain_mem <= 4096 else 'NOT met'})")
    nb = table[table.stage == "notebook_02_endpoints"].set_index("n")["seconds"]
    if 664 in nb.index and 100_000 in nb.index:
        ratio = nb[100_000] / nb[664]
        print(f"  02_endpoints notebook: {nb[664]:.1f} s at 664, {nb[100_000]:.1f} s at 100,000 "
              f"-> {ratio:.2f}x (target <= 3x: {'met' if ratio <= 3 else 'NOT met'})")
    chain_t = table[table.stage == "chain_total"].set_index("n")["seconds"]
    if 100_000 in chain_t.index and 1_000_000 in chain_t.index:
        import math

        growth = chain_t[1_000_000] / chain_t[100_000]
        nlogn = 10 * math.log(1e6) / math.log(1e5)
        print(f"  chain growth 100,000 -> 1,000,000: {growth:.1f}x (n log n allows {nlogn:.1f}x: "
              f"{'met' if growth <= nlogn else 'NOT met'})")
    print(f"\nwrote {RESULTS / 'scale.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
