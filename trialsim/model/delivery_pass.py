"""Delivery's pathways after recruitment, compiled: the ESW caseload queue, the
employment paths and the OT's joint appointments of one replication, in one pass over
its randomised participants (numba), to the last bit what trialsim.model.delivery's
event recursion gives them as recruitment runs.

Why after recruitment, and why it is exact: recruitment depends on delivery only through
the booklets and the delays drawn at randomisation (trialsim.model.delivery), so it runs
first with `Delivery(paths=False)`, which records each IPS participant's ask (the day
their first-appointment delay ends, their patience). The recursion interleaves two
things on the employment stream: a TAU participant's path, drawn at their randomisation,
and an IPS participant's ask, served before the first randomisation on or after its day
(asks in order of day, then of randomisation), or after the last. This pass replays that
order over the recorded asks and draws every uniform of the three streams it reads
(employment, assessment, joint delays) in the order the recursion draws them, from the
same generators. The arithmetic is the recursion's, operation by operation (inversion
by log1p, the same comparisons); tests/test_delivery_pass.py holds the two to the last
bit over the configurations that reach each branch.

Why compiled: trialsim.compiled. The Python recursion stays as the reference
(`engine="reference"` in trialsim.model.trial.simulate_pathway).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from trialsim.compiled import compiled_loop, kernel, least
from trialsim.inputs.params import ModelParams
from trialsim.inputs.pathway_params import REFERENCE_YEARS
from trialsim.model.delivery import ASSESS, JOINT, WORK, p_ready_each
from trialsim.model.records import IPS, Delivered, Participant, set_delivered
from trialsim.streams import Streams
from trialsim.units import months_to_days

OK, SHORT = 0, 1  # a pass's status: done, or a stream's drawn uniforms ran out


@compiled_loop
def _without_support(u, cur, a, loss, start, horizon, withdraw, owner, who, js, je, nj):
    """trialsim.model.employment.path_without_support from `u[cur:]`: the job spells
    appended to (owner, js, je) from row nj, who's; returns (cur, nj, withdrawn day),
    cur -1 where `u` or the spells ran out."""
    inf = math.inf
    withdrawn = inf
    if a <= 0:
        return cur, nj, withdrawn
    t = start
    first = True
    while True:
        if cur >= len(u):
            return -1, nj, withdrawn
        t += -math.log1p(-u[cur]) / a  # a job starts
        cur += 1
        if t >= horizon:
            break
        job_start = t
        if first and withdrawn == inf:
            if cur >= len(u):
                return -1, nj, withdrawn
            x = u[cur]
            cur += 1
            if x < withdraw:
                withdrawn = t
        if loss > 0:
            if cur >= len(u):
                return -1, nj, withdrawn
            step = -math.log1p(-u[cur]) / loss
            cur += 1
        else:
            step = inf
        if nj >= len(js):
            return -1, nj, withdrawn
        first = False
        if t + step >= horizon:
            owner[nj], js[nj], je[nj] = who, job_start, inf
            nj += 1
            break
        t += step
        owner[nj], js[nj], je[nj] = who, job_start, t
        nj += 1
    return cur, nj, withdrawn


@compiled_loop
def _at_rates(u, cur, a, b, readiness, loss, start, horizon, support_start, support_days,
              in_work_days, ready_at_assessment, withdraw, owner, who, js, je, nj):
    """trialsim.model.employment.path_at_rates from `u[cur:]`, the spells appended as in
    _without_support; returns (cur, nj, ready day, support end, withdrawn day)."""
    inf = math.inf
    if not support_start < horizon:
        cur, nj, withdrawn = _without_support(u, cur, a, loss, start, horizon, withdraw,
                                              owner, who, js, je, nj)
        end = support_start if withdrawn < inf else support_start + support_days
        return cur, nj, inf, end, withdrawn
    support_end = support_start + support_days
    t = start
    working, ready, assessed, any_job = False, False, False, False
    ready_day, withdrawn, job_start = inf, inf, math.nan
    while True:
        if not assessed and support_start <= t and t < support_end:
            assessed = True
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
        if rate > 0:
            if cur >= len(u):
                return -1, nj, ready_day, support_end, withdrawn
            step = -math.log1p(-u[cur]) / rate
            cur += 1
        else:
            step = inf
        if t + step >= boundary:
            if boundary >= horizon:
                break
            t = boundary
            continue
        t += step
        if working:
            if nj >= len(js):
                return -1, nj, ready_day, support_end, withdrawn
            owner[nj], js[nj], je[nj] = who, job_start, t
            nj += 1
            any_job = True
            working = False
            continue
        if other > 0:
            if cur >= len(u):
                return -1, nj, ready_day, support_end, withdrawn
            x = u[cur]
            cur += 1
            if x * rate < other:
                ready, ready_day = True, t
                continue
        working, job_start = True, t
        if in_support:
            support_end = max(support_end, t + in_work_days)
        if not any_job and withdrawn == inf:
            if cur >= len(u):
                return -1, nj, ready_day, support_end, withdrawn
            x = u[cur]
            cur += 1
            if x < withdraw:
                withdrawn = t
                if t < support_end:
                    support_end = max(t, support_start)
    if working:
        if nj >= len(js):
            return -1, nj, ready_day, support_end, withdrawn
        owner[nj], js[nj], je[nj] = who, job_start, inf
        nj += 1
    return cur, nj, ready_day, support_end, withdrawn


@compiled_loop
def _entry_at(rate, beta, reference, years):
    """Employment.self_entry_at (trialsim.inputs.pathway_params), operation by
    operation: self-directed job entry per day at `years` out of work."""
    if beta == 0.0 or rate == 0.0:
        return rate
    return rate * (max(years, 1e-6) / reference) ** -beta


@compiled_loop
def _pass(ips, day, locality, years, entry_rate, entry_beta, entry_reference, ready_p,
          ask_order, ask_due, ask_patience, u_work, u_assess, u_joint, b, readiness, loss,
          horizon_days, support_days, in_work_days, withdraw_ips, withdraw_tau,
          disengage_after, joint_mean, n_localities, per_locality, capacity, ot_count, ot_days,
          esw, esw_wait, first_day, end_day, disengaged, ready_at, ready_day, withdrawn,
          ot_wait, owner, js, je):
    """The whole pass (module docstring); the participants' outputs written in place,
    rows in order of randomisation. Returns (status, job spells written)."""
    inf = math.inf
    n = len(day)
    # each locality's places taken: the day each is free again (never more than n taken)
    cap_slots = min(int(math.ceil(capacity)), n) if capacity < inf else 0
    places = np.empty((n_localities, max(cap_slots, 1)))
    taken = np.zeros(n_localities, dtype=np.int64)
    held = np.zeros((n_localities, per_locality), dtype=np.int64)
    leave_day = np.empty((n_localities, n + 1))  # clients not yet off the departures
    leave_esw = np.empty((n_localities, n + 1), dtype=np.int64)
    leaving = np.zeros(n_localities, dtype=np.int64)
    joint_day = np.full(n, np.nan)
    entry = np.empty(n)
    for i in range(n):
        entry[i] = _entry_at(entry_rate, entry_beta, entry_reference, years[i])
    cw, ca, cj, nj = 0, 0, 0, 0
    k = 0  # next ask, in order of (day due, randomisation)
    n_asks = len(ask_order)
    for j in range(n + 1):
        # serve the asks due by participant j's randomisation (all, after the last)
        while k < n_asks:
            i = ask_order[k]
            due = ask_due[i]
            if j < n and not (i < j and due <= day[j]):
                break
            k += 1
            loc = locality[i]
            start = due
            if capacity < inf and taken[loc] >= capacity:
                m = places[loc, least(places[loc], taken[loc])]
                if m > start:
                    start = m
            horizon = day[i] + horizon_days
            if start - due > ask_patience[i]:  # gave up first
                disengaged[i], esw_wait[i] = True, ask_patience[i]
                cw, nj, w = _without_support(u_work, cw, entry[i], loss, day[i], horizon,
                                             withdraw_ips, owner, i, js, je, nj)
                if cw < 0:
                    return SHORT, nj
                withdrawn[i] = w
                continue
            esw_wait[i] = start - due
            if ca + 2 > len(u_assess):
                return SHORT, nj
            gone = u_assess[ca] < disengage_after
            ready = u_assess[ca + 1] < ready_p[i]
            ca += 2
            cw, nj, rd, s_end, w = _at_rates(
                u_work, cw, entry[i], b, readiness, loss, day[i], horizon, start,
                0.0 if gone else support_days, in_work_days, ready, withdraw_ips,
                owner, i, js, je, nj)
            if cw < 0:
                return SHORT, nj
            ready_day[i], withdrawn[i] = rd, w
            if w < start:  # moved away before the first appointment: holds the place
                _hold(places, taken, loc, capacity, start)
                continue
            end = s_end if math.isfinite(s_end) else horizon
            if end < start:
                end = start
            first_day[i], end_day[i] = start, end
            # the least-loaded ESW that day (lowest id on ties); clients gone by then off
            c = 0
            while c < leaving[loc]:
                if leave_day[loc, c] <= start:
                    held[loc, leave_esw[loc, c]] -= 1
                    leaving[loc] -= 1
                    leave_day[loc, c] = leave_day[loc, leaving[loc]]
                    leave_esw[loc, c] = leave_esw[loc, leaving[loc]]
                else:
                    c += 1
            best = 0
            for e in range(1, per_locality):
                if held[loc, e] < held[loc, best]:
                    best = e
            held[loc, best] += 1
            leave_day[loc, leaving[loc]], leave_esw[loc, leaving[loc]] = end, best
            leaving[loc] += 1
            esw[i] = loc * per_locality + best
            _hold(places, taken, loc, capacity, end)
            disengaged[i], ready_at[i] = gone, ready
            if joint_mean > 0:
                if cj >= len(u_joint):
                    return SHORT, nj
                joint_day[i] = start - joint_mean * math.log1p(-u_joint[cj])
                cj += 1
            else:
                joint_day[i] = start
        if j < n and not ips[j]:  # TAU's path, drawn at randomisation
            cw, nj, w = _without_support(u_work, cw, entry[j], loss, day[j],
                                         day[j] + horizon_days, withdraw_tau, owner, j,
                                         js, je, nj)
            if cw < 0:
                return SHORT, nj
            withdrawn[j] = w
    # the OTs' joint appointments in order of request (day, then randomisation)
    asked = np.flatnonzero(~np.isnan(joint_day))
    order = asked[np.argsort(joint_day[asked], kind="mergesort")]
    free = np.zeros(ot_count)
    for i in order:
        m = least(free, ot_count)
        start = joint_day[i] if joint_day[i] > free[m] else free[m]
        free[m] = start + ot_days
        ot_wait[i] = start - joint_day[i]
    return OK, nj


@compiled_loop
def _hold(places, taken, loc, capacity, until):
    """EswTeam.hold: the first place to free is taken until `until` (as a multiset of
    free days, which is all first_free reads)."""
    if taken[loc] < capacity:
        if capacity < math.inf:
            places[loc, taken[loc]] = until
            taken[loc] += 1
        return
    places[loc, least(places[loc], taken[loc])] = until


def _sizes(n: int, n_ips: int, scale: int) -> tuple[int, int, int, int]:
    """Job spell rows, then uniforms of the employment, assessment and joint-delay
    streams, drawn for a pass of n participants (n_ips asking for a place): about twice
    what a replication uses (some 3 employment uniforms a participant), times `scale`
    after a pass ran short."""
    return (scale * (4 * n + 16), scale * (8 * n + 256), scale * (2 * n_ips + 2),
            scale * (n_ips + 1))


def fill_pathways(params: ModelParams, streams: Streams, people: list[Participant],
                  asks: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Delivery's fields of every randomised participant's record (`people`, in order of
    randomisation) by the compiled pass (`deliver`), for a recruitment run by the
    reference loop."""
    set_delivered(people, deliver(
        params, streams, np.array([p.arm == IPS for p in people], dtype=np.bool_),
        np.array([p.randomised_day for p in people], dtype=float),
        np.array([p.locality for p in people], dtype=np.int64),
        np.array([p.years_out_of_work for p in people], dtype=float),
        [p.setting for p in people], asks))


