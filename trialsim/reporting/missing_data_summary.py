"""summary.json's `missing_data`: the missing-data analysis the run used, the delta-
adjusted (MNAR) sensitivity of the RTW-SE analysis (power and bias at each delta of
`analysis.sensitivity.delta_grid`, the tipping-point delta) and, with
`analysis.compare_missing_data`, power, bias and coverage of every missing-data
analysis side by side."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from trialsim.analysis.delta import rejects_at
from trialsim.inputs.params import ModelParams
from trialsim.inputs.pathway_params import MISSING_DATA

Z95 = 1.959964


def _share(flags: np.ndarray) -> tuple[float, float]:
    p = float(flags.mean())
    return p, math.sqrt(p * (1 - p) / len(flags))


def median_with_se(x: np.ndarray) -> tuple[float | None, float | None]:
    """The median and its Monte Carlo SE from the order statistics that bound its 95%
    distribution-free interval (ranks n/2 -+ 1.96 sqrt(n)/2): (upper - lower) / 3.92."""
    x = np.sort(np.asarray(x, dtype=float)[np.isfinite(x)])
    n = len(x)
    if n == 0:
        return None, None
    med = float(np.median(x))
    if n < 10:
        return med, None
    half = Z95 * math.sqrt(n) / 2
    lo, hi = int(max(math.floor(n / 2 - half), 0)), int(min(math.ceil(n / 2 + half), n - 1))
    return med, float((x[hi] - x[lo]) / (2 * Z95))


def sensitivity_summary(reps: pd.DataFrame, params: ModelParams) -> dict[str, Any] | None:
    a = params.analysis
    if "sensitivity_delta_slope" not in reps:
        return None
    prefix = "primary" if a.primary == "rtw_se" else "secondary"
    est, se, df = (reps[f"{prefix}_{c}"].to_numpy(dtype=float) for c in ("estimate", "se", "df"))
    slope = reps["sensitivity_delta_slope"].to_numpy(dtype=float)
    true = reps[f"{prefix}_true"].to_numpy(dtype=float)
    grid = []
    for d in a.delta_grid:
        if d == 0:  # the primary analysis itself, by construction (est(0) = est)
            rej = reps[f"{prefix}_reject"].to_numpy(dtype=bool)
            shifted = est
        else:
            rej = rejects_at(est, se, df, slope, d, a.alpha)
            shifted = est + d * np.nan_to_num(slope)
        power, power_se = _share(rej)
        err = (shifted - true)[np.isfinite(shifted - true)]
        grid.append({"delta": float(d), "power": power, "power_mc_se": power_se,
                     "mean_estimate": float(np.nanmean(shifted)) if len(err) else None,
                     "bias": float(err.mean()) if len(err) else None,
                     "bias_mc_se": float(err.std(ddof=1) / math.sqrt(len(err)))
                     if len(err) > 1 else None})
    tip = reps["sensitivity_tipping_delta"].to_numpy(dtype=float)
    sig = reps[f"{prefix}_reject"].to_numpy(dtype=bool)
    med, med_se = median_with_se(tip)
    med_sig, med_sig_se = median_with_se(tip[sig])
    by_arm = {}
    for arm in ("ips", "tau", "both"):  # each arm's missing scores shifted alone, and both
        col = f"sensitivity_tipping_delta_{arm}"
        if col in reps:
            m, m_se = median_with_se(reps[col].to_numpy(dtype=float)[sig])
            by_arm[arm] = {"tipping_delta_median_if_significant": m,
                           "tipping_delta_median_if_significant_mc_se": m_se}
    return {
        "outcome": "rtw_se", "analysis": prefix, "arm": a.delta_arm,
        "unit": "pooled within-arm SD of the returned 12-month scores",
        "mean_sd": _finite_mean(reps["sensitivity_delta_sd"]),
        "mean_slope": _finite_mean(slope),
        "se": "held at the MAR analysis's (information-anchored)",
        "grid": grid,
        # power crosses one half here: the delta a typical trial's conclusion turns at
        "tipping_delta_median": med, "tipping_delta_median_mc_se": med_se,
        # among the trials significant under MAR: how far delta must go to lose it
        "tipping_delta_median_if_significant": med_sig,
        "tipping_delta_median_if_significant_mc_se": med_sig_se,
        "trials_significant": int(sig.sum()),
        # the same median with the IPS arm's, the TAU arm's or both arms' scores shifted
        "by_arm": by_arm,
    }


def _finite_mean(x) -> float:
    """The mean of the values that are not NaN; NaN, without numpy's warning, when none
    are (a run that randomised nobody has no slope to average)."""
    x = np.asarray(x, dtype=float)
    return float(np.nanmean(x)) if (~np.isnan(x)).any() else math.nan


def comparison_summary(reps: pd.DataFrame) -> dict[str, Any] | None:
    """Power, bias against the full-data effect and CI coverage of the mean full-data
    effect (as summary.json's `estimate`) for each missing-data analysis."""
    out = {}
    for m in MISSING_DATA:
        p = f"compare_{m}"
        if f"{p}_estimate" not in reps:
            return None
        power, power_se = _share(reps[f"{p}_reject"].to_numpy(dtype=bool))
        fitted = reps.dropna(subset=[f"{p}_estimate"])
        truth = float(reps[f"{p}_true"].mean())
        err = (fitted[f"{p}_estimate"] - fitted[f"{p}_true"]).to_numpy(dtype=float)
        cov = ((fitted[f"{p}_ci_low"] <= truth) & (truth <= fitted[f"{p}_ci_high"])).to_numpy()
        n = len(err)
        c, c_se = _share(cov) if n else (math.nan, math.nan)
        out[m] = {"power": power, "power_mc_se": power_se,
                  "bias": float(err.mean()) if n else None,
                  "bias_mc_se": float(err.std(ddof=1) / math.sqrt(n)) if n > 1 else None,
                  "coverage": c if n else None, "coverage_mc_se": c_se if n else None,
                  "empirical_se": float(fitted[f"{p}_estimate"].std(ddof=1)) if n > 1
                  else None,
                  "mean_model_se": float(fitted[f"{p}_se"].mean()) if n else None,
                  "analysed_ips": float(reps[f"{p}_n_ips"].mean()),
                  "analysed_tau": float(reps[f"{p}_n_tau"].mean()),
                  "not_estimable": int((reps[f"{p}_estimable"] == 0).sum())}
    return out


def missing_data_summary(reps: pd.DataFrame, params: ModelParams) -> dict[str, Any]:
    a = params.analysis
    out: dict[str, Any] = {"analysis": a.missing_data}
    if a.missing_data == "multiple_imputation":
        out["imputations"] = a.imputations
    sens = sensitivity_summary(reps, params)
    if sens is not None:
        out["sensitivity"] = sens
    comp = comparison_summary(reps)
    if comp is not None:
        out["comparison"] = comp
    return {"missing_data": out}
