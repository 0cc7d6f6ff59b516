"""What the design search's check run reports of the recommended design beyond its
goals: the figures a panel reads next to power and P(target)."""

from __future__ import annotations

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
    p = params.progression
    if all(f"review_verdict_{c}" in cols for c in (*p.criteria, "overall")):
        window = months_to_days(months)  # the recommendation's window, not the scenario's
        out["progression"] = {"review_month": days_to_months(p.review_day(window)),
                              "lights": light_shares(frame, p.criteria),
                              "operating": operating_characteristics(frame)}
    return out


def check_extras_lines(check: dict[str, Any]) -> list[str]:
    """The terminal's lines for `delivery_and_review`'s figures."""
    out = []
    r, ot = check.get("returned_m12") or {}, check.get("ot_wait_days")
    if r.get("ips") is not None:
        out.append(f"    12-month questionnaires returned IPS {r['ips']:.2f}, TAU {r['tau']:.2f}; "
                   "joint ESW + OT appointment wait "
                   + (f"{ot:.1f} days" if ot is not None else "n/a"))
    pr = check.get("progression")
    if pr:
        o = pr["lights"]["overall"]
        stop = pr["operating"]["target_and_power"]["p_stop_if_success"]
        out.append(f"    internal pilot at month {pr['review_month']:.1f}: green {o['green']:.2f}, "
                   f"amber {o['amber']:.2f}, red {o['red']:.2f}; stops "
                   + (f"{stop['estimate']:.3f} (MC SE {stop['mc_se']:.3f})"
                      if stop.get("estimate") is not None else "n/a")
                   + " of the trials that would reach N and reject")
    return out
