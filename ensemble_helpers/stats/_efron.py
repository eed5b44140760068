"""Efron partial likelihood of a Cox model with the data laid out for fast Newton steps
(:class:`_EfronData`), and Efron tie sums by power series (:class:`_EfronTies`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ensemble_helpers.stats._checks import _next_stratum_start
from ensemble_helpers.stats._design import (
    _BLAS_ONE_THREAD_GEMV,
    _Coded,
    _counting_order,
    _COX_CHUNK,
    _estimable_from_gram,
)


# Efron tie sums from power series (see _EfronTies): event times with at least this many
# deaths (and at most the second number), as long as the deaths carry at most this share of
# the risk set's weight; 40 terms then leave a relative error below 0.35**40 = 6e-19.
_TIES_SERIES_MIN = 64
_TIES_SERIES_MAX = 1 << 17
_TIES_SERIES_MAX_SHARE = 0.35
_TIES_SERIES_TERMS = 40


def _tie_moments(d: np.ndarray, n_moments: int) -> np.ndarray:
    """``M[g, k]`` = sum over l = 0..d[g]-1 of (l / d[g])**k, for k < n_moments.

    Cumulative sums over one grid l / max(d), rescaled, so the cost is n_moments * max(d)
    rather than n_moments * sum(d).
    """
    top = int(d.max())
    base = np.arange(top) / top
    scale = top / d
    out = np.empty((d.size, n_moments))
    power = np.ones(top)
    for k in range(n_moments):
        out[:, k] = np.cumsum(power)[d - 1] * scale**k
        power *= base
    return out


class _EfronTies:
    """Sums over the tied deaths of each event time in the Efron likelihood.

    At an event time with d deaths, risk-set weight S and deaths' weight D, the l-th death
    (l = 0..d-1) has the denominator den_l = S - (l/d) D. The likelihood needs sum(log den_l)
    and its derivatives a0 = sum(1/den_l), a1 = sum((l/d)/den_l), b0 = sum(1/den_l**2),
    b1 = sum((l/d)/den_l**2) and b2 = sum((l/d)**2/den_l**2). Summed death by death this is
    one term per death and Newton step (880,000 at 1,000,000 patients). With r = D/S and
    t = l/d, den_l = S (1 - r t), and log(1 - r t), 1/(1 - r t) and 1/(1 - r t)**2 are power
    series in r t; their sums over l only need the moments M_k = sum(t**k), fixed for the
    whole fit. So an event time with many deaths costs 40 terms whatever d is. Event times
    with few deaths, or where the deaths carry more than 35% of the risk set's weight (the
    series would converge slowly), are summed death by death.
    """

    def __init__(self, d: np.ndarray) -> None:
        self.d = d
        series = (d >= _TIES_SERIES_MIN) & (d <= _TIES_SERIES_MAX)
        self.series = np.flatnonzero(series)
        self.single = np.flatnonzero(d == 1)  # no tie: den = S
        self.direct = np.flatnonzero(~series & (d > 1))
        self.expansion = self._expand(self.direct)
        self.k = np.arange(_TIES_SERIES_TERMS + 1)
        if self.series.size:
            self.moments = _tie_moments(d[self.series], _TIES_SERIES_TERMS + 3)
        self._series: tuple[np.ndarray, np.ndarray] | None = None
        self._single = np.empty(0)
        self._direct: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def _expand(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For death-by-death sums: first position of each group, and l/d of each death."""
        d = self.d[groups]
        start = np.cumsum(d) - d
        frac = (np.arange(int(d.sum())) - np.repeat(start, d)) / np.repeat(d, d)
        return start, frac

    def _direct_log_sum(
        self,
        groups: np.ndarray,
        start: np.ndarray,
        frac: np.ndarray,
        s0: np.ndarray,
        s0d: np.ndarray,
    ) -> float:
        """Sum of log den_l over the deaths of ``groups``, death by death."""
        d = self.d[groups]
        den = np.repeat(s0[groups], d)
        den -= frac * np.repeat(s0d[groups], d)
        self._direct.append((groups, start, frac, den))
        return float(np.log(den).sum())

    def log_sum(self, s0: np.ndarray, s0d: np.ndarray) -> float:
        """Sum of log den_l over all deaths; keeps what :meth:`sums` needs.

        ``s0`` and ``s0d``: risk-set and deaths' weight of each event time.
        """
        self._series, self._direct = None, []
        self._single = s0[self.single]
        total = float(np.log(self._single).sum())
        if self.direct.size:
            total += self._direct_log_sum(self.direct, *self.expansion, s0, s0d)
        if not self.series.size:
            return total
        share = s0d[self.series] / s0[self.series]
        ok = share <= _TIES_SERIES_MAX_SHARE
        if not ok.all():
            slow = self.series[~ok]
            total += self._direct_log_sum(slow, *self._expand(slow), s0, s0d)
        groups, s, moments, k = self.series[ok], s0[self.series[ok]], self.moments[ok], self.k
        rk = share[ok, None] ** k  # r**k, k = 0..K
        rk1 = rk * (k + 1.0)
        # sum(log den_l) = d log S + sum_l log(1 - r t_l) = d log S - sum_k r**k M_k / k
        log_series = (rk[:, 1:] * moments[:, 1 : k.size] / k[1:]).sum(axis=1)
        total += float(np.sum(self.d[groups] * np.log(s) - log_series))
        # 1/(1 - y) = sum_k y**k and 1/(1 - y)**2 = sum_k (k + 1) y**k
        sums = np.stack(
            [
                (rk * moments[:, : k.size]).sum(axis=1) / s,  # a0
                (rk * moments[:, 1 : k.size + 1]).sum(axis=1) / s,  # a1
                (rk1 * moments[:, : k.size]).sum(axis=1) / s**2,  # b0
                (rk1 * moments[:, 1 : k.size + 1]).sum(axis=1) / s**2,  # b1
                (rk1 * moments[:, 2 : k.size + 2]).sum(axis=1) / s**2,  # b2
            ]
        )
        self._series = (groups, sums)
        return total

    def sums(self) -> tuple[np.ndarray, ...]:
        """a0, a1, b0, b1, b2 of each event time, for the last :meth:`log_sum` call."""
        out = np.zeros((5, self.d.size))
        out[0, self.single] = 1.0 / self._single
        out[2, self.single] = out[0, self.single] ** 2
        if self._series is not None:
            groups, sums = self._series
            out[:, groups] = sums
        for groups, start, frac, den in self._direct:
            inv = 1.0 / den
            work = frac * inv
            out[0, groups] = np.add.reduceat(inv, start)
            out[1, groups] = np.add.reduceat(work, start)
            work *= inv
            out[3, groups] = np.add.reduceat(work, start)
            work *= frac
            out[4, groups] = np.add.reduceat(work, start)
            inv *= inv
            out[2, groups] = np.add.reduceat(inv, start)
        return tuple(out)


