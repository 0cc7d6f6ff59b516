"""One posterior (or predictive) draw per piece of evidence, for assurance.

- Counts: Jeffreys posteriors, Beta(k + 1/2, n - k + 1/2) for k of n and
  Gamma(events + 1/2) / exposure for a rate; a fit `{estimate, se}` is held as the
  pseudo-counts that give its mean and SD (trialsim.inputs.evidence).
- A screening funnel: stages that screen the same people (nobody lost at a stage, so
  the next stage has the same n, as 13/13/13 at the pain clinics) are one piece of
  evidence, the run's overall conversion k_last of n_first. It is drawn once and split
  over the stages so that their product is the drawn conversion and each stage keeps
  its estimated share of the run's log conversion (`split_conversion`).
- A new site's rate: the pilot's counts came from J sites with frailties f_1..f_J
  (Gamma(shape, 1/shape), mean 1), so they tell the pilot sites' rate theta = mu * fbar,
  not the mean rate mu of a new site. With the Jeffreys prior on theta and the frailty
  model for fbar, the mean of J Gamma(shape, 1/shape) frailties, which is
  Gamma(J shape, 1/(J shape)) and which the totals cannot estimate, mu = theta / fbar
  is an exact posterior draw (for one channel it is the posterior under the Jeffreys
  prior of the negative binomial the pilot's total follows). Its mean, though, is
  E[theta] a / (a - 1), a = J shape: 4/3 of the pooled rate's with 2 services of shape 2,
  a new service better than the pilot's on average. It is re-centred: mu = theta (a - 1)
  / (a fbar), a constant times the predictive draw (the same random numbers), so its mean
  is E[theta] and its spread the predictive's (`new_site_factor`); with a <= 1 the
  predictive has no mean and mu = theta, the pooled draw. The model then multiplies mu
  by the kind's rate discount (sites.<kind>.rate_discount) and each site by its own
  frailty, as at the estimates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import ndtr, ndtri

from trialsim.inputs.evidence import Estimate, Proportion

HALF = 0.5  # the Jeffreys prior's half count
TINY = 1e-300  # keeps a frailty draw that underflows to 0 from dividing by zero


def jeffreys_proportion(k: float, n: float, rng: np.random.Generator) -> float:
    return float(rng.beta(k + HALF, n - k + HALF))


def jeffreys_rate(events: float, exposure: float, rng: np.random.Generator) -> float:
    """Per unit of exposure."""
    return float(rng.gamma(events + HALF)) / exposure


def counted(p: Proportion) -> bool:
    """k of n people (not a planning number, not a fit's pseudo-counts)."""
    return p.k is not None and not p.fitted and p.sites is None


def same_people(before: Proportion, after: Proportion) -> bool:
    """`after` screens the people `before` passed, and they are all of `before`'s: nobody
    was lost at `before` (k = n) and `after` counts the same n."""
    return counted(before) and counted(after) and before.k == before.n and after.n == before.n


def funnel_runs(stages: Sequence[Proportion]) -> list[list[int]]:
    """The stages (indices, in order) grouped into runs of the same people."""
    runs: list[list[int]] = []
    for i, stage in enumerate(stages):
        if runs and same_people(stages[i - 1], stage):
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def conversion_draw(run: Sequence[Proportion], rng: np.random.Generator) -> float:
    """The run's overall conversion, k of its last stage out of n of its first."""
    return jeffreys_proportion(run[-1].k, run[0].n, rng)


def split_conversion(q: float, run: Sequence[Proportion]) -> tuple[float, ...]:
    """Stage values with product q: stage i gets q ** w_i, w_i its share of the run's log
    conversion as estimated from its own counts, log((k_i + 1/2) / (n_i + 1)) over their
    sum (defined even for 13 of 13: equal stages share equally)."""
    logs = [math.log((s.k + HALF) / (s.n + 1.0)) for s in run]
    total = sum(logs)
    return tuple(q ** (w / total) for w in logs)


def pilot_sites_mean_frailty(sites: int, shape: float, rng: np.random.Generator) -> float:
    """The mean frailty of the `sites` pilot sites the counts came from:
    Gamma(sites * shape, scale 1 / (sites * shape)); 1 for identical sites (shape inf)."""
    if math.isinf(shape):
        return 1.0
    j = sites * shape
    return max(float(rng.gamma(j, 1.0 / j)), TINY)


def new_site_factor(sites: int, shape: float, rng: np.random.Generator) -> float:
    """What takes the pilot sites' drawn rate theta to a new site's mean rate:
    (a - 1) / (a fbar), fbar their mean frailty, a = sites * shape, so that E[1 / fbar],
    a / (a - 1), is divided out; 1 for identical sites (shape inf) or a <= 1 (fbar is
    drawn all the same, so that the generator's later draws never shift)."""
    if math.isinf(shape):
        return 1.0
    fbar = pilot_sites_mean_frailty(sites, shape, rng)
    a = sites * shape
    return (a - 1.0) / (a * fbar) if a > 1.0 else 1.0


def frailty_shape(median: float, log_sd: float, rng: np.random.Generator) -> float:
    """Log-normal around the configured shape (inf stays inf: identical sites)."""
    if math.isinf(median) or log_sd == 0:
        return median
    return median * math.exp(log_sd * float(rng.standard_normal()))


def sd_scale(df: float, rng: np.random.Generator) -> float:
    """sigma / s for an SD s on df degrees of freedom: sqrt(df / chi2_df), the Jeffreys
    (1 / sigma^2) posterior; 1 for inf."""
    return 1.0 if math.isinf(df) else math.sqrt(df / float(rng.chisquare(df)))


def beta_mean_sd(mean: float, sd: float, rng: np.random.Generator) -> float:
    """Beta with this mean and SD (sd < sqrt(mean (1 - mean)), checked in priors)."""
    if sd == 0:
        return mean
    total = mean * (1 - mean) / sd**2 - 1
    return float(rng.beta(mean * total, (1 - mean) * total))


def estimate_draw(e: Estimate, rng: np.random.Generator) -> float:
    """Normal(estimate, se) truncated to [lo, hi], by inversion."""
    a, b = ndtr((e.lo - e.value) / e.se), ndtr((e.hi - e.value) / e.se)
    u = a + (b - a) * float(rng.random())
    return float(min(max(e.value + e.se * ndtri(u), e.lo), e.hi))
