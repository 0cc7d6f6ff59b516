"""The RTW-SE effect flows through delivery: IPS received as intended gets the planner's
effect, the rest of the IPS arm `effect_if_not_received` of it; the ITT effect follows."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from conftest import make_cfg

from trialsim.errors import ConfigError
from trialsim.experiments.runner import run_replications
from trialsim.inputs.params import build_params
from trialsim.model.outcomes import rtw_self_efficacy

MONTHS = (3.0, 6.0, 12.0)
# outcomes centred on 5 with SD 1, so that clipping to 0-10 does not move the means
FLAT = ("outcome.control.means=[5,5,5,5]", "outcome.control.sds=[1,1,1,1]",
        "outcome.ips_sds=[1,1,1,1]", "outcome.work_effect=0", "outcome.esw_icc=0")
SMALL = ("sites.pain_services.count=8", "trial.target_n=120")
# IPS exactly as planned: every IPS participant seen at once, nobody disengages or
# moves away before the first appointment
AS_PLANNED = ("delivery.esw.caseload=inf", "delivery.esw.disengage_after_assessment=0",
              "employment.withdraw_on_job.ips=0", "outcome.max_wait_weeks=null")


def _rows(*overrides, reps=60, seed=5):
    params = build_params(make_cfg(*SMALL, *FLAT, *overrides))
    return params, run_replications(params, reps, seed, figures=False).replications


def test_share_of_the_effect_scales_the_arm_difference():
    """With a share d of the IPS arm at 0 and the rest at 1, the difference in 12-month
    means is (1 - d) x effect (4 SE)."""
    o = dataclasses.replace(build_params(make_cfg(*FLAT)).outcome, effect_m12=0.8)
    n, d = 60000, 0.3
    ips = np.arange(n) % 2 == 0
    rng = np.random.default_rng(3)
    share = np.where(ips, (rng.random(n) >= d).astype(float), 0.0)
    y = rtw_self_efficacy(ips, np.full(n, -1), np.zeros((n, 3), bool), MONTHS, o, 0,
                          np.random.default_rng(4), share=share)
    diff = y[ips, 3].mean() - y[~ips, 3].mean()
    expected = 0.8 * share[ips].mean()
    assert abs(diff - expected) <= 4 * math.sqrt(2 / ips.sum()), (diff, expected)
    # a share of 1 for everyone is the old draw, to the last bit
    whole = rtw_self_efficacy(ips, np.full(n, -1), np.zeros((n, 3), bool), MONTHS, o, 0,
                              np.random.default_rng(4), share=np.where(ips, 1.0, 0.0))
    old = rtw_self_efficacy(ips, np.full(n, -1), np.zeros((n, 3), bool), MONTHS, o, 0,
                            np.random.default_rng(4))
    assert np.array_equal(whole, old)


def test_as_planned_the_itt_effect_is_the_effect_set():
    """No disengagement, no waits: everyone in the IPS arm receives IPS, the ITT effect
    is the effect set, and the full-data difference in 12-month means equals it (4 SE)."""
    params, rows = _rows(*AS_PLANNED)
    assert (rows["ips_received_share"] == 1.0).all()
    assert np.allclose(rows["effect_itt_true"], params.outcome.effect_m12)
    truth = rows["primary_true"]
    se = truth.std(ddof=1) / math.sqrt(len(truth))
    assert abs(truth.mean() - params.outcome.effect_m12) <= 4 * se, (truth.mean(), se)


@pytest.mark.parametrize("disengage", ["{k:30,n:100}", "{k:60,n:100}"])
def test_itt_effect_is_the_share_received_times_the_effect(disengage):
    """A share d disengages after the assessment and gets no effect: the ITT effect is
    (1 - d) x effect in expectation, and the full-data difference follows it (4 SE)."""
    params, rows = _rows("delivery.esw.caseload=inf", "employment.withdraw_on_job.ips=0",
                         "outcome.max_wait_weeks=null",
                         f"delivery.esw.disengage_after_assessment={disengage}", reps=80)
    d = params.delivery.disengage_after_assessment.value
    received = rows["ips_received_share"]
    assert abs(received.mean() - (1 - d)) <= 4 * received.std(ddof=1) / math.sqrt(len(rows))
    assert np.allclose(rows["effect_itt_true"], received * params.outcome.effect_m12)
    gap = rows["primary_true"] - rows["effect_itt_true"]
    assert abs(gap.mean()) <= 4 * gap.std(ddof=1) / math.sqrt(len(gap)), gap.mean()


def test_a_fraction_for_those_not_receiving_ips():
    """effect_if_not_received = f: the ITT effect is (received + f (1 - received)) x effect."""
    _, rows = _rows("delivery.esw.caseload=inf", "employment.withdraw_on_job.ips=0",
                    "delivery.esw.disengage_after_assessment={k:50,n:100}",
                    "outcome.effect_if_not_received=0.4", reps=20)
    r = rows["ips_received_share"]
    assert np.allclose(rows["effect_itt_true"], r + 0.4 * (1 - r))


WAITS = [  # (shorter, longer): the same trial with longer waits for IPS
    ("delivery.esw.caseload=20", "delivery.esw.caseload=4"),
    ("delivery.esw.first_appointment_mean_days=14",
     "delivery.esw.first_appointment_mean_days=120"),
    ("outcome.max_wait_weeks=26", "outcome.max_wait_weeks=4"),
]


@pytest.mark.parametrize(("short", "long"), WAITS)
def test_longer_waits_never_raise_power(short, long):
    """Property: longer waits (fewer places, slower first appointments, a stricter
    threshold) never raise the ITT effect, nor the primary power beyond Monte Carlo
    error (paired replications, common random numbers; 3 SE of the paired difference)."""
    common = ("delivery.esw.per_locality=1", "outcome.effect_m12=0.8")
    _, a = _rows(*common, short, reps=120, seed=11)
    _, b = _rows(*common, long, reps=120, seed=11)
    assert b["effect_itt_true"].mean() <= a["effect_itt_true"].mean() + 1e-12
    diff = b["primary_reject"] - a["primary_reject"]
    se = max(diff.std(ddof=1), 1e-9) / math.sqrt(len(diff))
    assert diff.mean() <= 3 * se, (a["primary_reject"].mean(), b["primary_reject"].mean())


def test_pooled_work_centring_adds_the_employment_difference():
    """work_effect_centring=pooled: IPS's extra employment adds work_effect x the
    difference in the share in work to the ITT effect."""
    _, rows = _rows(*AS_PLANNED, "outcome.work_effect=2", "outcome.work_effect_centring=pooled",
                    reps=20)
    extra = 2 * (rows["employment_m12_ips"] - rows["employment_m12_tau"])
    assert np.allclose(rows["effect_itt_true"], 1.0 + extra)
    gap = rows["primary_true"] - rows["effect_itt_true"]
    assert abs(gap.mean()) <= 4 * gap.std(ddof=1) / math.sqrt(len(gap)), gap.mean()


BAD = [
    ("outcome.effect_if_not_received", "-0.1"),
    ("outcome.effect_if_not_received", "1.5"),
    ("outcome.effect_if_not_received", "nan"),
    ("outcome.max_wait_weeks", "-1"),
    ("outcome.max_wait_weeks", "1e9"),
    ("outcome.max_wait_weeks", "nan"),
    ("outcome.work_effect_centring", "by_site"),
    ("participants.years_out_of_work.pain_service_ratio", "0"),
    ("participants.years_out_of_work.pain_service_ratio", "100"),
    ("participants.years_out_of_work.pain_service_ratio", "inf"),
    ("analysis.missing_data", "impute_everything"),
]


@pytest.mark.parametrize(("key", "value"), BAD)
def test_bad_input_on_every_new_key_names_it(key, value):
    with pytest.raises(ConfigError) as err:
        build_params(make_cfg(f"{key}={value}"))
    assert err.value.key == key, (err.value.key, key)


def test_the_repeated_measures_analysis_uses_every_wave_returned():
    """analysis.missing_data=repeated_measures analyses everyone with any wave returned
    (at least the complete cases at 12 months), and estimates in every small trial."""
    _, cc = _rows("analysis.missing_data=complete_case", reps=10)
    _, rm = _rows("analysis.missing_data=repeated_measures", reps=10)
    assert (rm["primary_n_ips"] >= cc["primary_n_ips"]).all()
    assert (rm["primary_n_tau"] >= cc["primary_n_tau"]).all()
    assert (rm["primary_n_ips"] > cc["primary_n_ips"]).any()
    assert rm["primary_estimable"].all()
    assert (rm["primary_true"] == cc["primary_true"]).all()  # the same trials
