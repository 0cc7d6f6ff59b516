"""IPS delivery and TAU as SimPy processes: ESW caseload places (FIFO per locality),
the joint ESW + pain OT appointment, and TAU's booklet appointment with the study
coordinator. A few events per participant; employment is computed in bulk per person
(`trialsim.model.employment`). Time in days."""

from __future__ import annotations

import math

import numpy as np
import simpy
from scipy.special import expit

from trialsim.inputs.params import PRIMARY_CARE, ModelParams
from trialsim.model.employment import employment_path
from trialsim.model.records import IPS, Participant
from trialsim.model.streams import Streams
from trialsim.units import months_to_days


class EswTeam:
    """The ESWs of one locality: `per_esw` places each, shared as one FIFO queue; a new
    client goes to the least-loaded ESW, so no ESW ever holds more than `per_esw`."""

    def __init__(self, env: simpy.Environment, n_esw: int, per_esw: float, first_id: int):
        self.places = (simpy.Resource(env, capacity=int(n_esw * per_esw))
                       if math.isfinite(per_esw) else None)
        self.load = [0] * n_esw
        self.first_id = first_id

    def assign(self) -> int:
        i = min(range(len(self.load)), key=self.load.__getitem__)
        self.load[i] += 1
        return self.first_id + i

    def release(self, esw: int) -> None:
        self.load[esw - self.first_id] -= 1


def p_ready(params: ModelParams, person: Participant) -> float:
    """Readiness at assessment by setting, shifted on the odds scale by years out of
    work around the pilot's median of 3 years."""
    e = params.employment
    p = (e.ready_primary_care if person.setting == PRIMARY_CARE else e.ready_pain_service).value
    if e.ready_odds_ratio_per_year == 1.0 or p in (0.0, 1.0):
        return p
    shift = (person.years_out_of_work - 3.0) * math.log(e.ready_odds_ratio_per_year)
    return float(expit(math.log(p / (1 - p)) + shift))


class Delivery:
    def __init__(self, env: simpy.Environment, params: ModelParams, streams: Streams,
                 coordinator: simpy.Resource | None) -> None:
        self.env, self.p = env, params
        d = params.delivery
        self.teams = [EswTeam(env, d.esw_per_locality, d.caseload, loc * d.esw_per_locality)
                      for loc in range(params.localities)]
        self.ot = simpy.Resource(env, capacity=d.ot_count)
        self.coordinator = coordinator
        self.horizon_days = months_to_days(max(params.follow_up.months))
        self.rng_delays = streams["delivery/delays"]
        self.rng_assess = streams["delivery/assessment"]
        self.rng_work = streams["employment"]

    def start(self, person: Participant) -> None:
        self.env.process(self._ips(person) if person.arm == IPS else self._tau(person))

    def _delay(self, mean: float) -> float:
        return self.rng_delays.exponential(mean) if mean > 0 else 0.0

    def _path(self, person: Participant, support_start: float, support_days: float,
              ready: bool, withdraw: float):
        path = employment_path(
            self.rng_work, self.p.employment, years_out_of_work=person.years_out_of_work,
            start=person.randomised_day,
            horizon=person.randomised_day + self.horizon_days, support_start=support_start,
            support_days=support_days, in_work_days=self.p.delivery.in_work_support_days,
            ready_at_assessment=ready, withdraw_on_job=withdraw)
        person.jobs, person.ready_day = path.jobs, path.ready_day
        person.withdrawn_day = path.withdrawn_day
        return path

    def _ips(self, person: Participant):
        d, env = self.p.delivery, self.env
        withdraw = self.p.employment.withdraw_on_job_ips.value
        yield env.timeout(self._delay(d.first_appointment_mean_days))
        team = self.teams[person.locality]
        asked = env.now
        req = team.places.request() if team.places is not None else None
        if req is not None:
            if d.disengage_wait_per_day > 0:
                patience = env.timeout(self.rng_delays.exponential(1 / d.disengage_wait_per_day))
                yield req | patience
                if not req.triggered:  # gave up first (a grant at the same instant wins)
                    req.cancel()
                    person.disengaged, person.esw_wait_days = True, env.now - asked
                    self._path(person, math.inf, 0.0, False, withdraw)
                    return
            else:
                yield req
        person.esw_wait_days = env.now - asked
        disengaged = self.rng_assess.random() < d.disengage_after_assessment.value
        ready = self.rng_assess.random() < p_ready(self.p, person)
        path = self._path(person, env.now, 0.0 if disengaged else d.support_days, ready,
                          withdraw)
        if path.withdrawn_day < env.now:  # moved away before the first appointment
            if req is not None:
                team.places.release(req)
            return
        person.first_appointment_day = env.now
        person.esw = team.assign()
        person.disengaged, person.ready_at_assessment = disengaged, ready
        # everyone seen by an ESW has the joint ESW + OT appointment, even if they later
        # disengage: "all 22 IPS participants attended an appointment held jointly with
        # the pain specialist ... and their ESW early after recruitment" (WP4 "IPS Arm")
        env.process(self._joint_appointment(person))
        # time-unlimited support with no job runs to the end of follow-up
        end = path.support_end if math.isfinite(path.support_end) else (
            person.randomised_day + self.horizon_days)
        yield env.timeout(max(end, env.now) - env.now)
        person.support_end_day = env.now
        team.release(person.esw)
        if req is not None:
            team.places.release(req)

    def _joint_appointment(self, person: Participant):
        yield self.env.timeout(self._delay(self.p.delivery.joint_delay_mean_days))
        asked = self.env.now
        with self.ot.request() as req:
            yield req
            person.ot_wait_days = self.env.now - asked
            yield self.env.timeout(self.p.delivery.ot_appointment_days)

    def _tau(self, person: Participant):
        d = self.p.delivery
        self._path(person, math.inf, 0.0, False, self.p.employment.withdraw_on_job_tau.value)
        yield self.env.timeout(self._delay(d.booklet_delay_mean_days))
        if self.coordinator is None:
            person.booklet_wait_days = 0.0
            return
        asked = self.env.now
        with self.coordinator.request() as req:
            yield req
            person.booklet_wait_days = self.env.now - asked
            yield self.env.timeout(d.booklet_days)


def caseload_peak(people: list[Participant]) -> int:
    """Most clients any one ESW held at once (from the participants' records)."""
    events: dict[int, list[tuple[float, int]]] = {}
    for p in people:
        if p.esw >= 0:
            ev = events.setdefault(p.esw, [])
            ev.append((p.first_appointment_day, 1))
            ev.append((p.support_end_day if not math.isnan(p.support_end_day) else math.inf, -1))
    peak = 0
    for ev in events.values():
        ev.sort(key=lambda x: (x[0], x[1]))  # releases before grants at the same instant
        peak = max(peak, int(np.max(np.cumsum([d for _, d in ev]))))
    return peak
