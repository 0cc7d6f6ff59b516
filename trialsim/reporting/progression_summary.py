"""summary.json's `progression`: how often the internal pilot's review gives each light,
how often its rule is right about the trial it reviews, which red lines a planner can
defend, and what the amber plan buys.

"Stop" is a red overall verdict, "go on" green or amber. The rule is judged against two
eventual outcomes of the same replication: the target N randomised within the window
(`target`), and that with the primary analysis rejecting at alpha (`target_and_power`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from trialsim.inputs.params import ModelParams
from trialsim.model.review import AMBER, GREEN, NOT_JUDGED, RED, VERDICTS
from trialsim.reporting import keys
from trialsim.reporting.precision import FEW_TRIALS, too_few_words

OUTCOMES = ("target", "target_and_power")
PROPOSED = ("recruitment", "retention")  # the criteria whose red line is proposed
CURVE_POINTS = 61


def outcomes(reps: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each replication's eventual success, by each definition."""
    target = reps["target_reached"].to_numpy().astype(bool)
    return {"target": target,
            "target_and_power": target & reps["primary_reject"].to_numpy().astype(bool)}


def _p(flags: np.ndarray, least: int = FEW_TRIALS) -> dict[str, float | None]:
    """A share conditional on the trial's fate with its Monte Carlo SE and the count of
    trials in the condition; estimate and SE null (the count kept, to say why) from fewer
    than `least` such trials: one trial's 0 with an SE of 0 is no evidence."""
    n = len(flags)
    if n < max(least, 1):
        return {"estimate": None, "mc_se": None, "n": int(n)}
    p = float(flags.mean())
    return {"estimate": p, "mc_se": math.sqrt(p * (1 - p) / n), "n": int(n)}


def conditional_words(s: dict[str, Any]) -> str:
    """A share of `operating` (P(stop | would succeed), P(go on | would fail)) as the
    terminal and the report both print it: "0.603 (199 trials)", or "n/a (1 trial; at
    least 10 needed)" from fewer than FEW_TRIALS trials in the condition. A summary
    written before the rule (a number from fewer trials) reads the same."""
    n = int(s.get("n") or 0)
    if s.get("estimate") is None or n < FEW_TRIALS:
        return too_few_words(n)
    return f"{s['estimate']:.3f} ({n} trial{'' if n == 1 else 's'})"


def stop_rate_words(q: dict[str, Any], name: str) -> str:
    """A proposed line's stop rate (`name`: p_stop_if_success or p_stop_if_failure) with
    its MC SE, as the terminal and the report both print it; a summary written before
    the SE was stored gives the rate alone."""
    se = q.get(name + "_mc_se")
    return f"{q[name]:.3f}" + ("" if se is None else f" (MC SE {se:.3f})")


def light_shares(reps: pd.DataFrame, criteria: tuple[str, ...]) -> dict[str, Any]:
    """P(green), P(amber), P(red) per criterion read and overall: each the share of
    replications with that verdict (they sum to 1, with `no_data`, the share left out
    for want of data, when progression.no_data=ignore)."""
    out = {}
    for name in (*criteria, keys.OVERALL):
        v = reps[keys.review_verdict(name)].to_numpy()
        out[name] = {VERDICTS[c]: float((v == c).mean()) for c in (GREEN, AMBER, RED)}
        if (v == NOT_JUDGED).any():
            out[name]["no_data"] = float((v == NOT_JUDGED).mean())
    return out


def operating_characteristics(reps: pd.DataFrame) -> dict[str, Any]:
    """P(stop | would succeed) and P(go on | would fail), per definition of success;
    each null from fewer than FEW_TRIALS trials in its condition (`_p`). P(success) and
    P(stop) are shares of every replication."""
    stop = reps[keys.review_verdict(keys.OVERALL)].to_numpy() == RED
    out = {}
    for name, success in outcomes(reps).items():
        out[name] = {"p_success": float(success.mean()),
                     "p_stop_if_success": _p(stop[success]),
                     "p_go_if_failure": _p(~stop[~success]),
                     "p_stop": float(stop.mean())}
    return out


def trade_off(stat: np.ndarray, success: np.ndarray, grid: np.ndarray) -> dict[str, list]:
    """For each red line r of `grid`: P(stat < r | success), P(stat < r | failure); a
    statistic with no data (nan) never stops."""
    x = np.where(np.isnan(stat), np.inf, stat)
    s, f = x[success], x[~success]
    return {"red": grid.tolist(),
            "p_stop_if_success": [float((s < r).mean()) if len(s) else None for r in grid],
            "p_stop_if_failure": [float((f < r).mean()) if len(f) else None for r in grid]}


