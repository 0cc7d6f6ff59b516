"""Plain words for every model parameter and every quantity a figure or table names: the
one place a config key becomes a label (and a unit) a grant reviewer reads. A key not
listed here is turned into words from its own name (`words`), never shown raw.

`<kind>` stands for a site kind and `<arm>` for an arm in the keys below."""

from __future__ import annotations

import re

KINDS = {"gp_practices": "GP practices", "pain_services": "pain services"}
KIND_ONE = {"gp_practices": "practice", "pain_services": "service"}
ARMS = {"ips": "IPS", "tau": "TAU"}
CHANNELS = {"mailshot": "mailshot", "hand_search": "hand-searching of records",
            "opportunistic": "opportunistic recruitment in consultations",
            "posters": "posters", "clinics": "recruitment in pain clinics"}
STAGES = {"contact": "share contacted", "eligible": "share eligible",
          "consent": "share consenting", "uptake": "share of sites using it"}
WAVES = {"first": "returned at 3 months", "m6_after_return": "at 6 months, after a return at 3",
         "m6_after_miss": "at 6 months, after a miss at 3",
         "m12_after_return": "at 12 months, after a return at 6",
         "m12_after_miss": "at 12 months, after a miss at 6"}

# key: (label, unit); the unit follows the value ("" for none)
_TABLE: dict[str, tuple[str, str]] = {
    "trial.target_n": ("Target sample size (randomised)", "participants"),
    "trial.recruitment_months": ("Recruitment window", "months"),
    "trial.allocation": ("Allocation", ""),
    "trial.block_sizes": ("Block sizes (drawn at random)", ""),
    "trial.localities": ("ESW localities", ""),
    "trial.setup_months": ("Trial set-up before recruitment opens", "months"),
    "trial.closeout_months": ("Close-out after the last follow-up return", "months"),
    "trial.pilot_capacity.random_until_month": ("Pilot allocation: 1:1 blocks until", "months"),
    "trial.pilot_capacity.ips_until_month": ("Pilot allocation: every recruit to IPS until",
                                             "months"),
    "trial.pilot_capacity.ips_places": ("Pilot allocation: cap on IPS places", ""),
    "trial.fixed_counts": ("Fixed allocation counts per setting", ""),
    "screening.delay_mean_days": ("Delay to the screening call (mean)", "days"),
    "screening.coordinators": ("Study coordinators screening", ""),
    "screening.calls_per_day": ("Screening calls per coordinator-day", ""),
    "participants.years_out_of_work.pain_service_ratio": (
        "Years out of work: pain-service recruits relative to primary care", "x"),
    "participants.years_out_of_work.q25": ("Years out of work: lower quartile", "years"),
    "participants.years_out_of_work.median": ("Years out of work: median", "years"),
    "participants.years_out_of_work.q75": ("Years out of work: upper quartile", "years"),
    "participants.years_out_of_work.minimum": ("Years out of work: minimum", "years"),
    "participants.years_out_of_work.maximum": ("Years out of work: maximum", "years"),
    "participants.years_out_of_work.long_term_share": (
        "Share out of work over 20 years", ""),
    "participants.years_out_of_work.long_term_from": (
        "Long-term group: out of work from", "years"),
    "sites.<kind>.count": ("<Kind> taking part", ""),
    "sites.<kind>.list_size": ("Registered patients per practice", ""),
    "sites.<kind>.frailty_shape": ("<Kind>: between-site variation in rates (Gamma shape)", ""),
    "sites.<kind>.rate_discount": ("<Kind>: a new site's rates relative to the pilot's", "x"),
    "sites.<kind>.opening.months": ("<Kind>: opening month of each site", ""),
    "sites.<kind>.opening.first_month": ("<Kind>: first site approved at", "months"),
    "sites.<kind>.opening.interval_months": ("<Kind>: interval between site approvals",
                                             "months"),
    "sites.<kind>.opening.setup_delay_mean_months": (
        "<Kind>: set-up delay from approval to first recruit (mean)", "months"),
    "sites.<kind>.opening.setup_delay_shape": ("<Kind>: set-up delay (Gamma shape)", ""),
    "sites.<kind>.opening.active_months": ("<Kind>: months each site recruits", ""),
    "sites.<kind>.opening.ramp_up_months": ("<Kind>: ramp-up to the full rate", "months"),
    "sites.<kind>.mailshot.packs_per_1000": ("Mailshot packs per 1,000 registered patients",
                                             ""),
    "sites.<kind>.mailshot.batches": ("Mailshot batches per practice", ""),
    "sites.<kind>.mailshot.batch_interval_months": ("Interval between mailshot batches",
                                                    "months"),
    "sites.<kind>.mailshot.reply": ("Mailshot: packs returning a reply", ""),
    "sites.<kind>.mailshot.reply_delay_mean_days": ("Mailshot: postal reply delay (mean)",
                                                    "days"),
    "sites.<kind>.hand_search.yield_per_nurse_day": (
        "Hand-searching: recruits", "nurse-days"),
    "sites.<kind>.hand_search.nurse_days_per_practice": (
        "Hand-searching: nurse days per practice", "days"),
    "sites.<kind>.hand_search.nurses": ("Hand-searching: research nurses", ""),
    "sites.<kind>.hand_search.nurse_day_budget": ("Hand-searching: nurse-day budget", "days"),
    "sites.<kind>.hand_search.start_month": ("Hand-searching: earliest start", "months"),
    "sites.<kind>.opportunistic.rate": ("Opportunistic recruitment: recruits", "practice-months"),
    "sites.<kind>.posters.rate": ("Posters: calls", "practice-months"),
    "sites.<kind>.clinics.rate": ("Pain clinics: recruits", "service-months"),
    "delivery.esw.per_locality": ("Employment support workers (ESWs) per locality", ""),
    "delivery.esw.caseload": ("ESW caseload (active clients per ESW)", ""),
    "delivery.esw.fte": ("ESW post (full-time equivalent)", ""),
    "delivery.esw.first_appointment_mean_days": ("Wait for the first ESW appointment (mean)",
                                                 "days"),
    "delivery.esw.disengage_wait_per_month": ("Disengagement while waiting for an ESW",
                                              "per month"),
    "delivery.esw.disengage_after_assessment": ("Disengaged after the ESW assessment", ""),
    "delivery.esw.support_months": ("ESW support before a job", "months"),
    "delivery.esw.in_work_support_months": ("ESW support in work", "months"),
    "delivery.ot.count": ("Occupational therapists (joint appointments)", ""),
    "delivery.ot.sessions_per_week": ("Joint ESW and OT appointments per week", ""),
    "delivery.ot.joint_delay_mean_days": ("Delay to the joint appointment (mean)", "days"),
    "delivery.booklet.delay_mean_days": ("TAU: delay to the booklet appointment (mean)",
                                         "days"),
    "delivery.booklet.appointment_hours": ("TAU: booklet appointment length", "hours"),
    "employment.ready.primary_care": ("Ready for work at entry: primary-care recruits", ""),
    "employment.ready.pain_service": ("Ready for work at entry: pain-service recruits", ""),
    "employment.ready.odds_ratio_per_year_out": ("Readiness: odds ratio per year out of work",
                                                 ""),
    "employment.ips_relative_risk_m12": ("IPS effect on work at 12 months (relative risk)", ""),
    "employment.self_job_entry_per_month.estimate": (
        "Job entry without IPS, at 3 years out of work", "per month"),
    "employment.self_job_entry_per_month.se": ("Job entry without IPS: standard error",
                                               "per month"),
    "employment.self_job_entry_years_exponent.estimate": (
        "Fall in job entry with years out of work (exponent)", ""),
    "employment.self_job_entry_years_exponent.se": ("Fall in job entry: standard error", ""),
    "employment.job_loss_per_month.estimate": ("Job loss", "per month"),
    "employment.job_loss_per_month.se": ("Job loss: standard error", "per month"),
    "employment.fit_correlation.entry_loss": ("Fit correlation: job entry and job loss", ""),
    "employment.fit_correlation.entry_exponent": ("Fit correlation: job entry and exponent", ""),
    "employment.fit_correlation.loss_exponent": ("Fit correlation: job loss and exponent", ""),
    "employment.readiness_per_month": ("Becoming ready for work while supported",
                                       "per month"),
    "employment.withdraw_on_job.<arm>": ("<Arm>: withdrew on starting a job", ""),
    "follow_up.months": ("Follow-up waves", "months"),
    "follow_up.reminder_weeks": ("Reminder with a second copy after", "weeks"),
    "follow_up.after_reminder": ("Share of returns after the reminder", ""),
    "follow_up.returns.<arm>.<wave>": ("<Arm> questionnaire return: <wave>", ""),
    "follow_up.share_in_work.<arm>.<wave>": ("<Arm> in work among those <wave>", ""),
    "follow_up.work_return_ratio.estimate": (
        "Return probability of a worker relative to a non-worker", "x"),
    "follow_up.work_return_ratio.se": ("Return probability ratio: standard error", ""),
    "follow_up.interim_contact.retained": ("Interim contact: would-be non-returners retained",
                                           ""),
    "follow_up.esw_completion.enabled": ("Questionnaire completed with the ESW", ""),
    "follow_up.esw_completion.return_prob": ("Return when completed with the ESW", ""),
    "follow_up.text_followup.enabled": ("Text or e-mail follow-up of non-returners", ""),
    "follow_up.text_followup.response": ("Non-returners answering the text follow-up", ""),
    "follow_up.linkage": ("Employment from linked records", ""),
    "outcome.effect_m12": ("Effect of IPS received as intended on RTW-SE at 12 months",
                           "points"),
    "outcome.effect_if_not_received": ("Share of the effect without IPS as intended", ""),
    "outcome.max_wait_weeks": ("Longest wait for a first ESW appointment counted as IPS "
                               "as intended", "weeks"),
    "outcome.work_effect": ("RTW-SE higher while in work", "points"),
    "outcome.work_effect_centring": ("Work effect centred", ""),
    "outcome.within_person_corr": ("Correlation of RTW-SE between waves", ""),
    "outcome.esw_icc": ("Intra-cluster correlation between ESWs (IPS arm)", ""),
    "outcome.control.months": ("RTW-SE waves", "months"),
    "outcome.control.means": ("TAU mean RTW-SE at each wave", "points"),
    "outcome.control.sds": ("TAU SD of RTW-SE at each wave", "points"),
    "outcome.ips_sds": ("IPS SD of RTW-SE at each wave", "points"),
    "outcome.sd_scale": ("Scale of the outcome SDs", "x"),
    "analysis.alpha": ("Significance level (two-sided)", ""),
    "analysis.method": ("Primary analysis (RTW-SE)", ""),
    "analysis.primary": ("Primary outcome", ""),
    "analysis.secondary": ("Secondary outcome", ""),
    "analysis.esw_variance": ("ESW variance in the mixed model", ""),
    "analysis.small_sample": ("Small-sample correction", ""),
    "analysis.missing_data": ("Missing 12-month outcomes", ""),
    "uncertainty.mode": ("Uncertainty in the pilot's estimates", ""),
    "uncertainty.effect_prior_sd": ("Prior SD of the effect", "points"),
    "uncertainty.frailty_shape_log_sd": ("Between-site variation: log-SD of its shape", ""),
    "uncertainty.outcome_sd_df": ("Degrees of freedom behind the outcome SDs", ""),
    "uncertainty.within_person_corr_sd": ("SD of the between-wave correlation", ""),
    "uncertainty.esw_icc_sd": ("SD of the ESW intra-cluster correlation", ""),
    "uncertainty.new_site": ("A new site's rate drawn from the", ""),
    "replications": ("Simulated trials", ""),
    "seed": ("Random seed", ""),
    "design.max_esw_per_locality": ("Most ESWs per locality searched", ""),
}

