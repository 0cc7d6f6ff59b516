"""The design search's two levers wired in: the allocation ratio searched like the ESWs
(`design.allocation_ratios`), and each ESW count's N read off the fitted power curve
(`design.pick_n=fitted`)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import CONF_DIR, ROOT, make_cfg, searched
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr
from test_design_search import SMALL

from trialsim.cli import preflight
from trialsim.experiments.design import DesignSearch
from trialsim.experiments.fitted_n import fitted_ns, pick
from trialsim.inputs.design_settings import build_design
from trialsim.reporting.design_terminal import design_table

GRID = tuple(range(40, 1001, 40))

# --- the fitted pick of N --------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), levels=st.integers(1, 5),
       target=st.sampled_from([0.75, 0.8, 0.9]))
def test_the_fitted_pick_never_needs_more_n_with_more_esws(seed, levels, target):
    """Synthetic candidate results (power a probit in log N whose level rises with the
    ESWs, plus binomial noise, a few grid N per ESW count, screened or in full): the N
    picked from the fitted curve (or a grid rule where it has none) never rises with
    the ESWs."""
    rng = np.random.default_rng(seed)
    points = []
    for e in range(1, levels + 1):
        ns = rng.choice(GRID, size=int(rng.integers(2, 7)), replace=False)
        slope = rng.uniform(0.8, 2.5)
        for n in ns:
            p = float(ndtr(-6.0 + 0.4 * e + slope * np.log(n) / 1.5))
            reps = int(rng.choice([20, 40, 200]))
            points.append((int(n), e, int(rng.binomial(reps, p)), reps))
    fitted = fitted_ns(points, target, GRID, 1.645)
    for f in fitted.values():  # each count's N within its interval, on the grid
        assert f.n is None or f.lower is None or f.lower <= f.n <= (f.upper or np.inf)
        assert f.grid_n is None or f.grid_n in GRID
    grid_pick = {e: (int(rng.choice(GRID)) if rng.random() < 0.8 else None)
                 for e in range(1, levels + 1)}
    chosen = pick(grid_pick, fitted)
    got = [chosen[e] for e in sorted(chosen) if chosen[e] is not None]
    assert got == sorted(got, reverse=True)
    assert all((chosen[e] is None) == (grid_pick[e] is None) for e in grid_pick)


def test_without_two_distinct_n_the_grid_rule_stands():
    assert fitted_ns([(200, 2, 30, 40), (200, 3, 35, 40)], 0.8, GRID, 1.645) == {}
    assert pick({2: 280, 3: 200}, {}) == {2: 280, 3: 200}


# --- the allocation ratio as a lever, on a small seeded search ---------------------------

TINY = (*SMALL, "mode=design", "replications=40")


@pytest.fixture(scope="module")
def equal_only():
    return searched(*TINY)


@pytest.fixture(scope="module")
def two_ratios():
    return DesignSearch(make_cfg(*TINY, 'design.allocation_ratios=["1:1","1:2"]')).run()


def test_a_second_ratio_never_recommends_a_dearer_design(equal_only, two_ratios):
    one, two = equal_only["recommended"], two_ratios["recommended"]
    assert one is not None and two is not None
    assert one["allocation_ratio"] == "1:1" and two["allocation_ratio"] in ("1:1", "1:2")
    assert two["cost"] <= one["cost"]
    # the 1:1 frontier is the one the 1:1-only search finds (common random numbers)
    strip = lambda fr, r: [f for f in fr if f["allocation_ratio"] == r]  # noqa: E731
    assert strip(two_ratios["frontier"], "1:1") == equal_only["frontier"]
    assert strip(two_ratios["frontier"], "1:2")


def test_every_candidate_and_the_check_name_their_ratio(two_ratios):
    assert two_ratios["allocation_ratios"] == ["1:1", "1:2"]
    assert {r["allocation_ratio"] for r in two_ratios["designs"]} <= {"1:1", "1:2"}
    assert all(e["allocation_ratio"] in ("1:1", "1:2")
               for e in two_ratios["evaluations"] if e["step"] in ("power", "design", "check"))
    rec = two_ratios["recommended"]
    check = [e for e in two_ratios["evaluations"] if e["step"] == "check"][-1]
    assert check["allocation_ratio"] == rec["allocation_ratio"]
    assert f"allocated IPS:TAU {rec['allocation_ratio']}" in design_table(two_ratios)
    assert "IPS:TAU 1:2:" in design_table(two_ratios)


def test_the_fitted_frontier_records_its_n_and_interval(equal_only):
    found = [f for f in equal_only["frontier"] if f["target_n"] is not None]
    assert equal_only["pick_n"] == "fitted" and found
    for f in found:
        assert f["fitted_n_lower"] <= f["fitted_n"] <= f["fitted_n_upper"]
        assert f["target_n"] in GRID
    ns = [f["target_n"] for f in found]  # most ESWs first
    assert ns == sorted(ns)


# --- bad input: one line naming the key, the value and what is allowed ------------------

@pytest.mark.parametrize(("arg", "named"), [
    ("design.allocation_ratios=[3:0]", "design.allocation_ratios[0]='3:0'"),
    ("design.allocation_ratios=[abc]", "design.allocation_ratios[0]='abc'"),
    ("design.allocation_ratios=[1:1,11:2]", "design.allocation_ratios[1]='11:2'"),
    ("design.allocation_ratios=[]", "design.allocation_ratios=[]"),
    ("design.pick_n=smooth", "design.pick_n='smooth'"),
])
def test_bad_levers_are_one_line_each(arg, named):
    lines = preflight(["mode=design", arg, "replications=3"], CONF_DIR)
    assert len(lines) == 1 and named in lines[0], lines
    assert "is not allowed" in lines[0] and "\n" not in lines[0]
    assert ("IPS:TAU" in lines[0]) if "ratios" in arg else ("fitted" in lines[0])


def test_a_bad_ratio_exits_2_with_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "simulate.py"), "mode=design",
                           "design.allocation_ratios=[3:0]",
                           f"hydra.run.dir={tmp_path / 'run'}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("trialsim: error: design.allocation_ratios[0]='3:0'")


def test_ratios_are_kept_in_lowest_terms_once_each():
    d = build_design(make_cfg('design.allocation_ratios=["1:1","2:4","1:2","3:3"]'))
    assert d.allocation_ratios == ("1:1", "1:2")


# --- retention strategies and the kind of site as levers (design_variants) ---------------

NARROW = ("design.n_stop=80", "design.months=[18]", "design.max_esw_per_locality=2",
          "design.check_replications=100")  # a few candidates: each variant a whole search


def _search(*overrides):
    from trialsim.experiments.design import run_design

    return run_design(make_cfg(*TINY, *overrides), None)


@pytest.fixture(scope="module")
def with_text():
    return _search("design.retention_strategies=[[],[text_followup]]")


def test_a_strategy_set_never_recommends_a_dearer_design(with_text, equal_only):
    """Each set is searched with the same seed; the cheapest recommendation is kept, so
    adding text follow-up to the sets tried never raises the recommended cost, and the
    no-strategy variant is the plain search (the scenario has no strategy on)."""
    plain = equal_only
    assert plain["recommended"]["cost"] >= with_text["recommended"]["cost"] - 1e-9
    none = next(v for v in with_text["variants"] if v["strategies"] == [])
    assert none["recommended"] == plain["recommended"]
    assert sum(v["chosen"] for v in with_text["variants"]) == 1
    assert with_text["retention_strategies"] in ([], ["text_followup"])


def test_text_follow_up_raises_returns_and_pays_for_its_texts(with_text):
    none, text = (next(v for v in with_text["variants"] if v["strategies"] == s)
                  for s in ([], ["text_followup"]))
    assert text["check"]["returned_m12"]["ips"] > none["check"]["returned_m12"]["ips"]
    assert "levers searched one variant at a time" in design_table(with_text)


def test_the_strategy_costs_appear_in_the_budget():
    from trialsim.experiments.design_variants import strategy_changes
    from trialsim.inputs.compose import with_changes
    from trialsim.inputs.params import build_params

    cfg = make_cfg(*SMALL)
    params = build_params(with_changes(cfg, strategy_changes(cfg, ("text_followup",
                                                                   "interim_contact"))))
    assert params.follow_up.text_followup is not None and 9.0 in params.follow_up.months
    off = build_params(with_changes(cfg, strategy_changes(cfg, ())))
    assert off.follow_up.text_followup is None and off.follow_up.months == (3.0, 6.0, 12.0)


def test_a_site_kind_list_searches_each_kind():
    both = _search("design.site_kind=[pain_services,gp_practices]", *NARROW)
    kinds = [v["site_kind"] for v in both["variants"]]
    assert kinds == ["pain_services", "gp_practices"]
    assert both["site_kind"] == next(v["site_kind"] for v in both["variants"] if v["chosen"])


@pytest.mark.parametrize(("arg", "named"), [
    ("design.retention_strategies=[[phone]]", "design.retention_strategies[0][0]='phone'"),
    ("design.retention_strategies=[text_followup]",
     "design.retention_strategies[0]='text_followup'"),
    ("design.retention_strategies=[]", "design.retention_strategies=[]"),
    ("design.retention_strategies=[[esw_completion]]", "design.retention_strategies[0]="),
    ("design.site_kind=[pain_services,hospitals]", "design.site_kind[1]='hospitals'"),
])
def test_bad_variant_levers_are_one_line_each(arg, named):
    lines = preflight(["mode=design", arg, "replications=3"], CONF_DIR)
    assert len(lines) == 1 and named in lines[0], lines
    assert "\n" not in lines[0]


def test_the_design_report_shows_each_variant(with_text):
    from trialsim.reporting.report_design import variant_blocks

    kind, header, rows = variant_blocks(with_text)[1]
    assert kind == "table" and len(rows) == 2
    assert sum(r[0].startswith("chosen: ") for r in rows) == 1
    assert {r[0].removeprefix("chosen: ") for r in rows} == {"retention none",
                                                            "retention text_followup"}
