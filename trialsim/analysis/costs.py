"""What a trial costs: the counted resources (trialsim.model.resources) times the unit
costs (`costs.*`), per replication, and over replications as a distribution.

The one place a budget line is defined: its heading in a grant application's budget,
the resource it counts and the unit cost it takes. Cost is linear in every unit cost
(a line is its resource count times its unit cost), so raising a unit cost never lowers
the total, and a retention strategy adds exactly its unit cost times its uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from trialsim.inputs.cost_params import UnitCosts
from trialsim.model.resources import HOURS_PER_DAY, Resources
from trialsim.units import CALENDAR_PER_WORKING_DAY


class Line(NamedTuple):
    name: str
    heading: str  # the budget table's row group
    label: str
    resource: str  # a key of trialsim.model.resources.RESOURCES
    unit: str  # a field of UnitCosts


STAFF, INTERVENTION, RECRUIT, SITES, FOLLOW, RETAIN = (
    "staff", "intervention", "recruitment", "sites", "follow_up", "retention")
# IPS delivery (the ESW posts, the OT's joint appointments) apart from the research costs:
# a funder costs an intervention under its own heading (in the NHS, AcoRD's treatment /
# excess treatment costs, not the research grant's), so a panel reads the two separately
HEADINGS = {STAFF: "Research staff", INTERVENTION: "Intervention: IPS delivery",
            RECRUIT: "Recruitment", SITES: "Sites", FOLLOW: "Follow-up",
            RETAIN: "Retention strategies"}
RESEARCH = tuple(h for h in HEADINGS if h != INTERVENTION)
LINES = (
    Line("esw_posts", INTERVENTION, "ESW posts (FTE x months, from hire)", "esw_post_months",
         "esw_month"),
    Line("management", STAFF, "Trial management", "trial_months", "management_month"),
    Line("statistician", STAFF, "Trial statistician", "trial_months", "statistician_month"),
    Line("data_management", STAFF, "Data management", "trial_months", "data_management_month"),
    Line("health_economics", STAFF, "Health economics", "trial_months",
         "health_economics_month"),
    Line("coordinator_screening", STAFF, "Coordinator: screening calls", "screening_hours",
         "coordinator_hour"),
    Line("coordinator_booklets", STAFF, "Coordinator: TAU booklet appointments",
         "booklet_hours", "coordinator_hour"),
    Line("ot_joint", INTERVENTION, "OT: joint ESW + OT appointments", "ot_sessions",
         "ot_appointment"),
    Line("placement_subsidies", INTERVENTION, "Work placements: wage subsidy (months)",
         "placement_months", "placement_month"),
    Line("research_nurse", RECRUIT, "Research nurse: hand search", "nurse_days", "nurse_day"),
    Line("mailshot_packs", RECRUIT, "Mailshot packs", "packs", "pack"),
    Line("site_setup", SITES, "Site set-up", "sites_set_up", "site_setup"),
    Line("site_support", SITES, "Site research support (site-months)", "site_months",
         "site_month"),
    Line("questionnaires", FOLLOW, "Postal questionnaires", "questionnaires_sent",
         "questionnaire"),
    Line("reminders", FOLLOW, "Reminders with a second copy", "reminders", "reminder"),
    Line("vouchers", FOLLOW, "Vouchers (one per return)", "questionnaires_returned", "voucher"),
    Line("texts", RETAIN, "Text / e-mail to non-returners", "texts", "text"),
    Line("esw_completions", RETAIN, "Questionnaires completed with the ESW", "esw_completions",
         "esw_completion"),
    Line("interim_contacts", RETAIN, "Interim contacts", "interim_contacts", "interim_contact"),
)
INTERVAL = (0.05, 0.95)  # the 90% interval over replications


def _call_cost(unit: UnitCosts, call_days: float) -> float:
    return unit.coordinator_hour * call_days / CALENDAR_PER_WORKING_DAY * HOURS_PER_DAY


def cost_columns(res: Resources, unit: UnitCosts, call_days: float) -> dict[str, float]:
    """One replication's cost columns: each line (`cost_<line>`), the total, each
    heading by trial year (`cost_<heading>_y<k>`, k from 1), each channel's recruitment
    cost (`cost_channel_<channel>`: its packs, nurse-days and screening calls) and the
    resources themselves (`resource_<name>`)."""
    out: dict[str, float] = {f"resource_{k}": v for k, v in res.totals.items()}
    out["resource_utilisation"] = res.utilisation
    total = 0.0
    n_years = len(next(iter(res.by_year.values())))
    by_heading = {h: np.zeros(n_years) for h in HEADINGS}
    for line in LINES:
        price = getattr(unit, line.unit)
        out[f"cost_{line.name}"] = price * res.totals[line.resource]
        total += out[f"cost_{line.name}"]
        by_heading[line.heading] += price * res.by_year[line.resource]
    out["cost_total"] = total
    out["cost_intervention"] = float(by_heading[INTERVENTION].sum())
    out["cost_research"] = total - out["cost_intervention"]
    for h, values in by_heading.items():
        for k, v in enumerate(values.tolist(), 1):
            out[f"cost_{h}_y{k}"] = v
    call = _call_cost(unit, call_days)
    for ch, r in res.by_channel.items():
        out[f"cost_channel_{ch}"] = (r["packs"] * unit.pack + r["nurse_days"] * unit.nurse_day
                                     + r["screening_calls"] * call)
    return out


def _dist(x: np.ndarray) -> dict[str, float | None]:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return {"mean": None, "mc_se": None, "p5": None, "p95": None}
    se = float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else None
    lo, hi = np.quantile(x, INTERVAL)
    return {"mean": float(x.mean()), "mc_se": se, "p5": float(lo), "p95": float(hi)}


def ratio_of_means(cost: np.ndarray, n: np.ndarray) -> tuple[float | None, float | None]:
    """The mean cost over the mean count (None where the count's mean is 0), and its
    Monte Carlo SE by the delta method, sd(cost - r n) / (sqrt(k) mean n) over the k
    replications (None for fewer than two): a budget's cost per participant, what a
    reader divides out of the two means."""
    cost, n = np.asarray(cost, dtype=float), np.asarray(n, dtype=float)
    if not len(n) or not n.mean() > 0:
        return None, None
    r = float(cost.mean() / n.mean())
    se = (float(np.std(cost - r * n, ddof=1) / (math.sqrt(len(n)) * n.mean()))
          if len(n) > 1 else None)
    return r, se


def cost_summary(cols: Mapping[str, Any], unit: UnitCosts,
                 channels: tuple[str, ...]) -> dict[str, Any]:
    """summary.json's `costs`: the total, per randomised participant and each line as a
    mean with its 90% interval over replications, and the cost per randomised
    participant as the ratio of the means (`per_randomised_of_means`, with its MC SE:
    the figure a budget's reader divides out; each trial's own ratio, `per_randomised`,
    is another quantity, higher where trials that recruit fewer cost nearly as much);
    each heading's mean by trial year;
    each channel's recruitment cost per participant it randomised (ratio of means);
    the resources' means; the unit costs used."""
    def col(name: str) -> np.ndarray:
        return np.asarray(cols[name], dtype=float)

    total = col("cost_total")
    randomised = col("randomised")
    per = np.where(randomised > 0, total / np.where(randomised > 0, randomised, 1), np.nan)
    years = sorted({int(k.rsplit("_y", 1)[1]) for k in cols if k.startswith(f"cost_{STAFF}_y")})
    by_year = {h: [float(col(f"cost_{h}_y{k}").mean()) for k in years] for h in HEADINGS}
    by_channel = {}
    for ch in channels:
        cost, n = col(f"cost_channel_{ch}"), col(f"randomised_{ch}")
        by_channel[ch] = {"cost": float(cost.mean()), "randomised": float(n.mean()),
                          "per_randomised": ratio_of_means(cost, n)[0]}
    resources = {k[len("resource_"):]: _mean(col(k)) for k in cols if k.startswith("resource_")}
    return {"costs": {
        "currency": "GBP",
        "total": _dist(total),
        # the research costs and IPS delivery apart (HEADINGS)
        "research": _dist(col("cost_research")),
        "intervention": _dist(col("cost_intervention")),
        "per_randomised": _dist(per),
        **dict(zip(("per_randomised_of_means", "per_randomised_of_means_mc_se"),
                   ratio_of_means(total, randomised), strict=True)),
        "lines": {line.name: {"heading": line.heading, "label": line.label,
                              "resource": line.resource,
                              "unit_cost": getattr(unit, line.unit),
                              **_dist(col(f"cost_{line.name}"))} for line in LINES},
        "headings": dict(HEADINGS),
        "years": years,
        "by_year": by_year,
        "by_channel": by_channel,
        "resources": resources,
        "utilisation": resources.get("utilisation"),
        "unit_costs": {k: getattr(unit, k) for k in unit.__dataclass_fields__},
    }}


def _mean(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else None
