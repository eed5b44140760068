"""The attacker's test (issue 12.6): render a batch on a cohort built to be hard, then try to
recover every hidden count from what the output folder publishes.

The cohort has tiny subgroups (regimen classes of 1-4 patients), a one-patient level (ECOG 4,
endocrine therapy), margins that would reveal a hidden cell (Overall columns, column N, ILD grades
under their N, model N under the population) and a parameter file whose filter leaves 4 patients.
Every published file is parsed -- HTML tables, executed-notebook outputs, CSV, JSON, docx/xlsx --
and an attacker independent of :mod:`ensemble_helpers.disclosure`

1. collects every count printed (a count from 1 to k-1 is a finding);
2. writes the equations each table publishes (levels and Missing add up to the column N, the
   groups add up to the Overall column, the events are part of N, responders part of their N,
   disease control includes the responses, the percentages give their denominator, a model's N
   plus the patients it left out is the population, the records of ``results.json`` and
   ``summary.csv`` likewise) and solves, by linear programming, for the smallest and largest value
   of every hidden count and of every count a reader can form by difference (the censored
   patients, the non-responders, the levels not printed): one possible value is a finding;
3. searches every file for patient and site ids and for the input file's dates.

What it checked is written to ``attack_report.json`` in the test's folder and printed.
"""
from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ensemble_helpers.batch import run_batch
from ensemble_helpers.disclosure import INTERNAL_DIR

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [ROOT / "notebooks" / f"{name}.ipynb" for name in ("01_cohort", "02_endpoints", "03_subgroups")]
K = 5
INDENT = "\u00a0"
COUNT_HEADERS = {"N", "Events", "n (%)", "Patients remaining", "Excluded at this step",
                 "Excluded (missing covariate)"}


# ---------------------------------------------------------------------------------------------
# The hard cohort and its batch
# ---------------------------------------------------------------------------------------------
def hard_cohort(seed: int = 5) -> pd.DataFrame:
    """150 synthetic patients with distinctive ids, one endocrine-therapy patient, one ECOG 4
    patient, regimen classes of 4 (other anti-HER2, other), ILD grade 3 of 4 patients."""
    from ensemble_helpers.synthetic import generate_cohort

    df = generate_cohort(n=150, n_sites=30, seed=seed)
    rng = np.random.default_rng(seed)
    df["patient_id"] = [f"PTID-{k:06d}" for k in rng.choice(900_000, size=len(df), replace=False) + 100_000]
    df["site_id"] = df["site_id"].map({s: f"SITE-XYZ-{i + 17}" for i, s in enumerate(sorted(df["site_id"].unique()))})
    endocrine = np.flatnonzero(df["next_class"].to_numpy() == "endocrine")
    assert endocrine.size >= 2, "the seed gives too few endocrine patients"
    for i in endocrine[1:]:  # one endocrine patient left: a one-patient level
        df.loc[df.index[i], ["next_class", "next_regimen"]] = ["chemotherapy", "capecitabine"]
    df.loc[df.index[np.flatnonzero(df["ecog"].to_numpy() == 0)[0]], "ecog"] = 4
    return df


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory):
    from ensemble_helpers.synthetic import write_cohort

    tmp = tmp_path_factory.mktemp("attack")
    cohort = hard_cohort()
    data = write_cohort(cohort, tmp / "hard_cohort.csv")
    common = {"data_path": str(data), "min_cell_size": K, "conf_level": 0.95, "timepoints": [6, 12],
              "subgroup_variables": ["regimen_group", "discontinuation_group", "hormone_receptor",
                                     "brain_metastasis"]}
    sets = {"hard": {"title": "Hard cohort", **common},
            "four_patients": {"title": "Filter leaving four patients", **common,
                              "filters": {"next_class": ["other"]}}}
    params = []
    for name, values in sets.items():
        params.append(tmp / f"{name}.yaml")
        params[-1].write_text(yaml.safe_dump(values), encoding="utf-8")
    result = run_batch(params, NOTEBOOKS, tmp / "reports", jobs=2, progress=False, cwd=ROOT)
    return result, cohort, tmp


# ---------------------------------------------------------------------------------------------
# The attacker
# ---------------------------------------------------------------------------------------------
@dataclass
class Cell:
    """One count as a reader sees it: a number, or what is known of a hidden one."""

    text: str
    value: int | None = None  # the printed number
    low: float = 0  # what a reader knows when it is hidden
    high: float | None = None

    @property
    def hidden(self) -> bool:
        return self.value is None


