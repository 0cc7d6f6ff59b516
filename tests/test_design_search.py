"""The design search's parts: the grid search, re-used recruitment runs, the frontier,
the recommendation and its check run, what it says when nothing is feasible."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import make_cfg, searched

from trialsim.app import run
from trialsim.experiments.candidates import Candidate, Evaluator
from trialsim.experiments.design import DesignSearch, check_seed
from trialsim.experiments.fitted_walk import PROBES, walk_count
from trialsim.experiments.search import first_passing
from trialsim.inputs.design_settings import build_design
from trialsim.inputs.params import build_params, build_run_settings
from trialsim.model.trial import recruit_only, simulate_replication
from trialsim.reporting.design_terminal import design_table, sensitivity_lines

# A small trial that runs in milliseconds: 2 localities, services opening every 2 weeks,
# a 2-point effect; with an ESW ICC of 0.05 more ESWs clearly need a smaller N
SMALL = ("trial.localities=2", "sites.pain_services.count=6",
         "sites.pain_services.opening.interval_months=0.5",
         "sites.pain_services.opening.first_month=0",
         "outcome.effect_m12=2.0", "outcome.esw_icc=0.05", "outcome.ips_sds=null",
         "design.n_start=40", "design.n_stop=200", "design.n_step=40",
         "design.max_esw_per_locality=4", "design.months=[12,18]", "design.max_sites=16",
         "design.target_power=0.75", "design.prob_target=0.8", "design.max_wait_days=60",
         "design.check_replications=200",
         "design.screen_replications=20",
         # the search's mechanics were tuned at the pilot's rates and a 1-month set-up
         "sites.pain_services.rate_discount=1",
         "sites.pain_services.opening.setup_delay_mean_months=1")


# --- the grid search -------------------------------------------------------------------

@pytest.mark.parametrize("answer", [0, 1, 5, 17, 29, 30])
@pytest.mark.parametrize("start", [0, 7, 29])
def test_first_passing_finds_the_smallest_passing_index(answer, start):
    tested = []

    def passes(i):
        tested.append(i)
        return i >= answer

    found = first_passing(30, passes, start)
    assert found == (answer if answer < 30 else None)
    assert len(tested) == len(set(tested))  # nothing tested twice
    assert len(tested) <= 2 * math.ceil(math.log2(30)) + 2  # galloping, then bisection


def test_first_passing_trusts_what_is_known_and_follows_a_good_guide():
    tested = []

    def passes(i):
        tested.append(i)
        return i >= 12

    assert first_passing(30, passes, 0, lo=10, hi=14) == 12
    assert all(10 <= i < 14 for i in tested)  # below lo fails, hi passes: never retested
    tested.clear()
    assert first_passing(30, passes, 0, guide=lambda: 12) == 12
    assert tested == [12, 11]  # a right guide: the answer and the index below it
    assert first_passing(30, passes, 0, lo=13) == 13 and first_passing(5, passes, 0) is None


# --- recruitment re-used across ESWs, targets and windows -----------------------------

@pytest.mark.parametrize("answer", [0, 3, 9, 10])
@pytest.mark.parametrize("lo", [0, 4])
def test_the_fitted_walk_settles_where_the_curve_places_n_with_the_n_below(answer, lo):
    """A curve that places the count's N at `answer` (10: beyond a 10-point grid) once
    the count has a point, the guess at index 7 before: the walk ends there (or at the
    floor `lo`), having simulated the answer and the grid N below it, and no more."""
    seen: list[int] = []

    def propose() -> tuple[int, bool]:
        return (answer, True) if seen else (7, False)

    def passes(i: int) -> bool:
        if i not in seen:
            seen.append(i)
        return i >= answer

    got, by_grid = walk_count(10, lo, propose, lambda i: i in seen, passes, lambda: -1)
    want = max(answer, lo)
    if want >= 10:  # the grid's largest N fails: none
        assert (got, by_grid) == (None, False) and seen == [7, 9]
        return
    assert (got, by_grid) == (want, False)
    assert set(seen) == {7} | {want} | ({want - 1} if want > lo else set())


def test_the_fitted_walk_hands_to_the_grid_rule_where_no_curve_places_n():
    seen: list[int] = []

    def passes(i: int) -> bool:
        seen.append(i)
        return i >= 6

    # beyond the grid, its largest N passing: the grid rule's N
    got = walk_count(10, 2, lambda: (10, True), lambda i: i in seen, passes, lambda: 6)
    assert got == (6, True) and seen[0] == 9
    # no curve when the probes end: the grid rule's N
    seen.clear()
    got = walk_count(10, 0, lambda: (7, False), lambda i: i in seen, passes, lambda: 6)
    assert got == (6, True)


def test_the_fitted_walk_stops_after_its_probes():
    """A curve that moves on every probe: PROBES new candidates, then its N stands."""
    seen: list[int] = []
    step = iter(range(100))

    def passes(i: int) -> bool:
        seen.append(i)
        return True

    got, by_grid = walk_count(40, 0, lambda: (2 * next(step) + 10, True),
                              lambda i: i in seen, passes, lambda: -1)
    assert len(set(seen)) == PROBES + 1 and not by_grid and got == seen[-1]


def test_one_recruitment_run_answers_every_target_and_window():
    """P(target N within m months) read off one long run with the largest target equals
    direct runs, replication by replication: the model never looks ahead."""
    cfg = make_cfg(*SMALL, "replications=12")
    ev = Evaluator(cfg, build_run_settings(cfg), build_design(cfg))
    ev.recruit_n, ev.recruit_months = 120, 18.0
    runs = ev.recruitment(5, False, 12)
    for n in (60, 120):
        for months in (12.0, 18.0):
            direct = ev.trials(Candidate(n, 1, 5, months), 12, "test")["target_reached"]
            assert np.array_equal(ev.reached(runs, n, months), direct), (n, months)


def test_staffing_the_ots_to_demand_shortens_their_wait_and_changes_nothing_else():
    """A candidate with more OTs (the search staffs the recommendation to demand,
    design_check.ots_needed) draws the same trials to the last bit: the joint
    appointment's queue draws nothing and nothing reads its wait but the wait itself,
    which never grows with more OTs and shrinks where one OT is overbooked."""
    cfg = make_cfg(*SMALL, "replications=12", "delivery.ot.sessions_per_week=0.5")
    ev = Evaluator(cfg, build_run_settings(cfg), build_design(cfg))
    one, two = (ev.trials(Candidate(80, 2, 5, 12.0, ots=k), 12, "test") for k in (0, 2))
    for col in one:
        if col != "delivery_ot_wait_days":
            assert np.array_equal(one[col], two[col], equal_nan=True), col
    wait1, wait2 = one["delivery_ot_wait_days"], two["delivery_ot_wait_days"]
    assert np.all(wait2 <= wait1 + 1e-9) and wait2.mean() < wait1.mean()


@pytest.mark.parametrize("uncertainty", ["none", "pilot"])
def test_recruitment_does_not_depend_on_the_esws(uncertainty):
    """To the last bit: only TAU's booklet appointments share the coordinator with
    screening, and their delays share a stream with nothing drawn after randomisation
    (trialsim.model.delivery), so one recruitment run serves every ESW count."""
    cfg = make_cfg(*SMALL, "replications=40", f"uncertainty.mode={uncertainty}")
    ev = Evaluator(cfg, build_run_settings(cfg), build_design(cfg))
    uncertain = uncertainty == "pilot"
    flags = [ev.trials(Candidate(80, e, 5, 12.0, uncertain), 40, "test")["target_reached"]
             for e in (1, 3)]
    assert np.array_equal(flags[0], flags[1])
    assert 0 < flags[0].mean() < 1  # the target is missed in some replications


@pytest.mark.parametrize("overrides", [
    (),
    ("scenario=pilot",),  # every channel, the coordinator's queue
    ("scenario=mixed", "trial.target_n=80", "uncertainty.mode=pilot"),
    ("delivery.esw.per_locality=1", "delivery.esw.caseload=2",  # places run out
     "employment.ips_relative_risk_m12=3.0"),
])
def test_recruitment_alone_is_the_full_runs_recruitment(overrides):
    """recruit_only (no caseload places, no employment paths) randomises the same people
    on the same days to the same arms as simulate_replication, and closes on its day."""
    params = build_params(make_cfg(*overrides))
    for rep in range(6):
        full, alone = simulate_replication(params, 5, rep), recruit_only(params, 5, rep)
        assert alone.close_day == full.close_day
        assert [(p.randomised_day, p.arm, p.site, p.channel, p.booklet_wait_days)
                for p in alone.participants] == [
            (p.randomised_day, p.arm, p.site, p.channel, p.booklet_wait_days)
            for p in full.participants]


def test_a_confirmed_candidate_adds_only_the_replications_it_lacks():
    cfg = make_cfg(*SMALL, "replications=30")
    ev = Evaluator(cfg, build_run_settings(cfg), build_design(cfg))
    c = Candidate(60, 2, 6, None)
    first = ev.trials(c, 20, "test")["primary_reject"]
    full = ev.trials(c, 30, "test")["primary_reject"]
    assert np.array_equal(full[:20], first) and ev.work["test"]["replications"] == 30


def test_recruitment_runs_to_a_larger_target_answer_every_smaller_n():
    """The cut's runs (to the grid's largest N) serve step 2's smaller N as they are: the
    same randomisation days up to that N and the same sites; runs to a smaller target
    are made again where a larger N is asked, and dropped when every run must reach it."""
    cfg = make_cfg(*SMALL, "replications=10")

    def evaluator():
        ev = Evaluator(cfg, build_run_settings(cfg), build_design(cfg))
        ev.recruit_up_to(80)
        return ev

    cut, step2 = evaluator(), evaluator()
    long = cut.recruitment(6, False, 10, up_to=200)
    short = step2.recruitment(6, False, 10)
    assert cut.recruitment_available(6, False) == cut.recruitment_available(6, False, 200) == 10
    assert step2.recruitment_available(6, False) == 10
    assert step2.recruitment_available(6, False, 200) == 0
    for (d1, o1, c1), (d2, o2, c2) in zip(long, short, strict=True):
        assert len(d1) >= len(d2) and np.array_equal(d1[:len(d2)], d2)
        assert np.array_equal(o1, o2) and np.array_equal(c1, c2)
    cut.recruit_up_to(120)  # the runs to 200 reach it: kept
    step2.recruit_up_to(120)  # those to 80 do not: dropped
    assert cut.recruitment_available(6, False) == 10
    assert step2.recruitment_available(6, False) == 0


# --- the whole search ------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_design():
    return searched(*SMALL, "mode=design", "replications=40", "design.objective=smallest_n")


def test_the_frontier_needs_no_more_n_with_more_esws(small_design):
    front = [f for f in small_design["frontier"] if f["target_n"] is not None]
    assert len(front) >= 2
    ns = [f["target_n"] for f in front]  # listed from most ESWs to fewest
    assert ns == sorted(ns)
    # design.pick_n=fitted: each count's N is the fitted curve's, or the grid rule's where
    # the curve does not place it (then that N passed on its own bound), or the floor the
    # count above sets; decided at that count with every replication
    power = {(e["target_n"], e["esw_per_locality"]): e for e in small_design["evaluations"]
             if e["step"] == "power"}
    floor = 0
    for f in front:
        e = f["esw_per_locality"]
        assert f["pick_n"] == ("fitted" if f["fitted_grid_n"] is not None else "grid")
        assert f["fitted_n_lower"] <= f["fitted_n"] <= f["fitted_n_upper"]
        if f["fitted_grid_n"] is not None:
            assert f["target_n"] == max(f["fitted_grid_n"], floor)
        else:
            assert f["target_n"] == max(f["grid_n"], floor)
            assert power[f["grid_n"], e]["passes"]
        assert power[f["target_n"], e]["replications"] == 40
        floor = f["target_n"]


def test_counts_needing_more_n_than_any_design_recruits_are_not_searched(monkeypatch):
    """SMALL's most sites recruit N 160 in the longest window but not 200: once a count
    needs more than 160, fewer ESWs (which need more still) are not searched. Each count's
    N rests on its own points and those of counts with more ESWs, so the cut changes
    nothing else: the frontier down to the cut, the designs and the recommendation are
    those of the search without it, for fewer power runs. (objective=smallest_n draws
    its designs from the same frontier, at N no larger than the cut.)"""
    cfg = make_cfg(*SMALL, "mode=design", "replications=40", "design.max_esw_per_locality=6",
                   "outcome.esw_icc=0.1")
    cut = DesignSearch(cfg).run()
    monkeypatch.setattr(DesignSearch, "_recruitable", lambda self: None)
    whole = DesignSearch(cfg).run()
    cap = cut["recruitable_n"]
    assert cap == 160 and whole["recruitable_n"] is None
    # the cut rests on the sites step's own rule: 160 passes, 200 fails
    top = {e["target_n"]: e["passes"] for e in cut["evaluations"]
           if e.get("purpose") == "recruitable_n"}
    assert top[160] and not top[200]
    front = cut["frontier"]
    at = next(i for i, f in enumerate(front) if f["target_n"] is not None
              and f["target_n"] > cap)
    assert at < len(front) - 1, "some count is cut"
    assert front[:at + 1] == whole["frontier"][:at + 1]
    assert all(not f["searched"] and f["beyond_recruitable"] == cap for f in front[at + 1:])
    assert whole["frontier"][at + 1]["searched"]  # the search without it went on
    assert cut["recommended"] == whole["recommended"] and cut["designs"] == whole["designs"]
    assert cut["check"] == whole["check"]
    power = [e for e in cut["evaluations"] if e["step"] == "power"]
    assert len(power) < len([e for e in whole["evaluations"] if e["step"] == "power"])
    assert all(e["esw_per_locality"] >= front[at]["esw_per_locality"] for e in power)
    assert f"not searched (needs more N than {cap}, the most any design in the grid " \
        "recruits)" in design_table(cut)


@pytest.fixture(scope="module")
def small_grid_design():
    return DesignSearch(make_cfg(*SMALL, "mode=design", "replications=40",
                                 "design.objective=smallest_n", "design.pick_n=grid")).run()


def test_the_grid_rules_walk_finds_the_first_n_passing(small_grid_design):
    """design.pick_n=grid: each count's N passed with every replication and its
    predecessor failed for that count (or for more ESWs, which bound it)."""
    front = [f for f in small_grid_design["frontier"] if f["target_n"] is not None]
    assert len(front) >= 2 and [f["target_n"] for f in front] == sorted(
        f["target_n"] for f in front)
    power = [e for e in small_grid_design["evaluations"] if e["step"] == "power"]
    for f in front:
        assert f["pick_n"] == "grid" and f["target_n"] == f["grid_n"]
        hit = [e for e in power if e["target_n"] == f["grid_n"]
               and e["esw_per_locality"] == f["esw_per_locality"]]
        assert hit and hit[0]["passes"] and hit[0]["replications"] == 40
        lower = f["grid_n"] - 40
        assert lower < 40 or any(e["target_n"] == lower and not e["passes"]
                                 and e["esw_per_locality"] >= f["esw_per_locality"]
                                 for e in power)


def test_where_the_final_curve_places_no_count_the_grid_rule_gives_each_n(monkeypatch):
    """The walk's N came from the curve as it was then; if the curve refitted with that
    N decided in full places no count (here: it fails to fit as each count settles),
    each count's N is the grid rule's, which passed on its own bound with every
    replication."""
    import trialsim.experiments.design as design

    settle = design.DesignSearch._settle

    def without_curve(self, row, ratio, gfloor, floor_n):
        with monkeypatch.context() as m:
            m.setattr(design, "fitted_ns", lambda *a, **k: {})
            return settle(self, row, ratio, gfloor, floor_n)

    monkeypatch.setattr(design.DesignSearch, "_settle", without_curve)
    cfg = make_cfg(*SMALL, "mode=design", "replications=40", "design.max_esw_per_locality=3")
    search = DesignSearch(cfg)
    front = [f for f in search.frontier() if f["target_n"] is not None]
    assert front
    for f in front:
        e = f["esw_per_locality"]
        assert f["target_n"] == f["grid_n"] and f["pick_n"] == "grid"
        dec = search._decided[f["grid_n"], e, f["allocation_ratio"]]
        assert dec.passes and dec.replications == 40
    # and where the grid rule finds none for the first count, fewer ESWs are not searched
    monkeypatch.setattr(design, "first_passing", lambda *a, **k: None)
    rows = DesignSearch(cfg).frontier()
    assert rows[0]["target_n"] is None and rows[0]["searched"] and "power" not in rows[0]
    assert rows[0]["best_replications"] in (20, 40)
    assert all(not r["searched"] and r["target_n"] is None for r in rows[1:])


def test_a_screened_power_decision_made_again_in_full_replaces_its_record():
    search = DesignSearch(make_cfg(*SMALL, "mode=design", "replications=40"))
    ratio = search.ratios[0]
    assert search._power(40, 1, ratio).screened_out  # far below the goal: screened
    dec = search._power(40, 1, ratio, full=True)
    assert dec.replications == 40 and not dec.screened_out
    new = search._power(80, 1, ratio, full=True)  # never decided: every replication
    assert new.replications == 40 and not new.screened_out
    records = [(r["target_n"], r["replications"]) for r in search.log if r["step"] == "power"]
    assert records == [(40, 40), (80, 40)]


def test_the_recommendation_follows_the_rule_and_every_goal(small_design):
    rows, rec = small_design["designs"], small_design["recommended"]
    assert rec is not None
    keys = [(r["target_n"], r["esw_months"], r["service_months"]) for r in rows]
    assert keys == sorted(keys)  # ranked by the documented rule
    first_ok = next(r for r in rows if r["feasible"])
    assert (rec["target_n"], rec["esw_per_locality"], rec["sites"], rec["months"]) == (
        first_ok["target_n"], first_ok["esw_per_locality"], first_ok["sites"],
        first_ok["months"])
    assert all(r["feasible"] is False for r in rows[:rows.index(first_ok)])
    assert rec["target_n"] == min(f["target_n"] for f in small_design["frontier"]
                                  if f["target_n"] is not None)
    # one fewer site fails that window for that N (or it is already one site)
    assert rec["sites"] == 1 or any(
        e["step"] == "sites" and e["target_n"] == rec["target_n"] and
        e["months"] == rec["months"] and e["sites"] == rec["sites"] - 1 and not e["passes"]
        for e in small_design["evaluations"])
    for e in small_design["evaluations"]:  # every point can be drawn
        assert {"step", "target_n", "sites", "months", "replications", "passes"} <= set(e)
    assert small_design["work"]["replications"] > 0


def test_the_check_run_meets_the_goals_with_a_fresh_seed(small_design):
    """The issue's figure on a small trial: rerun as a plain run with a new seed, the
    recommended design meets power and P(target) within Monte Carlo error (an estimate
    below its goal by at most 2 MC SE: a true value at the goal fails this 2.3% of the
    time, one clearing it by the search's one-sided 95% bound far less often)."""
    rec, check = small_design["recommended"], small_design["check"]
    assert check["seed"] == check_seed(small_design["seed"]) != small_design["seed"]
    assert all(check["meets"].values()), check
    summary = run(make_cfg(*SMALL, "replications=200", "seed=4242", "output.charts=false",
                           f"trial.target_n={rec['target_n']}",
                           f"trial.recruitment_months={rec['months']}",
                           f"sites.pain_services.count={rec['sites']}",
                           f"delivery.esw.per_locality={rec['esw_per_locality']}"), None)
    power, se = summary["power"]["primary"], summary["power"]["primary_mc_se"]
    assert power >= 0.75 - 2 * se
    pt, pt_se = (summary["recruitment"]["prob_target_by_end"],
                 summary["recruitment"]["prob_target_by_end_mc_se"])
    assert pt >= 0.8 - 2 * pt_se


def test_when_power_binds_it_says_so_with_the_best_and_a_suggestion():
    result = DesignSearch(make_cfg(*SMALL, "mode=design", "replications=40",
                                   "design.n_stop=80", "design.max_esw_per_locality=1",
                                   "outcome.effect_m12=1.0")).run()
    assert result["recommended"] is None and result["binding"]["goal"] == "power"
    msg = result["binding"]["message"]
    assert msg.startswith("power 0.") and "at N 80 with 1 ESW" in msg
    assert "suggests" in msg and "not simulated" in msg


def test_when_recruitment_binds_it_says_so():
    result = DesignSearch(make_cfg(*SMALL, "mode=design", "replications=40",
                                   "design.n_start=120", "design.n_stop=120",
                                   "design.max_esw_per_locality=4", "design.target_power=0.3",
                                   "design.months=[2]", "design.max_sites=4")).run()
    assert result["recommended"] is None and result["binding"]["goal"] == "prob_target"
    assert "P(target)" in result["binding"]["message"]


def test_assurance_is_searched_on_with_power_beside_it():
    # the search's mechanics with assurance as the goal: the largest design's assurance is
    # about 0.7-0.76, so a goal of 0.5 leaves its one-sided bound (100 replications, SE
    # about 0.045) clear whatever the seed; a goal of 0.6 with 40 replications did not
    result = DesignSearch(make_cfg(*SMALL, "mode=design", "replications=100",
                                   "uncertainty.mode=pilot", "design.criterion=assurance",
                                   "design.target_power=0.5", "design.max_esw_per_locality=3",
                                   "design.n_start=80", "design.n_stop=120",
                                   # room for recruitment under the drawn site rates, whose
                                   # new-site predictive is wider than the pooled posterior
                                   # (and, re-centred this round, no longer 4/3 of its mean)
                                   "design.months=[18]", "design.max_sites=40")).run()
    power = [e for e in result["evaluations"] if e["step"] == "power"]
    assert power and all(e["goal"] == "assurance" and "power" in e for e in power)
    assert result["criterion"] == "assurance"
    assert "assurance" in result["recommended"] and "assurance" in result["check"]


def test_a_search_gives_the_same_answer_whatever_n_jobs():
    tiny = (*SMALL, "mode=design", "replications=20", "design.screen_replications=10",
            "design.n_start=80", "design.n_stop=120", "design.max_esw_per_locality=3",
            "design.months=[18]")
    one, two = (DesignSearch(make_cfg(*tiny, f"n_jobs={n}")).run() for n in (1, 2))
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)


