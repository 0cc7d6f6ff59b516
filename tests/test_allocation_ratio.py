"""trial.allocation_ratio: checked with one line naming the key; blocks hold the ratio
exactly; at 1:1 the draws are those of the rule before the ratio existed; expected arm
counts and ESW caseloads in closed form, falling as allocation moves towards TAU."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pytest
from conftest import CONF_DIR, make_cfg
from hypothesis import given, settings
from hypothesis import strategies as st

from trialsim.cli import preflight
from trialsim.experiments.allocation_lever import (
    ips_per_esw,
    ratio_changes,
    rescaled_unclustered,
    unclustered_factor,
)
from trialsim.experiments.runner import run_replications
from trialsim.inputs.allocation_ratio import EQUAL, AllocationRatio, parse_ratio, ratio_candidates
from trialsim.inputs.compose import with_changes
from trialsim.inputs.params import build_params
from trialsim.inputs.validation import find_problems
from trialsim.inputs.workload import expected_arms, expected_ips_per_esw
from trialsim.model.randomisation import StratifiedBlocks
from trialsim.model.records import IPS, TAU


@functools.cache
def default_params():
    return build_params(make_cfg())


RATIOS = st.builds(lambda a, b: parse_ratio(f"{a}:{b}"), st.integers(1, 10),
                   st.integers(1, 10))


def test_ratio_forms():
    assert parse_ratio("1:1") == EQUAL
    assert parse_ratio(" 2 : 3 ") == AllocationRatio(2, 3)
    assert parse_ratio("2:4") == AllocationRatio(1, 2)  # lowest terms
    assert AllocationRatio(1, 2).expected_counts(300) == (100, 200)
    assert AllocationRatio(2, 3).suggested_blocks() == (10, 15)
    assert EQUAL.suggested_blocks() == (4, 6)  # the default block sizes


def test_default_is_one_to_one_with_the_configured_blocks():
    p = default_params()
    assert p.allocation_ratio == EQUAL and p.block_sizes == (4, 6)
    assert build_params(make_cfg("trial.block_sizes=auto")).block_sizes == (4, 6)
    p = build_params(make_cfg("trial.allocation_ratio=1:2", "trial.block_sizes=auto"))
    assert p.allocation_ratio == AllocationRatio(1, 2) and p.block_sizes == (6, 9)


@pytest.mark.parametrize(("args", "key"), [
    (["trial.allocation_ratio=0:1"], "trial.allocation_ratio"),
    (["trial.allocation_ratio=11:1"], "trial.allocation_ratio"),
    (["trial.allocation_ratio=half"], "trial.allocation_ratio"),
    (["trial.allocation_ratio=[1,2]"], "trial.allocation_ratio"),
    (["trial.allocation_ratio=62"], "trial.allocation_ratio"),  # YAML's unquoted 1:2
    (["trial.allocation_ratio=1:2"], "trial.block_sizes[0]"),  # [4, 6] do not hold 1:2
    (["trial.allocation_ratio=2:3", "trial.block_sizes=[5,12]"], "trial.block_sizes[1]"),
    (["trial.block_sizes=word"], "trial.block_sizes"),
])
def test_bad_values_give_one_line_naming_the_key(args, key):
    problems = find_problems(make_cfg(*args))
    assert [p.key for p in problems] == [key]
    assert "allowed" in str(problems[0]) and "\n" not in str(problems[0])


@pytest.mark.parametrize("args", [["trial.allocation_ratio=1:0"],
                                  ["trial.allocation_ratio=1:2"]])
def test_the_command_line_says_it_in_one_line(args):
    lines = preflight([*args, "replications=3"], CONF_DIR)
    assert len(lines) == 1 and "\n" not in lines[0] and "allowed" in lines[0]


def _old_blocks(sizes, rng, strata, n):
    """The 1:1 rule as it was before the ratio: the oracle for bit-identical draws."""
    pending, out = {}, []
    for i in range(n):
        p = pending.setdefault(strata[i], [])
        if not p:
            half = sizes[int(rng.integers(len(sizes)))] // 2
            p.extend([IPS] * half + [TAU] * half)
            rng.shuffle(p)
        out.append(p.pop())
    return out


def test_one_to_one_draws_are_unchanged():
    strata = ["a", "b", "a", "a", "b"] * 40
    new = StratifiedBlocks((4, 6), np.random.default_rng(5))
    got = [new.allocate(s, 0.0) for s in strata]
    assert got == _old_blocks((4, 6), np.random.default_rng(5), strata, len(strata))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(ratio=RATIOS, repeats=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       n=st.integers(1, 200), seed=st.integers(0, 2**32 - 1))
def test_every_block_holds_the_ratio(ratio, repeats, n, seed):
    sizes = tuple(r * ratio.total for r in repeats)
    blocks = StratifiedBlocks(sizes, np.random.default_rng(seed), ratio)
    ips = 0
    for i in range(1, n + 1):
        ips += blocks.allocate("s", 0.0) == IPS
        # never further from the ratio's share than one (largest) block's worth
        assert abs(ips - i * ratio.ips_share) <= max(sizes) * max(ratio.ips_share,
                                                                   1 - ratio.ips_share)
        if not blocks._pending["s"]:  # a block just completed: exactly the ratio
            assert ips * ratio.tau == (i - ips) * ratio.ips


def test_block_sizes_that_break_the_ratio_are_refused_in_the_model():
    with pytest.raises(ValueError, match="ratio 1:2"):
        StratifiedBlocks((4,), np.random.default_rng(0), AllocationRatio(1, 2))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(a=RATIOS, b=RATIOS, n=st.integers(4, 5000))
def test_towards_tau_lowers_ips_and_esw_caseload(a, b, n):
    """Property: at fixed N, a ratio with a smaller IPS share expects fewer IPS
    participants and fewer per ESW; the arms add up to N."""
    params = default_params()
    pa = dataclasses.replace(params, allocation_ratio=a)
    pb = dataclasses.replace(params, allocation_ratio=b)
    ips_a, tau_a = expected_arms(pa, n)
    assert ips_a + tau_a == pytest.approx(n)
    assert ips_a == pytest.approx(n * a.ips / (a.ips + a.tau))  # closed form
    if a.ips_share > b.ips_share:
        assert expected_arms(pb, n)[0] < ips_a
        assert expected_ips_per_esw(pb, n) < expected_ips_per_esw(pa, n)
    esws = params.localities * params.delivery.esw_per_locality
    assert expected_ips_per_esw(pa, n) == pytest.approx(ips_per_esw(n, a, esws))


def test_simulated_arms_match_the_closed_form_and_fall_towards_tau():
    """Seeded runs at fixed N (60, every trial reaches it): each trial's IPS count is
    within one block per setting of N x share, and moving towards TAU lowers both the
    IPS count and the peak ESW caseload."""
    base = make_cfg("scenario=pain_services", "trial.target_n=60",
                    "trial.recruitment_months=120", "trial.block_sizes=auto")
    ips, peak = [], []
    for text in ("1:1", "2:3", "1:2"):
        ratio = parse_ratio(text)
        cfg = with_changes(base, ratio_changes(base, ratio))
        rows = run_replications(build_params(cfg), 8, 11, figures=False).replications
        assert (rows["randomised"] == 60).all()
        expected = expected_arms(build_params(cfg), 60)[0]
        assert (abs(rows["ips"] - expected) <= max(ratio.suggested_blocks())).all()
        ips.append(rows["ips"].mean())
        peak.append(rows["delivery_max_caseload"].mean())
    assert ips[0] > ips[1] > ips[2]
    assert peak[0] > peak[2]


def test_design_helpers():
    base = make_cfg()
    assert ratio_changes(base, EQUAL) == {"trial.allocation_ratio": "1:1",
                                         "trial.block_sizes": [4, 6]}
    assert ratio_changes(base, AllocationRatio(1, 2))["trial.block_sizes"] == [6, 9]
    cfg = with_changes(base, ratio_changes(base, AllocationRatio(2, 3)))
    assert build_params(cfg).block_sizes == (10, 15)
    assert ratio_candidates("design.allocation_ratios", ["1:1", "2:4", "1:2"]) == (
        EQUAL, AllocationRatio(1, 2))
    from trialsim.inputs.checks import collecting
    with collecting() as problems:
        ratio_candidates("design.allocation_ratios", ["1:1", "x"])
    assert [p.key for p in problems] == ["design.allocation_ratios[1]"]
    a = unclustered_factor(0.5, 2.0, 1.0)
    assert rescaled_unclustered(a, EQUAL, AllocationRatio(1, 2), 2.0, 1.0) == \
        pytest.approx(unclustered_factor(1 / 3, 2.0, 1.0))
    assert math.isclose(unclustered_factor(0.5, 1.0, 1.0), 4.0)


def test_power_guess_moves_its_unclustered_term_with_the_ratio():
    from trialsim.experiments.power_guess import PowerGuess

    guess = PowerGuess.from_params(default_params(), uncertain=False)
    assert guess.share == 0.5
    guess.a = 8.0
    assert guess.power(200, 8, share=0.5) == guess.power(200, 8)  # as before
    assert guess.unclustered_at(1 / 3) == pytest.approx(
        8.0 * unclustered_factor(1 / 3, guess.var_ips, guess.var_tau)
        / unclustered_factor(0.5, guess.var_ips, guess.var_tau))
    assert guess.power(200, 8, share=1 / 3) < guess.power(200, 8)


def test_a_ratio_outside_blocks_is_warned():
    from trialsim.inputs.warnings import config_warnings

    params = dataclasses.replace(default_params(), allocation="pilot_capacity",
                                 allocation_ratio=AllocationRatio(1, 2), block_sizes=(6, 9))
    assert any("trial.allocation_ratio=1:2" in w for w in config_warnings(params, "x"))
    assert not any("allocation_ratio" in w for w in config_warnings(default_params(), "x"))
