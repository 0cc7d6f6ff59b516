"""Replications analysed in blocks (trialsim.analysis.trial_batch, runner.each_block):
the same columns as one replication at a time, blocks fixed by the replication index."""

from __future__ import annotations

import math

import pytest

from trialsim.analysis.trial_analysis import analysis_columns
from trialsim.analysis.trial_batch import analysis_columns_batch
from trialsim.experiments.runner import BLOCK, block_ranges
from trialsim.inputs.compose import compose_config
from trialsim.inputs.params import build_params
from trialsim.model.trial import simulate_replication


@pytest.mark.parametrize("first,count", [(0, 200), (0, 7), (3, 60), (25, 25), (40, 1)])
def test_blocks_cover_the_replications_once_cut_at_multiples_of_the_block(first, count):
    ranges = block_ranges(first, count)
    reps = [r for rg in ranges for r in rg]
    assert reps == list(range(first, first + count))
    for rg in ranges:  # no block crosses a multiple of BLOCK
        assert rg[0] // BLOCK == rg[-1] // BLOCK


@pytest.mark.parametrize("overrides", [
    ["trial.target_n=160"],
    ["trial.target_n=120", "analysis.method=ancova"],  # no ESW term
    ["trial.target_n=40"],  # small trials: some too small to fit
])
def test_a_block_gives_each_replication_its_own_columns(overrides):
    """To the batched fit's agreement with fit_mmrm (1e-10 relative, a margin of 100 on
    the estimates and p-values it propagates into); decisions equal."""
    params = build_params(compose_config(overrides))
    results = [simulate_replication(params, 11, rep) for rep in range(12)]
    batched = analysis_columns_batch(results, params.analysis, 11)
    for result, got in zip(results, batched, strict=True):
        want = analysis_columns(result, params.analysis, 11)
        assert got.keys() == want.keys()
        for k, v in want.items():
            if isinstance(v, float) and math.isnan(v):
                assert math.isnan(got[k]), k
            else:
                assert got[k] == pytest.approx(v, rel=1e-8, abs=1e-12), k
        assert got["primary_reject"] == want["primary_reject"]


def test_a_wave_nobody_returned_is_left_out_of_the_repeated_measures_model():
    """No RTW-SE complete at 3 months: the model is fitted to the other waves (the
    empty wave adds nothing to the likelihood and its covariances are not identified),
    alone and in a batch alike, rather than failing the run."""
    from trialsim.analysis.trial_analysis import TrialData

    cfg = compose_config(["follow_up.rtw_se_items_complete.m3=0"])
    params = build_params(cfg)
    results = [simulate_replication(params, 5, rep) for rep in range(4)]
    data = TrialData.from_replication(results[0], every_wave=True)
    assert data.rtw_se_waves.shape[1] == 2  # 6 and 12 months
    alone = [analysis_columns(r, params.analysis, 5) for r in results]
    batch = analysis_columns_batch(results, params.analysis, 5)
    assert all(a["primary_estimable"] == 1 for a in alone), alone
    for a, b in zip(alone, batch, strict=True):
        assert a["primary_estimate"] == pytest.approx(b["primary_estimate"], abs=1e-10)
