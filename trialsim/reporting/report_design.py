"""The design-search report (`mode=design`): the question, the recommended design with
its check run and sample-size paragraph, the frontier of N against ESWs, the feasible
designs, every candidate evaluated; then the extra sections (`report.DESIGN_SECTIONS`),
figures, assumptions and appendices. A design.json from before the joint search is
reported by `_legacy_design_report`."""

from __future__ import annotations

from typing import Any

from trialsim.reporting import labels
from trialsim.reporting.design_terminal import check_verdict, joint_success, sensitivity_words
from trialsim.reporting.report_appendix import SEARCH_NOTE, appendix_blocks, assumptions_section
from trialsim.reporting.report_blocks import (
    Block,
    SectionProvider,
    description,
    per_arm,
    sd_words,
)
from trialsim.reporting.report_blocks import num as _n
from trialsim.reporting.report_blocks import p3 as _p
from trialsim.reporting.report_blocks import pct as _pct
from trialsim.reporting.report_blocks import with_se as _se
from trialsim.reporting.report_curve import curve_report
from trialsim.reporting.report_figures import figure_section
from trialsim.reporting.report_parameters import lower_first
from trialsim.reporting.report_render import prose
from trialsim.reporting.rundir import RunDir


def _tail(run: RunDir, sections: list[SectionProvider] = ()) -> list[Block]:
    blocks = figure_section(run)
    for section in sections:  # report.DESIGN_SECTIONS
        blocks += section(run)
    searched = searched_values(run.design or {})
    return (blocks + assumptions_section(run, SEARCH_NOTE, searched)
            + appendix_blocks(run, searched))


def searched_values(d: dict[str, Any]) -> dict[str, Any]:
    """The config keys the search varied, each with the recommended design's value (none
    without a recommendation)."""
    rec = d.get("recommended")
    if not rec:
        return {}
    values = {"trial.target_n": rec.get("target_n"),
              "trial.recruitment_months": rec.get("months"),
              f"sites.{d.get('site_kind')}.count": rec.get("sites"),
              "delivery.esw.per_locality": rec.get("esw_per_locality"),
              "delivery.esw.fte": rec.get("fte") if len(d.get("esw_fte") or []) > 1 else None,
              "trial.allocation_ratio": rec.get("allocation_ratio")
              if len(d.get("allocation_ratios") or []) > 1 else None,
              # staffed to demand where one OT would be overbooked (design_check.ots_needed)
              "delivery.ot.count": rec.get("ot_count") if rec.get("ot_note") else None}
    return {k: v for k, v in values.items() if v is not None}


def _fte(rec: dict[str, Any]) -> str:
    return f" at {rec['fte']:g} FTE" if rec.get("fte", 1.0) != 1.0 else ""


def intro(run: RunDir, rec: dict[str, Any] | None, kind: str) -> str:
    """The report's opening lines: the recommendation, then the scenario's description
    as the starting point the search replaced (it names the scenario's N, sites and
    months, which read as the design's when they stand alone above it)."""
    replaced = [lower_first(labels.label(k)) for k in searched_values(run.design or {})]
    return prose("design_intro", rec=rec, kind=kind, scenario=description(run).rstrip("."),
                 per_arm=_per_arm(run, rec) if rec else "",
                 months=f"{rec['months']:g}" if rec else "", fte=_fte(rec) if rec else "",
                 replaced=(", ".join(replaced[:-1]) + " and " + replaced[-1]
                           if len(replaced) > 1 else "".join(replaced)))


