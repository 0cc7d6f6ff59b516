"""Time to the N-th randomisation against its analytic law.

With identical sites open from day 0 and one Poisson channel, the time to the N-th
randomisation is Gamma(N, total rate); with Gamma(a, rate b) site rates across C sites
it is betaprime(N, C a, scale b) (Anisimov and Fedorov). The share of simulated times
below each analytic quantile must be within 4 binomial standard errors of its level.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_cfg, z_share
from scipy import stats

from trialsim.experiments.runner import run_replications
from trialsim.inputs.params import build_params

LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)


def pain_service_only(count: int, rate: float, shape: str, target: int):
    return make_cfg(
        "scenario=pain_services",
        f"sites.pain_services.count={count}",
        f"sites.pain_services.frailty_shape={shape}",
        f"sites.pain_services.clinics.rate={rate}",
        "sites.pain_services.rate_discount=1",
        "sites.pain_services.clinics.contact=1.0",
        "sites.pain_services.clinics.eligible=1.0",
        "sites.pain_services.clinics.consent=1.0",
        "sites.pain_services.opening.first_month=0",
        "sites.pain_services.opening.interval_months=0",
        "sites.pain_services.opening.setup_delay_mean_months=0",
        "screening.delay_mean_days=0",
        "screening.coordinators=null",
        f"trial.target_n={target}",
        "trial.recruitment_months=1200",
    )


def months_to_target(cfg, reps: int, seed: int) -> np.ndarray:
    rows = run_replications(build_params(cfg), reps, seed).replications
    assert rows["target_reached"].all()
    return rows["months_to_target"].to_numpy()


def assert_follows(times: np.ndarray, law) -> None:
    for level in LEVELS:
        hits = int((times <= law.ppf(level)).sum())
        assert abs(z_share(hits, len(times), level)) <= 4, (level, hits / len(times))
    se = times.std(ddof=1) / np.sqrt(len(times))
    assert abs(times.mean() - law.mean()) <= 4 * se


def test_identical_sites_give_erlang_time_to_nth():
    cfg = pain_service_only(count=5, rate=0.8, shape="inf", target=40)
    times = months_to_target(cfg, reps=1500, seed=3)
    assert_follows(times, stats.gamma(40, scale=1 / (5 * 0.8)))


def test_issue_quantiles_of_the_betaprime_law():
    law = stats.betaprime(200, 20 * 1.5, scale=3)
    assert law.ppf([0.1, 0.5, 0.9]) == pytest.approx([15.81, 20.19, 26.19], abs=0.01)


def test_gamma_frailties_give_betaprime_time_to_nth():
    a, b, sites = 1.5, 3.0, 20
    cfg = pain_service_only(count=sites, rate=a / b, shape=str(a), target=200)
    times = months_to_target(cfg, reps=1500, seed=5)
    assert_follows(times, stats.betaprime(200, sites * a, scale=b))
