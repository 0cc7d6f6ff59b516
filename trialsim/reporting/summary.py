"""The run's answer for humans: summary.json's content, computed from the tidy tables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from trialsim.analysis.costs import cost_summary
from trialsim.inputs.params import ModelParams, RunSettings
from trialsim.model.records import ARMS, STAGES
from trialsim.reporting.missing_data_summary import missing_data_summary
from trialsim.reporting.precision import FEW_TRIALS
from trialsim.reporting.progression_summary import progression_summary
from trialsim.reporting.run_result import RunResult
from trialsim.reporting.sensitivity import SUCCESS, TARGET, ranked
from trialsim.reporting.tables import wave_label
from trialsim.units import DAYS_PER_MONTH

QUANTILES = {"p10": 0.1, "p50": 0.5, "p90": 0.9}


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def distribution(values: np.ndarray) -> dict[str, float | None]:
    """Mean and 10/50/90% quantiles. NaN counts as 'never' (infinitely late): a quantile
    that falls among them is null, and so is the mean unless every value is finite."""
    v = np.where(np.isnan(values), np.inf, values.astype(float))
    out = {"mean": _finite_or_none(float(v.mean())) if np.isfinite(v).all() else None}
    for name, q in QUANTILES.items():
        out[name] = _finite_or_none(float(np.quantile(v, q, method="inverted_cdf")))
    return out


def share(flags: pd.Series) -> dict[str, float]:
    """A proportion over replications with its Monte Carlo standard error."""
    p = float(flags.mean())
    return {"estimate": p, "mc_se": math.sqrt(p * (1 - p) / len(flags))}


def unscreened(params: ModelParams) -> list[str]:
    """The channels whose every screening stage is certain (contact, eligibility and
    consent all 1): their evidence records no one lost, so their funnel shows none and
    their rate counts recruits, not people screened."""
    return [ch.name for st in params.site_types for ch in st.channels
            if all(getattr(ch.stages, k).value == 1.0 for k in ("contact", "eligible", "consent"))]


def summarise(settings: RunSettings, params: ModelParams, result: RunResult) -> dict[str, Any]:
    reps = result.replications
    channels = params.channel_names()
    reached = reps["months_to_target"].to_numpy()
    recruitment = {
        "months_to_target": distribution(reached),
        "months_to_target_if_reached": (float(np.nanmean(reached))
                                        if np.isfinite(reached).any() else None),
        "prob_target_by_end": float(reps["target_reached"].mean()),
        "prob_target_by_end_mc_se": share(reps["target_reached"])["mc_se"],
        "randomised": distribution(reps["randomised"].to_numpy()),
        "by_channel": {c: float(reps[f"randomised_{c}"].mean()) for c in channels},
        "funnel": {s: float(reps[f"funnel_{s}"].mean()) for s in STAGES},
        "funnel_by_channel": {c: {s: float(reps[f"funnel_{c}_{s}"].mean()) for s in STAGES}
                              for c in channels},
        "unscreened_channels": [c for c in unscreened(params)
                                if float(reps[f"randomised_{c}"].mean()) > 0],
        "sites_opened": float(reps["sites_opened"].mean()),
        "curve": {
            "months": result.curve_months.tolist(),
            **{name: np.quantile(result.curves, q, axis=0, method="inverted_cdf").tolist()
               for name, q in QUANTILES.items()},
            "mean": result.curves.mean(axis=0).tolist(),
        },
    }
    return {
        "scenario": settings.scenario,
        "replications": settings.replications,
        "seed": settings.seed,
        "target_n": params.target_n,
        "recruitment_months": params.window_days / DAYS_PER_MONTH,
        "recruitment": recruitment,
        "allocation": {**{arm: float(reps[arm].mean()) for arm in ARMS},
                       **{f"{arm}_if_target_reached":
                          _mean_if(reps[arm], reps["target_reached"].astype(bool))
                          for arm in ARMS}},
        **pathway_summary(reps, params),
        **analysis_summary(reps, params),
        **missing_data_summary(reps, params),
        **({"progression": progression_summary(reps, params)}
           if params.progression is not None else {}),
        **cost_summary(reps, params.costs, channels),
    }


def _mean_if(col: pd.Series, rows: pd.Series) -> float | None:
    return float(col[rows].mean()) if rows.any() else None


def share_with_ci(flags: pd.Series) -> dict[str, Any]:
    s = share(flags)
    half = 1.959963984540054 * s["mc_se"]
    return {**s, "ci95": [max(0.0, s["estimate"] - half), min(1.0, s["estimate"] + half)]}


def assurance_summary(reps: pd.DataFrame, params: ModelParams,
                      table: pd.DataFrame | None = None) -> dict[str, Any]:
    """Probability of success with the inputs uncertain as the pilot and the priors leave
    them: the pre-specified primary analysis rejects (`primary`), the target is recruited
    in time (`recruitment`), both (`joint`); success among the trials that reached the
    target and among those that missed it; and, from the table of drawn inputs, which
    inputs move success and the target (`sensitivity`, `sensitivity_target`, ranked)."""
    success = reps["primary_reject"].astype(bool)
    reached = reps["target_reached"].astype(bool)
    out: dict[str, Any] = {"effect_prior_sd": params.uncertainty.effect_prior_sd,
                           "primary_outcome": params.analysis.primary}
    for name, flags in (("primary", success), ("recruitment", reached),
                        ("joint", success & reached)):
        s = share(flags.astype(float))
        out[name], out[f"{name}_mc_se"] = s["estimate"], s["mc_se"]
    out["replications_target_reached"] = int(reached.sum())
    for name, rows in (("primary_if_target_reached", reached),
                       ("primary_if_target_missed", ~reached)):
        s = share(success[rows].astype(float)) if rows.any() else \
            {"estimate": None, "mc_se": None}
        out[name], out[f"{name}_mc_se"] = s["estimate"], s["mc_se"]
    if table is not None:
        out["sensitivity"] = ranked(table, SUCCESS)
        out["sensitivity_target"] = ranked(table, TARGET)
    return out


def _power(name: str, flags: pd.Series, least: int = 1) -> dict[str, Any]:
    """`name`, `name_mc_se`, `name_ci95` over the replications given (null if fewer
    than `least`)."""
    s = share_with_ci(flags.astype(float)) if len(flags) >= max(least, 1) else \
        {"estimate": None, "mc_se": None, "ci95": None}
    return {name: s["estimate"], f"{name}_mc_se": s["mc_se"], f"{name}_ci95": s["ci95"]}


def _estimate(reps: pd.DataFrame, prefix: str) -> dict[str, Any]:
    """Bias against the full-data effect (paired: each estimate against its own trial's
    difference in true 12-month values among all randomised), spread, CI coverage of
    the mean full-data effect, and how many fits failed."""
    est = reps[f"{prefix}_estimate"].dropna()
    truth = float(reps[f"{prefix}_true"].mean())
    error = (reps[f"{prefix}_estimate"] - reps[f"{prefix}_true"]).dropna()
    fitted = reps.dropna(subset=[f"{prefix}_estimate"])
    covered = (fitted[f"{prefix}_ci_low"] <= truth) & (truth <= fitted[f"{prefix}_ci_high"])
    n = len(est)
    return {
        "true_effect": truth,
        "mean": float(est.mean()) if n else None,
        "bias": float(error.mean()) if n else None,
        "bias_mc_se": float(error.std(ddof=1) / np.sqrt(n)) if n > 1 else None,
        "empirical_se": float(est.std(ddof=1)) if n > 1 else None,
        "mean_model_se": float(reps[f"{prefix}_se"].mean()) if n else None,
        "coverage": float(covered.mean()) if n else None,
        "coverage_mc_se": share(covered)["mc_se"] if n else None,
        "not_estimable": int((reps[f"{prefix}_estimable"] == 0).sum()),
        "not_converged": int(reps[f"{prefix}_not_converged"].sum()),
        "cace_mean": _mean(reps[f"{prefix}_cace_estimate"].dropna()) if n else None,
    }


def analysis_summary(reps: pd.DataFrame, params: ModelParams) -> dict[str, Any]:
    """Power of the pre-specified primary and secondary analyses, unconditionally (a
    trial that missed its target is analysed as it stands) and among trials that reached
    the target N, each with its Monte Carlo error (null from fewer than FEW_TRIALS such
    trials, as the terminal and the report print it: one trial's 1.0 is no power); the
    estimates' behaviour; the numbers analysed per arm."""
    a = params.analysis
    secondary = "employment" if a.primary == "rtw_se" else "rtw_se"
    reached = reps["target_reached"].astype(bool)
    power: dict[str, Any] = {"replications_target_reached": int(reached.sum())}
    for prefix in ("primary", "secondary"):
        power.update(_power(prefix, reps[f"{prefix}_reject"]))
        power.update(_power(f"{prefix}_if_target_reached",
                            reps.loc[reached, f"{prefix}_reject"], FEW_TRIALS))
    analysed: dict[str, Any] = {}
    for prefix, label in (("primary", ""), ("secondary", "secondary_")):
        for arm in ARMS:
            col = reps[f"{prefix}_n_{arm}"]
            analysed[f"{label}{arm}"] = float(col.mean())
            analysed[f"{label}{arm}_if_target_reached"] = _mean_if(col, reached)
    return {
        "analysis": {"primary": a.primary, "secondary": secondary,
                     "rtw_se_method": a.method, "esw_variance": a.esw_variance,
                     "small_sample": a.small_sample, "alpha": a.alpha},
        "power": power,
        "estimate": _estimate(reps, "primary"),
        "secondary_estimate": _estimate(reps, "secondary"),
        "analysed": analysed,
    }


def _mean(col: pd.Series) -> float | None:
    """Mean over replications where defined (a replication with no IPS participants has
    no wait); null if defined in none."""
    x = col.to_numpy(dtype=float)
    return float(np.nanmean(x)) if np.isfinite(x).any() else None


def _ratio_se(reps: pd.DataFrame, rr: float | None) -> float | None:
    """Monte Carlo SE of the pooled relative risk mean(ips) / mean(tau) (delta method
    over replications)."""
    x = reps["employment_m12_ips"].to_numpy(dtype=float)
    y = reps["employment_m12_tau"].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if rr is None or ok.sum() < 2:
        return None
    x, y = x[ok], y[ok]
    resid = (x - rr * y) / y.mean()
    return float(resid.std(ddof=1) / math.sqrt(len(x)))


def pathway_summary(reps: pd.DataFrame, params: ModelParams) -> dict[str, Any]:
    months = [wave_label(m) for m in params.follow_up.months]
    e = params.employment
    m12 = {arm: _mean(reps[f"employment_m12_{arm}"]) for arm in ARMS}
    # pooled over replications: the ratio of mean shares, not a mean of ratios
    rr = (m12["ips"] / m12["tau"]) if m12["ips"] is not None and m12["tau"] else None
    diff = (m12["ips"] - m12["tau"]) if None not in m12.values() else None
    delivery_keys = ("mean_wait_days", "p90_wait_days", "max_caseload", "esw_utilisation",
                     "ot_wait_days", "booklet_wait_days", "disengaged", "gave_up_waiting")
    return {
        "delivery": {**{k: _mean(reps[f"delivery_{k}"]) for k in delivery_keys},
                     "caseload_cap": _finite_or_none(params.delivery.places_per_esw)},
        "employment": {
            "m12": m12,
            "relative_risk_m12": rr,
            "relative_risk_m12_mc_se": _ratio_se(reps, rr),
            "difference_m12": diff,
            "relative_risk_set": e.ips_relative_risk_m12,
            "relative_risk_max": _finite_or_none(e.relative_risk_max),
            "expected_m12": {"ips": _finite_or_none(e.expected_m12_ips),
                             "tau": _finite_or_none(e.expected_m12_tau)},
            "supported_entry_per_month": e.supported_entry_per_day * DAYS_PER_MONTH,
            "ever_by_m12": {arm: _mean(reps[f"employment_ever_{arm}"]) for arm in ARMS},
            "known_m12": {arm: _mean(reps[f"employment_known_m12_{arm}"]) for arm in ARMS},
        },
        "withdrawn": {arm: _mean(reps[f"withdrawn_{arm}"]) for arm in ARMS},
        "retention": {arm: {m: _mean(reps[f"retention_{arm}_{m}"]) for m in months}
                      for arm in ARMS},
        "outcome": {
            "complete_m12": {arm: _mean(reps[f"complete_m12_{arm}"]) for arm in ARMS},
            # the 12-month questionnaires returned over all randomised (retention's
            # denominator is those sent one: a participant who withdrew is sent none)
            "returned_m12_of_randomised": {
                arm: _mean(reps[f"complete_m12_{arm}"] / reps[arm].where(reps[arm] > 0))
                for arm in ARMS},
            "rtw_se_m12": {arm: _mean(reps[f"rtw_se_m12_{arm}"]) for arm in ARMS},
            "effect_m12": params.outcome.effect_m12,
            # IPS as intended: seen by an ESW, engaged, first appointment within the
            # planner's wait; the ITT effect is the effect as received diluted by the rest
            "received_share": _mean(reps["ips_received_share"]),
            "effect_itt": _mean(reps["effect_itt_true"]),
        },
    }
