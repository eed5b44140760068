"""The disclosure policy: secondary suppression, its audit, records, files, parameters, models.

Secondary suppression is checked against an independent attacker written here: for small tables
every assignment of the hidden cells consistent with what is printed is enumerated, and each hidden
count below k must keep at least two possible values.
"""

from __future__ import annotations

import itertools
import json
import os
import stat

import nbformat
import numpy as np
import pandas as pd
import pytest

from ensemble_helpers import disclosure
from ensemble_helpers.disclosure import (
    PRIMARY,
    SECONDARY,
    SHOWN,
    TOTAL,
    Line,
    protect,
    protect_partition,
    publishable_records,
)

K = 5


def brute_force_recovered(values, status, lines, k=K, cap=60):
    """Hidden cells below k (or secondary) with a single value consistent with the printed table.

    Hidden cells range over what a reader knows (primary 1..k-1, secondary k..cap, unpublished
    0..cap); every line must hold.
    """
    hidden = [c for c in values if status.get(c, "unpublished") != SHOWN]
    ranges = []
    for c in hidden:
        st = status.get(c, "unpublished")
        ranges.append(range(1, k) if st == PRIMARY else range(k, cap + 1) if st == SECONDARY else range(0, cap + 1))
    possible = {c: set() for c in hidden}
    full = []
    for ln in lines:
        full.append(ln)
    for combo in itertools.product(*ranges):
        v = dict(values)
        v.update(zip(hidden, combo))
        if all(sum(v[p] for p in ln.parts) == v[ln.total] for ln in full if ln.total is not None):
            for c, x in zip(hidden, combo):
                possible[c].add(x)
    return [c for c in hidden if (1 <= values[c] < k or status.get(c) == SECONDARY) and len(possible[c]) < 2]


