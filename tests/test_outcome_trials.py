"""A block of replications' outcomes drawn together (model.trial.outcomes_of_trials) are
each replication's own, to the last bit: scores, returns, their days, item completion,
the text and ESW strategies and the mode effect, whatever else is in the block; and
the centring of the returns, taken within each trial, stops each trial where it alone
would stop."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
from conftest import make_cfg

from trialsim.inputs.params import build_params
from trialsim.model.followup import Waves
from trialsim.model.missingness import centred
from trialsim.model.trial import (
    ReplicationResult,
    outcomes_of,
    outcomes_of_trials,
    simulate_pathway,
)

SMALL = ("trial.target_n=60", "trial.localities=2", "sites.pain_services.count=6")
CASES = [
    (),
    ("follow_up.text_followup.enabled=true", "follow_up.esw_completion.enabled=true",
     "follow_up.months=[3,6,9,12]"),
    ("follow_up.mnar_gamma=1", "outcome.work_effect_centring=pooled",
     "follow_up.linkage=true", "outcome.esw_icc=0.2"),
    ("uncertainty.mode=pilot",),  # each replication its own parameters: one at a time
]


def _same(a, b, where: str) -> None:
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif isinstance(a, Waves):
        for f in fields(Waves):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    else:
        assert repr(a) == repr(b), where


@pytest.mark.parametrize("overrides", CASES)
def test_a_blocks_outcomes_are_each_replications_own(overrides):
    params = build_params(make_cfg(*SMALL, *overrides))
    pathways = [simulate_pathway(params, 3, rep) for rep in range(10, 16)]
    alone = [outcomes_of(p) for p in pathways]
    for block in (pathways, pathways[2:5], pathways[:1]):
        together = outcomes_of_trials(block)
        for a, b in zip(alone[pathways.index(block[0]):], together, strict=False):
            for f in fields(ReplicationResult):
                if f.name not in ("sites", "participants", "cohort"):
                    _same(getattr(a, f.name), getattr(b, f.name), f.name)


def test_another_outcome_model_on_a_block_is_each_replications_own():
    params = build_params(make_cfg(*SMALL))
    other = build_params(make_cfg(*SMALL, "outcome.effect_m12=0.5")).outcome
    pathways = [simulate_pathway(params, 3, rep) for rep in range(4)]
    for a, b in zip([outcomes_of(p, other) for p in pathways],
                    outcomes_of_trials(pathways, other), strict=True):
        _same(a.rtw_se, b.rtw_se, "rtw_se")
        _same(a.waves, b.waves, "waves")


def test_centring_trials_together_is_centring_each_alone():
    """Groups taken within each trial, each trial's Newton steps stopped where it alone
    stops them (trials of very different shifts need different numbers of steps)."""
    rng = np.random.default_rng(5)
    sizes = [40, 0, 75, 1, 120]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    n = int(bounds[-1])
    p = rng.uniform(0.02, 0.98, n)
    p[3] = 1.0
    shift = rng.normal(0, 1, n) * np.repeat([0.1, 1, 3.0, 1, 8.0], sizes)
    arm = rng.random(n) < 0.5
    sent = rng.random(n) < 0.9
    groups = [sent & arm, sent & ~arm]
    together = centred(p, shift, groups, bounds)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        alone = centred(p[a:b], shift[a:b], [g[a:b] for g in groups])
        assert np.array_equal(together[a:b], alone)
