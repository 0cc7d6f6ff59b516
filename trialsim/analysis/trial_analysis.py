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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trialsim.analysis import delta
from trialsim.analysis.estimators import (
    TestResult,
    ancova,
    cluster_robust,
    imputed,
    partially_nested_many,
    repeated_measures,
    two_proportions,
)
from trialsim.inputs.pathway_params import MISSING_DATA, Analysis
from trialsim.model.trial import ReplicationResult
from trialsim.streams import Streams

MI_STREAM = "analysis/multiple_imputation"  # its own stream: no model draw moves


@dataclass(frozen=True)
class Prefit:
    """The repeated-measures fit of a trial's RTW-SE analysis and its delta slope, made
    beside other trials' (trialsim.analysis.trial_batch); the analysis then reads them
    instead of fitting. `slopes` None: computed here as usual."""

    fit: object  # MmrmFit, or None where fit_mmrm gives None
    slopes: dict[str, float] | None = None  # per arm shifted (delta.ONE_ARM)


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
    rtw_se_waves: np.ndarray | None = None  # (n, waves to 12 months): NaN where not observed
    covariates: np.ndarray | None = None  # (n, k) baseline covariates known for everyone
    # The missingness masks (trialsim.model.missingness; docs/guide/missingness.md). With
    # them, rtw_se_m12 is the score as measured (the mode effect of an ESW-assisted
    # questionnaire added) and rtw_se_m0 the baseline with a missing one mean-imputed
    # (the observed mean over both arms: White & Thompson 2005, Stat Med 24:993).
    rtw_se_observed_m12: np.ndarray | None = None  # returned with the RTW-SE items complete
    rtw_se_observed_m0: np.ndarray | None = None  # baseline RTW-SE items complete
    esw_assisted_m12: np.ndarray | None = None  # the 12-month questionnaire ESW-assisted
    rtw_se_m12_true: np.ndarray | None = None  # the true score (the estimand's), if it differs

    @property
    def analysed_m12(self) -> np.ndarray:
        """Whose 12-month RTW-SE is known: returned, and its items complete."""
        return self.returned_m12 if self.rtw_se_observed_m12 is None else self.rtw_se_observed_m12

    @classmethod
    def from_replication(cls, result: ReplicationResult, every_wave: bool = False) -> TrialData:
        """`every_wave`: also the scores of every wave to 12 months and the baseline
        covariates, which only the repeated-measures analysis reads (a loop over the
        participants the complete-case analysis need not pay for)."""
        waves, k12 = result.waves, result.waves.months.index(12.0)
        seen = waves.rtw_se_observed()  # (n, 1 + waves): baseline first
        scores = result.rtw_se if result.rtw_se_measured is None else result.rtw_se_measured
        extra = {} if not every_wave else dict(
            rtw_se_waves=_seen_waves(np.where(seen[:, 1:k12 + 2], scores[:, 1:k12 + 2],
                                              np.nan)),
            covariates=np.column_stack([
                np.log(result.cohort.years_out_of_work),
                result.cohort.primary_care.astype(float)]).reshape(-1, 2))
        masks = {} if waves.rtw_se_complete is None and result.rtw_se_measured is None else \
            dict(rtw_se_observed_m12=seen[:, 1 + k12], rtw_se_observed_m0=seen[:, 0],
                 esw_assisted_m12=None if waves.esw_assisted is None
                 else waves.esw_assisted[:, k12],
                 rtw_se_m12_true=result.rtw_se[:, 1 + k12])
        return cls(ips=result.cohort.ips, esw=result.cohort.esw,
                   rtw_se_m0=_mean_imputed(scores[:, 0], seen[:, 0]),
                   rtw_se_m12=scores[:, 1 + k12],
                   returned_m12=waves.returned[:, k12].astype(bool),
                   working_m12=waves.working[:, k12].astype(bool),
                   employment_known_m12=waves.employment_known[:, k12].astype(bool),
                   received_share=_mean(result.received[result.cohort.ips]), **extra,
                   **masks)


def _seen_waves(y: np.ndarray) -> np.ndarray:
    """The waves before 12 months at which anyone's score is known, then the 12-month
    wave (kept even if empty: the analysis then says it is not estimable). A wave nobody
    returned adds nothing to the likelihood and its covariance terms are not identified:
    the model without it is the model with it."""
    keep = ~np.isnan(y).all(axis=0)
    keep[-1] = True
    return y if keep.all() else y[:, keep]


