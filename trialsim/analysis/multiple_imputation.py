"""Multiple imputation for the trial's 12-month score: a fast imputation model and
Rubin's rules.

Rubin's rules with the Barnard-Rubin (1999) df are mice::pool's to 1e-8 (its
barnard.rubin, lambda floored at 1e-4 as there): tests/test_r_agreement.py against
mice 3.15 on committed fixtures. The imputation draws each wave's model by arm from
its posterior as mice's `norm` method does (Rubin 1987, p. 167: sigma* from a scaled
inverse chi-square, beta* from the normal about the least-squares fit), then the
missing values from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RIDGE = 1e-5  # mice's estimice: X'X + ridge * diag(X'X) where X'X is singular
COND_MAX = 1e8  # X'X better conditioned than this: the normal equations agree with lstsq


@dataclass(frozen=True)
class Pooled:
    """Rubin's rules over m imputations (mice::pool's names)."""

    estimate: float  # qbar
    se: float  # sqrt(t)
    df: float  # Barnard-Rubin
    ubar: float  # within-imputation variance
    b: float  # between-imputation variance
    t: float  # total variance, ubar + (1 + 1/m) b
    riv: float  # relative increase in variance, (1 + 1/m) b / ubar
    lambda_: float  # (1 + 1/m) b / t
    fmi: float  # fraction of missing information, (riv + 2/(df + 3)) / (riv + 1)
    m: int


def barnard_rubin(m: int, b: float, t: float, df_complete: float = math.inf) -> float:
    """Barnard and Rubin's (1999) df, as mice:::barnard.rubin (lambda below 1e-4 is
    taken as 1e-4, so no b = 0 divides by zero)."""
    lam = max((1 + 1 / m) * b / t, 1e-4)
    df_old = (m - 1) / lam**2
    if math.isinf(df_complete):
        return df_old
    df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
    return df_old * df_obs / (df_old + df_obs)


def rubin(estimates, variances, df_complete: float = math.inf) -> Pooled:
    """Pool m >= 2 per-imputation estimates and their variances (SE^2); df_complete is
    the complete-data analysis's df (n - p for a linear model; mice's dfcom)."""
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    m = len(q)
    if m < 2 or len(u) != m:
        raise ValueError("Rubin's rules need at least two imputations, one variance each")
    qbar, ubar, b = float(q.mean()), float(u.mean()), float(q.var(ddof=1))
    t = ubar + (1 + 1 / m) * b
    df = barnard_rubin(m, b, t, df_complete)
    riv = (1 + 1 / m) * b / ubar
    return Pooled(qbar, math.sqrt(t), df, ubar, b, t, riv, (1 + 1 / m) * b / t,
                  (riv + 2 / (df + 3)) / (riv + 1), m)


def norm_draw(x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """One draw of (beta, sigma) of the normal linear model y = x beta + e from its
    posterior, as mice's .norm.draw (estimice, ls.meth = "qr"): sigma*^2 = RSS /
    chi2_df, beta* = beta_hat + chol(V) z sigma*, V = (X'X)^-1 (with mice's ridge if X'X
    is singular), df = max(n - p, 1)."""
    return _norm_draw(x, y, *_posterior_draws(rng, len(y), x.shape[1]))


def _posterior_draws(rng: np.random.Generator, n: int, p: int) -> tuple[float, np.ndarray]:
    """norm_draw's draws, in its order, for n observations and p coefficients: the
    chi-square on max(n - p, 1) df, then p standard normals."""
    return rng.chisquare(max(n - p, 1)), rng.standard_normal(p)


def _norm_draw(x: np.ndarray, y: np.ndarray, chi2: float, z: np.ndarray):
    """norm_draw with its chi-square and normal draws given."""
    xtx = x.T @ x
    try:
        v = np.linalg.inv(xtx)
        np.linalg.cholesky(v)
    except np.linalg.LinAlgError:
        v = np.linalg.inv(xtx + np.diag(RIDGE * np.diag(xtx)))
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    resid = y - x @ beta
    sigma = math.sqrt(float(resid @ resid) / chi2)
    chol = np.linalg.cholesky((v + v.T) / 2)
    return beta + chol @ z * sigma, sigma


def norm_draws(x: np.ndarray, y: np.ndarray, chi2: np.ndarray, z: np.ndarray):
    """_norm_draw for each design of the stack x (m x n x p), one y, each with its own
    draws (chi2: m; z: m x p), in a handful of stacked array operations: the least-squares
    fit by the normal equations, which agrees with lstsq to rounding where X'X is well
    conditioned (within 1e-10 on simulated trials, tests/test_multiple_imputation.py).
    Where it is not (condition number COND_MAX or more, mice's ridge, or a Cholesky factor
    fails), that design is drawn by _norm_draw itself; the values imputed from it can then
    differ from one copy at a time in the last bits of the product that forms them, which
    a nearly collinear later wave amplifies (as it would any rounding: such a design has
    no stable answer either way)."""
    xt = np.swapaxes(x, 1, 2)
    xtx = xt @ x
    out_beta = np.empty((len(x), x.shape[2]))
    out_sigma = np.empty(len(x))
    with np.errstate(all="ignore"):
        good = np.linalg.cond(xtx) < COND_MAX
    k = np.flatnonzero(good)
    try:
        v = np.linalg.inv(xtx[k])
        chol = np.linalg.cholesky((v + np.swapaxes(v, 1, 2)) / 2)
        beta = np.linalg.solve(xtx[k], (xt[k] @ y)[..., None])[..., 0]
    except np.linalg.LinAlgError:  # not positive definite after all: one at a time
        k, good[:] = k[:0], False
    else:
        resid = y - (x[k] @ beta[..., None])[..., 0]
        sigma = np.sqrt((resid * resid).sum(1) / chi2[k])
        out_beta[k] = beta + (chol @ z[k][..., None])[..., 0] * sigma[:, None]
        out_sigma[k] = sigma
    for j in np.flatnonzero(~good):
        out_beta[j], out_sigma[j] = _norm_draw(x[j], y, chi2[j], z[j])
    return out_beta, out_sigma


def impute_by_arm(y: np.ndarray, ips: np.ndarray, covariates: np.ndarray, m: int,
                  rng: np.random.Generator) -> np.ndarray:
    """m completed copies of the waves y (n x waves, NaN where missing; the last wave is
    the analysed one). Within each arm, waves are imputed in order, each from an
    intercept, the fully observed `covariates` (baseline score, work status, other
    auxiliaries: n x k) and every earlier wave (observed, or imputed in this copy), by
    a proper norm draw fitted to those observed at that wave. With monotone dropout
    this is sequential regression imputation; an earlier wave missing between observed
    ones is imputed from the past only (the analysis uses the last wave). Returns an
    (m, n, waves) array; participants with the wave observed keep their values."""
    y = np.asarray(y, dtype=float)
    cov = np.asarray(covariates, dtype=float).reshape(len(y), -1)
    ips = np.asarray(ips, dtype=bool)
    out = np.repeat(y[None], m, axis=0)
    for arm in (ips, ~ips):
        idx = np.flatnonzero(arm)
        base = np.column_stack([np.ones(len(idx)), cov[idx]])
        for w in range(y.shape[1]):
            obs = ~np.isnan(y[idx, w])
            if obs.all():
                continue
            if obs.sum() <= base.shape[1] + w:
                raise ValueError(f"wave {w}: too few observed to impute within an arm")
            miss = idx[~obs]
            x = np.concatenate([np.broadcast_to(base, (m, *base.shape)), out[:, idx, :w]],
                               axis=2)  # each copy's design: its own earlier waves
            p = x.shape[2]
            chi2, z, e = np.empty(m), np.empty((m, p)), np.empty((m, len(miss)))
            for k in range(m):  # the draws in norm_draw's order, copy by copy
                chi2[k], z[k] = _posterior_draws(rng, int(obs.sum()), p)
                e[k] = rng.standard_normal(len(miss))
            beta, sigma = norm_draws(x[:, obs], y[idx[obs], w], chi2, z)
            out[:, miss, w] = (x[:, ~obs] @ beta[..., None])[..., 0] + e * sigma[:, None]
    return out