@pytest.mark.parametrize("objective", ["smallest_n", "cost"])
def test_an_unconfirmed_check_moves_the_search_to_the_next_n(monkeypatch, objective):
    """The check run's estimate is the confirmation: when its criterion misses the goal
    (forced here for the first check), the search takes the next N of the grid for that
    ESW count and checks again. With the smallest-N rule the recommendation is that N's;
    with objective=cost the ranking is redone, so the next check is that ESW count at
    the next N or a design with another ESW count, never the unconfirmed one."""
    real = DesignSearch.check
    calls = []

    def check(self, rec):
        out = real(self, rec)
        calls.append((rec["target_n"], rec["esw_per_locality"]))
        if len(calls) == 1:
            out["confirmed"] = {**out["confirmed"], self.d.criterion: False}
        return out

    monkeypatch.setattr(DesignSearch, "check", check)
    # 24 months: room to recruit the next N of the grid (200) once the first is unconfirmed
    result = DesignSearch(make_cfg(*SMALL, "mode=design", "replications=40",
                                   "design.months=[12,18,24]",
                                   f"design.objective={objective}")).run()
    (first, e1), (second, e2) = calls[:2]
    attempts = result["check_attempts"]
    assert [a["target_n"] for a in attempts] == [n for n, _ in calls[:2]]
    assert not attempts[0]["confirmed"]
    assert result["recommended"]["target_n"] == second
    if objective == "smallest_n":
        assert second == first + 40  # design.n_step
    else:
        assert (second, e2) != (first, e1)
        assert e2 != e1 or second == first + 40


