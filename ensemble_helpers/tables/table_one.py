"""Table 1: baseline characteristics as gtsummary's ``tbl_summary`` (with ``add_difference``'s SMD)."""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ensemble_helpers.formats import (
    DASH,
    format_estimate,
    format_number,
    format_p,
)
from ensemble_helpers.formats import is_missing as _missing
from ensemble_helpers.disclosure import (
    PRIMARY,
    SECONDARY,
    Line,
    Protection,
    audit,
    group_sizes,
    protect,
    suppression_note,
)
from ensemble_helpers.labels import label
from ensemble_helpers.stats.balance import SMD_THRESHOLD, variable_smd
from ensemble_helpers.stats.descriptive import (
    FISHER_RESAMPLES,  # noqa: F401 (tables.FISHER_RESAMPLES)
    TEST_NAMES,
    categorical_test,
    continuous_test,
    quartiles,
)
from ensemble_helpers.tables._common import (
    INDENT,
    _levels,
    _require,
    _value_label,
    _variable_type,
)
from ensemble_helpers.settings import takes_settings

logger = logging.getLogger(__name__)


@takes_settings
def table_one(
    adsl: pd.DataFrame,
    by: str | None,
    variables: Sequence[str],
    *,
    overall: bool = True,
    pvalues: bool = False,
    min_cell_size: int | None = 5,
    digits: int = 1,
    types: Mapping[str, str] | None = None,
    show_range: bool = True,
    smd: bool = False,
) -> pd.DataFrame:
    """Baseline characteristics by group, laid out like gtsummary's ``tbl_summary``.

    Parameters
    ----------
    adsl : DataFrame
        One row per patient.
    by : str or None
        Grouping column (categories in their order; empty groups are left out; patients with a
        missing group are left out of the group columns *and* the Overall column, as gtsummary
        does). ``None`` gives the Overall column only.
    variables : sequence of str
        Columns to summarise, in row order.
    overall : bool
        Add an "Overall" column (first, as gtsummary's ``add_overall()``) when ``by`` is given.
    pvalues : bool
        Add a "p-value" column: Pearson's chi-squared test (Yates-corrected for 2x2, like R's
        ``chisq.test``) for categorical and yes/no variables, Fisher's exact test when an expected
        count is below 5 (exact for 2x2, seeded Monte Carlo for larger tables), Kruskal–Wallis for
        continuous variables. Missing values are left out of the tests.
    min_cell_size : int or None
        Counts from 1 to ``min_cell_size - 1`` are shown as ``"<min_cell_size"`` without a
        percentage; the summaries of a continuous variable in a group with fewer non-missing
        values are blank. ``None`` shows everything.
    digits : int
        Decimals of percentages and of continuous summaries.
    types : mapping, optional
        Force a variable's summary: ``"categorical"``, ``"dichotomous"`` or ``"continuous"``.
        By default booleans are dichotomous (one row, the "Yes" count), categories and integer
        columns with fewer than 10 distinct values are categorical, other numbers continuous.
    show_range : bool
        Add the "Range" row of continuous variables (minimum and maximum are single patients'
        values: a disclosure policy may want them off).
    smd : bool
        With exactly two groups, add an "SMD" column (gtsummary ``add_difference``-style): the
        standardised mean difference of each variable, first group vs second
        (:func:`ensemble_helpers.stats.balance.variable_smd`: pooled SD for continuous
        variables, Yang & Dalton's multi-level SMD for categorical and yes/no ones, missing
        values left out), flagged "†" above 0.1. Not shown (blank) for a variable with a count
        from 1 to ``min_cell_size - 1`` in either group: with the group sizes it could give the
        count back.

    Returns
    -------
    DataFrame
        Columns ``Characteristic``, ``"Overall, N = 664"``, one ``"<group label>, N = <n>"`` per
        group, and ``p-value`` when asked. The index (hidden in HTML) has levels ``variable`` and
        ``row_type`` (``label``, ``level``, ``stat``, ``missing``); :func:`to_html` prints label rows
        in bold. ``df.attrs["footnote"]`` names the statistics and tests.

    Raises
    ------
    KeyError
        ``by`` or a variable is not a column of ``adsl``.
    ValueError
        An unknown type in ``types``.

    Examples
    --------
    >>> df = pd.DataFrame({"arm": ["a", "a", "b"], "age": [50.0, 60.0, 70.0]})
    >>> table_one(df, "arm", ["age"], min_cell_size=None).iloc[1].tolist()
    ['\\xa0\\xa0\\xa0\\xa0Median (IQR)', '60.0 (50.0–70.0)', '55.0 (50.0–60.0)', '70.0 (70.0–70.0)']
    """
    types = dict(types or {})
    wanted = [c for c in [by, *variables] if c is not None]
    _require(adsl, wanted, "table_one")
    bad_types = {k: v for k, v in types.items() if v not in ("categorical", "dichotomous", "continuous")}
    if bad_types:
        raise ValueError(f"table_one: unknown type(s) {bad_types}; use categorical, dichotomous or continuous")

    data = adsl
    groups: list[tuple[str, np.ndarray]] = []  # (column header, row mask)
    if by is not None:
        g = adsl[by]
        dropped = int(g.isna().sum())
        if dropped:
            logger.info("table_one: %d patient(s) with missing %s left out", dropped, by)
            data = adsl.loc[g.notna()]
            g = data[by]
        for level in _levels(g):
            mask = (g == level).to_numpy()
            if mask.sum() == 0:
                logger.info("table_one: group %s=%s has no patient and is left out", by, level)
                continue
            groups.append((_value_label(level), mask))
    columns: list[tuple[str, np.ndarray]] = []
    if by is None or overall:
        columns.append(("Overall", np.ones(len(data), dtype=bool)))
    columns += groups
    kinds = {var: types.get(var) or _variable_type(data[var], var) for var in variables}
    # the column N printed elsewhere (the population, the group sizes the frequency tables show)
    # must stay printed here: hiding it in one table only would protect nothing
    printed_n = [0] if columns and columns[0][0] == "Overall" else []
    if by is not None and min_cell_size is not None:
        sizes = group_sizes(g, min_cell_size)
        shown_levels = [lvl for lvl in _levels(g) if (g == lvl).sum() > 0]
        first = len(columns) - len(groups)
        printed_n += [first + i for i, lvl in enumerate(shown_levels) if not sizes.is_hidden(lvl)]
    prot = _protect(data, columns, variables, kinds, with_overall=by is not None and overall and bool(groups),
                    min_cell_size=min_cell_size, printed_n=printed_n)
    columns = [(f"{name}, N = {prot.text(('N', j))}", mask) for j, (name, mask) in enumerate(columns)]
    groups = columns[-len(groups):] if groups else []
    group_columns = set(range(len(columns) - len(groups), len(columns)))
    with_p = pvalues and len(groups) >= 2
    with_smd = smd and len(groups) == 2
    flagged_smd = False

    rows: list[dict[str, Any]] = []
    index: list[tuple[str, str]] = []
    tests_used: set[str] = set()
    stats_used: list[str] = []

    def add(variable: str, row_type: str, text: str, cells: list[str], p: str = "", smd_text: str = "") -> None:
        row = {"Characteristic": text}
        row.update({name: cell for (name, _), cell in zip(columns, cells)})
        if with_p:
            row["p-value"] = p
        if with_smd:
            row["SMD"] = smd_text
        rows.append(row)
        index.append((variable, row_type))

    def smd_cell(s: pd.Series, kind: str, masks: list[np.ndarray]) -> str:
        """The SMD of a variable, or "" when one of its counts in a group is suppressed."""
        nonlocal flagged_smd
        if not with_smd:
            return ""
        g1, g2 = groups[0][1], groups[1][1]
        if any(prot.status[key] in (PRIMARY, SECONDARY) for key in prot.values
               if isinstance(key, tuple) and len(key) > 1 and key[1] == s.name and key[-1] in group_columns):
            return ""
        value = variable_smd(s, g1, g2, kind)
        if _missing(value):
            return ""
        flag = value > SMD_THRESHOLD
        flagged_smd |= bool(flag)
        return format_number(value, 2) + (" †" if flag else "")

    for var in variables:
        s = data[var]
        kind = kinds[var]
        missing = s.isna().to_numpy()
        title = label(var)
        if kind == "continuous":
            if "Median (IQR)" not in stats_used:
                stats_used += ["Median (IQR)"] + (["Range"] if show_range else [])
            x_all = pd.to_numeric(s, errors="raise").to_numpy(dtype=float, na_value=np.nan)
            p_text = ""
            if with_p:
                p, test = continuous_test([x_all[m & ~missing] for _, m in groups])
                p_text, tests_used = format_p(p), tests_used | ({test} - {""})
            med_cells, range_cells = [], []
            for _, mask in columns:
                x = x_all[mask & ~missing]
                if x.size == 0 or (min_cell_size is not None and x.size < min_cell_size):
                    med_cells.append("")
                    range_cells.append("")
                    continue
                med, q1, q3 = quartiles(x)
                med_cells.append(format_estimate(med, q1, q3, digits=digits, na=""))
                range_cells.append(
                    f"{format_number(x.min(), digits)}{DASH}{format_number(x.max(), digits)}"
                )
            known = ~missing
            add(var, "label", title, [""] * len(columns), p_text,
                smd_cell(s, "continuous", [known, missing] if missing.any() else [known]))
            add(var, "stat", f"{INDENT}Median (IQR)", med_cells)
            if show_range:
                add(var, "stat", f"{INDENT}Range", range_cells)
        elif kind in ("categorical", "dichotomous"):
            if "n (%)" not in stats_used:
                stats_used.insert(0, "n (%)")
            if kind == "dichotomous":
                levels, all_levels = [True], [True, False]
            else:
                levels = all_levels = _levels(s)
            level_masks = [s.isin([lvl]).to_numpy(dtype=bool) & ~missing for lvl in all_levels]
            p_text = ""
            if with_p:
                table = np.array([[int((lm & gm).sum()) for _, gm in groups] for lm in level_masks])
                p, test = categorical_test(table)
                p_text, tests_used = format_p(p), tests_used | ({test} - {""})
            denominator = _denominators(var, missing.any(), len(columns))
            level_cells = [[prot.text_pct(("n", var, i, j), denominator[j], digits) for j in range(len(columns))]
                           for i in range(len(levels))]
            smd_text = smd_cell(s, kind, [*level_masks, missing])
            if kind == "dichotomous":
                add(var, "label", title, level_cells[0], p_text, smd_text)
            else:
                add(var, "label", title, [""] * len(columns), p_text, smd_text)
                for lvl, cells in zip(levels, level_cells):
                    add(var, "level", f"{INDENT}{_value_label(lvl)}", cells)
        else:  # pragma: no cover - validated above
            raise ValueError(kind)
        if missing.any():
            add(var, "missing", f"{INDENT}Missing", [prot.text(("miss", var, j)) for j in range(len(columns))])

    out = pd.DataFrame(rows, columns=["Characteristic", *[c for c, _ in columns], *(["p-value"] if with_p else []),
                                      *(["SMD"] if with_smd else [])])
    out.index = pd.MultiIndex.from_tuples(index, names=["variable", "row_type"]) if index else \
        pd.MultiIndex.from_arrays([[], []], names=["variable", "row_type"])
    notes = ["; ".join(stats_used)] if stats_used else []
    if tests_used:
        notes.append("p-values: " + "; ".join(TEST_NAMES[t] for t in sorted(tests_used)))
    if with_smd:
        notes.append("SMD: standardised mean difference (pooled SD; categorical variables: Yang & Dalton's "
                     f"multi-level SMD), † above {SMD_THRESHOLD:g}"
                     + ("; blank where a count is suppressed" if min_cell_size is not None else ""))
    if min_cell_size is not None and min_cell_size > 1:
        notes.append(suppression_note(min_cell_size, True, bool(prot.secondary)))
        counted = [row for row, (var, row_type) in zip(rows, index)
                   if row_type in ("level", "missing") or (row_type == "label" and kinds.get(var) == "dichotomous")]
        if any(row.get(c) == "" for row in counted for c, _ in columns):
            notes.append(f"A blank count: not shown, so that no count below {min_cell_size} can be worked out "
                         "from the column N.")
    out.attrs["footnote"] = " ".join(n if n.endswith(".") else n + "." for n in notes)
    return out


