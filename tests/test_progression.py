"""The internal pilot's review (issue 21): the lights are shares of replications, the
recruitment statistic is the recruitment curve at the review month, the committee sees
only what happened by the review day, the amber plan never lowers P(target), and every
new key's bad value is one line naming it (exit 2)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import CONF_DIR, ROOT, make_cfg

from trialsim.cli import preflight
from trialsim.experiments.runner import run_replications
from trialsim.inputs.params import RunSettings, build_params
from trialsim.model.followup import planned_returns
from trialsim.model.review import (
    AMBER,
    GREEN,
    NOT_JUDGED,
    RED,
    overall_verdict,
    planned_recruitment,
    retention_statistic,
    review,
    verdict,
)
from trialsim.model.trial import simulate_replication
from trialsim.reporting import keys
from trialsim.reporting.precision import FEW_TRIALS
from trialsim.reporting.progression_section import operating_table, proposal_blocks
from trialsim.reporting.progression_summary import (
    conditional_words,
    not_proposed_words,
    progression_summary,
    propose,
)
from trialsim.reporting.summary import summarise
from trialsim.reporting.terminal import progression_lines
from trialsim.units import DAYS_PER_MONTH

SEED = 20261205
# a trial that often, not always, reaches its target: lights of every colour
FEASIBLE = ("trial.target_n=80", "trial.recruitment_months=18")
ALWAYS_AMBER = ("progression.recruitment.green=10", "progression.recruitment.red=0",
                "progression.criteria=[recruitment]")


@pytest.fixture(scope="module")
def default_run():
    """The defaults (pain services, 300 in 24 months: the review at month 8)."""
    params = build_params(make_cfg())
    return params, run_replications(params, 40, SEED, figures=False)


def test_lights_sum_to_one_and_are_shares_of_replications(default_run):
    params, result = default_run
    reps = result.replications
    settings = RunSettings("test", len(reps), SEED, 1)
    pr = summarise(settings, params, result)["progression"]
    assert set(pr["lights"]) == {*params.progression.criteria, keys.OVERALL}
    for name, light in pr["lights"].items():
        assert math.isclose(sum(light.values()), 1.0)
        v = reps[keys.review_verdict(name)]
        for code, colour in ((GREEN, "green"), (AMBER, "amber"), (RED, "red")):
            assert light[colour] == pytest.approx((v == code).mean(), abs=1e-12)
    # overall any_red: red iff some criterion red, green iff all green
    crit = np.column_stack([reps[keys.review_verdict(n)] for n in params.progression.criteria])
    overall = reps[keys.review_verdict(keys.OVERALL)].to_numpy()
    assert ((overall == RED) == (crit == RED).any(axis=1)).all()
    assert ((overall == GREEN) == (crit == GREEN).all(axis=1)).all()
    assert len(set(overall)) >= 2  # the run is not degenerate


def test_no_data_is_amber_or_left_out():
    t = build_params(make_cfg()).progression.thresholds["retention"]
    assert verdict(math.nan, t) == AMBER
    assert verdict(math.nan, t, "ignore") == NOT_JUDGED
    assert overall_verdict([GREEN, NOT_JUDGED], "any_red") == GREEN
    assert overall_verdict([NOT_JUDGED], "any_red") == AMBER
    assert overall_verdict([RED, AMBER], "all_red") == AMBER
    assert overall_verdict([RED, RED], "all_red") == RED


def test_planned_returns_are_table_8s_chain():
    """The plan's return at each wave: the first wave's share, then P(prev) x
    after_return + (1 - P(prev)) x after_miss (Table 8, IPS: 15/20, 13/15, 1/5, 10/14,
    0/6)."""
    fu = build_params(make_cfg()).follow_up
    m3, m6, m12 = planned_returns(fu.returns_ips, (3.0, 6.0, 12.0))
    assert m3 == pytest.approx(15 / 20)
    assert m6 == pytest.approx(0.75 * 13 / 15 + 0.25 * 1 / 5)
    assert m12 == pytest.approx(m6 * 10 / 14)
    # an interim 9-month contact takes the 12-month wave's law, conditioned on month 6
    assert planned_returns(fu.returns_ips, (3.0, 6.0, 9.0, 12.0))[2] == pytest.approx(m12)


def test_retention_is_judged_against_the_plan_or_as_it_is():
    returns, vs_plan = {"ips": 0.5, "tau": 0.7}, {"ips": 1.02, "tau": 0.95}
    assert retention_statistic(returns, vs_plan, "planned") == 0.95
    assert retention_statistic(returns, vs_plan, "absolute") == 0.5
    assert math.isnan(retention_statistic({"ips": math.nan, "tau": math.nan},
                                          {"ips": math.nan, "tau": math.nan}, "planned"))


def test_a_trial_on_plan_has_returns_on_plan():
    """Over replications, each arm's returns by the review against the plan average 1
    (within 4 MC SE) at a review late enough to see every wave: the statistic is
    calibrated to the sample size's assumptions, so an on-plan trial is not red."""
    params = build_params(make_cfg("trial.target_n=120", "trial.recruitment_months=30",
                                   "progression.review_month=24"))
    reps = run_replications(params, 60, SEED, figures=False).replications
    for arm in ("ips", "tau"):
        x = reps[keys.review_returns_vs_plan(arm)].dropna().to_numpy()
        assert len(x) >= 50
        assert abs(x.mean() - 1.0) < 4 * x.std(ddof=1) / math.sqrt(len(x)) + 0.02


