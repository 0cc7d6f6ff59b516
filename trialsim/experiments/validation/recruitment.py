"""Recruitment against the exact law of the time to the N-th randomisation.

Pain services with one Poisson channel, every screening stage passed at once and no
coordinator queue, so that a recruit is randomised when she arrives. Site i opens at
month o_i and recruits at rate lam f_i, f_i ~ Gamma(a, scale 1/a) (a = inf: identical
sites). With N(t) the recruits by month t, P(T_N <= t) = P(N(t) >= N), where N(t) is
- Poisson(lam sum_i (t - o_i)+) for identical sites (all open at 0: T_N is Erlang), and
- a sum of negative binomials NB(a, mean lam (t - o_i)+) with frailties (all open at 0:
  T_N is betaprime(N, C a, scale a / lam), Anisimov and Fedorov 2007).
The staggered laws are computed exactly (a Poisson tail, a convolution of negative
binomial pmfs) and inverted numerically. A law passes when the simulated share below
each of its quantiles (10, 25, 50, 75, 90%) is within 4 binomial SE of the level and
the simulated mean within 4 MC SE of the law's mean.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np
from scipy import integrate, optimize, stats

from trialsim.experiments.validation.core import Case, Context, Result, mean_result, share_result

LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)


def _overrides(openings: list[float], rate: float, shape: float, target: int) -> list[str]:
    months = "[" + ",".join(f"{m:g}" for m in openings) + "]"
    return ["scenario=pain_services", f"sites.pain_services.count={len(openings)}",
            f"sites.pain_services.opening.months={months}",
            "sites.pain_services.opening.setup_delay_mean_months=0",
            f"sites.pain_services.frailty_shape={'inf' if math.isinf(shape) else shape}",
            f"sites.pain_services.clinics.rate={rate}", "sites.pain_services.rate_discount=1",
            "sites.pain_services.clinics.contact=1.0", "sites.pain_services.clinics.eligible=1.0",
            "sites.pain_services.clinics.consent=1.0",
            "screening.delay_mean_days=0", "screening.coordinators=null",
            f"trial.target_n={target}", "trial.recruitment_months=1200"]


def poisson_cdf(t: float, openings: np.ndarray, rate: float, target: int) -> float:
    exposure = float(np.clip(t - openings, 0, None).sum())
    return float(stats.poisson.sf(target - 1, rate * exposure))


def frailty_cdf(t: float, openings: np.ndarray, rate: float, shape: float,
                target: int) -> float:
    """P(N(t) >= target), N(t) a sum of NB(shape, mean rate (t - o_i)+) over the open sites."""
    pmf = np.zeros(target)
    pmf[0] = 1.0
    k = np.arange(target)
    for o in openings:
        mean = rate * max(t - o, 0.0)
        if mean <= 0:
            continue
        site = stats.nbinom.pmf(k, shape, shape / (shape + mean))
        pmf = np.convolve(pmf, site)[:target]
    return float(max(0.0, 1.0 - pmf.sum()))


def _numeric_law(cdf: Callable[[float], float], upper: float):
    """ppf and mean of a law on [0, inf) given its cdf."""
    def ppf(level: float) -> float:
        return optimize.brentq(lambda t: cdf(t) - level, 0.0, upper, xtol=1e-9)
    mean = integrate.quad(lambda t: 1.0 - cdf(t), 0.0, upper, limit=200)[0]
    return ppf, mean


def _law_results(case: str, times: np.ndarray, ppf: Callable[[float], float],
                 mean: float) -> list[Result]:
    out = [share_result(case, f"P(T <= law's {level:.0%} quantile {ppf(level):.2f} months)",
                        level, int((times <= ppf(level)).sum()), len(times))
           for level in LEVELS]
    out.append(mean_result(case, "mean months to target", mean, times))
    return out


def _times(ctx: Context, overrides: list[str], reps: int, offset: int) -> np.ndarray:
    rows = ctx.replications(overrides, reps, offset)
    return rows["months_to_target"].to_numpy(dtype=float)


def erlang(ctx: Context) -> list[Result]:
    sites, rate, target = 5, 0.8, 40
    times = _times(ctx, _overrides([0.0] * sites, rate, math.inf, target),
                   ctx.reps(2000, 400), 1)
    law = stats.gamma(target, scale=1 / (sites * rate))
    return _law_results("erlang", times, law.ppf, law.mean())


def poisson_staggered(ctx: Context) -> list[Result]:
    openings, rate, target = [0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0], 0.8, 40
    times = _times(ctx, _overrides(openings, rate, math.inf, target), ctx.reps(2000, 400), 2)
    ppf, mean = _numeric_law(partial(poisson_cdf, openings=np.array(openings), rate=rate,
                                     target=target), upper=400.0)
    return _law_results("poisson_staggered", times, ppf, mean)


def betaprime(ctx: Context) -> list[Result]:
    shape, scale, sites, target = 1.5, 3.0, 20, 200
    times = _times(ctx, _overrides([0.0] * sites, shape / scale, shape, target),
                   ctx.reps(2000, 400), 3)
    law = stats.betaprime(target, sites * shape, scale=scale)
    return _law_results("betaprime", times, law.ppf, law.mean())


def frailty_staggered(ctx: Context) -> list[Result]:
    openings = [0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 14.0]
    rate, shape, target = 1.3, 2.0, 120
    times = _times(ctx, _overrides(openings, rate, shape, target), ctx.reps(2000, 400), 4)
    ppf, mean = _numeric_law(partial(frailty_cdf, openings=np.array(openings), rate=rate,
                                     shape=shape, target=target), upper=2000.0)
    return _law_results("frailty_staggered", times, ppf, mean)


GROUP = "Recruitment: time to the N-th randomisation against its exact law"
CASES = [
    Case("erlang", GROUP, "5 identical sites open from day 0, 0.8 recruits a month each, "
         "N = 40: Erlang(40, 4 a month)", erlang, fast=False),
    Case("poisson_staggered", GROUP, "8 identical sites opening at months 0-10, 0.8 a month "
         "each, N = 40: Poisson tail of the cumulative rate", poisson_staggered),
    Case("betaprime", GROUP, "20 sites open from day 0, Gamma(1.5) frailty, 0.5 a month on "
         "average, N = 200: betaprime(200, 30, scale 3)", betaprime, fast=False),
    Case("frailty_staggered", GROUP, "12 sites opening at months 0-14, Gamma(2) frailty, "
         "1.3 a month on average, N = 120: convolution of negative binomials",
         frailty_staggered),
]