def design_report(run: RunDir, sections: list[SectionProvider] = ()
                  ) -> tuple[str, list[Block]]:
    d = run.design
    if "mode" not in d:
        return _legacy_design_report(run, sections)
    if d["mode"] == "curve":
        return curve_report(run, sections)
    g, crit = d.get("goals", {}), d.get("criterion", "power")
    kind = str(d.get("site_kind")).replace("_", " ")
    rec, check = d.get("recommended"), d.get("check")
    title = f"trialsim design search: {d.get('scenario')}: " + (
        "no design in the grid meets every goal" if rec is None else
        f"N {rec['target_n']} through {rec['sites']} {kind} over {rec['months']:g} months, "
        f"{rec['esw_per_locality']} ESWs per locality")  # the answer, not only the question
    blocks: list[Block] = [
        ("p", intro(run, rec, kind)),
        ("h", 2, "The question"),
        ("p", prose("design_question", localities=d.get("localities"), kind=kind, crit=crit,
                    target_power=g.get("target_power"), prob_target=g.get("prob_target"),
                    wait_statistic=g.get("wait_statistic"), max_wait=g.get("max_wait_days"),
                    z=_n(g.get("confidence_z"), 2), reps=d.get("replications"),
                    seed=d.get("seed"), screen=d.get("screen_replications"))),
        ("h", 2, "Recommended design"),
    ]
    if rec is None:
        blocks.append(("p", "No design in the grid meets every goal: "
                            + (d.get("binding") or {}).get("message", "")))
    else:
        blocks += [
            ("p", prose("design_recommended", rec=rec, per_arm=_per_arm(run, rec), kind=kind,
                        months=f"{rec['months']:g}", rule=d.get("rule"), fte=_fte(rec),
                        strategies=_strategy_words(d.get("retention_strategies")))),
            ("table", ["quantity", "search (seed " + str(d.get("seed")) + ")",
                       f"check run (seed {check['seed']})" if check else "check run"],
             [[f"{crit} (search: window unconstrained; check: within the window)",
               _se(rec.get(crit), rec.get(f"{crit}_mc_se")),
               _se(check.get(crit), check.get(f"{crit}_mc_se")) if check else "n/a"],
              [f"{crit} among trials reaching the target", "",
               _se(check.get(f"{crit}_if_target_reached"),
                   check.get(f"{crit}_if_target_reached_mc_se")) if check else "n/a"],
              ["P(target N within the window)",
               _se(rec.get("prob_target"), rec.get("prob_target_mc_se")),
               _se(check.get("prob_target"), check.get("prob_target_mc_se"))
               if check else "n/a"],
              [f"{g.get('wait_statistic')} wait for an ESW place (days)",
               f"{_n(rec.get('wait_days'))} (MC SE {_n(rec.get('wait_mc_se'), 2)})",
               f"{_n(check.get('wait_days'))} (MC SE {_n(check.get('wait_mc_se'), 2)})"
               if check else "n/a"],
              *check_rows(check),
              ["service-months (mean)", _n(rec.get("service_months"), 0), ""],
              ["ESW-months (mean)", _n(rec.get("esw_months"), 0), ""],
              ["months recruiting (mean, first opening to close)",
               _n(rec.get("recruiting_months")), ""]]),
        ]
        blocks += rec_notes(d)
        blocks += variant_blocks(d)
        blocks += [("h", 3, "Sample-size justification (ready to edit)"),
                   ("quote", _design_paragraph(run, rec, check, crit, kind))]
        for a in d.get("check_attempts", [])[:-1]:
            blocks.append(("p", f"At N {a['target_n']} the check run gave {crit} "
                                f"{_se(a['check'], a['check_mc_se'])} (search "
                                f"{_n(a['search'], 3)}), below the goal: the search moved to "
                                "the next N."))
        if check:
            blocks.append(("p", f"Check run ({check['replications']} trials, a fresh seed): "
                                f"{check_verdict(check)} (within Monte Carlo error: no "
                                f"estimate below its goal by more than "
                                f"{_n(g.get('confidence_z'), 2)} MC SE). The search's "
                                "estimates are those that cleared a bound among many "
                                "candidates and read high; the check's do not."))
    blocks += [
        ("h", 2, f"Smallest N with {crit} >= {g.get('target_power')}, by ESWs per locality"),
        ("table", ["IPS:TAU", "ESWs per locality", "ESWs", "smallest N", f"{crit} (MC SE)",
                   "fitted N (95% interval)"],
         [[f.get("allocation_ratio") or "1:1", str(f["esw_per_locality"]), str(f["esws"]),
           str(f["target_n"]) if f["target_n"] is not None else
           ("none in the grid" if f.get("searched") else
            f"not searched (needs more N than {f['beyond_recruitable']}, the most any design "
            "in the grid recruits)" if f.get("beyond_recruitable") is not None else
            "not searched (fewer ESWs cannot do better)"),
           _se(f.get(crit), f.get(f"{crit}_mc_se")) if f["target_n"] is not None else
           (f"{_p(f.get('best'))} at N {f.get('best_n')}, the largest tried"
            + (f" ({f['best_replications']} replications)" if f.get("best_replications")
               else "") if f.get("searched") else ""),
           _fitted(f)]
          for f in d.get("frontier", [])]),
        ("p", "Smallest N: " + ("read off the probit-in-log-N curve fitted to every N "
                                "simulated at that ESW count (its one-sided lower bound "
                                "clears the goal), rounded up to the grid "
                                "(design.pick_n=fitted)" if d.get("pick_n") == "fitted" else
                                "the first grid N whose own Monte Carlo bound clears the "
                                "goal (design.pick_n=grid)") + "."),
        ("p", "Sites and months are searched for each ESW count's N, and the cheapest design "
              "meeting every goal is recommended: a smaller N needs more ESWs or more "
              "services, so N alone does not rank designs. To cap the ESWs, rerun with "
              "design.max_esw_per_locality set to that number."
              if d.get("objective") == "cost" else
              "Sites and months are searched for the smallest N, which the rule puts first "
              "(a larger N comes with fewer ESWs: slower to recruit, longer waits, so a design "
              "exists with it only if one exists with the smallest). To plan with fewer ESWs, "
              "rerun with design.max_esw_per_locality set to that number."),
        ("h", 2, "Feasible designs"),
        ("p", f"Each ESW count's smallest N with the fewest {kind} that recruit it in each "
              f"window (more sites also meet the goals and cost more), best first by the rule "
              f"({d.get('rule')}). Service-months: the months each site is open for "
              "recruitment, summed; ESW-months: all ESWs from the first opening to the close "
              "of recruitment plus the longest support a participant randomised at the close "
              "can receive (means over replications). Waits are simulated down the ranking "
              "until a design meets the wait goal."),
        ("table", ["N", "ESWs/locality", "FTE", "IPS:TAU", kind, "months", crit, "P(target)",
                   f"{g.get('wait_statistic')} wait (days)", "service-months", "ESW-months",
                   "meets every goal"],
         [[str(r["target_n"]), str(r["esw_per_locality"]), f"{r.get('fte', 1.0):g}",
           r.get("allocation_ratio") or "1:1",
           str(r["sites"]), f"{r['months']:g}",
           _p(r.get(crit)), _p(r.get("prob_target")),
           "not simulated" if r.get("wait_days") is None else
           f"{_n(r.get('wait_days'))} ({r.get('replications')} reps)",
           _n(r.get("service_months"), 0), _n(r.get("esw_months"), 0),
           {True: "yes", False: "no: wait", None: "wait not simulated"}[r.get("feasible")]]
          for r in d.get("designs", [])]) if d.get("designs") else
        ("p", "None: " + (d.get("binding") or {}).get("message", "")),
        ("h", 2, "Every candidate evaluated"),
        ("p", _work_text(d)),
        ("table", ["step", "N", "ESWs/locality", "sites", "months", "replications",
                   "estimate (MC SE)", "goal", "result"],
         [_evaluation_row(e, crit) for e in d.get("evaluations", [])]),
        *_tail(run, sections),
    ]
    return title, blocks


