"""The internal pilot's progression review: what the steering committee sees on the
review day, and the traffic lights the rule gives it.

Only what the committee could see then: everything is read from the replication's
records censored at the review day (randomised by then, sites opened by then, the
questionnaires of the latest wave whose return window has closed by then, IPS first
appointments held by then), never from what the trial later becomes. The plan it is
judged against is the planner's, not a simulation: the target spread over the window in
proportion to the site-months the opening plan gives (each site opening at its planned
day plus its kind's mean set-up delay; every site-month weighs the same).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trialsim.inputs.params import ModelParams
from trialsim.inputs.progression import CRITERIA, Progression, Thresholds
from trialsim.model.followup import Waves, planned_returns
from trialsim.model.records import Cohort
from trialsim.model.sites import Site
from trialsim.units import months_to_days

GREEN, AMBER, RED = 0, 1, 2
VERDICTS = ("green", "amber", "red")
NOT_JUDGED = -1  # a criterion the rule does not read


@dataclass(frozen=True)
class Review:
    day: float
    randomised: int
    planned: float  # randomised by the review day under the plan
    sites_open: int
    sites_planned: int
    wave_month: float  # the wave whose returns are judged (nan: none due yet)
    returns: dict[str, float]  # per arm: returned / sent at that wave (nan: none due)
    returns_vs_plan: dict[str, float]  # per arm: questionnaires returned by the review, every
    # wave due, over the returns the plan expects of them (nan: none due)
    ips_judged: int  # IPS randomised adherence_allow_days or more before the review
    attended: float  # of them, first ESW appointment held by the review
    engaged: float  # ... and not disengaged
    esw_wait_days: float  # mean wait for a caseload place of the IPS seen by the review
    statistics: dict[str, float]  # per criterion, the value its thresholds read
    verdicts: dict[str, int]  # per criterion (NOT_JUDGED if the rule does not read it)
    overall: int


def planned_open_days(params: ModelParams) -> list[tuple[float, float]]:
    """Each site's (opening, closing) day under the plan: its planned day plus its kind's
    mean set-up delay, recruiting for active_days or to the end of the window."""
    spans = []
    for st in params.site_types:
        o = st.opening
        for i in range(st.count):
            day = o.days[i] if o.days is not None else o.first_day + i * o.interval_days
            if o.days is None:
                day += o.setup_delay_mean_days
            spans.append((day, min(day + o.active_days, params.window_days)))
    return spans


def planned_recruitment(params: ModelParams, day: float) -> float:
    """The target spread over the window in proportion to the planned site-days open by
    `day` (nan if the plan opens no site within the window)."""
    spans = planned_open_days(params)
    total = sum(max(0.0, close - open_) for open_, close in spans)
    if total <= 0:
        return math.nan
    by = sum(min(max(0.0, day - open_), max(0.0, close - open_)) for open_, close in spans)
    return params.target_n * by / total


def verdict(value: float, t: Thresholds, no_data: str = "amber") -> int:
    """Green at or above the green line, red below the red line, amber between; a
    statistic with no data (nan: nobody due yet) is amber (the committee cannot pass
    it) or, with no_data "ignore", not judged."""
    if math.isnan(value):
        return AMBER if no_data == "amber" else NOT_JUDGED
    if value >= t.green:
        return GREEN
    return RED if value < t.red else AMBER


def overall_verdict(verdicts: list[int], rule: str) -> int:
    """any_red: red if any is red, green if all are green, amber otherwise; all_red: red
    only if every one is red. Criteria not judged are left out; none judged: amber."""
    verdicts = [v for v in verdicts if v != NOT_JUDGED]
    if not verdicts:
        return AMBER
    if all(v == GREEN for v in verdicts):
        return GREEN
    red = any(v == RED for v in verdicts) if rule == "any_red" else \
        all(v == RED for v in verdicts)
    return RED if red else AMBER


def _returns(c: Cohort, waves: Waves, reminder_days: float, day: float
             ) -> tuple[float, dict[str, float]]:
    """The latest wave with some participant's return window closed by `day`, and each
    arm's returned share at it among those due and not withdrawn by the wave."""
    for k in range(len(waves.months) - 1, -1, -1):
        wave_day = c.randomised_day + months_to_days(waves.months[k])
        due = wave_day + 2 * reminder_days <= day
        if not due.any():
            continue
        sent = due & ~waves.withdrawn[:, k]
        back = sent & waves.returned[:, k] & (np.nan_to_num(waves.return_day[:, k],
                                                           nan=math.inf) <= day)
        out = {}
        for arm, mask in (("ips", c.ips), ("tau", ~c.ips)):
            n = int((sent & mask).sum())
            out[arm] = int((back & mask).sum()) / n if n else math.nan
        return float(waves.months[k]), out
    return math.nan, {"ips": math.nan, "tau": math.nan}


