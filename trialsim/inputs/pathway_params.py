"""Frozen parameters for what happens after randomisation: IPS delivery, employment,
follow-up and the outcome, built and checked from the config (times in days, hazards
per day, proportions as probabilities)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from trialsim.errors import ConfigError
from trialsim.inputs.checks import number
from trialsim.inputs.evidence import Proportion, Rate, parse_proportion, parse_rate
from trialsim.units import CALENDAR_PER_WORKING_DAY, months_to_days, per_month_to_per_day

WORKING_HOURS_PER_DAY = 7.5


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


@dataclass(frozen=True)
class Employment:
    ready_primary_care: Proportion
    ready_pain_service: Proportion
    ready_odds_ratio_per_year: float
    readiness_per_day: Rate
    ips_entry_per_day: Rate
    tau_entry_per_day: Rate
    loss_per_day: Rate
    withdraw_on_job_ips: Proportion
    withdraw_on_job_tau: Proportion


@dataclass(frozen=True)
class Returns:
    first: Proportion
    after_return: Proportion
    after_miss: Proportion


@dataclass(frozen=True)
class FollowUp:
    months: tuple[float, ...]
    reminder_days: float
    after_reminder: Proportion
    returns_ips: Returns
    returns_tau: Returns
    work_return_ratio: float
    esw_completion: Proportion | None  # None: strategy off
    text_followup: Proportion | None
    linkage: bool


@dataclass(frozen=True)
class Outcome:
    effect_m12: float
    work_effect: float
    within_person_corr: float
    esw_icc: float
    control_months: tuple[float, ...]
    control_means: tuple[float, ...]
    control_sds: tuple[float, ...]

    def control_at(self, months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Control-arm mean and SD at each month, linear between the table's waves."""
        m = np.asarray(months, dtype=float)
        return (np.interp(m, self.control_months, self.control_means),
                np.interp(m, self.control_months, self.control_sds))


ANALYSIS_METHODS = ("auto", "ancova", "partially_nested")
UNCERTAINTY_MODES = ("none", "pilot")


@dataclass(frozen=True)
class Uncertainty:
    """Assurance: each replication draws its parameters from their pilot evidence."""

    effect_prior_sd: float


def build_uncertainty(c: DictConfig) -> Uncertainty | None:
    if c.mode not in UNCERTAINTY_MODES:
        raise ConfigError("uncertainty.mode", c.mode, f"one of {', '.join(UNCERTAINTY_MODES)}")
    sd = number("uncertainty.effect_prior_sd", c.effect_prior_sd, lo=0)
    return Uncertainty(sd) if c.mode == "pilot" else None


@dataclass(frozen=True)
class Analysis:
    alpha: float
    clustered: bool  # the partially nested model rather than ANCOVA


def build_analysis(c: DictConfig, outcome: Outcome) -> Analysis:
    if c.method not in ANALYSIS_METHODS:
        raise ConfigError("analysis.method", c.method, f"one of {', '.join(ANALYSIS_METHODS)}")
    clustered = c.method == "partially_nested" or (c.method == "auto" and outcome.esw_icc > 0)
    return Analysis(alpha=number("analysis.alpha", c.alpha, lo=0, hi=1, lo_open=True,
                                 hi_open=True), clustered=clustered)


def _rate_per_day(key: str, raw) -> Rate:
    r = parse_rate(key, raw)
    return Rate(per_month_to_per_day(r.value), r.events, r.exposure,
                scale=per_month_to_per_day(1.0))


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
        caseload=number("delivery.esw.caseload", e.caseload, lo=1, integer=True, allow_inf=True),
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
    )