STRATEGY_WORDS = {"text_followup": "a text / e-mail version to non-returners",
                  "interim_contact": "a 9-month contact",
                  "esw_completion": "questionnaires completed with the ESW",
                  "linkage": "linked employment records"}


def _strategy_words(strategies: list[str] | None) -> str:
    """The chosen retention strategies in words ("" when none or as configured)."""
    return " and ".join(STRATEGY_WORDS.get(s, s) for s in strategies or ())


def variant_blocks(d: dict[str, Any]) -> list[Block]:
    """The levers searched one variant at a time (trialsim.experiments.design_variants):
    each variant's recommendation side by side, the chosen one marked."""
    vs = d.get("variants")
    if not vs:
        return []
    rows = []
    for v in vs:
        rec, c = v.get("recommended"), v.get("check") or {}
        r = c.get("returned_m12") or {}
        rows.append([("chosen: " if v["chosen"] else "") + f"retention {v['label']}",
                     str(v["site_kind"]).replace("_", " "),
                     *([f"{rec['target_n']}", f"{rec['esw_per_locality']} x "
                        f"{rec.get('fte', 1.0):g} FTE", f"{rec['sites']}",
                        f"{rec['months']:g}", f"{rec['cost']:,.0f}",
                        _n(c.get("power_of_n"), 3),
                        _n(r.get("ips"), 2)] if rec else ["none meets every goal"] + [""] * 6)])
    return [("p", "Each lever below was searched as a variant of its own with the same seed; "
                  "the recommendation is the variant whose recommended design costs least."),
            ("table", ["variant", "sites searched", "N", "ESWs per locality", "sites", "months",
                       "expected cost (GBP)", "check power", "IPS 12-month returns"], rows)]


