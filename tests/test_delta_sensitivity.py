"""The delta-adjusted sensitivity analysis is exact: est(delta) = est(0) + delta g equals
the pre-specified estimator (its variance parameters held) applied to the data whose
missing 12-month values are filled with their conditional means under the fitted MAR
model plus delta, computed here by brute force with the dense n x n covariance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trialsim.analysis import delta
from trialsim.analysis.estimators import partially_nested, repeated_measures

DELTA = -0.7


def data(seed: int, n: int = 80, t: int = 3):
    rng = np.random.default_rng(seed)
    ips = np.arange(n) % 2 == 0
    esw = np.where(ips, rng.integers(0, 5, n), -1)
    esw[ips & (rng.random(n) < 0.1)] = -1  # a few IPS participants never seen
    base = rng.normal(5, 1.5, n)
    cov = rng.normal(0, 1, (n, 1))
    u = rng.normal(0, 0.4, 5)
    e = rng.multivariate_normal(np.zeros(t), 0.5 * np.eye(t) + 0.5, n)
    y = 4 + 0.6 * base[:, None] + 0.3 * cov + 0.5 * ips[:, None] + e
    y = y + np.where(esw >= 0, u[np.maximum(esw, 0)], 0.0)[:, None]
    miss = rng.random((n, t)) < np.array([0.15, 0.25, 0.4])
    return np.where(miss, np.nan, y), ips, base, cov, esw


def _filled_gls(x, v, y, observed, shift, d):
    """GLS of y on x with covariance v, y's unobserved entries filled with their
    conditional means at the observed data's GLS fit, plus d * shift."""
    o, m = observed, ~observed
    vi = np.linalg.inv(v[np.ix_(o, o)])
    beta = np.linalg.solve(x[o].T @ vi @ x[o], x[o].T @ vi @ y[o])
    yc = y.copy()
    yc[m] = x[m] @ beta + v[np.ix_(m, o)] @ vi @ (y[o] - x[o] @ beta) + d * shift[m]
    w = np.linalg.inv(v)
    return np.linalg.solve(x.T @ w @ x, x.T @ w @ yc)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_partially_nested_delta_is_the_filled_data_estimate(seed):
    y, ips, base, _, esw = data(seed)
    y12 = y[:, -1]
    obs = ~np.isnan(y12)
    r = partially_nested(y12[obs], ips[obs], base[obs], esw[obs], 0.05,
                         esw_variance="nonnegative")
    assert r.status == "ok"
    shift = delta.shifted(ips, ~obs, "ips")
    g = delta.partially_nested_slope(shift, ips, base, esw, r.fit)
    f = r.fit
    n = len(y12)
    same = (esw[:, None] == esw[None, :]) & (esw[:, None] >= 0) & ips[:, None] & ips[None, :]
    v = f.tau2 * (same | (np.eye(n, dtype=bool) & ips[:, None])) + np.diag(
        np.where(ips, f.s2_ips, f.s2_tau))
    x = np.column_stack([np.ones(n), ips, base])
    assert _filled_gls(x, v, y12, obs, shift, 0.0)[1] == pytest.approx(r.estimate, abs=1e-6)
    assert _filled_gls(x, v, y12, obs, shift, DELTA)[1] == pytest.approx(
        r.estimate + DELTA * g, abs=1e-6)


@pytest.mark.parametrize("seed", [4, 5])
def test_repeated_measures_delta_is_the_filled_data_estimate(seed):
    y, ips, base, cov, esw = data(seed)
    n, t = y.shape
    r = repeated_measures(y, ips, base, esw, 0.05, covariates=cov)
    assert r.status == "ok"
    miss12 = np.isnan(y[:, -1])
    shift = delta.shifted(ips, miss12, "both")
    g = delta.mmrm_slope(shift, ips, base, cov, esw, r.fit, t, esw_intercept=True)
    f = r.fit
    # rows participant-major: (i, wave); X: wave means, IPS x wave, baseline x wave, cov
    rows = [(i, w) for i in range(n) for w in range(t)]
    x = np.zeros((n * t, 3 * t + 1))
    for k, (i, w) in enumerate(rows):
        x[k, w], x[k, t + w], x[k, 2 * t + w], x[k, 3 * t] = 1, ips[i], base[i], cov[i, 0]
    v = np.zeros((n * t, n * t))
    for a, (i, w) in enumerate(rows):
        for b, (j, s) in enumerate(rows):
            if i == j:
                v[a, b] += f.sigma[0][w, s]
            if ips[i] and ips[j] and (i == j or (esw[i] >= 0 and esw[i] == esw[j])):
                v[a, b] += f.tau2
    yy = y.reshape(-1)
    observed = ~np.isnan(yy)
    sh = np.zeros((n, t))
    sh[:, -1] = shift
    e = 2 * t - 1
    assert _filled_gls(x, v, yy, observed, sh.reshape(-1), 0.0)[e] == pytest.approx(
        r.estimate, abs=1e-6)
    assert _filled_gls(x, v, yy, observed, sh.reshape(-1), DELTA)[e] == pytest.approx(
        r.estimate + DELTA * g, abs=1e-6)


def test_tipping_point_is_where_the_decision_changes():
    est, se, df, slope = 0.9, 0.35, 20.0, 0.6
    tip = delta.tipping_delta(est, se, df, slope, 0.05)
    assert delta.rejects_at(est, se, df, slope, 0.0, 0.05)
    assert delta.rejects_at(est, se, df, slope, tip + 1e-9, 0.05)
    assert not delta.rejects_at(est, se, df, slope, tip - 1e-9, 0.05)
    assert math.isnan(delta.tipping_delta(est, se, df, 0.0, 0.05))
    assert math.isfinite(delta.tipping_delta(est, se, math.inf, slope, 0.05))


@pytest.mark.parametrize("missing", ["repeated_measures", "complete_case"])
def test_each_arms_tipping_point_and_both_arms_as_their_sum(missing):
    """The run's columns give the tipping point of each arm shifted alone and of both;
    both arms' slope, computed directly with the shift in both arms, is the sum of each
    arm's (the estimator is linear in the shifted values), and the planner's arm's
    column is its own arm's."""
    from trialsim.analysis.trial_analysis import (
        TrialData,
        _delta_slope,
        analyse_rtw_se,
        sensitivity_columns,
    )
    from trialsim.inputs.compose import compose_config
    from trialsim.inputs.params import build_params
    from trialsim.model.trial import simulate_replication

    params = build_params(compose_config(["trial.target_n=160",
                                          f"analysis.missing_data={missing}"]))
    a = params.analysis
    d = TrialData.from_replication(simulate_replication(params, 3, 1),
                                   every_wave=missing != "complete_case")
    r, _ = analyse_rtw_se(d, a)
    assert r.status == "ok"
    g = {arm: _delta_slope(r, d, a, missing, arm) for arm in ("ips", "tau", "both")}
    assert g["ips"] > 0 > g["tau"]  # raising IPS values raises the effect, TAU values lower it
    assert g["both"] == pytest.approx(g["ips"] + g["tau"], rel=1e-9, abs=1e-12)
    cols = sensitivity_columns("s", r, d, a, missing)
    sd = cols["s_delta_sd"]
    for arm in ("ips", "tau", "both"):
        want = delta.tipping_delta(r.estimate, r.se, r.df, g[arm] * sd, a.alpha)
        assert cols[f"s_tipping_delta_{arm}"] == pytest.approx(want, rel=1e-9)
    assert cols["s_tipping_delta"] == cols[f"s_tipping_delta_{a.delta_arm}"]