@pytest.mark.parametrize("objective", ["smallest_n", "cost"])
def test_an_unconfirmed_check_never_moves_beyond_what_any_design_recruits(monkeypatch,
                                                                          objective):
    """Every check forced unconfirmed: the search moves N up only as far as the most
    sites recruit (SMALL: 160), with no power run beyond it but those the frontier's walk
    makes anyway, and the last attempt's designs are what the search reports."""
    overrides = (*SMALL, "mode=design", "replications=40", f"design.objective={objective}")

    def beyond(result):
        return {(e["target_n"], e["esw_per_locality"]) for e in result["evaluations"]
                if e["step"] == "power" and e["target_n"] > result["recruitable_n"]}

    walked = beyond(searched(*overrides))
    real = DesignSearch.check

    def check(self, rec):
        out = real(self, rec)
        out["confirmed"] = {**out["confirmed"], self.d.criterion: False}
        return out

    monkeypatch.setattr(DesignSearch, "check", check)
    result = DesignSearch(make_cfg(*overrides)).run()
    cap = result["recruitable_n"]
    assert cap == 160 and beyond(result) == walked
    assert len(result["check_attempts"]) > 1
    assert all(a["target_n"] <= cap for a in result["check_attempts"])
    assert result["designs"] and result["recommended"]["target_n"] <= cap
    if objective == "smallest_n":  # its sites step looks at the attempt's N alone
        assert all(s["target_n"] <= cap for s in result["sites_by_months"])