def check_rows(check: dict[str, Any] | None) -> list[list[str]]:
    """The check run's 12-month returns, joint-appointment wait and internal-pilot rule
    (trialsim.experiments.design_check), as rows of the recommendation's table."""
    if not check:
        return []
    rows = []
    r = check.get("returned_m12") or {}
    if r.get("ips") is not None:
        rows.append(["12-month questionnaires returned, IPS / TAU", "",
                     f"{r['ips']:.2f} / {r['tau']:.2f}"])
    if check.get("ot_wait_days") is not None:
        rows.append(["wait for the joint ESW + OT appointment (days, mean)", "",
                     _n(check["ot_wait_days"])])
    tip = check.get("tipping") or {}
    for arm, words in (("ips", "the IPS arm's alone"), ("tau", "the TAU arm's alone"),
                       ("both", "both arms'")):
        if tip.get(arm, {}).get("median") is not None:
            rows.append([f"MNAR tipping point, {words} missing scores shifted (median SD "
                         "among trials that reject)", "",
                         _se(tip[arm]["median"], tip[arm]["mc_se"])])
    pr = check.get("progression")
    if pr:
        o = pr["lights"]["overall"]
        stop = pr["operating"]["target_and_power"]["p_stop_if_success"]
        go = pr["operating"]["target_and_power"].get("p_go_if_failure") or {}
        rows += [[f"internal pilot at month {pr['review_month']:.1f}: P(green / amber / red)",
                  "", f"{o['green']:.2f} / {o['amber']:.2f} / {o['red']:.2f}"],
                 ["internal pilot: P(stop | the trial would reach N and reject)", "",
                  _se(stop.get("estimate"), stop.get("mc_se"))],
                 ["internal pilot: P(go on | the trial would not)", "",
                  _se(go.get("estimate"), go.get("mc_se"))]]
    sens = check.get("sensitivity") or []
    crit = "assurance" if sens and "assurance" in sens[0] else "power"
    base = check.get("sensitivity_unchanged")
    if sens and base:
        rows.append([f"nothing changed, the check's first {base['replications']} trials "
                     f"(the seeds of the rows below): {crit} among trials reaching N; "
                     "P(target)", "", sensitivity_words(base, crit)])
    for e in sens:
        rows.append([f"with {e['key']} {e['value']:g} ({e['replications']} trials on the "
                     f"check's seeds): {crit} among trials reaching N; P(target); each "
                     "change from nothing changed, paired", "", sensitivity_words(e, crit)])
    return rows