NULL_WORDS = {  # what a null means, by the key's last part
    "months": "one every interval", "active_months": "to the end of the window",
    "start_month": "when the practice opens", "ips_places": "no cap", "fixed_counts": "not used",
    "coordinators": "unlimited",
}

VALUE_WORDS = {  # categorical values in words
    "blocks": "1:1 permuted blocks, stratified by setting",
    "pilot_capacity": "as in the pilot (blocks, then IPS only)",
    "fixed_counts": "fixed counts per arm",
    "partially_nested": "partially nested mixed model (REML)",
    "cluster_robust": "ANCOVA with a cluster-robust SE",
    "ancova": "ANCOVA (ignores ESWs)",
    "rtw_se": "RTW self-efficacy at 12 months", "employment": "in work at 12 months",
    "unbounded": "unbounded (may go below 0)", "bounded": "held at 0 or above",
    "kenward_roger": "Kenward-Roger", "satterthwaite": "Satterthwaite",
    "complete_case": "complete cases", "repeated_measures": "repeated-measures model",
    "within_arm": "within arm and wave", "pooled": "over both arms",
    "none": "none (the estimates as given)", "pilot": "drawn from the pilot's evidence",
    "predictive": "posterior predictive",
}


def _expand() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for key, (label, unit) in _TABLE.items():
        variants = [(key, label)]
        if "<kind>" in key:
            variants = [(k.replace("<kind>", kind), lab.replace("<Kind>", words[0].upper()
                                                                + words[1:]))
                        for k, lab in variants for kind, words in KINDS.items()]
        if "<arm>" in key:
            variants = [(k.replace("<arm>", arm), lab.replace("<Arm>", words))
                        for k, lab in variants for arm, words in ARMS.items()]
        if "<wave>" in key:
            variants = [(k.replace("<wave>", w), lab.replace("<wave>", words))
                        for k, lab in variants for w, words in WAVES.items()]
        for k, lab in variants:
            out[k] = (lab, unit)
    for kind in KINDS:  # every channel's funnel shares
        for ch, cwords in CHANNELS.items():
            for stage, swords in STAGES.items():
                key = f"sites.{kind}.{ch}.{stage}"
                out.setdefault(key, (f"{cwords[0].upper() + cwords[1:]}: {swords}", ""))
    return out


