"""Retention strategies and the kind of site as design levers: the whole search run once
per variant, the cheapest recommendation kept.

A variant is one set of retention strategies (`design.retention_strategies`, each set
replacing the scenario's own) and one kind of site whose count is searched
(`design.site_kind`, a kind or a list of kinds). Each variant's search uses the same
seed (common random numbers: the differences between variants are the levers', not
noise), and the recommendation is the variant whose recommended design costs least in
its full simulation, so adding a variant never recommends a dearer design. Strategies
change the returns and hence power, and add their costs (`costs.text`, ...); they do
not change recruitment, so the sites step is repeated needlessly per strategy set: the
price of keeping each variant's search the plain search.

A strategy that changes how the outcome is measured (ESW completion with a mode effect)
biases the primary estimate, so the power it shows is not power: refused as a lever
unless `follow_up.esw_completion.mode_effect` is 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

from trialsim.inputs.design_settings import site_kinds, strategy_sets
from trialsim.inputs.pathway_params import TABLE8_WAVES

INTERIM_MONTH = 9.0  # as trialsim.experiments.retention: the pilot report's suggestion


def strategy_changes(cfg: DictConfig, on: tuple[str, ...]) -> dict[str, Any]:
    """The config changes that run exactly the strategies `on` (as
    trialsim.experiments.retention.with_strategies does to the parameters): the Table 8
    waves, plus the scenario's interim waves or a 9-month one with interim_contact."""
    months = [float(m) for m in cfg.follow_up.months]
    waves = [m for m in months if m in TABLE8_WAVES]
    if "interim_contact" in on:
        waves = sorted({*waves, *([m for m in months if m not in TABLE8_WAVES]
                                  or [INTERIM_MONTH])})
    return {"follow_up.months": waves,
            "follow_up.esw_completion.enabled": "esw_completion" in on,
            "follow_up.text_followup.enabled": "text_followup" in on,
            "follow_up.linkage": "linkage" in on}


def label(strategies: tuple[str, ...] | None) -> str:
    if strategies is None:
        return "as configured"
    return " + ".join(strategies) if strategies else "none"


def variants(cfg: DictConfig, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each (strategy set, site kind) to search, with its config changes."""
    sets = strategy_sets(cfg)
    out = []
    for s in (sets if sets is not None else (None,)):
        for kind in site_kinds(cfg, kinds):
            changes = {"design.site_kind": kind}
            if s is not None:
                changes.update(strategy_changes(cfg, s))
            out.append({"strategies": None if s is None else list(s),
                        "site_kind": kind, "changes": changes})
    return out


def cheapest(results: list[dict[str, Any]], tried: list[dict[str, Any]]) -> dict[str, Any]:
    """The variant whose recommendation costs least (its full simulation, search seed);
    the first variant when none recommends a design. The result names every variant."""
    found = [(r["recommended"]["cost"], i) for i, r in enumerate(results)
             if r.get("recommended") and r["recommended"].get("cost") is not None]
    best = min(found)[1] if found else 0
    chosen = dict(results[best])
    chosen["retention_strategies"] = tried[best]["strategies"]
    chosen["variants"] = [
        {"strategies": v["strategies"], "label": label(None if v["strategies"] is None
                                                       else tuple(v["strategies"])),
         "site_kind": v["site_kind"], "chosen": i == best,
         "recommended": r.get("recommended"),
         "check": {k: (r.get("check") or {}).get(k) for k in
                   ("power", "power_of_n", "prob_target", "cost", "returned_m12")}
         if r.get("check") else None,
         "work": r.get("work")}
        for i, (v, r) in enumerate(zip(tried, results, strict=True))]
    return chosen


def run_variants(cfg: DictConfig, search: Callable[[DictConfig], dict[str, Any]],
                 with_changes: Callable[[DictConfig, dict[str, Any]], DictConfig],
                 kinds: tuple[str, ...]) -> dict[str, Any]:
    """`search(cfg)` once per variant (once, unchanged, when there is one)."""
    tried = variants(cfg, kinds)
    if len(tried) == 1 and tried[0]["strategies"] is None:
        return search(cfg)
    results = [search(with_changes(cfg, v["changes"])) for v in tried]
    return cheapest(results, tried)
