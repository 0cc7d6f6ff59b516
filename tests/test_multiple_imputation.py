"""The imputation model and Rubin's rules beyond the mice fixtures (those are in
tests/test_r_agreement.py): what imputation keeps, its seeding, the posterior draw, and
that the pooled analysis is unbiased with nominal coverage under missingness at random.
Seeded; tolerances from the Monte Carlo error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from trialsim.analysis.multiple_imputation import impute_by_arm, norm_draw, rubin


def trial(rng, n=200, effect=1.0):
    ips = np.arange(n) % 2 == 0
    base = rng.normal(20, 5, n)
    work = (rng.random(n) < 0.3).astype(float)
    cov = np.array([[16, 9, 8], [9, 20, 11], [8, 11, 25.0]])
    e = rng.standard_normal((n, 3)) @ np.linalg.cholesky(cov).T
    y = 3 + 0.6 * base[:, None] + 2 * work[:, None] + effect * ips[:, None] * [0.5, 0.8, 1] + e
    full = y.copy()
    # MAR: dropout after wave 1 more likely with a low baseline or a low wave-1 score
    p = 1 / (1 + np.exp(-(-1.0 - 0.15 * (base - 20) - 0.1 * (y[:, 0] - y[:, 0].mean()))))
    drop = rng.random(n) < p
    y[drop, 1:] = np.nan
    y[rng.random(n) < 0.1, 0] = np.nan
    return y, full, ips, base, work


def test_imputation_keeps_observed_values_and_is_seeded():
    y, _, ips, base, work = trial(np.random.default_rng(1))
    cov = np.column_stack([base, work])
    a = impute_by_arm(y, ips, cov, 5, np.random.default_rng(7))
    b = impute_by_arm(y, ips, cov, 5, np.random.default_rng(7))
    assert a.shape == (5, *y.shape) and np.array_equal(a, b)
    obs = ~np.isnan(y)
    assert np.array_equal(a[:, obs], np.broadcast_to(y[obs], (5, obs.sum())))
    assert not np.isnan(a).any()
    assert np.ptp(a[:, ~obs], axis=0).min() > 0  # every imputation draws afresh


def one_copy_at_a_time(y, ips, cov, m, rng):
    """impute_by_arm as it was written before its copies were stacked (norm_draw, copy by
    copy): the reference the stacked draws are held to."""
    out = np.repeat(y[None], m, axis=0)
    for arm in (ips, ~ips):
        idx = np.flatnonzero(arm)
        base = np.column_stack([np.ones(len(idx)), cov[idx]])
        for w in range(y.shape[1]):
            obs = ~np.isnan(y[idx, w])
            if obs.all():
                continue
            for k in range(m):
                x = np.column_stack([base, out[k][idx][:, :w]])
                beta, sigma = norm_draw(x[obs], y[idx[obs], w], rng)
                miss = idx[~obs]
                out[k, miss, w] = x[~obs] @ beta + rng.standard_normal(len(miss)) * sigma
    return out


@pytest.mark.parametrize("seed", range(8))
def test_stacked_copies_draw_what_one_copy_at_a_time_draws(seed):
    """The same draws in the same order, the least squares by the normal equations:
    every imputed value within 1e-10 (relative) of the one-at-a-time reference."""
    y, _, ips, base, work = trial(np.random.default_rng(seed))
    cov = np.column_stack([base, work])
    a = one_copy_at_a_time(y, ips, cov, 20, np.random.default_rng(seed + 100))
    b = impute_by_arm(y, ips, cov, 20, np.random.default_rng(seed + 100))
    assert np.all(np.abs(a - b) <= 1e-10 * (1 + np.abs(a)))


def test_a_singular_design_takes_mices_ridge_as_before():
    """Everyone in the IPS arm in work (the covariate equals the intercept there): X'X is
    singular, and that arm's copies are drawn one at a time with mice's ridge (and
    lstsq), as before (to the last bits of the stacked product that imputes them)."""
    y, _, ips, base, work = trial(np.random.default_rng(4))
    work[ips] = 1.0
    cov = np.column_stack([base, work])
    a = one_copy_at_a_time(y, ips, cov, 10, np.random.default_rng(9))
    b = impute_by_arm(y, ips, cov, 10, np.random.default_rng(9))
    assert np.all(np.abs(a - b) <= 1e-10 * (1 + np.abs(a)))


def test_norm_draw_sigma_has_the_scaled_inverse_chi_square_posterior():
    """E[sigma*^2] = RSS / (df - 2); E[beta*] = beta_hat; 4000 draws, 4 Monte Carlo SEs."""
    rng = np.random.default_rng(3)
    x = np.column_stack([np.ones(40), rng.normal(size=40)])
    y = x @ [1.0, 2.0] + rng.normal(size=40)
    beta_hat = np.linalg.lstsq(x, y, rcond=None)[0]
    rss = float(((y - x @ beta_hat) ** 2).sum())
    draws = [norm_draw(x, y, rng) for _ in range(4000)]
    s2 = np.array([d[1] ** 2 for d in draws])
    betas = np.array([d[0] for d in draws])
    assert abs(s2.mean() - rss / 36) <= 4 * s2.std() / math.sqrt(len(s2))
    se = betas.std(0) / math.sqrt(len(betas))
    assert np.all(np.abs(betas.mean(0) - beta_hat) <= 4 * se)


def test_rubin_needs_two_imputations():
    with pytest.raises(ValueError):
        rubin([1.0], [0.1])


def test_pooled_analysis_is_unbiased_and_covers_under_mar():
    """300 seeded trials, m = 10: the pooled 12-month effect (ANCOVA on baseline) has
    mean within 4 Monte Carlo SEs of the effect, and its 95% interval covers it in
    0.95 -+ 4 binomial SEs of the trials."""
    rng = np.random.default_rng(11)
    est, cover = [], []
    for _ in range(300):
        y, _, ips, base, work = trial(rng)
        done = impute_by_arm(y, ips, np.column_stack([base, work]), 10, rng)
        x = np.column_stack([np.ones(len(base)), ips, base])
        xtx_inv = np.linalg.inv(x.T @ x)
        q, u = [], []
        for d in done:
            beta = xtx_inv @ x.T @ d[:, 2]
            r = d[:, 2] - x @ beta
            q.append(beta[1])
            u.append(float(r @ r) / (len(r) - 3) * xtx_inv[1, 1])
        p = rubin(q, u, len(base) - 3)
        half = stats.t.ppf(0.975, p.df) * p.se
        est.append(p.estimate)
        cover.append(abs(p.estimate - 1.0) <= half)
    est = np.array(est)
    assert abs(est.mean() - 1.0) <= 4 * est.std() / math.sqrt(len(est))
    assert abs(np.mean(cover) - 0.95) <= 4 * math.sqrt(0.95 * 0.05 / len(cover))


def test_estimator_wrappers_return_test_results():
    """estimators.imputed_ancova and repeated_measures: the pooled / MMRM effect as a
    TestResult (the lead wires these into trial_analysis); degenerate data not
    estimable, never an exception."""
    from trialsim.analysis.estimators import imputed_ancova, repeated_measures
    from trialsim.analysis.repeated_measures import fit_mmrm

    rng = np.random.default_rng(5)
    y, _, ips, base, work = trial(rng)
    esw = np.where(ips, np.arange(len(ips)) % 4, -1)
    r = imputed_ancova(y, ips, base, work, 0.05, 10, np.random.default_rng(1))
    assert r.status == "ok" and r.ci_low < r.estimate < r.ci_high and r.df > 0
    again = imputed_ancova(y, ips, base, work, 0.05, 10, np.random.default_rng(1))
    assert again == r
    mm = repeated_measures(y, ips, base, esw, 0.05)
    fit = fit_mmrm(y, ips, base, esw=esw, esw_intercept=True)
    assert (mm.estimate, mm.se, mm.df) == (fit.estimate, fit.se_kr, fit.df_kr)
    empty = np.full_like(y, np.nan)
    assert repeated_measures(empty, ips, base, esw, 0.05).status == "not_estimable"
    assert imputed_ancova(empty, ips, base, work, 0.05, 5, rng).status == "not_estimable"
