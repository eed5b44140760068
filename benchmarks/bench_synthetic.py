"""Generation time and peak memory of :func:`ensemble_helpers.synthetic.generate_cohort`.

Each size runs in a fresh Python process, so peak RSS is that size's own. Columns:

* ``first call`` – the first ``generate_cohort`` in the process, including the one-off
  calibration (cached afterwards); module import time is reported separately;
* ``generate`` – best of ``--repeat`` further calls (calibration cached);
* ``peak RSS`` – maximum resident memory of the process; ``frame`` – ``memory_usage(deep=True)``.

Usage::

    .venv/bin/python benchmarks/bench_synthetic.py [--sizes 664 10000 100000 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

DEFAULT_SIZES = (664, 10_000, 100_000, 1_000_000)


def measure(n: int, repeat: int) -> dict[str, float]:
    """Run in the child process: time the import, the first call and the warm calls."""
    t0 = time.perf_counter()
    from ensemble_helpers.synthetic import generate_cohort

    t1 = time.perf_counter()
    df = generate_cohort(n=n, seed=2025)
    t2 = time.perf_counter()
    warm = []
    for i in range(repeat):
        start = time.perf_counter()
        df = generate_cohort(n=n, seed=2025 + i)
        warm.append(time.perf_counter() - start)
    return {
        "n": n,
        "import_s": t1 - t0,
        "first_s": t2 - t1,
        "generate_s": min(warm) if warm else float("nan"),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "frame_mb": df.memory_usage(deep=True).sum() / 2**20,
    }


def run(sizes: list[int], repeat: int) -> list[dict[str, float]]:
    """Measure every size in its own process and return the rows."""
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--repeat", str(repeat)],
            check=True, capture_output=True, text=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def format_table(rows: list[dict[str, float]]) -> str:
    head = (
        f"{'n':>10} {'import s':>9} {'first call s':>13} {'generate s':>11} {'rows/s':>11} "
        f"{'peak RSS MB':>12} {'frame MB':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['n']:>10,} {r['import_s']:>9.2f} {r['first_s']:>13.2f} {r['generate_s']:>11.3f} "
            f"{r['n'] / r['generate_s']:>11,.0f} {r['peak_rss_mb']:>12.0f} {r['frame_mb']:>9.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--repeat", type=int, default=3, help="warm calls per size (best is shown)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure(args.child, args.repeat)))
        return 0
    print(f"synthetic cohort generation — Python {platform.python_version()}, "
          f"{os.cpu_count()} CPU(s), {platform.machine()}")
    print(format_table(run(args.sizes, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
