"""Delivery's compiled pass after recruitment (trialsim.model.delivery_pass) against the
event recursion it replays (trialsim.model.delivery, the reference engine): the same
participants to the last bit, in configurations that between them reach every branch
of the pass (caseloads binding, patience running out, moving away before the first
appointment, time-unlimited support, readiness shifted by years out of work, no
delays, ties on the day, two OTs, an amber plan's extra sites and retention), and when
its first draws of uniforms run short."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from conftest import make_cfg
from test_event_order import TIES

from trialsim import compiled
from trialsim.compiled import kernel
from trialsim.inputs.params import build_params
from trialsim.model import delivery_pass, recruitment_pass, trial
from trialsim.model.records import Cohort
from trialsim.units import DAYS_PER_MONTH

pytestmark = pytest.mark.skipif(not compiled.AVAILABLE, reason="numba not installed")

BIND = ("delivery.esw.per_locality=1", "delivery.esw.caseload=4",
        "delivery.esw.disengage_wait_per_month=0.5")
CASES = {  # overrides, and whether the internal pilot's amber plan acts at its review
    "default": ((), False),
    "pilot": (("scenario=pilot",), False),
    "mixed, readiness by years out": (("scenario=mixed",
                                       "employment.ready.odds_ratio_per_year_out=0.8"), False),
    "caseloads bind, patience": (BIND, False),
    "moving away often, two OTs": ((*BIND, "employment.withdraw_on_job.ips={k: 6, n: 8}",
                                    "employment.withdraw_on_job.tau={k: 6, n: 11}",
                                    "delivery.ot.count=2"), False),
    "time-unlimited support, no caseload limit": (("delivery.esw.support_months=null",
                                                   "delivery.esw.caseload=inf"), False),
    "half-time posts, N 400": (("delivery.esw.fte=0.5", "trial.target_n=400",
                                "sites.pain_services.count=30"), False),
    "ties on the day, no delays": ((*TIES, "delivery.esw.caseload=3",
                                    "delivery.ot.joint_delay_mean_days=0"), False),
    "rescue sites, caseloads bind": ((*BIND, "progression.amber_action.extra_sites=3"), True),
    "rescue retention": (("progression.amber_action.retention=esw_completion",), True),
    # one place a locality and no patience: some wait past the follow-up's horizon
    "one place, waits past the horizon": (("delivery.esw.per_locality=1",
                                           "delivery.esw.caseload=1"), False),
    "the target reached, N 80": (("trial.target_n=80",), False),
}
REPS = 6


def _params(case):
    overrides, rescue = CASES[case]
    params = build_params(make_cfg(*overrides))
    return params, (params.progression.review_day(params.window_days) if rescue else None)


def _records(pathway):
    return [dataclasses.astuple(p) for p in pathway.people]


@pytest.mark.parametrize("case", list(CASES))
def test_the_compiled_pass_gives_the_recursions_participants(case):
    params, day = _params(case)
    seen = {"waited": 0, "gave_up": 0, "away_first": 0, "withdrew": 0, "jobs": 0,
            "past_horizon": 0, "target": 0}
    horizon = max(params.follow_up.months) * DAYS_PER_MONTH
    for rep in range(REPS):
        ours = trial.simulate_pathway(params, 7, rep, day, engine="compiled")
        ref = trial.simulate_pathway(params, 7, rep, day, engine="reference")
        assert repr(_records(ours)) == repr(_records(ref))  # repr: NaN equal to itself
        for f in dataclasses.fields(Cohort):  # every array, and its dtype
            a, b = getattr(ours.cohort, f.name), getattr(ref.cohort, f.name)
            if isinstance(b, np.ndarray):
                assert a.dtype == b.dtype, f.name
                np.testing.assert_array_equal(a, b, err_msg=f.name)
            else:
                assert a == b, f.name
        r, q = ours.recruitment, ref.recruitment
        assert (r.close_reason, r.close_day, r.packs(), r.nurse_visits) == \
            (q.close_reason, q.close_day, q.packs(), q.nurse_visits)
        np.testing.assert_array_equal(r.funnel_counts(), q.funnel_counts())
        np.testing.assert_array_equal(r.call_days(), q.call_days())
        seen["target"] += q.close_reason == "target"
        for p in ref.people:
            seen["past_horizon"] += p.first_appointment_day >= p.randomised_day + horizon
            seen["waited"] += p.esw_wait_days > 0
            seen["gave_up"] += p.disengaged and p.esw < 0 and p.esw_wait_days > 0
            seen["away_first"] += (p.arm == "ips" and p.withdrawn_day < math.inf
                                   and math.isnan(p.first_appointment_day))
            seen["withdrew"] += p.withdrawn_day < math.inf
            seen["jobs"] += len(p.jobs)
    assert seen["jobs"] > 0
    if case == "caseloads bind, patience":
        assert seen["waited"] > 0 and seen["gave_up"] > 0
    if case == "moving away often, two OTs":
        assert seen["withdrew"] > 0 and seen["away_first"] > 0
    if case == "one place, waits past the horizon":
        assert seen["past_horizon"] > 0  # support starting after the horizon
    if case == "the target reached, N 80":
        assert seen["target"] > 0  # closed at the target: the queue's requests filtered


def test_short_first_draws_are_drawn_again_from_the_start(monkeypatch):
    """Uniforms or spell rows running out restart the pass with more, from fresh
    generators: the same participants as with enough at once."""
    params, _ = _params("caseloads bind, patience")
    enough = [_records(trial.simulate_pathway(params, 7, rep, engine="compiled"))
              for rep in range(3)]
    calls = []
    real = delivery_pass._sizes

    def tiny(n, n_ips, scale):
        calls.append(scale)
        return tuple(max(1, s // 10_000) for s in real(n, n_ips, scale)) if scale < 4 ** 6 \
            else real(n, n_ips, scale)

    monkeypatch.setattr(delivery_pass, "_sizes", tiny)
    short = [_records(trial.simulate_pathway(params, 7, rep, engine="compiled"))
             for rep in range(3)]
    assert repr(short) == repr(enough)
    assert max(calls) > 1  # it did run short and start again


def test_an_unknown_engine_is_refused():
    params, _ = _params("default")
    with pytest.raises(ValueError, match="engine 'fast'"):
        trial.simulate_pathway(params, 7, 0, engine="fast")


def test_the_compiled_years_are_draws_years():
    """recruitment_pass.years_of (what the compiled loop's participants get) against
    YearsOutOfWork.draws (the reference's), edges of the long-term group included."""
    law = build_params(make_cfg()).years_out_of_work
    cut = 1 - law.share
    u = np.concatenate([np.random.default_rng(5).random(5000),
                        [0.0, cut, np.nextafter(cut, 0.0), np.nextafter(1.0, 0.0)]])
    z, consts = law.quantiles(u)
    assert kernel(recruitment_pass.years_of)(u, z, *consts).tolist() == law.draws(u)


def test_a_short_run_uses_the_reference_engine_unless_the_loops_are_loaded(monkeypatch):
    """Loading the compiled code costs more than a short run saves: below
    COMPILED_FROM participant-replications a run uses the reference (same values), unless
    the process has loaded the compiled loops already (then the cost is paid)."""
    kernel(recruitment_pass.years_of)
    assert trial.engine_for(trial.COMPILED_FROM - 1) == "compiled"
    monkeypatch.setattr(trial, "loaded", lambda: False)
    assert trial.engine_for(trial.COMPILED_FROM - 1) == "reference"
    assert trial.engine_for(trial.COMPILED_FROM) == trial.ENGINE == "compiled"


def test_the_compiled_engine_without_numba_is_refused(monkeypatch):
    monkeypatch.setattr(trial, "AVAILABLE", False)
    params, _ = _params("default")
    with pytest.raises(ValueError, match="needs numba"):
        trial.simulate_pathway(params, 7, 0, engine="compiled")
    with pytest.raises(ValueError, match="engine 'fast'"):
        trial.recruit_only(params, 7, 0, engine="fast")
