"""Every key, any value: a clean outcome (nothing, or one line per problem), never a
traceback; all problems reported at once; counts are whole; durations bounded."""

from __future__ import annotations

import copy

import pytest
from conftest import CONF_DIR, make_cfg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from omegaconf.errors import (
    ConfigKeyError,
    ConfigTypeError,
    ConfigValueError,
    ValidationError,
)

from trialsim.app import validate
from trialsim.cli import preflight
from trialsim.errors import ConfigError, ConfigErrors
from trialsim.inputs.params import build_params
from trialsim.inputs.validation import find_problems


def _leaves(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}{k}.")
    else:
        yield prefix[:-1]


DEFAULTS = OmegaConf.to_container(make_cfg(), resolve=False)
KEYS = sorted(set(_leaves(DEFAULTS)))

BASE = make_cfg()
REFUSED_BY_HYDRA = (ValidationError, ConfigKeyError, ConfigTypeError, ConfigValueError)
VALUES = st.one_of(
    st.text(alphabet="abcxyz_", min_size=1, max_size=6),
    st.integers(-10**13, 10**13),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(), st.booleans(),
    st.lists(st.integers(-5, 50), max_size=3),
    st.fixed_dictionaries({"k": st.floats(-5, 50), "n": st.floats(-5, 50)}),
    st.fixed_dictionaries({"events": st.floats(-5, 50), "exposure": st.floats(-5, 50)}),
)


def test_every_key_is_covered():
    assert len(KEYS) > 150
    assert {"design.n_start", "limits.max_participant_replications", "resume"} <= set(KEYS)


def _named(key: str, text: str) -> bool:
    """A key of the changed key's section is named: the key itself, the entry holding
    it (a proportion's {k, n}), or a key checked against it (median > q75 is told at q75)."""
    return f"{key.split('.')[0]}" in text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.sampled_from(KEYS), VALUES), min_size=1, max_size=3))
def test_random_values_give_a_clean_outcome(changes):
    """Any values of any keys, through the CLI's validate: refused by the schema (as Hydra
    refuses at compose), or one line per problem naming its key; never another exception."""
    cfg = copy.deepcopy(BASE)
    try:
        for key, value in changes:
            OmegaConf.update(cfg, key, value, merge=False)
    except REFUSED_BY_HYDRA:
        return
    problems = find_problems(cfg)
    text = " ".join(str(p) for p in problems)
    for p in problems:
        assert "\n" not in str(p) and f"{p.key}=" in str(p)
    if problems:
        assert any(_named(key, text) for key, _ in changes)
    else:  # a clean pass: every model-side builder accepts the values
        build_params(cfg)


@pytest.mark.parametrize("args", [
    ["trial.target_n=abc"], ["+foo=1", "trial.target_n=1"], ["sites=5"],
    ["delivery.esw.caseload=[1]", "outcome.esw_icc=nan"], ["~trial.target_n"],
    ["sites.pain_services.clinics.rate={events:1,exposure:0}"], ["trial.block_sizes=[3,0]"],
])
def test_the_cli_preflight_gives_one_line_per_problem(args):
    lines = preflight([*args, "replications=3"], CONF_DIR)
    keys = [a.split("=")[0].lstrip("+~") for a in args]
    assert len(lines) >= len(args)  # one line per problem, all reported at once
    assert all("\n" not in ln and any(k in ln for k in keys) for ln in lines), lines


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


def test_every_bad_choice_in_a_section_is_reported_with_the_others():
    """A key naming one of a few choices is recorded and checking goes on (checks.choice),
    so a bad analysis.method does not hide a bad analysis.primary after it."""
    cfg = make_cfg("analysis.method=mixed", "analysis.primary=both", "analysis.alpha=2",
                   "trial.allocation=minimisation", "uncertainty.mode=full")
    assert [p.key for p in find_problems(cfg)] == [
        "trial.allocation", "analysis.alpha", "analysis.method", "analysis.primary",
        "uncertainty.mode"]


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
