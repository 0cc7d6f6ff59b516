"""The ESW caseload asks are served by an exact event recursion (trialsim.model.delivery:
before each randomisation, every ask due by its day, in order of day and then of
randomisation). It replaced a SimPy clock: one timeout an ask, stepped through every
event due by a randomisation's day before it, run to the end after recruitment. That
clock is kept here as the reference, and the two give the same participants to the
last bit, caseloads binding, patience running out and the pilot's rule included (the
default engine, delivery's compiled pass, against the clock on the reference engine's
hooks)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import simpy
from conftest import make_cfg
from test_event_order import TIES

from trialsim.inputs.params import build_params
from trialsim.model import trial
from trialsim.model.delivery import Delivery


class Clocked(Delivery):
    """Delivery with its asks on a SimPy clock, as before the recursion: the clock is
    stepped through every event due by a randomisation's day when it is handed the
    participant (the streams drawn before that, allocation and years out of work, are
    not delivery's), and run to the end after recruitment; recruitment's own calls to
    `serve` are ignored."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env = simpy.Environment()

    def start(self, person) -> None:
        while self.env.peek() <= person.randomised_day:
            self.env.step()
        super().start(person)
        while self._asks:  # the ask just made (the heap holds no other): onto the clock
            due, _, who, patience = self._asks.pop()
            wait = due - self.env.now
            while self.env.now + wait > due:  # never after its day
                wait = math.nextafter(wait, 0.0)
            self.env.timeout(wait).callbacks.append(
                lambda _, who=who, patience=patience, due=due: self._ask_esw(who, patience,
                                                                             due))

    def serve(self, day: float) -> None:
        pass

    def finish(self) -> None:
        self.env.run()
        super().finish()


FULL = ("delivery.esw.per_locality=1", "delivery.esw.caseload=4",
        "delivery.esw.disengage_wait_per_month=0.5")
CASES = {  # overrides, and whether the internal pilot's amber plan acts at its review
    "default": ((), False),
    "pilot": (("scenario=pilot",), False),
    "full caseloads, patience": (FULL, False),
    "rescue sites, full caseloads": ((*FULL, "progression.amber_action.extra_sites=3"), True),
    "ties on the day, no delays": ((*TIES, "delivery.esw.caseload=3"), False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_recursion_serves_the_asks_as_the_simpy_clock_did(case, monkeypatch):
    overrides, rescue = CASES[case]
    params = build_params(make_cfg("replications=4", *overrides))
    day = params.progression.review_day(params.window_days) if rescue else None
    ours = [trial.simulate_replication(params, 7, rep, rescue_day=day) for rep in range(4)]
    monkeypatch.setattr(trial, "Delivery", Clocked)  # on the reference engine's hooks
    monkeypatch.setattr(trial, "ENGINE", "reference")
    clocked = [trial.simulate_replication(params, 7, rep, rescue_day=day) for rep in range(4)]
    waited = 0
    for a, b in zip(ours, clocked, strict=True):
        assert repr([dataclasses.astuple(p) for p in a.participants]) == \
            repr([dataclasses.astuple(p) for p in b.participants])  # NaN equal to itself
        waited += sum(p.esw_wait_days > 0 for p in a.participants)
    if "full" in case:
        assert waited > 0  # the caseloads did bind
