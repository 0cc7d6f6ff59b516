"""The design block's new keys refused one line at a time; `mode=curve`; the power curve
figure and the design report drawn from design.json."""

from __future__ import annotations

import json
import subprocess
import sys

import matplotlib.image as mpimg
import pytest
from conftest import CONF_DIR, ROOT, make_cfg

from trialsim.app import run
from trialsim.cli import preflight
from trialsim.experiments.curve import run_curve
from trialsim.inputs.design_settings import participant_replications
from trialsim.reporting.figures.power import power_figure
from trialsim.reporting.report import design_report
from trialsim.reporting.rundir import RunDir

BAD_DESIGN = [
    (["design.criterion=bayes"], "design.criterion='bayes'"),
    (["mode=design", "design.criterion=assurance"], "design.criterion='assurance'"),
    (["design.screen_replications=-1"], "design.screen_replications=-1"),
    (["design.check_replications=10"], "design.check_replications=10"),
    (["design.curve_esw_per_locality=[0]"], "design.curve_esw_per_locality[0]=0"),
    (["design.curve_esw_per_locality=[]"], "design.curve_esw_per_locality=[]"),
    (["mode=curves"], "mode='curves'"),
    (["design.check_sensitivity=0.5"], "design.check_sensitivity=0.5"),
    (["mode=design", "design.check_sensitivity=[[outcome.esw_icc,1.5]]"],
     "design.check_sensitivity[0]=['outcome.esw_icc', 1.5]"),
    (["design.check_sensitivity=[[trial.target_n,500]]"],
     "design.check_sensitivity[0]=['trial.target_n', 500]"),
    (["design.check_sensitivity=[[outcome.no_such_key,1]]"],
     "design.check_sensitivity[0]=['outcome.no_such_key', 1]"),
    (["design.max_esw_per_locality=1001"], "design.max_esw_per_locality=1001"),
    (["scenario=pilot", "mode=design"], "design.site_kind='pain_services'"),  # listed openings
]


@pytest.mark.parametrize(("args", "named"), BAD_DESIGN)
def test_bad_design_values_are_one_line_each(args, named):
    lines = preflight([*args, "replications=3"], CONF_DIR)
    assert len(lines) == 1 and named in lines[0], lines
    assert "is not allowed" in lines[0] and "\n" not in lines[0]


def test_assurance_with_uncertainty_is_accepted_and_power_in_a_plain_run():
    assert preflight(["mode=design", "design.criterion=assurance", "uncertainty.mode=pilot"],
                     CONF_DIR) == []
    # a plain run does not use the criterion: no error without uncertainty either
    assert preflight(["design.criterion=assurance"], CONF_DIR) == []


def test_a_bad_criterion_exits_2_with_one_line_and_no_output(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "simulate.py"), "mode=design",
                           "design.criterion=assurance", f"hydra.run.dir={tmp_path / 'run'}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trialsim: error: design.criterion=")
    assert "uncertainty.mode=pilot" in lines[0] and not (tmp_path / "run").exists()


def test_mode_curve_runs_from_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "simulate.py"), *CURVE[:-1],
                           "replications=10", "design.curve_esw_per_locality=[2]",
                           "design.n_stop=80", f"hydra.run.dir={tmp_path / 'run'}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("trialsim power curve: scenario pain_services")
    assert (tmp_path / "run" / "design.json").is_file()
    assert (tmp_path / "run" / "power_curve.png").is_file()


def test_the_work_estimate_counts_a_search_and_a_curve():
    design = participant_replications(make_cfg("mode=design"), 300)
    curve = participant_replications(make_cfg("mode=curve"), 300)
    assert 1e6 < design < 2e7 and 1e6 < curve < design  # both allowed at the default limit


# --- mode=curve ------------------------------------------------------------------------

CURVE = ("mode=curve", "replications=30", "trial.localities=2",
         "sites.pain_services.count=6", "sites.pain_services.opening.interval_months=0.5",
         "trial.recruitment_months=12", "outcome.effect_m12=2.0", "outcome.ips_sds=null",
         "design.n_start=40", "design.n_stop=120", "design.n_step=40",
         "design.curve_esw_per_locality=[1,3]", "output.report=true")