def test_the_sites_found_come_with_the_fitted_curves_interval(small_design):
    """Each window's fewest sites, where a P(target) curve could be fitted through the
    counts simulated, comes with the curve's count and its interval; the terminal gives
    them for the recommendation."""
    fitted = [e for e in small_design["sites_by_months"]
              if e["sites"] is not None and e.get("fitted_sites") is not None]
    assert fitted
    for e in fitted:
        assert e["fitted_points"] >= 2
        lo, hi = e["fitted_sites_lower"], e["fitted_sites_upper"]
        assert (lo is None or lo <= e["fitted_sites"]) and (hi is None or e["fitted_sites"] <= hi)
    rec = small_design["recommended"]
    shown = any(e["target_n"] == rec["target_n"] and e["months"] == rec["months"]
                for e in fitted)
    assert ("on the fitted curve" in design_table(small_design)) == shown


def test_an_overbooked_ot_is_named_with_the_count_that_would_do():
    """The default search's recommendation (N 750 at 1:1, about 41 months recruiting) asks
    one OT at two sessions a week for more than every session: the note says so and
    names the count that brings the load under OT_BUSY; a light load says nothing, and
    more IPS participants never ask for less."""
    from trialsim.experiments.design_check import OT_BUSY, ot_load, ot_note, ots_needed

    params = build_params(make_cfg())
    assert params.delivery.ot_count == 1
    load = ot_load(params, 375.0, 41.26)
    assert load == pytest.approx(375.0 / (41.26 * 365.25 / 12) * 3.5)
    note = ot_note(load, params)
    assert note is not None and "delivery.ot.count=2," in note and f"{load:.2f}" in note
    assert ots_needed(load, params) == 2
    assert ot_note(ot_load(params, 88.0, 24.0), params) is None
    assert ots_needed(ot_load(params, 88.0, 24.0), params) == 1  # the configured count
    loads = [ot_load(params, n, 30.0) for n in (50, 100, 200, 400)]
    assert loads == sorted(loads)
    needed = [ots_needed(x, params) for x in loads]  # more demand never staffs fewer
    assert needed == sorted(needed)
    heavy = ot_note(3.3, params)
    assert "delivery.ot.count=5," in heavy and 3.3 / 5 < OT_BUSY <= 3.3 / 4
    assert ots_needed(3.3, params) == 5