def _weighted_cross(a: np.ndarray, weight: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum over g of weight[g] a[:, g] b[:, g]', in slices (see _COX_CHUNK)."""
    out = np.zeros((a.shape[0], b.shape[0]))
    for lo in range(0, weight.size, _COX_CHUNK):
        hi = lo + _COX_CHUNK
        out += (a[:, lo:hi] * weight[lo:hi]) @ b[:, lo:hi].T
    return out


class _EfronData:
    """Efron partial likelihood of a Cox model, with the data laid out for fast Newton steps.

    Patients are sorted by (stratum, time, event) and grouped into *cells* (same stratum,
    time and event status) and *blocks* (same stratum and time). The risk-set sums
    S0 = sum(w), S1 = sum(w x) only change from block to block, so they are reverse cumulative
    sums over per-block sums -- a few thousand blocks when times are whole days -- and the
    information matrix needs one weighted cross-product of the design per step, never an
    n x p x p array. The design is stored centred (as R does) and transposed,
    ``xt[j]`` = covariate j of every row in sorted order. The sums over tied deaths are done
    by :class:`_EfronTies`.

    ``x`` is an n x p matrix or a list of p design columns (see :func:`_design_matrix`).
    ``keep`` (optional) marks the patients in the model; the others are ignored (their values
    may be missing). ``pattern`` (optional) is an integer per patient, equal only for patients
    with equal covariates (e.g. the level of a dummy-coded factor). Patients with the same
    cell and pattern then become one row with a multiplicity (``weight``), which makes a
    Newton step independent of the number of patients.
    """

    def __init__(
        self,
        t: np.ndarray,
        e: np.ndarray,
        s: np.ndarray,
        x: np.ndarray | Sequence[np.ndarray | _Coded],
        keep: np.ndarray | None = None,
        pattern: np.ndarray | None = None,
    ) -> None:
        columns = [x[:, j] for j in range(x.shape[1])] if isinstance(x, np.ndarray) else x
        t_rank, t_levels = pd.factorize(t, sort=True)
        n_times = max(len(t_levels), 1)
        key = t_rank.astype(np.int64)
        n_strata = 1
        if t.size and s.min() != s.max():
            s_rank, s_levels = pd.factorize(s, sort=True)
            n_strata = len(s_levels)
            key += s_rank.astype(np.int64) * n_times
        key *= 2
        key += e > 0  # cell key: (stratum, time, event)
        n_keys = 2 * n_times * n_strata
        n_patterns = int(pattern.max()) + 1 if pattern is not None and pattern.size else 1
        if n_patterns > 1:
            key *= n_patterns
            key += pattern
            n_keys *= n_patterns
        n_rows = t.size
        if keep is not None:
            key[~keep] = n_keys  # left out: sorted last, then dropped
            n_rows = int(np.count_nonzero(keep))
        order, present, counts = _counting_order(key, n_keys + (keep is not None))
        order = order[:n_rows]
        if present.size and present[-1] == n_keys:
            present, counts = present[:-1], counts[:-1]
        self.weight: np.ndarray | None = None
        if n_patterns > 1:
            # one row per (cell, pattern): its first patient stands for all of them
            self.weight = counts.astype(float)
            order = order[np.cumsum(counts) - counts]
            row_key = present // n_patterns
            new_cell = np.ones(row_key.size, dtype=bool)
            new_cell[1:] = row_key[1:] != row_key[:-1]
            cell_start = np.flatnonzero(new_cell)
            present = row_key[cell_start]
            counts = np.diff(np.append(cell_start, row_key.size))
        self.n_times = n_times
        self._index(present, counts, len(columns))
        self.n = float(n_rows)
        self.xt = self._sorted_design(columns, order)
        self._death_sum()

    def _sorted_design(
        self, columns: Sequence[np.ndarray | _Coded], order: np.ndarray
    ) -> np.ndarray:
        """The design in sorted order, centred, one row per column."""
        xt = np.empty((len(columns), order.size))
        sorted_codes: dict[int, np.ndarray] = {}
        for j, col in enumerate(columns):
            if not isinstance(col, _Coded):
                np.take(col, order, out=xt[j])
                continue
            if id(col.codes) not in sorted_codes:
                sorted_codes[id(col.codes)] = np.take(col.codes, order)
            codes = sorted_codes[id(col.codes)]
            ones = np.flatnonzero(col.values)
            if ones.size == 1 and col.values[ones[0]] == 1.0:  # a dummy: 1 for one code
                np.equal(codes, ones[0], out=xt[j], casting="unsafe")
            else:
                np.take(col.values, codes, out=xt[j])
        if self.weight is None:
            self.center = xt.mean(axis=1)
        else:
            self.center = (xt * self.weight).sum(axis=1) / self.n
        xt -= self.center[:, None]
        return xt

    def _index(self, keys: np.ndarray, cell_len: np.ndarray, p: int) -> None:
        """Blocks, risk-set bookkeeping and Efron tie weights from the sorted cells.

        ``keys`` are the cell keys, (stratum * n_times + time) * 2 + event, in increasing
        order, and ``cell_len`` the number of rows of each cell.
        """
        self.cell_len = cell_len
        self.cell_start = np.cumsum(cell_len) - cell_len
        m = int(cell_len.sum())
        cell_death = (keys & 1).astype(bool)
        block_key = keys >> 1
        new_block = np.ones(block_key.size, dtype=bool)
        new_block[1:] = block_key[1:] != block_key[:-1]
        self.block_first_cell = np.flatnonzero(new_block)
        self.block_of_cell = np.cumsum(new_block) - 1
        self.n_blocks = self.block_first_cell.size
        # without ties (continuous times) cells, blocks and rows coincide: no sums needed
        self.one_row_cells = m == self.cell_start.size
        self.cells_are_blocks = self.n_blocks == self.cell_start.size
        block_stratum = block_key[self.block_first_cell] // self.n_times
        self.next_start = _next_stratum_start(block_stratum)
        self.one_stratum = bool(block_stratum.size) and block_stratum[0] == block_stratum[-1]
        first = np.ones(self.n_blocks, dtype=bool)
        first[1:] = block_stratum[1:] != block_stratum[:-1]
        self.stratum_first_block = np.flatnonzero(first)[np.cumsum(first) - 1]
        # event groups: the deaths of one block (one cell per event time and stratum)
        self.death_cell = np.flatnonzero(cell_death)
        self.cell_death = cell_death.astype(float)
        self.event_block = self.block_of_cell[self.death_cell]
        if self.weight is None:
            d = self.cell_len[self.death_cell]
        else:
            d = np.rint(np.add.reduceat(self.weight, self.cell_start)[self.death_cell])
            d = d.astype(np.int64)
        self.n_deaths = int(d.sum())
        self.ties = _EfronTies(d)
        # slices of whole cells for the information pass
        bounds = np.searchsorted(self.cell_start, np.arange(0, m, _COX_CHUNK))
        bounds = np.unique(np.append(bounds, self.cell_start.size))
        ends = np.append(self.cell_start, m)
        self.chunks = [
            (int(ends[a]), int(ends[b]), int(a), int(b), self.cell_start[a:b] - ends[a])
            for a, b in zip(bounds[:-1], bounds[1:])
        ]
        longest = max((hi - lo for lo, hi, *_ in self.chunks), default=0)
        step = max(_BLAS_ONE_THREAD_GEMV // max(p, 1), 64)
        self._rows = [(lo, min(lo + step, m)) for lo in range(0, m, step)]
        # work arrays, reused by every Newton step
        self._eta = np.empty(m)
        self._slice = np.empty(0)
        self._longest = longest

    def _death_sum(self) -> None:
        """Sum of the (centred) covariates over the deaths."""
        xw = self.xt if self.weight is None else self.xt * self.weight
        if xw.shape[1]:
            per_cell = np.add.reduceat(xw, self.cell_start, axis=1)
            self.xd_sum = per_cell[:, self.death_cell].sum(axis=1)
        else:
            self.xd_sum = np.zeros(xw.shape[0])

    def estimable(self) -> np.ndarray:
        """Columns with variance that are not linear combinations of earlier ones."""
        xt, p = self.xt, self.xt.shape[0]
        gram = np.zeros((p, p))
        for lo, hi, *_ in self.chunks:
            xs = xt[:, lo:hi]
            gram += (xs if self.weight is None else xs * self.weight[lo:hi]) @ xs.T
        # sum of squares of the uncentred columns, for the scale of the variance tolerance
        sumsq = np.diag(gram) + self.n * self.center**2
        return _estimable_from_gram(gram, sumsq)

    def keep_columns(self, columns: np.ndarray) -> None:
        """Keep only the given columns (boolean mask) of the design."""
        if not columns.all():
            self.xt = self.xt[columns]
            self.center = self.center[columns]
            self.xd_sum = self.xd_sum[columns]

    def _within_stratum_suffix(self, per_block: np.ndarray) -> np.ndarray:
        """Sum over blocks (last axis) of the same stratum at or after each block: risk sets."""
        suffix = np.cumsum(per_block[..., ::-1], axis=-1)[..., ::-1]
        if self.one_stratum:
            return suffix
        pad = np.zeros(per_block.shape[:-1] + (1,))
        suffix = np.concatenate([suffix, pad], axis=-1)
        return suffix[..., :-1] - suffix[..., self.next_start]

    def _within_stratum_prefix(self, per_block: np.ndarray) -> np.ndarray:
        """Sum over blocks of the same stratum at or before each block."""
        if self.one_stratum:
            return per_block.cumsum()
        prefix = np.concatenate([[0.0], per_block.cumsum()])
        return prefix[1:] - prefix[self.stratum_first_block]

    def loglik(self, beta: np.ndarray) -> float:
        """Efron log partial likelihood at ``beta``; keeps what :meth:`derivatives` needs."""
        w = self._eta
        if beta.any():
            for lo, hi in self._rows:
                np.matmul(beta, self.xt[:, lo:hi], out=w[lo:hi])
            shift = float(w.max())
            w -= shift
            np.exp(w, out=w)
        else:
            shift = 0.0
            w.fill(1.0)
        if self.weight is not None:
            w *= self.weight
        c0 = w if self.one_row_cells else np.add.reduceat(w, self.cell_start)
        per_block = c0 if self.cells_are_blocks else np.add.reduceat(c0, self.block_first_cell)
        s0 = self._within_stratum_suffix(per_block)
        log_den = self.ties.log_sum(s0[self.event_block], c0[self.death_cell])
        return float(self.xd_sum @ beta - log_den - shift * self.n_deaths)

    def derivatives(self) -> tuple[np.ndarray, np.ndarray]:
        """Score and information at the ``beta`` of the last :meth:`loglik` call."""
        w, xt = self._eta, self.xt
        a0, a1, b0, b1, b2 = self.ties.sums()
        # sum over event times of a0 * S2 (risk-set second moments), rearranged per patient:
        # patient i contributes w_i x_i x_i' times the a0 of every event time it is at risk
        # for, less a1 of its own event time if it died then (the Efron tie correction)
        a0_block = np.zeros(self.n_blocks)
        a0_block[self.event_block] = a0
        a1_block = np.zeros(self.n_blocks)
        a1_block[self.event_block] = a1
        c = self._within_stratum_prefix(a0_block)
        if self.cells_are_blocks:
            v = c - self.cell_death * a1_block
        else:
            v = c[self.block_of_cell] - self.cell_death * a1_block[self.block_of_cell]
        p = xt.shape[0]
        if self._slice.size < p * self._longest:
            self._slice = np.empty(p * self._longest)
        c1 = np.empty((p, self.cell_start.size))
        info = np.zeros((p, p))
        for lo, hi, k0, k1, local in self.chunks:
            xs = xt[:, lo:hi]
            z = self._slice[: p * (hi - lo)].reshape(p, hi - lo)
            np.multiply(xs, w[lo:hi], out=z)
            if self.one_row_cells:
                c1[:, k0:k1] = z
            else:
                np.add.reduceat(z, local, axis=1, out=c1[:, k0:k1])
            z *= np.repeat(v[k0:k1], self.cell_len[k0:k1])
            info += z @ xs.T
        # S1 of the risk set and of the deaths at each event time, one row per covariate
        s1d = c1[:, self.death_cell]
        per_block = c1
        if not self.cells_are_blocks:
            per_block = np.add.reduceat(c1, self.block_first_cell, axis=1)
        s1 = self._within_stratum_suffix(per_block)[:, self.event_block]
        score = self.xd_sum - ((s1 * a0).sum(axis=1) - (s1d * a1).sum(axis=1))
        info -= _weighted_cross(s1, b0, s1)
        cross = _weighted_cross(s1, b1, s1d)
        info += cross + cross.T
        info -= _weighted_cross(s1d, b2, s1d)
        return score, info

    def evaluate(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Efron log partial likelihood, score and information at ``beta``."""
        loglik = self.loglik(beta)
        score, info = self.derivatives()
        return loglik, score, info
