"""Synthetic EN-SEMBLE cohort, calibrated to the published baseline and outcome figures.

The patient data of EN-SEMBLE (Nozawa et al., ESMO Open 2025; 664 patients, 222 institutions) are
not public. :func:`generate_cohort` draws a cohort with the columns and types of the data
contract (``docs/data_contract.md``) whose baseline, calendar and endpoints converge to the
published figures in ``published.yaml`` as ``n`` grows. The model, its calibration, how the
published figures are read and the strengths of the confounding are in ``docs/synthetic.md``.

Modules: :mod:`~ensemble_helpers.synthetic.model` (targets and design assumptions),
:mod:`~ensemble_helpers.synthetic.calibration` (scales solved on the analytic distributions),
:mod:`~ensemble_helpers.synthetic.generate` (drawing patients), :mod:`~ensemble_helpers.synthetic.io`
(files and the command line).

Examples
--------
>>> from ensemble_helpers.synthetic import generate_cohort
>>> df = generate_cohort(n=664, seed=2025)
>>> df.shape
(664, 27)
>>> int(df["site_id"].nunique())
222

Command line::

    python -m ensemble_helpers.synthetic --n 664 --seed 2025 --out data/ensemble_synthetic.csv
"""

from ensemble_helpers.synthetic.calibration import calibrate, implied_values
from ensemble_helpers.synthetic.generate import OPTIONAL_OUTPUT, _ids, generate_cohort
from ensemble_helpers.synthetic.io import main, write_cohort
from ensemble_helpers.synthetic.model import (
    _CLASS_GROUP,
    _REASON_GROUP,
    CHOICE_ODDS,
    CLASSES,
    REASONS,
    REGIMENS,
    RESPONSES,
    Calibration,
    CalibrationError,
    CohortModel,
    Targets,
)

__all__ = [
    "CHOICE_ODDS",
    "CLASSES",
    "OPTIONAL_OUTPUT",
    "REASONS",
    "REGIMENS",
    "RESPONSES",
    "Calibration",
    "CalibrationError",
    "CohortModel",
    "Targets",
    "_CLASS_GROUP",
    "_REASON_GROUP",
    "_ids",
    "calibrate",
    "generate_cohort",
    "implied_values",
    "main",
    "write_cohort",
]
