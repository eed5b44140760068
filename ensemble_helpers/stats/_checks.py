"""Input checks shared by every statistics family (arrays, columns, codes, options).

Errors are :class:`StatsInputError` with a message a statistician can act on.
"""

from __future__ import annotations

import logging
from numbers import Real
from typing import Any, Hashable, Iterable, Sequence

import numpy as np
import pandas as pd
# scipy.special, not scipy.stats: the same distribution functions without the ~1 s import of
# scipy.stats that every notebook kernel would pay
from scipy import special as _special

from ensemble_helpers.exceptions import StatsInputError

logger = logging.getLogger(__name__)


#: Confidence-interval transforms for survival probabilities (R ``survfit(conf.type=)``).
CI_TRANSFORMS: tuple[str, ...] = ("log", "log-log", "plain")
#: Label of the all-patients row in grouped summaries.
OVERALL = "Overall"


def _check_conf_level(conf_level: Any) -> float:
    if (
        isinstance(conf_level, bool)
        or not isinstance(conf_level, Real)
        or not 0.0 < float(conf_level) < 1.0
    ):
        raise StatsInputError(
            f"conf_level must be a number strictly between 0 and 1 (e.g. 0.95); got {conf_level!r}"
        )
    return float(conf_level)


def _z_value(conf_level: float) -> float:
    return float(_special.ndtri(1.0 - (1.0 - conf_level) / 2.0))  # standard normal quantile


def _check_transform(ci_transform: Any) -> str:
    if ci_transform not in CI_TRANSFORMS:
        raise StatsInputError(
            f"ci_transform must be one of {', '.join(map(repr, CI_TRANSFORMS))} (as R "
            f"survfit(conf.type=...); SAS CONFTYPE=LOG/LOGLOG/LINEAR); got {ci_transform!r}"
        )
    return str(ci_transform)


def _to_float(values: Any, name: str) -> np.ndarray:
    """1-D float array; pandas NA / None become NaN."""
    try:
        if isinstance(values, (pd.Series, pd.Index)):
            arr = values.to_numpy(dtype=float, na_value=np.nan)
        else:
            arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise StatsInputError(f"{name} must be numeric; could not convert it: {exc}") from exc
    if arr.ndim != 1:
        raise StatsInputError(f"{name} must be one-dimensional; got shape {arr.shape}")
    return arr


def _examples(mask: np.ndarray, index: Sequence[Any] | None = None, k: int = 5) -> list[Any]:
    pos = np.flatnonzero(mask)[:k]
    if index is None:
        return pos.tolist()
    return [index[i] for i in pos]


def _clean_survival(
    durations: Any,
    events: Any,
    *,
    index: Sequence[Any] | None = None,
    duration_name: str = "durations",
    event_name: str = "events",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate durations / 0-1 events; return (t, e, complete_mask) on the full length.

    Rows with a missing duration or event are not errors: they are left out (as R's
    ``na.omit``), and ``complete_mask`` says which rows remain.
    """
    t = _to_float(durations, duration_name)
    e = _to_float(events, event_name)
    if t.shape != e.shape:
        raise StatsInputError(
            f"{duration_name} and {event_name} must have the same length; "
            f"got {t.size} and {e.size}"
        )
    ok = ~np.isnan(t) & ~np.isnan(e)
    bad = ok & ~np.isfinite(t)
    if bad.any():
        raise StatsInputError(
            f"{duration_name} must be finite; {int(bad.sum())} infinite value(s), "
            f"e.g. rows {_examples(bad, index)}"
        )
    bad = ok & (t < 0)
    if bad.any():
        raise StatsInputError(
            f"{duration_name} must be >= 0; {int(bad.sum())} negative value(s), "
            f"e.g. rows {_examples(bad, index)}"
        )
    bad = ok & (e != 0) & (e != 1)
    if bad.any():
        raise StatsInputError(
            f"{event_name} must be 0/1 or boolean (1 = event, 0 = censored); "
            f"{int(bad.sum())} other value(s) {sorted(set(e[bad].tolist()))[:5]}, "
            f"e.g. rows {_examples(bad, index)}"
        )
    n_missing = int((~ok).sum())
    if n_missing:
        logger.debug("%d row(s) with a missing duration or event left out", n_missing)
    return t, e, ok


def _require_columns(df: pd.DataFrame, columns: Iterable[Hashable]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise StatsInputError(f"expected a pandas DataFrame; got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise StatsInputError(
            f"column(s) {missing} not in the data; available columns: {list(df.columns)}"
        )


def _py(value: Any) -> Any:
    """numpy scalar -> Python scalar (for tidy object columns)."""
    return value.item() if isinstance(value, np.generic) else value


def _group_codes(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (-1 = missing) and the ordered levels of a grouping column.

    Categorical columns keep their category order (unused categories included); other
    columns use their sorted distinct non-missing values.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(dtype=np.int64), [
            _py(v) for v in series.cat.categories
        ]
    values = pd.unique(series.dropna())
    try:
        levels = sorted(values)
    except TypeError:
        levels = sorted(values, key=str)
    codes = pd.Categorical(series, categories=levels).codes.astype(np.int64)
    return codes, [_py(v) for v in levels]


def _split_by_code(codes: np.ndarray, n_levels: int) -> list[np.ndarray]:
    """Row positions for each code 0..n_levels-1 (one stable sort, no per-level scan)."""
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes[codes >= 0], minlength=n_levels)
    start = int((codes < 0).sum())
    out = []
    for c in counts:
        out.append(order[start : start + c])
        start += c
    return out


def _check_timepoints(timepoints: Any) -> tuple[np.ndarray, list[str]]:
    tp = np.atleast_1d(np.asarray(timepoints, dtype=float))
    if tp.ndim != 1 or not np.isfinite(tp).all():
        raise StatsInputError(f"timepoints must be finite numbers; got {timepoints!r}")
    labels = [f"{t:g}" for t in tp]
    if len(set(labels)) != len(labels):
        raise StatsInputError(f"timepoints must be distinct; got {timepoints!r}")
    return tp, labels


def _next_stratum_start(block_stratum: np.ndarray) -> np.ndarray:
    """Per block (sorted by stratum, then time): index of the first block of the next stratum."""
    n_blocks = block_stratum.size
    first = np.ones(n_blocks, dtype=bool)
    first[1:] = block_stratum[1:] != block_stratum[:-1]
    starts = np.flatnonzero(first)
    stratum_of_block = np.cumsum(first) - 1
    return np.append(starts[1:], n_blocks)[stratum_of_block]
