"""Former name of the primary-suppression functions; kept so that ``privacy.suppress_count`` works.

The disclosure policy lives in :mod:`ensemble_helpers.disclosure` (primary and secondary
suppression, results records, published files). Import from there in new code.
"""

from __future__ import annotations

from ensemble_helpers.disclosure.cells import (
    is_suppressed,
    suppress_count,
    suppress_count_pct,
    suppress_counts,
)

__all__ = ["suppress_count", "suppress_count_pct", "suppress_counts", "is_suppressed"]