def test_a_retention_strategy_never_lowers_the_retention_statistic():
    """Text follow-up only adds returns: with the same seeds, each replication's
    retention statistic is at least as high with it as without."""
    base = build_params(make_cfg(*FEASIBLE, "progression.review_month=14"))
    more = build_params(make_cfg(*FEASIBLE, "progression.review_month=14",
                                 "follow_up.text_followup.enabled=true"))
    for i in range(8):
        a, b = (review(r.cohort, r.waves, r.sites, p) for p, r in
                ((base, simulate_replication(base, SEED, i)),
                 (more, simulate_replication(more, SEED, i))))
        if math.isnan(a.statistics["retention"]):
            continue
        assert b.statistics["retention"] >= a.statistics["retention"] - 1e-12


def test_recruitment_statistic_is_the_recruitment_curve_at_the_review(default_run):
    params, result = default_run
    reps = result.replications
    month = params.window_days / 3 / DAYS_PER_MONTH
    assert month == pytest.approx(8.0)
    assert np.allclose(reps[keys.REVIEW_MONTH].to_numpy(), 8.0)
    k = int(np.flatnonzero(result.curve_months == 8.0)[0])
    assert (reps[keys.REVIEW_RANDOMISED].to_numpy() == result.curves[:, k]).all()
    planned = planned_recruitment(params, 8.0 * DAYS_PER_MONTH)
    assert reps[keys.review_statistic("recruitment")].to_numpy() == pytest.approx(
        result.curves[:, k] / planned)


def test_the_committee_sees_only_the_records_by_the_review_day():
    """Records after the review day (later randomisations, later returns, later
    appointments) change no statistic: the review of a run equals the review of the
    same run with everything after the review day struck out."""
    params = build_params(make_cfg(*FEASIBLE))
    res = simulate_replication(params, SEED, 3)
    r = review(res.cohort, res.waves, res.sites, params)
    c = res.cohort
    late = c.randomised_day > r.day
    cut = dataclasses.replace(
        c, randomised_day=np.where(late, np.inf, c.randomised_day),
        first_appointment_day=np.where(c.first_appointment_day > r.day, np.nan,
                                       c.first_appointment_day))
    waves = dataclasses.replace(res.waves, return_day=np.where(
        res.waves.return_day > r.day, np.nan, res.waves.return_day))
    again = review(cut, waves, res.sites, params)
    assert again.statistics == pytest.approx(r.statistics, nan_ok=True)
    assert again.verdicts == r.verdicts


