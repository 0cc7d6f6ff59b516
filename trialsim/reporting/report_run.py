"""The run report (`mode=run`): the question, the key answers, the sample-size
paragraph, the figures, then the extra sections (`report.RUN_SECTIONS`), the assumptions
table and the appendices. Every number from summary.json or the saved config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trialsim.reporting import keys
from trialsim.reporting.precision import FEW_TRIALS
from trialsim.reporting.report_appendix import appendix_blocks, assumptions_section
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
from trialsim.reporting.report_figures import figure_section
from trialsim.reporting.report_render import prose
from trialsim.reporting.rundir import RunDir

METHOD_WORDS = {  # analysis.method as the sample-size paragraph names it
    "partially_nested": "a partially nested mixed model (REML)",
    "cluster_robust": "ANCOVA with a cluster-robust (CR2) SE and Bell-McCaffrey degrees of "
                      "freedom",
    "ancova": "ANCOVA, which ignores the clustering (anti-conservative when the ICC is "
              "above 0)",
}
OUTCOME_NAMES = {"rtw_se": "RTW self-efficacy at 12 months",
                 "employment": "in work at 12 months"}


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
    reached = g("replications_target_reached")
    if g("power_primary_if_reached") is not None and (reached or 0) >= FEW_TRIALS:
        facts.append(Fact("power, primary, in trials reaching the target",
                          "power_primary_if_reached", _p(g("power_primary_if_reached")),
                          f"{reached} trials reached it"))
    elif reached is not None:
        facts.append(Fact("power, primary, in trials reaching the target", None,
                          "n/a", f"{reached} trial{'' if reached == 1 else 's'} reached the "
                                 f"target (fewer than {FEW_TRIALS}: not worth quoting)"))
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
        *(Fact(f"12-month questionnaire returned, {arm.upper()}", f"returned_m12_{arm}",
               _p(g(f"returned_m12_{arm}")),
               "share of the arm sent one") for arm in ("ips", "tau")),
        Fact("analysed in the primary analysis, IPS (mean)", "analysed_ips",
             _n(g("analysed_ips")), ANALYSED_WORDS.get(g("missing_data_analysis") or "", "")),
        Fact("analysed in the primary analysis, TAU (mean)", "analysed_tau",
             _n(g("analysed_tau"))),
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
    missing = g("missing_data_analysis")
    if missing == "repeated_measures":
        esw = (", an ESW random intercept in the IPS arm"
               if g("rtw_se_method") == "partially_nested" else "")
        return ("a repeated-measures mixed model over every follow-up wave (unstructured "
                f"covariance, baseline and covariates{esw}), the effect at 12 months with "
                "Kenward-Roger's small-sample correction")
    words = METHOD_WORDS.get(g("rtw_se_method"), "the pre-specified analysis")
    if missing == "multiple_imputation":
        words = f"multiple imputation (Rubin's rules), each completed dataset by {words}"
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


ANALYSED_WORDS = {  # who the primary analysis counts, by analysis.missing_data
    "repeated_measures": "everyone with an RTW-SE score at any follow-up wave",
    "multiple_imputation": "everyone randomised, 12-month scores imputed",
    "complete_case": "those with a 12-month RTW-SE score",
}


def returned_of_randomised(summary: dict[str, Any], arm: str) -> float | None:
    """12-month questionnaires returned over the arm's randomised (mean over trials)."""
    return ((summary.get("outcome") or {}).get("returned_m12_of_randomised") or {}).get(arm)


def follow_up_words(summary: dict[str, Any], if_reached: bool = False) -> str:
    """The loss to follow-up a panel reads first: the 12-month questionnaires returned
    per arm; then how many the pre-specified analysis counts (all waves for the
    repeated-measures model, so fewer are lost to it than to the 12-month wave)."""
    returns = keys.get(summary, "retention") or {}
    m12 = [(returns.get(arm) or {}).get("m12") for arm in ("ips", "tau")]
    losses = [loss_to_follow_up(summary, arm, if_reached) for arm in ("ips", "tau")]
    method = ANALYSED_WORDS.get(keys.get(summary, "missing_data_analysis") or "", "")
    words = ("allowing for loss to follow-up as simulated" if None in m12 else
             f"allowing for {_pct(m12[0])} of the IPS arm and {_pct(m12[1])} of the TAU arm "
             "returning the 12-month questionnaire sent to them")
    of_all = [returned_of_randomised(summary, arm) for arm in ("ips", "tau")]
    if None not in m12 and None not in of_all:
        words += (f" ({_pct(of_all[0])} and {_pct(of_all[1])} of all randomised: a participant "
                  "who withdrew is sent none)")
    tail = "_if_reached" if if_reached else ""
    counts = (f"on average {_n(keys.get(summary, 'analysed_ips' + tail))} IPS and "
              f"{_n(keys.get(summary, 'analysed_tau' + tail))} TAU participants analysed")
    if None not in losses and method:
        return (f"{words} (the analysis counts {method}: {_pct(losses[0])} of the IPS arm "
                f"and {_pct(losses[1])} of the TAU arm are not analysed, {counts})")
    return f"{words} ({counts})"


