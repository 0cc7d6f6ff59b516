"""Hydra structured-config schema: the types of every key a planner can set.

The values (and the table each default comes from) live in `conf/config.yaml` and
the scenario YAMLs; this schema only fixes names and types, so that a misspelt key or
a word where a number belongs is caught by Hydra before the model runs. Range checks
(a proportion above 1, a negative rate) are done in `trialsim.inputs.params`, which turns this
config into the frozen parameters the model reads.

Proportions and rates are typed `Any` on purpose: each may be written either as a
plain number (a planning assumption) or as the pilot's evidence, `{k, n}` for a
proportion and `{events, exposure}` for a rate, so that its uncertainty can later be
sampled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class OpeningConfig:
    months: Optional[list[float]] = None  # explicit opening month per site
    first_month: float = MISSING
    interval_months: float = MISSING  # gap between successive openings
    setup_delay_mean_months: float = MISSING  # random extra delay per site (Gamma)
    setup_delay_shape: float = MISSING
    active_months: Optional[float] = None  # recruiting span per site; None = to the end
    ramp_up_months: float = MISSING  # rates rise linearly from 0 at opening to full; 0 = a step


@dataclass
class ScreeningStagesConfig:
    contact: Any = MISSING
    eligible: Any = MISSING
    consent: Any = MISSING


@dataclass
class PoissonChannelConfig(ScreeningStagesConfig):
    uptake: float = MISSING  # share of sites of this type running the channel
    rate: Any = MISSING  # per site-month


@dataclass
class MailshotConfig(ScreeningStagesConfig):
    uptake: float = MISSING
    packs_per_1000: float = MISSING
    batches: int = MISSING
    batch_interval_months: float = MISSING
    reply: Any = MISSING
    reply_delay_mean_days: float = MISSING


@dataclass
class HandSearchConfig(ScreeningStagesConfig):
    uptake: float = MISSING
    yield_per_nurse_day: Any = MISSING
    nurse_days_per_practice: float = MISSING
    nurses: int = MISSING
    nurse_day_budget: float = MISSING
    start_month: Optional[float] = None  # the nurse starts no earlier than this; None: on opening


@dataclass
class GPPracticesConfig:
    count: int = MISSING
    list_size: int = MISSING
    frailty_shape: float = MISSING
    rate_discount: float = MISSING  # a new site's rates relative to the pilot's
    opening: OpeningConfig = field(default_factory=OpeningConfig)
    mailshot: MailshotConfig = field(default_factory=MailshotConfig)
    hand_search: HandSearchConfig = field(default_factory=HandSearchConfig)
    opportunistic: PoissonChannelConfig = field(default_factory=PoissonChannelConfig)
    posters: PoissonChannelConfig = field(default_factory=PoissonChannelConfig)


@dataclass
class PainServicesConfig:
    count: int = MISSING
    frailty_shape: float = MISSING
    rate_discount: float = MISSING  # a new site's rates relative to the pilot's
    opening: OpeningConfig = field(default_factory=OpeningConfig)
    clinics: PoissonChannelConfig = field(default_factory=PoissonChannelConfig)


@dataclass
class SitesConfig:
    gp_practices: GPPracticesConfig = field(default_factory=GPPracticesConfig)
    pain_services: PainServicesConfig = field(default_factory=PainServicesConfig)


@dataclass
class ScreeningConfig:
    delay_mean_days: float = MISSING
    coordinators: Optional[int] = MISSING  # None = unlimited
    calls_per_day: float = MISSING


@dataclass
class PilotCapacityConfig:
    random_until_month: float = MISSING
    ips_until_month: float = MISSING
    ips_places: Optional[int] = MISSING  # None: no cap


@dataclass
class TrialConfig:
    target_n: int = MISSING
    recruitment_months: float = MISSING
    allocation: str = MISSING  # blocks | pilot_capacity | fixed_counts
    block_sizes: Any = MISSING  # a list of sizes, or auto (trialsim.inputs.allocation_ratio)
    # "IPS:TAU"; Any so that a list or a YAML base-60 number is refused by name
    # (checked in trialsim.inputs.allocation_ratio)
    allocation_ratio: Any = MISSING
    localities: int = MISSING
    setup_months: float = MISSING  # before month 0: approvals, contracts, hiring (costed)
    closeout_months: float = MISSING  # after the last return: lock, analysis, report (costed)
    pilot_capacity: PilotCapacityConfig = field(default_factory=PilotCapacityConfig)
    fixed_counts: Any = None  # {setting: {ips, tau}}, checked in inputs.params


@dataclass
class YearsOutOfWorkConfig:
    pain_service_ratio: float = MISSING  # pain-service recruits' years out of work, relative
    q25: float = MISSING
    median: float = MISSING
    q75: float = MISSING
    minimum: float = MISSING
    maximum: float = MISSING
    long_term_share: Any = MISSING  # a long-term group, uniform from long_term_from to maximum
    long_term_from: float = MISSING


@dataclass
class ParticipantsConfig:
    years_out_of_work: YearsOutOfWorkConfig = field(default_factory=YearsOutOfWorkConfig)
    male: Any = MISSING  # share of men (a proportion)
    single: Any = MISSING  # share single, living without a partner (a proportion)


@dataclass
class EswConfig:
    per_locality: int = MISSING
    caseload: float = MISSING  # places per ESW; inf = no limit
    first_appointment_mean_days: float = MISSING
    disengage_wait_per_month: float = MISSING
    disengage_after_assessment: Any = MISSING
    support_months: Optional[float] = MISSING  # None = time-unlimited
    in_work_support_months: float = MISSING
    fte: float = 1.0  # each post's full-time equivalent; places = caseload x fte
    hire: str = "day0"  # day0 | as_sites_open (costs: when the posts start)
    placement_subsidy_months: float = 6.0  # costs: a first supported job's subsidised months


@dataclass
class OtConfig:
    count: int = MISSING
    sessions_per_week: float = MISSING
    joint_delay_mean_days: float = MISSING


@dataclass
class BookletConfig:
    delay_mean_days: float = MISSING
    appointment_hours: float = MISSING


@dataclass
class DeliveryConfig:
    esw: EswConfig = field(default_factory=EswConfig)
    ot: OtConfig = field(default_factory=OtConfig)
    booklet: BookletConfig = field(default_factory=BookletConfig)


@dataclass
class ReadyConfig:
    primary_care: Any = MISSING
    pain_service: Any = MISSING
    odds_ratio_per_year_out: float = MISSING


@dataclass
class ArmPair:
    ips: Any = MISSING
    tau: Any = MISSING


@dataclass
class FitCorrelationConfig:
    """Correlations of the three fitted employment rates' estimates (entry, loss,
    exponent), as scripts/calibrate_pathway.py found them."""

    entry_loss: Any = MISSING
    entry_exponent: Any = MISSING
    loss_exponent: Any = MISSING


@dataclass
class EmploymentConfig:
    ready: ReadyConfig = field(default_factory=ReadyConfig)
    ips_relative_risk_m12: Any = MISSING
    self_job_entry_per_month: Any = MISSING
    self_job_entry_years_exponent: Any = MISSING
    job_loss_per_month: Any = MISSING
    fit_correlation: FitCorrelationConfig = field(default_factory=lambda: FitCorrelationConfig())
    readiness_per_month: Any = MISSING
    withdraw_on_job: ArmPair = field(default_factory=ArmPair)


@dataclass
class ReturnConfig:
    """Table 8's chain: the first wave, then 6 months by the 3-month return and 12 by
    the 6-month return."""

    first: Any = MISSING
    m6_after_return: Any = MISSING
    m6_after_miss: Any = MISSING
    m12_after_return: Any = MISSING
    m12_after_miss: Any = MISSING


@dataclass
class ReturnByArm:
    ips: ReturnConfig = field(default_factory=ReturnConfig)
    tau: ReturnConfig = field(default_factory=ReturnConfig)


@dataclass
class InterimContactConfig:
    retained: Any = MISSING


@dataclass
class EswCompletionConfig:
    enabled: Any = MISSING  # checked as a real boolean
    return_prob: Any = MISSING
    mode_effect: Any = MISSING  # RTW-SE points added to an ESW-assisted questionnaire


@dataclass
class ReturnCovariatesConfig:
    """Log odds ratios of returning a questionnaire: numbers or fits {estimate, se}."""

    male: Any = MISSING
    single: Any = MISSING
    per_year_out_of_work: Any = MISSING
    per_sd_baseline_rtw_se: Any = MISSING


@dataclass
class ItemsCompleteConfig:
    """P(RTW-SE items complete | questionnaire returned), proportions by Table 8 wave."""

    baseline: Any = MISSING
    m3: Any = MISSING
    m6: Any = MISSING
    m12: Any = MISSING


@dataclass
class TextFollowUpConfig:
    enabled: Any = MISSING
    response: Any = MISSING


@dataclass
class FollowUpConfig:
    months: list[float] = MISSING
    reminder_weeks: float = MISSING
    after_reminder: Any = MISSING
    returns: ReturnByArm = field(default_factory=ReturnByArm)
    share_in_work: ReturnByArm = field(default_factory=ReturnByArm)
    work_return_ratio: Any = MISSING
    interim_contact: InterimContactConfig = field(default_factory=InterimContactConfig)
    esw_completion: EswCompletionConfig = field(default_factory=EswCompletionConfig)
    text_followup: TextFollowUpConfig = field(default_factory=TextFollowUpConfig)
    linkage: Any = MISSING  # checked as a real boolean: -1 is an error, not true
    return_covariates: ReturnCovariatesConfig = field(default_factory=ReturnCovariatesConfig)
    mnar_gamma: Any = MISSING  # log odds of return per SD of the unobserved score
    rtw_se_items_complete: ItemsCompleteConfig = field(default_factory=ItemsCompleteConfig)
    compare_strategies: Any = MISSING  # checked as a real boolean


@dataclass
class ControlTrajectoryConfig:
    months: list[float] = MISSING
    means: list[float] = MISSING
    sds: list[float] = MISSING


@dataclass
class OutcomeConfig:
    effect_m12: float = MISSING
    effect_if_not_received: float = MISSING  # share of effect_m12 without IPS as intended
    max_wait_weeks: Optional[float] = MISSING  # a later first ESW appointment: not as intended
    work_effect: float = MISSING
    work_effect_centring: str = MISSING  # within_arm | pooled
    within_person_corr: float = MISSING
    esw_icc: float = MISSING
    control: ControlTrajectoryConfig = field(default_factory=ControlTrajectoryConfig)
    ips_sds: Optional[list[float]] = None  # IPS arm's SDs at control.months; None: the control's
    sd_scale: float = 1.0  # every SD above (both arms, every wave) x this


@dataclass
class SensitivityConfig:
    delta_grid: list[float] = field(default_factory=lambda: [0.0])  # SD units
    arm: str = MISSING  # ips | tau | both


@dataclass
class AnalysisConfig:
    alpha: float = MISSING
    method: str = MISSING  # cluster_robust | partially_nested | ancova
    primary: str = MISSING  # rtw_se | employment
    esw_variance: str = MISSING  # unbounded | nonnegative
    small_sample: str = MISSING  # kenward_roger | satterthwaite
    missing_data: str = MISSING  # complete_case | repeated_measures | multiple_imputation
    imputations: int = MISSING  # multiple_imputation: completed datasets
    compare_missing_data: Any = MISSING  # all three analyses per trial; checked as true or false
    sensitivity: SensitivityConfig = field(default_factory=lambda: SensitivityConfig())


@dataclass
class UncertaintyConfig:
    mode: str = MISSING  # none | pilot
    effect_prior_sd: float = MISSING
    frailty_shape_log_sd: float = MISSING  # log-normal prior on each kind's frailty shape
    outcome_sd_df: float = MISSING  # outcome SDs x sqrt(df / chi2_df); inf: fixed
    within_person_corr_sd: float = MISSING  # Beta prior around outcome.within_person_corr
    esw_icc_sd: float = MISSING  # Beta prior around outcome.esw_icc
    new_site: str = MISSING  # predictive | pooled: a new site's rate from the pilot sites'


@dataclass
class ThresholdsConfig:
    green: float = MISSING  # at or above: green (go)
    red: float = MISSING  # below: red (stop); amber between


@dataclass
class RetentionThresholdsConfig(ThresholdsConfig):
    relative_to: str = MISSING  # planned | absolute: returns as a share of the planned return


@dataclass
class AmberActionConfig:
    extra_sites: int = MISSING  # sites opened at the review if amber (0: none)
    site_kind: Optional[str] = None  # gp_practices | pain_services; None: the scenario's
    retention: Optional[str] = None  # esw_completion | text_followup from the review on


@dataclass
class ProgressionConfig:
    review_month: Optional[float] = None  # None: a third of the recruitment window
    criteria: list[str] = MISSING  # recruitment, sites, retention, adherence
    recruitment: ThresholdsConfig = field(default_factory=ThresholdsConfig)
    sites: ThresholdsConfig = field(default_factory=ThresholdsConfig)
    retention: RetentionThresholdsConfig = field(default_factory=RetentionThresholdsConfig)
    adherence: ThresholdsConfig = field(default_factory=ThresholdsConfig)
    adherence_allow_weeks: float = MISSING  # IPS randomised this long before the review
    overall_rule: str = MISSING  # any_red | all_red
    no_data: str = MISSING  # amber | ignore: a criterion nobody can be judged on yet
    propose_max_stop_success: Optional[float] = None  # threshold proposal; None: none
    amber_action: AmberActionConfig = field(default_factory=AmberActionConfig)


@dataclass
class DesignConfig:
    target_power: float = MISSING
    n_start: int = MISSING
    n_stop: int = MISSING
    n_step: int = MISSING
    site_kind: Any = MISSING  # a kind, or a list of kinds each searched (cheapest kept)
    max_sites: int = MISSING
    months: list[float] = MISSING
    prob_target: float = MISSING
    max_esw_per_locality: int = MISSING
    max_wait_days: float = MISSING
    wait_statistic: str = MISSING
    confidence: float = MISSING
    criterion: str = MISSING  # power | assurance (needs uncertainty.mode=pilot)
    screen_replications: int = MISSING  # 0: every candidate with every replication
    check_replications: Any = MISSING
    check_sensitivity: Any = field(default_factory=list)  # [key, value] pairs: the check again
    curve_esw_per_locality: Optional[list[int]] = None  # mode=curve; None: the scenario's
    objective: str = "cost"  # cost | smallest_n
    min_utilisation: float = 0.0  # floor on the ESW caseload utilisation
    esw_fte: Any = field(default_factory=lambda: [0.5, 1.0])  # FTE values tried per ESW post
    allocation_ratios: Any = field(default_factory=lambda: ["1:1"])  # IPS:TAU ratios tried
    retention_strategies: Any = None  # strategy sets tried (None: the scenario's follow-up)
    pick_n: str = "fitted"  # fitted | grid: how each ESW count's smallest N is read


@dataclass
class CostsConfig:
    """Unit costs in pounds (trialsim.inputs.cost_params); sources in conf/config.yaml."""

    esw_month: float = MISSING
    nurse_day: float = MISSING
    coordinator_hour: float = MISSING
    ot_appointment: float = MISSING
    management_month: float = MISSING
    statistician_month: float = MISSING
    data_management_month: float = MISSING
    health_economics_month: float = MISSING
    pack: float = MISSING
    questionnaire: float = MISSING
    reminder: float = MISSING
    voucher: float = MISSING
    text: float = MISSING
    esw_completion: float = MISSING
    interim_contact: float = MISSING
    site_setup: float = MISSING
    site_month: float = MISSING
    placement_month: float = 0.0  # a placement's wage subsidy for a month (0: none funded)


@dataclass
class OutputConfig:
    # Any, checked as true or false by trialsim.inputs.validation: OmegaConf's bool would
    # quietly read 2 or -1 as true
    participants_csv: Any = MISSING
    charts: Any = MISSING
    report: Any = MISSING
    print_table: Any = MISSING


@dataclass
class LimitsConfig:
    max_participant_replications: int = MISSING  # refuse bigger runs (participants x reps)


@dataclass
class PrecisionConfig:
    """replications=auto: batches until the primary power is this precise, or the cap."""

    power_se: float = MISSING  # Monte Carlo SE of the primary power to reach
    max_replications: int = MISSING  # the most replications an auto run may use


@dataclass
class TrialsimConfig:
    scenario_name: str = MISSING
    mode: str = MISSING  # run | design | curve
    description: str = ""
    replications: Any = MISSING  # a whole number, or "auto" (see precision)
    seed: int = MISSING
    n_jobs: int = MISSING
    resume: Any = False  # sweeps: skip jobs already complete for the same config (Any: as output)
    precision: PrecisionConfig = field(default_factory=PrecisionConfig)
    trial: TrialConfig = field(default_factory=TrialConfig)
    screening: ScreeningConfig = field(default_factory=ScreeningConfig)
    participants: ParticipantsConfig = field(default_factory=ParticipantsConfig)
    sites: SitesConfig = field(default_factory=SitesConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    employment: EmploymentConfig = field(default_factory=EmploymentConfig)
    follow_up: FollowUpConfig = field(default_factory=FollowUpConfig)
    outcome: OutcomeConfig = field(default_factory=OutcomeConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)
    progression: ProgressionConfig = field(default_factory=ProgressionConfig)
    design: DesignConfig = field(default_factory=DesignConfig)
    costs: CostsConfig = field(default_factory=CostsConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)


SCHEMA_NAME = "trialsim_schema"


def register_configs() -> None:
    """Register the schema so that `conf/config.yaml` can name it in its defaults."""
    ConfigStore.instance().store(name=SCHEMA_NAME, node=TrialsimConfig)
