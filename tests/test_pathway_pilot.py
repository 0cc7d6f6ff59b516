"""The pilot replay after randomisation (WP4; Tables 8, 12, 13; ESW records).

Retention is set from Table 8's patterns through the job-linked follow-up model, so the
simulated return at every wave and arm must equal Table 8's within Monte Carlo error
(4 SE over replications). Employment is calibrated to Table 12 and the ESW records, and
the IPS effect is the pilot's own estimate (RR 1.14). Whether the pilot's counts are
unremarkable draws (inside their simulated 90% intervals) is checked once, for every
count, by the pilot replay's validation table (tests/test_pilot_replay_table.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_cfg

from trialsim.experiments.runner import run_replications
from trialsim.inputs.params import build_params

R = 1000
TABLE8 = {  # returned of not withdrawn (IPS n = 20, TAU n = 28)
    "retention_ips_m3": 15 / 20, "retention_ips_m6": 14 / 20, "retention_ips_m12": 10 / 20,
    "retention_tau_m3": 26 / 28, "retention_tau_m6": 24 / 28, "retention_tau_m12": 20 / 28,
}


@pytest.fixture(scope="module")
def runs():
    cfg = make_cfg("scenario=pilot", "trial.target_n=10000")
    return run_replications(build_params(cfg), R, seed=21).replications


@pytest.mark.parametrize("column", list(TABLE8))
def test_returns_equal_table_8_at_every_wave_and_arm(runs, column):
    sim = runs[column].dropna()
    se = sim.std(ddof=1) / np.sqrt(len(sim))
    assert abs(sim.mean() - TABLE8[column]) <= 4 * se, (column, sim.mean(), se)


def test_ips_job_starts_follow_the_pilots_own_estimate_and_rise_with_an_effect(runs):
    """The pilot scenario runs at the pilot's own IPS estimate (RR 1.14): IPS starts
    jobs by 12 months near the ESW records' 8 of 22 (within 2 binomial SE of 22), and
    with the planner's 1.5 instead IPS adds jobs to TAU's (paired replications)."""
    share = runs["employment_ever_ips"].mean()
    se = np.sqrt(share * (1 - share) / 22)
    assert abs(share - 8 / 22) <= 2 * se, share
    effect = run_replications(build_params(make_cfg(
        "scenario=pilot", "trial.target_n=10000", "employment.ips_relative_risk_m12=1.5")),
        200, seed=21).replications
    diff = (effect["employment_ever_ips"] - runs["employment_ever_ips"][:200]).dropna()
    assert diff.mean() > 4 * diff.std(ddof=1) / np.sqrt(len(diff))


def test_nobody_withdraws_in_tau(runs):
    assert (runs["withdrawn_tau"] == 0).all()


def test_tau_in_work_at_12_months_near_the_pilots_3_to_8_of_28(runs):
    """The report bounds TAU's sustained work between 3 and 8 of 28: the simulated mean
    must lie within 2 binomial SE of that range."""
    share = runs["employment_m12_tau"].mean()
    se = np.sqrt(share * (1 - share) / 28)
    assert 3 / 28 - 2 * se <= share <= 8 / 28 + 2 * se
