"""Smoke test of the validation case `unequal_allocation_power` (the full run is in
`make validate`): its closed form is Moerbeek and Wong's (as clusterPower's
cpa.irgtt.normal computes it), and a small seeded run at 1:2 passes its own rule."""

from __future__ import annotations

import pytest
from scipy import stats

from trialsim import validate
from trialsim.experiments.validation.allocation import (
    closed_form_power,
    moerbeek_wong_variance,
    ratio_result,
)
from trialsim.experiments.validation.core import PASS, Context


def test_variance_is_moerbeek_wong_as_cluster_power_computes_it():
    """clusterPower's documented example: 10 clusters of 10, d 0.5, varu 0.1, varei 0.9,
    varr 1 need 77.81084 controls for power 0.8 (normal reference)."""
    v_ips, v_tau = moerbeek_wong_variance(100, 77.81084, 10, icc=0.1, sd=1.0)
    assert v_ips == pytest.approx((10 * 0.1 + 0.9) / (10 * 10))
    z = stats.norm.ppf(0.975)
    assert stats.norm.sf(z - 0.5 / (v_ips + v_tau) ** 0.5) == pytest.approx(0.8, abs=1e-5)


def test_power_falls_slightly_towards_tau_at_fixed_n():
    """With the clustering in the IPS arm, the IPS arm's variance is the larger: at a
    fixed N moving participants to TAU costs a little power (N 200, 10 ESWs, ICC 0.05)."""
    powers = [closed_form_power(200 * s, 200 * (1 - s)) for s in (1 / 2, 2 / 5, 1 / 3)]
    assert powers[0] > powers[1] > powers[2] > powers[0] - 0.06


def test_small_run_at_one_to_two_passes():
    r = ratio_result(Context(fast=True, seed=validate.SEED), "1:2", 30, 33)
    assert r.status == PASS and "1:2" in r.quantity
    assert "67 + 133 analysed" in r.quantity  # N 200 split 1:2 in the clean setting
