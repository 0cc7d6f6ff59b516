"""What a planner adds must not move a result the wrong way: more ESWs never lengthen
the wait for a caseload place nor lower the power of the pre-specified clustered
analysis (bigger clusters, fewer of them, with an ESW ICC above 0). Compared on common
random numbers (the same replications); a difference must be beyond 4 Monte Carlo SE of
the paired differences, in the right direction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_cfg

from trialsim.experiments.runner import run_replications
from trialsim.inputs.params import build_params

R, SEED = 150, 61


def _rows(per_locality: int):
    cfg = make_cfg("scenario=pain_services", f"delivery.esw.per_locality={per_locality}",
                   "outcome.esw_icc=0.1", "trial.recruitment_months=36")
    return run_replications(build_params(cfg), R, SEED, figures=False).replications


@pytest.fixture(scope="module")
def by_esws():
    return {k: _rows(k) for k in (1, 2, 4)}


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    d = np.asarray(b, float) - np.asarray(a, float)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))


def test_more_esws_never_lengthen_the_wait(by_esws):
    for fewer, more in ((1, 2), (2, 4)):
        mean, se = _paired(by_esws[fewer]["delivery_mean_wait_days"],
                           by_esws[more]["delivery_mean_wait_days"])
        assert mean <= 4 * se, (fewer, more, mean, se)
    mean, se = _paired(by_esws[1]["delivery_mean_wait_days"],
                       by_esws[4]["delivery_mean_wait_days"])
    assert mean < -4 * se  # and from 1 to 4 ESWs a locality, clearly shorter


def test_more_esws_never_lower_the_power(by_esws):
    for fewer, more in ((1, 2), (2, 4)):
        mean, se = _paired(by_esws[fewer]["primary_reject"], by_esws[more]["primary_reject"])
        assert mean >= -4 * se, (fewer, more, mean, se)
    mean, se = _paired(by_esws[1]["primary_reject"], by_esws[4]["primary_reject"])
    assert mean > 4 * se  # 4 ESWs against 16 at ICC 0.1: clearly more power
