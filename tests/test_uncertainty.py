"""Assurance: parameters drawn from their pilot evidence, reproducibly."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_cfg

from trialsim.app import run
from trialsim.inputs.params import build_params
from trialsim.inputs.uncertainty import draw_evidence, sample_params
from trialsim.units import DAYS_PER_MONTH


def test_draws_follow_the_jeffreys_posteriors_and_keep_assumptions_fixed():
    params = build_params(make_cfg("uncertainty.mode=pilot", "uncertainty.effect_prior_sd=0.5"))
    rng = np.random.default_rng(6)
    draws = [draw_evidence(params, rng) for _ in range(4000)]
    reply = np.array([d.site_types[0].channels[0].reply.value for d in draws])
    k, n = 62, 1017  # Table 3
    mean, var = (k + 0.5) / (n + 1), (k + 0.5) * (n - k + 0.5) / ((n + 1) ** 2 * (n + 2))
    assert abs(reply.mean() - mean) <= 4 * np.sqrt(var / len(reply))
    loss = np.array([d.employment.loss_per_day.value for d in draws]) * DAYS_PER_MONTH
    e, x = params.employment.loss_per_day.events, params.employment.loss_per_day.exposure
    assert abs(loss.mean() - (e + 0.5) / x) <= 4 * np.sqrt((e + 0.5) / x**2 / len(loss))
    effect = np.array([d.outcome.effect_m12 for d in draws])
    assert abs(effect.mean() - 1.0) <= 4 * 0.5 / np.sqrt(len(effect))
    assert abs(effect.std() - 0.5) <= 0.05
    # plain numbers are assumptions: fixed
    assert {d.site_types[0].channels[0].uptake for d in draws} == {1.0}
    assert {d.employment.ready_primary_care.value for d in draws} == {0.4}
    assert all(d.uncertainty is None for d in draws[:5])
    # the employment effect stays the planner's; the supported rate follows each draw
    # (capped at the most the drawn rates can reach)
    assert {d.employment.ips_relative_risk_m12 for d in draws} == {1.5}
    solved = [sample_params(params, rng) for _ in range(5)]
    for d in solved:
        e = d.employment
        reachable = min(1.5, e.relative_risk_max)
        assert e.expected_m12_ips / e.expected_m12_tau == pytest.approx(reachable, rel=2e-3)
    assert len({d.employment.supported_entry_per_day for d in solved}) == 5


def test_assurance_is_reported_beside_power_and_is_reproducible(tmp_path):
    over = ("uncertainty.mode=pilot", "replications=30", "output.charts=false",
            "sites.pain_services.count=8", "trial.target_n=100")
    a = run(make_cfg(*over), tmp_path / "a")
    b = run(make_cfg(*over, "n_jobs=2"), tmp_path / "b")
    assert a == b
    assert set(a["assurance"]) >= {"primary", "recruitment", "joint"}
    assert a["assurance"]["joint"] <= min(a["assurance"]["primary"],
                                          a["assurance"]["recruitment"])
    plain = run(make_cfg(*over[1:]), None)
    assert plain["power"] == a["power"] and "assurance" not in plain
    assert (tmp_path / "a" / "replications_assurance.csv").exists()
