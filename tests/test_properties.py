"""Invariants that must hold for any input: checked with hypothesis."""

from __future__ import annotations

import numpy as np
from conftest import make_cfg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialsim.inputs.params import build_params
from trialsim.model.randomisation import PilotCapacity, StratifiedBlocks
from trialsim.model.records import IPS, STAGES, TAU
from trialsim.model.trial import simulate_replication

even_sizes = st.lists(st.sampled_from([2, 4, 6, 8, 10]), min_size=1, max_size=3)


@given(sizes=even_sizes, strata=st.lists(st.sampled_from("ab"), max_size=200),
       seed=st.integers(0, 2**32 - 1))
def test_block_imbalance_never_exceeds_half_the_largest_block(sizes, strata, seed):
    blocks = StratifiedBlocks(tuple(sizes), np.random.default_rng(seed))
    diff = {"a": 0, "b": 0}
    for stratum in strata:
        diff[stratum] += 1 if blocks.allocate(stratum, 0.0) == IPS else -1
        assert abs(diff[stratum]) <= max(sizes) // 2


@given(days=st.lists(st.floats(0, 400), max_size=100), places=st.integers(0, 30),
       seed=st.integers(0, 2**32 - 1))
def test_pilot_capacity_never_gives_more_ips_than_places_nor_ips_after_deadline(
        days, places, seed):
    alloc = PilotCapacity(StratifiedBlocks((4,), np.random.default_rng(seed)), 100.0, 300.0,
                          places)
    arms = [alloc.allocate("a", d) for d in sorted(days)]
    assert arms.count(IPS) <= places
    assert all(arm == TAU for d, arm in zip(sorted(days), arms, strict=True) if d >= 300)


prob = st.floats(0.0, 1.0)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gp=st.integers(0, 6), pain=st.integers(0, 4), target=st.integers(4, 120),
       reply=prob, contact=prob, eligible=prob, consent=prob, shape=st.sampled_from(
           ["0.5", "2", "inf"]), rep=st.integers(0, 10**6))
def test_funnel_never_increases_from_stage_to_stage(gp, pain, target, reply, contact,
                                                     eligible, consent, shape, rep):
    if gp + pain == 0:
        pain = 1
    cfg = make_cfg(
        f"sites.gp_practices.count={gp}", f"sites.pain_services.count={pain}",
        f"trial.target_n={target}", "trial.recruitment_months=12",
        f"sites.gp_practices.mailshot.reply={reply}",
        f"sites.gp_practices.mailshot.contact={contact}",
        f"sites.pain_services.clinics.eligible={eligible}",
        f"sites.gp_practices.opportunistic.consent={consent}",
        f"sites.gp_practices.opportunistic.uptake={consent}",
        f"sites.gp_practices.frailty_shape={shape}",
        f"sites.pain_services.frailty_shape={shape}",
    )
    params = build_params(cfg)
    result = simulate_replication(params, seed=1, rep=rep)
    counts = {}
    for ev in result.funnel:
        counts.setdefault(ev.channel, np.zeros(len(STAGES), dtype=int))[ev.stage] += ev.n
    for channel, c in counts.items():
        assert (np.diff(c) <= 0).all(), (channel, c)
    assert len(result.participants) <= target
    assert all(p.randomised_day <= params.window_days for p in result.participants)
