"""Participant characteristics drawn to match the pilot (Table 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_cfg, z_share

from trialsim.errors import ConfigError
from trialsim.inputs.params import PAIN_SERVICE, PILOT_PAIN_SHARE, PRIMARY_CARE, build_params


def test_years_out_of_work_match_table_4_quartiles_and_the_long_term_group():
    years_law = build_params(make_cfg()).years_out_of_work
    # in law, exactly: Table 4's quartiles, and the long-term group of 4 in 39 over 20 years
    for q, level in ((1.3, 0.25), (3.0, 0.5), (5.5, 0.75)):
        assert years_law.cdf(q) == pytest.approx(level, abs=1e-9)
    over_20 = 1 - years_law.cdf(20.0)
    assert 4 / 39 <= over_20 < 4 / 39 + 0.005  # the group, and a little log-normal tail
    # drawn: 4000 uniforms, each share within 4 binomial SE of its law
    rng = np.random.default_rng(4)
    years = np.array([years_law.draw(u) for u in rng.random(4000)])
    assert years.min() >= 0.25  # eligibility: out of work more than 3 months
    assert years.max() <= 30.0  # the longest in the pilot: 20-30 years
    for q, level in ((1.3, 0.25), (3.0, 0.5), (5.5, 0.75), (20.0, 1 - over_20)):
        assert abs(z_share(int((years <= q).sum()), len(years), level)) <= 4


def test_years_drawn_a_block_at_a_time_equal_each_draw_to_the_last_bit():
    # the model draws years in blocks (YearsOutOfWork.draws): the same numbers as draw()
    years_law = build_params(make_cfg()).years_out_of_work
    cut = 1 - years_law.share
    u = np.concatenate([np.random.default_rng(5).random(2000),
                        [0.0, cut, np.nextafter(cut, 0.0), np.nextafter(1.0, 0.0)]])
    assert years_law.draws(u) == [years_law.draw(v) for v in u.tolist()]


def test_pain_service_recruits_are_longer_out_of_work_and_the_pilot_mix_keeps_table_4():
    """Years by setting: pain services `pain_service_ratio` times primary care's, and at
    the pilot's mix (13 of 50 from pain services) the median is Table 4's 3.0 exactly."""
    law = build_params(make_cfg("participants.years_out_of_work.pain_service_ratio=1.5")) \
        .years_out_of_work
    c = law.scales
    assert c[PAIN_SERVICE] == pytest.approx(1.5 * c[PRIMARY_CARE], rel=1e-12)
    s = PILOT_PAIN_SHARE
    mixed = (1 - s) * law.cdf(3.0 / c[PRIMARY_CARE]) + s * law.cdf(3.0 / c[PAIN_SERVICE])
    assert mixed == pytest.approx(0.5, abs=1e-9)
    u = np.random.default_rng(6).random(20000)
    base = np.array(law.draws(u))
    for setting in (PRIMARY_CARE, PAIN_SERVICE):
        drawn = np.array([law.in_setting(setting, y) for y in base])
        assert drawn.min() >= law.minimum and drawn.max() <= law.maximum
    pain = np.array([law.in_setting(PAIN_SERVICE, y) for y in base])
    primary = np.array([law.in_setting(PRIMARY_CARE, y) for y in base])
    assert np.median(pain) == pytest.approx(1.5 * np.median(primary), rel=1e-9)
    # ratio 1: one distribution, every draw unchanged
    one = build_params(make_cfg("participants.years_out_of_work.pain_service_ratio=1")) \
        .years_out_of_work
    assert all(one.in_setting(PAIN_SERVICE, y) == y == one.in_setting(PRIMARY_CARE, y)
               for y in base[:500])


def test_quadrature_nodes_integrate_the_distribution():
    years_law = build_params(make_cfg()).years_out_of_work
    years, weights = years_law.law_nodes
    assert sum(weights) == pytest.approx(1.0)
    assert min(years) >= 0.25 and max(years) <= 30.0
    # the share over 20 years and the mean log years, against many nodes
    y, w = (np.array(v) for v in years_law.nodes(40, 20))
    yl, wl = (np.array(v) for v in (years, weights))
    assert wl @ np.log(yl) == pytest.approx(w @ np.log(y), abs=0.02)


@pytest.mark.parametrize(("key", "value"), [
    ("participants.years_out_of_work.long_term_share", "{k:12,n:39}"),
    ("participants.years_out_of_work.long_term_share", "-0.1"),
    ("participants.years_out_of_work.long_term_from", "4"),
    ("participants.years_out_of_work.long_term_from", "35"),
    ("participants.years_out_of_work.minimum", "2"),
])
def test_bad_years_out_of_work_is_refused_naming_the_key(key, value):
    with pytest.raises(ConfigError) as err:
        build_params(make_cfg(f"{key}={value}"))
    assert err.value.key == key


def test_the_setting_scale_root_is_brentqs_to_the_last_bit():
    """params.brent_root (no scipy.optimize on the answer's path) is scipy's brentq step for
    step: the same root bit for bit (a root one bit off moves the seeded draws)."""
    from scipy.optimize import brentq

    from trialsim.inputs.params import brent_root

    for ratio in (1.01, 1.2, 1.5, 3.0, 9.0):
        law = build_params(make_cfg(
            f"participants.years_out_of_work.pain_service_ratio={ratio}")).years_out_of_work
        m, s = law.median, PILOT_PAIN_SHARE

        def excess(log_c, law=law, m=m, s=s, ratio=ratio):
            c = math.exp(log_c)
            return (1 - s) * law.cdf(m / c) + s * law.cdf(m / (c * ratio)) - 0.5

        lo, hi = -math.log(ratio) - 1.0, 1.0
        assert brent_root(excess, lo, hi, xtol=1e-14) == brentq(excess, lo, hi, xtol=1e-14)
        assert law.scales[PRIMARY_CARE] == math.exp(brentq(excess, lo, hi, xtol=1e-14))
    cases = [(lambda x: x ** 3 - 2.0, 0.0, 3.0), (lambda x: math.exp(-x) - 0.5, 0.0, 3.0),
             (lambda x: math.cos(x) - x, -2.0, 2.0), (lambda x: math.atan(x - 0.3), -9.0, 1.0),
             (lambda x: x ** 9 - 1e-3, -1.0, 4.0), (lambda x: x, 0.0, 1.0)]
    for f, a, b in cases:
        for xtol in (1e-14, 1e-8, 2e-12):
            assert brent_root(f, a, b, xtol=xtol) == brentq(f, a, b, xtol=xtol)
    with pytest.raises(ValueError):
        brent_root(lambda x: x * x + 1.0, -1.0, 1.0)
