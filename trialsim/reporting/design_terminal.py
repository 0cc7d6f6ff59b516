"""What the terminal prints of a design search (`mode=design`) and a power curve
(`mode=curve`), from the result written to design.json: the table a planner reads before
the figures and the report are drawn, and the check run's verdict in the report's words.
Nothing here draws or imports a figure module."""

from __future__ import annotations

import math
from typing import Any

from trialsim.reporting import labels
from trialsim.reporting.precision import FEW_TRIALS


def check_verdict(c: dict[str, Any]) -> str:
    """The check run's verdict in words: confirmed (every point estimate meets its goal),
    within Monte Carlo error of a goal it misses, or missing it beyond that."""
    below = [k for k, v in c.get("confirmed", c["meets"]).items() if not v]
    beyond = [k for k, v in c["meets"].items() if not v]
    if not below:
        return "confirmed: every estimate meets its goal"
    if not beyond:
        return ("not confirmed: " + ", ".join(below) + " below the goal, within Monte Carlo "
                "error of it (raise N a step, or design.check_replications to tell)")
    return "misses, beyond Monte Carlo error: " + ", ".join(beyond)


MAX_ROWS_SHOWN = 12  # designs listed in the terminal; design.json holds all


def _k(x: float | None) -> str:
    """Pounds in thousands."""
    return "n/a" if x is None else f"{x / 1000:,.0f}"


