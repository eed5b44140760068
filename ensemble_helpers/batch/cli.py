"""Command line ``ensemble-run`` / ``python -m ensemble_helpers.batch``: parse arguments, call
``run_batch`` (or ``plan_batch`` for ``--dry-run``), print what failed. No batch logic lives here.

Usage in the manner of papermill::

    ensemble-run                                   # params/*.yaml x notebooks/NN_*.ipynb -> reports/
    ensemble-run params/tki.yaml --notebooks 02_endpoints --notebooks 03_subgroups
    ensemble-run -p min_cell_size 10 -y "timepoints: [6, 12, 24]" --output-dir reports-k10
    ensemble-run --dry-run                         # what would run, what is skipped and why
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import yaml

from ensemble_helpers.batch import runner
from ensemble_helpers.batch.errors import BatchError
from ensemble_helpers.batch.runs import INVALID_PARAMETERS
from ensemble_helpers.params import _StrictLoader

__all__ = ["main"]

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _version() -> str:
    try:
        return metadata.version("ensemble-helpers")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


def _yaml_value(text: str) -> Any:
    """A ``-p`` value, read as YAML: ``5`` -> 5, ``[6, 12]`` -> list, ``null`` -> None, text -> str."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - strict safe loader
    except Exception as exc:
        raise argparse.ArgumentTypeError(f"not a YAML value: {text!r} ({exc})") from exc


def _yaml_mapping(text: str) -> dict[str, Any]:
    try:
        value = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - strict safe loader
    except Exception as exc:
        raise argparse.ArgumentTypeError(f"not YAML: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a YAML mapping such as 'min_cell_size: 10', got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ensemble-run",
        description="Execute every parameter file x notebook with Papermill and render offline HTML"
                    " reports, an index and a summary table. Every parameter file is validated"
                    " before any notebook runs.")
    parser.add_argument("param_files", nargs="*", metavar="PARAM_FILE",
                        help="YAML parameter files or folders (default: params/*.yaml)")
    parser.add_argument("--notebooks", "-n", action="append", metavar="NOTEBOOK",
                        help="a notebook, folder or short name (02_endpoints); repeat or separate"
                             " with commas (default: the workbook's notebooks/NN_name.ipynb)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"),
                        default=[], help="override KEY in every parameter file (VALUE read as YAML)")
    parser.add_argument("-y", "--yaml", action="append", type=_yaml_mapping, default=[],
                        metavar="YAML", help="override keys in every parameter file with a YAML mapping")
    parser.add_argument("--output-dir", default="reports",
                        help="report folder (default: reports); the only place reports are written")
    parser.add_argument("--jobs", "-j", type=int, default=None,
                        help="parallel runs (default: number of CPUs)")
    parser.add_argument("--show-code", action="store_true", help="keep code cells in the HTML")
    parser.add_argument("--force", action="store_true", help="re-run unchanged runs too")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the runs to do and to skip, and why; run and write nothing")
    parser.add_argument("--dask-scheduler", metavar="ADDRESS",
                        help="run on an existing Dask cluster (needs ensemble-helpers[dask])")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--log-level", default="WARNING", type=str.upper, choices=_LOG_LEVELS,
                        help="logging level (default: WARNING)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return parser


def _overrides(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for mapping in args.yaml:
        values.update(mapping)
    for key, text in args.parameter:
        try:
            values[key] = _yaml_value(text)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"-p {key}: {exc}")
    return values


def _configure_logging(level: str) -> None:
    if logging.getLogger().handlers:
        logging.getLogger().setLevel(level)
        return
    fmt = "%(levelname)s %(name)s: %(message)s" if level == "DEBUG" else "ensemble-run: %(message)s"
    logging.basicConfig(level=level, format=fmt)


def _print_plan(planned: Sequence[runner.PlannedRun]) -> int:
    width = max(len(p.run_id) for p in planned)
    for action, title in (("run", "to run"), ("skip", "to skip"),
                          ("fail", "not started (invalid parameter file)")):
        rows = [p for p in planned if p.action == action]
        if rows:
            print(f"{title} ({len(rows)}):")
            for p in rows:
                print(f"  {p.run_id:<{width}}  {p.reason}")
    problems = list(dict.fromkeys(line for p in planned for line in p.problems))
    if problems:
        print("problems:")
        for line in problems:
            print(f"  {line}")
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: parse arguments, call ``run_batch``, report failures; returns the exit code.

    Exit codes: 0 every run ok or skipped, 1 some run failed, 2 the batch could not start
    (no parameter files, output folder busy or not writable, ...), 130 interrupted.
    """
    parser = _parser()
    args = parser.parse_intermixed_args(argv)  # parameter files before, between or after options
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    notebooks = [part for item in args.notebooks or [] for part in item.split(",") if part] or None
    parameters = _overrides(parser, args)
    _configure_logging(args.log_level)
    try:
        if args.dry_run:
            return _print_plan(runner.plan_batch(
                args.param_files, notebooks, args.output_dir, show_code=args.show_code,
                force=args.force, parameters=parameters))
        result = runner.run_batch(args.param_files, notebooks, args.output_dir, jobs=args.jobs,
                                  show_code=args.show_code, force=args.force,
                                  dask_scheduler=args.dask_scheduler,
                                  progress=not args.no_progress, parameters=parameters)
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
        invalid = [run for run in result.failed if run.error and run.error.ename == INVALID_PARAMETERS]
        for run in result.failed:
            if run in invalid:
                continue
            kept = " (previous good report kept, now stale)" if run.stale else ""
            print(f"  {run.run_id}{kept}: {run.error.describe() if run.error else 'unknown error'}",
                  file=sys.stderr)
            if "failed_html" in run.paths:
                print(f"    see {run.paths['failed_html']}", file=sys.stderr)
        if invalid:
            print(f"  not started, invalid parameter file (problems listed above):"
                  f" {', '.join(run.run_id for run in invalid)}", file=sys.stderr)
    return result.exit_code
