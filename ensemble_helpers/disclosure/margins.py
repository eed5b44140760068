"""Secondary (complementary) suppression: counts tied together by sums.

A table with margins publishes *equations*: the levels of a variable add up to the column N, the
group columns add up to the Overall column, the patients kept by a model plus those left out are
the population. Hiding one small count (primary suppression) is useless when the others of the
same equation are shown: the hidden one is their difference. This module

1. marks every count from 1 to ``k - 1`` (``k = min_cell_size``) as *primary*;
2. for every equation (a :class:`Line`: ``total = part + part + ...``) with a single hidden cell,
   or whose hidden parts add up to 1..k-1, hides the next smallest non-zero shown part (else the
   total) as *secondary*; repeats until no line needs more;
3. audits the result as an attacker would: a linear program over every equation, with what a
   reader knows of each hidden cell (a primary cell is 1..k-1, a secondary one is >= k, an
   unpublished one >= 0), gives the smallest and largest value each hidden cell can take; a cell
   whose range holds a single whole number is recovered, so one more cell of its lines is hidden.

This follows the threshold rule and the secondary suppression / audit of the *Handbook on
Statistical Disclosure Control* (Hundepool et al., 2nd ed., 2024, chapter on frequency tables)
and the CMS Cell Size Suppression Policy ("no cell can be reported that allows a value of 1 to 10
to be derived from other reported cells"), with our own threshold ``min_cell_size``. See
``docs/disclosure.md``.

Examples
--------
>>> p = protect_partition({"a": 120, "b": 40, "c": 3}, 163, 5)
>>> [p.text(k) for k in ("a", "b", "c", TOTAL)]
['120', '≥5', '<5', '163']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np

from ensemble_helpers.disclosure.cells import _as_count, _check_min_cell_size
from ensemble_helpers.formats import secondary_suppressed_count, suppressed_count

__all__ = [
    "PRIMARY",
    "SECONDARY",
    "SHOWN",
    "TOTAL",
    "UNPUBLISHED",
    "Line",
    "Protection",
    "audit",
    "protect",
    "protect_partition",
    "suppression_note",
]

SHOWN = "shown"
PRIMARY = "primary"  # 1..k-1: shown as "<k"
SECONDARY = "secondary"  # hidden so that a primary cell cannot be worked out: shown as "≥k"
UNPUBLISHED = "unpublished"  # part of an equation but never printed (e.g. the "No" of a yes/no row)
#: Key of the total in :func:`protect_partition`.
TOTAL = "__total__"


@dataclass(frozen=True)
class Line:
    """One published equation: ``total = sum(parts)``.

    ``total`` may be ``None`` (parts whose sum is not shown: nothing to protect against). When the
    total is larger than the sum of the parts, :func:`protect` adds an unpublished remainder part
    (e.g. patients with a missing value who are in the total but in no row).
    """

    total: Hashable | None
    parts: tuple[Hashable, ...]

    def __init__(self, total: Hashable | None, parts: Iterable[Hashable]) -> None:
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "parts", tuple(parts))

    @property
    def cells(self) -> tuple[Hashable, ...]:
        return self.parts + ((self.total,) if self.total is not None else ())


@dataclass
class Protection:
    """What may be shown of a set of counts: one status per cell.

    Attributes
    ----------
    values : dict
        The true counts (never publish this object's values directly: use :meth:`text`),
        including the unpublished remainders ``("__remainder__", i)`` that :func:`protect` adds.
    status : dict
        ``"shown"``, ``"primary"`` (1..k-1, printed ``"<k"``), ``"secondary"`` (printed ``"≥k"``)
        or ``"unpublished"``.
    min_cell_size : int or None
    complete : bool
        False when a line could not be protected without changing a cell the caller fixed
        (``keep_shown``); the caller must then coarsen (hide the whole block).
    """

    values: dict[Hashable, int]
    status: dict[Hashable, str]
    min_cell_size: int | None
    complete: bool = True
    lines: list[Line] = field(default_factory=list)

    def is_hidden(self, key: Hashable) -> bool:
        """Whether the count of ``key`` may not be printed."""
        return self.status.get(key, SHOWN) != SHOWN

    def text(self, key: Hashable) -> str:
        """The printed count: the number, ``"<k"``, ``"≥k"`` or ``""`` (unpublished)."""
        st = self.status[key]
        if st == SHOWN:
            return str(self.values[key])
        if st == PRIMARY:
            return suppressed_count(self.min_cell_size)
        if st == SECONDARY:
            return secondary_suppressed_count(self.min_cell_size)
        return ""

    def text_pct(self, key: Hashable, denominator: Hashable | int | None, digits: int = 1) -> str:
        """``"12 (30.0%)"``; the percentage is left out when the count or the denominator is
        hidden (a percentage and one of the two give the other back)."""
        text = self.text(key)
        if self.is_hidden(key) or denominator is None:
            return text
        if isinstance(denominator, (int, np.integer)) and not isinstance(denominator, bool):
            total = int(denominator)
        else:
            if self.is_hidden(denominator):
                return text
            total = self.values[denominator]
        if total == 0:
            return text
        return f"{text} ({100.0 * self.values[key] / total:.{digits}f}%)"

    @property
    def secondary(self) -> list[Hashable]:
        """Cells hidden by complementary suppression."""
        return [k for k, s in self.status.items() if s == SECONDARY]

    @property
    def hidden(self) -> list[Hashable]:
        """Every cell of the table that is not printed (implicit remainders left out)."""
        return [k for k, s in self.status.items() if s != SHOWN and not _is_remainder(k)]

    def note(self) -> str:
        """The table note saying what was hidden and why (``""`` when nothing was)."""
        return suppression_note(self.min_cell_size, any(s == PRIMARY for s in self.status.values()),
                                bool(self.secondary))


def suppression_note(min_cell_size: int | None, primary: bool = True, secondary: bool = False) -> str:
    """The sentence a table's note carries about suppression.

    Examples
    --------
    >>> suppression_note(5, True, True)  # doctest: +NORMALIZE_WHITESPACE
    'Counts from 1 to 4 are shown as <5. ≥5: a count hidden so that no count below 5 can be worked
    out from the totals (complementary suppression).'
    """
    if not min_cell_size or min_cell_size <= 1:
        return ""
    parts = []
    if primary or secondary:
        parts.append(f"Counts from 1 to {min_cell_size - 1} are shown as <{min_cell_size}.")
    if secondary:
        parts.append(f"≥{min_cell_size}: a count hidden so that no count below {min_cell_size} can be "
                     "worked out from the totals (complementary suppression).")
    return " ".join(parts)


def _sensitive(v: int, k: int) -> bool:
    return 1 <= v < k


def protect(
    values: Mapping[Hashable, Any],
    lines: Sequence[Line],
    min_cell_size: int | None,
    *,
    unpublished: Iterable[Hashable] = (),
    keep_shown: Iterable[Hashable] = (),
    hide: Iterable[Hashable] = (),
    audit_result: bool = True,
    memo: dict | None = None,
) -> Protection:
    """Primary and secondary suppression of counts linked by ``lines``.

    Parameters
    ----------
    values : mapping
        Cell key -> count (whole number >= 0).
    lines : sequence of Line
        The equations a reader can form from what is published (totals and their parts).
    min_cell_size : int or None
        ``k``; ``None`` or 1 hides nothing.
    unpublished : iterable
        Cells that are part of an equation but never printed.
    keep_shown : iterable
        Cells whose status was decided elsewhere and must stay shown (the same count printed in
        another table); secondary suppression picks other cells, and ``complete`` is False when
        it cannot.
    hide : iterable
        Cells already hidden elsewhere (as secondary): hidden here too, for consistency.
    audit_result : bool
        Run the linear-programming audit (see module docstring) and hide more until it finds no
        recoverable cell.
    memo : dict, optional
        Answers of the audit's linear programs, shared across calls that suppress the same
        table (see :func:`audit`); by default one for this call.

    Returns
    -------
    Protection

    Raises
    ------
    ValueError
        A count is not a whole number >= 0, a line's parts add up to more than its total, a line
        names an unknown cell, or a cell in ``keep_shown`` is itself below ``k``.

    Examples
    --------
    >>> v = {"n": 30, "yes": 27}
    >>> p = protect(v, [Line("n", ["yes"])], 5)   # the 3 "no" are worked out as n - yes
    >>> p.text("yes"), p.text("n")
    ('≥5', '30')
    """
    _check_min_cell_size(min_cell_size)
    vals: dict[Hashable, int] = {key: _as_count(v) for key, v in values.items()}
    status = {key: SHOWN for key in vals}
    for key in unpublished:
        status[key] = UNPUBLISHED
    full_lines: list[Line] = []
    for i, ln in enumerate(lines):
        unknown = [c for c in ln.cells if c not in vals]
        if unknown:
            raise ValueError(f"line {i} names cell(s) {unknown!r} that have no value")
        if ln.total is None:
            full_lines.append(ln)
            continue
        rest = vals[ln.total] - sum(vals[c] for c in ln.parts)
        if rest < 0:
            raise ValueError(f"line {i}: the parts {list(ln.parts)!r} add up to more than the total "
                             f"{ln.total!r} ({sum(vals[c] for c in ln.parts)} > {vals[ln.total]})")
        if rest > 0:
            key = ("__remainder__", i)
            vals[key] = rest
            status[key] = UNPUBLISHED
            ln = Line(ln.total, (*ln.parts, key))
        full_lines.append(ln)
    k = min_cell_size
    if k is None or k <= 1:
        return Protection(vals, status, min_cell_size, True, full_lines)
    fixed = set(keep_shown)
    for key, v in vals.items():
        if _sensitive(v, k) and status[key] == SHOWN:
            if key in fixed:
                raise ValueError(f"cell {key!r} ({v}) is below min_cell_size {k} but was asked to stay shown")
            status[key] = PRIMARY
    hide = list(hide)
    for key in hide:
        if key in status and status[key] == SHOWN:
            status[key] = SECONDARY
    sensitive = {key for key, v in vals.items() if _sensitive(v, k)}
    complete = True

    forced = {key for key in hide if key in status}
    avoid: set[Hashable] = set()  # secondary cells the audit found pinned: try other cells first

    def candidate(ln: Line) -> Hashable | None:
        for excluded in (avoid, set()):
            shown = [c for c in ln.parts
                     if status[c] == SHOWN and c not in fixed and c not in excluded and vals[c] > 0]
            if shown:
                # the smallest; ties by name, so the same counts give the same choice in every table
                return min(shown, key=lambda c: (vals[c], str(c)))
            total = ln.total
            if (total is not None and status[total] == SHOWN and total not in fixed and total not in excluded
                    and vals[total] > 0):
                return total
        return None

    def needs_more(ln: Line) -> bool:
        hidden = [c for c in ln.cells if status[c] != SHOWN]
        if not hidden:
            return False
        if len(hidden) == 1:
            c = hidden[0]
            return c in sensitive or status[c] == SECONDARY
        if ln.total is not None and status[ln.total] == SHOWN:
            hidden_parts = [c for c in ln.parts if status[c] != SHOWN]
            if any(c in sensitive for c in hidden_parts) and _sensitive(sum(vals[c] for c in hidden_parts), k):
                return True
        return False

    failed_lines: set[int] = set()
    memo = {} if memo is None else memo
    for _ in range(10 * len(vals) + 10):
        changed = False
        for i, ln in enumerate(full_lines):
            if i in failed_lines or not needs_more(ln):
                continue
            c = candidate(ln)
            if c is None:
                failed_lines.add(i)
                continue
            status[c] = SECONDARY
            changed = True
        if changed:
            continue
        if not audit_result:
            break
        exposed = audit(vals, status, full_lines, k, memo=memo)
        if not exposed:
            break
        pinned = [key for key in exposed if status[key] == SECONDARY and key not in forced and key not in avoid]
        if pinned:
            # a complementary cell whose value the others give away protects nothing: show it
            # again and let the lines that needed it pick another cell
            for key in pinned:
                status[key] = SHOWN
                avoid.add(key)
            continue
        for key in exposed:  # one more hidden cell on a line of each recovered cell
            for ln in full_lines:
                if key in ln.cells:
                    c = candidate(ln)
                    if c is not None:
                        status[c] = SECONDARY
                        changed = True
                        break
        if not changed:
            complete = False
            break
    if failed_lines:
        complete = False
    return Protection(vals, status, min_cell_size, complete, full_lines)


def _is_remainder(key: Hashable) -> bool:
    return isinstance(key, tuple) and len(key) == 2 and key[0] == "__remainder__"


def audit(
    values: Mapping[Hashable, int],
    status: Mapping[Hashable, str],
    lines: Sequence[Line],
    min_cell_size: int,
    memo: dict | None = None,
) -> list[Hashable]:
    """Hidden cells an attacker can recover exactly from the shown cells and the equations.

    Every cell that is not shown is an unknown with what a reader knows of it: a primary cell is
    in 1..k-1, a secondary one >= k, an unpublished one >= 0. For each hidden cell that is below
    ``k`` or secondary, two linear programs (HiGHS via scipy) give its smallest and largest value
    consistent with every line; a range holding one whole number only, narrower than what the
    reader knew already, means the cell is recovered. The programs are solved per connected
    group of hidden cells (cells sharing a line), which gives the same ranges as one program
    over the whole table, much faster.

    ``memo`` (a dict the caller keeps across calls, e.g. :func:`protect`'s rounds, which audit
    the table again after each change) holds the answer of every group already solved, keyed by
    its equations, bounds and counts: a group a change did not touch is not solved again.

    Returns
    -------
    list
        The recovered cells (empty when the table is safe).
    """
    hidden = [c for c in values if status.get(c, UNPUBLISHED) != SHOWN]
    involved = {c for ln in lines for c in ln.cells}
    hidden_set = {c for c in hidden if c in involved}
    if not hidden_set:
        return []
    # union-find over hidden cells that share a line (by position: keys may be numpy scalars)
    position = {c: i for i, c in enumerate(hidden) if c in hidden_set}
    parent = list(range(len(hidden)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for ln in lines:
        if ln.total is None:
            continue
        cells = [position[c] for c in ln.cells if c in position]
        for i in cells[1:]:
            parent[find(i)] = find(cells[0])
    components: dict[int, list[Hashable]] = {}
    for c, i in position.items():
        components.setdefault(find(i), []).append(c)
    component_lines: dict[int, list[Line]] = {}
    for ln in lines:
        if ln.total is None:
            continue
        cells = [position[c] for c in ln.cells if c in position]
        if cells:
            component_lines.setdefault(find(cells[0]), []).append(ln)
    exposed: list[Hashable] = []
    for root, cells in components.items():
        exposed += _audit_component(values, status, component_lines.get(root, []), cells, min_cell_size,
                                    {} if memo is None else memo)
    return exposed


def _audit_component(values: Mapping[Hashable, int], status: Mapping[Hashable, str], lines: Sequence[Line],
                     hidden: Sequence[Hashable], k: int, memo: dict) -> list[Hashable]:
    """:func:`audit` of one connected group of hidden cells and the lines that hold them
    (answers kept in ``memo``, keyed by everything the linear programs read)."""
    index = {c: i for i, c in enumerate(hidden)}
    data, row_ids, col_ids, rhs = [], [], [], []
    for ln in lines:
        coef: dict[int, float] = {}
        const = 0.0
        for c in ln.parts:
            if c in index:
                coef[index[c]] = coef.get(index[c], 0.0) + 1
            else:
                const += values[c]
        if ln.total in index:
            coef[index[ln.total]] = coef.get(index[ln.total], 0.0) - 1
        else:
            const -= values[ln.total]
        coef = {j: v for j, v in coef.items() if v}
        if coef:
            for j, v in coef.items():
                data.append(v)
                row_ids.append(len(rhs))
                col_ids.append(j)
            rhs.append(-const)
    if not rhs:
        return []
    bounds = []
    for c in hidden:
        st = status.get(c, UNPUBLISHED)
        bounds.append((1, k - 1) if st == PRIMARY else (k, None) if st == SECONDARY else (0, None))
    audited = [c for c in hidden if _sensitive(values[c], k) or status.get(c, UNPUBLISHED) == SECONDARY]
    key = (k, tuple(data), tuple(row_ids), tuple(col_ids), tuple(rhs), tuple(bounds),
           tuple(index[c] for c in audited), tuple(values[c] for c in hidden))
    if key not in memo:
        memo[key] = tuple(index[c] for c in _solve_component(a_eq_parts=(data, row_ids, col_ids), rhs=rhs,
                                                               bounds=bounds, hidden=hidden, index=index,
                                                               audited=audited, values=values))
    return [hidden[i] for i in memo[key]]


def _solve_component(a_eq_parts: tuple[list, list, list], rhs: list, bounds: list, hidden: Sequence[Hashable],
                     index: Mapping[Hashable, int], audited: Sequence[Hashable],
                     values: Mapping[Hashable, int]) -> list[Hashable]:
    """The linear programs of :func:`_audit_component`: the audited cells recovered exactly."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_array

    data, row_ids, col_ids = a_eq_parts
    a_eq = csr_array((data, (row_ids, col_ids)), shape=(len(rhs), len(hidden)))
    b_eq = np.array(rhs)
    # the true counts are one solution; a solution where a cell is at least 1 away from its true
    # count proves two whole values possible. Two programs pushing every audited cell up, then
    # down, clear most cells at once; the others get their own two programs.
    truth = np.array([values[c] for c in hidden], dtype=float)
    cleared: set[Hashable] = set()
    for _ in range(8):  # while the pushes clear more cells
        remaining = [c for c in audited if c not in cleared]
        if not remaining:
            break
        weights = np.zeros(len(hidden))
        weights[[index[c] for c in remaining]] = 1
        before = len(cleared)
        for sign in (-1, 1):
            res = linprog(sign * weights, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
            if res.status == 0:
                cleared |= {c for c in remaining if abs(res.x[index[c]] - truth[index[c]]) >= 1 - 1e-6}
        if len(cleared) == before:
            break
    exposed = []
    for c in audited:
        if c in cleared:
            continue
        i = index[c]
        objective = np.zeros(len(hidden))
        objective[i] = 1
        low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if low.status != 0:
            continue
        lo = math.ceil(low.fun - 1e-6)
        prior = bounds[i]
        high = linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        hi = math.inf if high.status != 0 else math.floor(-high.fun + 1e-6)
        prior_width = math.inf if prior[1] is None else prior[1] - prior[0]
        if hi - lo < 1 and prior_width >= 1:
            exposed.append(c)
    return exposed


def protect_partition(
    counts: Mapping[Hashable, Any],
    total: Any | None,
    min_cell_size: int | None,
    *,
    total_shown: bool = True,
    keep_shown: Iterable[Hashable] = (),
) -> Protection:
    """Suppression of the levels of one variable whose total is shown (a one-way table).

    Parameters
    ----------
    counts : mapping
        Level -> count. Levels whose total falls short of ``total`` (e.g. missing values not
        shown) are covered by an unpublished remainder.
    total : int or None
        The column N; ``None`` means ``sum(counts)``.
    min_cell_size : int or None
    total_shown : bool
        Whether the total is printed (else it is an unpublished cell).
    keep_shown : iterable
        Levels that must stay shown (see :func:`protect`).

    Returns
    -------
    Protection
        Keys are the levels plus :data:`TOTAL`.

    Examples
    --------
    >>> p = protect_partition({"1": 10, "2": 6, "3": 2}, None, 5)   # ILD grades with their N
    >>> [p.text(k) for k in ("1", "2", "3", TOTAL)]
    ['10', '≥5', '<5', '18']
    """
    values = dict(counts)
    if TOTAL in values:
        raise ValueError(f"{TOTAL!r} cannot be a level")
    values[TOTAL] = sum(_as_count(v) for v in counts.values()) if total is None else total
    return protect(values, [Line(TOTAL, list(counts))], min_cell_size,
                   unpublished=() if total_shown else (TOTAL,), keep_shown=keep_shown)
