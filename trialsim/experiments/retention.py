"""Retention strategies side by side: the scenario rerun with none, each alone, all.

A planner choosing how to keep IPS participants answering (the pilot lost half of them
by 12 months, Table 8) needs each strategy's gain in 12-month returns and what it does
to the primary analysis: ESW completion adds returns but measures the score with the
ESW's help (`follow_up.esw_completion.mode_effect`), which moves the estimate. The same
replications (same seeds: common random numbers) are run under each set of strategies,
so the differences between rows are the strategies', not Monte Carlo noise between
independent runs. Opt-in (`follow_up.compare_strategies=true`): six more runs of the
scenario. Strategies, as the model has them (trialsim.model.followup):

- esw_completion: the questionnaire completed with the ESW while in support;
- text_followup: a text / e-mail version to those who have not returned it;
- interim_contact: a 9-month contact (retaining `interim_contact.retained` of those who
  would not return at 12 months);
- linkage: employment records linked (employment known for all; no RTW-SE gain).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from trialsim.experiments.runner import run_replications
from trialsim.inputs.params import ModelParams
from trialsim.inputs.pathway_params import RETENTION_STRATEGIES, FollowUp
from trialsim.model.records import ARMS

if TYPE_CHECKING:
    import pandas as pd

STRATEGIES = RETENTION_STRATEGIES
INTERIM_MONTH = 9.0  # the contact the pilot's report suggests (Discussion: "at 9-months")
VARIANTS = (("none", ()), *((s, (s,)) for s in STRATEGIES), ("all", STRATEGIES))


def with_strategies(fu: FollowUp, on: tuple[str, ...]) -> FollowUp:
    """`fu` with exactly the strategies `on` in use, at their configured values (an
    interim contact at 9 months unless the scenario has one already)."""
    months = tuple(m for m in fu.months if m in (3.0, 6.0, 12.0))
    if "interim_contact" in on:
        extra = tuple(m for m in fu.months if m not in months) or (INTERIM_MONTH,)
        months = tuple(sorted({*months, *extra}))
    return dataclasses.replace(
        fu, months=months,
        esw_completion=fu.esw_completion_configured if "esw_completion" in on else None,
        text_followup=fu.text_followup_configured if "text_followup" in on else None,
        linkage="linkage" in on)


def _mean(x: pd.Series) -> float | None:
    x = x.dropna()
    return float(x.mean()) if len(x) else None


def variant_summary(reps: pd.DataFrame) -> dict[str, Any]:
    """12-month returns per arm, and the primary analysis's bias and power."""
    n = len(reps)
    error = (reps["primary_estimate"] - reps["primary_true"]).dropna()
    power = float(reps["primary_reject"].mean()) if n else math.nan
    truth = float(reps["primary_true"].mean()) if n else math.nan
    fitted = reps.dropna(subset=["primary_estimate"])
    covered = (fitted["primary_ci_low"] <= truth) & (truth <= fitted["primary_ci_high"])
    return {
        "returned_m12": {a: _mean(reps[f"complete_m12_{a}"]) for a in ARMS},
        "retention_m12": {a: _mean(reps[f"retention_{a}_m12"]) for a in ARMS},
        "analysed": {a: _mean(reps[f"primary_n_{a}"]) for a in ARMS},
        "bias": float(error.mean()) if len(error) else None,
        "bias_mc_se": float(error.std(ddof=1) / np.sqrt(len(error))) if len(error) > 1
        else None,
        "power": power,
        "power_mc_se": math.sqrt(power * (1 - power) / n) if n else None,
        "coverage": float(covered.mean()) if len(fitted) else None,
    }


def retention_summary(params: ModelParams, replications: int, seed: int, n_jobs: int,
                      headline: pd.DataFrame | None = None) -> dict[str, Any]:
    """Each set of strategies' summary, the same seeds for all. `headline`: the run's
    own replications, reused for the set that equals the scenario's own."""
    fu = params.follow_up
    rows = []
    for name, on in VARIANTS:
        variant = dataclasses.replace(params, follow_up=with_strategies(fu, on))
        if headline is not None and variant == params:
            reps = headline
        else:
            reps = run_replications(variant, replications, seed, n_jobs,
                                    figures=False).replications
        rows.append({"strategy": name, "strategies": list(on), **variant_summary(reps)})
    return {"replications": replications, "mode_effect": fu.esw_mode_effect,
            "interim_month": INTERIM_MONTH, "variants": rows}
