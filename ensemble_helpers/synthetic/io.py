"""Writing a synthetic cohort to CSV or Parquet, and the command line."""

from __future__ import annotations

import argparse
import logging
import os
import uuid
from pathlib import Path
from typing import Sequence

import pandas as pd

from ensemble_helpers.synthetic.generate import generate_cohort

logger = logging.getLogger(__name__)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """CSV in the data contract's text form, written by pyarrow's CSV writer.

    pandas' ``to_csv`` formats every date in Python (about 20 s for a million patients);
    pyarrow writes date32 columns as ``YYYY-MM-DD``, booleans as ``true``/``false`` and
    missing values as empty cells, which is exactly the contract's spelling.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            columns[col] = pa.array(s.to_numpy(dtype="datetime64[D]"), type=pa.date32(), mask=s.isna().to_numpy())
        elif isinstance(s.dtype, pd.CategoricalDtype):
            columns[col] = pa.array(s.astype(object).where(s.notna(), None).to_numpy(), type=pa.string())
        else:
            columns[col] = pa.Array.from_pandas(s)
    table = pa.table(columns)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


def write_cohort(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a cohort to ``.csv`` or ``.parquet`` atomically (temporary file + ``os.replace``).

    Parameters
    ----------
    df : DataFrame
        Output of :func:`generate_cohort`.
    path : str or Path
        Destination; the suffix chooses the format; parent directories are created.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet", ".pq"}:
        raise ValueError(f"unsupported output type {suffix!r} for {path}: use .csv or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    # same directory, so os.replace is atomic; created by the writer, so the umask applies
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        if suffix == ".csv":
            _write_csv(df, tmp)
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("wrote %d synthetic patients to %s", len(df), path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m ensemble_helpers.synthetic --n 664 --seed 2025 --out FILE``."""
    parser = argparse.ArgumentParser(
        prog="python -m ensemble_helpers.synthetic",
        description="Write a synthetic EN-SEMBLE cohort calibrated to the published figures.",
    )
    parser.add_argument("--n", type=int, default=664, help="number of patients (default 664)")
    parser.add_argument("--sites", type=int, default=222, help="number of institutions (default 222)")
    parser.add_argument("--seed", type=int, default=2025, help="random seed (default 2025)")
    parser.add_argument(
        "--data-cutoff", default=None,
        help="data cut-off date (YYYY-MM-DD; default: T-DXd launch + the longest published follow-up)",
    )
    parser.add_argument("--out", required=True, help="output file, .csv or .parquet")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    df = generate_cohort(n=args.n, n_sites=args.sites, seed=args.seed, data_cutoff=args.data_cutoff)
    path = write_cohort(df, args.out)
    print(f"wrote {len(df)} patients to {path}")
    return 0
