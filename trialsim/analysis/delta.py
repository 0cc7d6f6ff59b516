"""Delta-adjusted sensitivity analysis (missing not at random) and its tipping point.

Every pre-specified RTW-SE estimator is generalised least squares at its estimated
variance parameters (ANCOVA: V = s2 I; the partially nested model; the repeated-measures
model), so at those parameters it is linear in the outcome vector. Fill each missing
12-month value with its conditional mean under the fitted MAR model: the completed data
give back the primary estimate exactly (the GLS score of the completed data is the
observed data's: V^-1 r = [V_oo^-1 r_o; 0]). Add delta to the filled values of the
chosen arm(s) and the estimate becomes

    est(delta) = est(0) + delta * g,   g = the estimator's weights summed over the
                                           shifted (missing) 12-month values,

which is exact, so the delta = 0 row is the primary analysis by construction. The SE is
held at its MAR value: information-anchored (Cro, Carpenter & Kenward 2019, JRSS A
182:623), the information about the effect is that of the primary analysis whatever
delta is assumed; conditional on who is missing, delta is a known constant and adds
no variance. Multiple imputation: est(delta) is the mean over completed datasets of
each one's est_k + delta g_k (each at its own variance parameters), the pooled SE held.

delta is in SD units: the pooled within-arm SD of the returned 12-month scores.
One exception to exactness: a complete-case partially nested fit whose ESW variance is
negative (esw_variance=unbounded) may make the full caseloads' covariance singular;
its slope is then taken at tau2 = 0 (an approximation; delta = 0 is still exact).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri, stdtrit

from trialsim.analysis.partially_nested import Fit, PartiallyNestedModel
from trialsim.analysis.repeated_measures import MmrmFit, MmrmModel

ARMS = ("ips", "tau", "both")
ONE_ARM = ("ips", "tau")  # a shift of both arms is the sum of these two (est is linear)


def shifted(ips: np.ndarray, missing: np.ndarray, arm: str) -> np.ndarray:
    """The indicator (0/1) of the missing 12-month values delta is added to."""
    ips = np.asarray(ips, dtype=bool)
    which = {"ips": ips, "tau": ~ips, "both": np.ones_like(ips)}[arm]
    return (np.asarray(missing, dtype=bool) & which).astype(float)


def outcome_sd(y: np.ndarray, ips: np.ndarray, observed: np.ndarray) -> float:
    """Pooled within-arm SD of the observed 12-month scores (delta's unit)."""
    ss, df = 0.0, 0
    for arm in (ips, ~ips):
        v = y[arm & observed]
        if len(v) > 1:
            ss += float(((v - v.mean()) ** 2).sum())
            df += len(v) - 1
    return math.sqrt(ss / df) if df > 0 else math.nan


def ols_slope(shift: np.ndarray, ips: np.ndarray, baseline: np.ndarray) -> float:
    """ANCOVA (and the CR2 analysis, whose estimate is ANCOVA's) on all randomised."""
    x = np.column_stack([np.ones(len(shift)), ips.astype(float), baseline])
    try:
        return float(np.linalg.solve(x.T @ x, x.T @ shift)[1])
    except np.linalg.LinAlgError:
        return math.nan


def partially_nested_slope(shift: np.ndarray, ips: np.ndarray, baseline: np.ndarray,
                           esw: np.ndarray, fit: Fit) -> float:
    """The partially nested GLS on all randomised at the fit's (s2_ips, s2_tau, tau2)."""
    return partially_nested_slopes(shift, ips, baseline, esw, [fit])[0]


def partially_nested_slopes(shift: np.ndarray, ips: np.ndarray, baseline: np.ndarray,
                            esw: np.ndarray, fits: list[Fit]) -> list[float]:
    """partially_nested_slope at each fit's variances (multiple imputation's completed
    datasets: one model of the shifted values, the GLS at each)."""
    ips = ips.astype(bool)
    cluster = np.where(esw >= 0, esw, -1 - np.arange(len(esw)))
    x = np.column_stack([np.ones(len(shift)), ips.astype(float), baseline])
    model = PartiallyNestedModel(shift, x, ips, cluster)
    out = []
    for fit in fits:
        phi = np.array([fit.s2_ips, fit.s2_tau, fit.tau2])
        if not (model.z @ phi > 0).all():
            # a negative tau2 (esw_variance=unbounded) that the ESWs' full caseloads make
            # singular: the weights of the model without the ESW covariance (tau2 = 0), an
            # approximation of the slope only; est(0) is still the primary estimate
            phi[2] = 0.0
        try:
            out.append(float(model._gls(phi)[4][1]))
        except np.linalg.LinAlgError:
            out.append(math.nan)
    return out


def mmrm_slope(shift: np.ndarray, ips: np.ndarray, baseline: np.ndarray,
               covariates: np.ndarray | None, esw: np.ndarray, fit: MmrmFit, waves: int,
               esw_intercept: bool) -> float:
    """The repeated-measures GLS on every randomised participant with every wave, at the
    fit's Sigma (and tau2); the shift at the last wave only."""
    y = np.zeros((len(shift), waves))
    y[:, -1] = shift
    model = MmrmModel(y, ips.astype(bool), baseline, covariates, esw,
                      esw_intercept=esw_intercept)
    phi = [fit.sigma[0][j, k] for j, k in model.pairs]
    if esw_intercept:
        phi.append(fit.tau2)
    try:
        _, _, zsz = model._factor(np.array(phi))
        p = model.p
        return float(np.linalg.solve(zsz[:p, :p], zsz[:p, p])[model.effect])
    except np.linalg.LinAlgError:
        return math.nan


def tipping_delta(estimate: float, se: float, df: float, slope: float,
                  alpha: float) -> float:
    """The delta (in the slope's units) at which the conclusion changes: the test
    rejects (p < alpha, in favour of IPS) where est + delta slope > t_crit se. NaN when
    delta cannot move the estimate (nothing missing in the shifted arm)."""
    if not (slope != 0 and math.isfinite(slope) and se > 0 and df > 0):
        return math.nan
    crit = float(stdtrit(df, 1 - alpha / 2)) if math.isfinite(df) else \
        float(ndtri(1 - alpha / 2))
    return (crit * se - estimate) / slope


def rejects_at(estimate, se, df, slope, delta: float, alpha: float) -> np.ndarray:
    """Whether each trial rejects at delta (arrays over trials; NaN slope: as at 0)."""
    estimate, se, df, slope = (np.asarray(v, dtype=float) for v in (estimate, se, df, slope))
    crit = np.where(np.isfinite(df), stdtrit(np.where(np.isfinite(df), df, 1.0),
                                             1 - alpha / 2), ndtri(1 - alpha / 2))
    est = estimate + delta * np.nan_to_num(slope)
    return (est > crit * se) & np.isfinite(est) & (se > 0)
