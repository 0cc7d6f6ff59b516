"""The partially nested model by REML (Newton), with Satterthwaite or Kenward-Roger inference.

    y = X b + u_esw (IPS arm only) + e,   var(u) = tau2,   var(e) = s2_ips or s2_tau by arm

(Candlish et al. 2018, BMC Med Res Methodol 18:105: the heteroscedastic partially nested
model). Rotated within each ESW into its mean and the deviations from it, V is diagonal
with one variance per *block*: the IPS within-ESW deviations (s2_ips), each ESW's mean
coordinate (s2_ips + m tau2), and the TAU arm (s2_tau); IPS participants never seen by
an ESW are ESWs of one. Every variance is linear in phi = (s2_ips, s2_tau, tau2), and the
REML criterion, its gradient, its Hessian and the expected information are sums over
the K + 2 blocks of 3 x 3 matrices: no n x n matrix, a handful of numpy calls a step.

    -2 log REML = sum_b n_b log v_b + log|A| + sum_b r_b / v_b,   A = sum_b A_b / v_b

(A_b = X_b'X_b, r_b the block's residual sum of squares at the GLS estimate). It is
minimised by a projected Newton method with a backtracking line search over theta =
(log s2_ips, log s2_tau, tau2 / s2_ips), the parametrisation and bounds of the SLSQP fit
it replaced, from moment estimates (kept as the test oracle in tests/reml_slsqp_oracle.py:
the same estimates within 1e-6 on the test datasets, about 7 times less CPU; where they
differ, on some validation datasets, the Newton fit has the higher REML likelihood:
scripts/time_reml.py).

Inference on the arm coefficient, as R computes it where the models coincide
(tests/test_r_agreement.py, fixtures from scripts/r_fixtures.R: estimate, SE, df and p
within 1e-5):
- Kenward-Roger (1997), as pbkrtest (vcovAdj, KRmodcomp): SE^2 from the bias-adjusted
  covariance Phi_A (V is linear in phi, so R_ij = 0) and, for one contrast (lambda = 1),
  df = 2 (SE^2)^2 / (g' W g) with the unadjusted SE^2, g its gradient in phi and W the
  inverse expected REML information. tau2 stays in W and Phi_A even when held at 0, as
  pbkrtest keeps a variance component estimated at 0.
- Satterthwaite, as lmerTest (contest1D, ddf = "Satterthwaite"): the model SE and df =
  2 (SE^2)^2 / (g' W g) with W twice the inverse Hessian of the REML deviance (the
  observed information) in lme4's parameters, theta = sqrt(tau2 / s2_ips) and the
  residual SDs. The deviance is even in theta, so at theta = 0 tau2 drops out of this df.
lme4 has one residual variance: with `equal_variances` the fit is lme4's (lmer with
(0 + ips | esw)); with a variance per arm it is nlme::lme's (varIdent by arm,
pdDiag(~ 0 + ips)), with KR from pbkrtest's functions and Satterthwaite by lmerTest's
recipe applied to it in R. A negative tau2 (the default `unbounded`) has no R
counterpart; it agrees wherever its estimate is positive.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

RATIO_MAX = 50.0  # ESW variance / IPS residual variance: an ICC of 0.98 at the bound
LOG_BOUND = 20.0  # log variances within +-20: beyond, the data are constant or degenerate
GRAD_TOL = 1e-4  # projected gradient of -2 log REML, per participant, for convergence
MAX_STEPS = 100  # Newton steps (about 5-8 are used)
STEP_TOL = 1e-10  # stop when no parameter moves more than this
DECREMENT_TOL = 1e-8  # or when the Newton decrement (twice the gain left) is below this


@dataclass(frozen=True)
class Fit:
    """One REML fit: the arm effect, both SEs, the df, and the variance estimates."""

    estimate: float
    se: float  # model-based, (X'V^-1 X)^-1
    se_kr: float  # Kenward-Roger adjusted
    df: float  # Satterthwaite, from the observed REML information (as lmerTest)
    df_kr: float  # Kenward-Roger's, from the expected information (as pbkrtest)
    s2_ips: float
    s2_tau: float
    tau2: float
    converged: bool

def _inverse(a: np.ndarray) -> tuple[np.ndarray, float]:
    """The inverse and determinant of a small symmetric matrix; LinAlgError unless it is
    positive definite. 3 x 3 by cofactors (numpy's inv and det cost microseconds of
    overhead each, and they run at every Newton step)."""
    if a.shape != (3, 3):
        chol = np.linalg.cholesky(a)  # LinAlgError unless positive definite
        return np.linalg.inv(a), float(np.prod(np.diag(chol))) ** 2
    (p, q, r), (_, s, t), (_, _, u) = a.tolist()
    c00, c01, c02 = s * u - t * t, r * t - q * u, q * t - r * s
    det = p * c00 + q * c01 + r * c02
    if not (det > 0 and p > 0 and p * s - q * q > 0):
        raise np.linalg.LinAlgError("not positive definite")
    c11, c12, c22 = p * u - r * r, q * r - p * t, p * s - q * q
    return np.array([[c00, c01, c02], [c01, c11, c12], [c02, c12, c22]]) / det, det


class PartiallyNestedModel:
    """One trial's data reduced to its blocks: for each, the cross-products of [X y]
    (X_b'X_b, X_b'y_b, y_b'y_b), its dimension, and how its variance depends on phi
    (v = z @ phi)."""

    def __init__(self, y: np.ndarray, x: np.ndarray, ips: np.ndarray, cluster: np.ndarray):
        ips = ips.astype(bool)
        self.p = p = x.shape[1]
        _, cl = np.unique(cluster[ips], return_inverse=True)
        self.n_cl = k = int(cl.max()) + 1 if len(cl) else 0
        xy = np.concatenate([x, y[:, None]], axis=1)  # [X y]
        xyi, xyt = xy[ips], xy[~ips]
        onehot = (cl == np.arange(k)[:, None]).astype(float)
        self.m = m = onehot.sum(1)
        s = onehot @ xyi  # per-ESW sums of [x y]
        means = s[:, :, None] * (s / m[:, None])[:, None, :]  # m [xbar ybar]'[xbar ybar]
        within = xyi.T @ xyi - means.sum(0)
        self.g = np.concatenate([within[None], means, (xyt.T @ xyt)[None]])  # B x p+1 x p+1
        self.a = np.ascontiguousarray(self.g[:, :p, :p])  # X_b'X_b
        self.af = self.a.reshape(len(self.g), -1)
        self.c = self.g[:, :p, p]  # X_b'y_b
        self.nb = np.ones(k + 2)  # each ESW's mean is one dimension
        self.nb[0], self.nb[-1] = len(xyi) - k, len(xyt)
        # dv_b / d(s2_ips, s2_tau, tau2)
        self.z = np.zeros((k + 2, 3))
        self.z[:-1, 0] = 1.0
        self.z[-1, 1] = 1.0
        self.z[1:-1, 2] = m

    # --- REML in the block variances v ------------------------------------------------
    def _gls(self, phi):
        """The GLS fit at phi: v, 1/v, A^-1, det A, (beta, -1), [X y]_b'(y_b - X_b beta)
        with its sign flipped, and each block's residual sum of squares."""
        v = self.z @ phi
        w = 1.0 / v
        ainv, det = _inverse((w @ self.af).reshape(self.p, self.p))
        u = np.concatenate((ainv @ (w @ self.c), [-1.0]))  # (beta, -1)
        gu = self.g @ u
        return v, w, ainv, det, u, gu, gu @ u

    def _core(self, phi):
        v, w, ainv, det, u, gu, r = self._gls(phi)
        value = float(self.nb @ np.log(v)) + math.log(det) + float(w @ r)
        return v, w, ainv, u[:-1], -gu[:, :-1], r, value  # e_b = X_b'(y_b - X_b beta)

    def criterion(self, phi, hessian: bool = False, dv: np.ndarray | None = None,
                  d2v=None):
        """-2 log REML (constants dropped) at phi = (s2_ips, s2_tau, tau2); with
        `hessian`, also its gradient and Hessian in the parameters whose dv/dparameter
        are the columns of `dv` (phi itself by default); d2v(g) adds a
        reparametrisation's sum_b g_b d2v_b / dparameter^2."""
        v, w, ainv, _, e, r, value = self._core(np.asarray(phi, dtype=float))
        if not hessian:
            return value
        nbl = len(w)
        f = ainv @ self.a  # A^-1 A_b, B x p x p
        d_w = r - self.nb * v + np.trace(f, axis1=1, axis2=2)  # d/d(1/v_b)
        w2 = w * w
        t = f.reshape(nbl, -1) @ f.transpose(0, 2, 1).reshape(nbl, -1).T
        h_v = (w2[:, None] * w2) * (-t - 2 * (e @ ainv @ e.T))
        h_v.flat[::nbl + 1] += self.nb * w2 + 2 * w2 * w * d_w
        g_v = -w2 * d_w
        dv = self.z if dv is None else dv
        hess = dv.T @ h_v @ dv
        if d2v is not None:
            hess += d2v(g_v)
        return value, dv.T @ g_v, hess

    def _info(self, w, ainv, zk):
        nbl = len(w)
        f = ainv @ self.a
        t = f.reshape(nbl, -1) @ f.transpose(0, 2, 1).reshape(nbl, -1).T
        w2 = w * w
        tbc = (w2[:, None] * w2) * t
        tbc.flat[::nbl + 1] += self.nb * w2 - 2 * w2 * w * np.trace(f, axis1=1, axis2=2)
        return 0.5 * zk.T @ tbc @ zk

    def moment_start(self) -> np.ndarray:
        """Start values of theta from the OLS residuals' sums of squares per block: the
        within-ESW and TAU mean squares, and the ESW variance from the ESW means'
        excess over the within-ESW variance (ANOVA)."""
        k, nb = self.n_cl, self.nb
        r = self._gls(np.array([1.0, 1.0, 0.0]))[-1]  # OLS: every v_b = 1
        n_ips = nb[0] + k
        s2w = r[0] / nb[0] if nb[0] > 0 else r[:-1].sum() / max(n_ips - 1, 1)
        s2t = r[-1] / max(nb[-1], 1.0)
        tau2 = (r[1:-1].sum() - k * s2w) / n_ips if k else 0.0
        s2w, s2t = max(s2w, 1e-6), max(s2t, 1e-6)
        return np.array([math.log(s2w), math.log(s2t), tau2 / s2w])

    def expected_information(self, phi, zk: np.ndarray) -> np.ndarray:
        """1/2 tr(P V_k P V_l) for the parameters whose dv/dphi columns are zk."""
        _, w, ainv, *_ = self._core(np.asarray(phi, dtype=float))
        return self._info(w, ainv, zk)

    def inference(self, phi, zk: np.ndarray):
        """beta, C = (X'V^-1 X)^-1, Kenward-Roger's df of beta[1] (Satterthwaite's formula
        with the expected information) and its adjusted var(beta[1]); the columns of
        `zk` are dv/dphi_k of the variance parameters treated as estimated."""
        w = 1.0 / (self.z @ np.asarray(phi, dtype=float))  # as _core computes them
        p, q = self.p, zk.shape[1]
        c = _inverse((w @ self.af).reshape(p, p))[0]
        beta = c @ (w @ self.c)
        info = self._info(w, c, zk)
        try:  # the covariance of the variance estimates
            wk = _inverse(info)[0]
        except np.linalg.LinAlgError:  # not positive definite: numpy's inverse, as before
            wk = np.linalg.inv(info)
        w2 = w * w
        pk = ((zk * w2[:, None]).T @ self.af).reshape(q, p, p)  # X'V^-1 V_k V^-1 X
        cp = c @ pk  # C P_k
        g = (cp @ c)[:, 1, 1]  # d var(beta1) / d phi_k
        var_var = float(g @ wk @ g)
        df = 2 * c[1, 1] ** 2 / var_var if var_var > 0 else math.inf
        # Lambda = sum_ij W_ij (Q_ij - P_i C P_j), Q_ij = sum_b z_bi z_bj w_b^3 A_b
        zw = (wk @ zk.T) * zk.T  # zw[i, b] = z_bi sum_j W_ij z_bj
        qsum = ((zw.sum(0) * w2 * w) @ self.af).reshape(p, p)
        wp = (wk @ pk.reshape(q, -1)).reshape(q, p, p)  # sum_j W_ij P_j
        lam = qsum - (cp.transpose(0, 2, 1) @ wp).sum(0)  # P_i C = (C P_i)'
        var_kr = c[1, 1] + 2 * float((c @ lam @ c)[1, 1])
        return beta, c, df, var_kr

    def satterthwaite_observed(self, phi, equal: bool, theta_scale: bool) -> float:
        """The Satterthwaite df of beta[1] from the observed REML information, as lmerTest
        computes it (contest1D with ddf="Satterthwaite": the covariance of the variance
        parameters is twice the inverse Hessian of the REML deviance, in lme4's
        parametrisation). With `theta_scale`, the parameters are lme4's: theta = sqrt(tau2
        / s2_ips) and the residual SDs (sigma, or sigma_ips and sigma_tau); at theta = 0
        the deviance is even in theta, so theta drops out (its gradient and cross terms
        vanish). Without, they are phi itself (tau2 < 0, where theta does not exist; at a
        stationary point the df does not depend on the parametrisation)."""
        with np.errstate(all="ignore"):
            try:
                return self._satterthwaite_observed(phi, equal, theta_scale)
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError):
                return math.nan  # the observed information does not exist here

    def _satterthwaite_observed(self, phi, equal: bool, theta_scale: bool) -> float:
        phi = np.asarray(phi, dtype=float)
        z = self.z
        dv = np.column_stack([z[:, 0] + z[:, 1], z[:, 2]]) if equal else z
        _, grad, hess = self.criterion(phi, hessian=True, dv=dv)
        w = 1.0 / (z @ phi)
        p, q = self.p, dv.shape[1]
        c = _inverse((w @ self.af).reshape(p, p))[0]
        pk = ((dv * (w * w)[:, None]).T @ self.af).reshape(q, p, p)
        g = (c @ pk @ c)[:, 1, 1]  # d var(beta1) / d phi_k
        if theta_scale:
            s2i, tau2 = phi[0], phi[2]
            sig_i, th = math.sqrt(s2i), math.sqrt(max(tau2, 0.0) / s2i)
            # phi = (s2_ips, [s2_tau,] tau2) in psi = (theta, sigma_ips, [sigma_tau])
            jac = np.zeros((q, q))
            d2 = np.zeros((q, q, q))  # d2 phi_k / dpsi_i dpsi_j
            jac[0, 1], d2[0, 1, 1] = 2 * sig_i, 2.0
            if not equal:
                sig_t = math.sqrt(phi[1])
                jac[1, 2], d2[1, 2, 2] = 2 * sig_t, 2.0
            jac[-1, 0], jac[-1, 1] = 2 * th * s2i, 2 * th * th * sig_i
            d2[-1, 0, 0], d2[-1, 1, 1] = 2 * s2i, 2 * th * th
            d2[-1, 0, 1] = d2[-1, 1, 0] = 4 * th * sig_i
            hess = jac.T @ hess @ jac + np.tensordot(grad, d2, axes=1)
            g = jac.T @ g
            if th == 0.0:  # theta's row and column carry nothing: drop them
                hess, g = hess[1:, 1:], g[1:]
        if not np.isfinite(hess).all() or not np.isfinite(g).all():
            return math.nan
        np.linalg.cholesky(hess)  # LinAlgError unless positive definite
        wk = 2 * np.linalg.inv(hess)  # lmerTest's vcov_varpar
        var_var = float(g @ wk @ g)
        return 2 * c[1, 1] ** 2 / var_var if var_var > 0 else math.inf


