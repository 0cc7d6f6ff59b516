"""A participant's employment path: competing exponential hazards that change at the
edges of ESW support.

The hazards (per day), all constant between the edges of support:

- self-directed job entry `a` (`employment.self_job_entry_per_month` at 3 years out of
  work, times (years out / 3) ** -beta, `employment.self_job_entry_years_exponent`):
  open to everyone who is not in work, in both arms, in and out of ESW support, ready
  or not. It is the whole of TAU's path, and of an IPS participant's before the first
  ESW appointment, after support ends, after disengaging and after moving away.
- ESW-supported job entry `b`, ADDED to `a` for an IPS participant who is in support
  and ready for work. `b` is not a config value: it is solved from the planner's
  `employment.ips_relative_risk_m12` (trialsim.inputs.employment_law); b = 0 makes IPS
  and TAU equal in law.
- readiness `r` (`employment.readiness_per_month`): a not-ready participant in support
  becomes ready (readiness at the assessment itself is drawn by the caller, by setting
  and years out of work).
- job loss `l` (`employment.job_loss_per_month`) while in work.

Support runs from `support_start` (the first ESW appointment) for `support_days`; a job
started inside support (by either route) extends it to at least `in_work_days` after
the start (in-work support). On their first job start a participant may move away and
withdraw (`withdraw_on_job`: the pilot's 2 of the 8 IPS participants who attained a job);
support then ends, the path goes on with the self-directed hazards.
Nobody holds two jobs: entry hazards act only while not in work.

Computed in plain Python when the participant's support starts (or at randomisation for
TAU): nothing after that depends on other participants, except the caseload place,
which is held until the support end this path returns. The compiled engine runs twins
of these two functions, operation by operation (trialsim.model.delivery_pass:
`_at_rates`, `_without_support`; the same values to the last bit). Time in days.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from trialsim.inputs.pathway_params import Employment
from trialsim.streams import Uniforms


class EmploymentPath(NamedTuple):  # a tuple: built far faster than a frozen dataclass
    jobs: tuple[tuple[float, float], ...]  # (start, end); end inf: in work at the horizon
    ready_day: float  # first day ready while supported; inf if never
    support_end: float  # support_start when support never ran
    withdrawn_day: float  # moved away on finding work; inf if not


_new = tuple.__new__  # _new(EmploymentPath, values): half the cost of EmploymentPath(*values)


def employment_path(rng: np.random.Generator | Uniforms, e: Employment, *,
                    years_out_of_work: float, start: float, horizon: float,
                    support_start: float, support_days: float, in_work_days: float,
                    ready_at_assessment: bool, withdraw_on_job: float) -> EmploymentPath:
    """One path from `start` (randomisation, not in work) to `horizon`.

    `support_start` inf (TAU, or an IPS participant never seen) means no support.
    Every draw is one uniform in [0, 1) from `rng` (a generator, or the replication's
    buffered uniforms: the same numbers either way); waiting times by inversion."""
    u = rng.random if isinstance(rng, np.random.Generator) else rng
    return path_at_rates(u, e.self_entry_at(years_out_of_work), e.supported_entry_per_day,
                         e.readiness_per_day.value, e.loss_per_day.value, start, horizon,
                         support_start, support_days, in_work_days, ready_at_assessment,
                         withdraw_on_job)


def path_at_rates(u: Callable[[], float], a: float, b: float, readiness: float, loss: float,
                  start: float, horizon: float, support_start: float, support_days: float,
                  in_work_days: float, ready_at_assessment: bool,
                  withdraw_on_job: float) -> EmploymentPath:
    """employment_path with the hazards given (self-directed entry `a`, supported entry
    `b`, readiness, loss) and `u` a source of uniforms: what the model calls, once per
    participant, without the keyword and attribute look-ups."""
    if not support_start < horizon:  # never supported before the horizon
        return path_without_support(u, a, loss, start, horizon, withdraw_on_job,
                                    support_start, support_days)
    log1p, inf = math.log1p, math.inf
    support_end = support_start + support_days
    t, working, ready, ready_day = start, False, False, inf
    withdrawn, job_start = inf, math.nan
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
            in_support, boundary = False, inf
        if boundary > horizon:
            boundary = horizon
        if working:
            other = 0.0
            rate = loss
        else:
            other = readiness if in_support and not ready else 0.0
            rate = a + (b if in_support and ready else 0.0) + other
        step = -log1p(-u()) / rate if rate > 0 else inf
        if t + step >= boundary:
            if boundary >= horizon:
                break
            t = boundary
            continue
        t += step
        if working:
            jobs.append((job_start, t))
            working = False
        elif other > 0 and u() * rate < other:
            ready, ready_day = True, t
        else:
            working, job_start = True, t
            if in_support:
                support_end = max(support_end, t + in_work_days)
            if not jobs and withdrawn == inf and u() < withdraw_on_job:
                withdrawn = t
                if t < support_end:
                    support_end = max(t, support_start)
    if working:
        jobs.append((job_start, inf))
    return _new(EmploymentPath, (tuple(jobs), ready_day, support_end, withdrawn))


def path_without_support(u, a: float, loss: float, start: float, horizon: float,
                         withdraw_on_job: float, support_start: float,
                         support_days: float) -> EmploymentPath:
    """The path with no support before the horizon (what the loop above does then, the
    same draws in the same order, in fewer steps): the two-state chain, entry `a`, loss
    `loss`, withdrawal on the first job start (which ends support before it starts)."""
    log1p = math.log1p
    t, withdrawn = start, math.inf
    jobs: list[tuple[float, float]] = []
    if a <= 0:
        return _new(EmploymentPath, ((), math.inf, support_start + support_days, withdrawn))
    while True:
        t += -log1p(-u()) / a  # a job starts
        if t >= horizon:
            break
        job_start = t
        if not jobs and withdrawn == math.inf and u() < withdraw_on_job:
            withdrawn = t
        step = -log1p(-u()) / loss if loss > 0 else math.inf
        if t + step >= horizon:
            jobs.append((job_start, math.inf))
            break
        t += step
        jobs.append((job_start, t))
    end = support_start if withdrawn < math.inf else support_start + support_days
    return _new(EmploymentPath, (tuple(jobs), math.inf, end, withdrawn))