def rec_notes(d: dict[str, Any]) -> list[Block]:
    """The recommendation's notes (idle posts, an overbooked OT, the grid's edge) and how
    sure its number of sites is (the fitted P(target) curve), as the terminal gives them."""
    rec = d.get("recommended") or {}
    out: list[Block] = [("p", "Note: " + rec[k][0].upper() + rec[k][1:] + ".")
                        for k in ("idle", "ot_note", "edge") if rec.get(k)]
    fs = next((e for e in d.get("sites_by_months", ())
               if e["target_n"] == rec.get("target_n") and e["months"] == rec.get("months")
               and e.get("fitted_sites") is not None), None)
    if fs is not None:
        kind = str(d.get("site_kind", "sites")).replace("_", " ")
        out.insert(0, ("p", f"{kind.capitalize()} needed for P(target) >= "
                            f"{(d.get('goals') or {}).get('prob_target')}: "
                            f"{fs['fitted_sites']:.1f} on a probit curve in log expected "
                            f"recruits through {fs['fitted_points']} numbers of sites simulated "
                            f"(95% interval {_sites(fs['fitted_sites_lower'])} to "
                            f"{_sites(fs['fitted_sites_upper'])}, clustered on the replication; "
                            f"one-sided bound {_sites(fs['fitted_sites_bound'])}); "
                            f"{rec.get('sites')} by the grid rule."))
    return out


def _sites(x: float | None) -> str:
    return "outside the grid" if x is None else f"{x:.1f}"


def _design_paragraph(run: RunDir, rec: dict[str, Any], check: dict[str, Any] | None,
                      crit: str, kind: str) -> str:
    """The recommended design in the words of a grant application, every number from
    design.json or the run's config."""
    c = run.cfg
    effect, icc = c("outcome.effect_m12"), c("outcome.esw_icc")
    alpha = c("analysis.alpha", 0.05)
    primary = c("analysis.primary", "rtw_se")
    outcome = ("the proportion in work at 12 months" if primary == "employment" else
               _rtw_se_words(effect, check, sd_words(c)) if effect is not None else
               "return-to-work self-efficacy at 12 months")
    what = "assurance (probability of success with the pilot's uncertainty)" \
        if crit == "assurance" else "power"
    if check and check.get(crit + "_if_target_reached") is not None:
        value, se = check[crit + "_if_target_reached"], check.get(crit + "_if_target_reached_mc_se")
        source = (f"a check run of {check.get('replications')} trials with a fresh seed, "
                  f"among those that reached {rec['target_n']}")
    else:
        value, se = rec.get(crit), rec.get(crit + "_mc_se")
        source = f"{run.design.get('replications')} simulated trials"
    paragraph = prose("design_sample_size", rec=rec, per_arm=_per_arm(run, rec),
                      value=_pct(value), what=what, se=_p(se), source=source,
                      outcome=outcome, alpha=_pct(alpha),
                      icc=icc if icc is not None else "n/a", kind=kind,
                      months=f"{rec['months']:g}", prob_target=_p(rec.get("prob_target")),
                      check=bool(check), crit=crit,
                      check_prob_target=_p(check.get("prob_target")) if check else None,
                      check_value=_pct(check.get(crit)) if check else None,
                      returns=_returns_words(check, d_strategies(run)))
    return " ".join([paragraph, *_joint(rec, check)])


def _joint(rec: dict[str, Any], check: dict[str, Any] | None) -> list[str]:
    """The check's chance of a completed positive trial (design_terminal.joint_success),
    in the sample-size paragraph; nothing where the check cannot give it."""
    joint = joint_success(check)
    if joint is None:
        return []
    return [prose("design_joint", n=rec["target_n"], p=_p(joint[0]), se=_p(joint[1]))]


