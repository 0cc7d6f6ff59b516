"""A grant-ready report in the run directory (`report.md` and a self-contained
`report.html`), with its figures, built from the run directory's files alone.

    python -m trialsim.reporting.report RUN_DIR [--no-charts] [--no-report]

rebuilds every figure and the report of a finished run (or design search, or a sweep
directory's heatmaps) without simulating again; the files come out byte for byte the same.
"""

from __future__ import annotations

import argparse
import base64
import html
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trialsim import __version__
from trialsim.reporting import keys
from trialsim.reporting.allocation_section import allocation_blocks
from trialsim.reporting.budget_section import budget_blocks
from trialsim.reporting.figures.assurance import FILE as ASSURANCE_FILE
from trialsim.reporting.figures.assurance import assurance_figure
from trialsim.reporting.figures.capacity import capacity_figure
from trialsim.reporting.figures.flow import flow_figure
from trialsim.reporting.figures.power import power_figure
from trialsim.reporting.figures.recruitment import recruitment_figure
from trialsim.reporting.figures.retention import retention_figure
from trialsim.reporting.figures.sweep import sweep_figure
from trialsim.reporting.manifest import damage
from trialsim.reporting.missing_data_section import missing_data_blocks
from trialsim.reporting.retention_strategies import retention_strategies_blocks
from trialsim.reporting.progression_section import progression_blocks
from trialsim.reporting.rundir import RunDir
from trialsim.reporting.sources import ROOT, write_parameter_sources
from trialsim.reporting.staging import staged

# figure file, what it needs in the run directory, how to draw it, its title
FIGURES = (
    ("recruitment.png", ("summary.json", "recruitment_bands.csv"), recruitment_figure,
     "Recruitment projection"),
    ("flow.png", ("summary.json", "flow.csv"), flow_figure, "Expected CONSORT flow"),
    ("capacity.png", ("summary.json", "caseload_by_month.csv", "esw_waits.csv"),
     capacity_figure, "ESW capacity and waits"),
    ("retention.png", ("summary.json", "replications.csv"), retention_figure,
     "Questionnaire returns against the pilot"),
    ("assurance.png", (ASSURANCE_FILE,), assurance_figure, "Assurance and sensitivity"),
    ("power_curve.png", ("design.json",), power_figure, "Design search: power and recruitment"),
)
SWEEP_SUMMARY = "sweep_summary.csv"

METHOD_WORDS = {  # analysis.method as the sample-size paragraph names it
    "partially_nested": "a partially nested mixed model (REML)",
    "cluster_robust": "ANCOVA with a cluster-robust (CR2) SE and Bell-McCaffrey degrees of "
                      "freedom",
    "ancova": "ANCOVA, which ignores the clustering (anti-conservative when the ICC is "
              "above 0)",
}


def draw_figures(run: RunDir) -> list[Path]:
    """Every figure whose input files are in the run directory."""
    made: list[Path] = []
    for _name, needs, draw, _title in FIGURES:
        if all(run.has(n) for n in needs):
            made += draw(run, run.path)
    return made


# ---------------------------------------------------------------- number formatting

OUTCOME_NAMES = {"rtw_se": "RTW self-efficacy at 12 months",
                 "employment": "in work at 12 months"}

