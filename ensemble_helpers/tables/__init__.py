"""Report tables: Table 1, endpoint, response and hazard-ratio tables, the small tables of the
cohort and endpoint notebooks, and safe HTML.

Tables lay out numbers computed elsewhere: :mod:`ensemble_helpers.stats` returns tidy numbers
(NaN for "not reached"; Table 1's quartiles and p-values come from
:mod:`ensemble_helpers.stats.descriptive`), :mod:`ensemble_helpers.formats` writes them as text
("4.1 (3.5–4.8)", "NR", "<0.001"; its functions are re-exported here), every count goes through
:func:`ensemble_helpers.privacy.suppress_count`, and every text cell is HTML-escaped by
:func:`to_html`.

Layout follows what R users know: :func:`table_one` looks like gtsummary's ``tbl_summary``
(n (%) for categories, one row for yes/no variables, median (IQR) and range for continuous
variables, a "Missing" row), :func:`endpoint_table` like survfit's
``n events median 0.95LCL 0.95UCL`` with landmark rates.

Examples
--------
>>> format_estimate(4.123, 3.5, 4.8)
'4.1 (3.5–4.8)'
>>> format_estimate(float("nan"), 3.5, float("nan"))
'NR (3.5–NR)'
>>> format_pct(0.452, 0.401, 0.503)
'45.2% (40.1–50.3)'
>>> format_p(0.0004), format_p(0.0423)
('<0.001', '0.042')
"""

from __future__ import annotations

from ensemble_helpers.formats import (
    format_estimate,
    format_number,
    format_p,
    format_pct,
)
from ensemble_helpers.stats.descriptive import FISHER_RESAMPLES  # noqa: F401 (tables.FISHER_RESAMPLES)
from ensemble_helpers.tables._common import (
    CATEGORICAL_MAX_LEVELS,
    EXCLUDED,
    INDENT,
    NO_PATIENTS,
    TOO_FEW,
)
from ensemble_helpers.tables.counts import (
    attrition_table,
    frequency_table,
    site_table,
    top_counts,
)
from ensemble_helpers.tables.endpoints import (
    endpoint_table,
    followup_table,
    published_table,
    rate_table,
    response_table,
)
from ensemble_helpers.tables.html import display_table, to_html
from ensemble_helpers.tables.models import (
    balance_table,
    hr_table,
    logrank_table,
    ph_table,
    subgroup_hr_table,
    weight_summary_table,
    weighted_estimates_table,
)
from ensemble_helpers.tables.table_one import table_one

__all__ = [
    "format_number", "format_estimate", "format_pct", "format_p",
    "table_one",
    "endpoint_table", "response_table", "published_table", "followup_table", "rate_table",
    "hr_table", "subgroup_hr_table", "weighted_estimates_table", "weight_summary_table", "balance_table",
    "ph_table", "logrank_table",
    "top_counts", "frequency_table", "attrition_table", "site_table",
    "to_html", "display_table",
    "INDENT", "CATEGORICAL_MAX_LEVELS", "TOO_FEW", "NO_PATIENTS", "EXCLUDED",
]
