"""The workbook's notebooks: committed clean, and run with every shipped parameter file.

The runs use a small synthetic cohort (400 patients) so the suite stays quick; each run's
results.json is checked against the helpers called directly on the same data.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from scipy.stats import norm

from ensemble_helpers import analysis, clinical, populations
from ensemble_helpers.batch.plan import WORKBOOK_NOTEBOOK, workbook_notebooks
from ensemble_helpers.cohort import load_cohort
from ensemble_helpers.params import load_params
from ensemble_helpers.published import compare_published
from ensemble_helpers.results import Results, read_results
from ensemble_helpers.synthetic import generate_cohort, write_cohort
from notebook_checks import notebook_problems

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = workbook_notebooks(ROOT)
PARAM_FILES = sorted((ROOT / "params").glob("*.yaml"))


def test_declared_notebooks_and_five_parameter_files():
    # the workbook is notebooks/NN_name.ipynb (batch.plan.WORKBOOK_NOTEBOOK); a scratch notebook is not
    assert {"01_cohort", "02_endpoints", "03_subgroups", "04_clinical_questions"} <= {p.stem for p in NOTEBOOKS}
    assert all(WORKBOOK_NOTEBOOK.match(p.name) for p in NOTEBOOKS)
    assert len(PARAM_FILES) >= 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean(path):
    assert notebook_problems(path) == []


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Every notebook x every shipped parameter file on a 400-patient cohort."""
    from ensemble_helpers.batch import run_batch

    tmp = tmp_path_factory.mktemp("notebooks")
    data = tmp / "cohort.csv"
    write_cohort(generate_cohort(n=400, n_sites=60, seed=11), data)
    params = []
    for f in PARAM_FILES:
        values = yaml.safe_load(f.read_text())
        values["data_path"] = str(data)
        values["internal_results"] = True  # the unsuppressed records, compared below
        out = tmp / "params" / f.name
        out.parent.mkdir(exist_ok=True)
        out.write_text(yaml.safe_dump(values))
        params.append(out)
    result = run_batch(params, NOTEBOOKS, tmp / "reports", jobs=2, progress=False, cwd=ROOT)
    return result, {p.stem: p for p in params}


def test_every_run_succeeds(batch):
    result, params = batch
    assert len(result.runs) == len(NOTEBOOKS) * len(params)
    failed = [f"{r.run_id}: {r.error}" for r in result.failed]
    assert not failed, "\n".join(failed)
    for r in result.runs:
        assert Path(r.paths["html"]).stat().st_size > 10_000


def _records(run) -> pd.DataFrame:
    """The run's unsuppressed records (``internal_results: true``), owner-only beside the reports."""
    from ensemble_helpers.disclosure import INTERNAL_DIR

    shared = Path(run.paths["results"])
    return pd.DataFrame(read_results(shared.parents[1] / INTERNAL_DIR / run.param_set / shared.name))


def _one(records, analysis_name, endpoint, group="Overall"):
    hit = records[(records["analysis"] == analysis_name) & (records["endpoint"] == endpoint) & (records["group"] == group)]
    assert len(hit) >= 1, f"no record {analysis_name}/{endpoint}/{group}"
    return hit.iloc[0]


