"""Poisson responders are drawn in chunks of time (trialsim.model.recruitment), each
expected to bring a little more than the recruits still needed. How the window is cut
into chunks must not change anything: the k-th responder of a (site, channel) takes the
k-th row of its stream whatever the chunk, and every arrival before a call ends is drawn
before the coordinator's queue moves past that day, even when a long queue ends calls
far after the requests it serves. Both engines (trialsim.model.trial.ENGINES): the
compiled coordinator's loop leaves and re-enters at every chunk, and gives the
reference's trial."""

from __future__ import annotations

import pytest
from conftest import make_cfg

from trialsim.inputs.params import build_params
from trialsim.model import recruitment
from trialsim.model.trial import ENGINES, simulate_replication

SMALL = ("sites.pain_services.count=6", "trial.target_n=60")
CASES = {
    "default": SMALL,
    # 2.8 days a call and 6-hour booklets: the queue runs months behind the requests
    "busy coordinator": (*SMALL, "screening.calls_per_day=0.5",
                         "delivery.booklet.appointment_hours=6"),
    "unlimited screening": (*SMALL, "screening.coordinators=null",
                            "screening.delay_mean_days=0"),
    # ramped rates: arrivals drawn in full-rate days and mapped to the calendar
    "ramp-up": (*SMALL, "sites.pain_services.opening.ramp_up_months=3"),
}


def _trial(params, rep, engine):
    r = simulate_replication(params, seed=4, rep=rep, engine=engine)
    people = [(p.randomised_day, p.arm, p.channel, str(p.booklet_wait_days),
               str(p.esw_wait_days)) for p in r.participants]  # str: nan equals nan
    return r.close_day, r.funnel_counts.tolist(), people


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", list(CASES))
def test_chunks_of_any_size_give_the_same_trial(case, engine, monkeypatch):
    params = build_params(make_cfg(*CASES[case]))
    monkeypatch.setattr(recruitment, "CHUNK_MARGIN", 1e9)  # the whole window at once
    whole = [_trial(params, rep, "reference") for rep in range(4)]
    monkeypatch.setattr(recruitment, "CHUNK_MARGIN", 0.0)
    monkeypatch.setattr(recruitment, "CHUNK_EXTRA", 1)  # about one recruit per chunk
    assert [_trial(params, rep, engine) for rep in range(4)] == whole
