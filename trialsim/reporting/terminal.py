"""A short plain-text result table for the terminal."""

from __future__ import annotations

from typing import Any

from trialsim.reporting import labels
from trialsim.reporting.labels import gbp
from trialsim.reporting.precision import FEW_TRIALS, too_few_words
from trialsim.reporting.progression_summary import (
    conditional_words,
    not_proposed_words,
    stop_rate_words,
)
from trialsim.reporting.retention_strategies import retention_lines


def _m(x: float | None) -> str:
    return "never" if x is None else f"{x:.1f}"


def result_table(summary: dict[str, Any]) -> str:
    r = summary["recruitment"]
    mt, rn = r["months_to_target"], r["randomised"]
    lines = [
        f"trialsim: scenario {summary['scenario']}, {summary['replications']} replications, "
        f"seed {summary['seed']}",
        f"  target {summary['target_n']} randomised within "
        f"{summary['recruitment_months']:g} months",
        f"  P(target reached)         {r['prob_target_by_end']:.3f} "
        f"(MC SE {r['prob_target_by_end_mc_se']:.3f}){_discounted(r)}",
        *_at_pilot_rates(r),
        f"  months to target          median {_m(mt['p50'])}  (10% {_m(mt['p10'])}, "
        f"90% {_m(mt['p90'])})",
        f"  randomised                mean {rn['mean']:.1f}  (10% {rn['p10']:.0f}, "
        f"90% {rn['p90']:.0f})",
        f"  allocation                IPS {summary['allocation']['ips']:.1f}, "
        f"TAU {summary['allocation']['tau']:.1f}",
        "  randomised by channel     "
        + ", ".join(f"{c} {v:.1f}" for c, v in r["by_channel"].items() if v > 0),
        "  funnel (mean)             "
        + " > ".join(f"{s} {v:.0f}" for s, v in r["funnel"].items()),
    ]
    if r.get("unscreened_channels"):
        lines.append("    no one lost at screening in " + ", ".join(r["unscreened_channels"])
                     + ": its evidence records none, so its rate counts recruits, not people "
                     "screened")
    d, e, ret, o = (summary["delivery"], summary["employment"], summary["retention"],
                    summary["outcome"])
    lines += [
        f"  ESW wait (days)           mean {_f(d['mean_wait_days'])}, p90 "
        f"{_f(d['p90_wait_days'])}; peak caseload {_f(d['max_caseload'])} (cap "
        f"{_f(d.get('caseload_cap'), 'g')}); joint ESW + OT appointment wait "
        f"{_f(d['ot_wait_days'])}",
        f"  in work at 12 months      IPS {_f(e['m12']['ips'], '.2f')}, "
        f"TAU {_f(e['m12']['tau'], '.2f')}; relative risk {_f(e['relative_risk_m12'], '.2f')}"
        f" (set {e['relative_risk_set']:g}), difference {_f(e['difference_m12'], '+.3f')}",
        "  questionnaires returned   "
        + "; ".join(f"{m} IPS {_f(ret['ips'][m], '.2f')} TAU {_f(ret['tau'][m], '.2f')}"
                    for m in ret["ips"]),
        f"  complete at 12 months     IPS {_f(o['complete_m12']['ips'])}, "
        f"TAU {_f(o['complete_m12']['tau'])}",
        f"  job started by 12 months  IPS {_f(e['ever_by_m12']['ips'], '.2f')}, "
        f"TAU {_f(e['ever_by_m12']['tau'], '.2f')}",
        f"  IPS received as intended  {_f(o['received_share'], '.2f')} of the IPS arm",
        f"  RTW-SE at 12 months       IPS {_f(o['rtw_se_m12']['ips'], '.2f')}, "
        f"TAU {_f(o['rtw_se_m12']['tau'], '.2f')} (true means); ITT effect "
        f"{_f(o['effect_itt'], '.2f')} (as received {o['effect_m12']:g}, assumed); "
        f"complier-average estimate {_f(summary['estimate'].get('cace_mean'), '.2f')}",
    ]
    pw, es, an, a = (summary["power"], summary["estimate"], summary["analysed"],
                     summary["analysis"])
    lines += [
        f"  {'analysed (' + a['primary'] + ')':<26}IPS {an['ips']:.1f}, TAU {an['tau']:.1f}; "
        f"if target reached IPS {_f(an['ips_if_target_reached'])}, "
        f"TAU {_f(an['tau_if_target_reached'])}",
        f"  power, primary {a['primary']:<10} {_f(pw['primary'], '.3f')} "
        f"(MC SE {_f(pw['primary_mc_se'], '.3f')}); if target reached "
        + (f"{_f(pw['primary_if_target_reached'], '.3f')} "
           f"(MC SE {_f(pw['primary_if_target_reached_mc_se'], '.3f')}, "
           f"{pw['replications_target_reached']} trials)"
           if pw['replications_target_reached'] >= FEW_TRIALS else
           too_few_words(pw['replications_target_reached'])),
        f"    bias {_f(es['bias'], '+.3f')}, CI coverage {_f(es['coverage'], '.3f')}; "
        f"not estimable {es['not_estimable']} (not converged {es['not_converged']})",
        f"  power, secondary {a['secondary']:<8} {_f(pw['secondary'], '.3f')} "
        f"(MC SE {_f(pw['secondary_mc_se'], '.3f')}); if target reached "
        + (f"{_f(pw['secondary_if_target_reached'], '.3f')}"
           if pw['replications_target_reached'] >= FEW_TRIALS else "n/a"),
    ]
    lines += cost_lines(summary)
    if "assurance" in summary:
        a = summary["assurance"]
        lines.append(f"  assurance (pilot)         primary {a['primary']:.3f}, recruitment "
                     f"{a['recruitment']:.3f}, joint {a['joint']:.3f} "
                     f"(MC SE {a['joint_mc_se']:.3f})")
    lines += retention_lines(summary)
    lines += progression_lines(summary)
    return "\n".join(lines)