def _mean_imputed(x: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """A baseline covariate with its missing values set to the observed mean over both
    arms: unbiased and efficient for the effect in a randomised trial (White & Thompson
    2005, Stat Med 24:993). Unchanged when nothing is missing."""
    if seen.all() or not seen.any():
        return x
    return np.where(seen, x, x[seen].mean())


def analyse_rtw_se(d: TrialData, a: Analysis, rng: np.random.Generator | None = None,
                   prefit: Prefit | None = None) -> tuple[TestResult, np.ndarray]:
    """RTW self-efficacy at 12 months, adjusted for baseline, by the pre-specified
    method and missing-data analysis; returns the test and who was analysed. `rng`:
    the imputations' generator (multiple_imputation only)."""
    return rtw_se_by(d, a, a.missing_data, rng, prefit)


def rtw_se_by(d: TrialData, a: Analysis, missing_data: str,
              rng: np.random.Generator | None = None,
              prefit: Prefit | None = None) -> tuple[TestResult, np.ndarray]:
    """The RTW-SE analysis under one missing-data analysis (TrialData built with
    every_wave unless complete_case)."""
    analysed = _analysed(d, missing_data)
    if missing_data == "repeated_measures":
        return repeated_measures(d.rtw_se_waves, d.ips, d.rtw_se_m0, d.esw, a.alpha,
                                 covariates=_varying(d.covariates),
                                 esw_intercept=a.method == "partially_nested",
                                 **({} if prefit is None else {"fit": prefit.fit})), analysed
    if missing_data == "multiple_imputation":
        def analyse(ys, ips, base):
            return _complete_data_many(ys, ips, base, d.esw, a)
        r = imputed(_imputation_waves(d), d.ips, d.rtw_se_m0, _varying(d.covariates),
                    a.alpha, a.imputations, rng, analyse)
        return r, analysed
    cc = analysed
    return _complete_data(d.rtw_se_m12[cc], d.ips[cc], d.rtw_se_m0[cc], d.esw[cc], a), cc


def _complete_data(y, ips, base, esw, a: Analysis) -> TestResult:
    """The pre-specified method (`analysis.method`) on data with no missing values."""
    return _complete_data_many(y[None], ips, base, esw, a)[0]


def _complete_data_many(ys, ips, base, esw, a: Analysis) -> list[TestResult]:
    """_complete_data of each outcome of `ys` (m x n) with the same arms, baseline and
    ESWs: the partially nested fits in step (estimators.partially_nested_many)."""
    if a.method == "ancova":
        return [ancova(y, ips, base, a.alpha) for y in ys]
    if a.method == "cluster_robust":
        return [cluster_robust(y, ips, base, esw, a.alpha) for y in ys]
    return partially_nested_many(ys, ips, base, esw, a.alpha, esw_variance=a.esw_variance,
                                 small_sample=a.small_sample)


def _imputation_waves(d: TrialData) -> np.ndarray:
    """The variables imputed in order: the waves before 12 months, work status at 12
    months (1/0, NaN where unknown: an auxiliary where it is known, e.g. by linkage for
    the non-returners, imputed itself where not), then the 12-month score."""
    work = np.where(d.employment_known_m12, d.working_m12.astype(float), np.nan)
    w = d.rtw_se_waves
    return np.column_stack([w[:, :-1], work, w[:, -1]])


def sensitivity_columns(prefix: str, r: TestResult, d: TrialData, a: Analysis,
                        missing_data: str, prefit: Prefit | None = None) -> dict[str, float]:
    """The delta-adjusted (MNAR) sensitivity of one RTW-SE result: est(delta) =
    estimate + delta * slope (delta in SD units of the 12-month score), the SE held
    (trialsim.analysis.delta), and the tipping-point delta, for the planner's arm
    (`analysis.sensitivity.arm`) and, beside it, each arm's alone and both arms' (the
    slope is linear in the shift: both arms' is the sum of each arm's)."""
    sd = delta.outcome_sd(d.rtw_se_m12, d.ips, d.analysed_m12)
    if r.status != "ok":
        g = dict.fromkeys(delta.ONE_ARM, math.nan)
    elif prefit is not None and prefit.slopes is not None:
        g = prefit.slopes
    else:
        g = {arm: _delta_slope(r, d, a, missing_data, arm) for arm in delta.ONE_ARM}
    slopes = {**{arm: g[arm] * sd for arm in delta.ONE_ARM},
              "both": (g["ips"] + g["tau"]) * sd}
    out = {f"{prefix}_delta_sd": sd, f"{prefix}_delta_slope": slopes[a.delta_arm],
           f"{prefix}_tipping_delta": delta.tipping_delta(r.estimate, r.se, r.df,
                                                          slopes[a.delta_arm], a.alpha)}
    for arm, slope in slopes.items():
        out[f"{prefix}_tipping_delta_{arm}"] = delta.tipping_delta(r.estimate, r.se, r.df,
                                                                   slope, a.alpha)
    return out


def _delta_slope(r: TestResult, d: TrialData, a: Analysis, missing_data: str,
                 arm: str) -> float:
    shift = delta.shifted(d.ips, ~d.analysed_m12, arm)
    if not shift.any():
        return 0.0
    if missing_data == "repeated_measures":
        return delta.mmrm_slope(shift, d.ips, d.rtw_se_m0, _varying(d.covariates), d.esw,
                                r.fit, d.rtw_se_waves.shape[1],
                                esw_intercept=a.method == "partially_nested")
    if a.method != "partially_nested":  # ANCOVA's estimate (also the CR2 analysis's)
        return delta.ols_slope(shift, d.ips, d.rtw_se_m0)
    if missing_data == "multiple_imputation":  # mean over the pooled completed datasets
        fits = [k.fit for k in r.fit.results if k.status == "ok"]
    else:
        fits = [r.fit]
    return float(np.mean(delta.partially_nested_slopes(shift, d.ips, d.rtw_se_m0, d.esw,
                                                       fits)))


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
    true = d.rtw_se_m12 if d.rtw_se_m12_true is None else d.rtw_se_m12_true
    y = true if outcome == "rtw_se" else d.working_m12.astype(float)
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


def analyse_trial(d: TrialData, a: Analysis,
                  rng: Callable[[], np.random.Generator] | None = None,
                  prefit: Prefit | None = None, sensitivity: bool = True) -> dict[str, float]:
    """The pre-specified primary and secondary analyses of one trial, as flat columns,
    the RTW-SE analysis's delta sensitivity (`sensitivity` False: without it) and, with
    `compare_missing_data`, the RTW-SE analysis under every missing-data analysis.
    `rng()`: the imputations' generator; `prefit`: the repeated-measures fit made beside
    other trials' (the primary analysis under analysis.missing_data=repeated_measures)."""
    secondary = "employment" if a.primary == "rtw_se" else "rtw_se"
    gen = rng() if rng is not None and (a.missing_data == "multiple_imputation"
                                        or a.compare_missing_data) else None
    row: dict[str, float] = {}
    results: dict[str, TestResult] = {}
    for prefix, outcome in (("primary", a.primary), ("secondary", secondary)):
        if outcome == "rtw_se":
            pre = prefit if a.missing_data == "repeated_measures" else None
            result, analysed = analyse_rtw_se(d, a, gen, pre)
            results[a.missing_data] = result
            if sensitivity:
                row.update(sensitivity_columns("sensitivity", result, d, a, a.missing_data,
                                               pre))
        else:
            result, analysed = OUTCOMES[outcome](d, a)
        row.update(_columns(prefix, result, analysed, d, outcome, a.alpha))
    if a.compare_missing_data:
        for m in MISSING_DATA:
            if m in results:
                result = results[m]
                analysed = _analysed(d, m)
            else:
                result, analysed = rtw_se_by(d, a, m, gen)
            row.update(_columns(f"compare_{m}", result, analysed, d, "rtw_se", a.alpha))
    return row


def analysed_by(missing_data: str, observed: np.ndarray) -> np.ndarray:
    """Who the RTW-SE analysis counts as analysed, from (n, waves to 12 months) of
    scores known (the 12-month wave last): complete cases at 12 months, anyone with a
    wave (repeated measures), everyone randomised (multiple imputation). The CONSORT
    flow's analysed box counts by this too (trialsim.reporting.figure_data)."""
    if missing_data == "repeated_measures":
        return observed.any(axis=1)
    if missing_data == "multiple_imputation":
        return np.ones(len(observed), dtype=bool)
    return observed[:, -1]


def _analysed(d: TrialData, missing_data: str) -> np.ndarray:
    observed = (d.analysed_m12[:, None] if d.rtw_se_waves is None
                else ~np.isnan(d.rtw_se_waves))
    return analysed_by(missing_data, observed)


def analysis_columns(result: ReplicationResult, a: Analysis,
                     seed: int | None = None) -> dict[str, float]:
    """`seed`: the run's, for the imputations' own stream (MI_STREAM) of this
    replication; without it (a caller that runs no imputation) the stream is seeded 0."""
    return analyse_trial(trial_data(result, a), a, imputation_rng(result, seed))


def trial_data(result: ReplicationResult, a: Analysis) -> TrialData:
    """What the analysis `a` reads of one replication."""
    every_wave = a.missing_data != "complete_case" or a.compare_missing_data
    return TrialData.from_replication(result, every_wave)


def imputation_rng(result: ReplicationResult,
                   seed: int | None) -> Callable[[], np.random.Generator]:
    return lambda: Streams(seed or 0, result.rep)[MI_STREAM]