def _rtw_se_words(effect: float, check: dict[str, Any] | None, sd: str | None) -> str:
    """The primary outcome and the effect the power is for: the assumed effect among
    those who receive IPS as intended and, from the check run, the intention-to-treat
    effect the trial tests and the share it rests on."""
    words = ("return-to-work self-efficacy (0-10) at 12 months" + (f" ({sd})" if sd else "")
             + f", an assumed difference of {effect:g} point" + ("" if effect == 1 else "s")
             + " among those who receive IPS as intended")
    itt, share = (check or {}).get("effect_itt"), (check or {}).get("received_share")
    if itt is None or share is None:
        return words + " (less over the whole IPS arm: the intention-to-treat effect)"
    return words + (f": {itt:.2f} points over the whole IPS arm, the intention-to-treat "
                    f"effect the trial tests, with {_pct(share)} of the IPS arm receiving "
                    "IPS as intended in the check run")


def d_strategies(run: RunDir) -> list[str] | None:
    return (run.design or {}).get("retention_strategies")


def _returns_words(check: dict[str, Any] | None, strategies: list[str] | None) -> str:
    """Loss to follow-up as the check run simulated it: 12-month returns per arm."""
    r = (check or {}).get("returned_m12") or {}
    if r.get("ips") is None:
        return "allowing for loss to follow-up as in the pilot"
    how = (f" (retention strategies: {_strategy_words(strategies)})" if strategies else
           " (simulated from the pilot's Table 8 return patterns)")
    return (f"allowing for {_pct(r['ips'])} of the IPS arm and {_pct(r['tau'])} of the TAU "
            f"arm returning the 12-month questionnaire sent to them (a participant who "
            f"withdrew is sent none){how}")


def _work_text(d: dict[str, Any]) -> str:
    w = d.get("work", {})
    return (f"Simulated: {w.get('replications')} replications in {w.get('runs')} runs "
            f"({_n(w.get('participants'), 0)} participants). Each row below is a candidate "
            "and the goal it was tested for; 'screened out' failed after the screening "
            "replications; 'fail': its own trials do not clear the goal by the one-sided "
            "Monte Carlo bound."
            + (" With the smallest N read off the curve fitted across each ESW count's "
               "candidates (design.pick_n=fitted), a grid N whose own trials fail here can "
               "still be a count's smallest N above: the curve's bound rests on every N "
               "simulated at that count, not on one N's trials."
               if d.get("pick_n") == "fitted" else ""))


def _evaluation_row(e: dict[str, Any], crit: str) -> list[str]:
    goal = e.get("goal")
    key = {"wait": "wait_days", "prob_target": "prob_target"}.get(goal, goal or crit)
    value = e.get(key)
    se = e.get("wait_mc_se" if key == "wait_days" else f"{key}_mc_se")
    estimate = ("n/a" if value is None else
                f"{_n(value)} d (MC SE {_n(se, 2)})" if key == "wait_days" else
                f"{key} {_p(value)} ({_p(se)})")
    if e.get("step") == "check":
        estimate = f"{crit} {_p(e.get(crit))}, P(target) {_p(e.get('prob_target'))}"
    months = e.get("months")
    result = ("screened out" if e.get("screened_out") else
              "" if e.get("passes") is None else "pass" if e["passes"] else "fail")
    return [str(e.get("step")), str(e.get("target_n")),
            "any" if e.get("esw_per_locality") is None else str(e["esw_per_locality"]),
            str(e.get("sites")), "unconstrained" if months is None else f"{months:g}",
            str(e.get("replications")), estimate, str(goal or ""), result]


