"""Every key, any value: a clean outcome (nothing, or one line per problem), never a
traceback; all problems reported at once; counts are whole; durations bounded."""

from __future__ import annotations

import math

import pytest
from conftest import CONF_DIR, make_cfg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from trialsim.app import validate
from trialsim.cli import preflight
from trialsim.errors import ConfigError, ConfigErrors
from trialsim.inputs.validation import find_problems


def _leaves(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}{k}.")
    else:
        yield prefix[:-1]


DEFAULTS = OmegaConf.to_container(make_cfg(), resolve=False)
KEYS = sorted(set(_leaves(DEFAULTS)))

WORDS = st.text(alphabet="abcxyz_", min_size=1, max_size=6)
VALUES = st.one_of(
    WORDS.map(lambda w: f"'{w}'"),
    st.integers(-10**13, 10**13).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda x: "nan" if math.isnan(x) else ("inf" if x == math.inf else
                                               "-inf" if x == -math.inf else repr(x))),
    st.just("null"),
    st.lists(st.integers(-5, 50), max_size=3).map(lambda xs: f"[{','.join(map(str, xs))}]"),
    st.tuples(st.floats(-5, 50), st.floats(-5, 50)).map(lambda t: f"{{k:{t[0]},n:{t[1]}}}"),
)


def test_every_key_is_covered():
    assert len(KEYS) > 150
    assert {"design.n_start", "limits.max_participant_replications", "resume"} <= set(KEYS)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(KEYS), value=VALUES, extra=st.sampled_from(KEYS), other=VALUES)
def test_random_values_give_a_clean_outcome(key, value, extra, other):
    """Through the CLI's own preflight (compose, then validate): never an exception, and
    every problem is one line naming a key."""
    lines = preflight([f"{key}={value}", f"{extra}={other}", "replications=3"], CONF_DIR)
    for line in lines:
        assert "\n" not in line and "Traceback" not in line
        assert "=" in line  # key=value (or the override) is named
    if lines:
        text = " ".join(lines)
        assert key in text or extra in text or "limits.max_participant_replications" in text


def test_all_problems_are_reported_at_once():
    cfg = make_cfg("trial.target_n=1", "sites.pain_services.clinics.consent=2",
                   "design.n_step=0", "follow_up.esw_completion.return_prob=7",
                   "+foo=1", "+trial.targt_n=100")
    keys = [p.key for p in find_problems(cfg)]
    assert set(keys) == {"trial.target_n", "sites.pain_services.clinics.consent",
                         "design.n_step", "follow_up.esw_completion.return_prob", "foo",
                         "trial.targt_n"}
    with pytest.raises(ConfigErrors) as info:
        validate(cfg)
    assert len(info.value.lines()) == len(keys)


@pytest.mark.parametrize("override", ["sites.pain_services.clinics.consent={k:1.5,n:3}",
                                      "sites.pain_services.clinics.consent={k:1,n:2.5}"])
def test_counts_are_whole_numbers(override):
    assert [p.key for p in find_problems(make_cfg(override))] == [
        "sites.pain_services.clinics.consent"]


@pytest.mark.parametrize("key", ["delivery.booklet.appointment_hours",
                                 "delivery.booklet.delay_mean_days",
                                 "delivery.esw.first_appointment_mean_days",
                                 "delivery.ot.joint_delay_mean_days",
                                 "delivery.esw.in_work_support_months",
                                 "screening.delay_mean_days"])
def test_durations_are_bounded(key):
    problems = find_problems(make_cfg(f"{key}=1e12"))
    assert [p.key for p in problems] == [key]


@pytest.mark.parametrize("key", ["delivery.ot.sessions_per_week", "screening.calls_per_day"])
def test_capacities_have_a_floor(key):
    assert [p.key for p in find_problems(make_cfg(f"{key}=1e-12"))] == [key]


def test_outside_collection_a_bad_value_still_raises_at_once():
    from trialsim.inputs.params import build_params

    with pytest.raises(ConfigError, match="trial.target_n"):
        build_params(make_cfg("trial.target_n=1"))


def test_a_run_too_big_is_refused_naming_the_override():
    cfg = make_cfg("trial.target_n=1000000", "sites.pain_services.clinics.rate=5000")
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert "limits.max_participant_replications=" in str(info.value)
    validate(make_cfg("trial.target_n=1000000", "sites.pain_services.clinics.rate=5000",
                      "replications=1", "limits.max_participant_replications=10000000"))
