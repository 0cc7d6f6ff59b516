"""Design mode: its answer holds up when rerun as a plain run with new seeds."""

from __future__ import annotations

import pytest
from conftest import make_cfg

from trialsim.app import run
from trialsim.experiments.design import run_design, smallest

# equal SDs in both arms (Table 10's larger IPS SDs cost power that this test of the
# search's mechanics does not need: at N=300 they leave 80% power out of reach)
FAST_OPENING = ("sites.pain_services.opening.interval_months=0.25", "outcome.esw_icc=0",
                "outcome.ips_sds=null",
                # the search's mechanics, tuned at the pilot's rates and a 1-month set-up
                "sites.pain_services.rate_discount=1",
                "sites.pain_services.opening.setup_delay_mean_months=1")


def test_bisection_finds_the_smallest_passing_candidate():
    calls = []

    def passes(x):
        calls.append(x)
        return x >= 37

    assert smallest(list(range(1, 101)), passes) == 37
    assert len(calls) <= 7
    assert smallest([1, 2, 3], lambda x: False) is None


def test_design_services_and_months_reach_the_target_when_rerun(tmp_path):
    cfg = make_cfg(*FAST_OPENING, "mode=design", "replications=60", "design.n_start=300",
                   "design.check_replications=100",
                   "analysis.method=ancova",  # the search, not the analysis, is tested here
                   "outcome.effect_m12=1.2",  # an ITT effect near 1 after non-receipt
                   "design.max_esw_per_locality=2",  # ANCOVA ignores ESWs: two counts suffice
                   "design.n_stop=300", "design.target_power=0.7", "design.months=[24]",
                   "design.max_sites=24", "design.prob_target=0.8")
    design = run_design(cfg, tmp_path)
    assert (tmp_path / "design.json").exists()
    rec = design["recommended"]
    assert design["target_n"] == 300 and rec is not None and rec["sites"] is not None
    # one fewer service must have failed the search (it is the smallest)
    assert any(e["step"] == "sites" and e["sites"] == rec["sites"] - 1 and not e["passes"]
               for e in design["evaluations"]) or rec["sites"] == 1
    assert rec["esw_per_locality"] is not None
    # the check run reports what a panel reads beside the goals: 12-month returns per arm,
    # the joint-appointment wait and the internal pilot's lights at the recommended design
    check = design["check"]
    assert 0 < check["returned_m12"]["ips"] < check["returned_m12"]["tau"] <= 1
    assert check["ot_wait_days"] is not None and check["ot_wait_days"] >= 0
    # and the MNAR tipping points: a worse IPS arm or a better TAU arm turns a positive result
    tip = check["tipping"]
    assert tip["ips"]["median"] < 0 < tip["tau"]["median"]
    assert check["progression"]["review_month"] == pytest.approx(rec["months"] / 3)
    lights = check["progression"]["lights"]["overall"]
    assert sum(lights[c] for c in ("green", "amber", "red")) == pytest.approx(1.0)
    stop = check["progression"]["operating"]["target_and_power"]["p_stop_if_success"]
    assert stop["n"] <= check["replications"]
    rerun = run(make_cfg(*FAST_OPENING, "replications=200", "seed=777", "output.charts=false",
                         "analysis.method=ancova", "outcome.effect_m12=1.2",
                         "trial.target_n=300", f"trial.recruitment_months={rec['months']}",
                         f"sites.pain_services.count={rec['sites']}",
                         f"delivery.esw.per_locality={rec['esw_per_locality']}"), None)
    assert rerun["recruitment"]["prob_target_by_end"] >= 0.8
    assert rerun["delivery"]["mean_wait_days"] <= 28
    # the power goal, within Monte Carlo error of the rerun
    assert rerun["power"]["primary"] >= 0.7 - 2 * rerun["power"]["primary_mc_se"]
