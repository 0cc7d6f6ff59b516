"""Frozen parameters for what happens after randomisation: IPS delivery, employment,
follow-up and the outcome, built and checked from the config (times in days, hazards
per day, proportions as probabilities)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import ListConfig

from trialsim.errors import ConfigError
from trialsim.inputs.checks import (
    MAX_CASELOAD,
    MAX_FOLLOW_UP_MONTHS,
    MAX_SD,
    MAX_WEEKS,
    MIN_RATIO,
    choice,
    number,
    reject,
)
from trialsim.inputs.evidence import (
    Estimate,
    Proportion,
    Rate,
    parse_estimate,
    parse_proportion,
    parse_rate,
)
from trialsim.units import CALENDAR_PER_WORKING_DAY, months_to_days, per_month_to_per_day

if TYPE_CHECKING:  # configs are read, not built, here: workers need no omegaconf
    from omegaconf import DictConfig

WORKING_HOURS_PER_DAY = 7.5


TABLE8_WAVES = (3.0, 6.0, 12.0)  # the waves Table 8's return chain covers; others are interim
RETENTION_STRATEGIES = ("esw_completion", "text_followup", "interim_contact", "linkage")

@dataclass(frozen=True)
class Delivery:
    esw_per_locality: int
    caseload: float  # math.inf: no limit, no queue
    first_appointment_mean_days: float
    disengage_wait_per_day: float
    disengage_after_assessment: Proportion
    support_days: float  # math.inf: time-unlimited
    in_work_support_days: float
    ot_count: int
    ot_appointment_days: float  # OT time one joint appointment takes
    joint_delay_mean_days: float
    booklet_delay_mean_days: float
    booklet_days: float  # coordinator time one booklet appointment takes
    esw_fte: float = 1.0  # each ESW post's full-time equivalent (whole or fractional)
    esw_hire: str = "day0"  # day0 | as_sites_open: when a locality's posts start (costs only)
    placement_subsidy_days: float = 6 * 365.25 / 12  # a first supported job's subsidised
    # days (costs only): the pilot's 6 months, as conf/config.yaml

    @property
    def patience_per_day(self) -> float:
        """The rate at which an IPS participant waiting for a caseload place gives up
        (patience drawn at randomisation); 0: nobody does (no rate, or no caseload limit
        to wait for)."""
        if self.disengage_wait_per_day > 0 and math.isfinite(self.caseload):
            return self.disengage_wait_per_day
        return 0.0

    @property
    def places_per_esw(self) -> float:
        """Caseload places one ESW post holds: the full-time caseload pro rata to its
        FTE, in whole places (at least one)."""
        if self.esw_fte == 1.0 or math.isinf(self.caseload):
            return self.caseload
        return max(1.0, float(math.floor(self.caseload * self.esw_fte + 1e-9)))


REFERENCE_YEARS = 3.0  # years out of work at which the self-directed rate is given (Table 4 median)
MAX_YEARS_EXPONENT = 6.0


@dataclass(frozen=True)
class Employment:
    ready_primary_care: Proportion
    ready_pain_service: Proportion
    ready_odds_ratio_per_year: float
    readiness_per_day: Rate
    self_entry_per_day: Rate  # at REFERENCE_YEARS out of work
    self_entry_years_exponent: Rate  # beta: the rate is (years out / 3) ** -beta times it
    loss_per_day: Rate
    withdraw_on_job_ips: Proportion
    withdraw_on_job_tau: Proportion
    ips_relative_risk_m12: float  # the planner's IPS effect: P(in work at 12 m) IPS / TAU
    # correlations of the fitted (entry, loss, exponent) estimates: (entry-loss,
    # entry-exponent, loss-exponent); assurance draws the three jointly
    fit_correlation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    supported_entry_per_day: float = 0.0  # solved from the relative risk when params are built
    expected_m12_ips: float = math.nan  # P(in work at 12 months) under the law, per arm
    expected_m12_tau: float = math.nan
    relative_risk_max: float = math.nan  # the largest relative risk the model can reach

    def self_entry_at(self, years_out_of_work: float) -> float:
        """Self-directed job entry per day for someone this many years out of work:
        a * (years / 3) ** -beta (the re-employment hazard falls with the time out of
        work; beta fitted to the pilot by scripts/calibrate_pathway.py)."""
        beta = self.self_entry_years_exponent.value
        rate = self.self_entry_per_day.value
        if beta == 0.0 or rate == 0.0:
            return rate
        return rate * (max(years_out_of_work, 1e-6) / REFERENCE_YEARS) ** -beta


TRANSITIONS = ("first", "m6_after_return", "m6_after_miss", "m12_after_return",
               "m12_after_miss")


@dataclass(frozen=True)
class Transition:
    """One return probability of Table 8's chain: observed among everyone in the group
    (workers included); the share of the group in work at that wave in the pilot, under
    the calibrated model; and so the base rate for non-workers,
    observed = base (1 - share + share x work_return_ratio)."""

    observed: Proportion
    share_in_work: float

    def base(self, work_return_ratio: float) -> float:
        s = self.share_in_work
        return min(1.0, self.observed.value / (1.0 - s + s * work_return_ratio))


@dataclass(frozen=True)
class Returns:
    first: Transition  # the first wave
    m6_after_return: Transition  # 6 months, by the 3-month return
    m6_after_miss: Transition
    m12_after_return: Transition  # 12 months, by the 6-month return
    m12_after_miss: Transition


@dataclass(frozen=True)
class BaselineShares:
    """Shares of the baseline covariates the model draws for every participant beyond
    the years out of work (trialsim.model.missingness): they matter only through the
    chance of returning a questionnaire."""

    male: Proportion = Proportion(0.0)
    single: Proportion = Proportion(0.0)


def build_baseline_shares(c: DictConfig) -> BaselineShares:
    return BaselineShares(male=parse_proportion("participants.male", c.male),
                          single=parse_proportion("participants.single", c.single))


MAX_LOG_ODDS_RATIO = 5.0  # a return's log odds ratio per unit: OR 1/148 to 148
MAX_LOG_ODDS_RATIO_PER_YEAR = 1.0  # per year out of work (up to 30 years: e^30 is no trial)
MAX_MNAR_GAMMA = 3.0  # log odds per SD of the unobserved score
RETURN_COVARIATES = ("male", "single", "per_year_out_of_work", "per_sd_baseline_rtw_se")
ITEM_WAVES = ("baseline", "m3", "m6", "m12")  # Tables 9 and 10 give these four


@dataclass(frozen=True)
class ReturnCovariates:
    """Log odds ratios of returning a questionnaire (trialsim.model.missingness): all 0,
    returns depend on arm, work and the earlier return alone (Table 8's chain)."""

    male: Estimate = Estimate(0.0)
    single: Estimate = Estimate(0.0)
    per_year_out_of_work: Estimate = Estimate(0.0)
    per_sd_baseline_rtw_se: Estimate = Estimate(0.0)

    def neutral(self) -> bool:
        return all(getattr(self, n).value == 0.0 for n in RETURN_COVARIATES)


@dataclass(frozen=True)
class ItemsComplete:
    """P(the RTW-SE items are complete | questionnaire returned), by Table 8 wave; an
    interim contact's questionnaire takes the next Table 8 wave's (Tables 9 and 10)."""

    baseline: Proportion = Proportion(1.0)
    m3: Proportion = Proportion(1.0)
    m6: Proportion = Proportion(1.0)
    m12: Proportion = Proportion(1.0)

    def neutral(self) -> bool:
        return all(getattr(self, n).value == 1.0 for n in ITEM_WAVES)


@dataclass(frozen=True)
class FollowUp:
    months: tuple[float, ...]
    reminder_days: float
    after_reminder: Proportion
    returns_ips: Returns
    returns_tau: Returns
    work_return_ratio: Proportion  # a worker's return probability relative to a non-worker's
    interim_retained: float  # share of would-be non-returners an interim contact retains
    esw_completion: Proportion | None  # None: strategy off
    text_followup: Proportion | None
    linkage: bool
    # the missingness model (docs/guide/missingness.md); the defaults are neutral: the
    # returns of Table 8's chain alone, every RTW-SE item complete, no mode effect
    return_covariates: ReturnCovariates = ReturnCovariates()
    mnar_gamma: float = 0.0  # log odds of return per SD of the unobserved score at the wave
    items_complete: ItemsComplete = ItemsComplete()
    esw_mode_effect: float = 0.0  # RTW-SE points added to an ESW-assisted questionnaire
    compare_strategies: bool = False  # rerun the scenario under each retention strategy
    # the strategies' configured values, whether enabled or not (for that comparison)
    esw_completion_configured: Proportion | None = None
    text_followup_configured: Proportion | None = None


WORK_EFFECT_CENTRING = ("within_arm", "pooled")
MAX_WAIT_WEEKS = 520.0  # ten years: longer is a typo, not a threshold


@dataclass(frozen=True)
class Outcome:
    effect_m12: float  # the effect of IPS received as intended (points at 12 months)
    work_effect: float
    within_person_corr: float
    esw_icc: float
    control_months: tuple[float, ...]
    control_means: tuple[float, ...]
    control_sds: tuple[float, ...]
    ips_sds: tuple[float, ...]  # at control_months; the first equals control_sds[0] (one baseline)
    effect_if_not_received: float = 0.0  # share of effect_m12 without IPS as intended
    max_wait_days: float = math.inf  # a later first ESW appointment is not IPS as intended
    work_effect_centring: str = "within_arm"  # within_arm | pooled
    sd_scale: float = 1.0  # outcome.sd_scale, for the record: the SDs above include it

    def control_at(self, months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Control-arm mean and SD at each month, linear between the table's waves."""
        m = np.asarray(months, dtype=float)
        return (np.interp(m, self.control_months, self.control_means),
                np.interp(m, self.control_months, self.control_sds))

    def ips_sd_at(self, months: np.ndarray) -> np.ndarray:
        """IPS-arm SD at each month, linear between the table's waves (Table 10 reports
        larger SDs under IPS than under TAU at 12 months)."""
        return np.interp(np.asarray(months, dtype=float), self.control_months, self.ips_sds)


ANALYSIS_METHODS = ("partially_nested", "ancova", "cluster_robust")
PRIMARY_OUTCOMES = ("rtw_se", "employment")
ESW_VARIANCES = ("unbounded", "nonnegative")
SMALL_SAMPLE = ("kenward_roger", "satterthwaite")
MISSING_DATA = ("complete_case", "repeated_measures", "multiple_imputation")
DELTA_ARMS = ("ips", "tau", "both")
MAX_DELTA_SD = 5.0  # a delta grid point beyond 5 SDs is a typo, not a scenario
MAX_IMPUTATIONS = 1000


@dataclass(frozen=True)
class Analysis:
    """The trial's pre-specified analysis: never chosen from the simulated truth."""

    alpha: float
    method: str  # cluster_robust | partially_nested | ancova (RTW-SE)
    primary: str  # rtw_se | employment
    esw_variance: str  # unbounded | nonnegative (partially nested ESW variance)
    small_sample: str  # kenward_roger | satterthwaite
    missing_data: str = "complete_case"  # complete_case | repeated_measures | multiple_imputation
    imputations: int = 20  # multiple_imputation: m completed datasets
    delta_grid: tuple[float, ...] = (0.0,)  # MNAR sensitivity: delta in SD units
    delta_arm: str = "ips"  # ips | tau | both: whose missing 12-month values delta shifts
    compare_missing_data: bool = False  # every missing-data analysis in each trial


def _delta_grid(key: str, raw) -> tuple[float, ...]:
    values = list(raw) if isinstance(raw, (list, tuple, ListConfig)) else None
    if not values:
        return reject(ConfigError(key, raw, f"a non-empty list of numbers within "
                                            f"+-{MAX_DELTA_SD:g} (SD units)"), (0.0,))
    return tuple(number(f"{key}[{i}]", v, lo=-MAX_DELTA_SD, hi=MAX_DELTA_SD)
                 for i, v in enumerate(values))


def build_analysis(c: DictConfig) -> Analysis:
    s = c.sensitivity
    return Analysis(
        alpha=number("analysis.alpha", c.alpha, lo=0, hi=1, lo_open=True, hi_open=True),
        method=choice("analysis.method", c.method, ANALYSIS_METHODS),
        primary=choice("analysis.primary", c.primary, PRIMARY_OUTCOMES),
        esw_variance=choice("analysis.esw_variance", c.esw_variance, ESW_VARIANCES),
        small_sample=choice("analysis.small_sample", c.small_sample, SMALL_SAMPLE),
        missing_data=choice("analysis.missing_data", c.missing_data, MISSING_DATA),
        imputations=number("analysis.imputations", c.imputations, lo=2, hi=MAX_IMPUTATIONS,
                           integer=True),
        delta_grid=_delta_grid("analysis.sensitivity.delta_grid", s.delta_grid),
        delta_arm=choice("analysis.sensitivity.arm", s.arm, DELTA_ARMS),
        compare_missing_data=_flag("analysis.compare_missing_data", c.compare_missing_data))


def _rate_per_day(key: str, raw) -> Rate:
    r = parse_rate(key, raw)
    return dataclasses.replace(r, value=per_month_to_per_day(r.value),
                               scale=per_month_to_per_day(1.0))


ESW_HIRE = ("day0", "as_sites_open")  # ESW posts start at month 0, or as each locality's
# first site opens
MAX_DELAY_DAYS = 365.0  # mean delays: longer than a year is a typo, not a plan
MAX_SUPPORT_MONTHS = 120.0  # support windows (inf: time-unlimited pre-placement support)
MAX_APPOINTMENT_HOURS = 37.5  # one appointment at most a working week of coordinator time
MIN_SESSIONS_PER_WEEK = 0.1  # fewer joint sessions would hold the OT for months per appointment


def build_delivery(c: DictConfig) -> Delivery:
    """Every duration has an upper bound (and every capacity a floor): a mistyped
    1e12 would otherwise hold an ESW, the OT or the coordinator for ever, silently."""
    e, o, b = c.esw, c.ot, c.booklet
    support = e.support_months
    return Delivery(
        esw_per_locality=number("delivery.esw.per_locality", e.per_locality, lo=1, hi=1000,
                                integer=True),
        caseload=number("delivery.esw.caseload", e.caseload, lo=1, hi=MAX_CASELOAD, integer=True,
                         allow_inf=True),
        first_appointment_mean_days=number("delivery.esw.first_appointment_mean_days",
                                           e.first_appointment_mean_days, lo=0,
                                           hi=MAX_DELAY_DAYS),
        disengage_wait_per_day=per_month_to_per_day(number(
            "delivery.esw.disengage_wait_per_month", e.disengage_wait_per_month, lo=0, hi=100)),
        disengage_after_assessment=parse_proportion("delivery.esw.disengage_after_assessment",
                                                    e.disengage_after_assessment),
        support_days=math.inf if support is None else months_to_days(
            number("delivery.esw.support_months", support, lo=0, lo_open=True,
                   hi=MAX_SUPPORT_MONTHS, allow_inf=True)),
        in_work_support_days=months_to_days(number("delivery.esw.in_work_support_months",
                                                   e.in_work_support_months, lo=0,
                                                   hi=MAX_SUPPORT_MONTHS)),
        ot_count=number("delivery.ot.count", o.count, lo=1, hi=1000, integer=True),
        ot_appointment_days=7.0 / number("delivery.ot.sessions_per_week", o.sessions_per_week,
                                         lo=MIN_SESSIONS_PER_WEEK, hi=1000),
        joint_delay_mean_days=number("delivery.ot.joint_delay_mean_days",
                                     o.joint_delay_mean_days, lo=0, hi=MAX_DELAY_DAYS),
        booklet_delay_mean_days=number("delivery.booklet.delay_mean_days", b.delay_mean_days,
                                       lo=0, hi=MAX_DELAY_DAYS),
        booklet_days=number("delivery.booklet.appointment_hours", b.appointment_hours,
                            lo=0, hi=MAX_APPOINTMENT_HOURS)
        / WORKING_HOURS_PER_DAY * CALENDAR_PER_WORKING_DAY,
        esw_fte=number("delivery.esw.fte", e.get("fte", 1.0), lo=0.05, hi=1.0),
        esw_hire=choice("delivery.esw.hire", e.get("hire", "day0"), ESW_HIRE),
        placement_subsidy_days=months_to_days(number(
            "delivery.esw.placement_subsidy_months", e.get("placement_subsidy_months", 6.0),
            lo=0, hi=MAX_SUPPORT_MONTHS)),
    )


def _exponent(key: str, raw) -> Rate:
    """A nonnegative exponent: a number or a fit {estimate, se} (drawn from the Gamma
    with that mean and SD, as a rate is)."""
    allowed = (f"a number in [0, {MAX_YEARS_EXPONENT:g}] or a fit {{estimate, se}} with "
               f"0 < estimate <= {MAX_YEARS_EXPONENT:g} and se > 0")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Rate(number(key, raw, lo=0, hi=MAX_YEARS_EXPONENT))
    fit = isinstance(raw, Mapping) and set(raw) == {"estimate", "se"}
    if fit and all(isinstance(raw[v], (int, float)) and not isinstance(raw[v], bool)
                   for v in ("estimate", "se")) and 0 < raw["estimate"] <= MAX_YEARS_EXPONENT:
        return parse_rate(key, raw)
    return reject(ConfigError(key, dict(raw) if isinstance(raw, Mapping) else raw, allowed),
                  Rate(0.0))


def build_employment(c: DictConfig) -> Employment:
    """The rates as given; the supported entry rate is solved later, once the delivery,
    the setting mix and the years out of work are known (trialsim.inputs.params)."""
    k = "employment"
    return Employment(
        ready_primary_care=parse_proportion(f"{k}.ready.primary_care", c.ready.primary_care),
        ready_pain_service=parse_proportion(f"{k}.ready.pain_service", c.ready.pain_service),
        ready_odds_ratio_per_year=number(f"{k}.ready.odds_ratio_per_year_out",
                                         c.ready.odds_ratio_per_year_out, lo=MIN_RATIO,
                                         hi=1 / MIN_RATIO),
        readiness_per_day=_rate_per_day(f"{k}.readiness_per_month", c.readiness_per_month),
        self_entry_per_day=_rate_per_day(f"{k}.self_job_entry_per_month",
                                         c.self_job_entry_per_month),
        self_entry_years_exponent=_exponent(f"{k}.self_job_entry_years_exponent",
                                            c.self_job_entry_years_exponent),
        loss_per_day=_rate_per_day(f"{k}.job_loss_per_month", c.job_loss_per_month),
        withdraw_on_job_ips=parse_proportion(f"{k}.withdraw_on_job.ips", c.withdraw_on_job.ips),
        withdraw_on_job_tau=parse_proportion(f"{k}.withdraw_on_job.tau", c.withdraw_on_job.tau),
        ips_relative_risk_m12=number(f"{k}.ips_relative_risk_m12", c.ips_relative_risk_m12,
                                     lo=1),
        fit_correlation=_fit_correlation(f"{k}.fit_correlation", c.fit_correlation),
    )


FIT_CORRELATION_KEYS = ("entry_loss", "entry_exponent", "loss_exponent")


def correlation_matrix(r: tuple[float, float, float]) -> np.ndarray:
    """The 3 x 3 correlation matrix of (entry, loss, exponent)."""
    el, ee, le = r
    return np.array([[1.0, el, ee], [el, 1.0, le], [ee, le, 1.0]])


def _fit_correlation(key: str, c: DictConfig) -> tuple[float, float, float]:
    """Three correlations in (-1, 1) that together form a positive definite matrix."""
    r = tuple(number(f"{key}.{n}", c[n], lo=-1, hi=1, lo_open=True, hi_open=True)
              for n in FIT_CORRELATION_KEYS)
    if np.linalg.eigvalsh(correlation_matrix(r)).min() <= 1e-9:
        return reject(ConfigError(key, dict(zip(FIT_CORRELATION_KEYS, r, strict=True)),
                                  "correlations that form a positive definite matrix (as "
                                  "a fit's are)"), (0.0, 0.0, 0.0))
    return r


def _returns(key: str, c: DictConfig, shares: DictConfig) -> Returns:
    out = {}
    for name in TRANSITIONS:
        out[name] = Transition(
            parse_proportion(f"{key}.{name}", c[name]),
            number(f"{key.replace('returns', 'share_in_work')}.{name}", shares[name], lo=0,
                   hi=1))
    return Returns(**out)


def _flag(key: str, value) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, value, "true or false")
    return value


def build_follow_up(c: DictConfig) -> FollowUp:
    k = "follow_up"
    months = list(c.months)
    for i, m in enumerate(months):
        number(f"{k}.months[{i}]", m, lo=0, lo_open=True, hi=MAX_FOLLOW_UP_MONTHS)
    if months != sorted(set(months)) or 12 not in months:
        raise ConfigError(f"{k}.months", months,
                          "increasing months after randomisation that include 12 (the primary "
                          "outcome)")
    # every strategy's keys are checked, enabled or not
    esw_on = _flag(f"{k}.esw_completion.enabled", c.esw_completion.enabled)
    esw = parse_proportion(f"{k}.esw_completion.return_prob", c.esw_completion.return_prob)
    text_on = _flag(f"{k}.text_followup.enabled", c.text_followup.enabled)
    text = parse_proportion(f"{k}.text_followup.response", c.text_followup.response)
    rc = c.return_covariates
    bound = {n: MAX_LOG_ODDS_RATIO for n in RETURN_COVARIATES}
    bound["per_year_out_of_work"] = MAX_LOG_ODDS_RATIO_PER_YEAR
    covariates = ReturnCovariates(**{
        n: parse_estimate(f"{k}.return_covariates.{n}", rc[n], lo=-bound[n], hi=bound[n])
        for n in RETURN_COVARIATES})
    items = ItemsComplete(**{
        n: parse_proportion(f"{k}.rtw_se_items_complete.{n}", c.rtw_se_items_complete[n])
        for n in ITEM_WAVES})
    return FollowUp(
        months=tuple(float(m) for m in months),
        reminder_days=7.0 * number(f"{k}.reminder_weeks", c.reminder_weeks, lo=0, hi=MAX_WEEKS),
        after_reminder=parse_proportion(f"{k}.after_reminder", c.after_reminder),
        returns_ips=_returns(f"{k}.returns.ips", c.returns.ips, c.share_in_work.ips),
        returns_tau=_returns(f"{k}.returns.tau", c.returns.tau, c.share_in_work.tau),
        work_return_ratio=parse_proportion(f"{k}.work_return_ratio", c.work_return_ratio),
        interim_retained=number(f"{k}.interim_contact.retained", c.interim_contact.retained,
                                lo=0, hi=1),
        esw_completion=esw if esw_on else None,
        text_followup=text if text_on else None,
        linkage=_flag(f"{k}.linkage", c.linkage),
        return_covariates=covariates,
        mnar_gamma=number(f"{k}.mnar_gamma", c.mnar_gamma, lo=-MAX_MNAR_GAMMA,
                          hi=MAX_MNAR_GAMMA),
        items_complete=items,
        esw_mode_effect=number(f"{k}.esw_completion.mode_effect", c.esw_completion.mode_effect,
                               lo=-10, hi=10),
        compare_strategies=_flag(f"{k}.compare_strategies", c.compare_strategies),
        esw_completion_configured=esw,
        text_followup_configured=text,
    )


def build_outcome(c: DictConfig) -> Outcome:
    k = "outcome"
    t = c.control
    months, means, sds = list(t.months), list(t.means), list(t.sds)
    if not len(months) >= 2 or months[0] != 0 or months != sorted(set(months)):
        raise ConfigError(f"{k}.control.months", months,
                          "increasing months from 0, one mean and one SD for each")
    for name, values in (("means", means), ("sds", sds)):
        if len(values) != len(months):
            raise ConfigError(f"{k}.control.{name}", values,
                              f"{len(months)} values, one at each of {k}.control.months")
    for i, month in enumerate(months):
        number(f"{k}.control.months[{i}]", month, lo=0, hi=600)
    for i, (m, s) in enumerate(zip(means, sds, strict=True)):
        number(f"{k}.control.means[{i}]", m, lo=0, hi=10)
        number(f"{k}.control.sds[{i}]", s, lo=0, lo_open=True, hi=MAX_SD)
    ips_sds = sds if c.ips_sds is None else list(c.ips_sds)
    if len(ips_sds) != len(months):
        raise ConfigError(f"{k}.ips_sds", ips_sds,
                          f"null or {len(months)} SDs, one at each of outcome.control.months")
    for i, s in enumerate(ips_sds):
        number(f"{k}.ips_sds[{i}]", s, lo=0, lo_open=True, hi=MAX_SD)
    if ips_sds[0] != sds[0]:
        raise ConfigError(f"{k}.ips_sds[0]", ips_sds[0],
                          f"the control's baseline SD, {k}.control.sds[0]={sds[0]:g} "
                          "(randomised arms share one)")
    # a scale that takes an SD beyond the 0-10 scale's MAX_SD is a typo
    scale = number(f"{k}.sd_scale", c.sd_scale, lo=0, lo_open=True,
                   hi=MAX_SD / max(*sds, *ips_sds))
    return Outcome(
        effect_m12=number(f"{k}.effect_m12", c.effect_m12, lo=-10, hi=10),
        work_effect=number(f"{k}.work_effect", c.work_effect, lo=-10, hi=10),
        within_person_corr=number(f"{k}.within_person_corr", c.within_person_corr, lo=0, hi=1,
                                  hi_open=True),
        esw_icc=number(f"{k}.esw_icc", c.esw_icc, lo=0, hi=1, hi_open=True),
        control_months=tuple(float(m) for m in months),
        control_means=tuple(float(m) for m in means),
        control_sds=tuple(scale * float(s) for s in sds),
        ips_sds=tuple(scale * float(s) for s in ips_sds),
        effect_if_not_received=number(f"{k}.effect_if_not_received", c.effect_if_not_received,
                                      lo=0, hi=1),
        max_wait_days=math.inf if c.max_wait_weeks is None else 7.0 * number(
            f"{k}.max_wait_weeks", c.max_wait_weeks, lo=0, hi=MAX_WAIT_WEEKS),
        work_effect_centring=choice(f"{k}.work_effect_centring", c.work_effect_centring,
                                    WORK_EFFECT_CENTRING),
        sd_scale=scale,
    )