def test_a_recommendation_at_the_edge_of_the_grid_says_so():
    """The default search's answer (39 of 40 sites, 48 of 48 months) is at the months'
    edge: the note names it and the key that widens it; so is the smallest N searched;
    one inside says nothing."""
    from trialsim.experiments.design_check import edge_note

    d = build_design(make_cfg("mode=design"))
    rec = {"sites": 39, "months": d.months_grid[-1], "target_n": 750, "esw_per_locality": 5}
    note = edge_note(rec, d, "pain_services")
    assert note is not None and f"{d.months_grid[-1]:g} months, the longest searched" in note
    assert "design.months" in note and "design.max_sites" not in note
    rec.update(target_n=d.n_grid[0])  # the smallest N searched: a smaller one never tried
    assert "design.n_start" in edge_note(rec, d, "pain_services")
    rec.update(target_n=750)
    rec.update(sites=d.sites_grid[-1])
    assert "design.max_sites" in edge_note(rec, d, "pain_services")
    assert edge_note({"sites": 10, "months": d.months_grid[0], "target_n": d.n_grid[1],
                      "esw_per_locality": 1}, d, "pain_services") is None


def test_the_check_again_with_one_input_changed_moves_the_right_way(small_design):
    """design.check_sensitivity's defaults, on the check's seeds: a smaller effect never
    gives more power, nor a slower service more P(target), beyond Monte Carlo error;
    more disengagement never gives more power, nor larger outcome SDs."""
    check = small_design["check"]
    rows = {(r["key"], r["value"]): r for r in check["sensitivity"]}
    assert set(rows) == {("outcome.effect_m12", 0.75), ("outcome.effect_m12", 0.5),
                         ("delivery.esw.disengage_after_assessment", 0.3),
                         ("sites.pain_services.rate_discount", 0.5),
                         ("outcome.esw_icc", 0.1), ("outcome.sd_scale", 1.15)}
    assert {r["replications"] for r in rows.values()} == {100}

    def no_higher(lo, hi, what):
        assert lo[what] <= hi[what] + 3 * math.hypot(lo[f"{what}_mc_se"], hi[f"{what}_mc_se"])

    base = {"power": check["power_of_n"], "power_mc_se": check["power_of_n_mc_se"],
            "prob_target": check["prob_target"], "prob_target_mc_se": check["prob_target_mc_se"]}
    e75, e50 = rows["outcome.effect_m12", 0.75], rows["outcome.effect_m12", 0.5]
    no_higher(e50, e75, "power")
    no_higher(e75, base, "power")
    no_higher(rows["delivery.esw.disengage_after_assessment", 0.3], base, "power")
    no_higher(rows["sites.pain_services.rate_discount", 0.5], base, "prob_target")
    no_higher(rows["outcome.esw_icc", 0.1], base, "power")
    no_higher(rows["outcome.sd_scale", 1.15], base, "power")
    assert rows["outcome.sd_scale", 1.15]["prob_target"] == e75["prob_target"]  # SDs recruit no one
    # each row read against the check's own first trials (the same seeds), paired: an
    # input that moves no recruitment changes no P(target), and none raises power
    same = check["sensitivity_unchanged"]
    assert same["replications"] == 100 and same["prob_target"] == e75["prob_target"]
    for key_value, r in rows.items():
        if key_value[0] != "sites.pain_services.rate_discount":
            assert r["prob_target_change"] == 0.0
        if r["power_change"] is not None:
            assert r["power_change"] <= 3 * r["power_change_mc_se"] + 1e-12, key_value
    assert rows["outcome.effect_m12", 0.5]["power_change"] < 0
    lines = "\n".join(sensitivity_lines(check))
    assert "nothing changed: power among the " in lines and "change -" in lines
    assert f"power among the {rows['outcome.effect_m12', 0.5]['reached']} reaching N" in lines
    # the effect changes nothing of recruitment: the same seeds recruit the same trials
    assert e75["prob_target"] == e50["prob_target"]
    assert "one input changed" in design_table(small_design)