def _f(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def design_table(result: dict[str, Any]) -> str:
    """The design search's answer: goals, frontier, designs, recommendation and check."""
    g, crit = result["goals"], result["criterion"]
    lines = [f"trialsim design: scenario {result['scenario']}, {result['replications']} "
             f"replications per candidate (screened with {result['screen_replications']}), "
             f"seed {result['seed']}",
             f"  goals: {crit} >= {g['target_power']:g}, P(target) >= {g['prob_target']:g}, "
             f"{g['wait_statistic']} wait <= {g['max_wait_days']:g} days, each cleared by the "
             f"one-sided Monte Carlo bound (z {g['confidence_z']:.2f})",
             f"  smallest N with {crit} >= {g['target_power']:g} (window unconstrained, "
             f"{result['localities']} localities; N "
             + ("read off the fitted power curve" if result.get("pick_n") == "fitted"
                else "the first grid point clearing the goal") + "):"]
    ratios = result.get("allocation_ratios") or ["1:1"]
    for f in result["frontier"]:
        r = f.get("allocation_ratio")
        if len(ratios) > 1 and f["esw_per_locality"] == result["esw_grid"][-1]:
            lines.append(f"   IPS:TAU {r}:")
        head = f"    {f['esw_per_locality']:>3} ESW(s) per locality ({f['esws']} ESWs): "
        if f["target_n"] is not None:
            fit = ""
            if f.get("fitted_n") is not None:
                fit = (f"; fitted N {f['fitted_n']:.0f}, 95% {_f(f.get('fitted_n_lower'), 0)} "
                       f"to {_f(f.get('fitted_n_upper'), 0)}"
                       + (f"; grid rule N {f['grid_n']}" if f.get("grid_n") is not None
                          else ""))
            lines.append(head + f"N {f['target_n']} ({crit} {_f(f[crit], 3)}, MC SE "
                                f"{_f(f[crit + '_mc_se'], 3)}{fit})")
        elif f["searched"]:
            lines.append(head + f"none in the grid ({crit} {_f(f.get('best'))} at N "
                                f"{f.get('best_n')}, the largest tried"
                                + (f", {f['best_replications']} replications)"
                                   if f.get("best_replications") else ")"))
        elif f.get("beyond_recruitable") is not None:
            lines.append(head + "not searched (needs more N than "
                         f"{f['beyond_recruitable']}, the most any design in the grid "
                         "recruits)")
        else:
            lines.append(head + "none (fewer ESWs cannot do better)")
    if len({f["target_n"] for f in result["frontier"] if f["target_n"] is not None}) > 1:
        lines.append("    (sites and months are searched for each ESW count's N, the cheapest "
                     "design meeting every goal recommended; to cap ESWs, rerun with "
                     "design.max_esw_per_locality)" if result.get("objective") == "cost" else
                     "    (sites and months are searched for the smallest N, which the rule puts "
                     "first; to plan with fewer ESWs, rerun with design.max_esw_per_locality)")
    rows = result["designs"]
    if rows:
        at = ("each ESW count's smallest N" if result.get("objective") == "cost"
              else "the smallest N")
        lines.append(f"  designs at {at} meeting the {crit} and P(target) goals "
                     f"(fewest {result['site_kind']} per window), best first "
                     f"({result['rule']}; waits simulated down the list until one meets "
                     "its goal):")
        lines.append(f"    {'N':>5} {'ESW/loc':>7} {'FTE':>4} {'IPS:TAU':>7} {'sites':>5} "
                     f"{'months':>6} "
                     f"{crit[:5]:>6} {'P(tgt)':>6} {'wait d':>7} {'svc-mo':>7} {'ESW-mo':>7} "
                     f"{'rank k':>7} {'cost k':>7} {'util':>5}  feasible")
        shown = rows if len(rows) <= MAX_ROWS_SHOWN else [
            r for r in rows if r["feasible"] is not None] or rows[:MAX_ROWS_SHOWN]
        for r in shown:
            ok = {True: "yes", False: "no (" + ", ".join(
                w for w, bad in (("wait", not r.get("wait_ok", True)),
                                 ("utilisation", not r.get("utilisation_ok", True)))
                if bad) + ")" if r["feasible"] is False else "", None: "not simulated"}[
                    r["feasible"]].replace("no ()", "no (power)")
            lines.append(f"    {r['target_n']:>5} {r['esw_per_locality']:>7} "
                         f"{r.get('fte', 1.0):>4g} {r.get('allocation_ratio', '1:1'):>7} "
                         f"{r['sites']:>5} "
                         f"{r['months']:>6g} {_f(r[crit]):>6} {_f(r['prob_target']):>6} "
                         f"{_f(r['wait_days'], 1):>7} {r['service_months']:>7.0f} "
                         f"{r['esw_months']:>7.0f} {_k(r.get('ranking_cost')):>7} "
                         f"{_k(r.get('cost')):>7} {_f(r.get('utilisation')):>5}  {ok}")
        if len(shown) < len(rows):
            lines.append(f"    ... and {len(rows) - len(shown)} more not simulated "
                         "(design.json lists them)")
    rec = result["recommended"]
    if rec is not None:
        fte = rec.get("fte") or 1.0
        lines.append(f"  recommended: N {rec['target_n']}, {rec['esw_per_locality']} ESW(s) in "
                     f"each of {rec['localities']} localities"
                     + (f" at {fte:g} FTE" if fte != 1.0 else "")
                     + f", {rec['sites']} {result['site_kind']} for {rec['months']:g} months, "
                     f"allocated IPS:TAU {rec.get('allocation_ratio') or '1:1'}")
        fs = next((e for e in result.get("sites_by_months", ())
                   if e["target_n"] == rec["target_n"] and e["months"] == rec["months"]
                   and e.get("fitted_sites") is not None), None)
        if fs is not None:
            out = lambda x: "outside the grid" if x is None else f"{x:.1f}"  # noqa: E731
            lines.append(f"    {result['site_kind']} needed for P(target) >= "
                         f"{g['prob_target']:g}: {fs['fitted_sites']:.1f} on the fitted curve "
                         f"(95% {out(fs['fitted_sites_lower'])} to "
                         f"{out(fs['fitted_sites_upper'])}, clustered on the replication; "
                         f"one-sided bound {out(fs['fitted_sites_bound'])}; "
                         f"{fs['fitted_points']} site counts), {rec['sites']} by the grid rule")
        if rec.get("cost") is not None:
            lines.append(f"    expected cost {_cost_range(rec)}; search seed), mean "
                         f"{labels.UTILISATION} "
                         f"{_f(rec.get('utilisation'))}, peak caseload "
                         f"{_f(rec.get('peak_caseload'), 1)}")
        if rec.get("idle"):
            lines.append(f"    note: {rec['idle']}")
        if rec.get("ot_note"):
            lines.append(f"    note: {rec['ot_note']}")
        if rec.get("edge"):
            lines.append(f"    note: {rec['edge']}")
        rule = result.get("smallest_n_design")
        if rule is not None and rule.get("cost") is not None:
            lines.append(f"    the smallest-N rule's design (N {rule['target_n']}, {rule['esws']} "
                         f"ESWs at {rule.get('fte', 1.0):g} FTE, {rule['sites']} "
                         f"{result['site_kind']}, {rule['months']:g} "
                         f"months) costs {_cost_range(rule)}; same seed), {labels.UTILISATION} "
                         f"{_f(rule.get('utilisation'))}")
        c = result["check"]
        for a in result.get("check_attempts", [])[:-1]:
            lines.append(f"  check run at N {a['target_n']} ({a['esw_per_locality']} ESW/loc, "
                         f"{a.get('allocation_ratio') or '1:1'}): "
                         f"{crit} {_f(a['check'], 3)} (MC SE "
                         f"{_f(a['check_mc_se'], 3)}; search {_f(a['search'], 3)}) is below "
                         f"{g['target_power']:g}: the next N")
        lines.append(f"  check run (seed {c['seed']}, {c['replications']} replications): "
                     f"{crit} {_f(c[crit + '_of_n'], 3)} among trials that reached N (MC SE "
                     f"{_f(c[crit + '_of_n_mc_se'], 3)}; search {_f(rec[crit], 3)}; "
                     f"{_f(c[crit], 3)} counting trials that stop "
                     f"short), P(target) {_f(c['prob_target'], 3)} (MC SE "
                     f"{_f(c['prob_target_mc_se'], 3)}; search {_f(rec['prob_target'], 3)}), "
                     f"wait {_f(c['wait_days'], 1)} days: " + check_verdict(c))
        if c.get("cost") is not None:
            lines.append(f"    check run cost {_cost_range(c)}), {labels.UTILISATION} "
                         f"{_f(c.get('utilisation'))}, peak caseload "
                         f"{_f(c.get('peak_caseload'), 1)}")
        lines += check_lines(c)
        lines += sensitivity_lines(c)
    else:
        lines.append(f"  no design meets every goal: {result['binding']['message']}")
    lines += variant_lines(result)
    w = result["work"]
    lines.append(f"  simulated: {w['replications']} replications in {w['runs']} runs "
                 f"({w['participants']:,} participants)")
    return "\n".join(lines)


def _cost_range(d: dict[str, Any]) -> str:
    """A design's cost and the start of its 90% interval, '(90% lo to hi' (the caller
    adds what it says of the seed and closes it)."""
    return (f"GBP {labels.gbp(d['cost'])} (90% {labels.gbp(d['cost_p5'])} to "
            f"{labels.gbp(d['cost_p95'])}")


def joint_success(check: dict[str, Any] | None) -> tuple[float, float] | None:
    """P(the trial reaches N and the primary rejects) over every check trial, those that
    stop short included, with its MC SE: what a funder buys, which power among the trials
    reaching N leaves out. None where the check has no internal-pilot block to read it
    from."""
    op = ((check or {}).get("progression") or {}).get("operating") or {}
    p = (op.get("target_and_power") or {}).get("p_success")
    n = (check or {}).get("replications")
    if p is None or not n:
        return None
    return p, math.sqrt(p * (1 - p) / n)


def check_lines(check: dict[str, Any]) -> list[str]:
    """The terminal's lines for `delivery_and_review`'s figures."""
    out = []
    r, ot = check.get("returned_m12") or {}, check.get("ot_wait_days")
    if r.get("ips") is not None:
        out.append(f"    12-month questionnaires returned IPS {r['ips']:.2f}, TAU {r['tau']:.2f}; "
                   "joint ESW + OT appointment wait "
                   + (f"{ot:.1f} days" if ot is not None else "n/a"))
    tip = check.get("tipping") or {}
    if all(tip.get(a, {}).get("median") is not None for a in ("ips", "tau", "both")):
        out.append("    MNAR tipping point among trials that reject (median SD): IPS arm alone "
                   f"{tip['ips']['median']:.2f}, TAU arm alone {tip['tau']['median']:.2f}, "
                   f"both arms {tip['both']['median']:.2f}")
    pr = check.get("progression")
    if pr:
        o = pr["lights"]["overall"]
        op = pr["operating"]["target_and_power"]
        stop, go = op["p_stop_if_success"], op.get("p_go_if_failure") or {}
        est = lambda e: (f"{e['estimate']:.3f} (MC SE {e['mc_se']:.3f})"  # noqa: E731
                         if e.get("estimate") is not None else "n/a")
        joint = joint_success(check)
        if joint is not None:
            out.append(f"    a completed positive trial (reaches N and rejects): {joint[0]:.3f} "
                       f"(MC SE {joint[1]:.3f})")
        out.append(f"    internal pilot at month {pr['review_month']:.1f}: green {o['green']:.2f}, "
                   f"amber {o['amber']:.2f}, red {o['red']:.2f}; stops {est(stop)} of the "
                   f"trials that would reach N and reject, lets {est(go)} of the others go on")
    return out


def _with_change(row: dict[str, Any], name: str, label: str) -> str:
    """`label` estimate (MC SE), and its paired change from the unchanged trials where the
    row has one; n/a where too few trials reach N to quote it (reporting.precision)."""
    x = row.get(name)
    if x is None:
        return (f"{label} n/a ({row.get('reached', 0)} trials reach N; at least "
                f"{FEW_TRIALS} needed)")
    words = f"{label} {x:.2f} (MC SE {row[name + '_mc_se']:.2f})"
    change = row.get(name + "_change")
    if change is not None:
        words += f", change {change:+.2f} (MC SE {row[name + '_change_mc_se']:.2f})"
    return words


def sensitivity_words(row: dict[str, Any], crit: str) -> str:
    """A sensitivity row's criterion among trials reaching N (how many: a change that
    slows recruitment leaves few, and a high power among them is no comfort) and
    P(target), each with its change from the same seeds unchanged: the words the
    terminal and report share."""
    reached = row.get("reached")
    label = (crit if reached is None or row.get(crit) is None  # n/a says how many
             else f"{crit} among the {reached} reaching N")
    return (f"{_with_change(row, crit, label)}; "
            f"{_with_change(row, 'prob_target', 'P(target)')}")


def sensitivity_lines(check: dict[str, Any]) -> list[str]:
    """The terminal's lines for the check's sensitivity runs: the check's own first
    trials (nothing changed), then each change read against them, trial by trial."""
    rows = check.get("sensitivity") or []
    if not rows:
        return []
    crit = "assurance" if "assurance" in rows[0] else "power"
    base = check.get("sensitivity_unchanged")
    return [f"    one input changed (the check's first {rows[0]['replications']} seeds; "
            f"{crit} among trials reaching N; P(target); change from nothing changed, "
            "paired):"] + (
        [f"      nothing changed: {sensitivity_words(base, crit)}"] if base else []) + [
        f"      {r['key']} {r['value']:g}: {sensitivity_words(r, crit)}" for r in rows]


def variant_lines(result: dict[str, Any]) -> list[str]:
    """The terminal's comparison of the variants searched (none: no lines)."""
    vs = result.get("variants")
    if not vs:
        return []
    lines = ["  levers searched one variant at a time (same seed), the cheapest recommended:"]
    for v in vs:
        rec, c = v["recommended"], v["check"] or {}
        what = f"    {'*' if v['chosen'] else ' '} retention {v['label']}, {v['site_kind']}: "
        if not rec:
            lines.append(what + "no design meets every goal")
            continue
        r = c.get("returned_m12") or {}
        lines.append(what + f"N {rec['target_n']}, {rec['esw_per_locality']} ESW/loc at "
                     f"{rec.get('fte', 1.0):g} FTE, {rec['sites']} sites, {rec['months']:g} "
                     f"months: GBP {labels.gbp(rec['cost'])}"
                     + (f"; check power {c['power_of_n']:.3f}" if c.get("power_of_n")
                        is not None else "")
                     + (f", IPS 12-month returns {r['ips']:.2f}" if r.get("ips") is not None
                        else ""))
    return lines


def curve_table(result: dict[str, Any]) -> str:
    """The power curve's answer: every N simulated and the smallest meeting the goal."""
    crit, g = result["criterion"], result["goals"]
    lines = [f"trialsim power curve: scenario {result['scenario']}, {result['replications']} "
             f"replications per N, seed {result['seed']} (window unconstrained; P(target) "
             f"within {result['scenario_months']:g} months with {result['scenario_sites']} "
             f"{result['site_kind']})",
             f"    {'N':>5} {'ESW/loc':>7} {'power':>6} {'MC SE':>6}"
             + (f" {'assur.':>6}" if any("assurance" in e for e in result["evaluations"])
                else "") + f" {'P(tgt)':>6}"]
    for e in result["evaluations"]:
        line = (f"    {e['target_n']:>5} {e['esw_per_locality']:>7} {e['power']:>6.3f} "
                f"{e['power_mc_se']:>6.3f}")
        if "assurance" in e:
            line += f" {e['assurance']:>6.3f}"
        lines.append(line + f" {e['prob_target']:>6.3f}")
    for m in result["smallest_n"]:
        n = m["target_n"]
        lines.append(f"  {m['esw_per_locality']} ESW(s) per locality: smallest N with {crit} >= "
                     f"{g['target_power']:g} (one-sided bound): "
                     + (str(n) if n is not None else "none in the grid"))
    w = result["work"]
    lines.append(f"  simulated: {w['replications']} replications in {w['runs']} runs "
                 f"({w['participants']:,} participants)")
    return "\n".join(lines)
