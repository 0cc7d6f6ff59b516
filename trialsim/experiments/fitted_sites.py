"""How many sites a window needs, read off a fitted P(target) curve with its uncertainty.

Why: the sites step reports the fewest sites of the grid whose own Monte Carlo bound
on P(target N within the window) clears the goal, a yes or no per count. A planner
costing the trial also wants to know how sure that count is. Every number of sites the
search simulated (screened or in full) gives each replication's yes or no for the same
(N, window), and the chance of a yes is modelled as a probit in log expected recruits
(the window's expected randomisations at that many sites, every random element at its
mean; the scale the sites guide interpolates on):

    P(target | sites) = Phi(a + b log E(sites))

fitted by `power_curve.fit_power_curve` (one level) through the counts whose P(target)
lies within NEAR of the goal on the probit scale, where the curve is close to linear in
log E (far from the goal the shape is not a probit's: P(target) levels off below 1 where
the window, not the sites, is short). The runs share their seeds
(common random numbers: a site added leaves the others' draws as they were), so a
replication's answers at two site counts nearly always agree; the covariance is
clustered on the replication (`power_curve.cluster_cov`), without which neighbouring
counts would pass for independent evidence and the interval would be far too narrow.
For the same reason the fitted bound adds little to the grid rule's, which stays the
pick: the curve reports, it does not choose.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from trialsim.analysis.power_curve import fit_power_curve, n_for_level

NEAR = 1.5  # counts used: P(target) within this of the goal on the probit scale


@dataclass(frozen=True)
class FittedSites:
    """Where the fitted P(target) curve of one (N, window) reaches the goal, in sites."""

    sites: float | None  # the fitted curve's count for the goal (None: outside the grid)
    lower: float | None  # its 95% interval (delta method on log expected recruits)
    upper: float | None
    bound: float | None  # fewest sites whose one-sided lower bound clears the goal
    points: int  # site counts the curve went through

    def record(self) -> dict[str, float | int | None]:
        return {"fitted_sites": self.sites, "fitted_sites_lower": self.lower,
                "fitted_sites_upper": self.upper, "fitted_sites_bound": self.bound,
                "fitted_points": self.points}


def _sites_at(expected: float, grid: Sequence[int], recruits: Sequence[float]) -> float | None:
    """The (fractional) number of sites at which `expected` recruits are first expected:
    linear between the two grid counts around it; None outside the grid, or for no
    answer. (Sites opening after the window add none: `recruits` may be flat.)"""
    if not math.isfinite(expected) or not recruits[0] <= expected <= recruits[-1]:
        return None
    i = next(j for j, e in enumerate(recruits) if e >= expected)
    if i == 0:
        return float(grid[0])
    e0, e1 = recruits[i - 1], recruits[i]
    return float(grid[i - 1] + (expected - e0) / (e1 - e0) * (grid[i] - grid[i - 1]))


def fitted_sites(reached: Mapping[int, np.ndarray], grid: Sequence[int],
                 recruits: Sequence[float], goal: float, z: float) -> FittedSites | None:
    """The fitted count for `goal` from each simulated count's 0/1 answers by replication
    (`reached`: sites -> reached the target within the window, replication 0, 1, ...);
    `recruits`: expected recruits at each count of `grid` (ascending). None when no
    curve can be fitted: fewer than two counts, answers all alike, or a curve that does
    not rise."""
    pts = [(s, np.asarray(y, dtype=float)) for s, y in sorted(reached.items()) if len(y)]
    pts = [(s, y) for s, y in pts if near(float(y.mean()), goal, len(y))]
    at = dict(zip(grid, recruits, strict=True))
    if len(pts) < 2 or len({at[s] for s, _ in pts}) < 2:
        return None
    hits = [float(y.sum()) for _, y in pts]
    if all(h == 0 for h in hits) or all(h == len(y) for h, (_, y) in zip(hits, pts, strict=True)):
        return None  # all no or all yes: no slope to fit
    try:
        fit = fit_power_curve([at[s] for s, _ in pts], [0] * len(pts), hits,
                              [len(y) for _, y in pts], common_slope=True,
                              outcomes=[y for _, y in pts])
    except (ValueError, np.linalg.LinAlgError):
        return None
    if not fit.converged or not np.all(np.isfinite(fit.params)) or fit.slope(0) <= 0:
        return None
    r = n_for_level(fit, goal, 0, z)
    ordered = list(grid)
    return FittedSites(_sites_at(r.n, ordered, recruits), _sites_at(r.lower, ordered, recruits),
                       _sites_at(r.upper, ordered, recruits),
                       _sites_at(r.n_bound, ordered, recruits), len(pts))


def probit(p: float, replications: int) -> float:
    """An estimate `p` of `replications` on the probit scale, 0 and 1 taken as half a
    replication from them (finite)."""
    return float(ndtri(min(max(p, 0.5 / replications), 1 - 0.5 / replications)))


def near(p: float, goal: float, replications: int) -> bool:
    """Whether an estimate `p` (of `replications`) is within NEAR of `goal` on the probit
    scale."""
    return abs(probit(p, replications) - float(ndtri(goal))) < NEAR