@pytest.fixture(scope="module")
def curve_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("curve")
    result = run_curve(make_cfg(*CURVE), out)
    return out, result


def test_the_curve_covers_its_grid_and_its_recruitment_equals_a_plain_run(curve_dir):
    out, result = curve_dir
    ev = result["evaluations"]
    assert [(e["target_n"], e["esw_per_locality"]) for e in ev] == [
        (n, e) for e in (1, 3) for n in (40, 80, 120)]
    assert all(0 <= e["power"] <= 1 and e["power_mc_se"] >= 0 for e in ev)
    # P(target within the window) read off the unconstrained runs equals a plain run
    # with that target and window, replication by replication (same seed)
    plain = run(make_cfg(*CURVE[1:], "mode=run", "trial.target_n=120",
                         "delivery.esw.per_locality=1", "output.charts=false",
                         "output.report=false"), None)
    curve_pt = next(e["prob_target"] for e in ev if e["target_n"] == 120
                    and e["esw_per_locality"] == 1)
    assert curve_pt == plain["recruitment"]["prob_target_by_end"]
    assert json.loads((out / "design.json").read_text())["mode"] == "curve"


def test_the_curve_is_drawn_and_reported(curve_dir):
    out, result = curve_dir
    h, w = mpimg.imread(out / "power_curve.png").shape[:2]
    assert w >= 1250 and h > 600  # two panels side by side at the text width, 200 dpi
    text = (out / "report.md").read_text()
    for e in result["evaluations"]:
        assert f"{e['power']:.3f} (MC SE {e['power_mc_se']:.3f})" in text


# --- the design search's figure and report from design.json ------------------------------

def _design_json(assurance: bool = False) -> dict:
    ev = []
    for e, rows in ((3, ((200, 0.95, True), (160, 0.85, False))),
                    (2, ((200, 0.88, False), (240, 0.93, True)))):
        for n, p, ok in rows:
            rec = {"step": "power", "target_n": n, "esw_per_locality": e, "sites": 6,
                   "months": None, "replications": 100, "power": p, "power_mc_se": 0.02,
                   "goal": "power", "passes": ok, "screened_out": False}
            if assurance:
                rec.update(assurance=p - 0.1, assurance_mc_se=0.03)
            ev.append(rec)
    ev.append({"step": "sites", "target_n": 200, "esw_per_locality": None, "sites": 8,
               "months": 12.0, "replications": 100, "prob_target": 0.86,
               "prob_target_mc_se": 0.03, "goal": "prob_target", "passes": True,
               "screened_out": False})
    rec = {"target_n": 200, "esw_per_locality": 3, "esws": 6, "sites": 8, "months": 12.0,
           "power": 0.95, "power_mc_se": 0.02, "prob_target": 0.86,
           "prob_target_mc_se": 0.03, "wait_days": 1.5, "wait_mc_se": 0.2,
           "service_months": 70.0, "esw_months": 120.0, "recruiting_months": 11.0,
           "localities": 2}
    return {
        "mode": "design", "scenario": "pain_services", "replications": 100,
        "screen_replications": 20, "seed": 1, "criterion": "power",
        "site_kind": "pain_services", "localities": 2,
        "goals": {"criterion": "power", "target_power": 0.9, "prob_target": 0.8,
                  "max_wait_days": 28, "wait_statistic": "mean", "confidence_z": 1.645},
        "rule": "smallest N, then fewest ESW-months, then fewest service-months",
        "n_grid": [120, 160, 200, 240, 280], "esw_grid": [1, 2, 3],
        "target_n": 200,
        "frontier": [{"esw_per_locality": 3, "esws": 6, "target_n": 200, "searched": True,
                      "power": 0.95, "power_mc_se": 0.02},
                     {"esw_per_locality": 2, "esws": 4, "target_n": 240, "searched": True,
                      "power": 0.93, "power_mc_se": 0.02},
                     {"esw_per_locality": 1, "esws": 2, "target_n": None, "searched": True,
                      "best": 0.5, "best_n": 400}],
        "designs": [{**rec, "rank": 1, "replications": 100, "wait_ok": True,
                     "feasible": True}],
        "recommended": rec,
        "check": {"seed": 99, "replications": 100, "power": 0.93, "power_mc_se": 0.025,
                  "power_if_target_reached": 0.95, "power_if_target_reached_mc_se": 0.02,
                  "prob_target": 0.84, "prob_target_mc_se": 0.04, "wait_days": 1.4,
                  "wait_mc_se": 0.2, "meets": {"power": True, "prob_target": True,
                                               "wait": True},
                  "confirmed": {"power": True, "prob_target": True, "wait": True}},
        "binding": None,
        "recruitment_curves": [{"target_n": 200, "sites": s, "months": m,
                                "prob_target": p, "prob_target_mc_se": 0.04,
                                "replications": 100}
                               for s, m, p in ((6, 12.0, 0.6), (8, 12.0, 0.86),
                                               (6, 18.0, 0.9), (8, 18.0, 0.97))],
        "work": {"runs": 9, "replications": 700, "participants": 140000},
        "evaluations": ev,
    }