def _p(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _n(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


@dataclass(frozen=True)
class Fact:
    """A row of the key-answers table: its estimate is summary.json's value `key`."""
    label: str
    key: str | None  # keys.PATHS name; None for values taken from the config
    estimate: str
    uncertainty: str = ""


def key_facts(run: RunDir) -> list[Fact]:
    s, c = run.summary, run.cfg
    g = lambda name: keys.get(s, name)  # noqa: E731
    per_loc, localities = c("delivery.esw.per_locality"), c("trial.localities")
    primary = g("primary_outcome") or "rtw_se"
    facts = [
        Fact("target N (randomised)", "target_n", f"{g('target_n')}"),
        Fact("recruitment window (months)", "recruitment_months",
             f"{g('recruitment_months'):g}"),
        Fact("sites opened within the window (mean)", "sites_opened", _n(g("sites_opened"))),
        Fact("P(target reached within the window)", "prob_target", _p(g("prob_target")),
             f"MC SE {_p(g('prob_target_mc_se'))}; {_rates_words(g('rate_discount'))}"),
        *([Fact("P(target reached), the same trials at the pilot's own rates",
                "prob_target_at_pilot_rates", _p(g("prob_target_at_pilot_rates")),
                f"MC SE {_p(g('prob_target_at_pilot_rates_mc_se'))}")]
          if _discounted(g("rate_discount")) else []),
        Fact("months to the target (median)", "months_to_target_p50",
             _n(g("months_to_target_p50")) if g("months_to_target_p50") is not None
             else "not reached",
             f"10%: {_n(g('months_to_target_p10'))}, 90%: {_n(g('months_to_target_p90'))}"
             + (" (n/a: beyond the window)" if g("months_to_target_p90") is None else "")),
        Fact("randomised (mean)", "randomised_mean", _n(g("randomised_mean")),
             f"10%: {_n(g('randomised_p10'), 0)}, 90%: {_n(g('randomised_p90'), 0)}"),
        Fact("ESWs", None, f"{per_loc} per locality x {localities} localities"
             if per_loc is not None and localities is not None else "n/a"),
        Fact("wait for an ESW caseload place, days (mean)", "mean_wait_days",
             _n(g("mean_wait_days")), f"90th percentile {_n(g('p90_wait_days'))}"),
        Fact(f"power, primary analysis ({OUTCOME_NAMES.get(primary, primary)})",
             "power_primary", _p(g("power_primary")), f"MC SE {_p(g('power_primary_mc_se'))}"),
    ]
    if g("power_primary_if_reached") is not None:
        facts.append(Fact("power, primary, in trials reaching the target",
                          "power_primary_if_reached", _p(g("power_primary_if_reached"))))
    secondary = g("secondary_outcome") or "employment"
    facts.append(Fact(f"power, secondary analysis ({OUTCOME_NAMES.get(secondary, secondary)})",
                      "power_secondary", _p(g("power_secondary")),
                      f"MC SE {_p(g('power_secondary_mc_se'))}"))
    if g("assurance_joint") is not None:
        facts += [
            Fact("assurance: primary rejects (pilot uncertainty)", "assurance_primary",
                 _p(g("assurance_primary"))),
            Fact("assurance: target reached in time", "assurance_recruitment",
                 _p(g("assurance_recruitment"))),
            Fact("assurance: both", "assurance_joint", _p(g("assurance_joint")),
                 f"MC SE {_p(g('assurance_joint_mc_se'))}"),
        ]
    facts += [
        Fact("analysed at 12 months, IPS (mean)", "analysed_ips", _n(g("analysed_ips"))),
        Fact("analysed at 12 months, TAU (mean)", "analysed_tau", _n(g("analysed_tau"))),
        Fact("in work at 12 months, IPS", "employment_m12_ips", _p(g("employment_m12_ips"))),
        Fact("in work at 12 months, TAU", "employment_m12_tau", _p(g("employment_m12_tau"))),
        Fact("started a job by 12 months, IPS", "job_started_ips", _p(g("job_started_ips"))),
        Fact("started a job by 12 months, TAU", "job_started_tau", _p(g("job_started_tau"))),
        Fact("IPS arm who received IPS as intended", "received_share",
             _p(g("received_share")), "seen by an ESW, engaged, first appointment in time"),
    ]
    if g("effect_itt") is not None and primary == "rtw_se":
        facts += [
            Fact("RTW-SE effect at 12 months, IPS as received", "effect_m12",
                 f"{g('effect_m12'):g}", "the planner's effect"),
            Fact("RTW-SE effect at 12 months, ITT (true)", "effect_itt", f"{g('effect_itt'):.2f}",
                 "among all randomised: diluted where IPS was not received as intended"),
        ]
    return facts


def _method_words(g) -> str:
    """The pre-specified analysis in words, with its small-sample inference."""
    words = METHOD_WORDS.get(g("rtw_se_method"), "the pre-specified analysis")
    if g("rtw_se_method") == "partially_nested":
        bound = ("the ESW variance estimated without a bound at 0"
                 if g("esw_variance") == "unbounded" else "the ESW variance held at 0 or above")
        small = {"kenward_roger": "Kenward-Roger's small-sample correction",
                 "satterthwaite": "Satterthwaite degrees of freedom"}.get(
            g("small_sample"), "a small-sample correction")
        words += f", {bound}, with {small}"
    return words


def loss_to_follow_up(summary: dict[str, Any], arm: str,
                      if_reached: bool = False) -> float | None:
    """1 - analysed / randomised in one arm, from summary.json's means (over the trials
    that reached the target N with `if_reached`)."""
    tail = "_if_reached" if if_reached else ""
    analysed = keys.get(summary, f"analysed_{arm}{tail}")
    randomised = keys.get(summary, f"allocation_{arm}{tail}")
    if analysed is None or not randomised:
        return None
    return 1 - analysed / randomised


KIND_WORDS = {"pain_services": "community pain services", "gp_practices": "GP practices"}
WHY_DISCOUNT = (
    "the pilot's report calls its circumstances favourable (recruitment through pain "
    "services \"appears effective and efficient, particularly when the pain team are "
    "integrated within the research\", WP4 Discussion; its ESWs and pain OT \"were "
    "exceptional individuals who were enthusiastic about the research\", Limitations) and "
    "UK HTA trials recruit a median 0.92 participants per centre-month (IQR 0.43 to 2.79; "
    "Walters et al. 2017, BMJ Open 7:e015276), against the pilot's 1.3 per pain "
    "service-month")


def _discounted(discount: dict[str, float] | None) -> bool:
    return any(v != 1.0 for v in (discount or {}).values())


def _rates_words(discount: dict[str, float] | None) -> str:
    """Whose rates a P(target) is at: new sites' (the discount of each kind) or the pilot's."""
    if not discount:
        return "at the configured rates"
    if not _discounted(discount):
        return "at the pilot's own rates"
    return "new sites at " + ", ".join(f"{v:g} x the pilot's rates ({KIND_WORDS.get(k, k)})"
                                       for k, v in discount.items())


def rates_sentence(g) -> str:
    """Which rates the headline P(target) uses and why, with the other beside it."""
    discount, n = g("rate_discount"), g("target_n")
    if not discount:
        return ""
    if not _discounted(discount):
        return (" The headline P(target) recruits at the pilot's own rates (every "
                "sites.<kind>.rate_discount is 1); " + WHY_DISCOUNT
                + ", so it may be optimistic for new sites.")
    return (f" The headline P(target) recruits {_rates_words(discount)}, not at the pilot's "
            f"own rates, because {WHY_DISCOUNT}; at the pilot's rates the same simulated "
            f"trials reach {n} in {_pct(g('prob_target_at_pilot_rates'))} of cases.")


def _sites_phrase(run: RunDir) -> str:
    parts = []
    for kind, label in (("pain_services", "community pain services"),
                        ("gp_practices", "GP practices")):
        count = run.cfg(f"sites.{kind}.count", 0) or 0
        if count:
            parts.append(f"{count} {label}")
    return " and ".join(parts) or "the configured sites"


def sample_size_paragraph(run: RunDir) -> str:
    """The NIHR-style justification, every number from summary.json or the config."""
    s, c = run.summary, run.cfg
    g = lambda name: keys.get(s, name)  # noqa: E731
    n, power = g("target_n"), g("power_primary")
    ci = g("power_primary_ci95") or [None, None]
    months = g("recruitment_months")
    sd = None  # the 12-month SDs: TAU's, and the IPS arm's where it has its own
    ctrl_months, sds = c("outcome.control.months", []), c("outcome.control.sds", [])
    ips_sds = c("outcome.ips_sds", None) or sds
    if 12 in ctrl_months and len(sds) == len(ctrl_months) == len(ips_sds):
        k = ctrl_months.index(12)
        sd = (f"SD {sds[k]:g}" if ips_sds[k] == sds[k] else
              f"SD {sds[k]:g} TAU, {ips_sds[k]:g} IPS")
    alpha = g("alpha") or c("analysis.alpha", 0.05)
    icc, per_loc, loc = c("outcome.esw_icc"), c("delivery.esw.per_locality"), \
        c("trial.localities")
    primary = g("primary_outcome") or "rtw_se"
    if primary == "employment":
        ips, tau = g("employment_m12_ips"), g("employment_m12_tau")
        outcome = "the proportion in work at 12 months"
        effect = ("the simulated difference" if ips is None or tau is None else
                  f"{100 * (ips - tau):.0f} percentage points ({_pct(ips)} IPS vs "
                  f"{_pct(tau)} TAU, all randomised)")
    else:
        outcome = "return-to-work self-efficacy (0-10) at 12 months"
        d, itt = g("effect_m12"), g("effect_itt")
        effect = "the effect" if d is None else f"{d:g} point{'' if d == 1 else 's'}"
        if d is not None and itt is not None:  # the ITT effect the trial actually tests
            f = c("outcome.effect_if_not_received", 0.0) or 0.0
            rest = "none" if f == 0 else f"{f:g} of it"
            effect = (f"{itt:.2f} points (the intention-to-treat effect: {d:g} among the "
                      f"{_pct(g('received_share'))} of the IPS arm who receive IPS as intended, "
                      f"{rest} among the rest)")
        if sd is not None:
            outcome += f" ({sd})"
    cluster = ("and clustering by ESW as configured (the run directory has no saved "
               "configuration)" if icc is None or per_loc is None or loc is None else
               "with no clustering by ESW (ICC 0)" if not icc else
               f"and clustering by ESW in the IPS arm (ICC {icc:g}, "
               f"{per_loc * loc} ESWs: {per_loc} in each of {loc} localities), "
               f"analysed by {_method_words(g)}")
    reached = g("replications_target_reached")
    conditional = bool(reached) and g("power_primary_if_reached") is not None
    tail = "_if_reached" if conditional else ""
    power_n = g("power_primary_if_reached") if conditional else power
    ci_n = (g("power_primary_if_reached_ci95") if conditional else ci) or [None, None]
    which = (f"{reached} of {g('replications')} simulated trials, those that reached {n}"
             if conditional else f"{g('replications')} simulated trials; none reached {n}, "
             "so this counts every trial as it stopped")
    losses = [loss_to_follow_up(s, arm, conditional) for arm in ("ips", "tau")]
    loss_words = ("allowing for loss to follow-up as simulated" if None in losses else
                  f"allowing for {_pct(losses[0])} loss to follow-up in the IPS arm and "
                  f"{_pct(losses[1])} in the TAU arm")
    text = (f"A total of {n} participants ({n / 2:g} per arm) gives {_pct(power_n)} power "
            f"(Monte Carlo 95% interval {_pct(ci_n[0])} to {_pct(ci_n[1])}; {which}) to "
            f"detect a difference of {effect} in {outcome} at the {_pct(alpha)} level "
            f"(two-sided), {loss_words} (on average {_n(g('analysed_ips' + tail))} IPS and "
            f"{_n(g('analysed_tau' + tail))} TAU participants analysed) {cluster}. "
            f"Recruiting through {_sites_phrase(run)} for {months:g} months, the simulated "
            f"trials reach {n} randomised in {_pct(g('prob_target'))} of cases")
    if g("months_to_target_p50") is not None:
        text += f" (median {_n(g('months_to_target_p50'))} months)"
    if conditional:
        text += (f"; over every simulated trial, including those that stop short (on "
                 f"average {_n(g('randomised_mean'))} randomised), power is {_pct(power)}.")
    else:
        text += "."
    text += rates_sentence(g)
    if g("assurance_joint") is not None:
        text += (f" Allowing for the uncertainty of the pilot's estimates and a prior on the "
                 f"effect, the probability of recruiting in time and showing a significant "
                 f"benefit (assurance) is {_pct(g('assurance_joint'))}.")
    return text


# ------------------------------------------------------------------ document model

Block = tuple  # ("h", level, text) | ("p", text) | ("table", header, rows) | ("fig", file,
#               title) | ("pre", text) | ("details", summary, blocks)


def _provenance_rows(run: RunDir) -> list[list[str]]:
    prov = run.provenance
    rows = [[k, str(v)] for k, v in prov.items()]
    if not any("commit" in k for k in prov):
        rows.append(["trialsim version (report build)", __version__])
        rows.append(["git commit (report build; the run saved none)", _git_commit()])
    seed = run.cfg("seed")
    rows.insert(0, ["seed", str(seed)])
    rows.insert(1, ["overrides", " ".join(run.overrides) or "(none)"])
    return rows


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, check=True, timeout=10)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _config_text(run: RunDir) -> str:
    path = run.path / ".hydra" / "config.yaml"
    return path.read_text() if path.is_file() else "(no .hydra/config.yaml in the run directory)"


def _parameter_table(run: RunDir) -> list[Block]:
    table = run.csv("parameter_sources.csv")
    if table is None:
        return [("p", "parameter_sources.csv is missing from the run directory.")]
    rows = [[r.key, r.value, r.source] for r in table.fillna("").itertuples()]
    return [("p", "Each value as the run used it, with the citation written beside it in "
                  "conf/config.yaml or the scenario file ('assumption' where the pilot "
                  "report does not give it)."),
            ("table", ["key", "value", "source"], rows)]


def _figure_blocks(run: RunDir) -> list[Block]:
    return [("fig", name, title) for name, _n_, _d, title in FIGURES if run.has(name)]


def run_report(run: RunDir) -> tuple[str, list[Block]]:
    s = run.summary
    scenario = keys.get(s, "scenario")
    desc = " ".join(str(run.cfg("description", "") or "").split())
    title = f"trialsim planning report: {scenario}"
    blocks: list[Block] = []
    if desc:
        blocks.append(("p", desc))
    warnings = keys.get(s, "warnings") or []
    if warnings:
        blocks += [("h", 2, "Warnings"), ("ul", [str(w) for w in warnings])]
    blocks += [
        ("h", 2, "The question"),
        ("p", f"Can {_sites_phrase(run)} randomise {keys.get(s, 'target_n')} participants "
              f"within {keys.get(s, 'recruitment_months'):g} months, how long do IPS "
              "participants wait for an employment support worker, how many return the "
              "12-month questionnaire, and what power does the planned analysis have? "
              f"Answered by {keys.get(s, 'replications')} simulated trials (seed "
              f"{keys.get(s, 'seed')}); intervals are over simulated trials, MC SE is the "
              "Monte Carlo standard error."),
        ("h", 2, "Key answers"),
        ("table", ["quantity", "estimate", "uncertainty"],
         [[f.label, f.estimate, f.uncertainty] for f in key_facts(run)]),
        ("h", 2, "Sample-size justification (ready to edit)"),
        ("quote", sample_size_paragraph(run)),
        *allocation_blocks(run),
        *missing_data_blocks(run),
        *retention_strategies_blocks(run),
        ("h", 2, "Figures"),
        *_figure_blocks(run),
        *progression_blocks(run),
        ("h", 2, "Parameters and their sources"),
        *_parameter_table(run),
        ("h", 2, "Provenance"),
        ("table", ["item", "value"], _provenance_rows(run)),
        ("details", "Resolved configuration (.hydra/config.yaml)", [("pre", _config_text(run))]),
    ]
    return title, blocks


def _tail(run: RunDir) -> list[Block]:
    return [
        ("h", 2, "Figures"),
        *_figure_blocks(run),
        ("h", 2, "Parameters and their sources"),
        ("p", "The search varies the target N, the ESWs per locality, the number of sites "
              "and the months; the other values below are held as configured."),
        *_parameter_table(run),
        ("h", 2, "Provenance"),
        ("table", ["item", "value"], _provenance_rows(run)),
        ("details", "Resolved configuration (.hydra/config.yaml)", [("pre", _config_text(run))]),
    ]


def _se(x: float | None, se: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f} (MC SE {_p(se)})"


def design_report(run: RunDir) -> tuple[str, list[Block]]:
    d = run.design
    if "mode" not in d:
        return _legacy_design_report(run)
    if d["mode"] == "curve":
        return curve_report(run)
    g, crit = d.get("goals", {}), d.get("criterion", "power")
    kind = str(d.get("site_kind")).replace("_", " ")
    title = f"trialsim design search: {d.get('scenario')}"
    rec, check = d.get("recommended"), d.get("check")
    blocks: list[Block] = [
        ("p", " ".join(str(run.cfg("description", "") or "").split())),
        ("h", 2, "The question"),
        ("p", f"Which target N, ESWs per locality ({d.get('localities')} localities), number "
              f"of {kind} and recruitment months meet every goal: {crit} of the primary "
              f"analysis at least {g.get('target_power')}, P(target N randomised within the "
              f"window) at least {g.get('prob_target')}, {g.get('wait_statistic')} wait for an "
              f"ESW caseload place at most {g.get('max_wait_days')} days? A goal is met when "
              f"the one-sided Monte Carlo bound (z = {_n(g.get('confidence_z'), 2)}) clears "
              f"it with all {d.get('replications')} replications (seed {d.get('seed')}, "
              f"common random numbers); candidates far below a goal are dropped after "
              f"{d.get('screen_replications')}. {crit.capitalize()} is that of a trial that "
              "reaches its N (recruitment unconstrained); the check run counts every trial, "
              "including those that stop short."),
        ("h", 2, "Recommended design"),
    ]
    if rec is None:
        blocks.append(("p", "No design in the grid meets every goal: "
                            + (d.get("binding") or {}).get("message", "")))
    else:
        per_arm = rec["target_n"] / 2
        blocks += [
            ("p", f"Randomise {rec['target_n']} participants ({per_arm:g} per arm) through "
                  f"{rec['sites']} {kind} over {rec['months']:g} months, with "
                  f"{rec['esw_per_locality']} ESW(s) in each of {rec['localities']} localities "
                  f"({rec['esws']} ESWs). Chosen by the rule: {d.get('rule')}."),
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
              ["service-months (mean)", _n(rec.get("service_months"), 0), ""],
              ["ESW-months (mean)", _n(rec.get("esw_months"), 0), ""],
              ["months recruiting (mean, first opening to close)",
               _n(rec.get("recruiting_months")), ""]]),
        ]
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
        ("table", ["ESWs per locality", "ESWs", "smallest N", f"{crit} (MC SE)"],
         [[str(f["esw_per_locality"]), str(f["esws"]),
           str(f["target_n"]) if f["target_n"] is not None else
           ("none in the grid" if f.get("searched") else "not searched (fewer ESWs cannot "
                                                         "do better)"),
           _se(f.get(crit), f.get(f"{crit}_mc_se")) if f["target_n"] is not None else
           (f"best {_p(f.get('best'))} at N {f.get('best_n')}" if f.get("searched") else "")]
          for f in d.get("frontier", [])]),
        ("p", "Sites and months are searched for the smallest N, which the rule puts first "
              "(a larger N comes with fewer ESWs: slower to recruit, longer waits, so a design "
              "exists with it only if one exists with the smallest). To plan with fewer ESWs, "
              "rerun with design.max_esw_per_locality set to that number."),
        ("h", 2, "Feasible designs"),
        ("p", f"The smallest N with the fewest {kind} that recruit it in each window (more "
              f"sites also meet the goals and cost more), best first by the rule "
              f"({d.get('rule')}). Service-months: the months each site is open for "
              "recruitment, summed; ESW-months: all ESWs from the first opening to the close "
              "of recruitment plus the longest support a participant randomised at the close "
              "can receive (means over replications). Waits are simulated down the ranking "
              "until a design meets the wait goal."),
        ("table", ["N", "ESWs/locality", kind, "months", crit, "P(target)",
                   f"{g.get('wait_statistic')} wait (days)", "service-months", "ESW-months",
                   "meets every goal"],
         [[str(r["target_n"]), str(r["esw_per_locality"]), str(r["sites"]), f"{r['months']:g}",
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
        *_tail(run),
    ]
    return title, blocks


def _design_paragraph(run: RunDir, rec: dict[str, Any], check: dict[str, Any] | None,
                      crit: str, kind: str) -> str:
    """The recommended design in the words of a grant application, every number from
    design.json or the run's config."""
    c = run.cfg
    effect, icc = c("outcome.effect_m12"), c("outcome.esw_icc")
    alpha = c("analysis.alpha", 0.05)
    primary = c("analysis.primary", "rtw_se")
    outcome = ("the proportion in work at 12 months" if primary == "employment" else
               f"return-to-work self-efficacy (0-10) at 12 months, a difference of {effect:g} "
               "point" + ("" if effect == 1 else "s") if effect is not None else
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
    text = (f"A total of {rec['target_n']} participants ({rec['target_n'] / 2:g} per arm) "
            f"gives {_pct(value)} {what} (Monte Carlo SE {_p(se)}, {source}) for {outcome}, at the "
            f"{_pct(alpha)} level (two-sided), allowing for loss to follow-up as in the pilot "
            f"and clustering by ESW in the IPS arm (ICC {icc if icc is not None else 'n/a'}, "
            f"{rec['esws']} ESWs: {rec['esw_per_locality']} in each of {rec['localities']} "
            f"localities). Recruiting through {rec['sites']} {kind} over {rec['months']:g} "
            f"months, the simulated trials reach {rec['target_n']} randomised with probability "
            f"{_p(rec.get('prob_target'))}")
    if check:
        text += (f" in the search; in the check run {_p(check.get('prob_target'))}, and "
                 f"{_pct(check.get(crit))} {crit} counting the trials that stop short")
    return text + "."


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


def _work_text(d: dict[str, Any]) -> str:
    w = d.get("work", {})
    return (f"Simulated: {w.get('replications')} replications in {w.get('runs')} runs "
            f"({_n(w.get('participants'), 0)} participants). Each row below is a candidate "
            "and the goal it was tested for; 'screened out' failed after the screening "
            "replications.")


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


def curve_report(run: RunDir) -> tuple[str, list[Block]]:
    d = run.design
    g, crit = d.get("goals", {}), d.get("criterion", "power")
    has_assurance = any("assurance" in e for e in d.get("evaluations", []))
    title = f"trialsim power curve: {d.get('scenario')}"
    header = ["N", "ESWs/locality", "power (MC SE)"] + (["assurance (MC SE)"] if
                                                          has_assurance else []) + \
        [f"P(target within {d.get('scenario_months'):g} months)"]
    rows = [[str(e["target_n"]), str(e["esw_per_locality"]),
             _se(e.get("power"), e.get("power_mc_se"))]
            + ([_se(e.get("assurance"), e.get("assurance_mc_se"))] if has_assurance else [])
            + [_se(e.get("prob_target"), e.get("prob_target_mc_se"))]
            for e in d.get("evaluations", [])]
    blocks: list[Block] = [
        ("p", " ".join(str(run.cfg("description", "") or "").split())),
        ("h", 2, "The question"),
        ("p", f"The power of the primary analysis against the total N (recruitment "
              f"unconstrained: each trial reaches its N), {d.get('replications')} simulated "
              f"trials per N on common random numbers (seed {d.get('seed')}), and the "
              f"probability of recruiting N within {d.get('scenario_months'):g} months with "
              f"{d.get('scenario_sites')} {d.get('site_kind')}."),
        ("h", 2, f"Smallest N with {crit} >= {g.get('target_power')}"),
        ("table", ["ESWs per locality", "ESWs", "smallest N (one-sided bound clears it)"],
         [[str(m["esw_per_locality"]), str(m["esws"]),
           str(m["target_n"]) if m["target_n"] is not None else "none in the grid"]
          for m in d.get("smallest_n", [])]),
        ("h", 2, "Power against N"),
        ("table", header, rows),
        ("p", _work_text(d).split(". Each row")[0] + "."),
        *_tail(run),
    ]
    return title, blocks


def _legacy_design_report(run: RunDir) -> tuple[str, list[Block]]:
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
        ("p", " ".join(str(run.cfg("description", "") or "").split())),
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
        *_tail(run),
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


# ------------------------------------------------------------------------- renderers

def to_markdown(title: str, blocks: list[Block]) -> str:
    out = [f"# {title}", ""]
    for b in blocks:
        kind = b[0]
        if kind == "h":
            out += ["#" * b[1] + " " + b[2], ""]
        elif kind == "p":
            out += [b[1], ""] if b[1] else []
        elif kind == "quote":
            out += ["> " + b[1], ""]
        elif kind == "ul":
            out += [f"- {x}" for x in b[1]] + [""]
        elif kind == "table":
            esc = lambda x: str(x).replace("|", "\\|").replace("\n", " ")  # noqa: E731
            out.append("| " + " | ".join(b[1]) + " |")
            out.append("|" + "---|" * len(b[1]))
            out += ["| " + " | ".join(esc(x) for x in row) + " |" for row in b[2]]
            out.append("")
        elif kind == "fig":
            out += [f"![{b[2]}]({b[1]})", "", f"*{b[2]}* ({b[1]}, {Path(b[1]).stem}.svg)", ""]
        elif kind == "pre":
            out += ["```", b[1].rstrip("\n"), "```", ""]
        elif kind == "details":
            out += [f"<details><summary>{b[1]}</summary>", ""]
            out += to_markdown("", b[2]).split("\n")[2:]
            out += ["</details>", ""]
    return "\n".join(out).rstrip("\n") + "\n"


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.9em}
th,td{border:1px solid #ccc;padding:0.25em 0.55em;text-align:left;vertical-align:top}
th{background:#f2f2f2} blockquote{border-left:4px solid #0072B2;margin:1em 0;
padding:0.4em 1em;background:#f5f9fc} figure{margin:1.2em 0} img{max-width:100%}
figcaption{font-size:0.9em;color:#444} pre{background:#f7f7f7;padding:0.8em;
overflow-x:auto;font-size:0.8em} h1{font-size:1.6em} h2{border-bottom:1px solid #ddd}"""


def to_html(title: str, blocks: list[Block], base: Path) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{e(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
           f"<h1>{e(title)}</h1>"]
    out += _html_blocks(blocks, base)
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_blocks(blocks: list[Block], base: Path) -> list[str]:
    e = html.escape
    out: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind == "h":
            out.append(f"<h{b[1]}>{e(b[2])}</h{b[1]}>")
        elif kind == "p" and b[1]:
            out.append(f"<p>{e(b[1])}</p>")
        elif kind == "quote":
            out.append(f"<blockquote>{e(b[1])}</blockquote>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in b[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{e(h)}</th>" for h in b[1])
            body = "".join("<tr>" + "".join(f"<td>{e(str(x))}</td>" for x in row) + "</tr>"
                           for row in b[2])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "fig":
            raw = (base / b[1]).read_bytes()
            width = int.from_bytes(raw[16:20], "big") // 2  # PNG header; 200 dpi at 100 px/in
            data = base64.b64encode(raw).decode("ascii")
            out.append(f'<figure><img alt="{e(b[2])}" width="{width}" '
                       f'src="data:image/png;base64,{data}">'
                       f"<figcaption>{e(b[2])}</figcaption></figure>")
        elif kind == "pre":
            out.append(f"<pre>{e(b[1])}</pre>")
        elif kind == "details":
            out.append(f"<details><summary>{e(b[1])}</summary>")
            out += _html_blocks(b[2], base)
            out.append("</details>")
    return out


def write_report(run: RunDir) -> list[Path]:
    if run.summary is not None:
        title, blocks = run_report(run)
    elif run.design is not None:
        title, blocks = design_report(run)
    else:
        return []
    blocks = blocks + budget_blocks(run)
    md, page = run.path / "report.md", run.path / "report.html"
    md.write_text(to_markdown(title, blocks))
    page.write_text(to_html(title, blocks, run.path))
    return [md, page]


def sweep_thresholds(sweep_dir: Path) -> dict[str, float]:
    """The planner's goals (design.target_power, design.prob_target) from a job's config."""
    for job in sorted(sweep_dir.iterdir()):
        run = RunDir(job)
        if run.config:
            return {k: float(run.cfg(f"design.{k}")) for k in ("target_power", "prob_target")
                    if run.cfg(f"design.{k}") is not None}
    return {}


def build_sweep(sweep_dir: Path) -> list[Path]:
    """The sweep's heatmaps (or line chart) from its sweep_summary.csv."""
    import pandas as pd

    path = sweep_dir / SWEEP_SUMMARY
    if not path.is_file():
        return []
    table = pd.read_csv(path)
    jobs = [d for d in sorted(sweep_dir.iterdir()) if (d / ".hydra" / "config.yaml").is_file()]
    first = RunDir(jobs[0]) if jobs else RunDir(sweep_dir)
    caption = (f"sweep of {len(table)} jobs, scenario {first.cfg('scenario_name')}  |  "
               f"{first.cfg('replications')} replications each, seed {first.cfg('seed')} "
               "(common random numbers)")
    return sweep_figure(table, sweep_thresholds(sweep_dir), sweep_dir, caption)


def build(path: Path, *, charts: bool = True, report: bool = True) -> list[Path]:
    """Every figure and the report for a run, design-search or sweep directory."""
    path = Path(path)
    if (path / SWEEP_SUMMARY).is_file():
        return build_sweep(path) if charts else []
    run = RunDir(path)
    if not run.has("parameter_sources.csv") and run.config:
        write_parameter_sources(path, run.config, run.overrides, run.cfg("scenario_name"))
    made = draw_figures(run) if charts else []
    if report:
        made += write_report(run)
    return made


def publish(out_dir: Path, *, charts: bool, report: bool) -> list[Path]:
    """At the end of a run or design search: note each parameter's source beside the
    results, then draw the figures and write the report from the directory's files."""
    run = RunDir(Path(out_dir))
    write_parameter_sources(run.path, run.config, run.overrides, run.cfg("scenario_name"))
    return build(run.path, charts=charts, report=report)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trialsim.reporting.report",
                                 description="Rebuild a finished run's figures and report "
                                             "from its files (no simulation).")
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--no-charts", action="store_true", help="skip the figures")
    ap.add_argument("--no-report", action="store_true", help="skip report.md / report.html")
    args = ap.parse_args(argv)
    if not args.run_dir.is_dir():
        print(f"trialsim: error: {args.run_dir} is not a directory", file=sys.stderr)
        return 2
    problem = damage(args.run_dir)
    if problem is None:
        try:  # built aside and published only when complete: a failure changes nothing
            with staged(args.run_dir) as stage:
                made = [args.run_dir / p.relative_to(stage) for p in
                        build(stage, charts=not args.no_charts, report=not args.no_report)]
        except Exception as ex:  # noqa: BLE001 - damage the checks missed: one line
            problem = f"cannot rebuild {args.run_dir}: {type(ex).__name__}: " \
                      f"{(str(ex).splitlines() or [''])[0]}"
    if problem is not None:
        print(f"trialsim: error: {problem}; nothing was changed", file=sys.stderr)
        return 2
    for p in made:
        print(p)
    if not made:
        print(f"trialsim: nothing to build in {args.run_dir} (no summary.json, design.json "
              f"or {SWEEP_SUMMARY})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
