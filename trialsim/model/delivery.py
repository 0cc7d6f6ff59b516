"""IPS delivery and TAU after randomisation: ESW caseload places (FIFO per locality), the
joint ESW + pain OT appointment, and TAU's booklet appointment with the study
coordinator. Time in days.

An IPS participant asks for a caseload place on the day their first-appointment delay
ends. The asks are served in order of that day (in order of randomisation on a tie) by
an exact event recursion rather than a clock: before each randomisation every ask due
by its day (that day included) is served, and the rest after recruitment closes
(`finish`), which is the order a discrete-event clock would give them, since nothing
else happens between. The places of a locality are a heap of the days they are next
free: a participant starts on the day they ask or when the first place frees, whichever
is later, unless their patience (drawn up front from
`delivery.esw.disengage_wait_per_month`) runs out first. Their employment path is drawn
then (`trialsim.model.employment`): it fixes when their support ends and the place is
free again. TAU's booklet appointment joins the coordinator's queue
(trialsim.model.recruitment). The OT's joint appointments wait on nothing else and
nothing waits on them, so they are served after the run, in order of request, by the
same recursion.

This is the reference engine's delivery; the compiled engine records the asks here
(`paths` False) and serves them after recruitment in the same order
(trialsim.model.delivery_pass). Recruitment depends on delivery only through the
booklets: the delays drawn at
randomisation (IPS's first-appointment delay and patience, TAU's booklet delay) come
from one stream, and nothing drawn later (the joint appointment's delay, readiness,
the employment paths) shares it, so recruitment does not depend on the ESWs, their
caseloads or the employment model, to the last bit.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np
from scipy.special import expit

from trialsim.inputs.params import PRIMARY_CARE, ModelParams
from trialsim.model.employment import EmploymentPath, path_at_rates, path_without_support
from trialsim.model.records import IPS, Participant
from trialsim.model.recruitment import Coordinator
from trialsim.streams import Streams
from trialsim.units import months_to_days

# the streams a participant's pathway draws after randomisation (also
# trialsim.model.delivery_pass's): one uniform per draw
WORK, ASSESS, JOINT = "employment", "delivery/assessment", "delivery/joint_delays"
DELAYS = "delivery/delays"  # the delays drawn at randomisation (trialsim.model.recruitment's too)


class EswTeam:
    """The ESWs of one locality: `per_esw` places each, shared as one FIFO queue; a new
    client goes to the ESW holding fewest clients that day (lowest id on ties), so no
    ESW ever holds more than `per_esw`."""

    def __init__(self, n_esw: int, per_esw: float, first_id: int):
        self.capacity = n_esw * per_esw  # inf: no limit, no queue
        self.places: list[float] = []  # heap: the day each place taken is free again
        self.held = [0] * n_esw  # clients each ESW holds now
        self.leaving: list[tuple[float, int]] = []  # heap: (day a client leaves, ESW)
        self.first_id = first_id

    def first_free(self, asked: float) -> float:
        """When a place frees for someone asking on `asked`: everyone who asked earlier
        has been served (or gave up) already, and a place freed on a day is taken again
        that day."""
        if len(self.places) < self.capacity:
            return asked
        return max(asked, self.places[0])

    def hold(self, until: float) -> None:
        """Take the first place to free, until `until`."""
        if len(self.places) < self.capacity:
            if math.isfinite(self.capacity):
                heapq.heappush(self.places, until)
        else:
            heapq.heapreplace(self.places, until)

    def assign(self, day: float, until: float) -> int:
        """The least-loaded ESW on `day` takes the client until `until` (a client whose
        support ends that day has already left); the lowest id on ties. Every client
        who left by `day` comes off one heap of departures, as off a heap per ESW."""
        held, leaving = self.held, self.leaving
        while leaving and leaving[0][0] <= day:
            held[heapq.heappop(leaving)[1]] -= 1
        best = held.index(min(held))
        held[best] += 1
        heapq.heappush(leaving, (until, best))
        return self.first_id + best


def p_ready(params: ModelParams, setting: str, years_out_of_work: float) -> float:
    """Readiness at assessment by setting, shifted on the odds scale by years out of
    work around the pilot's median of 3 years."""
    e = params.employment
    p = (e.ready_primary_care if setting == PRIMARY_CARE else e.ready_pain_service).value
    if e.ready_odds_ratio_per_year == 1.0 or p in (0.0, 1.0):
        return p
    shift = (years_out_of_work - 3.0) * math.log(e.ready_odds_ratio_per_year)
    return float(expit(math.log(p / (1 - p)) + shift))