def _unpack(theta: np.ndarray, equal: bool) -> np.ndarray:
    s2i = math.exp(theta[0])
    s2t = s2i if equal else math.exp(theta[1])
    return np.array([s2i, s2t, float(theta[-1]) * s2i])


def fit_partially_nested(y: np.ndarray, x: np.ndarray, ips: np.ndarray, cluster: np.ndarray,
                         equal_variances: bool = False,
                         nonnegative: bool = False, observed_df: bool = True) -> Fit | None:
    """REML over theta = (log s2_ips, log s2_tau, tau2 / s2_ips); None when the fit is
    degenerate (a singular system, a variance driven to a bound, non-finite values).

    By default tau2 may be negative, down to where V stays positive definite (a negative
    within-ESW covariance, as SAS PROC MIXED's NOBOUND allows): held at 0, the REML
    estimate is biased upwards when the true ICC is about 0. It is found by first fitting
    with tau2 >= 0 and, when that fit stops at tau2 = 0 with the criterion still falling,
    descending from there into tau2 < 0. With `nonnegative`, tau2 >= 0, as lme4 and nlme
    fit it; at 0 it stays in Kenward-Roger's adjustment and df (as pbkrtest) and drops out
    of the Satterthwaite df (as lmerTest). `equal_variances` ties the residual variances
    (lme4's model). Without `observed_df`, Fit.df (the Satterthwaite df from the observed
    information, about a fifth of the fit's time) is not computed (NaN): Kenward-Roger
    does not use it."""
    model = PartiallyNestedModel(y, x, ips, cluster)
    return drive(fit_steps(model, y, equal_variances, nonnegative, observed_df),
                 _Objective(model, equal_variances))