def test_a_sensitivity_row_quotes_no_power_from_fewer_than_ten_trials_reaching_n():
    """The check's one-input-changed rows follow reporting.precision's FEW_TRIALS: power
    among 9 trials reaching N is not quoted (it was taken over every trial instead, still
    labelled 'among trials reaching N'); paired changes need as many."""
    import numpy as np

    from trialsim.experiments.design import _paired_change, _sensitivity_shares

    reached = np.array([1] * 9 + [0] * 91)
    cols = {"target_reached": reached, "primary_reject": reached.copy()}
    row = _sensitivity_shares(cols, "power")
    assert row["power"] is None and row["reached"] == 9 and row["prob_target"] == 0.09
    assert _paired_change(cols, cols, "power")["power_change"] is None
    assert _paired_change(cols, cols, "power")["prob_target_change"] == 0.0
    words = sensitivity_lines({"sensitivity": [{"key": "k", "value": 1.0,
                                                "replications": 100, **row}]})
    assert "power n/a (9 trials reach N; at least 10 needed)" in words[-1]
    cols10 = {"target_reached": np.array([1] * 10 + [0] * 90),
              "primary_reject": np.array([1] * 10 + [0] * 90)}
    assert _sensitivity_shares(cols10, "power")["power"] == 1.0


def test_candidate_parameters_edited_in_place_are_those_of_a_fresh_copy():
    """Evaluator.params edits one working copy of the config (inputs.compose.Edits)
    rather than copying the whole config per candidate: in any order, with keys a
    candidate sets and the next leaves alone (the OTs, the ratio and its block sizes),
    every candidate's parameters are those a fresh copy builds, to the last bit."""
    import pickle

    from trialsim.experiments.allocation_lever import ratio_changes
    from trialsim.experiments.candidates import _point
    from trialsim.inputs.allocation_ratio import parse_ratio
    from trialsim.inputs.compose import with_changes
    from trialsim.inputs.design_settings import UNCONSTRAINED_MONTHS

    cfg = make_cfg(*SMALL, "replications=12")
    ev = Evaluator(cfg, build_run_settings(cfg), build_design(cfg))
    kind = ev.design.site_kind
    order = [Candidate(80, 2, 5, 12.0, ots=3), Candidate(60, 1, 4, None),
             Candidate(80, 2, 5, 12.0, ratio="2:1"), Candidate(100, 3, 6, 18.0, fte=0.5),
             Candidate(60, 1, 4, None, uncertain=True), Candidate(80, 2, 5, 12.0)]
    for c in order:
        months = UNCONSTRAINED_MONTHS if c.months is None else c.months
        fresh = build_params(with_changes(cfg, {
            "trial.target_n": c.target_n, "trial.recruitment_months": months,
            "delivery.esw.per_locality": c.esw, "delivery.esw.fte": c.fte,
            f"sites.{kind}.count": c.sites,
            **(ratio_changes(cfg, parse_ratio(c.ratio)) if c.ratio else {}),
            **({"delivery.ot.count": c.ots} if c.ots else {})}))
        fresh = fresh if c.uncertain else _point(fresh)
        assert pickle.dumps(ev.params(c)) == pickle.dumps(fresh), c


