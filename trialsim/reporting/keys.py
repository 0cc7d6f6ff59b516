"""The one place the figures, the report and the sweep table read summary.json: a name
for each value they use and its path in the file (or several paths, the first present wins, so that
summaries written before and after a rename both read). A key renamed elsewhere is a
one-line change here; a key that is missing reads as None (the report says "n/a")."""

from __future__ import annotations

from typing import Any

Path = tuple[str, ...]

PATHS: dict[str, Path | list[Path]] = {
    "scenario": ("scenario",),
    "replications": ("replications",),
    "seed": ("seed",),
    "target_n": ("target_n",),
    "recruitment_months": ("recruitment_months",),
    "prob_target": ("recruitment", "prob_target_by_end"),
    "prob_target_mc_se": ("recruitment", "prob_target_by_end_mc_se"),
    "prob_target_at_pilot_rates": ("recruitment", "prob_target_at_pilot_rates"),
    "prob_target_at_pilot_rates_mc_se": ("recruitment", "prob_target_at_pilot_rates_mc_se"),
    "rate_discount": ("recruitment", "rate_discount"),
    "months_to_target_p10": ("recruitment", "months_to_target", "p10"),
    "months_to_target_p50": ("recruitment", "months_to_target", "p50"),
    "months_to_target_p90": ("recruitment", "months_to_target", "p90"),
    "months_if_reached": ("recruitment", "months_to_target_if_reached"),
    "randomised_mean": ("recruitment", "randomised", "mean"),
    "randomised_p10": ("recruitment", "randomised", "p10"),
    "randomised_p90": ("recruitment", "randomised", "p90"),
    "by_channel": ("recruitment", "by_channel"),
    "sites_opened": ("recruitment", "sites_opened"),
    "allocation_ips": ("allocation", "ips"),
    "allocation_tau": ("allocation", "tau"),
    "allocation_ips_if_reached": ("allocation", "ips_if_target_reached"),
    "allocation_tau_if_reached": ("allocation", "tau_if_target_reached"),
    "mean_wait_days": ("delivery", "mean_wait_days"),
    "p90_wait_days": ("delivery", "p90_wait_days"),
    "esw_utilisation": ("delivery", "esw_utilisation"),
    "employment_m12_ips": ("employment", "m12", "ips"),
    "employment_m12_tau": ("employment", "m12", "tau"),
    "retention": ("retention",),
    "returned_m12_ips": ("retention", "ips", "m12"),
    "returned_m12_tau": ("retention", "tau", "m12"),
    "effect_m12": ("outcome", "effect_m12"),
    "effect_itt": ("outcome", "effect_itt"),
    "received_share": ("outcome", "received_share"),
    "job_started_ips": ("employment", "ever_by_m12", "ips"),
    "job_started_tau": ("employment", "ever_by_m12", "tau"),
    "rtw_se_method": ("analysis", "rtw_se_method"),
    "esw_variance": ("analysis", "esw_variance"),
    "small_sample": ("analysis", "small_sample"),
    "power_primary": ("power", "primary"),
    "power_primary_mc_se": ("power", "primary_mc_se"),
    "power_primary_ci95": ("power", "primary_ci95"),
    "power_primary_if_reached": [("power", "primary_if_target_reached"),
                                 ("power", "primary_if_reached")],
    "power_primary_if_reached_ci95": ("power", "primary_if_target_reached_ci95"),
    "replications_target_reached": ("power", "replications_target_reached"),
    "power_secondary": [("power", "secondary"), ("power", "employment")],
    "power_secondary_mc_se": [("power", "secondary_mc_se"), ("power", "employment_mc_se")],
    "primary_outcome": [("analysis", "primary"), ("assurance", "primary_outcome")],
    "secondary_outcome": ("analysis", "secondary"),
    "alpha": ("analysis", "alpha"),
    "assurance_primary": ("assurance", "primary"),
    "assurance_recruitment": ("assurance", "recruitment"),
    "assurance_joint": ("assurance", "joint"),
    "assurance_joint_mc_se": ("assurance", "joint_mc_se"),
    "assurance_primary_if_reached": ("assurance", "primary_if_target_reached"),
    "assurance_primary_if_missed": ("assurance", "primary_if_target_missed"),
    "assurance_sensitivity": ("assurance", "sensitivity"),
    "assurance_sensitivity_target": ("assurance", "sensitivity_target"),
    "analysed_ips": ("analysed", "ips"),
    "analysed_tau": ("analysed", "tau"),
    "analysed_ips_if_reached": ("analysed", "ips_if_target_reached"),
    "analysed_tau_if_reached": ("analysed", "tau_if_target_reached"),
    "bias": ("estimate", "bias"),
    "coverage": ("estimate", "coverage"),
    "warnings": ("warnings",),
    "missing_data_analysis": ("missing_data", "analysis"),
    "missing_data_imputations": ("missing_data", "imputations"),
    "missing_data_sensitivity": ("missing_data", "sensitivity"),
    "missing_data_comparison": ("missing_data", "comparison"),
    "progression": ("progression",),
    "progression_review_month": ("progression", "review_month"),
    "progression_lights": ("progression", "lights"),
    "progression_thresholds": ("progression", "thresholds"),
    "progression_operating": ("progression", "operating"),
    "progression_proposal": ("progression", "proposal"),
    "progression_amber_plan": ("progression", "amber_plan"),
    "progression_assurance": ("progression", "assurance"),
}


def get(summary: dict[str, Any] | None, name: str, default: Any = None) -> Any:
    """summary.json's value for `name` (a key of PATHS), or `default` when absent."""
    paths = PATHS[name]
    for path in paths if isinstance(paths, list) else [paths]:
        data: Any = summary
        for key in path:
            if not isinstance(data, dict) or key not in data:
                data = None
                break
            data = data[key]
        if data is not None:
            return data
    return default


# --- the internal pilot's review: columns of replication_row (one row per replication) ---
REVIEW_MONTH = "review_month"
REVIEW_RANDOMISED, REVIEW_PLANNED = "review_randomised", "review_planned"
REVIEW_SITES_OPEN, REVIEW_SITES_PLANNED = "review_sites_open", "review_sites_planned"
REVIEW_WAVE = "review_wave_month"  # the wave whose returns are judged
REVIEW_IPS_JUDGED, REVIEW_ATTENDED = "review_ips_judged", "review_attended"
REVIEW_ESW_WAIT = "review_esw_wait_days"  # seen, not a criterion: what the committee reads
OVERALL = "overall"
RESCUE_APPLIED = "rescue_applied"  # the amber plan ran in this replication
RESCUE_TARGET, RESCUE_REJECT = "rescue_target_reached", "rescue_primary_reject"
RESCUE_RANDOMISED = "rescue_randomised"


def review_statistic(criterion: str) -> str:
    """The column of a criterion's statistic at the review."""
    return f"review_{criterion}"


def review_verdict(criterion: str) -> str:
    """The column of a criterion's verdict (0 green, 1 amber, 2 red, -1 not read), or
    the overall verdict's (criterion OVERALL)."""
    return f"review_verdict_{criterion}"


def review_returns(arm: str) -> str:
    return f"review_returns_{arm}"


def review_returns_vs_plan(arm: str) -> str:
    """An arm's returns by the review over the plan's expectation (every wave due)."""
    return f"review_returns_vs_plan_{arm}"
