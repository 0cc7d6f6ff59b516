"""The pilot replay conditioned on the pilot's allocation (trial.allocation=fixed_counts):
every kept replication's cohort is exactly 9 IPS / 4 TAU in pain services and 13 IPS /
24 TAU in primary care, the draws are the pilot rule's own, and the replications kept do
not depend on n_jobs."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_cfg
from hypothesis import given
from hypothesis import strategies as st

from trialsim.errors import ConfigError
from trialsim.experiments.pilot_replay import (
    conditioned_counts,
    in_quota,
    pilot_allocation,
    pilot_params,
)
from trialsim.inputs.params import PAIN_SERVICE, PRIMARY_CARE, FixedCounts, build_params
from trialsim.inputs.validation import find_problems
from trialsim.model.randomisation import PilotCapacity, Quotas, StratifiedBlocks
from trialsim.model.records import IPS, TAU
from trialsim.model.trial import simulate_replication

PILOT = {"ips_pain_service": 9, "tau_pain_service": 4, "ips_primary_care": 13,
         "tau_primary_care": 24, "ips": 22, "tau": 28, "randomised": 50}


@pytest.fixture(scope="module")
def conditioned():
    return conditioned_counts(pilot_params(), 60, seed=5)


def test_every_conditioned_cohort_has_the_pilots_allocation(conditioned):
    counts, tried = conditioned
    assert len(counts) == 60 and 60 < tried <= 60 * 50
    for c in counts:
        assert {k: c[k] for k in PILOT} == PILOT


def test_the_replications_kept_do_not_depend_on_n_jobs(conditioned):
    counts, tried = conditioned
    assert conditioned_counts(pilot_params(), 12, seed=5, n_jobs=2) == (
        counts[:12], conditioned_counts(pilot_params(), 12, seed=5)[1])


def test_the_scenario_file_gives_the_reports_allocation():
    """`scenario=pilot trial.allocation=fixed_counts` is the replay's conditioning."""
    configured = build_params(make_cfg("scenario=pilot", "trial.allocation=fixed_counts"))
    assert configured.allocation == pilot_allocation(pilot_params()).allocation


def test_the_cohort_is_each_settings_first_recruits_in_the_pilots_time_order():
    """In-quota recruits are the first of their setting; the pilot's rule keeps its time
    order: IPS to every recruit between the random phase and the deadline while IPS
    places last, TAU after the deadline while TAU places last."""
    params = pilot_allocation(pilot_params())
    fixed = params.allocation
    kept = 0
    for rep in range(60):
        people = simulate_replication(params, 9, rep).participants
        keep = in_quota(people, fixed)
        if keep is None:
            continue
        kept += 1
        for setting, ips, tau in fixed.counts:
            mine = [p for p in people if p.setting == setting]
            n = ips + tau
            assert keep[[p.id for p in mine[:n]]].all()
            assert not keep[[p.id for p in mine[n:]]].any()
            assert all(p.arm == TAU for p in mine[n:])  # over quota: no ESW place
            left = {IPS: ips, TAU: tau}
            for p in mine[:n]:
                if params.random_until_day <= p.randomised_day < params.ips_until_day:
                    assert p.arm == IPS or not left[IPS]
                elif p.randomised_day >= params.ips_until_day:
                    assert p.arm == TAU or not left[TAU]
                left[p.arm] -= 1
    assert kept >= 5


def test_counts_never_reached_leave_the_pilot_rule_as_it_is():
    """fixed_counts draws nothing of its own: held to counts it never reaches, it gives
    every recruit the arm pilot_capacity gives, from the same allocation stream."""
    base = pilot_params()
    loose = pilot_allocation(base)
    loose = type(loose)(**{**vars(loose), "allocation": FixedCounts(
        ((PAIN_SERVICE, 999, 999), (PRIMARY_CARE, 999, 999)))})
    for rep in range(5):
        a = simulate_replication(base, 3, rep).participants
        b = simulate_replication(loose, 3, rep).participants
        assert [(p.arm, p.randomised_day) for p in a] == [(p.arm, p.randomised_day) for p in b]


@given(proposals=st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from([IPS, TAU])),
                          max_size=60),
       ips=st.integers(0, 10), tau=st.integers(0, 10))
def test_quotas_fill_exactly_then_everyone_is_over_quota(proposals, ips, tau):
    class Proposed:
        def __init__(self):
            self.arms = iter(arm for _, arm in proposals)

        def allocate(self, stratum, day):
            return next(self.arms)

    quotas = Quotas(Proposed(), FixedCounts((("a", ips, tau),)))
    arms = [(s, quotas.allocate(s, 0.0)) for s, _ in proposals]
    a = [arm for s, arm in arms if s == "a"]
    first = a[:ips + tau]
    if len(a) >= ips + tau:
        assert first.count(IPS) == ips and first.count(TAU) == tau
    assert first.count(IPS) <= ips and first.count(TAU) <= tau
    assert all(arm == TAU for arm in a[ips + tau:])
    assert all(arm == TAU for s, arm in arms if s == "b")  # a setting without counts
    # the rule's arm while it has places
    for (s, proposed), (_, got) in zip(proposals, arms, strict=True):
        if s == "a" and proposed == IPS and got == TAU:
            assert first.count(IPS) == ips


def test_pilot_rule_held_to_counts_gives_ips_first_in_a_setting():
    rule = PilotCapacity(StratifiedBlocks((4,), np.random.default_rng(0)), 0.0, 100.0, None)
    quotas = Quotas(rule, FixedCounts((("a", 2, 3),)))
    assert [quotas.allocate("a", d) for d in (10, 20, 30, 110, 120, 130)] == [
        IPS, IPS, TAU, TAU, TAU, TAU]


@pytest.mark.parametrize("overrides, key", [
    (["trial.allocation=fixed_counts"], "trial.fixed_counts"),
    (["scenario=pilot", "trial.allocation=fixed_counts",
      "+trial.fixed_counts.clinic={ips:1,tau:1}"], "trial.fixed_counts.clinic"),
    (["scenario=pilot", "trial.allocation=fixed_counts",
      "trial.fixed_counts.pain_service.tau=-1"], "trial.fixed_counts.pain_service.tau"),
])
def test_bad_fixed_counts_are_one_line_naming_the_key(overrides, key):
    cfg = make_cfg(*overrides)
    assert [p.key for p in find_problems(cfg)] == [key]
    with pytest.raises(ConfigError, match=key):
        build_params(cfg)