def drive(steps: Generator, objective: Callable) -> Any:
    """Run a fit's steps (`fit_steps`) on `objective`, numpy's floating-point warnings
    off (a degenerate fit is told by its result): each point the steps ask for is
    evaluated (None where the objective raises LinAlgError) and sent back; the steps'
    return value is the fit's."""
    with np.errstate(all="ignore"):
        try:
            point = next(steps)
            while True:
                try:
                    got = objective(point)
                except np.linalg.LinAlgError:
                    got = None
                point = steps.send(got)
        except StopIteration as stop:
            return stop.value


def fit_steps(model: PartiallyNestedModel, y: np.ndarray, equal_variances: bool,
              nonnegative: bool, observed_df: bool) -> Generator:
    """fit_partially_nested's REML fit as a generator: it yields each theta at which it
    needs (value, gradient, Hessian) of -2 log REML (`_Objective`), is sent them (None
    where the objective raises LinAlgError) and returns the Fit (or None). One
    procedure whoever evaluates the objective: one fit at a time (`drive`), or many fits
    of the same structure in step (trialsim.analysis.partially_nested_batch)."""
    singular = -1.0 / model.m.max() if model.n_cl else -math.inf
    pick = [0, 2] if equal_variances else [0, 1, 2]
    lo = np.array([(-LOG_BOUND, -LOG_BOUND, 0.0)[i] for i in pick])
    hi = np.array([(LOG_BOUND, LOG_BOUND, RATIO_MAX)[i] for i in pick])
    grad_tol = 0.1 * GRAD_TOL * len(y)  # the unchecked last step leaves at most this
    try:
        moments = model.moment_start()[pick]
    except np.linalg.LinAlgError:
        return None
    start = moments.copy()
    start[-1] = min(max(moments[-1], 0.0), 1.0)
    if not nonnegative and model.n_cl:
        low = lo.copy()
        low[-1] = (1 - 1e-3) * singular
        moments[-1] = min(max(moments[-1], 0.5 * singular), 1.0)
        free = yield from _newton(moments, low, hi, singular, grad_tol)
        if free is None:
            return None
        if free[0][-1] > low[-1] + 1e-10:
            return _result(model, y, free, low, hi, equal_variances, keep_tau2=True,
                           observed_df=observed_df)
        # No interior REML maximum with tau2 free: the criterion is unbounded as
        # s2_ips + m_max tau2 -> 0 (V singular, the IPS mean set by the largest
        # ESW's clients alone). The pre-specified fallback is the fit with tau2 >= 0,
        # with tau2 kept among the estimated parameters of the degrees of freedom
        # (dropping it, as for a boundary estimate, made the test liberal: 0.067 at
        # ICC 0.2).
        held = yield from _newton(start, lo, hi, singular, grad_tol)
        return None if held is None else _result(model, y, held, lo, hi, equal_variances,
                                                 keep_tau2=True, observed_df=observed_df)
    held = yield from _newton(start, lo, hi, singular, grad_tol)
    return None if held is None else _result(model, y, held, lo, hi, equal_variances,
                                             keep_tau2=False, observed_df=observed_df)