def test_amber_plan_leaves_the_run_before_the_review_unchanged():
    """The rescued run is the plain run up to the review day: the same participants,
    days and arms (the plan's sites open after it, from streams of their own)."""
    params = build_params(make_cfg(*FEASIBLE, "progression.amber_action.extra_sites=3"))
    day = params.progression.review_day(params.window_days)
    for rep in range(3):
        plain = simulate_replication(params, SEED, rep)
        rescued = simulate_replication(params, SEED, rep, rescue_day=day)
        before = [(p.randomised_day, p.arm, p.site) for p in plain.participants
                  if p.randomised_day <= day]
        assert before == [(p.randomised_day, p.arm, p.site) for p in rescued.participants
                          if p.randomised_day <= day]
        extra = rescued.sites[len(plain.sites):]
        assert len(extra) == 3 and all(s.open_day >= day for s in extra)
        assert plain.sites == rescued.sites[:len(plain.sites)]


def test_no_plan_no_rescue_columns_and_the_same_rows(default_run):
    params, result = default_run
    assert keys.RESCUE_APPLIED not in result.replications


@pytest.mark.parametrize("coordinators", ["null", "1"])
def test_opening_more_sites_at_amber_never_lowers_p_target(coordinators):
    """Every review amber, so every replication runs the plan. Without a coordinator
    queue more sites only add randomisations: pathwise, no trial that reached N
    misses it with the plan. With the queue (extra calls can delay others) P(target)
    must not fall by more than 3 Monte Carlo SE of the paired difference."""
    params = build_params(make_cfg(*FEASIBLE, *ALWAYS_AMBER,
                                   "progression.amber_action.extra_sites=4",
                                   f"screening.coordinators={coordinators}"))
    reps = run_replications(params, 30, SEED, figures=False).replications
    assert (reps[keys.RESCUE_APPLIED] == 1).all()
    base, plan = reps["target_reached"].to_numpy(), reps[keys.RESCUE_TARGET].to_numpy()
    assert (reps[keys.RESCUE_RANDOMISED] >= reps["randomised"]).all()
    if coordinators == "null":
        assert (plan >= base).all()
    else:
        d = plan - base
        se = max(d.std(ddof=1) / math.sqrt(len(d)), 1 / len(d))
        assert d.mean() >= -3 * se
    s = progression_summary(reps, params)["amber_plan"]
    assert s["prob_target"]["with_plan"] >= s["prob_target"]["without_plan"] - 0.1


def test_retention_plan_keeps_the_returns_before_the_review():
    params = build_params(make_cfg(*FEASIBLE, "progression.amber_action.retention=text_followup"))
    day = params.progression.review_day(params.window_days)
    plain = simulate_replication(params, SEED, 1)
    rescued = simulate_replication(params, SEED, 1, rescue_day=day)
    due = plain.waves.return_day <= day
    assert np.array_equal(plain.waves.return_day[due], rescued.waves.return_day[due])
    assert rescued.waves.returned.sum() >= plain.waves.returned.sum()


def test_proposed_red_line_stops_at_most_the_allowed_share_of_successes():
    rng = np.random.default_rng(1)
    success = rng.random(400) < 0.4
    stat = np.where(success, rng.normal(1.1, 0.3, 400), rng.normal(0.7, 0.3, 400))
    q = propose(stat, success, 0.1, green=1.0)
    assert q["not_proposed"] is None and q["p_stop_if_success"] <= 0.1
    above = np.unique(stat[stat > q["red"]])[0]  # the next line up stops too many
    assert (stat[success] < above).mean() > 0.1
    assert q["p_stop_if_failure"] > 0.5
    # each stop rate with its binomial Monte Carlo SE over the trials it is a share of
    n_s, n_f = int(success.sum()), int((~success).sum())
    p_s, p_f = q["p_stop_if_success"], q["p_stop_if_failure"]
    assert q["p_stop_if_success_mc_se"] == pytest.approx((p_s * (1 - p_s) / n_s) ** 0.5)
    assert q["p_stop_if_failure_mc_se"] == pytest.approx((p_f * (1 - p_f) / n_f) ** 0.5)


