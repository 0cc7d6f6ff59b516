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