def test_outcome_variants_on_shared_pathways_are_the_trials_of_their_own_runs():
    """runner.outcome_variant_rows simulates each pathway once and draws each outcome
    model on it: every row, the variants' included, is the row of a run of its own with
    that outcome model (to the last bit); with drawn parameters it refuses."""
    from trialsim.experiments.runner import outcome_variant_rows, simulated_rows
    from trialsim.inputs.compose import with_changes

    cfg = make_cfg(*SMALL)
    base = build_params(cfg)
    changes = [("outcome.effect_m12", 0.5), ("outcome.esw_icc", 0.1),
               ("outcome.sd_scale", 1.15)]
    variants = [build_params(with_changes(cfg, {k: v})) for k, v in changes]
    reps = range(3, 9)
    shared = outcome_variant_rows(base, 5, reps, variants)
    for k, params in enumerate([base, *variants]):
        own = [row for _, row in simulated_rows(params, 5, reps)]
        for i, row in enumerate(own):
            got = shared[k][i]
            assert list(got) == list(row)
            assert all(a == b or (a != a and b != b) for a, b in
                       zip(got.values(), row.values(), strict=True)), (k, i)
    assert shared[0][0]["primary_reject"] is not None
    lean = outcome_variant_rows(base, 5, reps, variants, True, False)
    assert [list(r) for r in lean[0]] == [list(r) for r in shared[0]]  # the candidate's: full
    assert not [c for t in lean[1:] for c in t[0] if c.startswith(("sensitivity_", "review_"))]
    with pytest.raises(ValueError):
        outcome_variant_rows(build_params(make_cfg(*SMALL, "uncertainty.mode=pilot")), 5,
                             reps, variants)
    moved = build_params(with_changes(cfg, {"delivery.esw.disengage_after_assessment": 0.3}))
    with pytest.raises(ValueError):  # a change that moves delivery needs runs of its own
        outcome_variant_rows(base, 5, reps, [moved])