def _trials(successes: int, failures: int) -> tuple[np.ndarray, np.ndarray]:
    """Successes at 1.0, 1.1, ... and failures at 0.0, 0.01, ...: every line between
    them stops failures only."""
    stat = np.concatenate([1.0 + 0.1 * np.arange(successes), 0.01 * np.arange(failures)])
    return stat, np.arange(successes + failures) < successes


@pytest.mark.parametrize(("successes", "failures", "why"), [
    (FEW_TRIALS - 1, 50, "few_successes"), (FEW_TRIALS, 50, None), (FEW_TRIALS + 1, 50, None),
    (50, FEW_TRIALS - 1, "few_failures"), (50, FEW_TRIALS, None), (1, 199, "few_successes"),
    (0, 200, "few_successes")])
def test_no_red_line_is_proposed_from_fewer_trials_than_the_terminal_judges(
        successes, failures, why):
    """The count below which the terminal gives no power among the trials reaching N:
    below it, no line, no discriminates flag (the old code proposed 1.00 from one
    success and called it discriminating)."""
    stat, success = _trials(successes, failures)
    q = propose(stat, success, 0.1, green=5.0)
    assert q["not_proposed"] == why
    if why is None:
        assert q["red"] is not None and q["discriminates"] is True
        assert q["p_stop_if_success"] <= 0.1
    else:
        assert q["red"] is None and q["discriminates"] is None
        assert q["p_stop_if_success"] is None and q["bound_line"] is None


def test_no_red_line_is_proposed_at_or_above_its_green_line():
    """A red line lies below its green line: the line the bound allows (here 1.2, two
    of 20 successes below it) is refused at or above green, proposed below it."""
    stat, success = _trials(20, 50)
    for green, why in ((1.0, "at_or_above_green"), (1.2, "at_or_above_green"),
                       (1.2001, None)):
        q = propose(stat, success, 0.1, green)
        assert q["not_proposed"] == why and q["bound_line"] == pytest.approx(1.2), green
        assert (q["red"] is None) == (why is not None)
    words = not_proposed_words(propose(stat, success, 0.1, 1.0), "target", 0.1)
    assert words.startswith("the bound, stopping at most 0.1 of the trials that reach N, "
                            "holds up to 1.20, at or above the green line 1:")


def test_one_success_prints_no_red_line_in_the_terminal_or_the_report(default_run):
    """The default run's case (1 trial of 200 reaches N): the terminal and the report say
    why no line is proposed and print none, nor a discriminates flag; a summary written
    before the rule (a line from the one success) reads the same."""
    params, result = default_run
    reps = result.replications.copy()
    reps["target_reached"] = (np.arange(len(reps)) == 0).astype(reps["target_reached"].dtype)
    pr = progression_summary(reps, params)
    for outcome in ("target", "target_and_power"):
        q = pr["proposal"]["recruitment"][outcome]
        assert q["successes"] <= 1 and q["red"] is None and q["discriminates"] is None
    legacy = copy.deepcopy(pr)
    for name in ("recruitment", "retention"):
        for q in legacy["proposal"][name].values():
            for k in ("not_proposed", "bound_line", "min_trials", "green"):
                q.pop(k)
            q.update(red=1.0, p_stop_if_success=0.0, p_stop_if_failure=0.8,
                     discriminates=True)
    for summary in (pr, legacy):
        lines = [ln for ln in progression_lines({"progression": summary})
                 if "red line" in ln]
        assert lines == [f"    proposed red line, {name:<11} none (only 1 simulated trial "
                         f"reaches N; at least {FEW_TRIALS} needed)"
                         for name in ("recruitment", "retention")]
        blocks = proposal_blocks(summary)
        assert not [b for b in blocks if b[0] == "table"]
        text = json.dumps(blocks)
        assert ("recruitment, success: the trial reaches N in the window: no red line "
                f"proposed: only 1 simulated trial reaches N; at least {FEW_TRIALS} "
                "needed.") in text
        assert "1.00" not in text and "yes" not in text



