"""The pilot replay reproduces what happened after randomisation (WP4; Tables 8, 12, 13).

Each pilot figure must be an unremarkable draw from the simulated trials (inside their
90% interval), and the simulated mean must lie within 2 binomial standard errors of the
pilot's share: the pilot's own sampling error, which dwarfs the Monte Carlo error here.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_cfg

from trialsim.experiments.runner import run_replications
from trialsim.inputs.params import build_params

R = 1000
PILOT_SHARES = {  # column: (k, n)
    "retention_ips_m3": (15, 20),  # Table 8
    "retention_ips_m12": (10, 20),
    "retention_tau_m3": (26, 28),
    "retention_tau_m12": (20, 28),
    "employment_ever_ips": (8, 22),  # ESW records: 8 of 22 attained a job
}


@pytest.fixture(scope="module")
def runs():
    cfg = make_cfg("scenario=pilot", "trial.target_n=10000")
    return run_replications(build_params(cfg), R, seed=21).replications


@pytest.mark.parametrize("column", list(PILOT_SHARES))
def test_pilot_share_is_a_typical_draw_and_close_to_the_mean(runs, column):
    k, n = PILOT_SHARES[column]
    observed = k / n
    sim = runs[column].dropna()
    lo, hi = np.quantile(sim, [0.05, 0.95])
    assert lo <= observed <= hi, (column, lo, hi)
    se = np.sqrt(observed * (1 - observed) / n)
    assert abs(sim.mean() - observed) <= 2 * se, (column, sim.mean(), observed)


def test_two_of_22_ips_withdraw_after_finding_work(runs):
    lo, hi = np.quantile(runs["withdrawn_ips"], [0.05, 0.95])
    assert lo <= 2 <= hi
    per_ips = runs["withdrawn_ips"].sum() / runs["ips"].sum()
    assert abs(per_ips * 22 - 2) <= 2 * np.sqrt(22 * (2 / 22) * (20 / 22))
    assert (runs["withdrawn_tau"] == 0).all()


def test_tau_in_work_at_12_months_lies_within_the_pilots_3_to_8_of_28(runs):
    in_work = 28 * runs["employment_m12_tau"].mean()
    assert 3 <= in_work <= 8
