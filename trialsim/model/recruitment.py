"""Recruitment as SimPy processes: channels at sites, screening, randomisation.

One process per (site, channel) and one per screened person; large counts (mailshot
packs) are thinned in bulk with binomial draws, so a run's cost grows with the number
of people who respond, not with the number of packs. Time is in days.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import simpy

from trialsim.inputs.params import (
    HandSearchChannel,
    MailshotChannel,
    ModelParams,
    PoissonChannel,
    Stages,
)
from trialsim.model.randomisation import make_allocator
from trialsim.model.records import (
    APPROACHED,
    CONSENTED,
    CONTACTED,
    ELIGIBLE,
    RANDOMISED,
    RESPONDED,
    FunnelEvent,
    Participant,
)
from trialsim.model.sites import Site, build_sites
from trialsim.model.streams import Streams
from trialsim.units import DAYS_PER_MONTH


def furthest_stage(stages: Stages, u: np.ndarray) -> int:
    """The last screening stage a responder passes (RESPONDED if not reached)."""
    reach = RESPONDED
    for prob, stage in zip((stages.contact.value, stages.eligible.value, stages.consent.value),
                           (CONTACTED, ELIGIBLE, CONSENTED), strict=True):
        if u[stage - CONTACTED] >= prob:
            break
        reach = stage
    return reach


class Recruitment:
    """Everything from a site opening to a participant being randomised."""

    def __init__(self, env: simpy.Environment, params: ModelParams, streams: Streams) -> None:
        self.env, self.p, self.streams = env, params, streams
        self.closed = env.event()  # succeeds with "target" or "window"
        self.close_day: float = math.nan
        self.funnel: list[FunnelEvent] = []
        self.participants: list[Participant] = []
        self.sites = build_sites(params, streams)
        self.allocator = make_allocator(params.allocation, params.block_sizes,
                                        streams["allocation"], params.random_until_day,
                                        params.ips_until_day, params.ips_places)
        sc = params.screening
        self.coordinator = (simpy.Resource(env, capacity=sc.coordinators)
                            if sc.coordinators is not None else None)
        self.nurses: simpy.Resource | None = None
        self.nurse_days: simpy.Container | None = None
        self._years = streams["participants/years_out_of_work"]
        self.on_randomised: Callable[[Participant], None] = lambda person: None

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        for site in self.sites:
            for ch in site.channels:
                if isinstance(ch, PoissonChannel):
                    self.env.process(self._poisson(site, ch))
                elif isinstance(ch, MailshotChannel):
                    self.env.process(self._mailshot(site, ch))
                elif isinstance(ch, HandSearchChannel):
                    self._ensure_nurses(ch)
                    self.env.process(self._hand_search(site, ch))
        self.env.process(self._window())

    def _window(self):
        yield self.env.timeout(self.p.window_days)
        self._close("window")

    def _close(self, reason: str) -> None:
        if not self.closed.triggered:
            self.close_day = self.env.now
            self.closed.succeed(reason)

    @property
    def is_open(self) -> bool:
        return not self.closed.triggered

    def _log(self, site: Site, channel: str, stage: int, n: int = 1) -> None:
        self.funnel.append(FunnelEvent(self.env.now, site.index, channel, stage, n))

    # --- channels ----------------------------------------------------------------------
    def _poisson(self, site: Site, ch: PoissonChannel):
        rate = ch.rate.value / DAYS_PER_MONTH * site.frailty
        if rate <= 0 or site.open_day >= site.close_day:
            return
        rng = self.streams[f"arrivals/{site.key}/{ch.name}"]
        t = site.open_day
        while True:
            t += rng.exponential(1.0 / rate)
            if t >= site.close_day:
                return
            yield self.env.timeout(t - self.env.now)
            if not self.is_open:
                return
            self._log(site, ch.name, APPROACHED)
            self._respond(site, ch)

    def _mailshot(self, site: Site, ch: MailshotChannel):
        packs = int(round(ch.packs_per_1000 * site.type.list_size / 1000.0))
        per_batch = np.full(ch.batches, packs // ch.batches)
        per_batch[: packs % ch.batches] += 1
        p_reply = min(1.0, ch.reply.value * site.frailty)
        rng = self.streams[f"arrivals/{site.key}/{ch.name}"]
        for b, n_packs in enumerate(per_batch):
            day = site.open_day + b * ch.batch_interval_days
            if day >= site.close_day:
                return
            yield self.env.timeout(day - self.env.now)
            if not self.is_open:
                return
            self._log(site, ch.name, APPROACHED, int(n_packs))
            n_replies = rng.binomial(n_packs, p_reply)
            if n_replies:
                delays = np.sort(rng.exponential(ch.reply_delay_mean_days, n_replies))
                self.env.process(self._replies(site, ch, day + delays))

    def _replies(self, site: Site, ch: MailshotChannel, days: np.ndarray):
        for day in days:
            yield self.env.timeout(day - self.env.now)
            if not self.is_open:
                return
            self._respond(site, ch)

    def _ensure_nurses(self, ch: HandSearchChannel) -> None:
        if self.nurses is None:
            self.nurses = simpy.Resource(self.env, capacity=ch.nurses)
            self.nurse_days = simpy.Container(self.env, init=ch.nurse_day_budget,
                                              capacity=max(ch.nurse_day_budget, 1e-9))

    def _hand_search(self, site: Site, ch: HandSearchChannel):
        start = max(site.open_day, ch.start_day)
        if start >= site.close_day:
            return
        yield self.env.timeout(start)
        with self.nurses.request() as req:
            yield req
            days = min(ch.nurse_days_per_practice, self.nurse_days.level)
            if not self.is_open or days <= 0 or self.env.now >= site.close_day:
                return
            yield self.nurse_days.get(days)
            rng = self.streams[f"arrivals/{site.key}/{ch.name}"]
            start, span = self.env.now, days * ch.calendar_days_per_nurse_day
            found = rng.poisson(ch.yield_per_nurse_day.value * site.frailty * days)
            for day in start + np.sort(rng.uniform(0.0, span, found)):
                yield self.env.timeout(day - self.env.now)
                if not self.is_open:
                    return
                self._log(site, ch.name, APPROACHED)
                self._respond(site, ch)
            yield self.env.timeout(start + span - self.env.now)

    # --- screening and randomisation ---------------------------------------------------
    def _respond(self, site: Site, ch) -> None:
        """A person comes forward: screening decides how far they get."""
        self._log(site, ch.name, RESPONDED)
        rng = self.streams[f"screening/{site.key}/{ch.name}"]
        reach = furthest_stage(ch.stages, rng.random(3))
        sc = self.p.screening
        delay = rng.exponential(sc.delay_mean_days) if sc.delay_mean_days > 0 else 0.0
        if delay == 0.0 and self.coordinator is None:
            self._screened(site, ch.name, reach)
        else:
            self.env.process(self._screen(site, ch.name, reach, delay))

    def _screen(self, site: Site, channel: str, reach: int, delay: float):
        if delay > 0:
            yield self.env.timeout(delay)
        if self.coordinator is not None:
            with self.coordinator.request() as req:
                yield req
                yield self.env.timeout(self.p.screening.call_days)
        self._screened(site, channel, reach)

    def _screened(self, site: Site, channel: str, reach: int) -> None:
        if not self.is_open:
            return
        for stage in range(CONTACTED, reach + 1):
            self._log(site, channel, stage)
        if reach == CONSENTED:
            self._randomise(site, channel)

    def _randomise(self, site: Site, channel: str) -> None:
        now = self.env.now
        person = Participant(
            id=len(self.participants),
            site=site.index,
            site_type=site.type.name,
            setting=site.type.setting,
            locality=site.locality,
            channel=channel,
            arm=self.allocator.allocate(site.type.setting, now),
            randomised_day=now,
            years_out_of_work=self.p.years_out_of_work.draw(self._years.random()),
        )
        self.participants.append(person)
        self._log(site, channel, RANDOMISED)
        self.on_randomised(person)
        if len(self.participants) >= self.p.target_n:
            self._close("target")