def test_results_match_helpers_called_directly(batch):
    result, params = batch
    runs = {(r.param_set, r.notebook): r for r in result.runs}
    for name, path in params.items():
        cohort = load_cohort(load_params(path))
        # 01: counts and T-DXd duration
        rec = _records(runs[(name, "01_cohort")])
        assert _one(rec, "count", "patients")["estimate"] == len(cohort.adsl)
        tdxd = analysis.survival_summaries(cohort, ["TDXDDUR"]).iloc[0]
        assert _one(rec, "km_median", "TDXDDUR")["estimate"] == pytest.approx(tdxd["median"])
        # 02: every endpoint median with CI, landmark rates, ORR
        rec = _records(runs[(name, "02_endpoints")])
        direct = analysis.survival_summaries(cohort).set_index("endpoint")
        for ep in ("TTF", "TTNT", "PFS", "OS"):
            got = _one(rec, "km_median", ep)
            for field, col in (("estimate", "median"), ("lower", "median_lower"), ("upper", "median_upper")):
                want = direct.loc[ep, col]
                assert (got[field] is None and pd.isna(want)) or got[field] == pytest.approx(want), (name, ep, field)
            assert _one(rec, "km_rate_6m", ep)["estimate"] == pytest.approx(direct.loc[ep, "rate_6"])
            assert got["n"] == len(cohort.adsl)
        orr = analysis.response(cohort).set_index("measure").loc["ORR"]
        got = _one(rec, "response", "ORR")
        assert (got["events"], got["n"]) == (orr["successes"], orr["n"])
        assert got["upper"] == pytest.approx(orr["upper"])
        # 03: log-rank and Cox HR by regimen group (when the population has several groups)
        rec = _records(runs[(name, "03_subgroups")])
        if len(analysis.usable_levels(cohort.adsl, "regimen_group")) >= 2:
            lr = analysis.logrank_by(cohort, "PFS", "regimen_group").iloc[0]
            assert _one(rec, "logrank", "PFS", "regimen_group")["p"] == pytest.approx(lr["p"])
            hr = analysis.hazard_ratios(cohort, "PFS", "regimen_group").iloc[0]
            got = _one(rec, "cox_hr", "PFS", f"regimen_group={hr['level']}")
            assert got["estimate"] == pytest.approx(hr["hr"])
            adj = analysis.hazard_ratios(cohort, "PFS", "regimen_group", adjust_for=analysis.ADJUSTMENT).iloc[0]
            got = _one(rec, "cox_hr_adjusted", "PFS", f"regimen_group={adj['level']}")
            assert got["estimate"] == pytest.approx(adj["hr"])
        # 03 with a comparison: the treatment-effect forest and its interaction tests
        if cohort.params.comparison is not None:
            from ensemble_helpers import comparison

            for ep in ("PFS", "OS"):
                overall = comparison.overall_hr(cohort, ep)[0].iloc[0]
                assert _one(rec, "subgroup_hr", ep)["estimate"] == pytest.approx(overall["hr"])
                assert _one(rec, "comparison_hr", ep, comparison_group(cohort))["estimate"] == pytest.approx(overall["hr"])
                assert (rec[(rec["analysis"] == "interaction") & (rec["endpoint"] == ep)]["p"].notna()).any()
                # the adjusted comparison (issue 15.4): weighted HR and medians, SMDs
                assert _one(rec, "iptw_hr", ep, comparison_group(cohort))["estimate"] > 0
                assert len(rec[(rec["analysis"] == "iptw_km_median") & (rec["endpoint"] == ep)]) == 2
            assert set(rec.loc[rec["analysis"] == "smd", "group"]) == {"unweighted", "weighted"}
        else:
            assert not rec["analysis"].isin(["subgroup_hr", "iptw_hr", "smd"]).any()
        # 04: PFS by T-DXd response x reason stopped, anti-HER2 share and ILD recurrence of the ILD stops
        _check_clinical_questions(_records(runs[(name, "04_clinical_questions")]), cohort)


