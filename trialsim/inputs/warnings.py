"""Legal but almost certainly mistaken combinations: one line each, never fatal.

The CLI prints them on stderr and summary.json lists them under `warnings`.
"""

from __future__ import annotations

import math

from trialsim.inputs.params import ModelParams
from trialsim.inputs.workload import expected_randomised
from trialsim.units import DAYS_PER_MONTH

FAR_BELOW = 0.5  # expected recruits below half the target: no plausible site mix supplies it


def _first_opening_day(params: ModelParams) -> float | None:
    days = []
    for st in params.site_types:
        if st.count == 0:
            continue
        o = st.opening
        days.append(min(o.days) if o.days else o.first_day)
    return min(days) if days else None


def config_warnings(params: ModelParams, scenario: str) -> list[str]:
    found = []
    window_months = params.window_days / DAYS_PER_MONTH
    first = _first_opening_day(params)
    if first is not None and first >= params.window_days:
        found.append(f"trial.recruitment_months={window_months:g} ends before the first site "
                     f"opens (month {first / DAYS_PER_MONTH:g}): nobody can be randomised")
    if params.allocation == "pilot_capacity" and scenario != "pilot":
        found.append(f"trial.allocation=pilot_capacity in scenario {scenario}: the pilot's "
                     "allocation compromise (IPS until a deadline, then TAU) outside its replay")
    if not params.allocation_ratio.equal and params.allocation != "blocks":
        rule = "pilot_capacity" if params.allocation == "pilot_capacity" else "fixed_counts"
        found.append(f"trial.allocation_ratio={params.allocation_ratio.text} with "
                     f"trial.allocation={rule}: the ratio holds only in the rule's random "
                     "blocks; its deadline phase or fixed counts decide the rest")
    sites = sum(st.count for st in params.site_types)
    if params.localities > sites:
        found.append(f"trial.localities={params.localities} is more than the {sites} site(s): "
                     "some localities' ESWs will have nobody to support")
    u, scale = params.uncertainty, params.outcome.sd_scale
    if u is not None and math.isfinite(u.outcome_sd_df) and scale != 1:
        found.append(f"outcome.sd_scale={scale:g} with uncertainty.mode=pilot: the assurance "
                     f"draws every outcome SD from Table 10's {u.outcome_sd_df:g} df around the "
                     "configured SDs, so a scale other than 1 counts their uncertainty twice")
    expected = expected_randomised(params)
    if first is not None and first < params.window_days and \
            expected < FAR_BELOW * params.target_n:
        found.append(f"trial.target_n={params.target_n} is far above the about {expected:.0f} "
                     f"the configured sites can be expected to randomise in "
                     f"{window_months:g} months")
    return found


def result_warnings(summary: dict) -> list[str]:
    """Warnings only the results can give."""
    found = []
    precision = summary.get("precision") or {}
    if precision.get("stopped_by") == "max_replications":  # runner.STOPPED_CAP
        found.append(
            f"replications=auto stopped at its cap, precision.max_replications="
            f"{precision['max_replications']}: the primary power's Monte Carlo SE is "
            f"{precision['stopping_se']:.3f}, not below precision.power_se="
            f"{precision['power_se_target']:g} (raise the cap, or quote the wider interval)")
    randomised = (summary.get("recruitment") or {}).get("randomised") or {}
    if randomised.get("p90") == 0 and (randomised.get("mean") or 0) == 0:
        found.append("nobody was randomised in any replication: the results are zeros and "
                     "nulls")
    return found
