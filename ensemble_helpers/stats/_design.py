"""Cox design matrices: covariates as numeric columns or small integer codes, complete rows,
covariate patterns and estimable columns (used by :mod:`._efron` and :mod:`.cox`).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
from scipy import sparse as _sparse

from ensemble_helpers.stats._checks import _group_codes, StatsInputError


# Products over all patients are done in slices of the (covariates x patients) design: a
# slice stays in the CPU cache while it is weighted, summed by cell and multiplied. The
# linear predictor is computed in slices of at most 8,192 multiply-adds, which OpenBLAS runs
# on one thread: on one 8 x 1,000,000 product it starts all cores, and its idle threads then
# spin and slowed the rest of each Newton step 1.6x (CPU time, 2-core machine).
_COX_CHUNK = 8192
_BLAS_ONE_THREAD_GEMV = 8192
# Largest number of distinct covariate patterns for which patients with the same (stratum,
# time, event, pattern) are merged into one weighted row.
_COX_MAX_PATTERNS = 1 << 12


class _Coded(NamedTuple):
    """A design column kept as small integer codes (-1 = missing) and the value of each code.

    Dummies of one factor share the factor's codes; 1-byte codes are gathered and sorted much
    faster than 8-byte floats, and rows with equal codes can be merged (see :class:`_EfronData`).
    """

    codes: np.ndarray
    values: np.ndarray


def _small_codes(codes: np.ndarray, n_levels: int) -> np.ndarray:
    """Codes (-1 = missing) in the smallest signed integer type that holds them."""
    dtype = np.int8 if n_levels < 1 << 7 else np.int16 if n_levels < 1 << 15 else np.int64
    return codes.astype(dtype, copy=False)


def _design_matrix(
    data: pd.DataFrame, covariates: Sequence[str], reference: Mapping[str, Any]
) -> tuple[list[np.ndarray | _Coded], list[dict[str, Any]]]:
    """Design columns and one description per column (term, variable, level, reference).

    Numeric columns are float arrays (NaN = missing); boolean columns and the dummies of a
    categorical covariate are :class:`_Coded` (the dummies of one covariate share its codes).
    """
    columns: list[np.ndarray | _Coded] = []
    terms: list[dict[str, Any]] = []
    for var in covariates:
        col = data[var]
        dtype = col.dtype
        is_cat = isinstance(dtype, pd.CategoricalDtype)
        is_bool = pd.api.types.is_bool_dtype(dtype)
        if not is_cat and (is_bool or pd.api.types.is_numeric_dtype(dtype)):
            if var in reference:
                raise StatsInputError(
                    f"reference was given for {var!r}, but {var!r} is numeric/boolean and "
                    f"enters the model as is; convert it to a categorical column to dummy-code it"
                )
            terms.append({"term": var, "variable": var, "level": None, "reference": None})
            if is_bool and isinstance(col.dtype, np.dtype):
                columns.append(_Coded(col.to_numpy().view(np.int8), np.array([0.0, 1.0])))
            elif is_bool:  # pandas "boolean", with <NA>
                values = col.to_numpy(dtype=float, na_value=np.nan)
                codes = np.where(np.isnan(values), -1, values).astype(np.int8)
                columns.append(_Coded(codes, np.array([0.0, 1.0])))
            else:
                columns.append(col.to_numpy(dtype=float, na_value=np.nan))
            continue
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            raise StatsInputError(f"covariate {var!r} is a date/time column; derive a number first")
        codes, levels = _group_codes(col)
        if not levels:
            raise StatsInputError(f"covariate {var!r} has no non-missing values")
        ref = reference.get(var, levels[0])
        if ref not in levels:
            raise StatsInputError(
                f"reference level {ref!r} for {var!r} is not one of its levels {levels}"
            )
        ref_code = levels.index(ref)
        codes = _small_codes(codes, len(levels))
        for j, level in enumerate(levels):
            if j == ref_code:
                continue
            columns.append(_Coded(codes, (np.arange(len(levels)) == j).astype(float)))
            terms.append(
                {"term": f"{var}={level}", "variable": var, "level": level, "reference": ref}
            )
    return columns, terms


def _complete_rows(columns: Sequence[np.ndarray | _Coded], n: int) -> np.ndarray:
    """Rows with no missing design value."""
    ok = np.ones(n, dtype=bool)
    seen: set[int] = set()
    for col in columns:
        if isinstance(col, _Coded):
            if id(col.codes) not in seen:
                seen.add(id(col.codes))
                ok &= col.codes >= 0
        else:
            ok &= ~np.isnan(col)
    return ok


def _pattern_codes(columns: Sequence[np.ndarray | _Coded], n: int) -> np.ndarray | None:
    """One integer per row, equal for rows with equal covariates, when all columns are coded.

    None when a column is numeric or there are more than _COX_MAX_PATTERNS combinations.
    Missing codes (-1) are counted as level 0: those rows are not in the model.
    """
    if not all(isinstance(col, _Coded) for col in columns):
        return None
    distinct = list({id(col.codes): col for col in columns}.values())
    if math.prod(col.values.size for col in distinct) > _COX_MAX_PATTERNS:
        return None
    pattern = np.zeros(n, dtype=np.int64)
    for col in distinct:
        pattern *= col.values.size
        pattern += np.maximum(col.codes, 0)
    return pattern


def _estimable_from_gram(gram: np.ndarray, sumsq: np.ndarray) -> np.ndarray:
    """Columns with variance that are not linear combinations of earlier ones (R: aliased).

    ``gram``: cross-products of the centred columns; ``sumsq``: sums of squares of the
    uncentred columns (the scale of the variance tolerance).
    """
    keep = np.zeros(gram.shape[0], dtype=bool)
    for j in range(gram.shape[0]):
        scale = max(float(sumsq[j]), 1.0)
        if gram[j, j] <= 1e-10 * scale:
            continue
        kept = np.flatnonzero(keep)
        resid = gram[j, j]
        if kept.size:
            g_kk = gram[np.ix_(kept, kept)]
            g_kj = gram[kept, j]
            resid = gram[j, j] - g_kj @ np.linalg.solve(g_kk, g_kj)
        if resid > 1e-9 * gram[j, j]:
            keep[j] = True
    return keep


def _counting_order(key: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stable sort of integer keys in [0, n_keys): permutation, distinct keys and their counts.

    A counting sort, O(n + n_keys): scipy's COO -> CSR conversion is one (in C++), several
    times faster than ``np.argsort(kind="stable")`` on 1,000,000 keys. A sparse key space
    (many strata and distinct times) is first made dense with ``np.unique``. (Only the
    grouping matters for the likelihood; the order within a key changes no result.)
    """
    present = None
    if n_keys > 4 * key.size + 1024:
        present, key = np.unique(key, return_inverse=True)
        n_keys = present.size
    m = _sparse.csr_matrix(
        (np.ones(key.size, dtype=np.int8), (key, np.arange(key.size))), shape=(n_keys, key.size)
    )
    counts = np.diff(m.indptr)
    if present is None:
        present = np.flatnonzero(counts)
    return m.indices, present, counts[counts > 0]
