"""The calibration script still runs against the model as it is: its simulation steps
(the pilot's shares in work, the replay counts, the IPS outcome counts) on a few
replications. A model change once broke it unnoticed; the full run takes minutes, so
only these steps are run here, and the Table 12 fit's likelihood at its estimates."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import calibrate_pathway as cp  # noqa: E402


def test_the_calibration_script_simulation_steps_run():
    shares = cp.pilot_shares([], 3, 1)
    assert all(0.0 <= v <= 1.0 for by in shares.values() for v in by.values())
    params = cp.build_params(cp.make_cfg("scenario=pilot", "trial.target_n=10000"))
    counts = cp.replay_counts(params, 3, 1)
    assert set(counts) >= {c for c, _ in cp.CHECKS.values()}
    assert all(len(v) == 3 for v in counts.values())
    outcomes = cp.ips_outcomes(params, 3, 1)
    assert sum(outcomes.values()) == int(counts["n_ips"].sum())


def test_the_table12_likelihood_is_finite_at_the_configured_fit():
    years, weights = cp._years_out_of_work(
        cp.make_cfg().participants.years_out_of_work).nodes(*cp.FIT_NODES)
    model = cp.Table12Model(np.array(years), np.array(weights))
    theta = np.array([math.log(0.0352), math.log(0.1933), 2.28, cp.logit(0.8664),
                      *cp.logit(np.array([0.94, 0.92, 0.84, 0.84, 0.42]))])
    assert math.isfinite(model.loglik(theta)) and model.loglik(theta) < 0


def test_the_benchmark_counts_frontier_pairs_out_of_order():
    """make bench's frontier target (monotone in N and ESWs): pairs, within a ratio,
    where more ESWs per locality need a larger N; a count with no N is left out."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from benchmark import frontier_inversions

    row = lambda e, n, r="1:1": {"esw_per_locality": e, "target_n": n,  # noqa: E731
                                 "allocation_ratio": r}
    assert frontier_inversions([row(8, 650), row(7, 650), row(6, 750), row(4, 900)]) == 0
    assert frontier_inversions([row(8, 700), row(7, 650), row(6, 750)]) == 1
    assert frontier_inversions([row(8, 700), row(5, 650, "2:3"), row(3, None)]) == 0
