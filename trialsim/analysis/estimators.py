"""The planned analysis of each simulated trial, in numpy and scipy (no statsmodels in
the hot path; tests use statsmodels as the oracle).

Primary: 12-month RTW self-efficacy by ANCOVA (arm + baseline) on complete cases. When
outcomes cluster by ESW in the IPS arm, a partially nested model instead: a random ESW
intercept in the IPS arm only, with its own residual variance per arm (heteroscedastic),
fitted by REML; its Wald test uses Welch-Satterthwaite degrees of freedom between the
clustered arm (ESWs - 1) and the unclustered one (TAU participants - 1).
Secondary: employment at 12 months, difference in proportions with the pooled z-test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.special import ndtr, ndtri, stdtr, stdtrit


@dataclass(frozen=True)
class TestResult:
    estimate: float
    se: float
    p_value: float
    ci_low: float
    ci_high: float
    df: float  # math.inf for a z-test

    def rejects(self, alpha: float) -> bool:
        """Two-sided test at alpha, in the direction of benefit (estimate > 0)."""
        return bool(self.p_value < alpha and self.estimate > 0)


NOT_ESTIMABLE = TestResult(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)


def _t_result(est: float, se: float, df: float, alpha: float) -> TestResult:
    if not (se > 0 and math.isfinite(se) and df > 0):
        return NOT_ESTIMABLE
    t = abs(est / se)
    if math.isfinite(df):
        crit, p = float(stdtrit(df, 1 - alpha / 2)), float(2 * stdtr(df, -t))
    else:
        crit, p = float(ndtri(1 - alpha / 2)), float(2 * ndtr(-t))
    return TestResult(est, se, p, est - crit * se, est + crit * se, df)


def ancova(y: np.ndarray, arm: np.ndarray, baseline: np.ndarray, alpha: float) -> TestResult:
    """OLS of y on (1, arm, baseline); the arm coefficient with its t-test."""
    n = len(y)
    if n < 4 or arm.all() or not arm.any():
        return NOT_ESTIMABLE
    x = np.column_stack([np.ones(n), arm.astype(float), baseline])
    xtx = x.T @ x
    try:
        xtx_inv = np.linalg.inv(xtx)
    except np.linalg.LinAlgError:
        return NOT_ESTIMABLE
    beta = xtx_inv @ (x.T @ y)
    resid = y - x @ beta
    df = n - 3
    s2 = float(resid @ resid) / df
    return _t_result(float(beta[1]), math.sqrt(s2 * xtx_inv[1, 1]), df, alpha)


class _PartiallyNested:
    """REML for y = X b + u_esw (IPS only) + e, var(e) = s2_ips or s2_tau by arm.

    V is block diagonal: a TAU participant is its own block (s2_tau); an ESW's clients
    form a compound-symmetric block s2_ips I + tau2 J, inverted in closed form."""

    def __init__(self, y, x, arm, cluster, equal_variances=False):
        self.equal_variances = equal_variances
        ips = arm.astype(bool)
        self.tau_idx = ~ips
        _, self.cl = np.unique(cluster[ips], return_inverse=True)
        self.n_cl = int(self.cl.max()) + 1 if ips.any() else 0
        self.m = np.bincount(self.cl, minlength=self.n_cl).astype(float)
        xi, yi = x[ips], y[ips]
        p = x.shape[1]
        self.xtx_i = xi.T @ xi
        self.xty_i = xi.T @ yi
        self.yty_i = float(yi @ yi)
        self.sx = np.zeros((self.n_cl, p))
        np.add.at(self.sx, self.cl, xi)
        self.sy = np.bincount(self.cl, weights=yi, minlength=self.n_cl)
        xt, yt = x[~ips], y[~ips]
        self.xtx_t, self.xty_t, self.yty_t = xt.T @ xt, xt.T @ yt, float(yt @ yt)
        self.n_ips, self.n_tau = int(ips.sum()), int((~ips).sum())

    def unpack(self, theta: np.ndarray) -> tuple[float, float, float]:
        s2i = math.exp(theta[0])
        s2t = s2i if self.equal_variances else math.exp(theta[1])
        return s2i, s2t, float(theta[-1])

    def gls(self, s2i: float, s2t: float, tau2: float):
        w = tau2 / (s2i + self.m * tau2)  # per cluster
        a = (self.xtx_i - (self.sx * w[:, None]).T @ self.sx) / s2i + self.xtx_t / s2t
        b = (self.xty_i - (self.sx * (w * self.sy)[:, None]).sum(axis=0)) / s2i + \
            self.xty_t / s2t
        yvy = (self.yty_i - float(w @ self.sy**2)) / s2i + self.yty_t / s2t
        logdet = (self.n_ips - self.n_cl) * math.log(s2i) + \
            float(np.log(s2i + self.m * tau2).sum()) + self.n_tau * math.log(s2t)
        return a, b, yvy, logdet

    def neg_reml(self, theta: np.ndarray) -> float:
        s2i, s2t, ratio = self.unpack(theta)
        a, b, yvy, logdet = self.gls(s2i, s2t, ratio * s2i)
        try:
            chol = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            return 1e100
        beta = np.linalg.solve(a, b)
        rvr = yvy - float(b @ beta)
        return 0.5 * (logdet + 2 * float(np.log(np.diag(chol)).sum()) + rvr)


def partially_nested(y: np.ndarray, arm: np.ndarray, baseline: np.ndarray,
                     esw: np.ndarray, alpha: float, equal_variances: bool = False) -> TestResult:
    """`equal_variances` ties the two residual variances (for checks against
    statsmodels' MixedLM, which has one)."""
    ips = arm.astype(bool)
    n_tau = int((~ips).sum())
    n_esw = len(np.unique(esw[ips & (esw >= 0)]))  # real ESWs: the degrees of freedom
    # IPS participants never seen by an ESW (esw < 0) are clusters of one each
    esw = np.where(esw >= 0, esw, -1 - np.arange(len(esw)))
    if len(y) < 6 or n_tau < 2 or n_esw < 2:
        return NOT_ESTIMABLE
    x = np.column_stack([np.ones(len(y)), ips.astype(float), baseline])
    model = _PartiallyNested(y, x, ips, esw, equal_variances)
    r_i = y[ips] - y[ips].mean()
    r_t = y[~ips] - y[~ips].mean()
    start = np.array([math.log(max(float(r_i @ r_i) / max(len(r_i) - 1, 1), 1e-6)),
                      math.log(max(float(r_t @ r_t) / (n_tau - 1), 1e-6)), 0.05])
    bounds = [(-20, 20), (-20, 20), (0.0, 50.0)]
    if equal_variances:
        start, bounds = start[[0, 2]], [bounds[0], bounds[2]]
    # SLSQP: same optimum as L-BFGS-B here, in a twentieth of the time
    fit = optimize.minimize(model.neg_reml, start, method="SLSQP", bounds=bounds)
    s2i, s2t, ratio = model.unpack(fit.x)
    tau2 = ratio * s2i
    a, b, _, _ = model.gls(s2i, s2t, tau2)
    try:
        cov = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        return NOT_ESTIMABLE
    beta = cov @ b
    se = math.sqrt(cov[1, 1])
    # Welch-Satterthwaite: the IPS mean's variance rests on the ESWs, TAU's on people
    v_ips = 1.0 / float((model.m / (s2i + model.m * tau2)).sum())
    v_tau = s2t / n_tau
    df = (v_ips + v_tau) ** 2 / (v_ips**2 / (n_esw - 1) + v_tau**2 / (n_tau - 1))
    return _t_result(float(beta[1]), se, df, alpha)


def two_proportions(success: np.ndarray, arm: np.ndarray, alpha: float) -> TestResult:
    """IPS minus TAU proportion; pooled-variance z-test, Wald confidence interval."""
    ips = arm.astype(bool)
    n1, n0 = int(ips.sum()), int((~ips).sum())
    if n1 == 0 or n0 == 0:
        return NOT_ESTIMABLE
    x1, x0 = float(success[ips].sum()), float(success[~ips].sum())
    p1, p0 = x1 / n1, x0 / n0
    pooled = (x1 + x0) / (n1 + n0)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    est = p1 - p0
    if se0 == 0:
        return TestResult(est, se, 1.0, est, est, math.inf)
    z = float(ndtri(1 - alpha / 2))
    p = float(2 * ndtr(-abs(est / se0)))
    return TestResult(est, se, p, est - z * se, est + z * se, math.inf)