class _Objective:
    """-2 log REML, gradient and Hessian in theta = (log s2_ips, [log s2_tau,] gamma),
    gamma = tau2 / s2_ips: v_b = s2_ips (z_ips_b + gamma m_b) + s2_tau z_tau_b. Written
    out in full (not through criterion()) to keep the numpy calls per step few."""

    def __init__(self, model: PartiallyNestedModel, equal: bool):
        self.model, self.equal = model, equal
        z = model.z
        self.z_ips = z[:, 0] + z[:, 1] if equal else z[:, 0]
        self.z_tau, self.z_m = z[:, 1], z[:, 2]
        p = model.p
        # [X y]_b' X_b, stacked into one matrix: one matrix-vector product a step
        self.gx = np.ascontiguousarray(model.g[:, :, :p]).reshape(-1, p)
        self.gx_shape = model.g.shape[:2]
        self.gy = model.g[:, :, p]  # [X y]_b' y_b
        # dv / dtheta = zc @ M(theta): columns z_ips, [z_tau,] m
        self.zc = np.column_stack([self.z_ips, self.z_m]) if equal else z  # z's own columns

    def __call__(self, theta):
        """Value, gradient and Hessian (as plain floats) at theta (a sequence)."""
        m = self.model
        s2i, gam = math.exp(theta[0]), theta[-1]
        if self.equal:  # dv/dtheta: v itself, s2_ips m_b
            dv = self.zc @ np.array([[s2i, 0.0], [s2i * gam, s2i]])
            v = dv[:, 0]
        else:  # s2_ips (z_ips + gamma m), s2_tau z_tau, s2_ips m
            s2t = math.exp(theta[1])
            dv = self.zc @ np.array([[s2i, 0.0, 0.0], [0.0, s2t, 0.0], [s2i * gam, 0.0, s2i]])
            v = dv[:, 0] + dv[:, 1]
        w = 1.0 / v
        p = m.p
        ainv, det = _inverse((w @ m.af).reshape(p, p))  # A = X'V^-1 X
        beta = ainv @ (w @ m.c)
        gu = (self.gx @ beta).reshape(self.gx_shape) - self.gy  # [X y]_b'(X_b beta - y_b)
        e = gu[:, :-1]  # minus X_b'(y_b - X_b beta)
        r = e @ beta - gu[:, -1]  # residual sum of squares per block
        value = float(m.nb @ np.log(v)) + math.log(det) + float(w @ r)
        w2 = w * w
        d_w = r - m.nb * v + m.af @ ainv.ravel()  # d/d(1/v_b): tr(A^-1 A_b) + r_b - n_b v_b
        dw = dv * w2[:, None]
        q = dv.shape[1]
        f = ainv @ (dw.T @ m.af).reshape(q, p, p)  # A^-1 sum_b dv_bk A_b / v_b^2
        ff = f.reshape(q, -1)
        ew = dw.T @ e
        grad = [-g for g in (dw.T @ d_w).tolist()]
        # d2(-2 log REML)/dv_b dv_c = -w_b^2 w_c^2 (tr(A^-1 A_b A^-1 A_c) + 2 e_b'A^-1 e_c)
        # + [b = c] (n_b w_b^2 + 2 w_b^3 d_w), contracted with dv / dtheta
        hess = ((dv * (w2 * (m.nb + 2 * w * d_w))[:, None]).T @ dv
                - ff @ f.transpose(0, 2, 1).reshape(q, -1).T
                - 2 * (ew @ ainv @ ew.T)).tolist()
        # second derivatives of v in theta: d2v/dtheta0^2 = dv/dtheta0, d2v/dtheta0 dgamma
        # = dv/dgamma, d2v/dtheta1^2 = dv/dtheta1: their terms are gradient entries
        hess[0][0] += grad[0]
        hess[0][-1] += grad[-1]
        hess[-1][0] += grad[-1]
        if not self.equal:
            hess[1][1] += grad[1]
        return value, grad, hess


