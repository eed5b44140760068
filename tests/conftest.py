"""Shared fixture: every shipped parameter file x every notebook, rendered once per test session.

The cohort is synthetic but made hostile: distinctive patient and site ids (easy to search for in
the output), and regimen names that are HTML/JS payloads, given to enough patients to be listed
in the "Most frequent regimens" table. Used by test_privacy_reports.py and test_browser.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ensemble_helpers.batch.plan import workbook_notebooks

ROOT = Path(__file__).resolve().parents[1]
#: Regimen names that must only ever appear escaped in a report.
HOSTILE_REGIMENS = ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>")
#: Patients given each hostile regimen: enough to rank in the top-10 regimens of the full cohort
#: (6 each would not: at n=300 the tenth regimen has about 10 patients).
HOSTILE_PATIENTS = 12


@pytest.fixture(scope="session", autouse=True)
def _cache_outside_the_repository(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Validated tables (ensemble_helpers.cache) of the repository's test data files go to a
    temporary folder, not beside the files in tests/; kernels inherit the variable."""
    import os

    os.environ.setdefault("ENSEMBLE_CACHE_DIR", str(tmp_path_factory.mktemp("ensemble-cache")))


@dataclass(frozen=True)
class Rendered:
    """What the session fixture produced: the batch result and the data it was run on."""

    result: object  # ensemble_helpers.batch.BatchResult
    cohort: pd.DataFrame  # the input data exactly as written (hostile values included)
    min_cell_size: int  # of every parameter file
    tmp: Path
    hostile: tuple[str, ...] = HOSTILE_REGIMENS


def hostile_cohort(n: int = 300, n_sites: int = 40, seed: int = 7) -> pd.DataFrame:
    """A synthetic cohort with distinctive ids and script/img payloads as regimen names."""
    from ensemble_helpers.synthetic import generate_cohort

    df = generate_cohort(n=n, n_sites=n_sites, seed=seed)
    rng = np.random.default_rng(seed)
    df["patient_id"] = [f"PTID-{k:06d}" for k in rng.choice(900_000, size=n, replace=False) + 100_000]
    df["site_id"] = df["site_id"].map({s: f"SITE-XYZ-{i + 17}" for i, s in enumerate(sorted(df["site_id"].unique()))})
    # replace T-DM1 (an antibody regimen) so the regimen class and every derived endpoint are unchanged
    tdm1 = np.flatnonzero(df["next_regimen"].to_numpy() == "T-DM1")
    assert tdm1.size >= 2 * HOSTILE_PATIENTS, "seed gives too few T-DM1 patients to relabel"
    for i, payload in enumerate(HOSTILE_REGIMENS):
        df.loc[df.index[tdm1[i::2][:HOSTILE_PATIENTS]], "next_regimen"] = payload
    return df


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Rendered:
    """All reports of all parameter files on the hostile cohort (15 runs, 2 worker processes)."""
    from ensemble_helpers.batch import run_batch
    from ensemble_helpers.synthetic import write_cohort

    tmp = tmp_path_factory.mktemp("rendered")
    cohort = hostile_cohort()
    data = write_cohort(cohort, tmp / "hostile_cohort.csv")
    params, sizes = [], set()
    for f in sorted((ROOT / "params").glob("*.yaml")):
        values = yaml.safe_load(f.read_text(encoding="utf-8"))
        values["data_path"] = str(data)
        sizes.add(values["min_cell_size"])
        (tmp / "params").mkdir(exist_ok=True)
        params.append(tmp / "params" / f.name)
        params[-1].write_text(yaml.safe_dump(values), encoding="utf-8")
    result = run_batch(params, workbook_notebooks(ROOT), tmp / "reports",
                       jobs=2, progress=False, cwd=ROOT)
    failed = [f"{r.run_id}: {r.error}" for r in result.failed]
    assert not failed, "runs failed on the hostile cohort:\n" + "\n".join(failed)
    assert len(sizes) == 1, f"parameter files disagree on min_cell_size: {sizes}"
    return Rendered(result=result, cohort=cohort, min_cell_size=sizes.pop(), tmp=tmp)


def _skip_reason(report: pytest.TestReport) -> str:
    """The reason pytest recorded for a skipped test (``"Skipped: "`` prefix removed)."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """End every run by saying which tests were skipped and why, grouped by reason and module
    (e.g. "19 browser tests skipped: Chromium is not installed ... install Debian's chromium");
    a wrapper, so it prints after pytest's own short summary."""
    result = yield
    _say_skipped(terminalreporter)
    return result


def _say_skipped(terminalreporter) -> None:
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if r.when in ("setup", "call")]
    if not skipped:
        terminalreporter.write_line("No test was skipped.")
        return
    groups: dict[tuple[str, str], int] = {}
    for report in skipped:
        module = report.nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py").removeprefix("test_")
        key = (module, _skip_reason(report))
        groups[key] = groups.get(key, 0) + 1
    terminalreporter.section("skipped tests", sep="-")
    for (module, reason), count in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0])):
        noun = "test" if count == 1 else "tests"
        terminalreporter.write_line(f"{count} {module} {noun} skipped: {reason}")
