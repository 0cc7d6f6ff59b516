"""Issue #19, part 1: new sites' rates discounted from the pilot's, site ramp-up.

- With every rate discount 1, ramp-up 0 and the old 1-month set-up delay, recruitment
  is today's to the last bit: the randomisation days, channels and sites of several
  replications pinned before the change (tests/fixtures/recruitment_before_discount.json,
  written by the code of commit bfe4cd6, before the discount) for four scenarios and a
  pooled assurance run.
- A stronger discount never raises P(target): the same seeds, so each replication's
  arrivals only come later or not at all (seeded, over a few pairs).
- The ramp's arrival law: the mean arrivals in [0, t] are the integral of the ramped
  rate within Monte Carlo error.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import make_cfg

from trialsim.inputs import ramp
from trialsim.inputs.params import build_params
from trialsim.inputs.workload import expected_randomised
from trialsim.model.recruitment import Source
from trialsim.model.sites import build_sites
from trialsim.model.trial import simulate_replication, target_reached
from trialsim.streams import Streams
from trialsim.units import DAYS_PER_MONTH

PINNED = json.loads((Path(__file__).parent / "fixtures" /
                     "recruitment_before_discount.json").read_text())
TODAY = ("sites.gp_practices.rate_discount=1", "sites.pain_services.rate_discount=1",
         "sites.gp_practices.opening.ramp_up_months=0",
         "sites.pain_services.opening.ramp_up_months=0")


@pytest.mark.parametrize("case", list(PINNED["cases"]))
def test_discount_1_and_no_ramp_reproduce_todays_recruitment(case):
    pinned = PINNED["cases"][case]
    params = build_params(make_cfg(*pinned["overrides"], *PINNED["overrides"], *TODAY))
    for rep, want in enumerate(pinned["replications"]):
        r = simulate_replication(params, seed=7, rep=rep)
        got = [[p.randomised_day, p.channel, p.site] for p in r.participants]
        assert r.close_day == want["close_day"]
        assert got == want["randomised"]


@pytest.mark.parametrize(("weaker", "stronger"), [(1.3, 1.0), (1.0, 0.7), (0.85, 0.5)])
def test_a_stronger_discount_never_raises_the_chance_of_the_target(weaker, stronger):
    """Mixed sites (every channel), target 80 in 12 months, the same 40 seeded
    replications at both discounts: the stronger reaches the target in fewer of them
    (P(target) about 1.0, 0.85, 0.6, 0.3 and 0.03 at 1.3, 1, 0.85, 0.7 and 0.5)."""
    def reached(d):
        params = build_params(make_cfg(
            "scenario=mixed", "trial.target_n=80", "trial.recruitment_months=12",
            f"sites.gp_practices.rate_discount={d}", f"sites.pain_services.rate_discount={d}"))
        return np.array([target_reached(params, 3, rep) for rep in range(40)])
    assert reached(stronger).sum() < reached(weaker).sum()


def test_ramped_arrivals_follow_the_integral_of_the_ramped_rate():
    """One site at 30 a month ramping over 2 months, open from day 0: arrivals by day t
    are Poisson with mean 30 x G(t) / 30.4375 (G: full-rate days, trialsim.inputs.ramp);
    checked at days within and after the ramp over 400 seeded streams, and the full-rate
    days without a ramp are today's."""
    params = build_params(make_cfg("sites.pain_services.count=1",
                                   "sites.pain_services.opening.months=[0]",
                                   "sites.pain_services.opening.ramp_up_months=2",
                                   "sites.pain_services.rate_discount=1",
                                   "sites.pain_services.clinics.rate=30",
                                   "sites.pain_services.frailty_shape=inf"))
    ramp_days = 2 * DAYS_PER_MONTH
    rate = 30 / DAYS_PER_MONTH
    checks = (10.0, 30.0, ramp_days, 90.0, 150.0)
    counts = np.zeros((400, len(checks)))
    for rep in range(400):
        streams = Streams(1, rep)
        site = build_sites(params, streams)[0]
        src = Source(0, site, 0, site.channels[0].stages, streams["arrivals"],
                     rate=rate, ramp=ramp_days, last=0.0)
        days, _ = src.poisson_until(150.0)
        assert (np.diff(days) >= 0).all()
        counts[rep] = [(days < t).sum() for t in checks]
    for j, t in enumerate(checks):
        mean = rate * float(ramp.full_rate_days(t, ramp_days))
        assert abs(counts[:, j].mean() - mean) <= 4 * math.sqrt(mean / 400), (t, mean)
        assert counts[:, j].var(ddof=1) == pytest.approx(mean, rel=0.25)
    assert float(ramp.full_rate_days(ramp_days, ramp_days)) == pytest.approx(ramp_days / 2)
    assert ramp.expected_days(17.3, 0.0) == 17.3


def test_expected_recruits_use_the_discount_and_the_ramp():
    base = ("sites.pain_services.count=4", "sites.pain_services.opening.months=[0,0,0,0]",
            "trial.recruitment_months=12", "sites.pain_services.rate_discount=1")
    full = expected_randomised(build_params(make_cfg(*base)))
    assert full == pytest.approx(4 * 1.3 * 12)
    half = expected_randomised(build_params(make_cfg(*base[:-1],
                                                     "sites.pain_services.rate_discount=0.5")))
    assert half == pytest.approx(full / 2)
    ramped = expected_randomised(build_params(make_cfg(
        *base, "sites.pain_services.opening.ramp_up_months=4")))
    assert ramped == pytest.approx(4 * 1.3 * (12 - 2))
