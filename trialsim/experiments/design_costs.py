"""Costs in the design search (`design.objective=cost`): a quick expected cost for every
candidate design, to rank them before any is simulated in full, and the cost-power
frontier.

The ranking cost of a design (N, ESWs, sites, window, FTE) is built from what the search
has simulated already: the cost per randomised participant of everything that scales
with participants (recruitment calls and packs, booklet and joint appointments,
questionnaires, vouchers, retention contacts), from the power runs at that N and ESW
count; the ESW posts, FTE x months from hire to the close of recruitment plus the last
client's support; trial management from month 0 to the last follow-up; and the sites
set up and their site-months, from the recruitment runs at that number of sites and
window. A design's own cost, reported with its 90% interval, is always that of its full
simulation (the same unit costs, trialsim.analysis.costs); the ranking cost only
decides the order in which designs are simulated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trialsim.analysis.costs import LINES
from trialsim.inputs.cost_params import UnitCosts, per_trial_month
from trialsim.inputs.params import ModelParams
from trialsim.reporting import labels
from trialsim.units import DAYS_PER_MONTH, months_to_days

# the budget lines the ranking cost takes from elsewhere than per participant
NOT_PER_PARTICIPANT = ("esw_posts", "management", "statistician", "data_management",
                       "health_economics", "site_setup", "site_support")
PER_PARTICIPANT = tuple(line.name for line in LINES if line.name not in NOT_PER_PARTICIPANT)
IDLE = 0.5  # below this mean utilisation the search says the posts sit mostly idle


def per_participant(cols: dict[str, np.ndarray]) -> float:
    """Cost per randomised participant of the lines that scale with participants: the
    ratio of their sums over the replications (of their means, as
    trialsim.analysis.costs.ratio_of_means, summed rather than averaged: the ranking
    cost the search has always used, to the last bit)."""
    spent = sum(np.asarray(cols[f"cost_{name}"], dtype=float) for name in PER_PARTICIPANT)
    n = np.asarray(cols["randomised"], dtype=float)
    return float(np.sum(spent) / np.sum(n)) if np.sum(n) > 0 else 0.0


def tails(params: ModelParams) -> tuple[float, float]:
    """Months after recruitment closes that the ESW posts (a first appointment, then
    support to the end of follow-up at most) and the trial team (the last follow-up and
    its two reminders, then close-out; set-up before month 0 counted here too) still run."""
    d, fu = params.delivery, params.follow_up
    horizon = months_to_days(max(fu.months))
    support = min(d.support_days + d.in_work_support_days, horizon)
    esw = (d.first_appointment_mean_days + support) / DAYS_PER_MONTH
    trial = (horizon + 2 * fu.reminder_days + params.setup_days
             + params.closeout_days) / DAYS_PER_MONTH
    return esw, trial


def ranking_cost(unit: UnitCosts, params: ModelParams, n: int, esws: int, fte: float,
                 per_head: float, res: dict[str, float]) -> float:
    """The quick expected cost of a design (module docstring); `res` is the recruitment
    runs' resources at its sites and window (Evaluator.resources)."""
    esw_tail, trial_tail = tails(params)
    close = res["close_months"]
    start = 0.0 if params.delivery.esw_hire == "day0" else close - res["recruiting_months"]
    return (n * per_head
            + unit.esw_month * fte * esws * (close - start + esw_tail)
            + per_trial_month(unit) * (close + trial_tail)
            + unit.site_setup * res["sites_opened"]
            + unit.site_month * res["service_months"])


def cost_of(cols: dict[str, np.ndarray]) -> dict[str, float | None]:
    """A simulated design's expected cost (mean, Monte Carlo SE, 90% interval over its
    trials), its mean utilisation and peak caseload."""
    x = np.asarray(cols["cost_total"], dtype=float)
    u = np.asarray(cols["resource_utilisation"], dtype=float)
    u = u[np.isfinite(u)]
    lo, hi = np.quantile(x, (0.05, 0.95))
    return {"cost": float(x.mean()),
            "cost_mc_se": float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else None,
            "cost_p5": float(lo), "cost_p95": float(hi),
            "utilisation": float(u.mean()) if len(u) else None,
            "peak_caseload": float(np.mean(cols["delivery_max_caseload"]))}


def frontier(rows: list[dict[str, Any]], crit: str, levels: tuple[float, ...],
             z: float) -> list[dict[str, Any]]:
    """The cost-power frontier: for each level, the design with the lowest cost
    (simulated where it was, else ranking cost) whose criterion clears it as the goals
    are cleared, by the one-sided Monte Carlo bound (estimate - z x MC SE; a design
    without an MC SE clears nothing), leaving out designs simulated in full and found to
    miss another goal (the wait, the utilisation floor): a panel reads a frontier point
    as a design it could fund at that level, and no point may undercut the
    recommendation at the goal's own level on a point estimate. A point not simulated in
    full has `feasible` None: its wait unchecked."""
    def bound(r: dict[str, Any]) -> float:
        est, se = r.get(crit), r.get(f"{crit}_mc_se")
        if est is None or se is None or not math.isfinite(se):
            return -math.inf
        return est - z * se

    out = []
    for level in levels:
        ok = [r for r in rows if bound(r) >= level and r.get("feasible") is not False]
        if not ok:
            out.append({"level": level, "design": None})
            continue
        best = min(ok, key=lambda r: r["cost"] if r.get("cost") is not None
                   else r["ranking_cost"])
        out.append({"level": level, "design": {
            k: best.get(k) for k in ("target_n", "esw_per_locality", "esws", "fte",
                                     "allocation_ratio", "sites", "months", crit,
                                     f"{crit}_mc_se", "ranking_cost", "cost", "cost_p5",
                                     "cost_p95", "utilisation", "feasible")}})
    return out


def idle_note(utilisation: float | None, floor: float, fte: float = 1.0,
              fte_grid: tuple[float, ...] | list[float] = (1.0,)) -> str | None:
    """What the search says of posts that sit idle (None: they do not). Its advice
    follows the grid: a smaller FTE is suggested only if design.esw_fte offered one, so
    that a recommendation already at the smallest is not told to do what it does."""
    if utilisation is None or utilisation >= IDLE:
        return None
    smaller = sorted(f for f in fte_grid if f < fte)
    advice = (f"fewer posts, or posts at a smaller FTE from design.esw_fte "
              f"({', '.join(f'{f:g}' for f in smaller)}), would cost less if the goals allow"
              if smaller else
              f"they are already at {fte:g} FTE, the smallest in design.esw_fte: fewer "
              "posts would cost less if the goals allow, as might a smaller FTE added to "
              "design.esw_fte")
    return (f"IPS participants fill {utilisation:.0%} of the caseload place-months the ESW "
            f"posts are paid for from hire ({labels.UTILISATION} {utilisation:.2f}, floor "
            f"design.min_utilisation {floor:g}): the posts are paid while mostly idle; "
            + advice)
