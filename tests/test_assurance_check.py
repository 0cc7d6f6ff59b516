"""Assurance with only the effect uncertain is the power averaged over the effect prior.

Every other input a plain number, the true effect drawn from Normal(mu, sd): the
assurance run's replication r rejects or not at its drawn effect theta_r; the same
replication run at a fixed effect theta (same seed, so the same recruitment, follow-up
and outcome noise) rejects at reject_r(theta). E[power(theta)] under the prior is
computed by Gauss-Hermite quadrature over theta at 5 nodes, on those same replications,
so the check compares D_r = reject_r(theta_r) - sum_i w_i reject_r(theta_i), whose mean
is the quadrature's error and whose Monte Carlo SE is the spread of D_r over sqrt(R)
(D_r are independent across replications). The quadrature error is far below it: on a
probit power curve Phi((theta - c) / s) with s = 0.6 (about this trial's SE), 5 nodes
differ from the closed form Phi((mu - c) / sqrt(s^2 + sd^2)) by less than 0.002.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from conftest import make_cfg
from scipy import stats

from trialsim.experiments.runner import run_replications
from trialsim.inputs.params import build_params, with_supported_entry
from trialsim.inputs.uncertainty import at_estimates

MU, SD, SEED, R = 1.0, 0.6, 4242, 150
NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(5)
WEIGHTS = WEIGHTS / WEIGHTS.sum()  # probabilists' Hermite: weights of N(0, 1)


def test_quadrature_of_a_probit_power_curve_is_accurate():
    for c in (0.5, 1.0, 2.0):
        exact = stats.norm.cdf((MU - c) / math.hypot(0.6, SD))
        approx = float(WEIGHTS @ stats.norm.cdf((MU + SD * NODES - c) / 0.6))
        assert abs(approx - exact) < 0.002


def test_effect_only_assurance_is_the_power_averaged_over_the_prior():
    cfg = make_cfg("analysis.method=ancova", "trial.target_n=100",
                   "sites.pain_services.count=8", "uncertainty.mode=pilot",
                   f"outcome.effect_m12={MU}", f"uncertainty.effect_prior_sd={SD}",
                   "uncertainty.frailty_shape_log_sd=0", "uncertainty.outcome_sd_df=inf",
                   "uncertainty.within_person_corr_sd=0", "uncertainty.esw_icc_sd=0")
    params = with_supported_entry(at_estimates(build_params(cfg)))
    assert params.uncertainty is not None
    assured = run_replications(params, R, SEED).replications["primary_reject"].to_numpy()
    point = dataclasses.replace(params, uncertainty=None)
    at = np.column_stack([
        run_replications(dataclasses.replace(point, outcome=dataclasses.replace(
            point.outcome, effect_m12=MU + SD * x)), R, SEED).replications["primary_reject"]
        for x in NODES])
    # reject_r(theta) rises with theta: the 5 nodes' curve is increasing on average
    assert np.all(np.diff(at.mean(axis=0)) >= -0.05)
    d = assured - at @ WEIGHTS
    mc_se = d.std(ddof=1) / math.sqrt(R)
    assert 0 < mc_se < 0.05
    assert abs(d.mean()) <= 4 * mc_se, (assured.mean(), float((at @ WEIGHTS).mean()), mc_se)