def build_employment(c: DictConfig) -> Employment:
    k = "employment"
    return Employment(
        ready_primary_care=parse_proportion(f"{k}.ready.primary_care", c.ready.primary_care),
        ready_pain_service=parse_proportion(f"{k}.ready.pain_service", c.ready.pain_service),
        ready_odds_ratio_per_year=number(f"{k}.ready.odds_ratio_per_year_out",
                                         c.ready.odds_ratio_per_year_out, lo=0, lo_open=True),
        readiness_per_day=_rate_per_day(f"{k}.readiness_per_month", c.readiness_per_month),
        ips_entry_per_day=_rate_per_day(f"{k}.ips_job_entry_per_month",
                                        c.ips_job_entry_per_month),
        tau_entry_per_day=_rate_per_day(f"{k}.tau_job_entry_per_month",
                                        c.tau_job_entry_per_month),
        loss_per_day=_rate_per_day(f"{k}.job_loss_per_month", c.job_loss_per_month),
        withdraw_on_job_ips=parse_proportion(f"{k}.withdraw_on_job.ips", c.withdraw_on_job.ips),
        withdraw_on_job_tau=parse_proportion(f"{k}.withdraw_on_job.tau", c.withdraw_on_job.tau),
    )


def _returns(key: str, c: DictConfig) -> Returns:
    return Returns(*(parse_proportion(f"{key}.{name}", c[name])
                     for name in ("first", "after_return", "after_miss")))


def build_follow_up(c: DictConfig) -> FollowUp:
    k = "follow_up"
    months = list(c.months)
    for i, m in enumerate(months):
        number(f"{k}.months[{i}]", m, lo=0, lo_open=True)
    if months != sorted(set(months)) or 12 not in months:
        raise ConfigError(f"{k}.months", months,
                          "increasing months after randomisation that include 12 (the primary "
                          "outcome)")
    return FollowUp(
        months=tuple(float(m) for m in months),
        reminder_days=7.0 * number(f"{k}.reminder_weeks", c.reminder_weeks, lo=0),
        after_reminder=parse_proportion(f"{k}.after_reminder", c.after_reminder),
        returns_ips=_returns(f"{k}.returns.ips", c.returns.ips),
        returns_tau=_returns(f"{k}.returns.tau", c.returns.tau),
        work_return_ratio=number(f"{k}.work_return_ratio", c.work_return_ratio, lo=0, hi=1),
        esw_completion=(parse_proportion(f"{k}.esw_completion.return_prob",
                                         c.esw_completion.return_prob)
                        if c.esw_completion.enabled else None),
        text_followup=(parse_proportion(f"{k}.text_followup.response", c.text_followup.response)
                       if c.text_followup.enabled else None),
        linkage=bool(c.linkage),
    )


def build_outcome(c: DictConfig) -> Outcome:
    k = "outcome"
    t = c.control
    months, means, sds = list(t.months), list(t.means), list(t.sds)
    if not (len(months) == len(means) == len(sds) >= 2) or months[0] != 0 or \
            months != sorted(set(months)):
        raise ConfigError(f"{k}.control.months", months,
                          "increasing months from 0, one mean and one SD for each")
    for i, month in enumerate(months):
        number(f"{k}.control.months[{i}]", month, lo=0, hi=600)
    for i, (m, s) in enumerate(zip(means, sds, strict=True)):
        number(f"{k}.control.means[{i}]", m, lo=0, hi=10)
        number(f"{k}.control.sds[{i}]", s, lo=0, lo_open=True)
    return Outcome(
        effect_m12=number(f"{k}.effect_m12", c.effect_m12, lo=-10, hi=10),
        work_effect=number(f"{k}.work_effect", c.work_effect, lo=-10, hi=10),
        within_person_corr=number(f"{k}.within_person_corr", c.within_person_corr, lo=0, hi=1,
                                  hi_open=True),
        esw_icc=number(f"{k}.esw_icc", c.esw_icc, lo=0, hi=1, hi_open=True),
        control_months=tuple(float(m) for m in months),
        control_means=tuple(float(m) for m in means),
        control_sds=tuple(float(s) for s in sds),
    )