def _oc(o: dict[str, Any]) -> str:
    return (f"P(stop | would succeed) {conditional_words(o['p_stop_if_success'])}, "
            f"P(go on | would fail) {conditional_words(o['p_go_if_failure'])}")


def progression_lines(summary: dict[str, Any]) -> list[str]:
    """The internal pilot's review: the lights, how often the rule is right, the
    proposed red lines and the amber plan."""
    pr = summary.get("progression")
    if not pr:
        return []
    lights = pr["lights"]
    lines = [f"  internal pilot review     month {pr['review_month']:.1f}, rule "
             f"{pr['overall_rule']}: "
             + "; ".join(f"{name} {v['green']:.2f}/{v['amber']:.2f}/{v['red']:.2f}"
                         for name, v in lights.items()) + " (green/amber/red)"]
    for name, label in (("target", "reaches N"), ("target_and_power", "N and p < alpha")):
        lines.append(f"    if success = {label:<16} {_oc(pr['operating'][name])}")
    a = pr.get("assurance")
    if a:
        lines.append(f"    assurance, {'N and p < alpha':<16} "
                     f"{_oc(a['operating']['target_and_power'])}")
    prop = pr.get("proposal")
    if prop:
        for name in ("recruitment", "retention"):
            q = prop[name]["target"]
            why = not_proposed_words(q, "target", prop["max_stop_if_success"],
                                     pr["thresholds"][name]["green"])
            if why is not None:
                lines.append(f"    proposed red line, {name:<11} none ({why})")
                continue
            lines.append(f"    proposed red line, {name:<11} {q['red']:.2f} (stops "
                         f"{stop_rate_words(q, 'p_stop_if_success')} of trials reaching N, "
                         f"{stop_rate_words(q, 'p_stop_if_failure')} of those missing it; "
                         f"{q['successes']} reach N"
                         + ("" if q["discriminates"] else "; no better than chance") + ")")
    for label, section in (("amber plan", pr), ("  assurance", a or {})):
        plan = section.get("amber_plan")
        if plan:
            t, w = plan["prob_target"], plan["power_primary"]
            lines.append(f"    {label} ({plan['applied']} trials) P(target) "
                         f"{t['without_plan']:.3f} -> {t['with_plan']:.3f}, power "
                         f"{w['without_plan']:.3f} -> {w['with_plan']:.3f} (same seeds)")
    return lines

def cost_lines(summary: dict[str, Any]) -> list[str]:
    """Expected cost with its 90% interval, per randomised participant, the three
    largest budget lines and the ESW paid-place utilisation (summary.json `costs`)."""
    c = summary.get("costs")
    if not c:
        return []
    t = c["total"]
    top = sorted(c["lines"].values(), key=lambda v: -(v["mean"] or 0.0))[:3]
    return [
        f"  cost (GBP)                mean {gbp(t['mean'])} (90% {gbp(t['p5'])} to "
        f"{gbp(t['p95'])}); per randomised {gbp(c.get('per_randomised_of_means'))} "
        f"(mean cost / mean randomised); {labels.UTILISATION} "
        f"{_f(c.get('utilisation'), '.2f')} ({labels.UTILISATION_HOW})",
        "    largest lines           " + "; ".join(f"{v['label']} {gbp(v['mean'])}"
                                                  for v in top),
        *([f"    research / IPS delivery {gbp(c['research']['mean'])} / "
           f"{gbp(c['intervention']['mean'])} (IPS delivery: the ESW posts and the OT, "
           "an intervention cost apart from the research grant's)"]
          if c.get("intervention") else []),
    ]


def _discounted(r: dict[str, Any]) -> str:
    """Whose rates the headline P(target) is at: new sites' (the discounts) or the pilot's."""
    d = r.get("rate_discount") or {}
    if all(v == 1.0 for v in d.values()):
        return ", at the pilot's rates" if d else ""
    return ", new sites at " + ", ".join(f"{v:g} x the pilot's rate ({k})"
                                          for k, v in d.items())


def _at_pilot_rates(r: dict[str, Any]) -> list[str]:
    d = r.get("rate_discount") or {}
    if r.get("prob_target_at_pilot_rates") is None or all(v == 1.0 for v in d.values()):
        return []
    return [f"    at the pilot's rates      {r['prob_target_at_pilot_rates']:.3f} "
            f"(MC SE {r['prob_target_at_pilot_rates_mc_se']:.3f}; same seeds)"]


def _f(x: float | None, fmt: str = ".1f") -> str:
    return "n/a" if x is None else format(x, fmt)
