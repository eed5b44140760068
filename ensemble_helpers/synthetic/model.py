"""Targets and design assumptions of the synthetic cohort (see ``docs/synthetic.md``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ensemble_helpers.endpoints import DISCONTINUATION_GROUPS, REGIMEN_GROUPS
from ensemble_helpers.exceptions import EnsembleError
from ensemble_helpers.published import load_published, load_study
from ensemble_helpers.schema import CATEGORIES

REASONS: tuple[str, ...] = CATEGORIES["tdxd_discontinuation_reason"]
CLASSES: tuple[str, ...] = CATEGORIES["next_class"]
RESPONSES: tuple[str, ...] = CATEGORIES["next_best_response"]
# Index into endpoints.REGIMEN_GROUPS / DISCONTINUATION_GROUPS of each next_class / reason, as
# derive_adsl groups them (tests/test_synthetic.py checks the two agree).
_CLASS_GROUP = np.array([0, 1, 2, 2, 2, 2])  # antibody, tki, then every other class
_REASON_GROUP = np.array([0, 1, 1, 2])  # progression, ild, other_adverse_event, other
#: Classes that contain an anti-HER2 agent (``derive_adsl``'s ``anti_her2``).
_ANTI_HER2 = np.array([True, True, True, False, False, False])

#: "Reason x ILD grade" cells of the model: progression, ILD grade 1, 2, 3, unknown, other AE, other.
STOP_CELLS: tuple[str, ...] = ("progression", "ild_1", "ild_2", "ild_3", "ild_unknown", "other_adverse_event", "other")
_CELL_REASON = np.array([0, 1, 1, 1, 1, 2, 3])
#: ILD grade of each stop cell (0 = not ILD, -1 = unknown).
_CELL_GRADE = np.array([0, 1, 2, 3, -1, 0, 0])

#: Regimen names drawn within each class, with relative frequencies (design assumption,
#: Japanese practice after T-DXd).
REGIMENS: dict[str, tuple[tuple[str, float], ...]] = {
    "anti_her2_antibody": (
        ("trastuzumab + pertuzumab + eribulin", 0.20),
        ("trastuzumab + pertuzumab + docetaxel", 0.08),
        ("trastuzumab + pertuzumab + paclitaxel", 0.05),
        ("trastuzumab + pertuzumab + vinorelbine", 0.05),
        ("trastuzumab + pertuzumab + capecitabine", 0.04),
        ("trastuzumab + eribulin", 0.12),
        ("trastuzumab + capecitabine", 0.06),
        ("trastuzumab + vinorelbine", 0.05),
        ("trastuzumab + S-1", 0.04),
        ("trastuzumab + gemcitabine", 0.03),
        ("T-DM1", 0.28),
    ),
    "anti_her2_tki": (
        ("lapatinib + capecitabine", 0.52),
        ("tucatinib + trastuzumab + capecitabine", 0.20),
        ("neratinib + capecitabine", 0.13),
        ("lapatinib + trastuzumab", 0.10),
        ("lapatinib + vinorelbine", 0.05),
    ),
    "anti_her2_other": (
        ("investigational anti-HER2 agent (clinical trial)", 0.60),
        ("zanidatamab (clinical trial)", 0.20),
        ("trastuzumab duocarmazine (clinical trial)", 0.20),
    ),
    "chemotherapy": (
        ("eribulin", 0.30),
        ("capecitabine", 0.18),
        ("S-1", 0.12),
        ("vinorelbine", 0.10),
        ("paclitaxel + bevacizumab", 0.12),
        ("nab-paclitaxel", 0.08),
        ("gemcitabine", 0.06),
        ("docetaxel", 0.04),
    ),
    "endocrine": (
        ("fulvestrant", 0.35),
        ("letrozole", 0.15),
        ("anastrozole", 0.10),
        ("exemestane + everolimus", 0.15),
        ("abemaciclib + fulvestrant", 0.15),
        ("tamoxifen", 0.10),
    ),
    "other": (
        ("investigational agent (clinical trial)", 0.60),
        ("olaparib", 0.15),
        ("other regimen", 0.25),
    ),
}


class CalibrationError(EnsembleError, RuntimeError):
    """The model cannot reproduce the targets (a root was not found or is out of range)."""


@dataclass(frozen=True)
class Targets:
    """Published figures the cohort is calibrated to (medians in months, proportions 0-1).

    Build from ``published.yaml`` (the one source of truth) with :meth:`from_published`.
    Baseline figures are at the start of the first post-T-DXd regimen.
    """

    tdxd_duration: float
    ttf: float
    ttnt: float
    pfs: float
    os: float
    orr: float
    pfs_antibody: float
    pfs_tki: float
    os_antibody: float
    os_tki: float
    pfs_progression: float
    pfs_adverse_event: float
    stop_progression: float
    stop_ild: float
    stop_other_ae: float
    anti_her2: float
    antibody: float
    tki: float
    ild_recurrence: float  # among all patients (the main report's 3.2%, read as 21/664)
    ild_recurrence_ild_stop: float  # among patients who stopped T-DXd for ILD (5/146)
    anti_her2_ild: float  # anti-HER2 first post-T-DXd regimen among ILD stops
    age: float  # median, years
    ecog_0_1: float
    visceral: float
    brain: float
    prior_lines: float  # median
    prior_trastuzumab: float
    prior_pertuzumab: float
    prior_tdm1: float
    ild_grade_1: float  # shares of the ILD stops; the rest has an unknown grade
    ild_grade_2: float
    ild_grade_3: float
    followup: float  # median observed follow-up (months from next_start to death or last contact)
    followup_min: float  # range of the observed follow-up
    followup_max: float
    tdxd_start_first: str
    tdxd_start_last: str

    @classmethod
    def from_published(cls) -> "Targets":
        """The published EN-SEMBLE figures (``ensemble_helpers/published.yaml``)."""
        values = load_published().set_index("key")["value"].to_dict()
        values.update(load_study())
        out = {}
        for f in cls.__dataclass_fields__:
            out[f] = str(values[f]) if f.startswith("tdxd_start") else float(values[f])
        return cls(**out)

    @property
    def reason_probs(self) -> np.ndarray:
        """P(discontinuation reason) in ``REASONS`` order; ``other`` is the remainder."""
        p = [self.stop_progression, self.stop_ild, self.stop_other_ae]
        return np.array(p + [1.0 - sum(p)])

    @property
    def ild_grade_probs(self) -> np.ndarray:
        """P(ILD grade 1, 2, 3, unknown | stopped for ILD)."""
        p = [self.ild_grade_1, self.ild_grade_2, self.ild_grade_3]
        return np.array(p + [1.0 - sum(p)])

    @property
    def stop_cell_probs(self) -> np.ndarray:
        """P(stop cell) in :data:`STOP_CELLS` order."""
        r = self.reason_probs
        return np.concatenate([[r[0]], r[1] * self.ild_grade_probs, r[2:]])


#: Odds ratios of the choice of the first post-T-DXd regimen class (``CLASSES`` order; the
#: antibody is the reference) for each baseline factor (design assumption, docs/synthetic.md).
CHOICE_ODDS: dict[str, tuple[float, ...]] = {
    #                       antibody, tki, other anti-HER2, chemo, endocrine, other
    "brain_metastasis": (1.0, 2.5, 1.0, 1.0, 1.0, 1.0),
    "ecog_2plus": (1.0, 1.6, 1.0, 1.4, 1.6, 1.4),
    "visceral_metastasis": (1.0, 0.7, 1.0, 1.0, 0.5, 1.0),
    "prior_lines_4plus": (1.0, 1.7, 1.0, 1.3, 1.0, 1.3),
    "stopped_for_adverse_event": (1.0, 0.6, 1.0, 1.0, 1.0, 1.0),
    "tdxd_responder": (1.0, 0.6, 1.0, 0.8, 1.0, 1.0),
}


@dataclass(frozen=True)
class CohortModel:
    """Design assumptions of the synthetic cohort (not published; documented choices).

    Only :attr:`targets` are calibration targets; the scales that reproduce them are solved by
    :func:`~ensemble_helpers.synthetic.calibrate`. Probabilities are given in the order of the
    corresponding levels.
    """

    targets: Targets = field(default_factory=Targets.from_published)
    # --- baseline (at next_start)
    age_sd: float = 11.5
    age_bounds: tuple[float, float] = (24.0, 92.0)
    hr_positive: float = 0.55
    ecog_0_share: float = 0.52  # ECOG 0 among ECOG 0-1
    ecog_2plus_split: tuple[float, float, float] = (0.78, 0.17, 0.05)  # ECOG 2, 3, 4
    ecog_missing: float = 0.016
    prior_lines_probs: tuple[float, ...] = (0.01, 0.14, 0.22, 0.22, 0.16, 0.11, 0.07, 0.04, 0.03)
    # --- best response to T-DXd: DESTINY-Breast01 (Modi et al., NEJM 2020; patients after T-DM1):
    # ORR 60.9%, CR 6.0%, PR 54.9%, SD 36.4%, PD 1.6%, NE 1.1%
    tdxd_orr: float = 0.609
    tdxd_response_shares: tuple[float, ...] = (0.060, 0.549, 0.364, 0.016, 0.011)  # CR, PR, SD, PD, NE
    tdxd_response_or_ae: float = 2.5  # odds of responding, stopped for an adverse event vs not
    # --- prognostic hazard ratios (PFS and post-progression survival)
    hr_ecog: tuple[float, ...] = (1.0, 1.15, 1.6, 2.2, 2.8)
    hr_ecog_missing: float = 1.2
    hr_visceral: float = 1.3
    hr_brain: float = 1.25
    hr_prior_lines_3plus: float = 1.15
    hr_tdxd_responder: float = 0.75
    hr_ild_grade: tuple[float, float, float, float] = (1.0, 1.15, 1.35, 1.15)  # grade 1, 2, 3, unknown
    # --- regimen choice
    non_her2_split: tuple[float, float, float] = (0.78, 0.13, 0.09)  # chemo, endocrine, other
    choice_odds: tuple[tuple[str, tuple[float, ...]], ...] = tuple(CHOICE_ODDS.items())
    confounding: float = 1.0  # power applied to every choice odds ratio (0 = choice independent)
    regimen_effect: bool = True  # False: the regimen does not change PFS or OS (known-truth cohorts)
    # --- T-DXd
    tdxd_shape: float = 1.3
    gap_days_mean: tuple[float, ...] = (21.0, 42.0, 35.0, 28.0)  # by reason, tdxd_end -> next
    ild_recurrence_rr_by_grade: tuple[float, float, float, float] = (1.0, 1.5, 2.5, 1.5)  # 1, 2, 3, unknown
    # --- first post-T-DXd regimen
    pfs_shape: float = 1.1
    death_first: tuple[float, float, float] = (0.07, 0.10, 0.15)  # by discontinuation group
    pps_shape: float = 1.2
    stop_shape: float = 1.0
    gap_shape: float = 1.6
    gap_median_days: float = 21.0  # next_end -> second_next_start
    measurable: float = 0.76
    assessment_months: float = 1.8
    response_tau: float = 4.0
    cr_share: float = 0.10
    # --- follow-up
    first_next_start_days: int = 30  # T-DXd launch -> earliest next_start of a long-term survivor
    last_visit_days: int = 60
    loss_rate_per_year: float = 0.03

    @property
    def class_probs(self) -> np.ndarray:
        """Marginal P(next_class) in ``CLASSES`` order."""
        t = self.targets
        rest = 1.0 - t.anti_her2
        return np.array(
            [t.antibody, t.tki, t.anti_her2 - t.antibody - t.tki]
            + [rest * s for s in self.non_her2_split]
        )

    @property
    def ecog_all_probs(self) -> np.ndarray:
        """P(ECOG 0..4, missing): ECOG 0-1 is the published share of all patients."""
        p01 = self.targets.ecog_0_1
        rest = 1.0 - p01 - self.ecog_missing
        split = np.array(self.ecog_2plus_split) / np.sum(self.ecog_2plus_split)
        return np.concatenate([[p01 * self.ecog_0_share, p01 * (1 - self.ecog_0_share)], rest * split,
                               [self.ecog_missing]])

    @property
    def tdxd_launch(self) -> pd.Timestamp:
        """First T-DXd start (its launch in Japan)."""
        return pd.Timestamp(self.targets.tdxd_start_first)

    @property
    def default_cutoff(self) -> pd.Timestamp:
        """Data cut-off: the longest published follow-up after the earliest post-T-DXd regimens.

        T-DXd launch + ``first_next_start_days`` + the published maximum follow-up.
        """
        from ensemble_helpers.endpoints import DAYS_PER_MONTH

        days = int(round(self.targets.followup_max * DAYS_PER_MONTH)) + self.first_next_start_days
        return self.tdxd_launch + pd.Timedelta(days=days)


@dataclass(frozen=True)
class Calibration:
    """Scales solved by :func:`~ensemble_helpers.synthetic.calibrate` (months)."""

    tdxd_scale: float
    pfs_scale: float
    pfs_regimen_multiplier: tuple[float, float, float]
    pfs_discontinuation_multiplier: tuple[float, float, float]
    pps_scale: tuple[float, float, float]
    stop_scale: float
    gap_scale: float
    no_further_treatment: float
    response_max: float
    age_mean: float
    tdxd_responder_by_reason: tuple[float, ...]
    ild_recurrence_other: float  # probability among patients not stopped for ILD
    accrual_ramp: float  # tilt of the T-DXd start density exp(tilt * x) on the window x in [0, 1]
    data_cutoff: pd.Timestamp
    class_given_stratum: np.ndarray = field(repr=False, compare=False)  # strata x class
    ild_recurrence_by_grade: np.ndarray = field(repr=False, compare=False)

    def as_frame(self) -> pd.DataFrame:
        """The solved parameters, one row each (``parameter``, ``group``, ``value``)."""
        rows = [("tdxd_scale", "Overall", self.tdxd_scale), ("pfs_scale", "Overall", self.pfs_scale)]
        rows += [("pfs_regimen_multiplier", g, v) for g, v in zip(REGIMEN_GROUPS, self.pfs_regimen_multiplier)]
        rows += [
            ("pfs_discontinuation_multiplier", g, v)
            for g, v in zip(DISCONTINUATION_GROUPS, self.pfs_discontinuation_multiplier)
        ]
        rows += [("pps_scale", g, v) for g, v in zip(REGIMEN_GROUPS, self.pps_scale)]
        rows += [("stop_scale", "Overall", self.stop_scale), ("gap_scale", "Overall", self.gap_scale)]
        rows += [("no_further_treatment", "Overall", self.no_further_treatment)]
        rows += [("response_max", "Overall", self.response_max), ("age_mean", "Overall", self.age_mean)]
        rows += [("tdxd_responder", r, v) for r, v in zip(REASONS, self.tdxd_responder_by_reason)]
        rows += [("ild_recurrence_other", "Overall", self.ild_recurrence_other)]
        rows += [("accrual_ramp", "Overall", self.accrual_ramp)]
        return pd.DataFrame(rows, columns=["parameter", "group", "value"])