def test_rows_without_tipping_and_review_lack_only_those_columns():
    """runner.simulated_rows with `tipping_and_review` False (every design evaluator but
    the check's):
    the MNAR delta sensitivity's and the internal pilot's review columns are not made,
    and every other column is the full row's, to the last bit."""
    from trialsim.experiments.runner import simulated_rows

    params = build_params(make_cfg(*SMALL))
    assert params.progression is not None
    reps = range(2, 8)
    full = [row for _, row in simulated_rows(params, 3, reps)]
    lean = [row for _, row in simulated_rows(params, 3, reps, tipping_and_review=False)]
    for a, b in zip(full, lean, strict=True):
        dropped = set(a) - set(b)
        assert set(b) <= set(a)
        assert {c.split("_")[0] for c in dropped} == {"sensitivity", "review"}, dropped
        assert not [c for c in b if c.startswith(("sensitivity_", "review_"))]
        assert all(a[c] == b[c] or (a[c] != a[c] and b[c] != b[c]) for c in b)


def test_the_check_refuses_trials_without_tipping_points_and_lights():
    """The design check reads the tipping points and the internal pilot's lights of its
    own trials: given trials made without them it stops, rather than report none."""
    from trialsim.experiments.design_check import delivery_and_review

    cfg = make_cfg(*SMALL, "replications=4")
    c = Candidate(60, 2, 5, 12.0)
    made = {flag: Evaluator(cfg, build_run_settings(cfg), build_design(cfg),
                            tipping_and_review=flag).trials(c, 4, "check")
            for flag in (True, False)}
    params = build_params(cfg)
    assert delivery_and_review(made[True], params, 12.0)["progression"]["lights"]
    with pytest.raises(ValueError, match="lack"):
        delivery_and_review(made[False], params, 12.0)


def test_only_a_change_of_the_outcome_model_is_drawn_on_the_checks_pathways():
    """The design check draws a sensitivity on its own pathways only where the changed
    parameters differ in the outcome model alone, at fixed parameters; a change that
    moves delivery or recruitment, or drawn parameters, runs on its own."""
    from trialsim.experiments.runner import outcome_only
    from trialsim.inputs.compose import with_changes

    cfg = make_cfg(*SMALL)
    base = build_params(cfg)
    changes = [("outcome.effect_m12", 0.5), ("delivery.esw.disengage_after_assessment", 0.3),
               ("outcome.esw_icc", 0.1), ("sites.pain_services.rate_discount", 0.5),
               ("outcome.sd_scale", 1.15)]
    changed = [build_params(with_changes(cfg, {k: v})) for k, v in changes]
    assert outcome_only(base, changed) == [0, 2, 4]
    drawn = build_params(make_cfg(*SMALL, "uncertainty.mode=pilot"))
    assert outcome_only(drawn, changed) == []


def test_a_candidates_outcome_variants_are_the_columns_of_their_own_evaluators():
    """Evaluator.trials_with_outcomes: the candidate's own trials as `trials` gives them,
    and each variant's first `upto` trials (a block cut inside them included) as an
    Evaluator of its own config gives them, in the variants' order."""
    from trialsim.inputs.compose import with_changes

    cfg = make_cfg(*SMALL, "replications=12")
    c = Candidate(80, 2, 5, 12.0)
    changes = [("outcome.sd_scale", 1.15), ("outcome.effect_m12", 0.5)]
    own = [Evaluator(with_changes(cfg, {k: v}), build_run_settings(cfg), build_design(cfg),
                     tipping_and_review=False) for k, v in changes]  # as the check's
    ev = Evaluator(cfg, build_run_settings(cfg), build_design(cfg))
    got = ev.trials_with_outcomes(c, 30, "check", tuple(e.params(c) for e in own), 27,
                                  "sensitivity", variants_tipping_and_review=False)
    fresh = Evaluator(cfg, build_run_settings(cfg), build_design(cfg)).trials(c, 30, "check")
    for col, values in ev.trials(c, 30, "check").items():
        assert np.array_equal(values, fresh[col], equal_nan=True), col
    for cols, e in zip(got, own, strict=True):
        alone = e.trials(c, 27, "sensitivity")
        assert set(cols) == set(alone)
        for col in cols:
            assert np.array_equal(cols[col], alone[col], equal_nan=True), col
    assert ev.work["sensitivity"] == {"runs": 2, "replications": 54,
                                      "participants": int(sum(e.work["sensitivity"][
                                          "participants"] for e in own))}


def test_config_edits_refuse_what_putting_back_could_not_undo():
    """inputs.compose.Edits puts every key back to the base's value: a key the base lacks
    (nothing to put back) or one inside or around a key already edited (putting back
    the parent would undo the child) is refused."""
    from trialsim.inputs.compose import Edits

    edits = Edits(make_cfg(*SMALL))
    assert edits.build({"trial.target_n": 90}, lambda c: int(c.trial.target_n)) == 90
    assert edits.build({}, lambda c: int(c.trial.target_n)) != 90  # put back
    for bad in ({"trial.no_such_key": 1}, {"trial.block_sizes.0": 2},
                {"trial": {"target_n": 5}}):
        with pytest.raises(ValueError):
            edits.build(bad, lambda c: None)


def test_outcome_variants_are_recognised_after_pickling_to_a_worker():
    """The parameters a worker gets are pickled copies: a NaN field (an unused plan's
    value) no longer compares equal to itself, so the check that variants differ in the
    outcome model alone must not rest on ==."""
    import pickle

    from trialsim.experiments.runner import outcome_only
    from trialsim.inputs.compose import with_changes

    cfg = make_cfg(*SMALL)
    base = build_params(cfg)
    variant = build_params(with_changes(cfg, {"outcome.effect_m12": 0.5}))
    assert outcome_only(pickle.loads(pickle.dumps(base)),
                        [pickle.loads(pickle.dumps(variant))]) == [0]