def _legacy_design_report(run: RunDir, sections: list[SectionProvider] = ()
                          ) -> tuple[str, list[Block]]:
    """design.json written before the joint N x ESW search (no `mode` key)."""
    d = run.design
    g = d.get("goals", {})
    title = f"trialsim design search: {d.get('scenario')}"
    rows = [[f"{r['months']:g}", "none in the grid" if r["sites"] is None else str(r["sites"])]
            for r in d.get("sites_by_months", [])]
    rec = d.get("recommended")
    if rec is None:
        rec_text = (f"No target N in the grid reaches power {g.get('target_power')}: widen "
                    "the grid (design.n_stop) or change the design (more ESWs, a smaller ICC)."
                    if d.get("target_n") is None
                    else f"N = {d['target_n']} reaches the power goal, but no window in the "
                         "grid recruits it with the required probability.")
    else:
        esw = ("none in the grid" if rec["esw_per_locality"] is None
               else f"{rec['esw_per_locality']} ESW(s) per locality")
        rec_text = (f"Randomise {rec['target_n']} participants through {rec['sites']} "
                    f"{d.get('site_kind')} over {rec['months']:g} months, with {esw} in each "
                    f"of {rec['localities']} localities.")
    blocks: list[Block] = [
        ("p", description(run)),
        ("h", 2, "The question"),
        ("p", f"The smallest design meeting the goals: power of the primary analysis at least "
              f"{g.get('target_power')}, P(target N randomised within the window) at least "
              f"{g.get('prob_target')}, {g.get('wait_statistic')} wait for an ESW caseload "
              f"place at most {g.get('max_wait_days')} days; each candidate passes only if its "
              f"one-sided Monte Carlo bound (z = {_n(g.get('confidence_z'), 2)}) clears the "
              f"goal. {d.get('replications')} replications per candidate, seed {d.get('seed')}."),
        ("h", 2, "Recommended design"),
        ("p", rec_text),
        ("table", ["item", "value"],
         [["smallest target N with the power goal",
           "none in the grid" if d.get("target_n") is None else str(d["target_n"])]]
         + ([[k, str(v)] for k, v in rec.items()] if rec else [])),
        ("h", 2, "Feasible designs: sites needed per recruitment window"),
        ("table", ["months", f"{d.get('site_kind')} needed"], rows) if rows else
        ("p", "Not searched: no target N passed the power goal."),
        ("h", 2, "Every candidate evaluated"),
        ("table", ["step", "candidate", "estimate", "MC SE", "passes"],
         [_legacy_evaluation_row(e) for e in d.get("evaluations", [])]),
        *_tail(run, sections),
    ]
    return title, blocks


def _legacy_evaluation_row(e: dict[str, Any]) -> list[str]:
    step = e.get("step", "")
    if step == "sample_size":
        return [step, f"N = {e['target_n']}", f"power {_p(e['power'])}", _p(e["mc_se"]),
                str(e["passes"])]
    if step == "sites":
        return [step, f"{e['sites']} sites, {e['months']:g} months",
                f"P(target) {_p(e['prob_target'])}", _p(e["mc_se"]), str(e["passes"])]
    if step == "esw":
        return [step, f"{e['per_locality']} per locality",
                f"wait {_n(e['wait_days'])} days, power {_p(e['power'])}",
                f"{_n(e['mc_se'], 2)}, {_p(e['power_mc_se'])}", str(e["passes"])]
    return [step, "", "", "", str(e.get("passes", ""))]


def _per_arm(run: RunDir, rec: dict) -> str:
    return per_arm(rec["target_n"], rec.get("allocation_ratio")
                   or run.cfg("trial.allocation_ratio", "1:1"))


def _fitted(f: dict) -> str:
    """The fitted curve's N for the goal and its 95% interval (design.json's frontier)."""
    if f.get("fitted_n") is None:
        return ""
    lo, hi = f.get("fitted_n_lower"), f.get("fitted_n_upper")
    band = f" ({lo:,.0f} to {hi:,.0f})" if lo is not None and hi is not None else ""
    return f"{f['fitted_n']:,.0f}{band}"