@pytest.mark.parametrize("assurance", [False, True])
def test_the_power_curve_has_a_panel_per_quantity_and_marks_the_goal(tmp_path, assurance):
    (tmp_path / "design.json").write_text(json.dumps(_design_json(assurance)))
    made = power_figure(RunDir(tmp_path), tmp_path)
    h, w = mpimg.imread(made[0]).shape[:2]
    panels = 4 if assurance else 3  # power (+ assurance), N against ESWs, sites
    rows = -(-panels // 2)  # two panels a row at the A4 text width (6.3 in at 200 dpi)
    assert w >= 1250 and h > 600 * rows and made[1].stat().st_size > 20_000


def test_the_design_report_has_the_numbers_of_design_json(tmp_path):
    d = _design_json()
    (tmp_path / "design.json").write_text(json.dumps(d))
    title, blocks = design_report(RunDir(tmp_path))
    text = json.dumps(blocks)
    rec, check = d["recommended"], d["check"]
    assert title.endswith(": N 200 through 8 pain services over 12 months, 3 ESWs per locality")
    assert "Randomise 200 participants (100 per arm) through 8 pain services over 12 months" \
        in text and "3 ESW(s) in each of 2 localities" in text
    for x, se in ((rec["power"], rec["power_mc_se"]), (check["power"], check["power_mc_se"]),
                  (check["prob_target"], check["prob_target_mc_se"])):
        assert f"{x:.3f} (MC SE {se:.3f})" in text
    assert "Check run (100 trials, a fresh seed): confirmed: every estimate meets its goal" \
        in text
    assert "gives 95% power (Monte Carlo SE 0.020, a check run of 100 trials" in text
    assert "none in the grid" in text and d["rule"] in text


def test_the_design_reports_assumptions_give_each_searched_keys_recommended_value():
    """The assumptions table of a design report shows the recommended design for the
    keys the search varied (a panel would otherwise read the scenario's 300 participants
    and 24 months as the design recommended), FTE and ratio only where several were
    searched; nothing without a recommendation."""
    from trialsim.reporting.report_design import searched_values
    from trialsim.reporting.report_parameters import Row, _searched

    d = _design_json()
    d["recommended"].update(fte=0.5, allocation_ratio="1:1")
    d.update(esw_fte=[0.5, 1.0], allocation_ratios=["1:1"])
    values = searched_values(d)
    assert values == {"trial.target_n": 200, "trial.recruitment_months": 12.0,
                      "sites.pain_services.count": 8, "delivery.esw.per_locality": 3,
                      "delivery.esw.fte": 0.5}
    row = Row("trial.target_n", "Target sample size", "300 participants", "s")
    assert _searched(row, values) == ("200 participants recommended (set by the search; "
                                      "configured 300 participants)")
    staffed = searched_values({**d, "recommended": {**d["recommended"], "ot_count": 2,
                                                    "ot_note": "overbooked"}})
    assert staffed["delivery.ot.count"] == 2  # the OTs staffed to demand
    assert _searched(Row("trial.localities", "Localities", "2", "s"), values) == "2"
    assert searched_values({**d, "recommended": None}) == {}


def _design_dir(tmp_path, d):
    """A design directory with the scenario's description and two source notes, one
    stating the scenario's ESW count ("one ESW each")."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "design.json").write_text(json.dumps(d))
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text(
        "description: 'Pain services: 16 services, 24 months, target 300.'\n"
        "trial: {target_n: 300, localities: 2}\ndelivery: {esw: {per_locality: 1}}\n")
    (tmp_path / "parameter_sources.csv").write_text(
        "key,value,source\n"
        'trial.localities,2,"scenario: two ESW localities, one ESW each '
        '(delivery.esw.per_locality)"\n'
        'trial.target_n,300,"planning assumption"\n')
    return RunDir(tmp_path)


def test_the_design_report_opens_with_the_recommendation_not_the_scenarios_settings(
        tmp_path):
    """The scenario's description names its own N, sites and months: the report opens
    with the recommendation and gives the description as the starting point replaced."""
    d = _design_json()
    blocks = design_report(_design_dir(tmp_path, d))[1]
    assert blocks[0] == ("p", "Recommended: 200 participants (100 per arm) through 8 pain "
                              "services over 12 months, with 3 ESW(s) in each of 2 "
                              "localities. The search started from the scenario's settings "
                              '("Pain services: 16 services, 24 months, target 300") and '
                              "replaced its target sample size (randomised), recruitment "
                              "window, pain services taking part and employment support "
                              "workers (ESWs) per locality with the recommended design's; "
                              "the other settings are the scenario's.")
    none = design_report(_design_dir(tmp_path / "none", {**d, "recommended": None}))[1]
    assert none[0][1] == ("No design in the grid meets every goal. The search started from "
                          "the scenario's settings (\"Pain services: 16 services, 24 months, "
                          "target 300\").")


def test_the_design_reports_source_notes_give_the_searched_value(tmp_path):
    """A note cited by a searched key, or naming one, describes the scenario's setting
    ("one ESW each"): it says so and gives the recommended design's value; others stand."""
    from trialsim.reporting.report_parameters import searched_note

    text = json.dumps(design_report(_design_dir(tmp_path, _design_json()))[1])
    assert ("scenario file: two ESW localities, one ESW each (delivery.esw.per_locality) "
            "(the scenario's setting; the recommended design's, set by the search: "
            "employment support workers (ESWs) per locality 3)") in text
    assert ("planning assumption (the scenario's setting; the recommended design's, set by "
            "the search: target sample size (randomised) 200 participants)") in text
    assert searched_note("planning assumption", ["trial.localities"],
                         {"trial.target_n": 200}) == "planning assumption"


def test_the_sample_size_paragraph_gives_the_chance_of_a_completed_positive_trial(
        tmp_path):
    """From the check run's internal pilot block: P(reach N and the primary rejects),
    counting the trials that stop short, with its MC SE; nothing without the block."""
    d = _design_json()
    plain = json.dumps(design_report(_design_dir(tmp_path / "plain", d))[1])
    assert "completed, positive trial" not in plain
    d["check"]["progression"] = {
        "review_month": 4.0,
        "lights": {"overall": {"green": 0.3, "amber": 0.6, "red": 0.1}},
        "operating": {"target_and_power": {
            "p_success": 0.799, "p_stop_if_success": {"estimate": 0.09, "mc_se": 0.01},
            "p_go_if_failure": {"estimate": 0.86, "mc_se": 0.02}}}}
    blocks = design_report(_design_dir(tmp_path / "pilot", d))[1]
    quote = next(b[1] for b in blocks if b[0] == "quote")
    se = (0.799 * 0.201 / 100) ** 0.5
    assert quote.startswith("A total of 200 participants (100 per arm) gives 95% power")
    assert quote.endswith("The chance of a completed, positive trial, one that reaches 200 "
                          "within the window and whose primary analysis rejects, is 0.799 "
                          f"in the check run (MC SE {se:.3f}).")


def test_the_design_reports_effect_is_the_assumed_one_and_the_itt_the_check_ran():
    """The sample-size paragraph's effect: the assumed as-received difference, the SDs
    and, from the check run, the intention-to-treat effect the power is for and the share
    receiving IPS as intended it rests on."""
    from trialsim.reporting.report_design import _rtw_se_words

    text = _rtw_se_words(1.0, {"effect_itt": 0.853, "received_share": 0.815},
                         "SD 2.2 TAU, 2.7 IPS")
    assert text.startswith("return-to-work self-efficacy (0-10) at 12 months (SD 2.2 TAU, "
                           "2.7 IPS), an assumed difference of 1 point among those who")
    assert "0.85 points over the whole IPS arm" in text and "82% of the IPS arm" in text
    assert "less over the whole IPS arm" in _rtw_se_words(1.0, None, None)


def test_the_check_verdict_names_each_goal_by_how_it_was_met():
    from trialsim.reporting.report import check_verdict

    ok = {"power": True, "prob_target": True, "wait": True}
    assert check_verdict({"meets": ok, "confirmed": ok}).startswith("confirmed")
    near = check_verdict({"meets": ok, "confirmed": {**ok, "power": False}})
    assert near.startswith("not confirmed: power below the goal, within Monte Carlo error")
    far = check_verdict({"meets": {**ok, "prob_target": False},
                         "confirmed": {**ok, "prob_target": False}})
    assert far == "misses, beyond Monte Carlo error: prob_target"


def test_the_design_report_gives_the_recommendations_notes_and_checks(tmp_path):
    """What the terminal adds to the recommendation reaches the report: the fitted sites
    with their interval, the notes and the check again with one input changed."""
    d = _design_json()
    d["recommended"].update(ot_note="the joint ESW + OT appointments ask for 1.04 of the "
                            "OT sessions", edge="the recommendation is at the edge of the "
                            "search, 12 of at most 12 months (design.months)")
    d["sites_by_months"] = [{"target_n": 200, "months": 12.0, "sites": 8, "fitted_sites": 7.3,
                             "fitted_sites_lower": 6.8, "fitted_sites_upper": None,
                             "fitted_sites_bound": 7.9, "fitted_points": 3}]
    d["check"]["sensitivity"] = [{"key": "outcome.effect_m12", "value": 0.75,
                                  "replications": 100, "power": 0.71, "power_mc_se": 0.05,
                                  "prob_target": 0.8, "prob_target_mc_se": 0.04}]
    (tmp_path / "design.json").write_text(json.dumps(d))
    text = json.dumps(design_report(RunDir(tmp_path))[1])
    assert "Pain services needed for P(target) >= 0.8: 7.3" in text
    assert "6.8 to outside the grid" in text and "8 by the grid rule" in text
    assert "Note: The joint ESW + OT appointments ask for 1.04" in text
    assert "Note: The recommendation is at the edge of the search" in text
    assert "with outcome.effect_m12 0.75 (100 trials on the check's seeds)" in text
    assert "power 0.71 (MC SE 0.05); P(target) 0.80 (MC SE 0.04)" in text


def test_a_sensitivity_key_is_refused_for_itself_not_for_a_bad_key_elsewhere():
    """A bad key elsewhere is named once, by itself, not against every sensitivity pair;
    the searched kind's count, a unit cost and (searching on power) an assurance draw
    are refused as sensitivities."""
    lines = preflight(["mode=design", "outcome.esw_icc=2", "replications=3"], CONF_DIR)
    assert len(lines) == 1 and lines[0].startswith("outcome.esw_icc=2"), lines
    for pair, why in (("[sites.pain_services.count,10]", "levers"),
                      ("[costs.pack,2]", "unit cost"),
                      ("[uncertainty.effect_prior_sd,1]", "assurance")):
        lines = preflight(["mode=design", f"design.check_sensitivity=[{pair}]",
                           "replications=3"], CONF_DIR)
        assert len(lines) == 1 and why in lines[0], lines