def returns_vs_plan(c: Cohort, waves: Waves, reminder_days: float, day: float,
                    planned: dict[str, tuple[float, ...]]) -> dict[str, float]:
    """Each arm's questionnaires returned by `day` over those the plan expects: every wave
    whose return window has closed, each questionnaire sent counting its wave's planned
    return (observed / expected; 1 = on plan). Pooling the waves due keeps the statistic
    steady when the latest wave has only a handful of participants due."""
    out = {}
    for arm, mask in (("ips", c.ips), ("tau", ~c.ips)):
        returned = expected = 0.0
        for k, month in enumerate(waves.months):
            due = mask & (c.randomised_day + months_to_days(month) + 2 * reminder_days <= day)
            sent = due & ~waves.withdrawn[:, k]
            returned += int((sent & waves.returned[:, k] & (np.nan_to_num(
                waves.return_day[:, k], nan=math.inf) <= day)).sum())
            expected += int(sent.sum()) * planned[arm][k]
        out[arm] = returned / expected if expected > 0 else math.nan
    return out


def retention_statistic(returns: dict[str, float], vs_plan: dict[str, float],
                        relative_to: str) -> float:
    """The lower arm's returns against the plan (relative_to "planned": all waves due,
    observed / expected) or as the latest wave's share ("absolute"); nan when no arm
    has anyone due."""
    values = [v for v in (vs_plan if relative_to == "planned" else returns).values()
              if not math.isnan(v)]
    return min(values) if values else math.nan


def review(cohort: Cohort, waves: Waves, sites: tuple[Site, ...], params: ModelParams,
           p: Progression | None = None) -> Review:
    """The review of one replication's records (`p`: the progression settings, by default
    params.progression)."""
    p = params.progression if p is None else p
    day = p.review_day(params.window_days)
    c = cohort
    randomised = int((c.randomised_day <= day).sum())
    planned = planned_recruitment(params, day)
    open_ = sum(s.open_day <= day for s in sites)
    site_plan = sum(o <= day for o, _ in planned_open_days(params))
    fu = params.follow_up
    wave, returns = _returns(c, waves, fu.reminder_days, day)
    vs_plan = returns_vs_plan(c, waves, fu.reminder_days, day, {
        "ips": planned_returns(fu.returns_ips, tuple(waves.months)),
        "tau": planned_returns(fu.returns_tau, tuple(waves.months))})
    judged = c.ips & (c.randomised_day <= day - p.adherence_allow_days)
    n = int(judged.sum())
    attended = judged & (np.nan_to_num(c.first_appointment_day, nan=math.inf) <= day)
    engaged = attended & ~c.disengaged
    seen = c.ips & (np.nan_to_num(c.first_appointment_day, nan=math.inf) <= day)
    wait = float(c.esw_wait_days[seen].mean()) if seen.any() else math.nan
    stats = {
        "recruitment": randomised / planned if planned > 0 else math.nan,
        "sites": open_ / site_plan if site_plan else math.nan,
        "retention": retention_statistic(returns, vs_plan, p.retention_relative_to),
        "adherence": int(engaged.sum()) / n if n else math.nan,
    }
    verdicts = {name: (verdict(stats[name], p.thresholds[name], p.no_data)
                       if name in p.criteria
                       else NOT_JUDGED) for name in CRITERIA}
    overall = overall_verdict([verdicts[name] for name in p.criteria], p.overall_rule)
    return Review(day=day, randomised=randomised, planned=planned, sites_open=int(open_),
                  sites_planned=int(site_plan), wave_month=wave, returns=returns,
                  returns_vs_plan=vs_plan,
                  ips_judged=n, attended=int(attended.sum()) / n if n else math.nan,
                  engaged=stats["adherence"], esw_wait_days=wait, statistics=stats,
                  verdicts=verdicts, overall=overall)
