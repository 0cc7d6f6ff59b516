"""Recruitment: channels at sites, the coordinator's screening calls, randomisation.

Who comes forward through which channel, when, and how far screening would take them
depends on nothing else in the trial, so it is drawn in bulk with numpy, one batch per
(site, channel) from that pair's own stream, ahead of the clock. Poisson channels are
drawn in chunks of time, each expected to bring a little more than the recruits still
needed, so that a trial that closes early at its target never draws the rest of a long
window; mailshot replies and hand-searching are finite and drawn at once. Large counts
(mailshot packs) are thinned with binomial draws: a run's cost grows with the people who
respond, not with the packs.

What interacts is served in order of time: the study coordinator serves screening
calls and TAU booklet appointments from one queue in order of request (a booklet is
requested after a randomisation, which a screening call completes), and recruitment
closes at the target or at the end of the window. One loop serves the coordinator's
queue for every coordinator (Kiefer-Wolfowitz: each request in order of request day
starts when it is made or when the first coordinator is free, whichever is later); it
commits a start only once every call ending before it has been dealt with, so a booklet
requested by a randomisation is never overtaken by a later request. In the reference
engine, before each randomisation delivery serves the asks for an ESW caseload place due
by its day (`before_randomising`, trialsim.model.delivery), so that they are served in
order of time with the randomisations; the compiled engine runs the same loop compiled
(`run_compiled`, trialsim.model.recruitment_pass) and delivery after it
(trialsim.model.delivery_pass). Time is in days.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from trialsim.compiled import kernel
from trialsim.inputs import ramp
from trialsim.inputs.params import (
    HandSearchChannel,
    MailshotChannel,
    ModelParams,
    PoissonChannel,
    Stages,
    YearsOutOfWork,
)
from trialsim.model import recruitment_pass
from trialsim.model.randomisation import StratifiedBlocks, make_allocator
from trialsim.model.records import (
    APPROACHED,
    CONSENTED,
    CONTACTED,
    IPS,
    RANDOMISED,
    RESPONDED,
    STAGES,
    Participant,
    People,
    Recruited,
)
from trialsim.model.sites import Site, build_sites
from trialsim.streams import Streams
from trialsim.units import DAYS_PER_MONTH

CHUNK_MARGIN = 1.5  # a chunk of Poisson arrivals is expected to bring 1.5x the recruits
CHUNK_EXTRA = 16    # still needed, plus this many,
CHUNK_MAX = 20_000  # and never more than this many responders (memory, if few consent)


def exponential(u: np.ndarray, mean: float) -> np.ndarray:
    """Exponential draws with this mean, by inversion of uniforms in [0, 1)."""
    return -mean * np.log1p(-u)


ROW = 5  # uniforms per responder: when they come, contact, eligible, consent, call delay


@dataclass
class Source:
    """The responders of one channel at one site, drawn from that pair's own stream.

    Each responder takes one row of ROW uniforms, in the order they are drawn: the k-th
    responder of a (site, channel) gets the same row whatever the rates, the window or
    the screening probabilities (common random numbers), as it would from a stream of
    its own."""

    index: int  # in Recruitment's list of sources
    site: Site
    channel: int  # index into ModelParams.channel_names()
    stages: Stages
    rng: np.random.Generator
    rate: float = 0.0  # Poisson channels: per day at full rate, the site's frailty included
    ramp: float = 0.0  # Poisson: days from opening to full rate (0: a step)
    last: float = 0.0  # Poisson: the last arrival drawn (full-rate days, trialsim.inputs.ramp)
    drawn: np.ndarray = field(default_factory=lambda: np.empty(0))  # drawn, not yet given
    rows: np.ndarray = field(default_factory=lambda: np.empty((0, ROW)))

    @property
    def screen(self) -> tuple[float, float, float]:
        """P(contacted), P(eligible | contacted), P(consents | eligible)."""
        s = self.stages
        return s.contact.value, s.eligible.value, s.consent.value

    def poisson_until(self, horizon: float) -> tuple[np.ndarray, np.ndarray]:
        """Arrivals in [last given, min(horizon, site close)) and their rows: gaps are
        exponential, drawn in batches and added one after another from the opening day,
        so that the k-th arrival does not depend on the batches, to the last bit. With
        a ramp-up they are drawn in full-rate days and mapped to the calendar."""
        end = self._full_rate(min(horizon, self.site.close_day))
        while self.last < end:
            u = self.rng.random((int(self.rate * (end - self.last) * 1.25) + 8, ROW))
            gaps = exponential(u[:, 0], 1.0 / self.rate)
            times = np.cumsum(np.concatenate(([self.last], gaps)))[1:]
            if len(self.drawn):
                self.drawn = np.concatenate([self.drawn, times])
                self.rows = np.concatenate([self.rows, u])
            else:  # nothing left over: no copy
                self.drawn, self.rows = times, u
            self.last = float(times[-1])
        cut = int(np.searchsorted(self.drawn, end))
        out = self._calendar(self.drawn[:cut]), self.rows[:cut]
        self.drawn, self.rows = self.drawn[cut:], self.rows[cut:]
        return out

    def _full_rate(self, day: float) -> float:
        """The calendar `day` in full-rate days (itself without a ramp)."""
        if not self.ramp:
            return day
        opened = self.site.open_day
        return opened + float(ramp.full_rate_days(day - opened, self.ramp))

    def _calendar(self, days: np.ndarray) -> np.ndarray:
        """Full-rate `days` on the calendar (themselves without a ramp)."""
        if not self.ramp:
            return days
        opened = self.site.open_day
        return opened + ramp.calendar_days(days - opened, self.ramp)


class Coordinator:
    """The study coordinator(s): the day each is next free (a heap) and the TAU booklet
    appointments requested (a heap by request day); screening calls come from
    recruitment. Recruitment has none when coordinators are unlimited (no queue)."""

    def __init__(self, servers: int, call_days: float, booklet_days: float) -> None:
        self.free = [0.0] * servers
        self.call_days, self.booklet_days = call_days, booklet_days
        self.booklets: list[tuple[float, int, Participant]] = []

    def book(self, day: float, person: Participant) -> None:
        """A TAU booklet appointment requested on `day`; the participant's wait is
        written when it starts."""
        heapq.heappush(self.booklets, (day, person.id, person))


class Recruitment:
    """Everything from a site opening to a participant being randomised."""

    def __init__(self, params: ModelParams, streams: Streams,
                 extra_sites: Callable[[int], list[Site]] | None = None) -> None:
        """`extra_sites(n)`: sites added after the scenario's n (the internal pilot's
        rescue plan, trialsim.model.rescue), drawn from streams of their own."""
        self.p, self.streams = params, streams
        self.close_reason = ""  # "target" or "window", once closed
        self.close_day: float = math.inf  # recruitment is open before this day
        self._people: list[Participant] = []  # the reference loop's records
        self._recruited: People | None = None  # the compiled loop's (run_compiled)
        self.n_randomised = 0  # so far
        self.sites = build_sites(params, streams)
        if extra_sites is not None:
            self.sites += extra_sites(len(self.sites))
        self.allocator = make_allocator(params.allocation, params.block_sizes,
                                        streams["allocation"], params.random_until_day,
                                        params.ips_until_day, params.ips_places,
                                        params.allocation_ratio)
        sc = params.screening
        self.coordinator = (
            Coordinator(sc.coordinators, sc.call_days, params.delivery.booklet_days)
            if sc.coordinators is not None else None)
        self.channels = params.channel_names()
        self._years_rng = streams["participants/years_out_of_work"]
        self._years = _years_out_of_work(self._years_rng, params.years_out_of_work).__next__
        self._allocate = self.allocator.allocate
        self._in_setting = params.years_out_of_work.in_setting
        self.on_randomised: Callable[[Participant], None] = lambda person: None
        self.before_randomising: Callable[[float], None] = lambda day: None
        self._sources: list[Source] = []
        self._poisson: list[Source] = []
        self._drawn: list[tuple[int, np.ndarray, np.ndarray]] = []  # to add: source, days, rows
        # every responder added so far (index: responder id)
        self._arrival: list[float] = []
        self._source: list[int] = []
        self._channel: list[int] = []
        self._reach: list[int] = []
        self._packs: list[tuple[float, int, int]] = []  # mailshot batches: day, channel, packs
        self.nurse_visits: list[tuple[float, float]] = []  # hand search: (start day, nurse-days)
        self._reached = [[0] * len(STAGES) for _ in self.channels]  # calls ended at a stage
        self._randomised = [0] * len(self.channels)
        # screening requests not yet served, in order of request day
        self._req: list[float] = []
        self._who: list[int] = []
        self._next = 0
        self._horizon = 0.0  # every request made before this day has been added

    @property
    def participants(self) -> Sequence[Participant]:
        """The randomised participants' records, in order of randomisation (made on first
        use where the compiled loop ran)."""
        return self._people if self._recruited is None else self._recruited

    def randomised_days(self) -> np.ndarray:
        """Each randomised participant's day, in order of randomisation."""
        if self._recruited is not None:
            return self._recruited.recruited.randomised_day
        return np.array([p.randomised_day for p in self._people], dtype=float)

    # --- drawing responders ------------------------------------------------------------
    def start(self) -> None:
        index = {name: i for i, name in enumerate(self.channels)}
        searched = []
        for site in self.sites:
            for ch in site.channels:
                src = Source(len(self._sources), site, index[ch.name], ch.stages,
                             self.streams[f"responders/{site.key}/{ch.name}"])
                self._sources.append(src)
                if isinstance(ch, PoissonChannel):
                    src.rate = site.type.new_site(ch.rate.value) / DAYS_PER_MONTH * site.frailty
                    src.ramp = site.type.opening.ramp_up_days
                    src.last = site.open_day
                    if src.rate > 0 and site.open_day < site.close_day:
                        self._poisson.append(src)
                elif isinstance(ch, MailshotChannel):
                    self._mailshot(src, ch)
                elif isinstance(ch, HandSearchChannel):
                    searched.append((src, ch))
        self._screen = np.array([src.screen for src in self._sources]).reshape(-1, 3)
        self._source_channel = np.array([src.channel for src in self._sources], dtype=int)
        # what a participant's record takes from their source, looked up once per source
        self._origin = [(s.site.index, s.site.type.name, s.site.type.setting, s.site.locality,
                         self.channels[s.channel], s.channel) for s in self._sources]
        self._hand_search(searched)
        self._next_chunk()

    def _mailshot(self, src: Source, ch: MailshotChannel) -> None:
        """Packs mailed in batches: the repliers of a batch are a binomial draw, each
        replying after an exponential delay. A ramp-up delays no batch: a batch is
        posted on its day, once the practice has opened (set-up is the delay)."""
        site = src.site
        packs = int(round(ch.packs_per_1000 * site.type.list_size / 1000.0))
        per_batch = np.full(ch.batches, packs // ch.batches)
        per_batch[: packs % ch.batches] += 1
        p_reply = min(1.0, site.type.new_site(ch.reply.value) * site.frailty)
        for b, n_packs in enumerate(per_batch.tolist()):
            day = site.open_day + b * ch.batch_interval_days
            if day >= site.close_day:
                break
            self._packs.append((day, src.channel, n_packs))
            u = src.rng.random((src.rng.binomial(n_packs, p_reply), ROW))
            self._drawn.append((src.index, day + exponential(u[:, 0], ch.reply_delay_mean_days),
                                u))

    def _hand_search(self, searched: list[tuple[Source, HandSearchChannel]]) -> None:
        """The research nurses visit practices in order of their start day (site order
        on ties), FIFO over the nurses, each practice for its nurse-days while the
        shared budget lasts; recruits are found at uniform times over the visit. Visits
        after recruitment closes find people who are never counted. A ramp-up does not
        apply: the nurse's searching, not the practice's staff, finds them."""
        visits = [(max(src.site.open_day, ch.start_day), src.site.index, src, ch)
                  for src, ch in searched]
        visits = sorted((v for v in visits if v[0] < v[2].site.close_day),
                        key=lambda v: (v[0], v[1]))
        if not visits:
            return
        free, budget = [0.0] * visits[0][3].nurses, visits[0][3].nurse_day_budget
        for start, _, src, ch in visits:
            day = max(start, free[0])
            days = min(ch.nurse_days_per_practice, budget)
            if days <= 0 or day >= src.site.close_day:
                heapq.heapreplace(free, day)  # the nurse moves on at once
                continue
            budget -= days
            self.nurse_visits.append((day, days))
            span = days * ch.calendar_days_per_nurse_day
            heapq.heapreplace(free, day + span)
            found = src.rng.poisson(src.site.type.new_site(ch.yield_per_nurse_day.value)
                                    * src.site.frailty * days)
            u = src.rng.random((found, ROW))
            self._drawn.append((src.index, day + span * u[:, 0], u))

    def _next_chunk(self) -> None:
        """Draw the Poisson arrivals of the next chunk of time, then add every responder
        drawn: how far screening takes each, and the day they are ready for the call
        (after the screening delay), merged into the queue of requests not yet served."""
        needed = self.p.target_n - self.n_randomised
        horizon = min(_chunk_end(self._poisson, self._horizon,
                                 CHUNK_MARGIN * needed + CHUNK_EXTRA, consenting=True),
                      _chunk_end(self._poisson, self._horizon, CHUNK_MAX, consenting=False))
        for src in self._poisson:
            self._drawn.append((src.index, *src.poisson_until(horizon)))
        self._horizon = horizon
        drawn = [d for d in self._drawn if len(d[1])]
        self._drawn = []
        if not drawn:
            return
        source = np.repeat(np.array([i for i, *_ in drawn]), [len(days) for _, days, _ in drawn])
        arrival = np.concatenate([days for _, days, _ in drawn])
        u = np.concatenate([rows for *_, rows in drawn])
        reach = RESPONDED + np.cumprod(u[:, 1:4] < self._screen[source], axis=1).sum(axis=1)
        mean = self.p.screening.delay_mean_days
        request = arrival + exponential(u[:, 4], mean) if mean > 0 else arrival
        first = len(self._arrival)
        self._arrival += arrival.tolist()
        self._source += source.tolist()
        self._channel += self._source_channel[source].tolist()
        self._reach += reach.tolist()
        # the requests not yet served and the new ones, in order of request day
        req = np.concatenate([np.array(self._req[self._next:], dtype=float), request])
        who = np.concatenate([np.array(self._who[self._next:], dtype=int),
                              np.arange(first, first + len(arrival))])
        order = np.argsort(req, kind="stable")
        self._req, self._who, self._next = req[order].tolist(), who[order].tolist(), 0

    def _next_request(self) -> float:
        """The day of the next screening request (inf: none left)."""
        while True:
            if self._next < len(self._req) and self._req[self._next] < self._horizon:
                return self._req[self._next]
            if self._horizon == math.inf:
                return self._req[self._next] if self._next < len(self._req) else math.inf
            self._next_chunk()

    # --- the coordinator's queue -------------------------------------------------------
    def run(self) -> None:
        """Screening calls and booklet appointments in order of request, each starting
        when asked for or when the first coordinator is free; a call ending while
        recruitment is open is counted, and randomises if the person consents. Call
        after `start()`."""
        co, window, before = self.coordinator, self.p.window_days, self.before_randomising
        free = co.free if co is not None else None
        books = co.booklets if co is not None else []
        calls: list[tuple[float, int]] = []  # calls under way: (end day, responder)
        heappop, heappush, heapreplace = heapq.heappop, heapq.heappush, heapq.heapreplace
        inf = math.inf
        reaches, channels, reached = self._reach, self._channel, self._reached  # grown in place
        # the queue of requests in locals: handed back (self._next) before any call that
        # reads or replaces it (drawing a chunk, closing at the target), reloaded after
        req, who, nxt, horizon = self._req, self._who, self._next, self._horizon
        while True:
            if nxt < len(req) and req[nxt] < horizon:
                t_call = req[nxt]
            else:
                self._next = nxt
                t_call = self._next_request()
                req, who, nxt, horizon = self._req, self._who, self._next, self._horizon
            t_book = books[0][0] if books else inf
            t = t_call if t_call < t_book else t_book
            start = t if free is None or free[0] <= t else free[0]
            if calls and calls[0][0] <= start:  # a call ends first: it may randomise,
                if calls[0][0] >= horizon:  # (and a booklet then requested comes after);
                    self._next = nxt  # everyone who came forward before the queue
                    self._next_chunk()  # reaches it must have been drawn
                    req, who, nxt, horizon = self._req, self._who, self._next, self._horizon
                    continue
                end, k = heappop(calls)
                if end < window and not self.close_reason:
                    reach = reaches[k]
                    reached[channels[k]][reach] += 1
                    if reach == CONSENTED:
                        self._next = nxt
                        before(end)
                        self._randomise(k, end)
                        req, who, nxt, horizon = self._req, self._who, self._next, self._horizon
                continue
            if t == inf:
                break
            if t_book <= t_call:
                person = heappop(books)[2]
                person.booklet_wait_days = start - t
                heapreplace(free, start + co.booklet_days)
                continue
            k = who[nxt]
            nxt += 1
            end = start
            if free is not None:
                end = start + co.call_days
                heapreplace(free, end)
            heappush(calls, (end, k))
        self._next = nxt
        if not self.close_reason:
            self.close_reason, self.close_day = "window", window

    def _randomise(self, k: int, day: float) -> None:
        site, kind, setting, locality, channel, c = self._origin[self._source[k]]
        self._randomised[c] += 1
        # positional, in Participant's order: id, site, site_type, setting, locality,
        # channel, arm, randomised_day, years_out_of_work (the arm drawn before the years)
        arm = self._allocate(setting, day)
        years = self._in_setting(setting, self._years())
        person = Participant(len(self._people), site, kind, setting, locality, channel,
                             arm, day, years)
        self._people.append(person)
        self.n_randomised += 1
        self.on_randomised(person)
        if len(self._people) >= self.p.target_n:
            self._close(day)

    def _close(self, day: float) -> None:
        """The target is reached: those who have not yet come forward never will; those
        waiting for their call are still called (and hold the coordinator), but no
        longer counted."""
        self.close_reason, self.close_day = "target", day
        arrival = self._arrival
        keep = [i for i in range(self._next, len(self._who))
                if arrival[self._who[i]] <= self.close_day]
        self._req = [self._req[i] for i in keep]
        self._who = [self._who[i] for i in keep]
        self._next, self._horizon = 0, math.inf

    # --- the coordinator's queue, compiled (trialsim.model.recruitment_pass) -----------
    def compiles(self) -> bool:
        """Whether `run_compiled` can run this replication (after `start()`): permuted
        blocks in a trial whose sites are all of one setting, whose arms can be drawn
        ahead (trialsim.model.recruitment_pass)."""
        return (isinstance(self.allocator, StratifiedBlocks)
                and len({origin[2] for origin in self._origin}) == 1)

    def run_compiled(self, u_delays: np.ndarray,
                     ) -> tuple[Recruited, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """`run()` with delivery's draws at randomisation (Delivery.start without paths,
        from the delays stream's uniforms `u_delays`, at least 2 a participant), compiled:
        the same participants, funnel and close to the last bit. Returns the
        participants as arrays (their records made on first use, `participants`) and the
        IPS participants' asks for a caseload place (ids, day due, patience) for
        delivery's pass (trialsim.model.delivery_pass). Call after `start()`, where
        `compiles()`."""
        p, rp = self.p, recruitment_pass
        d, target = p.delivery, p.target_n
        setting = self._origin[0][2]
        arms = np.array(self.allocator.ahead(setting, target), dtype=object) == IPS
        co = self.coordinator
        free = np.array(co.free if co is not None else [], dtype=float)
        call_days, booklet_days = (co.call_days, co.booklet_days) if co else (0.0, 0.0)
        patience = d.patience_per_day
        istate, fstate = np.zeros(rp.ISTATE, dtype=np.int64), np.array([0.0, math.inf])
        reached = np.zeros((len(self.channels), len(STAGES)), dtype=np.int64)
        randomised = np.zeros(len(self.channels), dtype=np.int64)
        who_p, day, ips = (np.zeros(target, dtype=np.int64), np.zeros(target),
                           np.zeros(target, dtype=np.bool_))
        booklet, due, waits = np.full(target, np.nan), np.full(target, np.nan), np.full(
            target, np.inf)
        books = (np.empty(target + 1), np.zeros(target + 1, dtype=np.int64))
        calls = (np.empty(0), np.zeros(0, dtype=np.int64))
        while True:
            req = np.array(self._req[self._next:], dtype=float)
            who = np.array(self._who[self._next:], dtype=np.int64)
            istate[rp.NEXT], istate[rp.N_REQ], fstate[rp.HORIZON] = 0, len(req), self._horizon
            if len(calls[0]) <= len(self._arrival):  # room for every responder's call
                grow = len(self._arrival) + 1 - len(calls[0])
                calls = (np.concatenate([calls[0], np.empty(grow)]),
                         np.concatenate([calls[1], np.zeros(grow, dtype=np.int64)]))
            status = kernel(rp.run_queue)(
                istate, fstate, req, who, np.array(self._arrival, dtype=float),
                np.array(self._reach, dtype=np.int64), np.array(self._channel, dtype=np.int64),
                free, *calls, *books, reached, randomised, who_p, day, ips, booklet, due,
                waits, arms, u_delays, p.window_days, target, call_days, booklet_days,
                d.booklet_delay_mean_days, d.first_appointment_mean_days, patience, CONSENTED)
            self.n_randomised = int(istate[rp.N_RAND])
            if status == rp.DONE:
                break
            nxt, n_req = int(istate[rp.NEXT]), int(istate[rp.N_REQ])
            self._req, self._who, self._next = req[nxt:n_req].tolist(), who[nxt:n_req].tolist(), 0
            self._next_chunk()
        n = self.n_randomised
        self.close_reason, self.close_day = (("target", float(fstate[rp.CLOSE_DAY]))
                                             if istate[rp.CLOSED] else ("window", p.window_days))
        self._reached, self._randomised = reached.tolist(), randomised.tolist()
        # the k-th participant's years from the stream's k-th uniform (_years_out_of_work)
        years = np.empty(0)
        if n:
            u = self._years_rng.random(-(-n // YEARS_BLOCK) * YEARS_BLOCK)
            z, consts = p.years_out_of_work.quantiles(u)
            years = kernel(rp.years_of)(u, z, *consts)[:n]
        origins = [self._origin[k] for k in np.array(self._source)[who_p[:n]].tolist()]
        site, kind, where, locality, channel, _ = (zip(*origins, strict=True) if n
                                                   else ((),) * 6)
        recruited = Recruited(
            np.array(site, dtype=np.int64), kind, where, np.array(locality, dtype=np.int64),
            channel, ips[:n], day[:n], p.years_out_of_work.in_setting_many(setting, years),
            booklet[:n])
        self._recruited = People(recruited)
        asks = np.flatnonzero(ips[:n])
        return recruited, (asks, due[asks], waits[asks])

    # --- the funnel --------------------------------------------------------------------
    def packs(self) -> tuple[tuple[float, int, int], ...]:
        """Mailshot batches posted before recruitment closed: (day, channel, packs)."""
        return tuple(b for b in self._packs if b[0] <= self.close_day)

    def call_days(self) -> np.ndarray:
        """The day each person who came forward before recruitment closed did so: one
        screening call each."""
        days = np.array(self._arrival, dtype=float)
        return days[days <= self.close_day]

    def funnel_counts(self) -> np.ndarray:
        """(channels, stages): people (packs, for a mailshot's approached) reaching each
        stage before recruitment closed."""
        counts = np.zeros((len(self.channels), len(STAGES)), dtype=np.int64)
        if self._arrival:  # the person whose call closed recruitment came forward too
            came = np.array(self._arrival) <= self.close_day
            counts[:, RESPONDED] = np.bincount(np.array(self._channel)[came],
                                               minlength=len(self.channels))
        counts[:, APPROACHED] = counts[:, RESPONDED]  # one approach per responder ...
        for c in {c for _, c, _ in self._packs}:  # ... but a mailshot approaches by packs
            counts[c, APPROACHED] = sum(n for day, ch, n in self._packs
                                        if ch == c and day <= self.close_day)
        # a call that ended at stage r counts at every stage up to r
        ended = np.array(self._reached, dtype=np.int64).reshape(len(self.channels), -1)
        counts[:, CONTACTED:RANDOMISED] = np.cumsum(
            ended[:, ::-1], axis=1)[:, ::-1][:, CONTACTED:RANDOMISED]
        counts[:, RANDOMISED] = self._randomised
        return counts


YEARS_BLOCK = 256  # uniforms drawn at a time for years out of work (any size: the same years)


def _years_out_of_work(rng: np.random.Generator, law: YearsOutOfWork,
                       block: int = YEARS_BLOCK):
    """Each participant's years out of work in order of randomisation: law.draw of the
    stream's k-th uniform for the k-th participant (the uniforms drawn in blocks, as
    trialsim.streams.buffered draws them), turned into years a block at a time."""
    while True:
        yield from law.draws(rng.random(block))


def _chunk_end(sources: list[Source], after: float, needed: float, consenting: bool) -> float:
    """The day by which the Poisson sources are expected to bring `needed` more
    responders (who would consent, or any) after `after` (inf: they never will); with
    ramp-ups, linear between the days a site opens, reaches full rate or closes (any
    day would do: how the window is cut into chunks changes nothing but the speed)."""
    if not sources:
        return math.inf
    opens = np.array([s.site.open_day for s in sources])
    spans = np.array([s.site.close_day for s in sources]) - opens
    ramps = np.array([s.ramp for s in sources])
    rates = np.array([s.rate * (math.prod(s.screen) if consenting else 1.0) for s in sources])
    days = np.unique(np.concatenate([[after], opens, opens + spans, opens + ramps]))
    days = days[days >= after]
    full = ramp.full_rate_days
    gain = (rates * (full(np.clip(days[:, None] - opens, 0, spans), ramps)
                     - full(np.clip(after - opens, 0, spans), ramps))).sum(axis=1)
    k = int(np.searchsorted(gain, needed))
    if k >= len(days):
        return math.inf
    g0, g1 = gain[k - 1], gain[k]  # k >= 1: gain[0] = 0 < needed
    return float(days[k - 1] + (needed - g0) / (g1 - g0) * (days[k] - days[k - 1]))