LABELS = _expand()
_RAW = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)*(?:\.[a-z0-9_]+)+\b")


def words(key: str) -> str:
    """A key not in the table, in words: its last two parts, underscores as spaces."""
    parts = key.split(".")[-2:]
    text = " ".join(p.replace("_", " ") for p in parts)
    return text[:1].upper() + text[1:]


def label(key: str) -> str:
    """The key in words; a drawn input named by its config key without `.estimate`, or a
    funnel drawn as one `<channel>.conversion`, as well."""
    if key in LABELS:
        return LABELS[key][0]
    if f"{key}.estimate" in LABELS:
        return LABELS[f"{key}.estimate"][0]
    parts = key.split(".")
    if len(parts) == 4 and parts[0] == "sites" and parts[3] == "conversion":
        where = KINDS.get(parts[1], parts[1].replace("_", " "))
        what = CHANNELS.get(parts[2], parts[2].replace("_", " "))
        return f"{what[0].upper() + what[1:]} ({where}): contacted to consented"
    return words(key)


RUN_CHANNELS = {  # a run's recruitment channels (params.channel_names()) in words
    "mailshot": "GP mailshot", "hand_search": "GP hand-searching",
    "gp_opportunistic": "GP opportunistic", "posters": "GP posters",
    "pain_clinics": "pain service clinics",
}