def _fates(params, result, successes: int):
    """The run's replications, the first `successes` reaching N with the primary
    rejecting and the rest missing N: both definitions of success count `successes`."""
    reps = result.replications.copy()
    hit = np.arange(len(reps)) < successes
    reps["target_reached"] = hit.astype(reps["target_reached"].dtype)
    reps["primary_reject"] = hit.astype(reps["primary_reject"].dtype)
    pr = progression_summary(reps, params)
    pr["assurance"] = progression_summary(reps, params, full=False)
    return reps, pr


@pytest.mark.parametrize("successes", [0, 1, FEW_TRIALS - 1, FEW_TRIALS, FEW_TRIALS + 1])
def test_a_share_given_the_trials_fate_needs_few_trials_in_its_condition(
        default_run, successes):
    """P(stop | would succeed) and P(go on | would fail), in the plain run and the
    assurance section: below FEW_TRIALS trials in the condition, estimate and MC SE null
    (the count kept) and "n/a" in the terminal and the report, which agree word for word;
    from FEW_TRIALS on, a number (the default run's 0.000 (MC SE 0) from one trial was
    printed as if known)."""
    params, result = default_run
    reps, pr = _fates(params, result, successes)
    stop = reps[keys.review_verdict(keys.OVERALL)].to_numpy() == RED
    counted = {"p_stop_if_success": (successes, stop[:successes]),
               "p_go_if_failure": (len(reps) - successes, ~stop[successes:])}
    lines = progression_lines({"progression": pr})
    rows = operating_table(pr)[2]
    assert [r[0] for r in rows] == ["point estimates"] * 2 + ["assurance"] * 2
    for section in (pr, pr["assurance"]):
        for outcome in ("target", "target_and_power"):
            o = section["operating"][outcome]
            assert o["p_success"] == pytest.approx(successes / len(reps))  # unconditional
            for key, (n, flags) in counted.items():
                s = o[key]
                assert s["n"] == n
                if n < FEW_TRIALS:
                    assert s["estimate"] is None and s["mc_se"] is None
                    trials = f"{n} trial" + ("" if n == 1 else "s")
                    assert conditional_words(s) == f"n/a ({trials}; at least {FEW_TRIALS} needed)"
                else:
                    assert s["estimate"] == pytest.approx(flags.mean())
                    assert s["mc_se"] == pytest.approx(
                        math.sqrt(s["estimate"] * (1 - s["estimate"]) / n))
                    assert conditional_words(s) == f"{s['estimate']:.3f} ({n} trials)"
    # the terminal and the report print the same words for every share (the terminal's
    # assurance line: success with the primary rejecting, the report's last row)
    said = {}
    for section, tag in ((pr, "point estimates"), (pr["assurance"], "assurance")):
        for name, o in section["operating"].items():
            said[tag, name] = [conditional_words(o["p_stop_if_success"]),
                               conditional_words(o["p_go_if_failure"])]
    assert [r[3:] for r in rows] == list(said.values())
    for key, start in ((("point estimates", "target"), "    if success = reaches N   "),
                       (("point estimates", "target_and_power"), "    if success = N and p < "),
                       (("assurance", "target_and_power"), "    assurance, N and p < ")):
        stop_words, go_words = said[key]
        ours = [ln for ln in lines if ln.startswith(start)]
        assert len(ours) == 1 and ours[0].endswith(
            f" P(stop | would succeed) {stop_words}, P(go on | would fail) {go_words}")
    quoted = successes >= FEW_TRIALS
    assert any("P(stop | would succeed) n/a" in ln for ln in lines) == (not quoted)
    assert ("n/a" in json.dumps(rows)) == (not quoted)


