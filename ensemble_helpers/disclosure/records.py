"""The publishable version of ``results.json`` records (and so of ``summary.csv`` and index.html).

A notebook collects raw estimates (:class:`ensemble_helpers.results.Results`). Before any of them
leaves the run, :func:`publishable_records` applies the same rules as the report tables:

* ``n`` and ``events`` from 1 to k-1 become ``null``, and so does every count that would let one of
  them be worked out by difference (secondary suppression over the records that share a total:
  the levels of a variable and its Overall row, the levels of a characteristic and its N, the
  patients of a model and its population, ``n`` and ``events`` of a proportion);
* no statistic (estimate, CI, p) of a group with fewer than k patients; no rate whose numerator or
  denominator is hidden (rate x n gives the count back);
* a ``suppressed`` field says which fields were hidden and why (``"primary"``: below k,
  ``"secondary"``: hidden so that a count below k cannot be derived).

Records are keyed by what they count, not by the notebook that wrote them, so two notebooks
reporting the same group make the same decision.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Hashable, Iterable, Mapping, Sequence

from ensemble_helpers.disclosure.margins import PRIMARY, SECONDARY, SHOWN, Line, protect

__all__ = ["publishable_records", "STATISTIC_FIELDS"]

#: Fields that hold a statistic of the record's group.
STATISTIC_FIELDS = ("estimate", "lower", "upper", "p")
_KM = ("km_median",)


def _family(rec: Mapping[str, Any]) -> str:
    analysis = str(rec.get("analysis") or "")
    if analysis in _KM or analysis.startswith("km_rate"):
        return "km"
    return analysis


def _variable(group: str) -> str | None:
    return group.split("=", 1)[0] if "=" in group else None


def _count(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f) or f < 0 or f != int(f):
        return None
    return int(f)


def publishable_records(records: Sequence[Mapping[str, Any]], min_cell_size: int | None) -> list[dict[str, Any]]:
    """Copy of ``records`` with every count and statistic a reader may not see set to ``None``.

    Parameters
    ----------
    records : sequence of mapping
        ``results.json`` records (notebook, analysis, endpoint, group, n, events, estimate, lower,
        upper, unit, p).
    min_cell_size : int or None
        ``None`` returns the records unchanged (internal copies only).

    Returns
    -------
    list of dict
        Same order; a ``suppressed`` field (``{"n": "primary", "estimate": "small group", ...}``)
        on every record that lost a value.

    Examples
    --------
    >>> recs = [{"analysis": "km_median", "endpoint": "PFS", "group": g, "n": n, "events": e,
    ...          "estimate": 4.0, "unit": "months"}
    ...         for g, n, e in (("Overall", 163, 150), ("x=a", 120, 110), ("x=b", 40, 37), ("x=c", 3, 3))]
    >>> [(r["group"], r["n"], r["estimate"]) for r in publishable_records(recs, 5)]
    [('Overall', 163, 4.0), ('x=a', 120, 4.0), ('x=b', None, 4.0), ('x=c', None, None)]
    """
    out = [dict(r) for r in records]
    if not min_cell_size or min_cell_size <= 1:
        return out
    k = min_cell_size
    values: dict[Hashable, int] = {}
    cell_of: dict[tuple[int, str], Hashable] = {}
    for i, rec in enumerate(out):
        fam = _family(rec)
        endpoint, group = str(rec.get("endpoint")), str(rec.get("group"))
        for fld in ("n", "events"):
            v = _count(rec.get(fld))
            if v is None:
                continue
            if fam == "km":
                key: Hashable = ("km", endpoint, group, fld)
            elif fam == "count":
                key = ("count", endpoint, fld) if fld == "events" else ("population", "n")
            elif fam in ("proportion", "response") and fld == "n" and rec.get("unit") == "proportion":
                key = (fam, endpoint, group, "n")
            else:
                key = (fam, endpoint, group, fld, i)
            values.setdefault(key, v)
            cell_of[(i, fld)] = key
    lines = _lines(out, cell_of, values)
    prot = protect(values, lines, k)
    for i, rec in enumerate(out):
        hidden: dict[str, str] = {}
        for fld in ("n", "events"):
            key = cell_of.get((i, fld))
            if key is not None and prot.is_hidden(key):
                hidden[fld] = prot.status[key]
                rec[fld] = None
        n = _count(records[i].get("n"))
        small_group = n is not None and 1 <= n < k
        is_rate = rec.get("unit") == "proportion"
        if small_group or (is_rate and hidden):
            for fld in STATISTIC_FIELDS:
                if rec.get(fld) is not None:
                    rec[fld] = None
                    hidden[fld] = "small group" if small_group else "rate of a hidden count"
        if rec.get("unit") == "count" and hidden.get("n") and rec.get("estimate") == records[i].get("n"):
            rec["estimate"] = None
            hidden["estimate"] = hidden["n"]
        if hidden:
            rec["suppressed"] = hidden
    return out


def _lines(records: Sequence[Mapping[str, Any]], cell_of: Mapping[tuple[int, str], Hashable],
           values: Mapping[Hashable, int]) -> list[Line]:
    """The equations a reader can form from the records."""
    lines: list[Line] = []
    seen: set[tuple] = set()

    def add(total: Hashable | None, parts: Iterable[Hashable]) -> None:
        parts = tuple(dict.fromkeys(p for p in parts if p != total))
        if total is None or not parts:
            return
        sig = (total, parts)
        if sig not in seen and sum(values[p] for p in parts) <= values[total]:
            seen.add(sig)
            lines.append(Line(total, parts))

    population = ("population", "n") if ("population", "n") in values else None
    # km: the levels of a variable add up to the Overall row (n and events)
    by_var: dict[tuple, list[Hashable]] = defaultdict(list)
    for key in values:
        if key[0] == "km":
            _, endpoint, group, fld = key
            var = _variable(group)
            if var is not None:
                by_var[(endpoint, var, fld)].append(key)
    for (endpoint, _var, fld), parts in by_var.items():
        total = ("km", endpoint, "Overall", fld)
        if total in values:
            add(total, parts)
    for key in values:
        # the Overall n of an endpoint is part of the population; events are part of n
        if key[0] == "km" and key[3] == "events":
            add(("km", key[1], key[2], "n"), [key])
        if key[0] == "km" and key[2] == "Overall" and key[3] == "n" and population:
            add(population, [key])
    # proportions: a characteristic's levels add up to its N; events are part of n
    groups: dict[tuple, list[int]] = defaultdict(list)
    for (i, fld), key in cell_of.items():
        rec = records[i]
        if fld == "events" and rec.get("unit") == "proportion" and (i, "n") in cell_of:
            n_key = cell_of[(i, "n")]
            add(n_key, [key])
            groups[(str(rec.get("analysis")), str(rec.get("endpoint")), _variable(str(rec.get("group"))),
                    values[n_key])].append(i)
    for (analysis, _endpoint, var, _n), members in groups.items():
        if analysis != "proportion" or var is None or len(members) < 2:
            continue
        # shares of one characteristic: every level has the same denominator and the levels'
        # counts partition it
        events = [cell_of[(i, "events")] for i in members]
        n_keys = sorted({cell_of[(i, "n")] for i in members}, key=str)
        for other in n_keys[1:]:
            add(n_keys[0], [other])
        add(n_keys[0], events)
    # disease control includes the responses: DCR - ORR is the count of stable diseases
    measures: dict[tuple, dict[str, Hashable]] = defaultdict(dict)
    for (i, fld), key in cell_of.items():
        rec = records[i]
        if fld == "events" and rec.get("unit") == "proportion":
            measures[(str(rec.get("analysis")), str(rec.get("group")))][str(rec.get("endpoint"))] = key
    for found in measures.values():
        if "DCR" in found and "ORR" in found:
            add(found["DCR"], [found["ORR"]])
    # response-style rates by group: the levels' n add up to the Overall n of the same measure
    rate_n: dict[tuple, list[Hashable]] = defaultdict(list)
    for (i, fld), key in cell_of.items():
        rec = records[i]
        if fld == "n" and rec.get("unit") == "proportion":
            var = _variable(str(rec.get("group")))
            rate_n[(str(rec.get("analysis")), str(rec.get("endpoint")), var)].append(key)
    for (analysis, endpoint, var), keys in rate_n.items():
        if var is None:
            continue
        overall = rate_n.get((analysis, endpoint, None))
        distinct = list(dict.fromkeys(keys))
        if overall and len(distinct) > 1:
            add(overall[0], distinct)
    # models, tests, counts: their n is part of the population (or of the endpoint's Overall n)
    for (i, fld), key in cell_of.items():
        rec = records[i]
        fam = _family(rec)
        if fam in ("km", "proportion", "response"):
            continue
        endpoint = str(rec.get("endpoint"))
        overall = ("km", endpoint, "Overall", fld)
        if overall in values:
            add(overall, [key])
        elif population and fld == "n":
            add(population, [key])
        if fld == "events" and (i, "n") in cell_of:
            add(cell_of[(i, "n")], [key])
    return lines
