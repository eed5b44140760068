"""EN-SEMBLE analysis helpers: survival endpoints after trastuzumab deruxtecan, as notebooks and a library.

Start here (in JupyterLab, from a notebook in ``scratch/``; ``make scratch`` makes a starter)::

    from ensemble_helpers import open_cohort, plots, stats, tables

    # 1. load: a parameter file by name (params/*.yaml), a path, or with overrides
    c = open_cohort("full_cohort")
    pfs = c.endpoint("PFS")          # one row per patient: ADSL columns + AVAL (months), event (0/1)

    # 2. Kaplan-Meier by any ADSL variable: medians as R survfit, and the figure
    stats.km_summary_by(pfs, "AVAL", "event", by="regimen_group")
    plots.km_plot(pfs, "AVAL", "event", by="regimen_group", ci=True);

    # 3. Cox model with chosen covariates; an ordinal score such as ECOG as a factor
    stats.cox_hr(pfs, "AVAL", "event", ["regimen_group", "age", "ecog"], factors=["ecog"])

    # 4. Table 1 by any grouping (small counts suppressed below min_cell_size)
    tables.table_one(c.adsl, by="discontinuation_group", variables=["age", "ecog", "brain_metastasis"])

    # 5. the same on a filtered population
    older = open_cohort("full_cohort", filters={"age": {"min": 65}})

Where things live (``docs/architecture.md``): ``schema``/``readers`` (the data contract),
``endpoints`` (ADSL/ADTTE), ``cohort`` (filters), ``stats`` (estimates, matched to R),
``tables``/``plots``/``formats`` (display), ``disclosure`` (what may be published), ``report``
(notebook glue), ``batch`` (``ensemble-run``), ``synthetic`` (the calibrated synthetic cohort).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["open_cohort", "__version__"]


def __getattr__(name: str) -> Any:
    # lazy: `import ensemble_helpers.batch` (the runner's parent process) must not import pandas
    if name == "open_cohort":
        from ensemble_helpers.explore import open_cohort

        return open_cohort
    raise AttributeError(f"module 'ensemble_helpers' has no attribute {name!r}")