def _check_clinical_questions(rec: pd.DataFrame, cohort) -> None:
    """04_clinical_questions' records equal ensemble_helpers.clinical called directly."""
    res = clinical.survival_by(cohort, "tdxd_response_by_stop", clinical.RESPONSE_REFERENCE, endpoints=("PFS",))
    summaries = res.summaries[res.summaries["n"] > 0]
    hidden = rec["group"].isin([f"tdxd_response_by_stop={g}" for g in res.hidden])
    assert not hidden.any()  # no estimate of a group below min_cell_size in results.json
    for row in summaries[~summaries["group"].isin(res.hidden)].to_dict("records"):
        got = _one(rec, "km_median", "PFS", f"tdxd_response_by_stop={row['group']}")
        assert got["n"] == row["n"]
        assert (got["estimate"] is None and pd.isna(row["median"])) or got["estimate"] == pytest.approx(row["median"])
    for row in res.hr.to_dict("records"):
        got = _one(rec, "cox_hr", "PFS", f"tdxd_response_by_stop={row['level']}")["estimate"]
        assert (got is None and pd.isna(row["hr"])) or got == pytest.approx(row["hr"])
    ild = rec[rec["group"] == "tdxd_discontinuation_reason=ild"]
    if not populations.ild_applies(cohort.adsl):
        assert ild.empty
        return
    stops = clinical.ild_stops(cohort)
    for endpoint, table in (("anti_her2", clinical.anti_her2_share(stops)),
                            ("ILD recurrence", clinical.recurrence_rates(stops, "ild_grade_group"))):
        want = table.set_index("group").loc["Overall"]
        if clinical.shown_rows(table[table["group"] == "Overall"], cohort.params.min_cell_size).empty:
            continue  # a count below min_cell_size: not recorded
        got = _one(rec, "proportion", endpoint, "tdxd_discontinuation_reason=ild")
        assert (got["events"], got["n"]) == (want["successes"], want["n"])


def comparison_group(cohort) -> str:
    comp = cohort.params.comparison
    return f"{comp.variable}={comp.treatment}"


def test_published_table_only_where_asked(batch):
    result, params = batch
    for r in result.runs:
        if r.notebook != "02_endpoints":
            continue
        html = Path(r.paths["html"]).read_text()
        asked = yaml.safe_load(params[r.param_set].read_text())["published_comparison"]
        assert ("Published vs this run" in html) == asked


def test_default_cohort_is_within_sampling_error_of_the_published_figures():
    """n=664, seed 2025: every headline figure is estimated and close to the published one.

    Tolerance: a median within 3 standard errors, the SE taken from this run's 95% CI as
    (upper - lower) / (2 * 1.96), or for the plain medians of age and follow-up (no CI) the normal
    approximation 1.2533 sd / sqrt(n); a proportion within 3 binomial SEs of the published value
    (n = the record's denominator); the numbers of patients and sites and the median number of
    prior lines exactly.
    """
    path = ROOT / "tests" / "_default_cohort.csv"
    try:
        write_cohort(generate_cohort(n=664, n_sites=222, seed=2025), path)
        params = load_params(ROOT / "params" / "full_cohort.yaml", output_dir=str(path.parent))
        params = type(params)(**{**params.__dict__, "data_path": str(path)})
        cohort = load_cohort(params)
    finally:
        path.unlink(missing_ok=True)
    results = Results("02_endpoints")
    analysis.record_survival(results, analysis.survival_summaries(cohort), None, ())
    results.add_proportions(analysis.response(cohort), analysis="response")
    results.add_proportions(analysis.ild_recurrence_rate(cohort), variable="tdxd_discontinuation_reason")
    analysis.record_headlines(results, cohort)
    table = compare_published(results.frame())
    assert table["estimate"].notna().all(), table[table["estimate"].isna()]
    z = norm.ppf(0.975)
    adsl = cohort.adsl
    spread = {"age": adsl["age"].std(), "followup": cohort.endpoint("OS")["AVAL"].std()}
    for row in table.to_dict("records"):
        if row["unit"] == "count" or row["unit"] == "lines":
            assert row["estimate"] == row["published"], row
        elif row["key"] in spread:  # a plain median: SE ~ 1.2533 sd / sqrt(n) (normal approximation)
            se = 1.2533 * spread[row["key"]] / math.sqrt(row["n"])
            assert abs(row["difference"]) <= 3 * se, row
        elif row["unit"] == "months":
            se = (row["upper"] - row["lower"]) / (2 * z)
            assert abs(row["difference"]) <= 3 * se, row
        else:
            se = math.sqrt(row["published"] * (1 - row["published"]) / row["n"])
            assert abs(row["difference"]) <= 3 * se, row