def refusal(successes: int, failures: int, line: float | None, green: float | None,
            min_trials: int = FEW_TRIALS) -> str | None:
    """Why a red line is not proposed, or None: fewer than `min_trials` succeeding
    (`few_successes`) or failing (`few_failures`) trials, whose shares are too coarse to
    calibrate on (one success allows any line); or the `line` the bound allows is at or
    above the `green` line (`at_or_above_green`): a red line lies below its green line
    (trialsim.inputs.progression refuses one above), and a bound met there is met by
    every line below it, so it sets none."""
    if successes < min_trials:
        return "few_successes"
    if failures < min_trials:
        return "few_failures"
    if line is not None and green is not None and line >= green:
        return "at_or_above_green"
    return None


def propose(stat: np.ndarray, success: np.ndarray, max_stop: float, green: float,
            min_trials: int = FEW_TRIALS) -> dict[str, Any]:
    """The highest red line r that stops at most `max_stop` of the trials that would
    succeed (stat < r): among lines meeting that bound it stops the most failing trials,
    as both shares only grow with r. Lines between two observed values stop the same
    trials, so r is an observed value (stop below it). `red` None where `refusal` gives
    a reason (`not_proposed`); `bound_line` keeps a line refused at the green line."""
    x = np.where(np.isnan(stat), np.inf, stat)
    s, f = x[success], x[~success]
    out: dict[str, Any] = {"red": None, "p_stop_if_success": None, "p_stop_if_failure": None,
                           "p_stop_if_success_mc_se": None, "p_stop_if_failure_mc_se": None,
                           "discriminates": None, "successes": int(len(s)),
                           "failures": int(len(f)), "min_trials": min_trials,
                           "green": green, "bound_line": None, "not_proposed": None}
    why = refusal(len(s), len(f), None, green, min_trials)
    if why is not None:
        return {**out, "not_proposed": why}
    candidates = np.unique(np.concatenate([[0.0], x[np.isfinite(x)]]))
    best = 0.0
    for r in candidates:
        if (s < r).mean() <= max_stop:
            best = float(r)
    why = refusal(len(s), len(f), best, green, min_trials)
    if why is not None:
        return {**out, "bound_line": best, "not_proposed": why}
    stop_s, stop_f = float((s < best).mean()), float((f < best).mean())
    # a line calibrated on tens of trials: its stop rates' Monte Carlo SEs say how firmly
    return {**out, "red": best, "bound_line": best, "p_stop_if_success": stop_s,
            "p_stop_if_failure": stop_f, "discriminates": stop_f > stop_s,
            "p_stop_if_success_mc_se": math.sqrt(stop_s * (1 - stop_s) / len(s)),
            "p_stop_if_failure_mc_se": math.sqrt(stop_f * (1 - stop_f) / len(f))}


SUCCEEDS = {"target": ("reaches N", "reach N", "misses N", "miss N"),
            "target_and_power": ("reaches N with the primary rejecting",
                                 "reach N with the primary rejecting",
                                 "misses N or does not reject",
                                 "miss N or do not reject")}


def not_proposed(q: dict[str, Any], green: float | None = None) -> str | None:
    """`q`'s reason for no proposal (`refusal`'s), None if it has one. A summary written
    before `refusal` (no `not_proposed` key) is judged by it here, against `green`."""
    if "not_proposed" in q:
        return q["not_proposed"]
    return refusal(q.get("successes", 0), q.get("failures", 0), q.get("red"), green)


def not_proposed_words(q: dict[str, Any], outcome: str, max_stop: float,
                       green: float | None = None) -> str | None:
    """Why no red line is proposed (None when one is), in the words the terminal and the
    report both print after "no red line proposed"."""
    why = not_proposed(q, green)
    if why is None:
        return None
    line = q.get("bound_line", q.get("red"))
    few = q.get("min_trials", FEW_TRIALS)
    one_s, many_s, one_f, many_f = SUCCEEDS[outcome]
    if why in ("few_successes", "few_failures"):
        n = q["successes"] if why == "few_successes" else q["failures"]
        verb = (one_s, many_s) if why == "few_successes" else (one_f, many_f)
        counted = ("no simulated trial " + verb[0] if n == 0 else
                   f"only 1 simulated trial {verb[0]}" if n == 1 else
                   f"only {n} simulated trials {verb[1]}")
        return f"{counted}; at least {few} needed"
    return (f"the bound, stopping at most {max_stop:g} of the trials that {many_s}, holds "
            f"up to {line:.2f}, at or above the green line {q.get('green', green):g}: every "
            "red line below the green line meets it, so it sets none")


