"""Models and tests on protected groups: pool the levels whose size is hidden before fitting.

A Cox model or a log-rank test fitted on every level shows, through its N and its estimates,
what the tables hide: a level of 3 patients has its own hazard ratio, and a model fitted without
it has an N three below the population. So, before fitting:

* :func:`group_sizes` decides, once for a variable in a population, which level sizes are
  hidden (primary: fewer than k patients; secondary: hidden so that the primary ones cannot be
  worked out from the population N), exactly as the report tables decide;
* :func:`pool_levels` merges every hidden level into one pooled level ("tki or other"), whose size
  is the population minus the shown levels (nothing new), so the model uses every patient;
* :func:`subset_count` prints the N (or events) of a model or test only when the patients it left
  out (missing covariates) are 0 or at least k; else ``"≥k"`` (or ``"<k"``).

Examples
--------
>>> import pandas as pd
>>> s = pd.Series(["a"] * 40 + ["b"] * 12 + ["c"] * 3)
>>> pooled, names = pool_levels(s, 5)
>>> pooled.value_counts().to_dict()
{'a': 40, 'b or c': 15}
>>> subset_count(52, 55, 5), subset_count(50, 55, 5)
('≥5', '50')
"""

from __future__ import annotations

from typing import Any, Hashable

import pandas as pd

from ensemble_helpers.disclosure.cells import _check_min_cell_size, suppress_count
from ensemble_helpers.disclosure.margins import TOTAL, Protection, protect_partition

__all__ = ["group_sizes", "pool_levels", "pooled_label", "subset_count"]


def _levels(values: pd.Series) -> list[Hashable]:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return list(values.cat.categories)
    if pd.api.types.is_bool_dtype(values):
        return [False, True]
    present = values.dropna().unique()
    try:
        return sorted(present)
    except TypeError:
        return sorted(present, key=str)


def group_sizes(values: pd.Series, min_cell_size: int | None, *, total: int | None = None) -> Protection:
    """Which level sizes of a grouping variable may be printed in a population.

    Parameters
    ----------
    values : Series
        One value per patient of the population (missing values allowed: they are in the total,
        in no level).
    min_cell_size : int or None
    total : int, optional
        The population N printed beside the levels (default ``len(values)``).

    Returns
    -------
    Protection
        Keyed by level (levels without patients included, count 0) and :data:`TOTAL`.
    """
    counts = {lvl: int((values == lvl).sum()) for lvl in _levels(values)}
    return protect_partition(counts, len(values) if total is None else total, min_cell_size)


def pooled_label(levels: list[Any]) -> str:
    """Name of a pooled level: ``"b or c"``, ``"a, b or c"``."""
    from ensemble_helpers.labels import label

    names = [label(lvl) if not isinstance(lvl, bool) else ("Yes" if lvl else "No") for lvl in levels]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def pool_levels(values: pd.Series, min_cell_size: int | None) -> tuple[pd.Series, dict[Hashable, str]]:
    """Merge the levels whose size is hidden into one level.

    Parameters
    ----------
    values : Series
    min_cell_size : int or None

    Returns
    -------
    (Series, dict)
        The variable with hidden levels replaced by one pooled label (a categorical in the
        original level order, the pooled level where its first member was), and the mapping
        original level -> pooled label of the levels that were merged (empty when none was).
        The pooled level holds at least k patients; print its size as ``"≥k"`` (it may include a
        level whose size is shown, and then its exact size would give the hidden ones back).
    """
    _check_min_cell_size(min_cell_size)
    sizes = group_sizes(values, min_cell_size)
    levels = _levels(values)
    counts = {lvl: sizes.values[lvl] for lvl in levels}
    hidden = [lvl for lvl in levels if sizes.is_hidden(lvl) and counts[lvl] > 0]
    if not hidden:
        return values, {}
    # the pooled level must itself hold at least k patients (a hidden level may be protected by
    # the missing values rather than by another level): add the next smallest levels
    rest = sorted((lvl for lvl in levels if lvl not in hidden and counts[lvl] > 0),
                  key=lambda lvl: (counts[lvl], str(lvl)))
    while min_cell_size and sum(counts[lvl] for lvl in hidden) < min_cell_size and rest:
        hidden.append(rest.pop(0))
    hidden = [lvl for lvl in levels if lvl in hidden]
    name = pooled_label(hidden)
    mapping = {lvl: name for lvl in hidden}
    order: list[Any] = []
    for lvl in _levels(values):
        new = mapping.get(lvl, lvl)
        if new not in order and (lvl in mapping or counts[lvl] > 0):
            order.append(new)
    pooled = values.astype(object).map(lambda v: mapping.get(v, v) if pd.notna(v) else v)
    return pd.Series(pd.Categorical(pooled, categories=order), index=values.index, name=values.name), mapping


def subset_count(used: int, total: int, min_cell_size: int | None) -> str:
    """The printed N (or events) of a model or test that used ``used`` of ``total``.

    The difference (patients left out, e.g. with a missing covariate) is a count too: when it is
    from 1 to k-1 the exact ``used`` would reveal it, so ``"≥k"`` is printed instead.
    """
    _check_min_cell_size(min_cell_size)
    text = suppress_count(used, min_cell_size)
    if min_cell_size is None or text.startswith("<"):
        return text
    left_out = int(total) - int(used)
    if 1 <= left_out < min_cell_size:
        return f"≥{min_cell_size}"
    return text
