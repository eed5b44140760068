"""Descriptive statistics and group comparisons of Table 1: quartiles as gtsummary computes
them, and the p-values gtsummary's ``add_p`` would give (chi-square or Fisher for categories,
Kruskal-Wallis for continuous variables).

``tables.table_one`` lays these numbers out; it computes none itself. scipy.stats is imported
inside the tests only: it costs ~1 s per notebook kernel, and only p-values need it.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

#: Monte Carlo tables for Fisher's test on tables larger than 2x2 (seeded: reproducible p-values).
FISHER_RESAMPLES = 20_000
_FISHER_SEED = 20250101

#: What each test code returned by :func:`categorical_test` / :func:`continuous_test` is.
TEST_NAMES = {
    "chisq": "Pearson's chi-squared test",
    "fisher": "Fisher's exact test",
    "fisher_mc": f"Fisher's exact test (Monte Carlo, {FISHER_RESAMPLES:,} tables)",
    "kruskal": "Kruskal\u2013Wallis rank sum test",
}


def quartiles(x: np.ndarray) -> tuple[float, float, float]:
    """Median, first and third quartile, as gtsummary (R ``quantile(type = 2)``).

    Examples
    --------
    >>> quartiles(np.array([1.0, 2.0, 3.0, 4.0]))
    (2.5, 1.5, 3.5)
    """
    # gtsummary computes percentiles with quantile(type = 2) (the SAS default): numpy's
    # "averaged_inverted_cdf" is the same definition, so our IQRs match what R users see.
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75], method="averaged_inverted_cdf")
    return float(med), float(q1), float(q3)


def categorical_test(table: np.ndarray) -> tuple[float, str]:
    """p-value of a levels x groups table: Pearson chi-square, Fisher when an expected count < 5.

    Empty rows and columns are dropped first. Returns ``(p, test)`` with ``test`` a key of
    :data:`TEST_NAMES`; ``(nan, "")`` when fewer than two levels or groups remain. Chi-square
    uses Yates' correction for 2x2 tables, as R's ``chisq.test``; Fisher's test is exact for
    2x2 tables and seeded Monte Carlo (:data:`FISHER_RESAMPLES` tables) for larger ones.

    Examples
    --------
    >>> p, test = categorical_test(np.array([[3, 1], [1, 3]]))
    >>> round(p, 4), test
    (0.4857, 'fisher')
    """
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return math.nan, ""
    from scipy import stats as sps  # imported here: only p-values need it (saves ~1 s per notebook)

    chi2, p, _, expected = sps.chi2_contingency(table)  # Yates' correction for 2x2, as R's chisq.test
    if (expected >= 5).all():
        return float(p), "chisq"
    if table.shape == (2, 2):
        return float(sps.fisher_exact(table).pvalue), "fisher"
    method = sps.MonteCarloMethod(n_resamples=FISHER_RESAMPLES, rng=np.random.default_rng(_FISHER_SEED))
    return float(sps.fisher_exact(table, method=method).pvalue), "fisher_mc"


def continuous_test(samples: Sequence[np.ndarray]) -> tuple[float, str]:
    """Kruskal-Wallis p-value across the non-empty ``samples`` (R ``kruskal.test``).

    Returns ``(p, "kruskal")``, or ``(nan, "")`` with fewer than two non-empty samples or when
    all values are identical.

    Examples
    --------
    >>> p, test = continuous_test([np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])])
    >>> round(p, 4), test
    (0.0495, 'kruskal')
    """
    samples = [x for x in samples if x.size > 0]
    if len(samples) < 2:
        return math.nan, ""
    try:
        from scipy import stats as sps

        return float(sps.kruskal(*samples).pvalue), "kruskal"
    except ValueError:  # all values identical
        return math.nan, ""