def _solve_pd(h: list[list[float]], g: list[float]) -> list[float] | None:
    """h^-1 g for a symmetric positive definite h of size 1 to 3 (plain floats: numpy's
    calls cost microseconds each on matrices this small); None unless h is positive
    definite (leading minors)."""
    if len(g) == 3:
        (p, q, r), (_, s, t), (_, _, u) = h
        c00, c01, c02 = s * u - t * t, r * t - q * u, q * t - r * s
        det = p * c00 + q * c01 + r * c02
        if not (det > 0 and p > 0 and p * s - q * q > 0):
            return None
        c11, c12, c22 = p * u - r * r, q * r - p * t, p * s - q * q
        a, b, c = g
        return [(c00 * a + c01 * b + c02 * c) / det, (c01 * a + c11 * b + c12 * c) / det,
                (c02 * a + c12 * b + c22 * c) / det]
    if len(g) == 2:
        (p, q), (_, s) = h
        det = p * s - q * q
        if not (p > 0 and det > 0):
            return None
        return [(s * g[0] - q * g[1]) / det, (p * g[1] - q * g[0]) / det]
    return [g[0] / h[0][0]] if h[0][0] > 0 else None


def _newton(theta: np.ndarray, lo: np.ndarray, hi: np.ndarray, singular: float,
            grad_tol: float) -> Generator:
    """Projected Newton with backtracking (Armijo) within the box [lo, hi]; a parameter
    at a bound that the gradient pushes outwards is held there. A step changes a
    variance at most e-fold and tau2 / s2_ips by at most 1, and covers at most half the
    way to `singular`, where V is singular and the criterion unbounded: the edge is
    reached by descent, not by one long step past an interior minimum. Where the
    criterion is not convex, the Hessian's eigenvalues are taken in absolute value.
    Stops when the Newton decrement is below DECREMENT_TOL and the (free) gradient below
    grad_tol, taking that last step unchecked. Returns theta, the gradient (before any
    unchecked step) and whether the steps settled, as lists; None if the objective
    fails at the start. The 2 or 3 parameters are handled as plain floats. A generator
    (fit_steps): it yields each theta to evaluate and is sent (value, gradient,
    Hessian), or None where the objective raised LinAlgError."""
    lo_, hi_ = lo.tolist(), hi.tolist()
    n = len(lo_)

    def clip(x: list[float]) -> list[float]:
        return [a if b < a else c if b > c else b for a, b, c in zip(lo_, x, hi_, strict=True)]

    def done(th: list[float], g: list[float], settled: bool):
        return th, list(g), settled

    th = [float(v) for v in theta]
    got = yield th
    if got is None:
        return None
    value, grad, hess = got
    for _ in range(MAX_STEPS):
        held = [(t <= a or t >= b) and ((t <= a) == (g > 0))
                for t, a, b, g in zip(th, lo_, hi_, grad, strict=True)]
        if all(held):  # every parameter pushed against a bound: a (bounded) minimum
            return done(th, grad, True)
        if any(held):
            free = [i for i, h in enumerate(held) if not h]
            gf = [grad[i] for i in free]
            hf = [[hess[i][j] for j in free] for i in free]
        else:  # the usual case: every parameter free, no copies
            free, gf, hf = range(n), grad, hess
        newton = _solve_pd(hf, gf)  # convex here: the Newton step (minus it)
        convex = newton is not None
        if not convex:  # not convex: eigenvalues in absolute value
            lam, vec = np.linalg.eigh(np.array(hf))
            if not np.isfinite(lam).all():
                return done(th, grad, False)
            lam = np.maximum(np.abs(lam), 1e-6 * max(abs(lam[0]), abs(lam[-1]), 1.0))
            newton = (vec @ ((vec.T @ np.array(gf)) / lam)).tolist()
        decrement = sum([a * b for a, b in zip(gf, newton, strict=True)])  # 2 (f - f_min)
        if len(free) == n:
            step = [-v for v in newton]
        else:
            step = [0.0] * n
            for i, v in zip(free, newton, strict=True):
                step[i] = -v
        if convex and decrement <= DECREMENT_TOL and max(map(abs, gf)) <= grad_tol:
            # converged: the last Newton step (within the bounds) is taken unchecked
            return done(clip([a + b for a, b in zip(th, step, strict=True)]), grad, True)
        *logs, gam = step
        t = min(1.0, 1.0 / max(max(map(abs, logs)), 1e-300))
        cap = min(1.0, 0.5 * (th[-1] - singular))
        if abs(gam) * t > cap:
            t = cap / abs(gam)
        while True:
            new = clip([a + t * b for a, b in zip(th, step, strict=True)])
            moved = [a - b for a, b in zip(new, th, strict=True)]
            got = yield new
            if got is not None:
                value_new, grad_new, hess_new = got
                slope = sum([a * b for a, b in zip(grad, moved, strict=True)])
                ok = value_new <= value + 1e-4 * slope  # False if nan
            else:
                ok = False
            if ok or t < 1e-8:
                break
            t *= 0.5
        if not ok:
            return done(th, grad, True)  # no descent left: a (bounded) minimum
        th, value, grad, hess = new, value_new, grad_new, hess_new
        if max(map(abs, moved)) <= STEP_TOL * (1 + max(map(abs, th))):
            return done(th, grad, True)
    return done(th, grad, False)