def channel(name: str) -> str:
    """A recruitment channel's run name (mailshot, gp_opportunistic, pain_clinics) in words."""
    return RUN_CHANNELS.get(name, name.replace("_", " "))


def unit(key: str) -> str:
    return LABELS[key][1] if key in LABELS else ""


def raw_keys(text: str) -> list[str]:
    """Dotted config keys (a.b or a_b.c_d) appearing in `text`: none may appear as a label
    in a figure or a main table (a number such as 0.95 or a file name is not one)."""
    return [m for m in _RAW.findall(text)
            if not re.search(r"\.(png|svg|csv|json|yaml|md|html|py)$", m)]


def metric(name: str) -> str:
    """A summary or sweep column in words (for figure axes and sweep heatmaps)."""
    return METRICS.get(name, label(name) if "." in name else name.replace("_", " "))


def gbp(x: float | None) -> str:
    """An amount in whole pounds with thousands separated ("n/a" for none), as the
    terminals and the reports print it."""
    return "n/a" if x is None else f"{x:,.0f}"


# The ESW caseload ratio the costs give (costs.utilisation, the search's `utilisation`):
# place-months filled over those the posts hold, and are paid for, from hire. Not
# delivery.esw_utilisation, the occupancy from the first ESW appointment to the last
# support end, which leaves out the months paid before the first client and so reads higher.
UTILISATION = "ESW paid-place utilisation"
UTILISATION_HOW = "caseload place-months used / paid for, from hire"

METRICS = {
    "prob_target_by_end": "P(target reached within the window)",
    "power_primary": "power of the primary analysis",
    "power": "power", "assurance": "assurance (probability of success)",
    "utilisation": UTILISATION, "esw_utilisation": "ESW caseload occupancy while delivering",
}
