"""Command line ``ensemble-run`` / ``python -m ensemble_helpers.batch``: parse arguments, call
``run_batch``, print what failed. No batch logic lives here."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ensemble_helpers.batch import runner
from ensemble_helpers.batch.errors import BatchError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ensemble-run",
        description="Execute every parameter file x notebook with Papermill and render offline HTML"
                    " reports, an index and a summary table.")
    parser.add_argument("param_files", nargs="*", metavar="PARAM_FILE",
                        help="YAML parameter files or folders (default: params/*.yaml)")
    parser.add_argument("--notebooks", nargs="+", metavar="NOTEBOOK",
                        help="notebooks or folders (default: notebooks/*.ipynb)")
    parser.add_argument("--output-dir", default="reports", help="report folder (default: reports)")
    parser.add_argument("--jobs", "-j", type=int, default=None,
                        help="parallel runs (default: number of CPUs)")
    parser.add_argument("--show-code", action="store_true", help="keep code cells in the HTML")
    parser.add_argument("--force", action="store_true", help="re-run unchanged runs too")
    parser.add_argument("--dask-scheduler", metavar="ADDRESS",
                        help="run on an existing Dask cluster (needs ensemble-helpers[dask])")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: parse arguments, call ``run_batch``, report failures; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        _parser().error("--jobs must be at least 1")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = runner.run_batch(args.param_files, args.notebooks, args.output_dir, jobs=args.jobs,
                                  show_code=args.show_code, force=args.force,
                                  dask_scheduler=args.dask_scheduler, progress=not args.no_progress)
    except BatchError as exc:
        print(f"ensemble-run: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ensemble-run: interrupted; finished runs are in {args.output_dir}/index.html",
              file=sys.stderr)
        return 130
    print(f"{len(result.ok)} ok, {len(result.failed)} failed, {len(result.skipped)} skipped"
          f" in {result.duration:.1f}s; index: {result.index_path}", file=sys.stderr)
    if result.failed:
        print("Failed runs:", file=sys.stderr)
        for run in result.failed:
            kept = " (previous good report kept, now stale)" if run.stale else ""
            print(f"  {run.run_id}{kept}: {run.error.describe() if run.error else 'unknown error'}",
                  file=sys.stderr)
            if "failed_html" in run.paths:
                print(f"    see {run.paths['failed_html']}", file=sys.stderr)
    return result.exit_code