def _result(model: PartiallyNestedModel, y: np.ndarray, found, lo: np.ndarray,
            hi: np.ndarray, equal_variances: bool, keep_tau2: bool,
            observed_df: bool = True) -> Fit | None:
    """The fit's checks and inference: None if a variance ran to a bound other than
    tau2 = 0 (the data cannot identify it, or V is nearly singular)."""
    theta, grad, settled = found  # plain floats: numpy costs microseconds a call here
    if not all(math.isfinite(v) for v in (*theta, *grad)):
        return None
    at_lo = [t <= a + 1e-10 for t, a in zip(theta, lo.tolist(), strict=True)]
    at_hi = [t >= b - 1e-10 for t, b in zip(theta, hi.tolist(), strict=True)]
    edge = [a or b for a, b in zip(at_lo, at_hi, strict=True)]
    edge[-1] = at_hi[-1] or (at_lo[-1] and float(lo[-1]) < 0)
    if any(edge):
        return None
    projected = [0.0 if a and g > 0 else g for a, g in zip(at_lo, grad, strict=True)]
    converged = settled and max(map(abs, projected)) <= GRAD_TOL * len(y)
    phi = _unpack(theta, equal_variances)
    z = model.z
    zk = [z[:, 0] + z[:, 1]] if equal_variances else [z[:, 0], z[:, 1]]
    zk.append(z[:, 2])  # tau2 stays in Kenward-Roger's W even at 0, as in pbkrtest
    try:
        beta, c, df_kr, var_kr = model.inference(phi, np.column_stack(zk))
    except np.linalg.LinAlgError:
        return None
    boundary = at_lo[-1] and float(lo[-1]) == 0.0
    # Satterthwaite: lme4's theta scale (theta = 0 drops out at the boundary, as in
    # lmerTest), except where tau2 < 0 or the unbounded fit's fallback holds it at 0
    # and keeps it among the estimated parameters (phi itself there)
    df = model.satterthwaite_observed(
        phi, equal_variances, theta_scale=phi[2] > 0 or (boundary and not keep_tau2)) \
        if observed_df else math.nan
    if observed_df and not math.isfinite(df) and keep_tau2 and boundary:
        # the fallback's observed information is not positive definite: the expected
        df = df_kr
    values = (beta[1], c[1, 1], df_kr, var_kr)
    if not (all(math.isfinite(v) or v == math.inf for v in values) and c[1, 1] > 0
            and var_kr > 0 and df_kr > 0):
        return None
    if not df > 0:  # no observed information: no Satterthwaite test (KR's is unaffected)
        df = math.nan
    return Fit(float(beta[1]), math.sqrt(c[1, 1]), math.sqrt(var_kr), float(df), float(df_kr),
               *phi, converged=converged)
