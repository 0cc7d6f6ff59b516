"""TEST ORACLE: trialsim/analysis/partially_nested.py as it was before the Newton fit
(SLSQP over the same parametrisation and bounds), kept unchanged so that tests and
scripts/time_reml.py can check that the Newton fit gives the same estimates.

The partially nested model by REML, with Satterthwaite or Kenward-Roger inference.

    y = X b + u_esw (IPS arm only) + e,   var(u) = tau2,   var(e) = s2_ips or s2_tau by arm

(Candlish et al. 2018, BMC Med Res Methodol 18:105: the heteroscedastic partially nested
model, which held its type I error best of the six analyses compared). V is block
diagonal: a TAU participant is its own block (s2_tau); an ESW's m clients form the block
s2_ips I + tau2 J. Every matrix met on the way (V, its inverse, dV/dtheta, their products)
is, within an ESW block, of the form a I + b J, so one trial's REML criterion, its
analytic gradient and the expected information are a few sums over ESWs, never an n x n
matrix. IPS participants never seen by an ESW are clusters of one.

Inference on the arm coefficient: the Wald t statistic with Satterthwaite degrees of
freedom df = 2 (SE^2)^2 / (g' W g), g the gradient of SE^2 in the variance parameters and
W the inverse expected REML information at the estimates (as lmerTest computes them), or
Kenward-Roger (1997): the same df for a single contrast (lambda = 1 then) with SE^2 from
the bias-adjusted covariance Phi_A (V is linear in its parameters, so R_ij = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

RATIO_MAX = 50.0  # ESW variance / IPS residual variance: an ICC of 0.98 at the bound
LOG_BOUND = 20.0  # log variances within +-20: beyond, the data are constant or degenerate
GRAD_TOL = 1e-4  # projected gradient of -2 log REML, per participant, for convergence


@dataclass(frozen=True)
class Fit:
    """One REML fit: the arm effect, both SEs, the df, and the variance estimates."""

    estimate: float
    se: float  # model-based, (X'V^-1 X)^-1
    se_kr: float  # Kenward-Roger adjusted
    df: float  # Satterthwaite (also Kenward-Roger's, for one contrast)
    s2_ips: float
    s2_tau: float
    tau2: float
    converged: bool


class _Op:
    """A symmetric matrix that is a_c I + b_c J on ESW block c and c_tau I on TAU."""

    __slots__ = ("a", "b", "c")

    def __init__(self, a: np.ndarray, b: np.ndarray, c: float):
        self.a, self.b, self.c = a, b, c


class PartiallyNestedModel:
    """The sufficient statistics of one trial's data for every REML quantity."""

    def __init__(self, y: np.ndarray, x: np.ndarray, ips: np.ndarray, cluster: np.ndarray):
        ips = ips.astype(bool)
        _, cl = np.unique(cluster[ips], return_inverse=True)
        self.n_cl = int(cl.max()) + 1 if ips.any() else 0
        self.m = np.bincount(cl, minlength=self.n_cl).astype(float)
        xi, yi = x[ips], y[ips]
        self.p = p = x.shape[1]
        self.xtx_c = np.zeros((self.n_cl, p, p))
        np.add.at(self.xtx_c, cl, xi[:, :, None] * xi[:, None, :])
        self.xty_c = np.zeros((self.n_cl, p))
        np.add.at(self.xty_c, cl, xi * yi[:, None])
        self.yty_c = np.bincount(cl, weights=yi * yi, minlength=self.n_cl)
        self.sx = np.zeros((self.n_cl, p))
        np.add.at(self.sx, cl, xi)
        self.sy = np.bincount(cl, weights=yi, minlength=self.n_cl)
        xt, yt = x[~ips], y[~ips]
        self.xtx_t, self.xty_t, self.yty_t = xt.T @ xt, xt.T @ yt, float(yt @ yt)
        self.n_ips, self.n_tau = int(ips.sum()), int((~ips).sum())
        zero, one = np.zeros(self.n_cl), np.ones(self.n_cl)
        # dV/d(s2_ips, s2_tau, tau2)
        self.dv = (_Op(one, zero, 0.0), _Op(zero, zero, 1.0), _Op(zero, one, 0.0))

    # --- the algebra of a I + b J blocks ------------------------------------------
    def mul(self, f: _Op, g: _Op) -> _Op:
        return _Op(f.a * g.a, f.a * g.b + f.b * g.a + self.m * f.b * g.b, f.c * g.c)

    def xmx(self, f: _Op) -> np.ndarray:
        return np.einsum("c,cij->ij", f.a, self.xtx_c) + (self.sx * f.b[:, None]).T @ self.sx \
            + f.c * self.xtx_t

    def xmy(self, f: _Op) -> np.ndarray:
        return f.a @ self.xty_c + (f.b * self.sy) @ self.sx + f.c * self.xty_t

    def ymy(self, f: _Op) -> float:
        return float(f.a @ self.yty_c + f.b @ self.sy**2) + f.c * self.yty_t

    def trace(self, f: _Op) -> float:
        return float(self.m @ (f.a + f.b)) + f.c * self.n_tau

    # --- REML ---------------------------------------------------------------------
    def vinv(self, s2i: float, s2t: float, tau2: float) -> _Op:
        w = tau2 / (s2i + self.m * tau2)
        return _Op(np.full(self.n_cl, 1.0 / s2i), -w / s2i, 1.0 / s2t)

    def logdet_v(self, s2i: float, s2t: float, tau2: float) -> float:
        return (self.n_ips - self.n_cl) * math.log(s2i) + \
            float(np.log(s2i + self.m * tau2).sum()) + self.n_tau * math.log(s2t)

    def criterion(self, phi: tuple[float, float, float], gradient: bool = False):
        """-2 log REML (constants dropped) at phi = (s2_ips, s2_tau, tau2), and its
        gradient in phi: tr(V^-1 V_k) - tr(C A_k) - r' V^-1 V_k V^-1 r."""
        vi = self.vinv(*phi)
        a, b = self.xmx(vi), self.xmy(vi)
        chol = np.linalg.cholesky(a)  # LinAlgError when X'V^-1 X is not positive definite
        beta = np.linalg.solve(a, b)
        yvy = self.ymy(vi)
        value = self.logdet_v(*phi) + 2 * float(np.log(np.diag(chol)).sum()) + \
            yvy - float(b @ beta)
        if not gradient:
            return value
        c = np.linalg.inv(a)
        grad = np.empty(3)
        for k, dv in enumerate(self.dv):
            mk = self.mul(self.mul(vi, dv), vi)
            ak, bk = self.xmx(mk), self.xmy(mk)
            rmr = self.ymy(mk) - 2 * float(beta @ bk) + float(beta @ ak @ beta)
            grad[k] = self.trace(self.mul(vi, dv)) - float(np.sum(c * ak)) - rmr
        return value, grad

    def inference(self, phi: tuple[float, float, float], dvs: list[_Op]):
        """beta, C = (X'V^-1 X)^-1, the Satterthwaite df of beta[1] and Kenward-Roger's
        adjusted var(beta[1]); `dvs` are dV/d phi_k of the variance parameters treated
        as estimated (a parameter held at its boundary is not)."""
        vi = self.vinv(*phi)
        a = self.xmx(vi)
        c = np.linalg.inv(a)
        beta = c @ self.xmy(vi)
        idx = range(len(dvs))
        vk = [self.mul(vi, dv) for dv in dvs]  # V^-1 V_k
        ak = [self.xmx(self.mul(f, vi)) for f in vk]  # X' V^-1 V_k V^-1 X
        info = np.empty((len(idx), len(idx)))
        q = {}
        for i in range(len(idx)):
            for j in range(i, len(idx)):
                qij = self.xmx(self.mul(self.mul(vk[i], vk[j]), vi))
                q[i, j] = q[j, i] = qij
                info[i, j] = info[j, i] = 0.5 * (
                    self.trace(self.mul(vk[i], vk[j])) - 2 * float(np.sum(c * qij))
                    + float(np.sum((c @ ak[i]) * (c @ ak[j]).T)))
        w = np.linalg.inv(info)  # asymptotic covariance of the variance estimates
        g = np.array([(c @ a_k @ c)[1, 1] for a_k in ak])  # d var(beta1) / d phi_k
        var_var = float(g @ w @ g)
        df = 2 * c[1, 1] ** 2 / var_var if var_var > 0 else math.inf
        lam = sum(w[i, j] * (q[i, j] - ak[i] @ c @ ak[j])
                  for i in range(len(idx)) for j in range(len(idx)))
        var_kr = c[1, 1] + 2 * float((c @ lam @ c)[1, 1]) if len(idx) else c[1, 1]
        return beta, c, df, var_kr


