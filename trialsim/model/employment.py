"""A participant's employment path: readiness, job entry and job loss as competing
exponential hazards that change at the edges of ESW support.

Computed in plain Python when the participant's support starts (or at randomisation
for TAU): nothing after that depends on other participants, except the caseload place,
which is held until the support end this path returns. Time in days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trialsim.inputs.pathway_params import Employment


@dataclass(frozen=True, slots=True)
class EmploymentPath:
    jobs: tuple[tuple[float, float], ...]  # (start, end); end inf: in work at the horizon
    ready_day: float  # first day ready while supported; inf if never
    support_end: float  # support_start when support never ran
    withdrawn_day: float  # moved away on finding work; inf if not


def employment_path(rng: np.random.Generator, e: Employment, *, start: float, horizon: float,
                    support_start: float, support_days: float, in_work_days: float,
                    ready_at_assessment: bool, withdraw_on_job: float) -> EmploymentPath:
    """Self-directed hazards (TAU's) outside support; readiness then IPS job entry inside.

    Support runs from `support_start` for `support_days`, and for at least `in_work_days`
    after a job start inside it; it ends early if the participant moves away.
    """
    entry_self = e.tau_entry_per_day.value
    entry_ips = e.ips_entry_per_day.value
    readiness = e.readiness_per_day.value
    loss = e.loss_per_day.value
    support_end = support_start + support_days
    t, working, ready, ready_day = start, False, False, math.inf
    withdrawn, job_start = math.inf, math.nan
    assessed = False
    jobs: list[tuple[float, float]] = []
    while True:
        if not assessed and support_start <= t < support_end:
            assessed = True  # the ESW assessment opens support
            if ready_at_assessment:
                ready, ready_day = True, t
        if t < support_start:
            in_support, boundary = False, support_start
        elif t < support_end:
            in_support, boundary = True, support_end
        else:
            in_support, boundary = False, math.inf
        boundary = min(boundary, horizon)
        if working:
            rate = loss
        elif in_support:
            rate = entry_ips if ready else readiness
        else:
            rate = entry_self
        step = rng.exponential(1.0 / rate) if rate > 0 else math.inf
        if t + step >= boundary:
            if boundary >= horizon:
                break
            t = boundary
            continue
        t += step
        if working:
            jobs.append((job_start, t))
            working = False
        elif in_support and not ready:
            ready, ready_day = True, t
        else:
            working, job_start = True, t
            if in_support:
                support_end = max(support_end, t + in_work_days)
            if withdrawn == math.inf and rng.random() < withdraw_on_job:
                withdrawn = t
                if t < support_end:
                    support_end = max(t, support_start)
    if working:
        jobs.append((job_start, math.inf))
    return EmploymentPath(tuple(jobs), ready_day, support_end, withdrawn)
