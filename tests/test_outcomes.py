"""The RTW self-efficacy generator against its own stated moments."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import make_cfg

from trialsim.errors import ConfigError
from trialsim.inputs.params import build_params
from trialsim.model.outcomes import rtw_self_efficacy

MONTHS = (3.0, 6.0, 12.0)


def outcome(**changes):
    return dataclasses.replace(build_params(make_cfg()).outcome, **changes)


def draw(o, n=40000, n_esw=0, working=None, seed=1):
    rng = np.random.default_rng(seed)
    ips = np.arange(n) % 2 == 0
    esw = np.where(ips, (np.arange(n) // 2) % max(n_esw, 1), -1) if n_esw else np.full(n, -1)
    working = np.zeros((n, len(MONTHS)), bool) if working is None else working
    return ips, rtw_self_efficacy(ips, esw, working, MONTHS, o, n_esw, rng)


def test_means_effect_and_correlation_match_the_parameters():
    # centred on 5 with SD 1 so that clipping to 0-10 is negligible
    o = outcome(control_means=(5.0,) * 4, control_sds=(1.0,) * 4, ips_sds=(1.0,) * 4,
                work_effect=0.0, esw_icc=0.0, effect_m12=0.8, within_person_corr=0.5)
    ips, y = draw(o)
    n_arm = ips.sum()
    se = np.sqrt(2 / n_arm)  # SD 1 in each arm
    assert abs((y[ips, 3].mean() - y[~ips, 3].mean()) - 0.8) <= 4 * se
    assert abs((y[ips, 1].mean() - y[~ips, 1].mean()) - 0.2) <= 4 * se  # linear: 3/12
    assert abs(y[~ips, 0].mean() - 5.0) <= 4 / np.sqrt(n_arm)
    r = np.corrcoef(y[~ips, 0], y[~ips, 3])[0, 1]
    assert abs(np.arctanh(r) - np.arctanh(0.5)) <= 4 / np.sqrt(n_arm - 3)


def test_table_10_trajectories_after_clipping():
    o = outcome(work_effect=0.0, esw_icc=0.0)
    ips, y = draw(o)
    effect = (0.0, 0.25, 0.5, 1.0)  # effect_m12 = 1, linear from baseline
    for col, (mean, sd, ips_sd) in enumerate(zip((5.1, 3.9, 2.7, 3.4), (2.2, 2.5, 2.6, 2.2),
                                                 (2.2, 2.7, 2.6, 2.7), strict=True)):
        # clipping at 0 lifts a low mean by up to about 0.2 points: the tolerance is that
        assert abs(y[~ips, col].mean() - mean) <= 0.25
        assert abs(y[ips, col].mean() - mean - effect[col]) <= 0.25
        assert y[~ips, col].std() <= sd + 0.05  # clipping only shrinks the spread
        assert y[ips, col].std() <= ips_sd + 0.05


def test_each_arm_has_its_own_sd_and_the_effect_is_the_difference_in_means():
    # Table 10's IPS SD at 12 months (2.7) against TAU's (2.2), centred so clipping is nil
    o = outcome(control_means=(5.0,) * 4, control_sds=(1.0, 1.0, 1.0, 1.0),
                ips_sds=(1.0, 1.2, 1.2, 1.5), work_effect=0.0, esw_icc=0.0,
                effect_m12=0.5, within_person_corr=0.5)
    ips, y = draw(o, n=60000)
    n_arm = ips.sum()
    for col, (sd_tau, sd_ips) in enumerate(zip((1.0, 1.0, 1.0, 1.0), (1.0, 1.2, 1.2, 1.5),
                                               strict=True)):
        # SE of a normal sample SD is sd / sqrt(2(n-1)); 4 SE
        assert abs(y[~ips, col].std(ddof=1) - sd_tau) <= 4 * sd_tau / np.sqrt(2 * (n_arm - 1))
        assert abs(y[ips, col].std(ddof=1) - sd_ips) <= 4 * sd_ips / np.sqrt(2 * (n_arm - 1))
    se = np.sqrt((1.0 + 1.5 ** 2) / n_arm)
    assert abs((y[ips, 3].mean() - y[~ips, 3].mean()) - 0.5) <= 4 * se
    r = np.corrcoef(y[ips, 0], y[ips, 3])[0, 1]  # scaling a wave keeps the correlation
    assert abs(np.arctanh(r) - np.arctanh(0.5)) <= 4 / np.sqrt(n_arm - 3)


def test_ips_sds_default_to_the_control_and_share_the_baseline():
    o = build_params(make_cfg("outcome.ips_sds=null")).outcome
    assert o.ips_sds == o.control_sds
    with pytest.raises(ConfigError, match=r"outcome\.ips_sds\[0\]"):
        build_params(make_cfg("outcome.ips_sds=[2.0,2.7,2.6,2.7]"))
    with pytest.raises(ConfigError, match=r"outcome\.ips_sds"):
        build_params(make_cfg("outcome.ips_sds=[2.2,2.7]"))


def test_esw_icc_is_the_share_of_ips_variance_between_esws():
    o = outcome(control_means=(5.0,) * 4, control_sds=(1.0,) * 4, ips_sds=(1.0,) * 4,
                work_effect=0.0,
                esw_icc=0.1, effect_m12=0.0)
    n_esw, m = 200, 50
    ips, y = draw(o, n=2 * n_esw * m, n_esw=n_esw)
    esw = ((np.arange(len(ips)) // 2) % n_esw)[ips]
    y12 = y[ips, 3]
    means = np.array([y12[esw == j].mean() for j in range(n_esw)])
    within = np.mean([y12[esw == j].var(ddof=1) for j in range(n_esw)])
    between = means.var(ddof=1) - within / m
    icc = between / (between + within)
    se = np.sqrt(2 * (1 - 0.1) ** 2 * (1 + (m - 1) * 0.1) ** 2 / (m * (m - 1) * (n_esw - 1)))
    assert abs(icc - 0.1) <= 4 * se
    assert abs(y[~ips, 3].std() - 1.0) <= 4 / np.sqrt(2 * (~ips).sum())  # no ESW effect in TAU


def test_work_effect_leaves_arm_means_but_separates_workers():
    o = outcome(control_means=(5.0,) * 4, control_sds=(1.0,) * 4, ips_sds=(1.0,) * 4,
                work_effect=1.0,
                esw_icc=0.0, effect_m12=0.0)
    n = 40000
    working = np.random.default_rng(3).random((n, 3)) < 0.3
    ips, y = draw(o, n=n, working=working)
    se = np.sqrt(2 / (n / 2))
    assert abs(y[ips, 3].mean() - y[~ips, 3].mean()) <= 4 * se
    gap = y[working[:, 2], 3].mean() - y[~working[:, 2], 3].mean()
    assert abs(gap - 1.0) <= 4 * np.sqrt(1 / working[:, 2].sum() + 1 / (~working[:, 2]).sum())