def deliver(params: ModelParams, streams: Streams, ips: np.ndarray, day: np.ndarray,
            locality: np.ndarray, years: np.ndarray, setting: Sequence[str],
            asks: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Delivered:
    """What delivery gives each randomised participant (rows in order of randomisation:
    arm, day, locality, years out of work, setting), from the IPS participants' asks made
    at randomisation (`asks`: ids, day due, patience; Delivery.recorded_asks or
    Recruitment.run_compiled), by the compiled pass: what Delivery with paths gives."""
    d, e = params.delivery, params.employment
    n = len(ips)
    if n > 1 and (np.diff(day) < 0).any():  # the replay's order (module docstring) needs it
        raise ValueError("delivery's pass needs the participants in order of randomisation")
    ready = p_ready_each(params, setting, years)
    ids = asks[0]
    due, patience = np.full(n, np.nan), np.full(n, np.inf)
    due[ids], patience[ids] = asks[1], asks[2]
    order = ids[np.argsort(due[ids], kind="stable")]  # ids ascending: (day, id) order
    n_ips = len(ids)
    scale = 1
    while True:
        esw = np.full(n, -1, dtype=np.int64)
        wait, first, end, ot = (np.full(n, np.nan) for _ in range(4))
        gone, ready_at = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)
        ready_day, withdrawn = np.full(n, np.inf), np.full(n, np.inf)
        spells, n_work, n_assess, n_joint = _sizes(n, n_ips, scale)
        owner, js, je = np.empty(spells, dtype=np.int64), np.empty(spells), np.empty(spells)
        fresh = streams if scale == 1 else Streams(streams.seed, streams.rep)
        u_work = fresh[WORK].random(n_work)
        u_assess = fresh[ASSESS].random(n_assess)
        u_joint = fresh[JOINT].random(n_joint)
        status, nj = kernel(_pass)(
            ips, day, locality, years, e.self_entry_per_day.value,
            e.self_entry_years_exponent.value, REFERENCE_YEARS, ready, order, due, patience,
            u_work, u_assess, u_joint, e.supported_entry_per_day, e.readiness_per_day.value,
            e.loss_per_day.value, months_to_days(max(params.follow_up.months)),
            d.support_days, d.in_work_support_days, e.withdraw_on_job_ips.value,
            e.withdraw_on_job_tau.value, d.disengage_after_assessment.value,
            d.joint_delay_mean_days, params.localities, d.esw_per_locality,
            float(d.esw_per_locality * d.places_per_esw), d.ot_count, d.ot_appointment_days,
            esw, wait, first, end, gone, ready_at, ready_day, withdrawn, ot, owner, js, je)
        if status == OK:
            break
        scale *= 4  # a stream's uniforms or the spells ran out: again, from the start
    spell = np.argsort(owner[:nj], kind="stable")  # each participant's spells together
    return Delivered(esw, wait, first, end, gone, ready_at, ready_day, withdrawn, ot,
                     owner[:nj][spell], js[:nj][spell], je[:nj][spell])
