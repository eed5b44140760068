"""Published EN-SEMBLE figures (``published.yaml``) and the table "published vs this run"."""

from __future__ import annotations

import functools
from importlib import resources

import pandas as pd
import yaml

from ensemble_helpers.results import lookup


@functools.lru_cache(maxsize=1)
def _published_text() -> str:
    return resources.files("ensemble_helpers").joinpath("published.yaml").read_text(encoding="utf-8")


def _published_yaml() -> dict:
    """The parsed file (a fresh object each call; the C loader when PyYAML has it)."""
    return yaml.load(_published_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_study() -> dict:
    """Study period and follow-up range (``study`` in ``published.yaml``): calibration targets only.

    Examples
    --------
    >>> load_study()["tdxd_start_first"]
    '2020-05-25'
    """
    return dict(_published_yaml()["study"])


def load_published() -> pd.DataFrame:
    """The published headline figures, one row each.

    Returns
    -------
    DataFrame
        ``key``, ``label``, ``value``, ``unit``, ``analysis``, ``endpoint``, ``group``.

    Examples
    --------
    >>> pub = load_published().set_index("key")
    >>> float(pub.loc["pfs", "value"])
    4.1
    """
    figures = pd.DataFrame(_published_yaml()["figures"])
    figures["group"] = figures["group"].fillna("Overall")
    return figures


def published_value(key: str) -> float:
    """One published figure by key (e.g. ``"pfs"`` -> 4.1)."""
    pub = load_published().set_index("key")
    return float(pub.loc[key, "value"])


def compare_published(records: pd.DataFrame) -> pd.DataFrame:
    """Put each published figure beside this run's estimate of it.

    Parameters
    ----------
    records : DataFrame
        Results records (:meth:`ensemble_helpers.results.Results.frame`).

    Returns
    -------
    DataFrame
        ``key``, ``label``, ``unit``, ``published``, ``estimate``, ``lower``, ``upper``,
        ``difference`` (estimate − published), ``within_ci`` (published value inside this
        run's CI; None when there is no CI), and the record's ``n`` and ``events`` (so that
        small counts can be suppressed). Figures this run did not estimate have NaN.
    """
    rows = []
    for fig in load_published().to_dict("records"):
        rec = lookup(records, fig["analysis"], fig["endpoint"], fig["group"])
        est = lo = hi = n = events = float("nan")
        if rec is not None:
            n = float(rec["n"]) if rec["n"] is not None else float("nan")
            events = float(rec["events"]) if rec["events"] is not None else float("nan")
            est = float(rec["estimate"]) if rec["estimate"] is not None else float("nan")
            lo = float(rec["lower"]) if rec["lower"] is not None else float("nan")
            hi = float(rec["upper"]) if rec["upper"] is not None else float("nan")
        within = None if pd.isna(lo) or pd.isna(hi) else bool(lo <= fig["value"] <= hi)
        rows.append(
            {"key": fig["key"], "label": fig["label"], "unit": fig["unit"], "published": float(fig["value"]),
             "estimate": est, "lower": lo, "upper": hi, "difference": est - float(fig["value"]), "within_ci": within,
             "n": n, "events": events}
        )
    return pd.DataFrame(rows)