_PCT = re.compile(r"^(\d+) \((\d+(?:\.\d+)?)%\)$")


def read_cell(text: object) -> Cell | None:
    """A printed count (``"12"``, ``"12 (30.0%)"``, ``"<5"``, ``"≥5"``), or None."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    s = str(text).strip()
    if re.fullmatch(r"\d+", s):
        return Cell(s, int(s))
    m = _PCT.match(s)
    if m:
        return Cell(s, int(m.group(1)))
    m = re.fullmatch(r"<(\d+)", s)
    if m:
        return Cell(s, None, 1, int(m.group(1)) - 1)
    m = re.fullmatch(r"≥(\d+)", s)
    if m:
        return Cell(s, None, int(m.group(1)), None)
    return None


def percent_of(text: object) -> tuple[int, float] | None:
    m = _PCT.match(str(text).strip()) if text is not None else None
    return (int(m.group(1)), float(m.group(2))) if m else None


@dataclass
class System:
    """Equations ``total = sum(parts)`` over cells; unknowns are the hidden cells plus the
    implicit remainders a reader can form (``None`` cells)."""

    name: str
    cells: list[Cell] = field(default_factory=list)
    equations: list[tuple[int, list[int]]] = field(default_factory=list)

    def add(self, cell: Cell | None) -> int:
        self.cells.append(cell if cell is not None else Cell("(not printed)"))
        return len(self.cells) - 1

    def equation(self, total: int, parts: list[int], exact: bool = True) -> None:
        if not exact:  # total >= sum(parts): a remainder the reader does not see
            parts = [*parts, self.add(None)]
        self.equations.append((total, parts))

    def findings(self, k: int) -> tuple[list[str], list[str]]:
        """(hidden counts recovered exactly, counts from 1 to k-1 worked out exactly by difference)."""
        from scipy.optimize import linprog

        unknown = [i for i, c in enumerate(self.cells) if c.hidden]
        if not unknown or not self.equations:
            return [], []
        index = {i: j for j, i in enumerate(unknown)}
        rows, rhs = [], []
        for total, parts in self.equations:
            row, const = np.zeros(len(unknown)), 0.0
            for p in parts:
                if p in index:
                    row[index[p]] += 1
                else:
                    const += self.cells[p].value
            if total in index:
                row[index[total]] -= 1
            else:
                const -= self.cells[total].value
            if row.any():
                rows.append(row)
                rhs.append(-const)
        if not rows:
            return [], []
        bounds = [(self.cells[i].low, self.cells[i].high) for i in unknown]
        a, b = np.array(rows), np.array(rhs)
        recovered, below_k = [], []
        for i in unknown:
            c = np.zeros(len(unknown))
            c[index[i]] = 1
            lo = linprog(c, A_eq=a, b_eq=b, bounds=bounds, method="highs")
            hi = linprog(-c, A_eq=a, b_eq=b, bounds=bounds, method="highs")
            if lo.status != 0 or hi.status != 0:
                continue
            low, high = math.ceil(lo.fun - 1e-6), math.floor(-hi.fun + 1e-6)
            cell = self.cells[i]
            if low == high and cell.text != "(not printed)":
                recovered.append(f"{self.name}: hidden {cell.text} is {low}")
            elif low == high and 1 <= low < k:  # known to be 1..k-1 only is what "<k" says
                below_k.append(f"{self.name}: a count not printed is {low}")
        return recovered, below_k


def denominator(cells: list[object]) -> int | None:
    """The denominator the percentages of a column give away, when they agree on one."""
    candidates: set[int] | None = None
    for text in cells:
        found = percent_of(text)
        if not found or found[1] == 0:
            continue
        count, pct = found
        low = max(count, 1, math.floor(100 * count / (pct + 0.05)))
        high = math.ceil(100 * count / max(pct - 0.05, 1e-9)) + 1
        ok = {d for d in range(low, high + 1) if round(100 * count / d, 1) == pct} if pct < 100 else {count}
        candidates = ok if candidates is None else candidates & ok
    return next(iter(candidates)) if candidates and len(candidates) == 1 else None


def table_one_systems(df: pd.DataFrame, name: str, systems: list[System]) -> None:
    """Table 1: per column, each categorical variable's levels and Missing add up to the column
    N, the levels to the denominator of its percentages; the group columns add up to Overall."""
    cols = [c for c in df.columns if ", N = " in str(c)]
    if not cols:
        return
    s = System(name)
    n_cells = {c: s.add(read_cell(str(c).split(", N = ", 1)[1])) for c in cols}
    overall = next((c for c in cols if str(c).startswith("Overall")), None)
    groups = [c for c in cols if c != overall]
    if overall is not None and groups:
        s.equation(n_cells[overall], [n_cells[c] for c in groups])
    rows = df.to_dict("records")
    blocks: list[list[dict]] = []
    for row in rows:
        text = str(row["Characteristic"])
        if not text.startswith(INDENT):
            blocks.append([row])
        elif blocks:
            blocks[-1].append(row)
    for block in blocks:
        label_row, body = block[0], block[1:]
        kinds = [str(r["Characteristic"]).strip() for r in body]
        if "Median (IQR)" in kinds:
            continue  # continuous: its non-missing count is not printed
        if not body:  # yes/no: the "Yes" count is part of N
            for c in cols:
                cell = read_cell(label_row[c])
                if cell is not None:
                    s.equation(n_cells[c], [s.add(cell)], exact=False)
            continue
        level_cells: dict[str, dict[str, int]] = {}
        for r in body:
            level_cells[str(r["Characteristic"])] = {c: s.add(read_cell(r[c])) for c in cols}
        for c in cols:
            levels = [v[c] for k, v in level_cells.items() if k.strip() != "Missing"]
            missing = [v[c] for k, v in level_cells.items() if k.strip() == "Missing"]
            s.equation(n_cells[c], levels + missing, exact=not any(
                s.cells[i].text == "(not printed)" for i in levels + missing))
            d = denominator([r[c] for r in body])
            if d is not None:
                s.equation(s.add(Cell(str(d), d)), levels)
        if overall is not None and groups:
            for cells in level_cells.values():
                s.equation(cells[overall], [cells[c] for c in groups])
    systems.append(s)


def column_systems(df: pd.DataFrame, name: str, systems: list[System]) -> None:
    """Frequency tables (rows of one ``n (%)`` column add up to the total their percentages give)
    and Kaplan-Meier tables (Group, N, Events: events part of N, groups add up to Overall)."""
    cols = [str(c) for c in df.columns]
    if "n (%)" in cols and not any(", N = " in c for c in cols):
        s = System(name)
        first = df.columns[0]
        counted = [r for r in df.to_dict("records") if str(r[first]) != "Missing"]
        d = denominator([r["n (%)"] for r in counted])
        if d is not None:
            s.equation(s.add(Cell(str(d), d)), [s.add(read_cell(r["n (%)"])) for r in counted])
            systems.append(s)
    if {"Group", "N", "Events"} <= set(cols):
        s = System(name)
        by_endpoint: dict[str, dict[str, tuple[int, int]]] = {}
        for r in df.to_dict("records"):
            n, e = read_cell(r["N"]), read_cell(r["Events"])
            if n is None or e is None:
                continue
            ni, ei = s.add(n), s.add(e)
            s.equation(ni, [ei], exact=False)  # the censored patients
            by_endpoint.setdefault(str(r.get("Endpoint", "")), {})[str(r["Group"])] = (ni, ei)
        for rows in by_endpoint.values():
            if "Overall" in rows and len(rows) > 1:
                others = [v for g, v in rows.items() if g != "Overall"]
                for j in (0, 1):
                    s.equation(rows["Overall"][j], [v[j] for v in others])
        systems.append(s)
    if "n / N" in cols:
        s = System(name)
        groups: dict[str, dict[str, tuple[int, int]]] = {}
        for r in df.to_dict("records"):
            parts = str(r["n / N"]).split(" / ")
            if len(parts) != 2:
                continue
            num, den = read_cell(parts[0]), read_cell(parts[1])
            if num is None or den is None:
                continue
            ni, di = s.add(num), s.add(den)
            s.equation(di, [ni], exact=False)  # the non-responders
            groups.setdefault(str(r.get("Group", "Overall")), {})[str(r["Measure"])] = (ni, di)
        for measures in groups.values():
            if "ORR" in measures and "DCR" in measures:
                s.equation(measures["DCR"][0], [measures["ORR"][0]], exact=False)  # stable disease
        systems.append(s)


def model_systems(frames: list[pd.DataFrame], name: str, systems: list[System]) -> None:
    """Within one file: a Cox model's N, plus the patients it left out, is part of the
    endpoint's population printed in the Kaplan-Meier table's Overall row (the rest, e.g. a level
    left out of the model, is a count a reader forms by difference)."""
    population: dict[str, Cell] = {}
    for df in frames:
        if {"Group", "N", "Endpoint"} <= set(df.columns):
            for r in df.to_dict("records"):
                cell = read_cell(r["N"])
                if str(r["Group"]) == "Overall" and cell is not None:
                    population.setdefault(str(r["Endpoint"]), cell)
    s = System(f"{name} (models vs population)")
    for df in frames:
        if not {"Term", "N", "Endpoint"} <= set(df.columns):
            continue
        for r in df.to_dict("records"):
            pop, n = population.get(str(r["Endpoint"])), read_cell(r["N"])
            if pop is None or n is None:
                continue
            parts = [s.add(n)]
            excluded = read_cell(r.get("Excluded (missing covariate)"))
            if excluded is not None:
                parts.append(s.add(excluded))
            s.equation(s.add(pop), parts, exact=False)
    if s.equations:
        systems.append(s)


def across_tables(frames: list[pd.DataFrame], name: str) -> list[str]:
    """Within one file: a group size hidden in one table and printed in another (Table 1's column
    N against the frequency table listing the same groups)."""
    headers: dict[str, Cell] = {}
    for df in frames:
        for col in df.columns:
            if ", N = " in col:
                label, _, text = col.partition(", N = ")
                cell = read_cell(text)
                if cell is not None:
                    headers[label] = cell
    found = []
    for df in frames:
        if "n (%)" not in df.columns or not len(df.columns) or ", N = " in " ".join(df.columns):
            continue
        first = df.columns[0]
        rows = {str(r[first]): read_cell(r["n (%)"]) for r in df.to_dict("records")}
        shared = [g for g in headers if g != "Overall" and g in rows and rows[g] is not None]
        if len(shared) < 2:
            continue
        for g in shared:
            a, b = headers[g], rows[g]
            if a.hidden != b.hidden:
                found.append(f"{name}: group {g!r} is {a.text} in Table 1 and {b.text} in a frequency table")
    return found


def record_systems(records: list[dict], name: str, systems: list[System]) -> None:
    """results.json / summary.csv: Kaplan-Meier levels add up to Overall and hold their events,
    the levels of a proportion partition its N, DCR includes ORR, a model's N is part of the
    population."""
    def cell(value: object) -> Cell:
        if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
            return Cell("(hidden)", None, 0, None)
        return Cell(str(value), int(float(value)))

    s = System(name)
    km: dict[tuple, dict[str, tuple[int, int]]] = {}
    props: dict[tuple, list[tuple[int, int]]] = {}
    resp: dict[tuple, dict[str, int]] = {}
    population = None
    for r in records:
        analysis, group = str(r.get("analysis")), str(r.get("group"))
        if analysis == "count" and str(r.get("endpoint")) == "patients":
            population = s.add(cell(r.get("n")))
    for r in records:
        analysis, endpoint, group = str(r.get("analysis")), str(r.get("endpoint")), str(r.get("group"))
        n, e = cell(r.get("n")), cell(r.get("events"))
        if analysis == "km_median":
            ni, ei = s.add(n), s.add(e)
            s.equation(ni, [ei], exact=False)
            variable = group.split("=", 1)[0] if "=" in group else None
            km.setdefault((r.get("notebook"), endpoint, variable), {})[group] = (ni, ei)
        elif str(r.get("unit")) == "proportion" and analysis in ("proportion", "response") and r.get("events") != "":
            ni, ei = s.add(n), s.add(e)
            s.equation(ni, [ei], exact=False)
            variable = group.split("=", 1)[0] if "=" in group else None
            if analysis == "proportion" and variable:
                props.setdefault((r.get("notebook"), endpoint, variable, str(r.get("n"))), []).append((ni, ei))
            if analysis == "response":
                resp.setdefault((r.get("notebook"), group), {})[endpoint] = ei
        elif analysis in ("cox_hr", "cox_hr_adjusted", "logrank", "complete_case") and population is not None \
                and r.get("n") not in (None, ""):
            s.equation(population, [s.add(n)], exact=False)
    overall = {(nb, ep): v["Overall"] for (nb, ep, var), v in km.items() if var is None and "Overall" in v}
    for (nb, ep, var), levels in km.items():
        if var is not None and (nb, ep) in overall:
            for j in (0, 1):
                s.equation(overall[(nb, ep)][j], [v[j] for v in levels.values()], exact=False)
    for members in props.values():
        if len(members) > 1:
            s.equation(members[0][0], [e for _, e in members], exact=False)
    for measures in resp.values():
        if "ORR" in measures and "DCR" in measures:
            s.equation(measures["DCR"], [measures["ORR"]], exact=False)
    systems.append(s)


def html_tables(text: str) -> list[pd.DataFrame]:
    if "<table" not in text:
        return []
    try:
        return pd.read_html(io.StringIO(text), flavor="lxml")
    except ValueError:
        return []


def published_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file() and INTERNAL_DIR not in p.relative_to(out).parts
                  and not p.name.startswith("."))


def attack(out: Path, cohort: pd.DataFrame, k: int = K) -> dict:
    """Parse every published file; return what was found and what was scanned."""
    systems: list[System] = []
    crossed: list[str] = []
    printed_small: list[str] = []
    texts: dict[str, str] = {}
    tables = 0
    for path in published_files(out):
        rel = path.relative_to(out).as_posix()
        frames: list[pd.DataFrame] = []
        if path.suffix in (".html", ".htm"):
            text = path.read_text(encoding="utf-8")
            texts[rel] = text
            frames = html_tables(text)
        elif path.suffix == ".ipynb":
            text = path.read_text(encoding="utf-8")
            texts[rel] = text
            nb = json.loads(text)
            for c in nb.get("cells", []):
                for o in c.get("outputs", []) or []:
                    data = o.get("data") or {}
                    if "text/html" in data:
                        frames += html_tables("".join(data["text/html"]))
        elif path.suffix == ".json":
            text = path.read_text(encoding="utf-8")
            texts[rel] = text
            data = json.loads(text)
            if path.name.endswith(".results.json"):
                record_systems(data, rel, systems)
                printed_small += [f"{rel}: {r.get('analysis')} {r.get('endpoint')} {r.get('group')} {f}={r[f]}"
                                  for r in data for f in ("n", "events")
                                  if isinstance(r.get(f), (int, float)) and 1 <= r[f] < k]
        elif path.suffix == ".csv":
            text = path.read_text(encoding="utf-8")
            texts[rel] = text
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
            if {"n", "events", "param_set", "notebook"} <= set(frame.columns):
                for (param_set, notebook), part in frame.groupby(["param_set", "notebook"]):
                    record_systems(part.to_dict("records"), f"{rel}[{param_set}/{notebook}]", systems)
                for r in frame.to_dict("records"):
                    for f in ("n", "events"):
                        if r[f] not in ("", None) and 1 <= float(r[f]) < k:
                            printed_small.append(f"{rel}: {r['param_set']}/{r['notebook']} {r['analysis']} {f}={r[f]}")
        elif path.suffix in (".svg", ".txt", ".md"):
            texts[rel] = path.read_text(encoding="utf-8", errors="replace")  # ids and dates only
        elif path.suffix == ".xlsx":
            for sheet in pd.read_excel(path, sheet_name=None, header=None, dtype=str).values():
                texts[f"{rel}:{len(texts)}"] = sheet.to_csv(index=False)
                if len(sheet) > 1:
                    body = sheet.iloc[1:].copy()
                    body.columns = [str(c) for c in sheet.iloc[0]]
                    frames.append(body)
        elif path.suffix == ".docx":
            import docx

            document = docx.Document(str(path))
            texts[rel] = "\n".join(p.text for p in document.paragraphs)
            for t in document.tables:
                rows = [[cell.text for cell in row.cells] for row in t.rows]
                texts[rel] += "\n" + "\n".join("\t".join(r) for r in rows)
                if len(rows) > 1:
                    frames.append(pd.DataFrame(rows[1:], columns=rows[0]))
        for df in frames:
            df.columns = [str(c[-1] if isinstance(c, tuple) else c) for c in df.columns]
        model_systems(frames, rel, systems)
        if path.suffix in (".html", ".htm"):
            crossed += across_tables(frames, rel)
        for df in frames:
            tables += 1
            name = f"{rel} table {tables}"
            for col in df.columns:
                counting = col in COUNT_HEADERS or ", N = " in col
                if ", N = " in col:
                    cell = read_cell(col.split(", N = ", 1)[1])
                    if cell is not None and cell.value is not None and 1 <= cell.value < k:
                        printed_small.append(f"{name}: header {col!r}")
                if not counting:
                    continue
                for v in df[col]:
                    cell = read_cell(v)
                    if cell is not None and cell.value is not None and 1 <= cell.value < k:
                        printed_small.append(f"{name}: {col} {v!r}")
            if "Characteristic" in df.columns:
                table_one_systems(df, name, systems)
            column_systems(df, name, systems)
    recovered, formed = list(crossed), []
    for s in systems:
        r, f = s.findings(k)
        recovered += r
        formed += f
    # identifiers and input dates
    ids = set(cohort["patient_id"].astype(str)) | set(cohort["site_id"].astype(str))
    id_pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(i)}(?![\w-])" for i in sorted(ids, key=len, reverse=True)))
    dates = set()
    for col in cohort.columns:
        if col.endswith(("_date", "_start", "_end", "followup")):
            dates |= {str(v)[:10] for v in pd.to_datetime(cohort[col], errors="coerce").dropna()}
    run_days = {m for text in texts.values() for m in re.findall(r"20\d\d-\d\d-\d\d(?=T\d\d:)", text)}
    run_days |= {pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d"), pd.Timestamp.now().strftime("%Y-%m-%d")}
    date_pattern = re.compile("|".join(re.escape(d) for d in sorted(dates - run_days)) or r"(?!x)x")
    identifiers = [f"{rel}: {m.group(0)}" for rel, text in texts.items() for m in id_pattern.finditer(text)]
    identifiers += [f"{rel}: date {m.group(0)}" for rel, text in texts.items() for m in date_pattern.finditer(text)]
    return {
        "files_scanned": len(published_files(out)),
        "tables_parsed": tables,
        "equation_systems": len(systems),
        "hidden_counts_attacked": sum(1 for s in systems for c in s.cells if c.hidden and c.text != "(not printed)"),
        "counts_below_k_found": printed_small,
        "recoverable_by_difference": recovered,
        "counts_below_k_formed_by_difference": formed,
        "identifiers_or_input_dates_found": identifiers,
    }


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------
def test_the_attacker_recovers_nothing(attacked) -> None:
    result, cohort, tmp = attacked
    failed = [f"{r.run_id}: {r.error}" for r in result.failed]
    assert not failed, "\n".join(failed)
    found = attack(result.output_dir, cohort)
    summary = {key: (len(v) if isinstance(v, list) else v) for key, v in found.items()}
    (tmp / "attack_report.json").write_text(json.dumps({"summary": summary, **found}, indent=1), encoding="utf-8")
    print("attacker's test:", json.dumps(summary))
    assert summary["files_scanned"] >= 20 and summary["tables_parsed"] >= 50
    assert summary["hidden_counts_attacked"] > 0  # the cohort is hard enough to hide something
    assert found["counts_below_k_found"] == []
    assert found["recoverable_by_difference"] == []
    assert found["counts_below_k_formed_by_difference"] == []
    assert found["identifiers_or_input_dates_found"] == []


def test_the_attacker_finds_what_an_unprotected_table_gives_away() -> None:
    """The attacker is not blind: on a Table 1 with primary suppression only, it recovers the
    hidden count from the Overall column."""
    t = pd.DataFrame({"Characteristic": ["Sex", f"{INDENT * 4}F", f"{INDENT * 4}M"],
                      "Overall, N = 20": ["", "17 (85.0%)", "<5"],
                      "A, N = 12": ["", "12 (100.0%)", "0 (0.0%)"], "B, N = 8": ["", "5 (62.5%)", "<5"]})
    systems: list[System] = []
    table_one_systems(t, "t", systems)
    recovered, _ = systems[0].findings(K)
    assert len(recovered) == 2  # M overall = 20 - 17 = 3 and M in B = 8 - 5 = 3
