"""design.objective=cost on a small trial: the recommendation is the first design down
the cost ranking that meets every goal, its cost from its own simulation, beside the
smallest-N rule's design; a higher caseload cap never makes the cheapest design dearer;
fractional posts and the utilisation floor."""

from __future__ import annotations

import pytest
from conftest import make_cfg
from test_design_search import SMALL

from trialsim.experiments.design import DesignSearch
from trialsim.reporting.design_terminal import design_table

TINY = (*SMALL, "mode=design", "replications=30", "design.screen_replications=10",
        "design.check_replications=100", "design.n_start=80", "design.n_stop=160",
        "design.max_esw_per_locality=3", "design.months=[12,18]")


@pytest.fixture(scope="module")
def cost_design():
    return DesignSearch(make_cfg(*TINY)).run()


def _mc(rec):
    return rec["cost_mc_se"] or 0.0


def test_the_recommendation_is_the_cheapest_design_meeting_every_goal(cost_design):
    d = cost_design
    rows, rec = d["designs"], d["recommended"]
    assert d["objective"] == "cost" and rec is not None
    ranks = [r["ranking_cost"] for r in rows]
    assert ranks == sorted(ranks)
    first_ok = next(r for r in rows if r["feasible"])
    assert all(r["feasible"] is False for r in rows[:rows.index(first_ok)])
    assert (rec["target_n"], rec["esw_per_locality"], rec["sites"], rec["months"]) == (
        first_ok["target_n"], first_ok["esw_per_locality"], first_ok["sites"],
        first_ok["months"])
    assert rec["cost_p5"] <= rec["cost"] <= rec["cost_p95"]
    assert d["check"]["cost"] > 0 and "costs" in d["check"]
    rule = d["smallest_n_design"]
    assert rule is not None
    assert rec["cost"] <= rule["cost"] + 2 * (_mc(rec) + _mc(rule))
    levels = [p["level"] for p in d["cost_frontier"]]
    assert levels == sorted(levels)
    costs = [p["design"]["cost"] or p["design"]["ranking_cost"]
             for p in d["cost_frontier"] if p["design"]]
    assert costs == sorted(costs)  # a higher power level never costs less
    text = design_table(d)
    assert "expected cost GBP" in text and "smallest-N rule" in text


def test_a_higher_caseload_cap_never_raises_the_cheapest_cost(cost_design):
    """Caps 12, 20 (the fixture) and 1000: the cheapest cost never rises with the cap
    (within Monte Carlo error); no design at all would count as dearer than any."""
    recs = [DesignSearch(make_cfg(*TINY, "delivery.esw.caseload=12")).run()["recommended"],
            cost_design["recommended"],
            DesignSearch(make_cfg(*TINY, "delivery.esw.caseload=1000")).run()["recommended"]]
    assert all(r is not None for r in recs)
    for tight, loose in zip(recs, recs[1:], strict=False):
        assert loose["cost"] <= tight["cost"] + 2 * (_mc(loose) + _mc(tight))


def test_the_idle_note_suggests_a_smaller_fte_only_where_the_grid_has_one(cost_design):
    """A recommendation already at design.esw_fte's smallest FTE is told of fewer posts
    (or a smaller FTE added to the grid), not of the fractional posts it already has."""
    from trialsim.experiments.design_costs import IDLE, idle_note

    at_smallest = idle_note(0.33, 0.0, 0.5, (1.0, 0.5))
    assert "33% of the caseload place-months the ESW posts are paid for" in at_smallest
    assert at_smallest.endswith("they are already at 0.5 FTE, the smallest in "
                                "design.esw_fte: fewer posts would cost less if the goals "
                                "allow, as might a smaller FTE added to design.esw_fte")
    assert "fractional" not in at_smallest and "posts at a smaller FTE" not in at_smallest
    assert idle_note(0.33, 0.0, 1.0, (0.25, 0.5, 1.0)).endswith(
        "fewer posts, or posts at a smaller FTE from design.esw_fte (0.25, 0.5), would cost "
        "less if the goals allow")
    assert "already at 1 FTE" in idle_note(0.33, 0.0, 1.0, (1.0,))
    assert idle_note(IDLE, 0.0, 1.0, (1.0,)) is None
    rec, grid = cost_design["recommended"], cost_design["esw_fte"]
    assert rec["idle"] == idle_note(rec["utilisation"], 0.0, rec["fte"], grid)


def test_a_utilisation_floor_is_met_or_said_to_bind():
    d = DesignSearch(make_cfg(*TINY, "design.min_utilisation=0.99")).run()
    assert d["recommended"] is None or d["recommended"]["utilisation"] >= 0.99
    assert any(r.get("utilisation_ok") is False for r in d["designs"])


def test_the_cost_frontier_leaves_out_designs_that_miss_another_goal():
    """A cheaper design simulated in full that misses the wait goal is no frontier point;
    one not simulated in full stays (its wait unchecked), the dearer one that met every
    goal is taken where it is the cheapest left."""
    from trialsim.experiments.design_costs import frontier

    def row(n, power, cost, feasible):
        return {"target_n": n, "power": power, "power_mc_se": 0.0, "cost": cost,
                "ranking_cost": cost, "feasible": feasible}
    rows = [row(500, 0.92, 1.0e6, False), row(600, 0.93, 1.2e6, True),
            row(550, 0.81, 0.9e6, None)]
    front = {p["level"]: p["design"] for p in frontier(rows, "power", (0.8, 0.9, 0.95), 1.645)}
    assert front[0.9]["target_n"] == 600 and front[0.9]["feasible"] is True
    assert front[0.8]["target_n"] == 550 and front[0.8]["feasible"] is None
    assert front[0.95] is None


def test_a_cost_frontier_point_clears_its_level_by_the_goals_bound():
    """A design whose point estimate reaches a level but whose one-sided Monte Carlo
    bound does not is no point at that level (it failed that goal in the search: the
    frontier must not show it cheaper than the recommendation there); without an MC SE
    a design clears nothing."""
    from trialsim.experiments.design_costs import frontier

    cheap = {"target_n": 750, "power": 0.915, "power_mc_se": 0.020, "cost": None,
             "ranking_cost": 2.1e6, "feasible": None}  # bound 0.882
    chosen = {"target_n": 750, "power": 0.935, "power_mc_se": 0.0174, "cost": 2.5e6,
              "ranking_cost": 2.45e6, "feasible": True}  # bound 0.906
    unknown = {"target_n": 700, "power": 0.99, "cost": 1.0e6, "ranking_cost": 1.0e6,
               "feasible": None}
    front = {p["level"]: p["design"]
             for p in frontier([cheap, chosen, unknown], "power", (0.85, 0.9, 0.95), 1.645)}
    assert front[0.85]["ranking_cost"] == 2.1e6
    assert front[0.9]["cost"] == 2.5e6
    assert front[0.95] is None
