"""The estimators a trial can pre-specify, in numpy and scipy (no statsmodels in the
hot path; tests use statsmodels as the oracle): ANCOVA, ANCOVA with a cluster-robust
(CR2) variance, the partially nested model, the difference in two proportions, and the
missing-data analyses (the repeated-measures model; multiple imputation with ANCOVA).
Which one a simulated trial runs is decided in trialsim.analysis.trial_analysis. None
raises on degenerate data: it returns a result whose status says "not_estimable" (or
"not_converged")."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri, stdtr, stdtrit

from trialsim.analysis.cluster_robust import fit_cluster_robust
from trialsim.analysis.multiple_imputation import impute_by_arm, rubin
from trialsim.analysis.partially_nested_batch import fit_partially_nested_many
from trialsim.analysis.repeated_measures import MmrmFit, fit_mmrm


@dataclass(frozen=True)
class TestResult:
    estimate: float
    se: float
    p_value: float
    ci_low: float
    ci_high: float
    df: float  # math.inf for a z-test
    status: str = "ok"  # ok | not_estimable | not_converged
    # the model fit behind it (partially nested or repeated-measures), for the delta
    # sensitivity analysis that holds its variance parameters (trialsim.analysis.delta)
    fit: object = field(default=None, compare=False, repr=False)

    def rejects(self, alpha: float) -> bool:
        """Two-sided test at alpha, in the direction of benefit (estimate > 0)."""
        return bool(self.p_value < alpha and self.estimate > 0)


NOT_ESTIMABLE = TestResult(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan,
                           "not_estimable")
NOT_CONVERGED = TestResult(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan,
                           "not_converged")


def _t_result(est: float, se: float, df: float, alpha: float) -> TestResult:
    if not (se > 0 and math.isfinite(se) and math.isfinite(est) and df > 0):
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
    var = float(resid @ resid) / df * xtx_inv[1, 1]
    if not var > 0:  # a singular X'X that inv() did not notice, or no residual variance
        return NOT_ESTIMABLE
    return _t_result(float(beta[1]), math.sqrt(var), df, alpha)


def partially_nested(y: np.ndarray, arm: np.ndarray, baseline: np.ndarray, esw: np.ndarray,
                     alpha: float, *, esw_variance: str = "unbounded",
                     small_sample: str = "kenward_roger",
                     equal_variances: bool = False) -> TestResult:
    """The partially nested model (trialsim.analysis.partially_nested) on complete cases:
    arm + baseline, a random ESW intercept in the IPS arm, a residual variance per arm.
    IPS participants never seen by an ESW (esw < 0) are clusters of one. A degenerate
    fit (too few participants or ESWs, a singular system, a variance at its bound) is
    not estimable; a fit whose optimiser did not converge is reported as such and not
    used (no rejection)."""
    return partially_nested_many(y[None], arm, baseline, esw, alpha,
                                 esw_variance=esw_variance, small_sample=small_sample,
                                 equal_variances=equal_variances)[0]


def partially_nested_many(ys: np.ndarray, arm: np.ndarray, baseline: np.ndarray,
                          esw: np.ndarray, alpha: float, *, esw_variance: str = "unbounded",
                          small_sample: str = "kenward_roger",
                          equal_variances: bool = False) -> list[TestResult]:
    """partially_nested of each outcome y of `ys` (m x n) with the same arms, baseline and
    ESWs (multiple imputation's completed datasets): one fit alone, several in step
    (trialsim.analysis.partially_nested_batch: the same fits to rounding, or to the
    stopping rule's resolution where the ESW variance is negative)."""
    ips = arm.astype(bool)
    n_tau = int((~ips).sum())
    n_esw = len(set(esw[ips & (esw >= 0)].tolist()))
    if ys.shape[1] < 6 or n_tau < 2 or int(ips.sum()) < 3 or n_esw < 2:
        return [NOT_ESTIMABLE] * len(ys)
    cluster = np.where(esw >= 0, esw, -1 - np.arange(len(esw)))
    x = np.column_stack([np.ones(len(baseline)), ips.astype(float), baseline])
    fits = fit_partially_nested_many(ys, x, ips, cluster, equal_variances=equal_variances,
                                     nonnegative=esw_variance == "nonnegative",
                                     observed_df=small_sample == "satterthwaite")
    return [_partially_nested_result(fit, small_sample, alpha) for fit in fits]


def _partially_nested_result(fit, small_sample: str, alpha: float) -> TestResult:
    if fit is None:
        return NOT_ESTIMABLE
    if not fit.converged:
        return NOT_CONVERGED
    if small_sample == "kenward_roger":
        return _with_fit(_t_result(fit.estimate, fit.se_kr, fit.df_kr, alpha), fit)
    return _with_fit(_t_result(fit.estimate, fit.se, fit.df, alpha), fit)


def cluster_robust(y: np.ndarray, arm: np.ndarray, baseline: np.ndarray, esw: np.ndarray,
                   alpha: float, *, working: str = "estimated") -> TestResult:
    """ANCOVA's estimate (OLS of y on arm and baseline) with the CR2 cluster-robust SE,
    ESWs as clusters and every TAU participant (and IPS participant never seen by an
    ESW) a cluster of one, and Bell-McCaffrey degrees of freedom under an estimated
    random-intercept working model (trialsim.analysis.cluster_robust). Closed form: it
    cannot fail to converge; degenerate data (fewer than two IPS clusters, a cluster
    that alone fixes a coefficient, no residual variance) are not estimable."""
    ips = arm.astype(bool)
    if len(y) < 4 or ips.all() or not ips.any():
        return NOT_ESTIMABLE
    cluster = np.where(ips & (esw >= 0), esw, -1 - np.arange(len(y)))
    x = np.column_stack([np.ones(len(y)), ips.astype(float), baseline])
    with np.errstate(all="ignore"):
        fit = fit_cluster_robust(y, x, ips, cluster, working=working)
    if fit is None:
        return NOT_ESTIMABLE
    return _t_result(fit.estimate, fit.se, fit.df, alpha)


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


UNFITTED = object()  # repeated_measures: no fit given, fit here


def rm_estimable(y: np.ndarray, arm: np.ndarray, esw: np.ndarray | None = None) -> bool:
    """Whether the repeated-measures model is fitted at all: 3 participants with a
    wave in each arm and, with the ESW term (`esw` given), 2 ESWs with a client seen at
    a wave, as the partially nested model needs: with one, tau2 is not identified (the
    information is singular and the fit's end is rounding)."""
    ips = arm.astype(bool)
    seen = ~np.isnan(y).all(1)
    if not ((ips & seen).sum() >= 3 and (~ips & seen).sum() >= 3):
        return False
    return esw is None or len(set(esw[ips & seen & (esw >= 0)].tolist())) >= 2


def repeated_measures(y: np.ndarray, arm: np.ndarray, baseline: np.ndarray, esw: np.ndarray,
                      alpha: float, *, covariates: np.ndarray | None = None,
                      esw_intercept: bool = True, per_arm: bool = False,
                      fit: MmrmFit | None | object = UNFITTED) -> TestResult:
    """The repeated-measures model (trialsim.analysis.repeated_measures) on every wave
    returned: y is participants x waves (NaN where not returned, the last wave the
    analysed one), esw -1 where never seen. The effect at the last wave with the
    Kenward-Roger SE and df. Too few participants or a degenerate fit: not estimable; a
    fit that did not converge: not converged. `fit`: this dataset's fit_mmrm, when it
    was fitted with others (trialsim.analysis.trial_batch)."""
    if not rm_estimable(y, arm, esw if esw_intercept else None):
        return NOT_ESTIMABLE
    if fit is UNFITTED:
        with np.errstate(all="ignore"):
            fit = fit_mmrm(y, arm.astype(bool), baseline, covariates, esw, per_arm=per_arm,
                           esw_intercept=esw_intercept)
    if fit is None:
        return NOT_ESTIMABLE
    if not fit.converged:
        return NOT_CONVERGED
    return _with_fit(_t_result(fit.estimate, fit.se_kr, fit.df_kr, alpha), fit)


def _with_fit(r: TestResult, fit) -> TestResult:
    return r if r.status != "ok" else dataclasses.replace(r, fit=fit)


def imputed_ancova(y: np.ndarray, arm: np.ndarray, baseline: np.ndarray,
                   auxiliaries: np.ndarray, alpha: float, m: int,
                   rng: np.random.Generator) -> TestResult:
    """Multiple imputation by arm (trialsim.analysis.multiple_imputation.impute_by_arm:
    waves in order from baseline, the auxiliaries, e.g. work status, and earlier waves),
    ANCOVA of the last wave on arm and baseline in each completed dataset, Rubin's rules
    with the Barnard-Rubin df (complete-data df n - 3). Not estimable when an arm has
    too few returns at some wave to impute it."""
    ips = arm.astype(bool)
    n = len(baseline)
    if n < 6 or ips.all() or not ips.any():
        return NOT_ESTIMABLE
    cov = np.column_stack([baseline, auxiliaries])
    try:
        done = impute_by_arm(y, ips, cov, m, rng)
    except (ValueError, np.linalg.LinAlgError):
        return NOT_ESTIMABLE
    x = np.column_stack([np.ones(n), ips.astype(float), baseline])
    try:
        xtx_inv = np.linalg.inv(x.T @ x)
    except np.linalg.LinAlgError:
        return NOT_ESTIMABLE
    last = done[:, :, -1]  # m x n
    beta = last @ (x @ xtx_inv)  # m x 3: each completed dataset's OLS
    resid = last - beta @ x.T
    var = (resid**2).sum(1) / (n - 3) * xtx_inv[1, 1]
    if not (var > 0).all():
        return NOT_ESTIMABLE
    pooled = rubin(beta[:, 1], var, n - 3)
    return _t_result(pooled.estimate, pooled.se, pooled.df, alpha)


@dataclass(frozen=True)
class Imputed:
    """What multiple imputation pooled: each completed dataset's result (their fits
    for the delta sensitivity analysis) and the completed 12-month values."""

    results: tuple[TestResult, ...]
    completed: np.ndarray  # m x n: the analysed (last) wave of each completed dataset


def imputed(y: np.ndarray, arm: np.ndarray, baseline: np.ndarray,
            auxiliaries: np.ndarray | None, alpha: float, m: int,
            rng: np.random.Generator, analyse) -> TestResult:
    """Multiple imputation by arm (impute_by_arm: every wave in order from baseline, the
    auxiliaries and the earlier waves), each completed dataset's last wave analysed by
    `analyse(ys, arm, baseline) -> [TestResult]` (the pre-specified method, on every
    randomised participant; ys: the m datasets' last waves, m x n; one result each),
    pooled by Rubin's rules with the Barnard-Rubin df. The
    complete-data df is the median of the per-imputation small-sample df (mice's dfcom
    is one number; a mixed model's KR df varies a little across completed datasets).
    Not estimable when an arm has too few returns at some wave to impute it or fewer
    than two completed datasets could be analysed."""
    ips = arm.astype(bool)
    n = len(baseline)
    if n < 6 or ips.all() or not ips.any():
        return NOT_ESTIMABLE
    cov = baseline[:, None] if auxiliaries is None else np.column_stack([baseline, auxiliaries])
    try:
        done = impute_by_arm(y, ips, cov, m, rng)
    except (ValueError, np.linalg.LinAlgError):
        return NOT_ESTIMABLE
    last = done[:, :, -1]
    results = analyse(last, ips, baseline)
    ok = [r for r in results if r.status == "ok"]
    if len(ok) < 2:
        return NOT_ESTIMABLE
    dfs = [r.df for r in ok]
    pooled = rubin([r.estimate for r in ok], [r.se**2 for r in ok], float(np.median(dfs)))
    out = _t_result(pooled.estimate, pooled.se, pooled.df, alpha)
    return _with_fit(out, Imputed(tuple(results), last))
