"""The fitted power curve: the maximum-likelihood probit agrees with statsmodels' Probit on
the same trials, is monotone in N and in ESWs, and reads N for a target power."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr

from trialsim.analysis.power_curve import (
    fit_evaluations,
    fit_power_curve,
    n_for_power,
    smallest_n_by_esw,
)

GRID = [300, 400, 500, 600, 700, 800, 900, 1000]


def _simulated(seed: int = 3, reps: int = 200):
    """Rejections drawn from a known probit curve, two ESW counts."""
    rng = np.random.default_rng(seed)
    rows = []
    for e, a in ((1, -9.0), (2, -8.4)):
        for n in GRID:
            p = float(ndtr(a + 1.45 * math.log(n)))
            rows.append((n, e, int(rng.binomial(reps, p)), reps))
    return rows


def test_fit_agrees_with_statsmodels_probit():
    sm = pytest.importorskip("statsmodels.api")
    rows = _simulated()
    fit = fit_power_curve(*zip(*rows, strict=True))
    assert fit.converged and len(fit.params) == 4  # an intercept and a slope per level
    # the same trials as 0/1 rows
    y, x = [], []
    for n, e, k, m in rows:
        for hit in [1] * k + [0] * (m - k):
            y.append(hit)
            x.append([e == 1, e == 2, (e == 1) * math.log(n), (e == 2) * math.log(n)])
    ref = sm.Probit(np.array(y, float), np.array(x, float)).fit(disp=0, tol=1e-12,
                                                               maxiter=200)
    np.testing.assert_allclose(fit.params, ref.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), ref.bse, rtol=1e-5)
    assert fit.loglik == pytest.approx(ref.llf, abs=1e-6)
    # one common slope: the same with one log N column
    common = fit_power_curve(*zip(*rows, strict=True), common_slope=True)
    x2 = np.array(x, float)
    ref2 = sm.Probit(np.array(y, float), np.column_stack([x2[:, :2], x2[:, 2] + x2[:, 3]])
                     ).fit(disp=0, tol=1e-12, maxiter=200)
    np.testing.assert_allclose(common.params, ref2.params, rtol=0, atol=1e-6)


def test_curve_is_monotone_in_n_and_esws():
    rows = _simulated()
    # make the 2-ESW points read lower than the 1-ESW ones: the intercepts are pooled
    swapped = [(n, 3 - e, k, m) for n, e, k, m in rows]
    for data in (rows, swapped):
        fit = fit_power_curve(*zip(*data, strict=True))
        ns = np.linspace(200, 1500, 300)
        p1, lo1, hi1 = fit.power(ns, 1)
        p2, _, _ = fit.power(ns, 2)
        assert np.all(np.diff(p1) > 0) and np.all(np.diff(p2) > 0)
        assert np.all(p2 >= p1 - 1e-12)
        assert np.all(lo1 <= p1) and np.all(p1 <= hi1)


def test_a_flat_level_shares_the_slope_and_stays_monotone():
    rng = np.random.default_rng(11)
    rows = [(n, 1, int(rng.binomial(100, 0.2)), 100) for n in GRID]  # a plateau: noise
    rows += [(n, 2, int(rng.binomial(100, float(ndtr(-8 + 1.3 * math.log(n))))), 100)
             for n in GRID]
    rows[len(GRID) - 1] = (GRID[-1], 1, 5, 100)  # make the flat level's slope negative
    fit = fit_power_curve(*zip(*rows, strict=True))
    assert fit.common_slope and fit.slope(1) > 0
    ns = np.linspace(300, 1000, 50)
    assert np.all(np.diff(fit.power(ns, 1)[0]) > 0)


def test_n_for_power_inverts_the_curve_and_its_bound_is_above():
    fit = fit_power_curve(*zip(*_simulated(), strict=True))
    got = n_for_power(fit, 0.9, 2)
    p, _, _ = fit.power([got.n], 2)
    assert p[0] == pytest.approx(0.9, abs=1e-9)
    assert got.lower < got.n < got.upper
    assert got.n < got.n_bound < got.upper * 1.5
    # the bound: the pointwise one-sided lower limit reaches 0.9 at n_bound
    eta, se = fit.eta([got.n_bound], 2)
    assert eta[0] - 1.6448536269514722 * se[0] == pytest.approx(1.2815515655446004, abs=1e-6)


def test_smallest_n_by_esw_from_design_evaluations():
    rows = _simulated(reps=400)
    evaluations = [{"step": "curve", "target_n": n, "esw_per_locality": e,
                    "power": k / m, "replications": m} for n, e, k, m in rows]
    fit = fit_evaluations(evaluations)
    picks = smallest_n_by_esw(evaluations, 0.9, GRID)
    for e in (1, 2):
        need = n_for_power(fit, 0.9, e).n_bound
        pick = picks[e]
        assert pick is None or (pick >= need and GRID[GRID.index(pick) - 1] < need)
    assert picks[2] is not None and (picks[1] is None or picks[1] >= picks[2])
    assert fit_evaluations(evaluations[:1]) is None


def _common_seeds(seed: int = 5, reps: int = 200):
    """Decisions from the same replications at every point (common random numbers): a
    replication's latent draw is shared by all its points, so they are correlated."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal(reps)
    points, outcomes = [], []
    for e, a in ((1, -9.0), (2, -8.4)):
        for n in GRID[::2]:
            eta = a + 1.45 * math.log(n)
            y = (0.8 * shared + 0.6 * rng.standard_normal(reps) < eta).astype(float)
            points.append((n, e, int(y.sum()), reps))
            outcomes.append(y)
    return points, outcomes


