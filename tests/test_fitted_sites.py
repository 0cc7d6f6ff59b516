"""The fitted P(target) curve in sites (`experiments/fitted_sites.py`): with runs that
share their seeds, its interval clustered on the replication covers the count needed
as often as it says, where one taking the counts for independent evidence does not."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, ndtri

from trialsim.analysis.power_curve import fit_power_curve, n_for_level
from trialsim.experiments.fitted_sites import _sites_at, fitted_sites, near

GRID = tuple(range(1, 41))
RECRUITS = tuple(25.0 * s for s in GRID)  # expected recruits: 25 a site
MU, SD = math.log(700.0), 0.18  # each replication's threshold in log expected recruits
GOAL, Z = 0.8, 1.6448536269514722


def _true_sites() -> float:
    """Sites at which P(target) = GOAL: log E = MU + SD z_goal."""
    return math.exp(MU + SD * float(ndtri(GOAL))) / 25.0


def _runs(seed: int, reps: int = 200, counts=(24, 27, 28, 29, 31, 33, 36, 40)):
    """Common random numbers: replication r reaches the target with s sites exactly when
    log E(s) clears its own threshold, the same threshold at every count."""
    threshold = np.random.default_rng(seed).normal(MU, SD, reps)
    return {s: (math.log(RECRUITS[s - 1]) >= threshold).astype(float) for s in counts}


def test_the_clustered_interval_covers_as_it_says_and_the_binomial_one_does_not():
    """200 seeded searches: the clustered 95% interval covers the true count nearly as
    often as it says (92.5% of these seeds; a sandwich over 200 clusters runs slightly
    narrow; MC SE 1.5 points, so >= 0.90 is within 3 SE of 0.95 less that); the same
    counts taken as independent binomials cover far less often (68%)."""
    truth, covered, naive, found = _true_sites(), 0, 0, []
    for seed in range(200):
        runs = _runs(seed)
        f = fitted_sites(runs, GRID, RECRUITS, GOAL, Z)
        used = sorted((s, y) for s, y in runs.items() if near(y.mean(), GOAL, len(y)))
        assert f is not None and f.points == len(used)
        found.append(f.sites)
        covered += f.lower <= truth <= f.upper
        fit = fit_power_curve([RECRUITS[s - 1] for s, _ in used], [0] * len(used),
                              [y.sum() for _, y in used], [len(y) for _, y in used],
                              common_slope=True)  # the same counts, as independent
        r = n_for_level(fit, GOAL, 0, Z)
        naive += r.lower / 25.0 <= truth <= r.upper / 25.0
    assert covered / 200 >= 0.90
    assert naive / 200 < 0.75
    # and the count itself is unbiased: within 3 Monte Carlo SE of the truth
    assert abs(np.mean(found) - truth) < 3 * np.std(found) / math.sqrt(len(found))


def test_the_bound_is_above_the_point_and_inside_the_grid():
    f = fitted_sites(_runs(7), GRID, RECRUITS, GOAL, Z)
    assert f.lower < f.sites < f.bound < f.upper
    assert GRID[0] <= f.sites and f.upper <= GRID[-1]


def test_no_curve_without_a_slope_to_fit():
    runs = _runs(3)
    assert fitted_sites({28: runs[28]}, GRID, RECRUITS, GOAL, Z) is None  # one count
    none = {s: np.zeros(200) for s in (28, 30)}
    assert fitted_sites(none, GRID, RECRUITS, GOAL, Z) is None  # all no
    every = {s: np.ones(200) for s in (28, 30)}
    assert fitted_sites(every, GRID, RECRUITS, GOAL, Z) is None  # all yes


def test_sites_read_off_expected_recruits_that_level_off():
    """Sites opening after the window add no recruits: the first count reaching them."""
    recruits = (10.0, 20.0, 30.0, 30.0, 30.0)
    grid = (1, 2, 3, 4, 5)
    assert _sites_at(25.0, grid, recruits) == 2.5
    assert _sites_at(30.0, grid, recruits) == 3.0
    assert _sites_at(10.0, grid, recruits) == 1.0
    assert _sites_at(5.0, grid, recruits) is None  # fewer than one site brings
    assert _sites_at(31.0, grid, recruits) is None
    assert _sites_at(math.inf, grid, recruits) is None


def test_near_is_the_probit_window():
    assert near(GOAL, GOAL, 200) and near(0.5, GOAL, 200)
    assert not near(0.0, GOAL, 200)  # half a replication: probit -2.8
    assert near(float(ndtr(ndtri(GOAL) - 1.49)), GOAL, 10**6)
