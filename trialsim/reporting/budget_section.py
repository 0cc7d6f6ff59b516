"""The report's budget: a table by trial year as a grant application gives it, each
budget line with its 90% interval, cost per participant by recruitment channel, and (a
design search) the recommendation's cost beside the smallest-N rule's and the cost-power
frontier. Built from summary.json's `costs` or design.json's check run; returns the
report's blocks (trialsim.reporting.report.Block)."""

from __future__ import annotations

from typing import Any

from trialsim.reporting import labels
from trialsim.reporting.labels import gbp
from trialsim.reporting.report_blocks import with_se
from trialsim.reporting.rundir import RunDir


def _interval(v: dict[str, Any]) -> str:
    return f"{gbp(v.get('p5'))} to {gbp(v.get('p95'))}"


def cost_blocks(c: dict[str, Any], whose: str) -> list[tuple]:
    """The budget tables of one `costs` summary (trialsim.analysis.costs.cost_summary)."""
    years = c.get("years", [])
    heads = c.get("headings", {})
    rows = [[heads.get(h, h), *[gbp(v) for v in c["by_year"][h]], gbp(sum(c["by_year"][h]))]
            for h in heads if sum(c["by_year"].get(h, [0.0])) > 0]
    totals = [sum(c["by_year"][h][k] for h in heads) for k in range(len(years))]
    rows.append(["Total", *[gbp(v) for v in totals], gbp(sum(totals))])
    t, per = c["total"], c["per_randomised"]
    blocks: list[tuple] = [
        ("p", f"Expected cost of {whose}: GBP {gbp(t['mean'])} (90% of simulated trials "
              f"from {_interval(t)}), GBP {gbp(c.get('per_randomised_of_means'))} per "
              "randomised participant (the mean cost divided by the mean number "
              "randomised; each trial's own cost divided by its number randomised is "
              f"another quantity: mean GBP {gbp(per['mean'])}, 90% of trials "
              f"{_interval(per)}, as a trial's fixed costs fall on however many it "
              f"recruits); mean {labels.UTILISATION} "
              f"{c.get('utilisation') or 0:.2f} ({labels.UTILISATION_HOW}). Unit "
              "costs from costs.* (2023/24 prices; sources in conf/config.yaml and "
              "docs/guide/costs.md); means over simulated trials."
           + (f" Of this, GBP {gbp(c['research']['mean'])} are research costs and GBP "
              f"{gbp(c['intervention']['mean'])} IPS delivery (the ESW posts and the OT's "
              "joint appointments): an intervention cost, which a funder budgets apart "
              "(in the NHS under AcoRD as treatment or excess treatment costs, agreed "
              "with the commissioners, not paid by the research grant)."
              if c.get("intervention") else "")),
        ("table", ["budget heading (GBP)", *[f"year {k}" for k in years], "total"], rows),
        ("table", ["budget line", "unit cost (GBP)", "mean (GBP)", "90% interval"],
         [[v["label"], f"{v['unit_cost']:g}", gbp(v["mean"]), _interval(v)]
          for v in c["lines"].values() if (v["mean"] or 0) > 0]),
    ]
    chans = [[labels.channel(ch), gbp(v["cost"]), f"{v['randomised']:.1f}",
              gbp(v["per_randomised"])]
             for ch, v in c.get("by_channel", {}).items() if v["randomised"] > 0]
    if chans:
        blocks += [("p", "Recruitment cost by channel (mailshot packs, research-nurse days "
                         "and the coordinator's screening calls of the people it brought "
                         "forward), per participant it randomised:"),
                   ("table", ["channel", "cost (GBP)", "randomised", "per randomised (GBP)"],
                    chans)]
    return blocks


def _design_blocks(d: dict[str, Any]) -> list[tuple]:
    rec, check, rule = d.get("recommended"), d.get("check"), d.get("smallest_n_design")
    out: list[tuple] = []
    if rec is not None and rec.get("cost") is not None:
        text = (f"The recommended design (objective {d.get('objective')}) costs GBP "
                f"{gbp(rec['cost'])} in the search (90% {gbp(rec['cost_p5'])} to "
                f"{gbp(rec['cost_p95'])}), mean {labels.UTILISATION} "
                f"{rec.get('utilisation') or 0:.2f}, "
                f"peak caseload {rec.get('peak_caseload') or 0:.1f}.")
        if rule is not None and rule.get("cost") is not None:
            text += (f" The smallest-N rule's design (N {rule['target_n']}, {rule['esws']} "
                     f"ESWs at {rule.get('fte', 1.0):g} FTE against the recommendation's "
                     f"{rec.get('esws')} at {rec.get('fte', 1.0):g}, {rule['sites']} sites, "
                     f"{rule['months']:g} months) costs GBP "
                     f"{gbp(rule['cost'])} with the same seed (90% {gbp(rule['cost_p5'])} "
                     f"to {gbp(rule['cost_p95'])}), {labels.UTILISATION} "
                     f"{rule.get('utilisation') or 0:.2f}.")
        if rec.get("idle"):
            text += " Note: " + rec["idle"] + "."
        out.append(("p", text))
    front = [p for p in d.get("cost_frontier", []) if p.get("design")]
    if front:
        crit = d.get("criterion", "power")
        out += [("p", "Cost-power frontier: the cheapest design whose estimate clears each "
                      "level as the goals are cleared, by the one-sided Monte Carlo bound, "
                      "leaving out designs simulated in full that miss the wait goal or the "
                      "utilisation floor (simulated cost where simulated in full, else the "
                      "ranking cost, and then the wait is not checked). Only among the "
                      "designs the search simulated: it searched N for the goal, so below "
                      "it a smaller N it never simulated may be cheaper, and one design can "
                      "be the cheapest at several levels."),
                ("table", [f"{crit} at least", "N", "ESWs", "FTE", "sites", "months", crit,
                           "expected cost (GBP)", "wait and utilisation floor"],
                 [[f"{p['level']:g}", str(p["design"]["target_n"]), str(p["design"]["esws"]),
                   f"{p['design'].get('fte') or 1:g}", str(p["design"]["sites"]),
                   f"{p['design']['months']:g}",
                   with_se(p["design"].get(crit), p["design"].get(f"{crit}_mc_se")),
                   gbp(p["design"]["cost"] if p["design"].get("cost") is not None
                        else p["design"].get("ranking_cost")),
                   "met" if p["design"].get("feasible") else "not checked"] for p in front])]
    if check and check.get("costs"):
        out += cost_blocks(check["costs"], f"the recommendation's check run "
                                           f"({check['replications']} trials, seed "
                                           f"{check['seed']})")
    return out


def budget_blocks(run: RunDir) -> list[tuple]:
    """The budget section of a run's or a design search's report (empty if neither
    file has costs: a run from before costs were counted)."""
    s, d = run.summary, run.design
    if s is not None and s.get("costs"):
        body = cost_blocks(s["costs"], "the simulated trial")
    elif d is not None and ("recommended" in d or "check" in d):
        body = _design_blocks(d)
    else:
        body = []
    if run.has("cost_frontier.png"):
        body.append(("fig", "cost_frontier.png", "Design search: cost against power"))
    return [("h", 2, "Budget"), *body] if body else []
