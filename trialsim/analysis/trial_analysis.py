"""How one simulated trial is analysed: the one place that decides it.

The trial pre-specifies its analysis (`analysis.method`, `analysis.primary`); nothing
here looks at the simulated truth (the ICC, the effect) to choose. The primary outcome
is RTW self-efficacy at 12 months (the report's recommendation) or being in competitive
work at 12 months; the other is the secondary. Columns `primary_*` describe the chosen
primary, `secondary_*` the other, so that power, assurance and the design search follow
the planner's choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trialsim.analysis.estimators import (
    TestResult,
    ancova,
    cluster_robust,
    partially_nested,
    repeated_measures,
    two_proportions,
)
from trialsim.inputs.pathway_params import Analysis
from trialsim.model.trial import ReplicationResult


@dataclass(frozen=True)
class TrialData:
    """The arrays one trial's analysis needs, one entry per randomised participant."""

    ips: np.ndarray  # bool
    esw: np.ndarray  # int, -1 if never seen by an ESW
    rtw_se_m0: np.ndarray
    rtw_se_m12: np.ndarray  # true score, observed only where returned
    returned_m12: np.ndarray  # bool: 12-month questionnaire back
    working_m12: np.ndarray  # bool: true status
    employment_known_m12: np.ndarray  # bool: status observed (questionnaire or linkage)
    received_share: float = math.nan  # share of the IPS arm that received IPS as intended
    rtw_se_waves: np.ndarray | None = None  # (n, waves to 12 months): NaN where not returned
    covariates: np.ndarray | None = None  # (n, k) baseline covariates known for everyone

    @classmethod
    def from_replication(cls, result: ReplicationResult, every_wave: bool = False) -> TrialData:
        """`every_wave`: also the scores of every wave to 12 months and the baseline
        covariates, which only the repeated-measures analysis reads (a loop over the
        participants the complete-case analysis need not pay for)."""
        waves, k12 = result.waves, result.waves.months.index(12.0)
        extra = {} if not every_wave else dict(
            rtw_se_waves=np.where(waves.returned[:, :k12 + 1],
                                  result.rtw_se[:, 1:k12 + 2], np.nan),
            covariates=np.column_stack([
                np.log([p.years_out_of_work for p in result.participants]),
                result.cohort.primary_care.astype(float)]).reshape(-1, 2))
        return cls(ips=result.cohort.ips, esw=result.cohort.esw,
                   rtw_se_m0=result.rtw_se[:, 0], rtw_se_m12=result.rtw_se[:, 1 + k12],
                   returned_m12=waves.returned[:, k12].astype(bool),
                   working_m12=waves.working[:, k12].astype(bool),
                   employment_known_m12=waves.employment_known[:, k12].astype(bool),
                   received_share=_mean(result.received[result.cohort.ips]), **extra)


def analyse_rtw_se(d: TrialData, a: Analysis) -> tuple[TestResult, np.ndarray]:
    """RTW self-efficacy at 12 months on complete cases, adjusted for baseline, by the
    pre-specified method; returns the test and who was analysed."""
    cc = d.returned_m12
    if a.missing_data == "repeated_measures":  # TrialData built with every_wave
        seen = ~np.isnan(d.rtw_se_waves).all(axis=1)  # any wave returned
        return repeated_measures(d.rtw_se_waves, d.ips, d.rtw_se_m0, d.esw, a.alpha,
                                 covariates=_varying(d.covariates),
                                 esw_intercept=a.method == "partially_nested"), seen
    if a.method == "ancova":
        return ancova(d.rtw_se_m12[cc], d.ips[cc], d.rtw_se_m0[cc], a.alpha), cc
    if a.method == "cluster_robust":
        return cluster_robust(d.rtw_se_m12[cc], d.ips[cc], d.rtw_se_m0[cc], d.esw[cc],
                              a.alpha), cc
    return partially_nested(d.rtw_se_m12[cc], d.ips[cc], d.rtw_se_m0[cc], d.esw[cc], a.alpha,
                            esw_variance=a.esw_variance, small_sample=a.small_sample), cc


def _varying(x: np.ndarray | None) -> np.ndarray | None:
    """The covariates that vary in this trial (a pain-services-only trial has one
    setting): a constant column would make the model's design singular."""
    if x is None or not len(x):
        return None
    keep = x.std(axis=0) > 0
    return x[:, keep] if keep.any() else None


def analyse_employment(d: TrialData, a: Analysis) -> tuple[TestResult, np.ndarray]:
    """In work at 12 months among those whose status is known: difference in
    proportions, pooled z-test, the standard two-arm comparison, pre-specified without
    reference to the model. It does not allow for clustering by ESW. The model gives ESWs
    no between-ESW variation in job entry (an assumption: two pilot ESWs cannot estimate
    it), so its simulated size is nominal; if ESWs differ in getting clients into work,
    this test is liberal and its simulated power an upper bound (docs/guide/model.md,
    Analysis)."""
    known = d.employment_known_m12
    return two_proportions(d.working_m12[known], d.ips[known], a.alpha), known


OUTCOMES = {"rtw_se": analyse_rtw_se, "employment": analyse_employment}


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else math.nan


def _truth(d: TrialData, outcome: str) -> float:
    """The full-data effect among all randomised: the estimand the estimate is judged by."""
    y = d.rtw_se_m12 if outcome == "rtw_se" else d.working_m12.astype(float)
    return _mean(y[d.ips]) - _mean(y[~d.ips])


def _columns(prefix: str, r: TestResult, analysed: np.ndarray, d: TrialData,
             outcome: str, alpha: float) -> dict[str, float]:
    return {f"{prefix}_estimate": r.estimate, f"{prefix}_se": r.se,
            f"{prefix}_p": r.p_value, f"{prefix}_ci_low": r.ci_low,
            f"{prefix}_ci_high": r.ci_high, f"{prefix}_df": r.df,
            f"{prefix}_reject": int(r.rejects(alpha)),
            f"{prefix}_estimable": int(r.status == "ok"),
            f"{prefix}_not_converged": int(r.status == "not_converged"),
            f"{prefix}_n_ips": int((analysed & d.ips).sum()),
            f"{prefix}_n_tau": int((analysed & ~d.ips).sum()),
            f"{prefix}_true": _truth(d, outcome),
            # the complier-average view: the ITT estimate over the share who received IPS
            # as intended (known from the ESW records; an instrumental-variable estimate)
            f"{prefix}_cace_estimate": r.estimate / d.received_share
            if d.received_share > 0 else math.nan}


def analyse_trial(d: TrialData, a: Analysis) -> dict[str, float]:
    """The pre-specified primary and secondary analyses of one trial, as flat columns."""
    secondary = "employment" if a.primary == "rtw_se" else "rtw_se"
    row: dict[str, float] = {}
    for prefix, outcome in (("primary", a.primary), ("secondary", secondary)):
        result, analysed = OUTCOMES[outcome](d, a)
        row.update(_columns(prefix, result, analysed, d, outcome, a.alpha))
    return row


def analysis_columns(result: ReplicationResult, a: Analysis) -> dict[str, float]:
    every_wave = a.missing_data == "repeated_measures"
    return analyse_trial(TrialData.from_replication(result, every_wave), a)