def test_clustered_covariance_agrees_with_statsmodels():
    """With each point's decisions by replication, the fit is the same and its
    covariance is statsmodels' cluster-robust one, clustered on the replication."""
    sm = pytest.importorskip("statsmodels.api")
    points, outcomes = _common_seeds()
    fit = fit_power_curve(*zip(*points, strict=True), outcomes=outcomes)
    plain = fit_power_curve(*zip(*points, strict=True))
    np.testing.assert_array_equal(fit.params, plain.params)
    y = np.concatenate(outcomes)
    groups = np.concatenate([np.arange(len(o)) for o in outcomes])
    x = np.array([[e == 1, e == 2, (e == 1) * math.log(n), (e == 2) * math.log(n)]
                  for n, e, _, m in points for _ in range(m)], dtype=float)
    ref = sm.Probit(y, x).fit(disp=0, tol=1e-12, maxiter=200, cov_type="cluster",
                              cov_kwds={"groups": groups})
    np.testing.assert_allclose(fit.params, ref.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.cov, ref.cov_params(), rtol=1e-5, atol=1e-10)
    # positively correlated points: the level of a curve is less sure than independent
    # binomials say, its slope (a paired comparison between N) surer
    for e in (1, 2):
        assert fit.eta([600], e)[1][0] > plain.eta([600], e)[1][0]
    assert np.all(np.diag(fit.cov)[2:] < np.diag(plain.cov)[2:])


def test_outcomes_must_match_their_points():
    points, outcomes = _common_seeds()
    with pytest.raises(ValueError, match="outcomes"):
        fit_power_curve(*zip(*points, strict=True), outcomes=outcomes[:-1])
    bad = [o.copy() for o in outcomes]
    bad[0][0] = 1 - bad[0][0]
    with pytest.raises(ValueError, match="outcomes"):
        fit_power_curve(*zip(*points, strict=True), outcomes=bad)


def test_one_replication_a_point_keeps_the_binomial_covariance():
    """A sandwich over one replication is undefined (G - 1 = 0): the points' own
    covariance stands, rather than a division by zero."""
    rng = np.random.default_rng(2)
    points, outcomes = [], []
    for n in GRID:
        y = (rng.random(1) < float(ndtr(-9.0 + 1.45 * math.log(n)))).astype(float)
        points.append((n, 1, int(y.sum()), 1))
        outcomes.append(y)
    if len({k for _, _, k, _ in points}) < 2:  # a slope needs both outcomes
        points[0], outcomes[0] = (GRID[0], 1, 0, 1), np.zeros(1)
        points[-1], outcomes[-1] = (GRID[-1], 1, 1, 1), np.ones(1)
    fit = fit_power_curve(*zip(*points, strict=True), outcomes=outcomes)
    plain = fit_power_curve(*zip(*points, strict=True))
    np.testing.assert_array_equal(fit.cov, plain.cov)