def test_a_summary_written_before_the_rule_prints_no_share_from_one_trial(default_run):
    """summary.json from before the rule stored 0.0 (MC SE 0.0) from one trial: the
    terminal and the report read it as n/a too."""
    params, result = default_run
    _, pr = _fates(params, result, 1)
    del pr["assurance"]
    for o in pr["operating"].values():
        o["p_stop_if_success"].update(estimate=0.0, mc_se=0.0)
    lines = [ln for ln in progression_lines({"progression": pr}) if "if success" in ln]
    assert len(lines) == 2
    assert all(f"P(stop | would succeed) n/a (1 trial; at least {FEW_TRIALS} needed)" in ln
               and "0.000" not in ln for ln in lines)
    assert [r[3] for r in operating_table(pr)[2]] == [
        f"n/a (1 trial; at least {FEW_TRIALS} needed)"] * 2


NEW_KEYS = [
    ("progression.review_month=0", "progression.review_month=0.0"),
    ("progression.review_month=soon", "progression.review_month=soon"),
    ("progression.criteria=[recruitment,speed]", "progression.criteria[1]='speed'"),
    ("progression.criteria=[]", "progression.criteria=[]"),
    ("progression.sites.green=-1", "progression.sites.green=-1"),
    ("progression.recruitment.red=1.5", "progression.recruitment.red=1.5"),
    ("progression.sites.red=20", "progression.sites.red=20"),
    ("progression.retention.green=nan", "progression.retention.green=nan"),
    ("progression.retention.relative_to=target",
     "progression.retention.relative_to='target'"),
    ("progression.adherence.red=-0.2", "progression.adherence.red=-0.2"),
    ("progression.adherence_allow_weeks=-1", "progression.adherence_allow_weeks=-1.0"),
    ("progression.overall_rule=majority", "progression.overall_rule='majority'"),
    ("progression.no_data=green", "progression.no_data='green'"),
    ("progression.propose_max_stop_success=1", "progression.propose_max_stop_success=1"),
    ("progression.amber_action.extra_sites=-2", "progression.amber_action.extra_sites=-2"),
    ("progression.amber_action.extra_sites=1.5", "progression.amber_action.extra_sites=1.5"),
    ("progression.amber_action.site_kind=hospitals",
     "progression.amber_action.site_kind='hospitals'"),
    ("progression.amber_action.retention=phone",
     "progression.amber_action.retention='phone'"),
]


def _batches(cases):
    """The cases in batches with each key once (preflight reports every key at once)."""
    batches: list[list] = []
    for case in cases:
        key = case[0].partition("=")[0]
        free = next((b for b in batches if key not in {c[0].partition("=")[0] for c in b}),
                    None)
        if free is None:
            batches.append(free := [])
        free.append(case)
    return batches


@pytest.mark.parametrize("batch", _batches(NEW_KEYS))
def test_every_new_key_bad_value_is_one_line(batch):
    """One line per bad key, naming it and the value (the whole config is checked in
    one pass, so a batch of bad keys gives one line each)."""
    lines = preflight([o for o, _ in batch], CONF_DIR)
    assert len(lines) == len(batch), lines
    for _, names in batch:
        assert sum(names in line for line in lines) == 1, (names, lines)


def test_a_bad_progression_key_exits_2_without_a_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "simulate.py"), f"hydra.run.dir={tmp_path / 'run'}",
         "progression.recruitment.red=1.5"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trialsim: error: progression.recruitment")
    assert "Traceback" not in proc.stderr + proc.stdout
