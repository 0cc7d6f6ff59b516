"""Resources counted in a replication and what they cost (issue 22): closed forms in
simple cases, cost monotone in every unit cost, a retention strategy adding exactly its
unit cost times its uses, ESW posts costed whether their caseload is full or not."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from conftest import make_cfg

from trialsim.analysis.costs import LINES, cost_columns
from trialsim.inputs.cost_params import KEYS
from trialsim.inputs.params import build_params
from trialsim.model.resources import RESOURCES, count
from trialsim.model.trial import simulate_replication
from trialsim.units import DAYS_PER_MONTH

SMALL = ("sites.pain_services.count=6", "trial.target_n=80")
# practices mailing every pack before recruitment closes: a target never reached, a window
# long enough for both batches of every practice
MAILSHOT = ("scenario=primary_care", "sites.gp_practices.count=4", "trial.target_n=100000",
            "trial.recruitment_months=24", "sites.gp_practices.opening.interval_months=0.5",
            "sites.gp_practices.opening.setup_delay_mean_months=0")


def _one(*overrides: str, rep: int = 0):
    params = build_params(make_cfg(*overrides))
    result = simulate_replication(params, 11, rep)
    return params, result, count(result, params)


def _costs(params, res):
    return cost_columns(res, params.costs, params.screening.call_days)


def test_every_resource_is_counted_and_split_by_year():
    params, _, res = _one(*SMALL)
    assert set(res.totals) == set(RESOURCES)
    for k, v in res.totals.items():
        assert v >= 0 and math.isclose(v, res.by_year[k].sum())
    assert {line.resource for line in LINES} <= set(RESOURCES)


def test_packs_are_list_size_times_packs_per_1000_times_uptake():
    params, result, res = _one(*MAILSHOT)
    st = next(s for s in params.site_types if s.name == "gp_practices")
    ch = next(c for c in st.channels if c.name == "mailshot")
    per_practice = round(ch.packs_per_1000 * st.list_size / 1000)
    running = round(ch.uptake * st.count)
    assert result.close_reason == "window"
    assert res.totals["packs"] == per_practice * running
    cols = _costs(params, res)
    assert math.isclose(cols["cost_mailshot_packs"], params.costs.pack * per_practice * running)


def test_staff_paid_by_the_month_cost_their_unit_times_the_trial_months():
    """Trial management, statistician, data management and health economics: each its
    monthly cost times the months of set-up, month 0 to the last follow-up return window,
    and close-out."""
    params, result, res = _one(*SMALL, "trial.setup_months=6", "trial.closeout_months=9")
    fu, c = params.follow_up, result.cohort
    last = max(c.randomised_day.max() + max(fu.months) * DAYS_PER_MONTH + 2 * fu.reminder_days,
               result.close_day)
    assert res.totals["trial_months"] == pytest.approx(6 + last / DAYS_PER_MONTH + 9)
    # budget year 1 starts with set-up: its 12 months are all the team's
    assert res.by_year["trial_months"][0] == pytest.approx(12.0)
    cols = _costs(params, res)
    for line, key in (("management", "management_month"), ("statistician", "statistician_month"),
                      ("data_management", "data_management_month"),
                      ("health_economics", "health_economics_month")):
        assert getattr(params.costs, key) > 0
        assert cols[f"cost_{line}"] == pytest.approx(getattr(params.costs, key)
                                                     * res.totals["trial_months"])


def test_vouchers_are_returned_questionnaires_times_the_voucher():
    params, result, res = _one(*SMALL)
    returned = int(result.waves.returned.sum())
    assert returned > 0 and res.totals["questionnaires_returned"] == returned
    cols = _costs(params, res)
    assert math.isclose(cols["cost_vouchers"], returned * params.costs.voucher)
    # one booklet appointment per TAU participant, one baseline and OT session per IPS seen
    c = result.cohort
    assert res.totals["booklet_appointments"] == int((~c.ips).sum())
    assert res.totals["esw_baselines"] == res.totals["ot_sessions"] == int((c.esw >= 0).sum())


def test_the_total_is_the_sum_of_its_lines_and_never_falls_when_a_unit_cost_rises():
    params, _, res = _one(*SMALL, "follow_up.text_followup.enabled=true",
                          "follow_up.esw_completion.enabled=true", "follow_up.months=[3,6,9,12]")
    base = _costs(params, res)
    assert math.isclose(base["cost_total"], sum(base[f"cost_{line.name}"] for line in LINES))
    years = [k for k in base if k.startswith("cost_") and "_y" in k and "channel" not in k]
    assert math.isclose(base["cost_total"], sum(base[k] for k in years))
    for key in KEYS:
        dearer = dataclasses.replace(params.costs, **{key: getattr(params.costs, key) * 1.5 + 1})
        assert cost_columns(res, dearer, params.screening.call_days)["cost_total"] \
            >= base["cost_total"]


@pytest.mark.parametrize("strategy, key, resource", [
    ("follow_up.text_followup.enabled=true", "text", "texts"),
    ("follow_up.esw_completion.enabled=true", "esw_completion", "esw_completions"),
    ("follow_up.months=[3,6,9,12]", "interim_contact", "interim_contacts"),
])
def test_a_strategy_adds_exactly_its_unit_cost_times_its_uses(strategy, key, resource):
    params, _, res = _one(*SMALL, strategy)
    uses = res.totals[resource]
    assert uses > 0
    free = dataclasses.replace(params.costs, **{key: 0.0})
    priced = dataclasses.replace(params.costs, **{key: 7.0})
    gap = (cost_columns(res, priced, params.screening.call_days)["cost_total"]
           - cost_columns(res, free, params.screening.call_days)["cost_total"])
    assert math.isclose(gap, 7.0 * uses)
    # and off, nothing is used
    _, _, off = _one(*SMALL)
    assert off.totals[resource] == 0


def test_esw_posts_are_paid_whether_their_caseload_is_full_or_not():
    few = _one(*SMALL, "delivery.esw.per_locality=1")[2]
    many_params, _, many = _one(*SMALL, "delivery.esw.per_locality=6")
    # the same recruits (recruitment does not depend on the ESWs): six times the posts
    assert many.totals["esw_headcount_months"] > 5 * few.totals["esw_headcount_months"]
    assert many.utilisation < few.utilisation
    cols = _costs(many_params, many)
    assert math.isclose(cols["cost_esw_posts"],
                        many.totals["esw_post_months"] * many_params.costs.esw_month)


def test_fractional_posts_hold_fewer_places_and_cost_pro_rata():
    params, _, half = _one(*SMALL, "delivery.esw.fte=0.5")
    assert params.delivery.places_per_esw == 10
    _, _, full = _one(*SMALL)
    assert math.isclose(half.totals["esw_post_months"], 0.5 * half.totals["esw_headcount_months"])
    assert math.isclose(half.totals["caseload_place_months_available"],
                        10 * half.totals["esw_headcount_months"])
    assert full.totals["esw_post_months"] == full.totals["esw_headcount_months"]


def test_hiring_as_sites_open_never_costs_more_than_from_day0():
    day0 = _one(*SMALL)[2]
    later = _one(*SMALL, "delivery.esw.hire=as_sites_open")[2]
    assert later.totals["esw_post_months"] < day0.totals["esw_post_months"]
    assert later.totals["caseload_place_months_used"] == day0.totals["caseload_place_months_used"]


def test_summary_gives_the_budget_with_its_interval(tmp_path):
    from trialsim.app import run

    s = run(make_cfg(*SMALL, "replications=20", "output.charts=false", "output.report=false"),
            None)
    c = s["costs"]
    t = c["total"]
    assert t["p5"] <= t["mean"] <= t["p95"]
    assert math.isclose(sum(sum(v) for v in c["by_year"].values()), t["mean"], rel_tol=1e-9)
    assert math.isclose(sum(v["mean"] for v in c["lines"].values()), t["mean"], rel_tol=1e-9)
    assert c["per_randomised"]["mean"] > 0
    assert np.isfinite(c["by_channel"]["pain_clinics"]["per_randomised"])
    # the headline per participant is the ratio of the means (what a reader divides out)
    randomised = s["recruitment"]["randomised"]["mean"]
    assert math.isclose(c["per_randomised_of_means"], t["mean"] / randomised, rel_tol=1e-9)


def test_placements_are_first_supported_jobs_subsidised_up_to_their_months():
    """An IPS client's first job that starts while an ESW supports them, counted for its
    first delivery.esw.placement_subsidy_months or until it ends; none in TAU; longer
    subsidies never count fewer months; the line is its unit cost times the months, 0 by
    default (no placement funded)."""
    from trialsim.model.resources import placements

    params, result, res = _one(*SMALL)
    c = result.cohort
    start, end = placements(c, params.delivery.placement_subsidy_days)
    assert len(start) > 0 and params.delivery.placement_subsidy_days == pytest.approx(
        6 * DAYS_PER_MONTH)
    owners = [int(c.job_owner[np.flatnonzero(c.job_start == s)[0]]) for s in start]
    assert len(set(owners)) == len(owners)  # one placement each
    for who, s, e in zip(owners, start, end, strict=True):
        assert c.ips[who] and c.esw[who] >= 0
        assert c.first_appointment_day[who] <= s <= c.support_end_day[who]
        spells = c.job_start[c.job_owner == who]
        assert s == spells[spells >= c.first_appointment_day[who]].min()  # the first such
        assert s < e <= s + params.delivery.placement_subsidy_days
    assert res.totals["placement_months"] == pytest.approx((end - start).sum() / DAYS_PER_MONTH)
    months = [placements(c, d * DAYS_PER_MONTH) for d in (0, 3, 6, 12)]
    totals = [float((e - s).sum()) for s, e in months]
    assert totals == sorted(totals) and totals[0] == 0
    assert _costs(params, res)["cost_placement_subsidies"] == 0.0  # default: none funded
    paid = dataclasses.replace(params.costs, placement_month=880.0)
    assert cost_columns(res, paid, params.screening.call_days)["cost_placement_subsidies"] \
        == pytest.approx(880.0 * res.totals["placement_months"])


def test_cost_per_participant_is_the_ratio_of_means_with_its_delta_method_se():
    """costs.ratio_of_means: the mean cost over the mean count, its Monte Carlo SE by the
    delta method; exact where the count is fixed, and within 10% of the spread of the
    ratio over 2,000 simulated runs of 400 trials (its own MC error about 2%)."""
    from trialsim.analysis.costs import ratio_of_means

    rng = np.random.default_rng(3)
    cost = rng.normal(100.0, 10.0, 50)
    r, se = ratio_of_means(cost, np.full(50, 4.0))
    assert math.isclose(r, cost.mean() / 4.0, rel_tol=1e-12)
    assert math.isclose(se, cost.std(ddof=1) / math.sqrt(50) / 4.0, rel_tol=1e-12)
    n = rng.poisson(180, size=(2000, 400)).astype(float)
    cost = 300_000 + 3_000 * n + rng.normal(0.0, 20_000.0, n.shape)
    spread = float((cost.mean(axis=1) / n.mean(axis=1)).std(ddof=1))
    ses = [ratio_of_means(c, m)[1] for c, m in zip(cost[:100], n[:100], strict=True)]
    assert abs(np.mean(ses) / spread - 1.0) < 0.1
    assert ratio_of_means(np.ones(3), np.zeros(3)) == (None, None)
    assert ratio_of_means(np.ones(1), np.ones(1)) == (1.0, None)
