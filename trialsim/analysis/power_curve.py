"""A smooth, monotone power curve through simulated power estimates.

Each simulated trial either rejects or not; the chance it rejects is modelled as a probit
in log N with an intercept and a slope for each number of ESWs per locality e:

    P(reject | N, e) = Phi(a_e + b_e log N)

fitted by maximum likelihood (Newton's method on the binomial log-likelihood, which is
concave for the probit link), all levels in one fit. Monotone by construction: in N,
because every slope is positive (if one comes out at or below 0, as for a flat curve
of Monte Carlo noise, the levels share one slope); in ESWs, because the curve of e is
the upper envelope of the fitted curves of every level up to e (more ESWs never less
power). The curve replaces the jagged points of a grid of Monte Carlo estimates (e.g.
0.94 at N 900 and 0.82 at N 1,000 with 2 ESWs per locality) by one that borrows strength
from every point, so N for a target power is read from the curve, not from Monte Carlo
noise at one grid point. Its own slope per level matters: with few ESWs the clustering
flattens power against N.

Used by the report's power-curve figure and, to pick N, by the design search
(`n_for_power`, `smallest_n_by_esw`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

Z95 = 1.959963984540054


@dataclass(frozen=True)
class PowerFit:
    """The fitted curves: eta_e(N) = a_e + b_e log N (b shared when `common_slope`)."""

    esw_levels: tuple[int, ...]  # the ESWs per locality seen, ascending
    params: np.ndarray  # intercepts (one per level), then the slope(s)
    cov: np.ndarray  # inverse observed information of params
    loglik: float
    converged: bool
    iterations: int
    common_slope: bool

    def slope(self, esw: int) -> float:
        i = self.esw_levels.index(esw)
        k = len(self.esw_levels)
        return float(self.params[-1] if self.common_slope else self.params[k + i])

    def _row(self, n: float, esw: int) -> np.ndarray:
        if esw not in self.esw_levels:
            raise ValueError(f"ESWs per locality {esw} not among the fitted {self.esw_levels}")
        i, k = self.esw_levels.index(esw), len(self.esw_levels)
        x = np.zeros(len(self.params))
        x[i] = 1.0
        x[-1 if self.common_slope else k + i] = math.log(n)
        return x

    def eta(self, n: Sequence[float] | np.ndarray, esw: int) -> tuple[np.ndarray, np.ndarray]:
        """The linear predictor of level `esw` alone at each N, and its standard error
        (delta method; a variance rounding below 0, as near a fit's separation, taken as 0,
        as `_n_for_level` takes it)."""
        x = np.array([self._row(float(v), esw) for v in np.atleast_1d(n)])
        eta = x @ self.params
        se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", x, self.cov, x), 0.0))
        return eta, se

    def power(self, n, esw: int, level: float = 0.95):
        """(fitted power, lower, upper) at each N for `esw` ESWs per locality: the upper
        envelope of the levels up to `esw`, each with its pointwise band Phi(eta +- z se)."""
        z = float(ndtri(0.5 + level / 2))
        out = None
        for e in self.esw_levels:
            if e > esw:
                break
            eta, se = self.eta(n, e)
            cur = np.array([ndtr(eta), ndtr(eta - z * se), ndtr(eta + z * se)])
            out = cur if out is None else np.maximum(out, cur)
        if out is None:
            raise ValueError(f"ESWs per locality {esw} below the fitted {self.esw_levels}")
        return out[0], out[1], out[2]


@dataclass(frozen=True)
class NForPower:
    """The N at which the fitted power reaches a target, with its uncertainty."""

    n: float  # point estimate (continuous)
    lower: float  # 95% interval for that N (delta method on log N)
    upper: float
    n_bound: float  # smallest N whose one-sided lower bound (z) on fitted power clears it


def _design(n: np.ndarray, esw: np.ndarray, levels: list[int], common: bool) -> np.ndarray:
    k = len(levels)
    x = np.zeros((len(n), k + (1 if common else k)))
    idx = np.array([levels.index(int(e)) for e in esw])
    x[np.arange(len(n)), idx] = 1.0
    if common:
        x[:, -1] = np.log(n)
    else:
        x[np.arange(len(n)), k + idx] = np.log(n)
    return x


def probit_mle(x: np.ndarray, k: np.ndarray, m: np.ndarray, *, tol: float = 1e-12,
               max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, float, bool, int]:
    """Binomial probit by Newton's method: k successes of m at each row of x.
    Returns (params, covariance = inverse observed information, log-likelihood,
    converged, iterations). Same maximum as statsmodels' Probit on the expanded 0/1 rows."""
    x, k, m = (np.asarray(a, dtype=float) for a in (x, k, m))
    p0 = np.clip((k.sum() + 0.5) / (m.sum() + 1.0), 1e-6, 1 - 1e-6)
    beta = np.zeros(x.shape[1])
    beta[:-1] = ndtri(p0)  # every intercept at the pooled rate, slope 0

    def loglik(b):
        eta = x @ b
        return float(np.sum(k * log_ndtr(eta) + (m - k) * log_ndtr(-eta)))

    def derivatives(b):
        eta = x @ b
        lam1, lam0 = _eta_scores(eta)  # phi / Phi, -phi / (1 - Phi)
        lam0 = -lam0
        g = k * lam1 - (m - k) * lam0
        h = k * lam1 * (eta + lam1) + (m - k) * lam0 * (lam0 - eta)  # minus d2l/deta2
        return x.T @ g, (x * h[:, None]).T @ x

    ll = loglik(beta)
    converged, it = False, 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        grad, info = derivatives(beta)
        step = np.linalg.solve(info, grad)
        t = 1.0
        while True:  # step halving keeps every iteration uphill
            new = beta + t * step
            new_ll = loglik(new)
            if new_ll >= ll - 1e-12 or t < 1e-8:
                break
            t /= 2
        beta, change = new, new_ll - ll
        ll = new_ll
        if np.max(np.abs(t * step)) < tol or abs(change) < tol * 1e-3:
            converged = True
            break
    _, info = derivatives(beta)
    return beta, np.linalg.inv(info), ll, converged, it


