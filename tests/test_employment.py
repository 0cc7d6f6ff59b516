"""The employment model: its law against Monte Carlo of the paths, the planner's
relative risk solved into the supported entry rate, and invariants of a path."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pytest
from conftest import make_cfg, z_share
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialsim.errors import ConfigError
from trialsim.experiments.runner import run_replications
from trialsim.inputs.evidence import Rate
from trialsim.inputs.params import build_params, law_inputs
from trialsim.model.employment import employment_path
from trialsim.model.employment_law import p_work
from trialsim.units import DAYS_PER_MONTH

YEAR = 12 * DAYS_PER_MONTH


def simulate_m12(params, n: int, seed: int) -> float:
    """Share in work at 12 months over n IPS paths drawn as the law assumes: an
    exponential first-appointment delay, no caseload wait."""
    e, d, x = params.employment, params.delivery, law_inputs(params)
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n):
        start = rng.exponential(d.first_appointment_mean_days)
        gone = rng.random() < d.disengage_after_assessment.value
        ready = rng.random() < x.ready_share
        path = employment_path(rng, e, start=0.0, horizon=YEAR, support_start=start,
                               support_days=0.0 if gone else d.support_days,
                               in_work_days=d.in_work_support_days, ready_at_assessment=ready,
                               withdraw_on_job=e.withdraw_on_job_ips.value)
        hits += bool(path.jobs) and path.jobs[-1][1] == math.inf
    return hits


@pytest.mark.parametrize("overrides", [
    (),
    ("delivery.esw.in_work_support_months=2", "employment.ips_relative_risk_m12=1.3"),
    ("delivery.esw.support_months=null", "employment.withdraw_on_job.ips=0.5"),
])
def test_law_matches_monte_carlo_of_the_paths(overrides):
    params = build_params(make_cfg(*overrides))
    e = params.employment
    n = 40000
    hits = simulate_m12(params, n, seed=5)
    law = p_work(law_inputs(params), e.supported_entry_per_day)
    assert law == pytest.approx(e.expected_m12_ips, abs=1e-3)
    assert abs(z_share(hits, n, law)) <= 4, (hits / n, law)


def test_relative_risk_one_gives_no_supported_entry_and_ips_equal_to_tau_in_law():
    params = build_params(make_cfg("employment.ips_relative_risk_m12=1"))
    e = params.employment
    assert e.supported_entry_per_day == 0.0
    assert e.expected_m12_ips == e.expected_m12_tau
    # with no supported entry the IPS law is TAU's two-state law, whatever the support
    assert p_work(law_inputs(params), 0.0) == pytest.approx(e.expected_m12_tau, abs=1e-4)


def test_solved_rate_gives_the_relative_risk_in_law():
    params = build_params(make_cfg("employment.ips_relative_risk_m12=1.35"))
    e = params.employment
    law = p_work(law_inputs(params), e.supported_entry_per_day)
    assert law / e.expected_m12_tau == pytest.approx(1.35, rel=2e-3)


@pytest.mark.parametrize(("value", "allowed"), [(0.9, ">= 1"), (50.0, "below"), ("x", ">= 1")])
def test_unreachable_or_bad_relative_risk_is_a_config_error(value, allowed):
    with pytest.raises(ConfigError) as err:
        build_params(make_cfg(f"employment.ips_relative_risk_m12={value}"))
    assert err.value.key == "employment.ips_relative_risk_m12"
    assert allowed in err.value.allowed


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(low=st.floats(1.0, 1.4), step=st.floats(0.0, 0.1))
def test_a_larger_relative_risk_never_lowers_ips_employment(low, step):
    a = build_params(make_cfg(f"employment.ips_relative_risk_m12={low}")).employment
    b = build_params(make_cfg(f"employment.ips_relative_risk_m12={low + step}")).employment
    assert b.supported_entry_per_day >= a.supported_entry_per_day
    assert b.expected_m12_ips >= a.expected_m12_ips - 1e-12


@functools.cache
def _default_employment():
    return build_params(make_cfg()).employment


def _employment(a, r, lo, b):
    e = _default_employment()
    day = DAYS_PER_MONTH
    return dataclasses.replace(e, self_entry_per_day=Rate(a / day), readiness_per_day=Rate(
        r / day), loss_per_day=Rate(lo / day), supported_entry_per_day=b / day)


rate = st.floats(0.0, 2.0)


@settings(max_examples=150, deadline=None)
@given(a=rate, r=rate, lo=rate, b=rate, support_start=st.floats(0, 400),
       support=st.floats(0, 400), in_work=st.floats(0, 400), ready=st.booleans(),
       withdraw=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_one_job_at_a_time_and_entry_only_when_not_in_work(a, r, lo, b, support_start,
                                                           support, in_work, ready,
                                                           withdraw, seed):
    e = _employment(a, r, lo, b)
    path = employment_path(np.random.default_rng(seed), e, start=0.0, horizon=YEAR,
                           support_start=support_start, support_days=support,
                           in_work_days=in_work, ready_at_assessment=ready,
                           withdraw_on_job=withdraw)
    for start, end in path.jobs:
        assert 0.0 <= start < end and start < YEAR
        assert end == math.inf or end < YEAR
    # each job starts after the previous one ended: nobody holds two, nobody enters
    # a job while in work
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(path.jobs, path.jobs[1:], strict=False))
    assert all(end < math.inf for _, end in path.jobs[:-1])
    if path.withdrawn_day < math.inf:
        assert path.withdrawn_day in {s for s, _ in path.jobs}
    if a == 0 and (b == 0 or not ready) and r == 0:
        assert not path.jobs


def test_self_directed_entry_is_open_to_the_not_ready_in_support():
    """In support and never ready (no readiness hazard, b huge): jobs still come at the
    self-directed rate, 1 - exp(-a t) by t."""
    e = _employment(0.1, 0.0, 0.0, 50.0)
    rng = np.random.default_rng(3)
    n, t = 20000, 180.0
    hits = sum(bool(employment_path(rng, e, start=0.0, horizon=t, support_start=0.0,
                                    support_days=math.inf, in_work_days=0.0,
                                    ready_at_assessment=False, withdraw_on_job=0.0).jobs)
               for _ in range(n))
    assert abs(z_share(hits, n, 1 - math.exp(-e.self_entry_per_day.value * t))) <= 4


def _default_runs(*overrides, reps=150):
    params = build_params(make_cfg(*overrides))
    return params, run_replications(params, reps, seed=17).replications


def test_default_scenario_reaches_the_relative_risk_set():
    """The simulated IPS/TAU relative risk at 12 months (true status, all randomised)
    equals the knob within 4 Monte Carlo SE (delta method over replications); the law
    ignores caseload waits, which are short in the default scenario."""
    params, rows = _default_runs()
    x, y = rows["employment_m12_ips"], rows["employment_m12_tau"]
    rr = x.mean() / y.mean()
    se = ((x - rr * y) / y.mean()).std(ddof=1) / math.sqrt(len(x))
    assert abs(rr - params.employment.ips_relative_risk_m12) <= 4 * se, (rr, se)
    assert 1.3 <= params.employment.ips_relative_risk_m12 <= 2.6


def test_no_effect_makes_ips_equal_tau_in_the_default_scenario():
    _, rows = _default_runs("employment.ips_relative_risk_m12=1")
    diff = rows["employment_m12_ips"] - rows["employment_m12_tau"]
    assert abs(diff.mean()) <= 4 * diff.std(ddof=1) / math.sqrt(len(diff))
