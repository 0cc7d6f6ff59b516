"""What the design search's check run reports of the recommended design beyond its
goals: the figures a panel reads next to power and P(target)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trialsim.inputs.params import ModelParams
from trialsim.units import days_to_months, months_to_days


def delivery_and_review(cols: dict[str, np.ndarray], params: ModelParams,
                        months: float) -> dict[str, Any]:
    """What a panel asks of the recommended design beside its goals: the 12-month
    questionnaires returned per arm, the wait for the joint ESW + OT appointment, and
    the internal pilot's lights and how often its rule stops a trial that would succeed
    (trialsim.reporting.progression_summary, on the check run's trials)."""
    import pandas as pd

    from trialsim.reporting.progression_summary import light_shares, operating_characteristics

    frame = pd.DataFrame(cols)
    returned = {arm: float(np.nanmean(cols[f"retention_{arm}_m12"]))
                if f"retention_{arm}_m12" in cols else None for arm in ("ips", "tau")}
    ot = np.asarray(cols.get("delivery_ot_wait_days", []), dtype=float)
    out: dict[str, Any] = {"returned_m12": returned,
                           "ot_wait_days": float(np.nanmean(ot)) if np.isfinite(ot).any()
                           else None}
    out["tipping"] = tipping_points(cols)
    for key, col in (("effect_itt", "effect_itt_true"), ("received_share", "ips_received_share")):
        x = np.asarray(cols.get(col, []), dtype=float)  # the effect the trial tests, and why
        out[key] = float(np.nanmean(x)) if np.isfinite(x).any() else None
    p = params.progression
    lights = [f"review_verdict_{c}" for c in (*p.criteria, "overall")]
    if any(c not in cols for c in lights):  # an Evaluator without tipping_and_review's rows
        raise ValueError(f"the check's trials lack the internal pilot's review ({lights})")
    window = months_to_days(months)  # the recommendation's window, not the scenario's
    out["progression"] = {"review_month": days_to_months(p.review_day(window)),
                          "lights": light_shares(frame, p.criteria),
                          "operating": operating_characteristics(frame)}
    return out


def tipping_points(cols: dict[str, np.ndarray]) -> dict[str, dict[str, float | None]]:
    """Among the check run's trials that reject under MAR, the median MNAR tipping point
    (SD units) with the IPS arm's, the TAU arm's or both arms' missing scores shifted
    (trialsim.analysis.trial_analysis.sensitivity_columns), with its Monte Carlo SE."""
    from trialsim.reporting.missing_data_summary import median_with_se

    if "sensitivity_tipping_delta" not in cols:  # made by every full trial row
        raise ValueError("the check's trials lack the MNAR delta sensitivity")
    sig = np.asarray(cols.get("primary_reject", []), dtype=bool)
    out = {}
    for arm in ("ips", "tau", "both"):
        col = f"sensitivity_tipping_delta_{arm}"
        if col in cols and sig.any():
            med, se = median_with_se(np.asarray(cols[col], dtype=float)[sig])
            out[arm] = {"median": med, "mc_se": se}
    return out


OT_BUSY = 0.8  # assumption: an OT booked beyond this share of their sessions has waits that grow


def ot_load(params: ModelParams, ips_randomised: float, recruiting_months: float) -> float:
    """The share of the OTs' joint-appointment sessions the design's IPS participants ask
    for while recruitment runs: each IPS participant's one joint appointment, at the
    mean rate over the months recruiting (an upper bound: some never see an ESW)."""
    d = params.delivery
    if recruiting_months <= 0:
        return 0.0
    per_day = ips_randomised / months_to_days(recruiting_months)
    return per_day * d.ot_appointment_days / d.ot_count


def ots_needed(load: float, params: ModelParams) -> int:
    """The OTs the design staffs for the joint appointments: the configured count, or
    the fewest that hold `load` (the share of the configured OTs' sessions asked for)
    below OT_BUSY. Staffing to demand costs nothing in the model (the OT is paid per
    appointment, the same appointments whoever holds them) and changes nothing but the
    wait for the joint appointment (no random draw; received as intended does not read
    it), so the search staffs the recommendation and its check run this way rather
    than recommend a wait that grows through the trial."""
    count = params.delivery.ot_count
    if load < OT_BUSY:
        return count
    return max(count, math.floor(load * count / OT_BUSY) + 1)  # the fewest below OT_BUSY


def ot_note(load: float, params: ModelParams) -> str | None:
    """What the search says of OTs the configured count would overbook (None: it would
    not): the count the design staffs instead (ots_needed)."""
    d = params.delivery
    need = ots_needed(load, params)
    if need == d.ot_count:
        return None
    return (f"the joint ESW + OT appointments ask for {load:.2f} of the OT sessions "
            f"({d.ot_count} OT(s) at {7.0 / d.ot_appointment_days:g} a week) while "
            f"recruitment runs: above {OT_BUSY:g}, their wait grows through the trial; "
            f"the design staffs {need} OTs (delivery.ot.count={need}, its check run too), "
            f"{load * d.ot_count / need:.2f} of their sessions, at no extra cost in the "
            "model (paid per appointment): the planner must find them")


def edge_note(rec: dict[str, Any], d: Any, site_kind: str) -> str | None:
    """What the search says of a recommendation at the edge of what it searched (None:
    inside): a design beyond the grid was never looked at, so the answer may be the
    grid's limit rather than the trial's. `d`: the search's DesignSettings. The number
    of sites starts at 1 and the months at the shortest window: only their tops count."""
    edges = [words.format(got) + f", the {end} searched ({key})"
             for got, grid, end, words, key in (
                 (rec.get("sites"), d.sites_grid, "most", "{:g} " + site_kind,
                  "design.max_sites"),
                 (rec.get("months"), d.months_grid, "longest", "{:g} months", "design.months"),
                 (rec.get("target_n"), d.n_grid, "largest", "N {:g}", "design.n_stop"),
                 (rec.get("target_n"), d.n_grid[::-1], "smallest", "N {:g}", "design.n_start"),
                 (rec.get("esw_per_locality"), d.esw_grid, "most", "{:g} ESWs per locality",
                  "design.max_esw_per_locality"))
             if got is not None and len(grid) > 1 and got == grid[-1]]
    if not edges:
        return None
    return ("the recommendation is at the edge of the search, " + "; ".join(edges)
            + ": nothing beyond it was simulated; widen the grid to see whether a design "
            "beyond it would do better")
