"""The planner's priors for assurance (`uncertainty:`), built and checked from the config.

Assurance draws every input that carries pilot evidence from that evidence
(trialsim.inputs.uncertainty). What the pilot could not tell gets a prior set here, each
an assumption the planner can change or switch off: the true effect; the between-site
frailty shape (2 services cannot estimate it); the outcome SDs (Table 10's SDs rest on
26 complete cases at 12 months); the within-person correlation and the ESW ICC (not
reported). The correlation and the ICC are drawn around their `outcome.*` values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trialsim.errors import ConfigError
from trialsim.inputs.checks import MAX_SD, choice, number, reject

if TYPE_CHECKING:  # configs are read, not built, here: workers need no omegaconf
    from omegaconf import DictConfig

UNCERTAINTY_MODES = ("none", "pilot")
NEW_SITE_RULES = ("predictive", "pooled")
MAX_LOG_SD = 3.0  # a log-SD beyond 3 spreads the shape over nine orders of magnitude
BETA_PRIORS = (("within_person_corr_sd", "within_person_corr"), ("esw_icc_sd", "esw_icc"))


@dataclass(frozen=True)
class Uncertainty:
    """Assurance: each replication draws its parameters from their pilot evidence and
    these priors (0, or inf degrees of freedom: that input stays fixed)."""

    effect_prior_sd: float  # Normal(outcome.effect_m12, this)
    frailty_shape_log_sd: float = 0.0  # log-normal around sites.<kind>.frailty_shape
    outcome_sd_df: float = math.inf  # every outcome SD x sqrt(df / chi2_df)
    within_person_corr_sd: float = 0.0  # Beta with mean outcome.within_person_corr
    esw_icc_sd: float = 0.0  # Beta with mean outcome.esw_icc
    # a new site's mean rate: the pilot sites' rate over their mean frailty (predictive),
    # or the pilot sites' pooled rate itself (pooled)
    new_site: str = "predictive"


def _beta_sd(key: str, raw, mean_key: str, mean, pilot: bool) -> float:
    """The SD of a Beta prior around the outcome's value: below sqrt(m (1 - m)), the
    largest SD a Beta with mean m can have (checked when assurance is on)."""
    sd = number(key, raw, lo=0, hi=0.5, hi_open=True)
    ok_mean = isinstance(mean, (int, float)) and not isinstance(mean, bool) and 0 <= mean < 1
    if pilot and sd > 0 and ok_mean:
        bound = math.sqrt(mean * (1 - mean))
        if sd >= bound:
            return reject(ConfigError(key, raw,
                                      f"a number >= 0 and below sqrt(m (1 - m)) = {bound:.3g}, "
                                      f"the largest SD of a Beta prior with mean m = "
                                      f"{mean_key} = {mean:g} (0: {mean_key} fixed)"), 0.0)
    return sd


def build_uncertainty(c: DictConfig, outcome: DictConfig | None = None) -> Uncertainty | None:
    """None unless `uncertainty.mode=pilot`; every key is checked in either mode."""
    pilot = choice("uncertainty.mode", c.mode, UNCERTAINTY_MODES) == "pilot"
    k = "uncertainty"
    sds = {name: _beta_sd(f"{k}.{name}", c[name], f"outcome.{mean}",
                          None if outcome is None else outcome.get(mean), pilot)
           for name, mean in BETA_PRIORS}
    priors = Uncertainty(
        effect_prior_sd=number(f"{k}.effect_prior_sd", c.effect_prior_sd, lo=0, hi=MAX_SD),
        frailty_shape_log_sd=number(f"{k}.frailty_shape_log_sd", c.frailty_shape_log_sd,
                                    lo=0, hi=MAX_LOG_SD),
        outcome_sd_df=number(f"{k}.outcome_sd_df", c.outcome_sd_df, lo=1, allow_inf=True),
        new_site=choice(f"{k}.new_site", c.new_site, NEW_SITE_RULES),
        **sds)
    return priors if pilot else None
