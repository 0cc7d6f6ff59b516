"""Each ESW count's smallest N read off the fitted power curve (`design.pick_n=fitted`).

Why: the grid rule takes, for each number of ESWs per locality, the first grid N whose
own Monte Carlo bound clears the goal, so the frontier moves with the noise at one or
two grid points (a lucky 0.94 at N 900 and an unlucky 0.88 at N 950 decide it). The
probit-in-log-N curve (`trialsim/analysis/power_curve.py`) goes through every N the
search simulated at that ESW count, screened or in full, all from the same seeds
(common random numbers), and borrows strength from all of them. Sharing seeds, the
points are not independent binomials: a replication's decisions at two ESW counts (same
N) agree more often than chance, though across N they hardly do (the outcome draws
differ), so the curve's covariance is clustered on the replication
(`power_curve.cluster_cov`): the bound is then that of the points' actual dependence,
wider or narrower than independent binomials would say, depending on which points share
information. The N picked is the
smallest grid N at or above the N where the curve's one-sided lower bound
(`design.confidence`) reaches the goal: a bound on the curve, as the grid rule's is on
one point. The check run (fresh seed) still confirms the design, and steps N up when
it does not.

One slope in log N for every ESW count, an intercept each: the walk spends each count's
points close to its answer (two or three N a grid step apart), which fix a level but
not a slope (a free slope per count gave curves flat to N 0 on the default search). A
count's curve goes through its own points and those of the counts with more ESWs (the
design search's `_fitted`): the points there are when the walk, from the most ESWs down,
settles it, so that nothing searched after it moves its N. Each
count's N is read off its own curve, not the envelope over fewer ESWs, and the frontier
is made monotone the conservative way (`pick`): a count never needs less N than a count
with more ESWs, rather than borrowing a lower N from a noisy count with fewer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trialsim.analysis.power_curve import fit_power_curve, n_for_level


@dataclass(frozen=True)
class FittedN:
    """Where the fitted curve of one ESW count reaches the goal."""

    esw: int  # ESWs per locality
    n: float | None  # the fitted curve's N for the goal (None: beyond any trial)
    lower: float | None  # its 95% interval (delta method on log N)
    upper: float | None
    n_bound: float | None  # smallest N whose one-sided lower bound clears the goal
    grid_n: int | None  # n_bound rounded up to the grid (None: beyond it)
    points: int  # simulated N at this ESW count the curve went through

    def record(self) -> dict[str, float | int | None]:
        return {"fitted_n": self.n, "fitted_n_lower": self.lower, "fitted_n_upper": self.upper,
                "fitted_n_bound": self.n_bound, "fitted_grid_n": self.grid_n,
                "fitted_points": self.points}


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def fitted_ns(points: Sequence[tuple[int, int, int, int]], target: float,
              n_grid: Sequence[int], z: float,
              outcomes: Sequence[np.ndarray] | None = None) -> dict[int, FittedN]:
    """For each ESW count among `points` ((N, ESWs per locality, rejections,
    replications)), where the fitted curve reaches `target`; {} when no curve can be
    fitted (fewer than two distinct N, or the fit does not converge). `outcomes`: each
    point's decisions by replication, when the points share their seeds (the design
    search's): the curve's covariance, hence its bound, is clustered on the
    replication."""
    keep = [i for i, p in enumerate(points) if p[3] > 0]
    pts = [points[i] for i in keep]
    if len({p[0] for p in pts}) < 2:
        return {}
    try:
        fit = fit_power_curve([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts],
                              [p[3] for p in pts], common_slope=True,
                              outcomes=None if outcomes is None else [outcomes[i] for i in keep])
    except (ValueError, np.linalg.LinAlgError):
        return {}
    if not fit.converged or not np.all(np.isfinite(fit.params)) or fit.slope(
            fit.esw_levels[0]) <= 0:
        return {}
    grid = sorted(int(n) for n in n_grid)
    out = {}
    for e in fit.esw_levels:
        r = n_for_level(fit, target, e, z)
        bound = r.n_bound if math.isfinite(r.n_bound) else math.inf
        out[e] = FittedN(e, _finite(r.n), _finite(r.lower), _finite(r.upper), _finite(bound),
                         next((n for n in grid if n >= bound - 1e-9), None),
                         len({p[0] for p in pts if p[1] == e}))
    return out


def pick(grid_pick: dict[int, int | None], fitted: dict[int, FittedN],
         floor: int | None = None) -> dict[int, int | None]:
    """Each ESW count's N: the fitted one where the curve places it in the grid, else the
    grid rule's; None stays None (no grid N reached the goal). Then made monotone from the
    most ESWs down: a count needs at least the N of the count above it (power never
    falls with more ESWs), so more ESWs never need more N; `floor`: the N of a count
    above those given."""
    out: dict[int, int | None] = {}
    for e in sorted(grid_pick, reverse=True):
        n = grid_pick[e]
        if n is not None:
            f = fitted.get(e)
            if f is not None and f.grid_n is not None:
                n = f.grid_n
            if floor is not None:
                n = max(n, floor)
            floor = n
        out[e] = n
    return out
