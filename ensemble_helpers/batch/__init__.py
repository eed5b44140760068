"""Run every parameter file against every notebook and publish offline HTML reports.

``run_batch`` is the library function; ``ensemble-run`` and ``python -m ensemble_helpers.batch``
are thin command-line shells over it (``main``). One module per job, in the manner of papermill:

``cli``      argument parsing (``main``)
``plan``     parameter files x notebooks -> runs, fingerprints, the up-to-date check
``runner``   ``run_batch``: local slots or a Dask cluster, progress, batch-level files
``execute``  one run in a worker: kernel manager, Papermill engine, recovery of a dead worker
``render``   executed notebook -> offline HTML (nbconvert), failure banner, provenance footer
``publish``  atomic publishing, manifest.json, summary.csv, the output-folder lock
``index``    index.html from ``templates/index.html.j2``; key estimates
``runs``     the plain data passed between them (``RunSpec``, ``RunResult``, ``BatchResult``)

Before anything runs, the parent reads every parameter file strictly (no YAML anchors, aliases or
duplicate keys) and validates every key, the column names against the data file's header, that
``data_path`` is a regular file and that the file's name is a safe report-folder name; each
problem is logged once, one line each, and only that file's runs fail (unstarted).

For each *run* (one parameter file x one notebook) a worker process:

1. executes the notebook with Papermill's in-process API, injecting every key of the YAML file
   (plus ``-p``/``-y`` overrides), ``params_file`` and ``output_dir`` (the run's private
   temporary folder); the kernel's working directory is the repository root (the directory
   ``ensemble-run`` is invoked from), so relative ``data_path`` values work;
2. renders the executed notebook to self-contained HTML in the same process (nbconvert's
   ``HTMLExporter``: code hidden unless ``show_code``, images embedded as base64 PNG, no script,
   stylesheet or image fetched from the network) with a provenance footer;
3. hands the outcome back. Only the parent publishes, holding the output folder's lock: after
   checking that the data file still has the hash the run was planned with, it moves the files
   into place atomically (``os.replace`` from the temporary folder inside the output folder), or,
   when the run failed, puts ``<notebook>.failed.ipynb``/``.failed.html`` beside the last good
   report, which stays in place (the index marks it stale).

Output layout (``<out>`` is ``--output-dir``)::

    <out>/index.html                       status grid + key estimates, self-contained
    <out>/summary.csv                      every record of every results file + param_set, notebook
    <out>/manifest.json                    last status, hashes and versions of every run
    <out>/<param>/<notebook>.ipynb         executed notebook (last good run)
    <out>/<param>/<notebook>.html          rendered report (last good run)
    <out>/<param>/<notebook>.results.json  the ``results.json`` the notebook wrote into output_dir
    <out>/<param>/<notebook>_files/        anything else the notebook wrote into output_dir
    <out>/<param>/<notebook>.provenance.json  input hashes + versions of the last good run
    <out>/<param>/<notebook>.failed.ipynb|.html  last failed attempt, when it failed

Several notebooks share one parameter-set folder, so each notebook writes ``results.json`` into its
own temporary ``output_dir`` and the runner stores it as ``<notebook>.results.json``.

A run is skipped when the SHA-256 of its notebook, parameter file, data file, the helper package
(every ``*.py``, ``*.yaml`` and ``*.j2`` under ``ensemble_helpers/``), the versions of the
analysis stack, the ``show_code`` choice and the ``-p``/``-y`` overrides all equal those recorded
in its ``.provenance.json`` and the report files exist. ``force=True`` re-runs everything.
``plan_batch`` (``--dry-run``) says what would run or be skipped, and why.

``output_dir`` is not a parameter-file key: reports go only to ``--output-dir``, and every folder
the runner writes is checked to lie inside it.

Local runs go to ``jobs`` single-worker process pools ("slots"). A slot's worker process stays
alive for many runs (Papermill and nbconvert are imported once per worker, the HTML template is
compiled once), and a worker that dies (SIGKILL, out of memory) breaks only its own slot: that run
is marked failed (its partial notebook is still rendered), the slot gets a fresh worker, and every
other run completes. Workers exit when the parent dies, by any signal (SIGKILL included), and
publish nothing. ``dask_scheduler`` runs on a Dask cluster with no shared disk: tasks receive the
notebook, parameters and data bytes and return every file to the parent, which publishes them.

Examples
--------
>>> from ensemble_helpers.batch import run_batch
>>> result = run_batch(["params/overall.yaml"], ["notebooks/02_endpoints.ipynb"],
...                    "reports")  # doctest: +SKIP
>>> [(run.run_id, run.status) for run in result.runs]  # doctest: +SKIP
[('overall/02_endpoints', 'ok')]
"""
from __future__ import annotations

from ensemble_helpers.batch.cli import main
from ensemble_helpers.batch.errors import (
    BatchError,
    MissingDependencyError,
    OutputDirBusyError,
    OutputDirError,
    UnsafePathError,
)
from ensemble_helpers.batch.index import KEY_ESTIMATES, format_estimate, select_key_estimates
from ensemble_helpers.batch.plan import VERSIONED_PACKAGES, package_hash, package_versions
from ensemble_helpers.batch.render import external_resources
from ensemble_helpers.batch.runner import plan_batch, run_batch
from ensemble_helpers.batch.runs import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_SKIPPED,
    BatchResult,
    PlannedRun,
    RunError,
    RunResult,
    RunSpec,
)

__all__ = [
    "KEY_ESTIMATES",
    "STATUS_FAILED",
    "STATUS_OK",
    "STATUS_SKIPPED",
    "VERSIONED_PACKAGES",
    "BatchError",
    "BatchResult",
    "MissingDependencyError",
    "OutputDirBusyError",
    "OutputDirError",
    "PlannedRun",
    "RunError",
    "RunResult",
    "RunSpec",
    "external_resources",
    "format_estimate",
    "main",
    "package_hash",
    "package_versions",
    "plan_batch",
    "run_batch",
    "select_key_estimates",
    "UnsafePathError",
]