def ready_by_setting(params: ModelParams) -> tuple[float, float] | None:
    """p_ready's (primary care, pain service) values where years out of work do not shift
    it (it then reads the setting alone); None where they do."""
    e = params.employment
    return ((e.ready_primary_care.value, e.ready_pain_service.value)
            if e.ready_odds_ratio_per_year == 1.0 else None)


def p_ready_each(params: ModelParams, setting: Sequence[str],
                 years_out_of_work: np.ndarray) -> np.ndarray:
    """p_ready of each participant (settings and years in order), to the last bit."""
    table = ready_by_setting(params)
    if table is not None:
        return np.array([table[s != PRIMARY_CARE] for s in setting], dtype=float)
    return np.array([p_ready(params, s, y) for s, y in
                     zip(setting, years_out_of_work.tolist(), strict=True)], dtype=float)


class Delivery:
    """`paths` False: what recruitment needs of delivery and nothing more (the booklet
    appointments, which queue with the screening calls, and the delay draws made at
    randomisation, which keep the booklets' delays in step): no caseload places, no
    employment paths. Recruitment is then the full model's to the last bit, at a
    fraction of its cost: nothing else delivery draws shares a stream with the
    booklets' delays."""

    def __init__(self, params: ModelParams, streams: Streams,
                 coordinator: Coordinator | None, paths: bool = True) -> None:
        self.p, self.paths = params, paths
        d = params.delivery
        self.teams = [EswTeam(d.esw_per_locality, d.places_per_esw, loc * d.esw_per_locality)
                      for loc in range(params.localities)]
        self.coordinator = coordinator
        self.horizon_days = months_to_days(max(params.follow_up.months))
        # one uniform per draw, buffered (trialsim.streams.buffered)
        self.u_delays = streams.uniforms(DELAYS)  # at randomisation
        self.u_joint = streams.uniforms(JOINT)  # at the first appointment
        self.u_assess = streams.uniforms(ASSESS)
        self.u_work = streams.uniforms(WORK)
        e = params.employment
        self._rates = (e.supported_entry_per_day, e.readiness_per_day.value, e.loss_per_day.value)
        self._loss = e.loss_per_day.value
        # looked up once, not per participant
        self._entry_at, self._in_work_days = e.self_entry_at, d.in_work_support_days
        self._withdraw_ips = e.withdraw_on_job_ips.value
        self._withdraw_tau = e.withdraw_on_job_tau.value
        self._patience_rate = d.patience_per_day
        self._patience = self._patience_rate > 0
        self._first_mean, self._booklet_mean = (d.first_appointment_mean_days,
                                                d.booklet_delay_mean_days)
        self._joint_mean, self._support_days = d.joint_delay_mean_days, d.support_days
        self._disengage_after = d.disengage_after_assessment.value
        self._ready = ready_by_setting(params)  # None: p_ready per participant
        self.joint_requests: list[tuple[float, int, Participant]] = []  # (day, id, person)
        # asks for a caseload place not yet served, a heap: (day due, id, person, patience)
        self._asks: list[tuple[float, int, Participant, float]] = []
        self.asked: list[tuple[int, float, float]] = []  # without paths: (id, day, patience)

    def start(self, person: Participant) -> None:
        """At randomisation, every ask due by its day served already (`serve`): IPS asks
        for a caseload place after the first-appointment delay (and gives up after its
        patience); TAU books the coordinator. Each delay is exponential by inversion of
        one uniform (none for a mean of 0), written out: this runs once a participant."""
        u, day = self.u_delays, person.randomised_day
        if person.arm != IPS:
            if self.paths:  # no support: path_at_rates would run path_without_support
                self._set_path(person, path_without_support(
                    self.u_work, self._entry_at(person.years_out_of_work), self._loss, day,
                    day + self.horizon_days, self._withdraw_tau, math.inf, 0.0))
            mean = self._booklet_mean
            if mean > 0:
                day -= mean * math.log1p(-u())
            if self.coordinator is None:
                person.booklet_wait_days = 0.0
            else:
                self.coordinator.book(day, person)
            return
        mean = self._first_mean
        if mean > 0:
            day -= mean * math.log1p(-u())
        patience = math.inf
        if self._patience:
            patience = -math.log1p(-u()) / self._patience_rate
        if self.paths:
            heapq.heappush(self._asks, (day, person.id, person, patience))
        else:  # recorded for the pass after recruitment (trialsim.model.delivery_pass)
            self.asked.append((person.id, day, patience))

    def recorded_asks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Without paths: the IPS participants' asks recorded, (ids, day due, patience)."""
        ids, due, patience = zip(*self.asked, strict=True) if self.asked else ((), (), ())
        return (np.array(ids, dtype=np.int64), np.array(due, dtype=float),
                np.array(patience, dtype=float))

    def serve(self, day: float) -> None:
        """Serve the asks due by `day` (inclusive), in order of day, then of
        randomisation: recruitment calls it before each randomisation
        (`Recruitment.before_randomising`, wired with `on_randomised` by
        trialsim.model.trial), `finish` after the last."""
        asks, pop, ask = self._asks, heapq.heappop, self._ask_esw
        while asks and asks[0][0] <= day:
            due, _, person, patience = pop(asks)
            ask(person, patience, due)

    @staticmethod
    def _set_path(person: Participant, path: EmploymentPath) -> EmploymentPath:
        """The participant's record of their employment path (its support end is
        delivery's to use)."""
        person.jobs, person.ready_day, _, person.withdrawn_day = path
        return path

    def _ask_esw(self, person: Participant, patience: float, asked: float) -> None:
        """On the day `asked`: a caseload place, or giving up after `patience` days."""
        team = self.teams[person.locality]
        start = team.first_free(asked)
        day = person.randomised_day  # the path's (trialsim.model.employment.employment_path)
        horizon = day + self.horizon_days
        entry = self._entry_at(person.years_out_of_work)
        if start - asked > patience:  # gave up first (a place freeing that day wins)
            person.disengaged, person.esw_wait_days = True, patience
            self._set_path(person, path_without_support(
                self.u_work, entry, self._loss, day, horizon, self._withdraw_ips, math.inf, 0.0))
            return
        person.esw_wait_days = start - asked
        disengaged = self.u_assess() < self._disengage_after
        ready = self.u_assess() < (p_ready(self.p, person.setting, person.years_out_of_work)
                                   if self._ready is None else
                                   self._ready[person.setting != PRIMARY_CARE])
        path = self._set_path(person, path_at_rates(
            self.u_work, entry, *self._rates, day, horizon, start,
            0.0 if disengaged else self._support_days, self._in_work_days, ready,
            self._withdraw_ips))
        if path.withdrawn_day < start:  # moved away before the first appointment
            team.hold(start)
            return
        # time-unlimited support with no job runs to the end of follow-up
        end = path.support_end if math.isfinite(path.support_end) else horizon
        end = max(end, start)
        person.first_appointment_day, person.support_end_day = start, end
        person.esw = team.assign(start, end)
        team.hold(end)
        person.disengaged, person.ready_at_assessment = disengaged, ready
        # everyone seen by an ESW has the joint ESW + OT appointment, even if they later
        # disengage: "all 22 IPS participants attended an appointment held jointly with
        # the pain specialist ... and their ESW early after recruitment" (WP4 "IPS Arm")
        mean = self._joint_mean
        self.joint_requests.append(
            (start - mean * math.log1p(-self.u_joint()) if mean > 0 else start,
             person.id, person))

    def finish(self) -> None:
        """After recruitment: the asks still to serve, then the joint appointments in
        order of request, each starting when it is asked for or when the first OT is
        free, whichever is later."""
        self.serve(math.inf)
        d = self.p.delivery
        free = [0.0] * d.ot_count
        for day, _, person in sorted(self.joint_requests):
            start = max(day, free[0])
            heapq.heapreplace(free, start + d.ot_appointment_days)
            person.ot_wait_days = start - day


def caseload_peak(esw: np.ndarray, first_day: np.ndarray, end_day: np.ndarray) -> int:
    """Most clients any one ESW held at once, from the participants' records (a client
    leaving on a day is gone before one arriving that day)."""
    seen = esw >= 0
    if not seen.any():
        return 0
    who = np.concatenate([esw[seen], esw[seen]])
    day = np.concatenate([first_day[seen], np.where(np.isnan(end_day[seen]), np.inf,
                                                    end_day[seen])])
    step = np.repeat(np.array([1, -1]), int(seen.sum()))  # arrivals, then departures
    order = np.lexsort((step, day, who))
    who, step = who[order], step[order]
    held = np.cumsum(step)
    group_start = np.flatnonzero(np.concatenate(([True], who[1:] != who[:-1])))
    before = np.concatenate(([0], held))[group_start]  # running total before each ESW's first
    return int((held - np.repeat(before, np.diff(np.append(group_start, len(who))))).max())
