"""Every key of the composed config, given extreme values (0, negative, 1e-300, 1e308,
inf, nan, huge integers, words, empty lists and mappings, null, booleans): each is
refused cleanly, by a message naming the key, within 10 s, or it runs. The keys are
read from the composed config (tests/fuzz_config.py), so a key added later is fuzzed
too; the examples are fixed (derandomized) and few, so the suite stays fast."""

from __future__ import annotations

import functools
import zlib

import pytest
from conftest import make_cfg
from fuzz_config import EXTREMES, SCENARIOS, decide, leaf_keys
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

OK = ("refused", "ran")


@functools.cache
def base(scenario: str):
    return make_cfg(f"scenario={scenario}", "replications=20")


@functools.cache
def keys(scenario: str) -> tuple[str, ...]:
    return tuple(leaf_keys(base(scenario)))


def test_every_key_is_fuzzed():
    """Each key once, with an extreme value chosen by its name (checks only: the
    accepted ones run in the sampled test below)."""
    scenario = SCENARIOS[1]  # primary care: every channel has sites
    bad = []
    for key in keys(scenario):
        value = EXTREMES[zlib.crc32(key.encode()) % len(EXTREMES)]
        outcome = decide(base(scenario), key, value, tiny_run=False)
        if outcome.verdict not in (*OK, "accepted"):
            bad.append(f"{key}={value!r}: {outcome.verdict} {outcome.detail}")
    assert not bad, "\n".join(bad)
    assert len(keys(scenario)) > 150


@settings(derandomize=True, max_examples=100, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_extreme_values_are_refused_or_run(data):
    scenario = data.draw(st.sampled_from(SCENARIOS), label="scenario")
    key = data.draw(st.sampled_from(keys(scenario)), label="key")
    value = data.draw(st.sampled_from(EXTREMES), label="value")
    outcome = decide(base(scenario), key, value)
    assert outcome.verdict in OK, f"{key}={value!r}: {outcome.verdict} {outcome.detail}"


@pytest.mark.parametrize(("key", "value"), [
    ("employment.job_loss_per_month", {"estimate": 0.05, "se": 1e-300}),
    ("follow_up.work_return_ratio", {"estimate": 0.5, "se": 1e-200}),
    ("delivery.esw.in_work_support_months", 1e-300),
    ("replications", 1e308),
    ("sites.pain_services.count", 100_000_000),
    ("sites.pain_services.count", 1_000_000),
    ("delivery.esw.caseload", 1e308),
    ("n_jobs", 1_000_000),
    ("screening.coordinators", 99999999999999999999),
    ("trial.localities", 1_000_000),
    ("follow_up.months", [12, 1e308]),
    ("sites.gp_practices.list_size", 10**12),
    ("sites.gp_practices.mailshot.batches", 10**9),
    ("follow_up.reminder_weeks", 1e308),
    ("sites.pain_services.opening.active_months", 1e308),
    ("sites.gp_practices.hand_search.start_month", 1e308),
    ("sites.pain_services.frailty_shape", 1e-300),
    ("analysis.alpha", 1e-300),
    ("uncertainty.effect_prior_sd", 1e308),
    ("employment.ready.odds_ratio_per_year_out", 1e308),
    ("employment.ready.odds_ratio_per_year_out", 1e-300),
    ("resume", 2),
    ("output.report", -1),
    ("outcome.control.means", []),
    ("participants.years_out_of_work.q25", 1e308),
    ("sites.pain_services.clinics.rate.events", 1e308),
    ("scenario_name", "../../escaped"),
])
def test_the_reported_cases_are_refused_naming_their_key(key, value):
    outcome = decide(base("primary_care"), key, value, tiny_run=False)
    assert outcome.verdict == "refused", outcome
    assert outcome.seconds < 10