def milp_recovered(p, k=K):
    """Like brute_force_recovered, with exact integer programs (scipy.optimize.milp) instead of
    enumeration: the smallest and largest whole value of each hidden cell."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    hidden = [c for c in p.values if p.status[c] != SHOWN]
    idx = {c: i for i, c in enumerate(hidden)}
    rows, rhs = [], []
    for ln in p.lines:
        row, const = np.zeros(len(hidden)), 0
        for c in ln.parts:
            if c in idx:
                row[idx[c]] += 1
            else:
                const += p.values[c]
        if ln.total in idx:
            row[idx[ln.total]] -= 1
        else:
            const -= p.values[ln.total]
        if row.any():
            rows.append(row)
            rhs.append(-const)
    if not rows:
        return []
    lo = [1 if p.status[c] == PRIMARY else k if p.status[c] == SECONDARY else 0 for c in hidden]
    hi = [k - 1 if p.status[c] == PRIMARY else 10_000 for c in hidden]
    cons = LinearConstraint(np.array(rows), rhs, rhs)
    out = []
    for c in hidden:
        if not (1 <= p.values[c] < k or p.status[c] == SECONDARY):
            continue
        obj = np.zeros(len(hidden))
        obj[idx[c]] = 1
        a = milp(obj, constraints=cons, integrality=np.ones(len(hidden)), bounds=Bounds(lo, hi))
        b = milp(-obj, constraints=cons, integrality=np.ones(len(hidden)), bounds=Bounds(lo, hi))
        if round(a.fun) == round(-b.fun) and not (p.status[c] == PRIMARY and k == 2):
            out.append(c)
    return out


# ---------------------------------------------------------------------------------------------
# one-way tables
def test_partition_hides_the_next_smallest_level():
    p = protect_partition({"a": 120, "b": 40, "c": 3, "d": 0}, None, K)
    assert p.status == {"a": SHOWN, "b": SECONDARY, "c": PRIMARY, "d": SHOWN, TOTAL: SHOWN}
    assert [p.text(x) for x in ("a", "b", "c", "d", TOTAL)] == ["120", "≥5", "<5", "0", "163"]
    assert "complementary" in p.note()


def test_two_small_levels_whose_sum_is_below_k_get_a_third():
    p = protect_partition({"a": 50, "b": 30, "c": 1, "d": 2}, None, K)
    assert p.status["c"] == p.status["d"] == PRIMARY
    assert p.status["b"] == SECONDARY  # 1 + 2 = 3 would be the difference 83 - 80
    assert p.status["a"] == SHOWN


def test_nothing_hidden_when_every_level_is_large_or_empty():
    p = protect_partition({"a": 50, "b": 0, "c": 7}, None, K)
    assert p.hidden == [] and p.note() == ""


def test_missing_values_not_shown_are_a_remainder_that_is_protected():
    # 3 patients with a missing value: the levels add up to N - 3, so one level is hidden
    p = protect_partition({"yes": 40, "no": 20}, 63, K)
    assert p.status["no"] == SECONDARY and p.status["yes"] == SHOWN


def test_a_population_below_k_hides_every_count():
    p = protect_partition({"a": 2, "b": 1, "c": 0}, None, K)
    assert [p.text(x) for x in ("a", "b", "c", TOTAL)] == ["<5", "<5", "0", "<5"]


def test_min_cell_size_none_hides_nothing():
    p = protect_partition({"a": 2, "b": 1}, None, None)
    assert p.hidden == [] and p.text("b") == "1"


def test_percentages_dropped_for_hidden_counts_and_hidden_denominators():
    p = protect({"n": 60, "x": 40, "y": 20, "m": 30, "z": 3, "w": 27},
                [Line("n", ["x", "y"]), Line("m", ["z", "w"])], K)
    assert p.text_pct("x", "n") == "40 (66.7%)"
    assert p.text_pct("z", "m") == "<5"
    assert p.text_pct("w", "m") == "≥5"


@pytest.mark.parametrize("seed", range(25))
def test_random_one_way_tables_resist_the_brute_force_attacker(seed):
    rng = np.random.default_rng(seed)
    counts = {f"l{i}": int(x) for i, x in enumerate(rng.choice([0, 1, 2, 3, 4, 5, 6, 9, 14], size=rng.integers(2, 5)))}
    total = sum(counts.values()) + int(rng.choice([0, 0, 2, 7]))
    p = protect_partition(counts, total, K)
    assert brute_force_recovered(p.values, p.status, p.lines, cap=min(total, 30)) == []


# ---------------------------------------------------------------------------------------------
# two-way tables (Table 1: levels x groups with an Overall column and column N)
def two_way(table: np.ndarray):
    values, lines = {}, []
    rows, cols = table.shape
    for i in range(rows):
        for j in range(cols):
            values[(i, j)] = int(table[i, j])
        values[(i, "all")] = int(table[i].sum())
        lines.append(Line((i, "all"), [(i, j) for j in range(cols)]))
    for j in range(cols):
        values[("N", j)] = int(table[:, j].sum())
        lines.append(Line(("N", j), [(i, j) for i in range(rows)]))
    values[("N", "all")] = int(table.sum())
    lines.append(Line(("N", "all"), [(i, "all") for i in range(rows)]))
    lines.append(Line(("N", "all"), [("N", j) for j in range(cols)]))
    return values, lines


def test_overall_column_cannot_give_back_a_hidden_group_cell():
    table = np.array([[20, 14, 3], [10, 9, 8]])
    values, lines = two_way(table)
    p = protect(values, lines, K)
    assert p.status[(0, 2)] == PRIMARY
    assert brute_force_recovered(p.values, p.status, p.lines, cap=40) == []


@pytest.mark.parametrize("seed", range(25))
def test_random_two_way_tables_resist_the_brute_force_attacker(seed):
    rng = np.random.default_rng(100 + seed)
    table = rng.choice([0, 1, 2, 3, 6, 8, 11], size=(2, 3))
    values, lines = two_way(table)
    p = protect(values, lines, K)
    assert p.complete
    # the LP audit and the enumeration agree that nothing is recoverable
    assert disclosure.audit(p.values, p.status, p.lines, K) == []
    assert milp_recovered(p) == []


def test_audit_finds_a_cell_recovered_through_two_lines():
    # a hidden in row 0 and column 0 only with its partners shown elsewhere: pinned by the column
    values = {"a": 3, "b": 10, "r": 13, "c": 12, "N": 15}
    status = {"a": PRIMARY, "b": SECONDARY, "r": SHOWN, "c": SHOWN, "N": SHOWN}
    lines = [Line("r", ["a", "b"]), Line("N", ["a", "c"])]
    assert disclosure.audit(values, status, lines, K) == ["a", "b"]


def test_audit_memo_gives_the_same_answers_and_solves_each_group_once(monkeypatch):
    import scipy.optimize

    calls = []
    real = scipy.optimize.linprog
    monkeypatch.setattr(scipy.optimize, "linprog", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    rng = np.random.default_rng(7)
    for _ in range(5):
        values, lines = two_way(rng.choice([0, 1, 2, 3, 6, 8, 11], size=(3, 3)))
        plain = protect(values, lines, K)
        memo: dict = {}
        shared = protect(values, lines, K, memo=memo)
        assert (shared.status, shared.complete) == (plain.status, plain.complete)
        # an audit of an unchanged table: every group's answer comes from the memo
        expected = disclosure.audit(shared.values, shared.status, shared.lines, K)
        before = len(calls)
        assert disclosure.audit(shared.values, shared.status, shared.lines, K, memo=memo) == expected
        assert len(calls) == before
    # the recovered cells of a memoised group come back as cells of the table asking
    values = {"a": 3, "b": 10, "r": 13, "c": 12, "N": 15}
    status = {"a": PRIMARY, "b": SECONDARY, "r": SHOWN, "c": SHOWN, "N": SHOWN}
    lines = [Line("r", ["a", "b"]), Line("N", ["a", "c"])]
    memo = {}
    assert disclosure.audit(values, status, lines, K, memo=memo) == ["a", "b"]
    renamed = {"A": 3, "B": 10, "R": 13, "C": 12, "NN": 15}
    status2 = {"A": PRIMARY, "B": SECONDARY, "R": SHOWN, "C": SHOWN, "NN": SHOWN}
    lines2 = [Line("R", ["A", "B"]), Line("NN", ["A", "C"])]
    assert disclosure.audit(renamed, status2, lines2, K, memo=memo) == ["A", "B"]


def test_keep_shown_cells_stay_and_an_impossible_request_is_reported():
    p = protect({"t": 10, "a": 7, "b": 3}, [Line("t", ["a", "b"])], K, keep_shown=["a", "t"])
    assert not p.complete
    with pytest.raises(ValueError, match="below min_cell_size"):
        protect({"t": 10, "a": 7, "b": 3}, [Line("t", ["a", "b"])], K, keep_shown=["b"])


def test_attrition_chain():
    # 300 in the file, 297 excluded by a filter: 3 left; the excluded count gives them back
    values = {"s0": 300, "s1": 3, "x1": 297}
    p = protect(values, [Line("s0", ["s1", "x1"])], K)
    assert p.text("s1") == "<5" and p.text("x1") == "≥5"


def test_line_errors():
    with pytest.raises(ValueError, match="more than the total"):
        protect({"t": 5, "a": 7}, [Line("t", ["a"])], K)
    with pytest.raises(ValueError, match="no value"):
        protect({"t": 5}, [Line("t", ["zz"])], K)


# ---------------------------------------------------------------------------------------------
# results records
def km(group, n, events, est=4.0):
    return {"notebook": "03", "analysis": "km_median", "endpoint": "PFS", "group": group, "n": n,
            "events": events, "estimate": est, "lower": 3.0, "upper": 5.0, "unit": "months", "p": None}


def test_records_small_group_loses_counts_and_statistics_and_a_complement_is_hidden():
    recs = [km("Overall", 163, 150), km("x=a", 120, 110), km("x=b", 40, 37), km("x=c", 3, 3)]
    out = publishable_records(recs, K)
    by = {r["group"]: r for r in out}
    assert by["x=c"]["n"] is None and by["x=c"]["estimate"] is None and by["x=c"]["events"] is None
    assert by["x=b"]["n"] is None and by["x=b"]["estimate"] == 4.0
    assert by["x=a"]["n"] == 120 and by["Overall"]["n"] == 163
    assert by["x=c"]["suppressed"]["n"] == "primary" and by["x=b"]["suppressed"]["n"] == "secondary"
    assert "suppressed" not in by["x=a"]
    assert recs[3]["n"] == 3  # input unchanged


def test_records_proportion_partition_and_rate_of_hidden_counts():
    recs = [{"notebook": "01", "analysis": "proportion", "endpoint": "reason", "group": f"reason={g}",
             "n": 100, "events": e, "estimate": e / 100, "lower": 0.0, "upper": 1.0, "unit": "proportion", "p": None}
            for g, e in (("a", 70), ("b", 27), ("c", 3))]
    out = publishable_records(recs, K)
    assert [r["events"] for r in out] == [70, None, None]
    assert [r["estimate"] for r in out] == [0.7, None, None]


def test_records_yes_no_complement_is_protected():
    # ORR 27 / 30: the 3 non-responders are n - events
    rec = {"notebook": "02", "analysis": "response", "endpoint": "ORR", "group": "Overall", "n": 30,
           "events": 27, "estimate": 0.9, "lower": 0.7, "upper": 0.98, "unit": "proportion", "p": None}
    out = publishable_records([rec], K)[0]
    assert out["n"] == 30 and out["events"] is None and out["estimate"] is None


def test_records_model_n_one_below_the_population_is_hidden():
    recs = [km("Overall", 100, 80), {"notebook": "03", "analysis": "cox_hr_adjusted", "endpoint": "PFS",
                                     "group": "x=b", "n": 97, "events": 78, "estimate": 1.2, "lower": 0.8,
                                     "upper": 1.8, "unit": "ratio", "p": 0.3}]
    out = publishable_records(recs, K)
    assert out[1]["n"] is None and out[1]["events"] is None and out[1]["estimate"] == 1.2


def test_records_population_below_k():
    recs = [{"notebook": "01", "analysis": "count", "endpoint": "patients", "group": "Overall", "n": 3,
             "events": None, "estimate": 3, "lower": None, "upper": None, "unit": "count", "p": None},
            km("Overall", 3, 2, est=2.5)]
    out = publishable_records(recs, K)
    assert out[0]["n"] is None and out[0]["estimate"] is None
    assert out[1]["estimate"] is None and out[1]["n"] is None


def test_records_without_min_cell_size_are_unchanged():
    recs = [km("x=c", 3, 3)]
    assert publishable_records(recs, None) == recs


# ---------------------------------------------------------------------------------------------
# files
def test_scrub_text_paths_and_ids(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    text = (f"params_file = '{root}/params/a.yaml'\ndata = '/home/someone/secret/data.csv'\n"
            "see https://example.org/a/b and 2024/01/02; PT-1 and PT-12 but not PT-123x")
    out = disclosure.scrub_text(text, root, ["PT-1", "PT-12"])
    assert "params/a.yaml" in out and str(root) not in out
    assert "'data.csv'" in out and "/home/someone" not in out
    assert "https://example.org/a/b" in out and "2024/01/02" in out
    assert "[id] and [id]" in out and "PT-123x" in out


def test_identifier_scrubber_finds_what_one_regular_expression_of_all_ids_finds():
    import random
    import re

    def reference(text, ids):  # the former implementation: one alternation, longest id first
        ids = sorted(set(ids), key=len, reverse=True)
        pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(i)}(?![\w-])" for i in ids))
        return pattern.sub(disclosure.files.ID_PLACEHOLDER, text)

    rng = random.Random(11)
    alphabet = ["PT", "-", "0", "1", "7", ".", "_", " ", "/", "A", "é", "(", "x", "\n", "[", "]"]
    for _ in range(400):
        ids = {"".join(rng.choice(alphabet[:12]) for _ in range(rng.randint(1, 5))) for _ in range(6)}
        ids = {i for i in ids if i.strip()}
        text = "".join(rng.choice([*alphabet, *ids]) for _ in range(60))
        assert disclosure.IdentifierScrubber(ids)(text) == reference(text, ids), (ids, text)
    scrub = disclosure.IdentifierScrubber(["PT-1", "A.7", "S_9"])
    assert scrub("PT-1, PT-10, xA.7, A.7; S_9 and (S_9)") == "[id], PT-10, xA.7, [id]; [id] and ([id])"
    assert not disclosure.IdentifierScrubber(["", " ", None])


def test_publishable_notebook_scrubs_sources_outputs_and_metadata(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"input_path": "/abs/x/notebooks/n.ipynb", "output_path": "/abs/tmp/out.ipynb",
                                "parameters": {"params_file": "/abs/x/params/p.yaml", "min_cell_size": 5}}
    cell = nbformat.v4.new_code_cell("params_file = '/abs/x/params/p.yaml'")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="/abs/venv/lib/site.py:1: Warning PID-9"),
                    nbformat.v4.new_output("display_data", data={"text/html": "<p>/abs/x/data/d.csv</p>",
                                                                 "image/png": "iVBOR/abs/x+/y=="})]
    nb.cells = [cell]
    disclosure.publishable_notebook(nb, "/abs/x", ["PID-9"])
    text = json.dumps(nb)
    assert "/abs/x" not in text.replace("iVBOR/abs/x+/y==", "")
    assert "params/p.yaml" in text and "[id]" in text and "data/d.csv" in text
    assert nb.cells[0].outputs[1]["data"]["image/png"] == "iVBOR/abs/x+/y=="


def test_write_internal_is_owner_only(tmp_path):
    path = disclosure.write_internal(tmp_path, "full/01.results.json", "[]")
    assert path.read_text() == "[]"
    assert disclosure.is_owner_only(path) and disclosure.is_owner_only(tmp_path / "internal")
    assert disclosure.is_owner_only(tmp_path / "internal" / "full")
    shared = tmp_path / "summary.csv"
    shared.write_text("x")
    os.chmod(shared, 0o600)
    disclosure.set_shared_permissions(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == disclosure.SHARED_FILE_MODE


def test_data_identifiers(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("patient_id,site_id,age\nP-1,S-9,50\nP-2,S-9,\n")
    assert disclosure.data_identifiers(f) == {"P-1", "P-2", "S-9"}
    assert disclosure.data_identifiers(tmp_path / "absent.csv") == set()


# ---------------------------------------------------------------------------------------------
# parameters and models
@pytest.mark.parametrize("column, use, refused", [
    ("patient_id", "filters", True), ("site_id", "subgroup_variables", True),
    ("death_date", "filters", True), ("tdxd_start", "subgroup_variables", True),
    ("age", "subgroup_variables", True), ("age", "filters", False),
    ("regimen_group", "subgroup_variables", False), ("visit_dt", "filters", True),
])
def test_refused_reason(column, use, refused):
    assert (disclosure.refused_reason(column, use) is not None) is refused


def test_pool_levels_merges_hidden_levels_and_keeps_every_patient():
    s = pd.Series(pd.Categorical(["a"] * 40 + ["b"] * 12 + ["c"] * 3 + [None] * 2, categories=["a", "b", "c", "d"]))
    pooled, mapping = disclosure.pool_levels(s, K)
    assert mapping == {"b": "b or c", "c": "b or c"}
    assert pooled.value_counts().to_dict() == {"a": 40, "b or c": 15}
    assert pooled.isna().sum() == 2
    same, none = disclosure.pool_levels(pd.Series(["a"] * 6 + ["b"] * 5), K)
    assert none == {} and same.tolist() == ["a"] * 6 + ["b"] * 5


def test_subset_count():
    assert disclosure.subset_count(97, 100, K) == "≥5"
    assert disclosure.subset_count(95, 100, K) == "95"
    assert disclosure.subset_count(100, 100, K) == "100"
    assert disclosure.subset_count(3, 100, K) == "<5"
    assert disclosure.subset_count(97, 100, None) == "97"


def test_docstring_examples_of_the_disclosure_package_and_its_tables():
    import doctest
    import importlib

    names = ["ensemble_helpers.disclosure", "ensemble_helpers.disclosure.cells", "ensemble_helpers.disclosure.files",
             "ensemble_helpers.disclosure.margins", "ensemble_helpers.disclosure.models",
             "ensemble_helpers.disclosure.parameters", "ensemble_helpers.disclosure.records",
             "ensemble_helpers.tables.counts", "ensemble_helpers.tables.endpoints", "ensemble_helpers.batch.index"]
    results = [doctest.testmod(importlib.import_module(n), optionflags=doctest.NORMALIZE_WHITESPACE) for n in names]
    assert sum(r.attempted for r in results) > 20
    assert sum(r.failed for r in results) == 0
