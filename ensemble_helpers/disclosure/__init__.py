"""Disclosure control: the only code that decides what may be published.

Every number, table, figure and file that leaves a run goes through this package. With
``min_cell_size: k`` (a parameter file key, default 5):

* **primary suppression** (:mod:`.cells`): a count from 1 to k-1 is printed ``"<k"``, without a
  percentage; zero stays ``"0"``; no statistic (median, rate, CI, HR, p) of a group of fewer than k
  patients is shown;
* **secondary suppression** (:mod:`.margins`): where counts are tied by sums (an Overall column, a
  column N, a total row, a model's N and its population), more cells are hidden (printed ``"≥k"``)
  until no hidden count can be worked out, checked by a linear-programming audit;
* **results records** (:mod:`.records`): ``results.json``, ``summary.csv`` and the key estimates
  of ``index.html`` get the same treatment; raw numbers only in ``<output-dir>/internal/``;
* **models** (:mod:`.models`): Cox models, log-rank tests and forest plots pool the levels whose
  size is hidden before fitting, so their N adds nothing to what the tables show;
* **files** (:mod:`.files`): no absolute path, no patient or site id in a published file; shared
  files 0644, ``internal/`` owner-only;
* **parameters** (:mod:`.parameters`): identifiers, dates and unbinned continuous variables are
  refused as filters and subgroups.

The method, its sources and its limits: ``docs/disclosure.md``.

Examples
--------
>>> from ensemble_helpers import disclosure
>>> disclosure.suppress_count(3, 5)
'<5'
>>> p = disclosure.protect_partition({"grade 1": 9, "grade 2": 7, "grade 3": 2}, None, 5)
>>> [p.text(g) for g in ("grade 1", "grade 2", "grade 3", disclosure.TOTAL)]
['9', '≥5', '<5', '18']
"""

from __future__ import annotations

from ensemble_helpers.disclosure.cells import (
    is_suppressed,
    suppress_count,
    suppress_count_pct,
    suppress_counts,
)
from ensemble_helpers.disclosure.files import (
    INTERNAL_DIR,
    INTERNAL_DIR_MODE,
    INTERNAL_FILE_MODE,
    SHARED_DIR_MODE,
    SHARED_FILE_MODE,
    IdentifierScrubber,
    append_internal,
    data_identifiers,
    is_owner_only,
    publishable_notebook,
    scrub_text,
    set_shared_permissions,
    write_internal,
)
from ensemble_helpers.disclosure.margins import (
    PRIMARY,
    SECONDARY,
    SHOWN,
    TOTAL,
    UNPUBLISHED,
    Line,
    Protection,
    audit,
    protect,
    protect_partition,
    suppression_note,
)
from ensemble_helpers.disclosure.models import group_sizes, pool_levels, pooled_label, subset_count
from ensemble_helpers.disclosure.parameters import (
    IDENTIFIER_COLUMNS,
    check_subgroup_column,
    refused_reason,
)
from ensemble_helpers.disclosure.records import publishable_records

__all__ = [
    "IDENTIFIER_COLUMNS",
    "INTERNAL_DIR",
    "INTERNAL_DIR_MODE",
    "INTERNAL_FILE_MODE",
    "PRIMARY",
    "SECONDARY",
    "SHARED_DIR_MODE",
    "SHARED_FILE_MODE",
    "SHOWN",
    "TOTAL",
    "UNPUBLISHED",
    "Line",
    "append_internal",
    "Protection",
    "audit",
    "check_subgroup_column",
    "data_identifiers",
    "group_sizes",
    "pool_levels",
    "pooled_label",
    "subset_count",
    "is_owner_only",
    "is_suppressed",
    "protect",
    "protect_partition",
    "publishable_notebook",
    "publishable_records",
    "refused_reason",
    "IdentifierScrubber",
    "scrub_text",
    "set_shared_permissions",
    "suppress_count",
    "suppress_count_pct",
    "suppress_counts",
    "suppression_note",
    "write_internal",
]
