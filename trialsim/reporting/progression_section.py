"""The report's internal-pilot section: the progression criteria as a funding
application gives them (criterion, green / amber / red thresholds, the probability of
each), how often the rule is right, the proposed red lines and the amber plan.

`progression_blocks(run)` returns report blocks (trialsim.reporting.report's Block
tuples) so that the section can be placed in any template. Its figures are drawn with
the run's other figures (trialsim.reporting.report_figures.figure_jobs, charts on); the
section shows those that were drawn.
"""

from __future__ import annotations

from typing import Any

from trialsim.reporting import keys
from trialsim.reporting.figures.progression import REVIEW_FILE, TRADE_OFF_FILE
from trialsim.reporting.precision import FEW_TRIALS
from trialsim.reporting.progression_summary import (
    conditional_words,
    not_proposed_words,
    stop_rate_words,
)
from trialsim.reporting.rundir import RunDir

Block = tuple
WHAT = {
    "recruitment": "randomised by the review, as a share of the plan",
    "sites": "sites open by the review, as a share of the plan",
    "retention": "questionnaires returned at the latest wave due (lower arm)",
    "retention_planned": "questionnaires returned by the review, every wave due, as a share "
                         "of the returns the sample size assumes (lower arm)",
    "adherence": "IPS participants seen by an ESW and engaged",
}
OUTCOME_WORDS = {"target": "reaches N in the window",
                 "target_and_power": "reaches N and the primary rejects"}


def _p(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def criteria_table(pr: dict[str, Any]) -> Block:
    rows = []
    planned = pr.get("retention_relative_to") == "planned"
    for name, t in pr["thresholds"].items():
        light = pr["lights"].get(name)
        what = WHAT["retention_planned"] if name == "retention" and planned else \
            WHAT.get(name, name)
        rows.append([
            f"{name}: {what}" + ("" if light else " (not read by the rule)")
            + (f" (no data, left out: {_p(light['no_data'])})"
               if light and "no_data" in light else ""),
            f">= {_pct(t['green'])}", f"{_pct(t['red'])} to < {_pct(t['green'])}",
            f"< {_pct(t['red'])}",
            *([_p(light[c]) for c in ("green", "amber", "red")] if light else ["", "", ""]),
        ])
    o = pr["lights"][keys.OVERALL]
    rule = ("red if any criterion is red, green if all are green, amber otherwise"
            if pr["overall_rule"] == "any_red" else
            "red only if every criterion is red, green if all are green, amber otherwise")
    rows.append([f"overall ({rule})", "", "", "", _p(o["green"]), _p(o["amber"]),
                 _p(o["red"])])
    return ("table", ["criterion", "green (go)", "amber (act)", "red (stop)", "P(green)",
                      "P(amber)", "P(red)"], rows)


def operating_table(pr: dict[str, Any]) -> Block:
    rows = []
    for label, section in (("point estimates", pr), ("assurance", pr.get("assurance"))):
        if not section:
            continue
        for name, o in section["operating"].items():
            rows.append([label, OUTCOME_WORDS[name], _p(o["p_success"]),
                         conditional_words(o["p_stop_if_success"]),
                         conditional_words(o["p_go_if_failure"])])
    return ("table", ["parameters", "success: the trial", "P(success)",
                      "P(stop given would succeed)", "P(go on given would fail)"], rows)


def proposal_blocks(pr: dict[str, Any]) -> list[Block]:
    """The red lines proposed, and for each criterion and success without one, why
    (trialsim.reporting.progression_summary.propose decides; its words)."""
    prop = pr.get("proposal")
    if not prop:
        return []
    rows, why = [], []
    for name in ("recruitment", "retention"):
        for outcome, q in prop[name].items():
            words = not_proposed_words(q, outcome, prop["max_stop_if_success"],
                                       pr["thresholds"][name]["green"])
            if words is not None:
                why.append(f"{name}, success: the trial {OUTCOME_WORDS[outcome]}: no red line "
                           f"proposed: {words}.")
                continue
            rows.append([name, OUTCOME_WORDS[outcome], f"{q['red']:.2f}",
                         stop_rate_words(q, "p_stop_if_success"),
                         stop_rate_words(q, "p_stop_if_failure"),
                         str(q["successes"]), "yes" if q["discriminates"] else "no"])
    few = prop.get("min_trials", FEW_TRIALS)
    blocks: list[Block] = [
        ("p", "Red lines a planner can defend: the highest line that stops at most "
              f"{prop['max_stop_if_success']:g} of the trials that would succeed, which then "
              "stops as many failing trials as any such line. None is proposed from fewer "
              f"than {few} succeeding or {few} failing simulated trials, nor at or above its "
              "green line.")]
    if rows:
        blocks.append(("table", ["criterion", "success", "proposed red line",
                                 "P(stop given success)", "P(stop given failure)",
                                 "succeeding trials",
                                 "stops more failing than succeeding trials"], rows))
    if why:
        blocks.append(("ul", why))
    return blocks


def plan_blocks(pr: dict[str, Any]) -> list[Block]:
    plan = pr.get("amber_plan")
    if not plan:
        return []
    what = []
    if plan["extra_sites"]:
        what.append(f"open {plan['extra_sites']} more sites"
                    + (f" ({plan['site_kind']})" if plan["site_kind"] else ""))
    if plan["retention"]:
        what.append(f"switch on {plan['retention']}")
    rows = []
    for tag, section in (("", plan), (", assurance", (pr.get("assurance") or {})
                                      .get("amber_plan"))):
        if not section:
            continue
        rows += [[label + tag, _p(section[k]["without_plan"]), _p(section[k]["with_plan"]),
                  f"{section[k]['difference']:+.3f} "
                  f"(MC SE {_p(section[k]['difference_mc_se'])})"]
                 for label, k in (("P(target reached)", "prob_target"),
                                  ("power, primary", "power_primary"))]
    return [("p", f"At amber the trial would {' and '.join(what)} from the review day on "
                  f"({plan['applied']} of the replications were amber). The same replications "
                  "with and without the plan (common random numbers)."),
            ("table", ["quantity", "without the plan", "with the plan", "difference"], rows)]


def progression_blocks(run: RunDir) -> list[Block]:
    pr = keys.get(run.summary, "progression")
    if not pr:
        return []
    planned = pr.get("planned_randomised")
    blocks: list[Block] = [
        ("h", 2, "Internal pilot: progression criteria"),
        ("p", f"The steering committee reviews the trial at month {pr['review_month']:.1f} "
              f"(plan by then: {planned:.0f} randomised, {pr.get('planned_sites', 0):.0f} "
              "sites open), from what it can see that day. Each criterion's probability is "
              "the share of simulated trials given that light." if planned is not None else
              f"The steering committee reviews the trial at month {pr['review_month']:.1f}."),
        criteria_table(pr),
        ("p", "How often the rule is right about the trial it reviews (stop: red overall)."),
        operating_table(pr),
        *proposal_blocks(pr),
        *plan_blocks(pr),
    ]
    for name, title in ((REVIEW_FILE, "Review-month statistics on the threshold bands"),
                        (TRADE_OFF_FILE, "Red-line trade-off")):
        if run.has(name):
            blocks.append(("fig", name, title))
    return blocks
