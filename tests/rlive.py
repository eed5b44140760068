"""Live R references: run a short R script on a data frame and read back named numbers.

Tests that use it are skipped, saying why, where ``Rscript`` or the R survival package is absent
(``.ci/run`` installs Debian's r-base-core and r-cran-survival).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

RSCRIPT = shutil.which("Rscript")


#: Debian package of each R package a live reference uses (``.ci/run`` installs them).
DEBIAN_PACKAGE = {"survival": "r-cran-survival", "cmprsk": "r-cran-cmprsk", "MASS": "r-cran-mass"}


@functools.lru_cache(maxsize=None)
def _has_packages(packages: tuple[str, ...]) -> bool:
    if RSCRIPT is None:
        return False
    code = "; ".join(f"library({p})" for p in packages)
    done = subprocess.run([RSCRIPT, "-e", code], capture_output=True)
    return done.returncode == 0


def needs_r(*packages: str) -> pytest.MarkDecorator:
    """Skip marker: R with the survival package (and ``packages``) is needed for the live reference."""
    wanted = ("survival", *packages)
    debian = " ".join(["r-base-core", *(DEBIAN_PACKAGE.get(p, f"r-cran-{p.lower()}") for p in wanted)])
    return pytest.mark.skipif(
        not _has_packages(wanted),
        reason=f"R reference needs Rscript with {', '.join(wanted)} (Debian: {debian})",
    )


#: R function ``out(name, values)`` printing one line "name v1 v2 ..." at full precision.
_PRELUDE = """suppressMessages(library(survival))
out <- function(name, x) cat(name, sprintf("%.17g", as.numeric(x)), "\\n")
"""


def run_r(tmp_path: Path, code: str, data: pd.DataFrame) -> dict[str, np.ndarray]:
    """Run ``code`` in R with ``d`` = ``data`` (read from CSV, strings as factors off) and
    return every ``out(name, values)`` line as ``{name: float array}`` (NA -> NaN)."""
    csv = tmp_path / "r_data.csv"
    data.to_csv(csv, index=False)
    script = tmp_path / "reference.R"
    script.write_text(_PRELUDE + f'd <- read.csv("{csv.as_posix()}", stringsAsFactors = FALSE)\n' + code)
    done = subprocess.run([RSCRIPT or "Rscript", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = {}
    for line in done.stdout.splitlines():
        name, *values = line.split()
        result[name] = np.array([float("nan") if v == "NA" else float(v) for v in values])
    return result
