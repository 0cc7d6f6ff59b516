"""The internal pilot's recruitment criterion against the exact law of the number
randomised by the review month.

C pain services open from day 0 with no set-up delay, one Poisson channel, every
screening stage passed at once and no coordinator queue (a recruit is randomised when
she arrives), site i recruiting at rate lam f_i a month, f_i ~ Gamma(a, scale 1/a). The
number randomised by month k is then a sum of C independent NB(a, mean lam k), that is
NB(C a, mean C lam k); the plan by month k is target x k / window (every site-month
weighs the same). The review is red when N(k) < red x plan and green when
N(k) >= green x plan: P(red) = P(N(k) <= ceil(red x plan) - 1). A share passes within 4
binomial SE of the law.
"""

from __future__ import annotations

import math

from scipy import stats

from trialsim.experiments.validation.core import Case, Context, Result, share_result
from trialsim.experiments.validation.recruitment import _overrides
from trialsim.model.review import GREEN, RED
from trialsim.reporting import keys

SITES, RATE, SHAPE, WINDOW, MONTH = 10, 1.0, 2.0, 12.0, 4.0
RED_LINE, GREEN_LINE = 0.8, 1.0


def review_overrides(target: int) -> list[str]:
    base = [o for o in _overrides([0.0] * SITES, RATE, SHAPE, target)
            if not o.startswith("trial.recruitment_months")]
    return [*base, f"trial.recruitment_months={WINDOW:g}",
            f"progression.review_month={MONTH:g}", "progression.criteria=[recruitment]",
            f"progression.recruitment.red={RED_LINE:g}",
            f"progression.recruitment.green={GREEN_LINE:g}"]


def law(target: int) -> tuple[float, float]:
    """P(red) and P(green) from NB(C a, mean C lam k)."""
    plan = target * MONTH / WINDOW
    mean, shape = SITES * RATE * MONTH, SITES * SHAPE
    nb = stats.nbinom(shape, shape / (shape + mean))
    p_red = float(nb.cdf(math.ceil(RED_LINE * plan - 1e-9) - 1))
    p_green = float(nb.sf(math.ceil(GREEN_LINE * plan - 1e-9) - 1))
    return p_red, p_green


def recruitment_red(ctx: Context) -> list[Result]:
    target = int(SITES * RATE * WINDOW)  # the plan by month k is the expected number
    rows = ctx.replications(review_overrides(target), ctx.reps(4000, 800), 21)
    v = rows[keys.review_verdict(keys.OVERALL)].to_numpy()
    n = len(v)
    p_red, p_green = law(target)
    plan = target * MONTH / WINDOW
    return [
        share_result("progression_nb", f"P(red): fewer than {RED_LINE:g} x {plan:g} randomised "
                     f"by month {MONTH:g}", p_red, int((v == RED).sum()), n),
        share_result("progression_nb", f"P(green): at least {GREEN_LINE:g} x {plan:g} "
                     f"randomised by month {MONTH:g}", p_green, int((v == GREEN).sum()), n),
    ]


GROUP = "Internal pilot: the review's recruitment verdict against its exact law"
CASES = [
    Case("progression_nb", GROUP, f"{SITES} sites open from day 0, Gamma({SHAPE:g}) frailty, "
         f"{RATE:g} a month on average, review at month {MONTH:g} of {WINDOW:g}, red below "
         f"{RED_LINE:g} x plan: negative binomial NB({SITES * SHAPE:g}, mean "
         f"{SITES * RATE * MONTH:g})", recruitment_red),
]