def _unpack(theta: np.ndarray, equal: bool) -> tuple[float, float, float]:
    s2i = math.exp(theta[0])
    s2t = s2i if equal else math.exp(theta[1])
    return s2i, s2t, float(theta[-1]) * s2i


def fit_partially_nested(y: np.ndarray, x: np.ndarray, ips: np.ndarray, cluster: np.ndarray,
                         equal_variances: bool = False,
                         nonnegative: bool = False) -> Fit | None:
    """REML over theta = (log s2_ips, log s2_tau, tau2 / s2_ips) by SLSQP with the
    analytic gradient; None when the fit is degenerate (a singular system, a variance
    driven to a bound, non-finite values).

    By default tau2 may be negative, down to where V stays positive definite (a negative
    within-ESW covariance, as SAS PROC MIXED's NOBOUND allows): held at 0, the REML
    estimate is biased upwards when the true ICC is about 0, and with 4-8 ESWs the
    test's type I error falls to about 0.03. With `nonnegative`, tau2 >= 0 and, at 0, it
    is held fixed and drops out of the degrees of freedom (as SAS does for parameters
    on a boundary). `equal_variances` ties the residual variances (statsmodels' MixedLM,
    the test oracle, has one)."""
    model = PartiallyNestedModel(y, x, ips, cluster)
    fit = _fit(model, y, ips.astype(bool), equal_variances, nonnegative)
    if fit is _EDGE:
        # No interior REML maximum with tau2 free: the criterion is unbounded as
        # s2_ips + m_max tau2 -> 0 (V singular, the IPS mean set by the largest ESW's
        # clients alone). The pre-specified fallback is the fit with tau2 >= 0, with
        # tau2 kept among the estimated parameters of the degrees of freedom (dropping
        # it, as for a boundary estimate, made the test liberal: 0.067 at ICC 0.2).
        fit = _fit(model, y, ips.astype(bool), equal_variances, True, keep_tau2=True)
    return None if fit is _EDGE else fit