KIND_WORDS = {"pain_services": "community pain services", "gp_practices": "GP practices"}
WHY_DISCOUNT = (
    "the pilot's report calls its circumstances favourable (recruitment through pain "
    "services \"appears effective and efficient, particularly when the pain team are "
    "integrated within the research\", WP5 Discussion; \"Our research was carried out in "
    "the optimal circumstances ... community pain services were integral to the research "
    "right from the application stage\", Conclusion, \"Information about the acceptability, "
    "engagement and likely participation of patients and healthcare providers in primary "
    "care in a future trial\") and "
    "UK HTA trials recruit a median 0.92 participants per centre-month (IQR 0.43 to 2.79; "
    "Walters et al. 2017, BMJ Open 7:e015276), against the pilot's 1.3 per pain "
    "service-month (13 recruits, Table 3, over an exposure inferred as 2 services x 5 "
    "months: the report gives only \"a total of 5 months\")")


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
        return (" The headline P(target) recruits at the pilot's own rates (no site "
                "kind's rates are discounted for new sites); " + WHY_DISCOUNT
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
    sd = sd_words(c)
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
    conditional = (reached or 0) >= FEW_TRIALS and g("power_primary_if_reached") is not None
    power_n = g("power_primary_if_reached") if conditional else power
    ci_n = (g("power_primary_if_reached_ci95") if conditional else ci) or [None, None]
    which = (f"{reached} of {g('replications')} simulated trials, those that reached {n}"
             if conditional else f"{g('replications')} simulated trials; "
             + (f"only {reached} reached {n}, too few to judge" if reached else
                f"none reached {n}") + ", so this counts every trial as it stopped")
    loss_words = follow_up_words(s, conditional)
    return prose(
        "sample_size", n=n, per_arm=per_arm(n, run.cfg("trial.allocation_ratio", "1:1")),
        power=_pct(power_n), ci_lo=_pct(ci_n[0]), ci_hi=_pct(ci_n[1]), which=which,
        effect=effect, outcome=outcome, alpha=_pct(alpha),
        losses=loss_words, cluster=cluster, sites=_sites_phrase(run),
        months=f"{months:g}", prob_target=_pct(g("prob_target")),
        median_months=(_n(g("months_to_target_p50")) if g("months_to_target_p50") is not None
                       else None),
        conditional=conditional, randomised_mean=_n(g("randomised_mean")),
        power_all=_pct(power), rates=rates_sentence(g).strip(),
        assurance=(_pct(g("assurance_joint")) if g("assurance_joint") is not None else None),
        target=target_difference(run) if primary == "rtw_se" else "")


def target_difference(run: RunDir) -> str:
    """Where the RTW-SE target difference comes from, in the words a panel asks for."""
    c = run.cfg
    effect, sds, months = (c("outcome.effect_m12"), c("outcome.control.sds", []),
                           c("outcome.control.months", []))
    if effect is None or 12 not in months or len(sds) != len(months):
        return ""
    assurance = keys.get(run.summary, "assurance_joint")
    sd = c("outcome.sd_scale", 1.0) * sds[months.index(12)]
    return prose("target_difference", effect=f"{effect:.1f}", standardised=f"{effect / sd:.2f}",
                 assurance=assurance is not None,
                 prior_sd=f"{c('uncertainty.effect_prior_sd', 0.5):g}")


def run_report(run: RunDir, sections: list[SectionProvider] = ()) -> tuple[str, list[Block]]:
    """The run report; `sections` (report.RUN_SECTIONS) go after the figures."""
    s = run.summary
    title = f"trialsim planning report: {keys.get(s, 'scenario')}"
    blocks: list[Block] = []
    if description(run):
        blocks.append(("p", description(run)))
    warnings = keys.get(s, "warnings") or []
    if warnings:
        blocks += [("h", 2, "Warnings"), ("ul", [str(w) for w in warnings])]
    blocks += [
        ("h", 2, "The question"),
        ("p", prose("run_question", sites=_sites_phrase(run), n=keys.get(s, "target_n"),
                    months=f"{keys.get(s, 'recruitment_months'):g}",
                    reps=keys.get(s, "replications"), seed=keys.get(s, "seed"))),
        ("h", 2, "Key answers"),
        ("table", ["quantity", "estimate", "uncertainty"],
         [[f.label, f.estimate, f.uncertainty] for f in key_facts(run)]),
        ("h", 2, "Sample-size justification (ready to edit)"),
        ("quote", sample_size_paragraph(run)),
    ]
    blocks += figure_section(run)
    for section in sections:  # report.RUN_SECTIONS
        blocks += section(run)
    return title, blocks + assumptions_section(run) + appendix_blocks(run)