def _grid(stat: np.ndarray) -> np.ndarray:
    finite = stat[np.isfinite(stat)]
    top = max(1.0, float(np.quantile(finite, 0.95))) if len(finite) else 1.0
    return np.linspace(0.0, top, CURVE_POINTS)


def proposals(reps: pd.DataFrame, max_stop: float,
              thresholds: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"max_stop_if_success": max_stop, "min_trials": FEW_TRIALS}
    for name in PROPOSED:
        stat = reps[keys.review_statistic(name)].to_numpy(dtype=float)
        grid = _grid(stat)
        out[name] = {o: {**propose(stat, success, max_stop, thresholds[name].green),
                         "curve": trade_off(stat, success, grid)}
                     for o, success in outcomes(reps).items()}
    return out


def _distribution(x: np.ndarray) -> dict[str, float | None]:
    x = x[np.isfinite(x)]
    if not len(x):
        return {"mean": None, "p10": None, "p50": None, "p90": None, "defined": 0}
    q = np.quantile(x, [0.1, 0.5, 0.9])
    return {"mean": float(x.mean()), "p10": float(q[0]), "p50": float(q[1]),
            "p90": float(q[2]), "defined": int(len(x))}


def rescue_summary(reps: pd.DataFrame) -> dict[str, Any] | None:
    """P(target) and power with the amber plan beside without it, over the same
    replications (common random numbers: the paired differences' Monte Carlo SEs)."""
    if keys.RESCUE_APPLIED not in reps:
        return None
    out: dict[str, Any] = {"applied": int(reps[keys.RESCUE_APPLIED].sum())}
    for name, base, plan in (("prob_target", "target_reached", keys.RESCUE_TARGET),
                             ("power_primary", "primary_reject", keys.RESCUE_REJECT)):
        a = reps[base].to_numpy(dtype=float)
        b = reps[plan].to_numpy(dtype=float)
        d = b - a
        out[name] = {"without_plan": float(a.mean()), "with_plan": float(b.mean()),
                     "difference": float(d.mean()),
                     "difference_mc_se": float(d.std(ddof=1) / math.sqrt(len(d)))
                     if len(d) > 1 else None}
    out["randomised"] = {"without_plan": float(reps["randomised"].mean()),
                         "with_plan": float(reps[keys.RESCUE_RANDOMISED].mean())}
    return out


def progression_summary(reps: pd.DataFrame, params: ModelParams,
                        full: bool = True) -> dict[str, Any]:
    """`full`: also the thresholds, the statistics' spread and the proposals (the
    assurance run's section gives the shares, the operating characteristics and the
    plan)."""
    p = params.progression
    out: dict[str, Any] = {
        "review_month": float(reps[keys.REVIEW_MONTH].iloc[0]) if len(reps) else None,
        "criteria": list(p.criteria),
        "overall_rule": p.overall_rule,
        "no_data": p.no_data,
        "lights": light_shares(reps, p.criteria),
        "operating": operating_characteristics(reps),
    }
    rescue = rescue_summary(reps)
    if rescue is not None:
        a = p.amber_action
        out["amber_plan"] = {"extra_sites": a.extra_sites, "site_kind": a.site_kind,
                             "retention": a.retention, **rescue}
    if not full:
        return out
    out["thresholds"] = {name: {"green": t.green, "red": t.red}
                         for name, t in p.thresholds.items()}
    out["retention_relative_to"] = p.retention_relative_to
    out["statistics"] = {name: _distribution(reps[keys.review_statistic(name)]
                                             .to_numpy(dtype=float))
                         for name in p.thresholds}
    out["esw_wait_days"] = _distribution(reps[keys.REVIEW_ESW_WAIT].to_numpy(dtype=float))
    out["planned_randomised"] = float(reps[keys.REVIEW_PLANNED].iloc[0]) if len(reps) else None
    out["planned_sites"] = float(reps[keys.REVIEW_SITES_PLANNED].iloc[0]) if len(reps) else None
    if p.propose_max_stop_success is not None:
        out["proposal"] = proposals(reps, p.propose_max_stop_success, p.thresholds)
    return out