_EDGE = object()  # the unbounded fit ran to the edge where V is singular


def _fit(model: PartiallyNestedModel, y: np.ndarray, ips: np.ndarray, equal_variances: bool,
         nonnegative: bool, keep_tau2: bool = False):
    r_i, r_t = y[ips] - y[ips].mean(), y[~ips] - y[~ips].mean()
    start = np.array([math.log(max(float(r_i @ r_i) / max(len(r_i) - 1, 1), 1e-6)),
                      math.log(max(float(r_t @ r_t) / max(len(r_t) - 1, 1), 1e-6)), 0.05])
    low = 0.0 if nonnegative or not model.n_cl else -(1 - 1e-3) / model.m.max()
    bounds = [(-LOG_BOUND, LOG_BOUND)] * 2 + [(low, RATIO_MAX)]
    if equal_variances:
        start, bounds = start[[0, 2]], [bounds[0], bounds[2]]

    def fun(theta):
        phi = _unpack(theta, equal_variances)
        try:
            value, g = model.criterion(phi, gradient=True)
        except np.linalg.LinAlgError:
            return 1e100, np.zeros_like(theta)
        s2i, s2t, _ = phi
        # chain rule from phi = (s2_ips, s2_tau, tau2) to theta
        d0 = s2i * (g[0] + theta[-1] * g[2]) + (s2t * g[1] if equal_variances else 0.0)
        if equal_variances:
            return value, np.array([d0, s2i * g[2]])
        return value, np.array([d0, s2t * g[1], s2i * g[2]])

    with np.errstate(all="ignore"):
        # SLSQP: L-BFGS-B's Fortran-to-C core costs milliseconds per step here
        res = optimize.minimize(fun, start, jac=True, method="SLSQP", bounds=bounds,
                                options={"ftol": 1e-12, "maxiter": 200})
        theta = res.x
        if not np.isfinite(theta).all() or res.fun >= 1e99:
            return None
        _, grad = fun(theta)
    lo, hi = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    at_lo, at_hi = theta <= lo + 1e-10, theta >= hi - 1e-10
    # a variance at an edge other than tau2 = 0 (when held non-negative) means the data
    # cannot identify it, or V is nearly singular
    edge = (at_lo | at_hi).copy()
    edge[-1] = at_hi[-1]
    if edge.any():
        return None
    if at_lo[-1] and low < 0:
        return _EDGE
    projected = np.where(at_lo & (grad > 0), 0.0, grad)
    converged = bool(np.isfinite(projected).all() and
                     np.abs(projected).max() <= GRAD_TOL * len(y))
    phi = _unpack(theta, equal_variances)
    d_ips, d_tau, d_esw = model.dv
    dvs = [_Op(d_ips.a, d_ips.b, 1.0)] if equal_variances else [d_ips, d_tau]
    if keep_tau2 or not at_lo[-1]:
        dvs.append(d_esw)
    try:
        with np.errstate(all="ignore"):
            beta, c, df, var_kr = model.inference(phi, dvs)
    except np.linalg.LinAlgError:
        return None
    values = (beta[1], c[1, 1], df, var_kr)
    if not (all(math.isfinite(v) or v == math.inf for v in values) and c[1, 1] > 0
            and var_kr > 0 and df > 0):
        return None
    return Fit(float(beta[1]), math.sqrt(c[1, 1]), math.sqrt(var_kr), float(df), *phi,
               converged=converged)