def _protect(
    data: pd.DataFrame,
    columns: Sequence[tuple[str, np.ndarray]],
    variables: Sequence[str],
    kinds: Mapping[str, str],
    *,
    with_overall: bool,
    min_cell_size: int | None,
    printed_n: Sequence[int] = (),
) -> Protection:
    """Primary and secondary suppression of every count Table 1 prints or implies.

    Cells (``j`` is the column position): ``("N", j)`` the column N; ``("n", var, i, j)`` the
    patients at level ``i`` of a categorical or yes/no variable (the "No" of a yes/no variable is
    not printed); ``("miss", var, j)`` the Missing row; ``("d", var, j)`` the patients with a
    value, the denominator of the percentages (printed through them: a hidden denominator drops
    the variable's percentages in that column). Equations: each column's N is its patients with a
    value plus its missing ones, the levels add up to the patients with a value, and with an
    Overall column every count of it is the sum of the group columns'
    (:func:`ensemble_helpers.disclosure.protect`).
    """
    values: dict[Any, int] = {}
    lines: list[Line] = []
    unpublished: list[Any] = []
    n_cols = range(len(columns))
    groups = list(n_cols)[1:] if with_overall else []
    for j, (_, mask) in enumerate(columns):
        values[("N", j)] = int(mask.sum())

    def across(key: tuple) -> None:
        if groups:
            lines.append(Line((*key, 0), [(*key, j) for j in groups]))

    across(("N",))
    for var in variables:
        s = data[var]
        kind = kinds[var]
        missing = s.isna().to_numpy()
        denominator = _denominators(var, missing.any(), len(columns))
        if missing.any():  # else the denominator is the column N
            for j, (_, mask) in enumerate(columns):
                values[("miss", var, j)] = int((mask & missing).sum())
                values[("d", var, j)] = int((mask & ~missing).sum())
                lines.append(Line(("N", j), [("d", var, j), ("miss", var, j)]))
            across(("miss", var))
            across(("d", var))
        if kind == "continuous":
            unpublished += [("d", var, j) for j in n_cols if missing.any()]
            continue
        all_levels = [True, False] if kind == "dichotomous" else _levels(s)
        for i, lvl in enumerate(all_levels):
            level_mask = s.isin([lvl]).to_numpy(dtype=bool) & ~missing
            for j, (_, mask) in enumerate(columns):
                values[("n", var, i, j)] = int((level_mask & mask).sum())
            across(("n", var, i))
            if kind == "dichotomous" and lvl is False:
                unpublished += [("n", var, i, j) for j in n_cols]
        for j in n_cols:
            lines.append(Line(denominator[j], [("n", var, i, j) for i in range(len(all_levels))]))
    fixed = [("N", j) for j in printed_n if not (min_cell_size and 1 <= values[("N", j)] < min_cell_size)]
    memo: dict = {}  # audits of the same groups of cells, solved once (disclosure.margins.audit)
    prot = protect(values, lines, min_cell_size, unpublished=unpublished, keep_shown=fixed, memo=memo)
    blanked: set[tuple[str, int]] = set()
    for _ in range(len(variables) * len(columns)):
        if prot.complete or not min_cell_size:
            return prot
        # a count that cannot be protected with the column N printed (e.g. 1 patient with a value
        # in a column of 6, the 5 others missing): the variable is left blank in that column
        exposed = [*audit(prot.values, prot.status, prot.lines, min_cell_size, memo=memo),
                   *_short_sums(prot, min_cell_size)]
        if not exposed:  # the heuristic found no cell to add, the exact audit nothing to recover
            return prot
        more = {(key[1], key[-1]) for key in exposed if isinstance(key, tuple) and key[0] in ("n", "miss", "d")}
        if not more - blanked:
            break
        blanked |= more
        extra = [key for key in values if isinstance(key, tuple) and key[0] in ("n", "miss", "d")
                 and (key[1], key[-1]) in blanked]
        prot = protect(values, lines, min_cell_size, unpublished=[*unpublished, *extra], keep_shown=fixed,
                       memo=memo)
    if prot.complete:
        return prot
    logger.info("table_one: the column N could not all stay printed; some are hidden")
    return protect(values, lines, min_cell_size, unpublished=unpublished)


def _short_sums(prot: Protection, k: int) -> list[Any]:
    """Hidden cells of the lines whose printed total leaves hidden parts adding up to 1..k-1
    (what :func:`ensemble_helpers.disclosure.protect` could not fix with the column N printed)."""
    cells = []
    for ln in prot.lines:
        if ln.total is None or prot.is_hidden(ln.total):
            continue
        hidden = [c for c in ln.parts if prot.is_hidden(c)]
        if any(prot.status[c] == PRIMARY for c in hidden) and 1 <= sum(prot.values[c] for c in hidden) < k:
            cells += hidden
    return cells


def _denominators(var: str, has_missing: bool, n_columns: int) -> list[tuple]:
    """The cell of each column's percentage denominator: the patients with a value, which is
    the column N itself when the variable has no missing value."""
    return [("d", var, j) if has_missing else ("N", j) for j in range(n_columns)]
