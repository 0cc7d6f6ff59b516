"""Design search (`mode=design`): the smallest sample size, sites, months and ESWs.

Three questions, answered in turn, each by bisection over the planner's grid with
common random numbers (every candidate runs replications 0..R-1 from the same seed):
1. the smallest target N (from `n_start` in steps of `n_step`) whose power reaches
   `target_power`, with recruitment unconstrained (a long window);
2. for each number of recruitment months, the smallest number of sites of
   `site_kind` that recruits that N within the months with probability `prob_target`;
3. for the shortest feasible design, the fewest ESWs per locality that keep the
   `wait_statistic` (mean or p90) wait under `max_wait_days` without the power falling
   clearly below its goal (with an ESW ICC, fewer ESWs lower the power of the partially
   nested analysis).
A candidate passes only if the one-sided lower confidence bound of its Monte Carlo
estimate clears the goal, so that a rerun with new seeds clears it too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from scipy.special import ndtri

from trialsim.errors import ConfigError
from trialsim.experiments.runner import run_replications
from trialsim.inputs.checks import number
from trialsim.inputs.params import build_params, build_run_settings
from trialsim.reporting.outputs import write_json_atomic
from trialsim.reporting.report import publish
from trialsim.reporting.summary import share

SITE_KINDS = ("gp_practices", "pain_services")
WAIT_STATISTICS = ("mean", "p90")
UNCONSTRAINED_MONTHS = 1200


def _with(cfg: DictConfig, **changes: Any) -> DictConfig:
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    for key, value in changes.items():
        OmegaConf.update(out, key.replace("__", "."), value, merge=False)
    return out


def smallest(candidates: list[int], passes: Callable[[int], bool]) -> int | None:
    """The smallest candidate that passes, assuming passing is monotone (bisection)."""
    lo, hi, found = 0, len(candidates) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if passes(candidates[mid]):
            found, hi = candidates[mid], mid - 1
        else:
            lo = mid + 1
    return found


class DesignSearch:
    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.settings = build_run_settings(cfg)
        d = cfg.design
        k = "design"
        self.target_power = number(f"{k}.target_power", d.target_power, lo=0, hi=1,
                                   lo_open=True, hi_open=True)
        self.prob_target = number(f"{k}.prob_target", d.prob_target, lo=0, hi=1, lo_open=True,
                                  hi_open=True)
        self.z = float(ndtri(number(f"{k}.confidence", d.confidence, lo=0.5, hi=1,
                                    hi_open=True)))
        n_start = number(f"{k}.n_start", d.n_start, lo=4, integer=True)
        n_step = number(f"{k}.n_step", d.n_step, lo=2, integer=True)
        n_stop = number(f"{k}.n_stop", d.n_stop, lo=n_start, integer=True)
        self.n_grid = list(range(n_start, n_stop + 1, n_step))
        if d.site_kind not in SITE_KINDS:
            raise ConfigError(f"{k}.site_kind", d.site_kind, f"one of {', '.join(SITE_KINDS)}")
        self.site_kind = d.site_kind
        self.sites_grid = list(range(1, number(f"{k}.max_sites", d.max_sites, lo=1,
                                               integer=True) + 1))
        self.months_grid = sorted(number(f"{k}.months[{i}]", m, lo=0, lo_open=True, hi=1200)
                                  for i, m in enumerate(d.months))
        if not self.months_grid:
            raise ConfigError(f"{k}.months", list(d.months), "a non-empty list of months")
        self.esw_grid = list(range(1, number(f"{k}.max_esw_per_locality",
                                             d.max_esw_per_locality, lo=1, integer=True) + 1))
        self.max_wait = number(f"{k}.max_wait_days", d.max_wait_days, lo=0)
        if d.wait_statistic not in WAIT_STATISTICS:
            raise ConfigError(f"{k}.wait_statistic", d.wait_statistic,
                              f"one of {', '.join(WAIT_STATISTICS)}")
        self.wait_statistic = d.wait_statistic
        self.log: list[dict[str, Any]] = []

    def _run(self, cfg: DictConfig):
        # the goals are power and recruitment at the parameters' estimates, not assurance
        params = dataclasses.replace(build_params(cfg), uncertainty=None)
        s = self.settings
        return run_replications(params, s.replications, s.seed, s.n_jobs).replications

    def _clears(self, flags, goal: float) -> tuple[bool, dict[str, float]]:
        s = share(flags.astype(float))
        return s["estimate"] - self.z * s["mc_se"] >= goal, s

    def sample_size(self) -> int | None:
        def passes(n: int) -> bool:
            rows = self._run(_with(self.cfg, trial__target_n=n,
                                   trial__recruitment_months=UNCONSTRAINED_MONTHS))
            ok, s = self._clears(rows["primary_reject"], self.target_power)
            self.log.append({"step": "sample_size", "target_n": n, "power": s["estimate"],
                             "mc_se": s["mc_se"], "passes": ok})
            return ok
        return smallest(self.n_grid, passes)

    def sites_for(self, n: int, months: float) -> int | None:
        def passes(sites: int) -> bool:
            rows = self._run(_with(self.cfg, trial__target_n=n, trial__recruitment_months=months,
                                   **{f"sites__{self.site_kind}__count": sites}))
            ok, s = self._clears(rows["target_reached"], self.prob_target)
            self.log.append({"step": "sites", "months": months, "sites": sites,
                             "prob_target": s["estimate"], "mc_se": s["mc_se"], "passes": ok})
            return ok
        return smallest(self.sites_grid, passes)

    def esws_for(self, n: int, months: float, sites: int) -> int | None:
        column = f"delivery_{self.wait_statistic}_wait_days"

        def passes(esw: int) -> bool:
            rows = self._run(_with(self.cfg, trial__target_n=n, trial__recruitment_months=months,
                                   delivery__esw__per_locality=esw,
                                   **{f"sites__{self.site_kind}__count": sites}))
            wait = float(rows[column].mean())
            se = float(rows[column].std(ddof=1) / math.sqrt(len(rows))) if len(rows) > 1 else 0
            # fewer ESWs mean bigger clusters: power must not fall clearly below its goal
            # (N already cleared the goal with a margin; a second margin here would
            # reject designs for Monte Carlo noise alone)
            power = share(rows["primary_reject"].astype(float))
            power_ok = power["estimate"] + self.z * power["mc_se"] >= self.target_power
            ok = wait + self.z * se <= self.max_wait and power_ok
            self.log.append({"step": "esw", "per_locality": esw, "wait_days": wait,
                             "mc_se": se, "power": power["estimate"],
                             "power_mc_se": power["mc_se"], "passes": ok})
            return ok
        return smallest(self.esw_grid, passes)

    def run(self) -> dict[str, Any]:
        n = self.sample_size()
        result: dict[str, Any] = {
            "scenario": self.settings.scenario, "replications": self.settings.replications,
            "seed": self.settings.seed, "site_kind": self.site_kind,
            "goals": {"target_power": self.target_power, "prob_target": self.prob_target,
                      "max_wait_days": self.max_wait, "wait_statistic": self.wait_statistic,
                      "confidence_z": self.z},
            "target_n": n, "sites_by_months": [], "recommended": None,
        }
        if n is not None:
            for months in self.months_grid:
                sites = self.sites_for(n, months)
                result["sites_by_months"].append({"months": months, "sites": sites})
            feasible = [d for d in result["sites_by_months"] if d["sites"] is not None]
            if feasible:
                best = feasible[0]
                esw = self.esws_for(n, best["months"], best["sites"])
                result["recommended"] = {"target_n": n, "months": best["months"],
                                         "sites": best["sites"], "esw_per_locality": esw,
                                         "localities": int(self.cfg.trial.localities)}
        result["evaluations"] = self.log
        return result


def design_table(result: dict[str, Any]) -> str:
    lines = [f"trialsim design: scenario {result['scenario']}, "
             f"{result['replications']} replications per candidate"]
    g = result["goals"]
    if result["target_n"] is None:
        lines.append(f"  no target N in the grid reaches power {g['target_power']}")
        return "\n".join(lines)
    lines.append(f"  smallest target N with power >= {g['target_power']}: {result['target_n']}")
    for d in result["sites_by_months"]:
        sites = "none in the grid" if d["sites"] is None else d["sites"]
        lines.append(f"  {d['months']:g} months: {result['site_kind']} needed for "
                     f"P(target) >= {g['prob_target']}: {sites}")
    r = result["recommended"]
    if r is not None:
        esw = "none in the grid" if r["esw_per_locality"] is None else r["esw_per_locality"]
        lines.append(f"  recommended: {r['sites']} {result['site_kind']} for {r['months']:g} "
                     f"months, {esw} ESW(s) in each of {r['localities']} localities "
                     f"({g['wait_statistic']} wait <= {g['max_wait_days']:g} days)")
    return "\n".join(lines)


def run_design(cfg: DictConfig, out_dir: Path | None) -> dict[str, Any]:
    result = DesignSearch(cfg).run()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out_dir / "design.json", result)
        publish(out_dir, charts=bool(cfg.output.charts), report=bool(cfg.output.report))
    return result
