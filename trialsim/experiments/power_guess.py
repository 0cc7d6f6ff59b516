"""A design-effect approximation of power against N and the number of ESWs, used only
to start the design search near its answer (the simulation decides).

For a partially nested trial (Moerbeek and Wong 2008; Candlish et al. 2018) the
variance of the arm difference is about

    Var(N, K) = c (a / N + b / K),   b = sd_ips^2 icc,

where K is the number of ESWs, `a / N` the unclustered part (both arms' residual
variance over the numbers analysed, after baseline adjustment) and `b / K` the
between-ESW part that no N removes. `a` is read off the first simulated candidate's
model SEs; `c` (1 at first) is refitted by binomial maximum likelihood to every
simulated candidate, so the guess improves as the search goes. Power is that of a
t-test with K - 1 degrees of freedom (the IPS arm's variance rests on K ESWs), or of a
z-test when ESWs do not enter the analysis (`analysis.method=ancova`, or employment as
the primary: b = 0). With the effect uncertain (assurance) it is averaged over the
effect's prior by Gauss-Hermite quadrature.

At the allocation ratio IPS:TAU with IPS share p (`trial.allocation_ratio`), the
unclustered part is sd_ips^2 (1 - icc) / (p N) + sd_tau^2 / ((1 - p) N): `a` read off a
candidate holds for its own ratio, and `power(n, k, share=q)` moves it to another
share q by the ratio of those terms (b / K does not depend on the ratio: it rests on
the K ESW means). Without `share` the guess is the calibrated ratio's, as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize
from scipy.special import ndtr, ndtri, stdtr, stdtrit

from trialsim.inputs.params import ModelParams

NODES = 20


@dataclass
class PowerGuess:
    effect: float  # the arm difference the analysis estimates
    b: float  # between-ESW variance share that no N removes (0: ESWs not in the analysis)
    alpha: float
    prior_sd: float = 0.0  # effect prior SD (assurance); 0: power
    a: float | None = None  # unclustered variance x N; from the first simulated candidate
    log_c: float = 0.0
    seen: list[tuple[int, int, int, int]] = field(default_factory=list)  # N, K, hits, reps
    share: float = 0.5  # IPS share of the ratio `a` is calibrated at
    var_ips: float = 1.0  # within-ESW IPS and TAU variances: how `a` moves with the share
    var_tau: float = 1.0

    @classmethod
    def from_params(cls, params: ModelParams, uncertain: bool) -> PowerGuess:
        o, a = params.outcome, params.analysis
        clustered = a.primary == "rtw_se" and a.method == "partially_nested"
        sd_ips = float(np.interp(12.0, o.control_months, o.ips_sds))
        prior = getattr(params.uncertainty, "effect_prior_sd", 0.0) if uncertain else 0.0
        sd_tau = float(np.interp(12.0, o.control_months, o.control_sds))
        return cls(effect=o.effect_m12 if a.primary == "rtw_se" else math.nan,
                   b=sd_ips**2 * o.esw_icc if clustered else 0.0, alpha=a.alpha,
                   prior_sd=float(prior or 0.0), share=params.allocation_ratio.ips_share,
                   var_ips=sd_ips**2 * (1 - o.esw_icc if clustered else 1.0),
                   var_tau=sd_tau**2)

    def unclustered_at(self, share: float | None) -> float | None:
        """`a` at IPS share `share` (None: the calibrated share's own)."""
        if self.a is None or share is None or share == self.share:
            return self.a
        def at(p: float) -> float:
            return self.var_ips / p + self.var_tau / (1 - p)
        return self.a * at(share) / at(self.share)

    def observe(self, n: int, k: int, hits: int, reps: int, se: np.ndarray,
                truth: np.ndarray) -> None:
        """A simulated candidate: N, ESWs, rejections out of replications, and its
        replications' model SEs and full-data effects (for the first calibration)."""
        if self.a is None:
            se = se[np.isfinite(se) & (se > 0)]
            if len(se):
                var = float(np.median(se**2))
                self.a = max(n * (var - self.b / k), 1e-9 * n)
            if math.isnan(self.effect):
                finite = truth[np.isfinite(truth)]
                self.effect = float(finite.mean()) if len(finite) else 0.0
        self.seen.append((n, k, hits, reps))
        if self.a is not None and len(self.seen) > 1:
            self._refit()

    def _power(self, n: float, k: float, log_c: float, share: float | None = None) -> float:
        a = self.unclustered_at(share)
        if a is None:
            return math.nan
        var = math.exp(log_c) * (a / n + self.b / k)
        df = k - 1 if self.b > 0 and k > 1 else math.inf
        # scipy.special's functions, which scipy.stats' norm and t call, without the
        # frozen distribution and argument checks (a search calls this ~900 times)
        crit = ndtri(1 - self.alpha / 2) if math.isinf(df) else \
            stdtrit(df, 1 - self.alpha / 2)
        if self.prior_sd > 0:
            x, w = np.polynomial.hermite_e.hermegauss(NODES)
            effects = self.effect + self.prior_sd * x
            weights = w / w.sum()
        else:
            effects, weights = np.array([self.effect]), np.array([1.0])
        ncp = effects / math.sqrt(var)
        sf = ndtr(ncp - crit) if math.isinf(df) else stdtr(df, ncp - crit)
        return float(np.sum(weights * sf))

    def power(self, n: float, k: float, share: float | None = None) -> float:
        return self._power(n, k, self.log_c, share)

    def _refit(self) -> None:
        def nll(log_c: float) -> float:
            out = 0.0
            for n, k, hits, reps in self.seen:
                p = min(max(self._power(n, k, log_c), 1e-6), 1 - 1e-6)
                out -= hits * math.log(p) + (reps - hits) * math.log(1 - p)
            return out
        self.log_c = float(optimize.minimize_scalar(nll, bounds=(-3.0, 3.0),
                                                    method="bounded").x)

    def index(self, grid: tuple[int, ...], k: int, level: float, default: int) -> int:
        """The first grid index whose guessed power reaches `level` (the last if none;
        `default` before any calibration)."""
        if self.a is None:
            return default
        for i, n in enumerate(grid):
            if self.power(n, k) >= level:
                return i
        return len(grid) - 1

    def smallest_n(self, k: int, level: float, step: int, start: int,
                   limit: int = 100_000) -> int | None:
        """Beyond the grid: the smallest N (start + a multiple of `step`, up to `limit`)
        guessed to reach `level` with K ESWs (bisection: the guess rises with N)."""
        if self.a is None or self.power(limit, k) < level:
            return None
        lo, hi = -1, (limit - start) // step
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.power(start + mid * step, k) >= level:
                hi = mid
            else:
                lo = mid
        return start + hi * step