def _eta_scores(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d log-likelihood / d eta of a success and of a failure: phi/Phi and -phi/(1-Phi)."""
    logphi = -0.5 * eta ** 2 - 0.5 * math.log(2 * math.pi)
    return np.exp(logphi - log_ndtr(eta)), -np.exp(logphi - log_ndtr(-eta))


def cluster_cov(x: np.ndarray, beta: np.ndarray, info: np.ndarray,
                outcomes: Sequence[np.ndarray]) -> np.ndarray:
    """The sandwich covariance of the probit fit clustered on the replication: row p of
    `x` holds the 0/1 `outcomes[p]` of replications 0, 1, ... (replication r is the same
    seed at every point: common random numbers), so the points are not independent
    binomials. info^-1 B info^-1, B the sum over replications of the outer product of
    each replication's score summed over the points, times G/(G-1) (N-1)/(N-K) (G
    replications, N trials, K parameters): statsmodels' cov_type="cluster" with its
    default correction."""
    g = max(len(o) for o in outcomes)
    s1, s0 = _eta_scores(x @ beta)
    scores = np.zeros((g, x.shape[1]))
    for p, o in enumerate(outcomes):
        o = np.asarray(o, dtype=float)
        scores[:len(o)] += np.outer(np.where(o > 0, s1[p], s0[p]), x[p])
    bread = np.linalg.inv(info)
    nobs, k = sum(len(o) for o in outcomes), x.shape[1]
    meat = scores.T @ scores * (g / (g - 1.0)) * ((nobs - 1.0) / (nobs - k))
    return bread @ meat @ bread


def fit_power_curve(n: Iterable[float], esw: Iterable[int], rejections: Iterable[float],
                    replications: Iterable[float], common_slope: bool | None = None,
                    outcomes: Sequence[np.ndarray] | None = None) -> PowerFit:
    """The probit curves through simulated points: at each (N, ESWs per locality),
    `rejections` of `replications` trials rejected (power x replications). A slope per
    level, unless a level has fewer than two distinct N or a slope comes out at or
    below 0 (then one common slope); `common_slope` forces the choice. `outcomes`: each
    point's 0/1 decisions by replication (summing to its rejections), when the points
    share their seeds: the covariance is then clustered on the replication
    (`cluster_cov`); without them the points are taken as independent binomials."""
    n, esw = np.asarray(list(n), dtype=float), np.asarray(list(esw), dtype=int)
    k, m = np.asarray(list(rejections), dtype=float), np.asarray(list(replications), dtype=float)
    if not (len(n) == len(esw) == len(k) == len(m)) or len(n) < 2:
        raise ValueError("need at least two points, each with N, ESWs, rejections, replications")
    if outcomes is not None and (len(outcomes) != len(n) or any(
            len(o) != mm or float(np.sum(o)) != kk
            for o, kk, mm in zip(outcomes, k, m, strict=True))):
        raise ValueError("each point's outcomes must be its replications' 0/1 decisions")
    if len(np.unique(n)) < 2:
        raise ValueError("need at least two distinct N to fit a slope")
    levels = sorted({int(e) for e in esw})
    if common_slope is None:
        common_slope = any(len(np.unique(n[esw == e])) < 2 for e in levels)
    x = _design(n, esw, levels, common_slope)
    beta, cov, ll, ok, it = probit_mle(x, k, m)
    if not common_slope and np.any(beta[len(levels):] <= 0):
        return fit_power_curve(n, esw, k, m, common_slope=True, outcomes=outcomes)
    if (outcomes is not None and max(len(o) for o in outcomes) >= 2
            and sum(len(o) for o in outcomes) > x.shape[1]):  # else the sandwich is undefined
        cov = cluster_cov(x, beta, np.linalg.inv(cov), outcomes)
    return PowerFit(tuple(levels), beta, cov, ll, ok, it, common_slope)


def n_for_power(fit: PowerFit, target: float, esw: int, z: float = 1.6448536269514722,
                level: float = 0.95) -> NForPower:
    """The N at which the fitted power of `esw` ESWs per locality reaches `target`: the
    point estimate with its `level` interval (delta method on log N), and `n_bound`, the
    smallest N whose one-sided lower bound (z standard errors) on the fitted power
    clears the target (inf if none does). Over the envelope: the level up to `esw` that
    gets there first."""
    found = [_n_for_level(fit, target, e, z, level) for e in fit.esw_levels if e <= esw]
    if not found:
        raise ValueError(f"ESWs per locality {esw} below the fitted {fit.esw_levels}")
    best = min(found, key=lambda r: r.n)
    return NForPower(best.n, best.lower, best.upper, min(r.n_bound for r in found))


def n_for_level(fit: PowerFit, target: float, esw: int, z: float = 1.6448536269514722,
                level: float = 0.95) -> NForPower:
    """As `n_for_power`, from the curve of level `esw` alone (no envelope over fewer
    ESWs: the design search keeps its frontier monotone its own, conservative way)."""
    if esw not in fit.esw_levels:
        raise ValueError(f"ESWs per locality {esw} not among the fitted {fit.esw_levels}")
    return _n_for_level(fit, target, esw, z, level)


def _n_for_level(fit: PowerFit, target: float, esw: int, z: float, level: float) -> NForPower:
    b = fit.slope(esw)
    if b <= 0:
        return NForPower(math.inf, math.inf, math.inf, math.inf)
    x0 = fit._row(1.0, esw)  # log 1 = 0: the intercept's row
    q = float(ndtri(target))
    a = float(x0 @ fit.params)
    log_n = (q - a) / b
    # d log N / d(a, b) = (-1/b, -(q - a)/b^2) on the level's intercept and slope
    i, k = fit.esw_levels.index(esw), len(fit.esw_levels)
    grad = np.zeros(len(fit.params))
    grad[i] = -1.0 / b
    grad[-1 if fit.common_slope else k + i] = -(q - a) / b ** 2
    se = math.sqrt(max(float(grad @ fit.cov @ grad), 0.0))
    zl = float(ndtri(0.5 + level / 2))
    if log_n > 50:  # beyond any trial
        return NForPower(math.inf, math.inf, math.inf, math.inf)
    return NForPower(math.exp(log_n), math.exp(log_n - zl * se),
                     math.exp(min(log_n + zl * se, 50)), _n_bound(fit, q, esw, z,
                                                                  math.exp(log_n)))


def _n_bound(fit: PowerFit, q: float, esw: int, z: float, start: float) -> float:
    """Smallest N with eta(N) - z se(N) >= q, by bisection on log N (the bound rises
    with N above the point estimate in any usable fit)."""
    def lower(log_n: float) -> float:
        eta, se = fit.eta([math.exp(log_n)], esw)
        return float(eta[0] - z * se[0]) - q

    start = max(start, 1.0)  # a curve reaching the target below N 1: from N 1
    lo = hi = math.log(start)
    if lower(lo) >= 0:  # no uncertainty left: the point estimate
        return start
    step = 0.05
    while lower(hi) < 0:
        hi += step
        step *= 2
        if hi > math.log(start) + 20:  # the band never clears the target
            return math.inf
    for _ in range(60):
        mid = (lo + hi) / 2
        if lower(mid) >= 0:
            hi = mid
        else:
            lo = mid
    return math.exp(hi)


def fit_evaluations(evaluations: Iterable[dict], quantity: str = "power") -> PowerFit | None:
    """The curve through design.json's `evaluations` rows that carry `quantity` (power or
    assurance) with their replications; None if fewer than two distinct N."""
    rows = [e for e in evaluations if e.get(quantity) is not None and e.get("replications")
            and e.get("target_n") and e.get("esw_per_locality") is not None]
    if len({e["target_n"] for e in rows}) < 2:
        return None
    return fit_power_curve([e["target_n"] for e in rows], [e["esw_per_locality"] for e in rows],
                           [round(e[quantity] * e["replications"]) for e in rows],
                           [e["replications"] for e in rows])


def smallest_n_by_esw(evaluations: Iterable[dict], target: float, n_grid: Sequence[int],
                      quantity: str = "power", z: float = 1.6448536269514722,
                      ) -> dict[int, int | None]:
    """For each ESWs per locality fitted, the smallest N of `n_grid` at or above the N
    where the fitted curve's one-sided lower bound (z) reaches `target` (None: beyond
    the grid). What the design search should use in place of the first grid point
    whose own Monte Carlo bound clears the target."""
    fit = fit_evaluations(list(evaluations), quantity)
    if fit is None:
        return {}
    out: dict[int, int | None] = {}
    for e in fit.esw_levels:
        need = n_for_power(fit, target, e, z).n_bound
        out[e] = next((int(v) for v in sorted(n_grid) if v >= need - 1e-9), None)
    return out
