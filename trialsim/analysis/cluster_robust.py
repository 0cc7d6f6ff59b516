"""OLS ANCOVA with the CR2 cluster-robust variance and Bell-McCaffrey degrees of freedom.

The arm effect is ANCOVA's (OLS of y on 1, arm, baseline); its variance is the
bias-reduced linearisation of Bell and McCaffrey (2002), "CR2": each ESW's clients form
a cluster, every TAU participant (and IPS participant never seen by an ESW) is a
cluster of one, and cluster j's residuals are adjusted by A_j = (I - H_jj)^(-1/2), so
that the variance is unbiased when the errors are independent with a common variance.
The t statistic is referred to a t distribution whose degrees of freedom are
Satterthwaite's for the CR2 variance, var = sum_j (p_j'e_j)^2 with p_j = A_j X_j M c,
computed under a working model Omega (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018,
JBES 36:672, whose R package clubSandwich computes the same):

    df = (sum_j g_j' Omega g_j)^2 / sum_ij (g_i' Omega g_j)^2,   g_j = (I - H)_{., j} p_j.

`working="estimated"` (the default) is Imbens and Kolesar's (2016, Rev Econ Stat 98:701)
refinement for clustered data: Omega is a random-intercept model whose parameters are
estimated from the OLS residuals, here with a residual variance per arm as in the
heteroscedastic partially nested model (within-ESW and TAU mean squares, and the ESW
variance by ANOVA from the ESW means' excess spread, held >= 0); `working="independent"`
is clubSandwich's default for lm (Omega = I).

Every term is a sum over clusters of 3 x 3 matrices: A_j X_j = X_j (I - M S_j)^(-1/2)
with S_j = X_j'X_j (a matrix function of the 3 x 3 L'S_jL, M = LL'), so p_j = X_j w_j,
and the Satterthwaite sums reduce to the per-cluster X_j'X_j, X_j'1 and X_j'e_j.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVERAGE_MAX = 1 - 1e-10  # an eigenvalue of H_jj at 1: cluster j alone fixes a coefficient


@dataclass(frozen=True)
class RobustFit:
    estimate: float
    se: float  # CR2
    df: float  # Bell-McCaffrey (Satterthwaite under the working model)
    s2_ips: float  # working model: within-ESW variance, IPS arm
    s2_tau: float
    tau2: float  # between-ESW variance (0 for working="independent")


def fit_cluster_robust(y: np.ndarray, x: np.ndarray, ips: np.ndarray, cluster: np.ndarray,
                       working: str = "estimated", coef: int = 1) -> RobustFit | None:
    """The OLS coefficient `coef` with its CR2 SE and Bell-McCaffrey df; `cluster` labels
    each row (TAU rows and IPS rows outside any ESW carry labels of their own). None when
    not estimable: X'X singular, a cluster that alone determines a coefficient, fewer
    than two IPS clusters, or a zero or non-finite variance."""
    ips = ips.astype(bool)
    n, p = x.shape
    _, cl, size = np.unique(cluster, return_inverse=True, return_counts=True)
    single = size[cl] == 1  # rows that are clusters of one
    multi = size > 1
    k = int(multi.sum())  # ESWs with two or more clients
    grp = np.cumsum(multi)[cl[~single]] - 1
    if k + int((single & ips).sum()) < 2 or not (~ips).any():
        return None
    xtx = x.T @ x
    try:
        np.linalg.cholesky(xtx)  # LinAlgError unless X'X is positive definite
        m = np.linalg.inv(xtx)  # which can still be singular to LU at the last bit
    except np.linalg.LinAlgError:
        return None
    beta = m @ (x.T @ y)
    e = y - x @ beta
    mc = m[:, coef]
    # clusters of one: A = (1 - h)^(-1/2), h the leverage, p_i = A x_i'M c
    xs, es = x[single], e[single]
    lev = np.einsum("ij,jk,ik->i", xs, m, xs)
    if not lev.max(initial=0.0) < LEVERAGE_MAX:
        return None
    p_s = (xs @ mc) / np.sqrt(1 - lev)
    var = float(((p_s * es) ** 2).sum())
    # ESWs: p_j = A_j X_j M c = X_j w_j, w_j = L f(L'S_jL) L'c, f(l) = (1 - l)^(-1/2)
    xc, ec = x[~single], e[~single]
    onehot = (grp == np.arange(k)[:, None]).astype(float)
    s_c = (onehot @ (xc[:, :, None] * xc[:, None, :]).reshape(len(xc), p * p)).reshape(k, p, p)
    try:  # M = L L'; fails when X'X is positive definite only to rounding
        ell = np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
        return None
    lam, rot = np.linalg.eigh(ell.T @ s_c @ ell)
    if not (np.isfinite(lam).all() and lam.max(initial=0.0) < LEVERAGE_MAX):
        return None
    w = np.einsum("jik,jk->ji", rot, (rot.transpose(0, 2, 1) @ ell[coef]) /
                  np.sqrt(1 - lam)) @ ell.T
    var += float((((onehot @ (xc * ec[:, None])) * w).sum(1) ** 2).sum())
    # working model Omega: a I + b J on an ESW, a + b on an IPS cluster of one, and the
    # TAU variance on a TAU participant
    if working == "independent":
        s2_ips = s2_tau = 1.0
        tau2 = 0.0
    else:
        s2_ips, s2_tau, tau2 = _working_model(e, ips, cl, size)
    omega_s = np.where(ips[single], s2_ips + tau2, s2_tau)
    sx = onehot @ xc  # X_j'1
    u_c = np.einsum("jik,jk->ji", s_c, w)  # X_j'p_j
    r_c = s2_ips * u_c + (tau2 * (sx * w).sum(1))[:, None] * sx  # X_j'Omega_j p_j
    u = np.vstack([xs * p_s[:, None], u_c])
    r = np.vstack([xs * (omega_s * p_s)[:, None], r_c])
    d = np.r_[omega_s * p_s * p_s, (w * r_c).sum(1)]  # p_j'Omega_j p_j
    c_omega = (xs * omega_s[:, None]).T @ xs + s2_ips * s_c.sum(0) + tau2 * sx.T @ sx
    # P_ij = g_i'Omega g_j = [i = j] d_i - r_i'M u_j - u_i'M r_j + u_i'M C M u_j
    z = np.hstack([r, u])
    kmat = np.zeros((2 * p, 2 * p))
    kmat[:p, p:] = kmat[p:, :p] = -m
    kmat[p:, p:] = m @ c_omega @ m
    low_rank = ((z @ kmat) * z).sum(1)
    trace = float(d.sum() + low_rank.sum())
    kzz = kmat @ (z.T @ z)
    frob = float((d * d).sum() + 2 * (d * low_rank).sum() + np.trace(kzz @ kzz))
    df = trace * trace / frob if frob > 0 else math.nan
    if not (var > 0 and math.isfinite(var) and df > 0 and math.isfinite(df)):
        return None
    return RobustFit(float(beta[coef]), math.sqrt(var), df, s2_ips, s2_tau, tau2)


def _working_model(e: np.ndarray, ips: np.ndarray, cl: np.ndarray, size: np.ndarray):
    """Within-ESW and TAU mean squares of the OLS residuals, and the between-ESW variance
    by ANOVA (truncated at 0), as in Imbens and Kolesar (2016) with a variance per arm.
    IPS clusters of one count as ESWs of one client."""
    ei = e[ips]
    tot = np.bincount(cl[ips], weights=ei, minlength=len(size))
    in_ips = np.bincount(cl[ips], minlength=len(size)) > 0
    m, tot = size[in_ips].astype(float), tot[in_ips]
    n_ips, k = float(m.sum()), len(m)
    ss_ips = float(ei @ ei)
    within = ss_ips - float((tot * tot / m).sum())
    if n_ips > k:
        s2_ips = within / (n_ips - k)
        between = float((tot * tot / m).sum() - tot.sum() ** 2 / n_ips) / (k - 1)
        m0 = (n_ips - float((m * m).sum()) / n_ips) / (k - 1)
        tau2 = max((between - s2_ips) / m0, 0.0)
    else:  # every IPS cluster a singleton: nothing separates the two variances
        s2_ips, tau2 = ss_ips / max(n_ips - 1, 1), 0.0
    et = e[~ips]
    s2_tau = float(et @ et) / max(len(et) - 1, 1)
    return s2_ips, s2_tau, tau2
