"""Power against total N (`mode=curve`): the grid of a design search, without the search.

Every N of `design.n_start..n_stop` by `n_step`, for each ESWs per locality in
`design.curve_esw_per_locality` (default: the scenario's), is simulated with every
replication on common random numbers (replications 0..R-1 of one seed), recruitment
unconstrained so that each trial reaches its N: the power of a trial of N. With
`uncertainty.mode=pilot` the same candidates are run again with the parameters drawn
(assurance). From the same runs, P(target N within the scenario's window with the
scenario's sites): the N-th randomisation falls before the window's end (the model never
looks ahead). Written to `design.json` as `evaluations` with step `curve`, drawn as the
power curve and reported like a design search.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from trialsim.experiments.candidates import Candidate, Evaluator, share
from trialsim.experiments.runner import workers
from trialsim.inputs.design_settings import build_design
from trialsim.inputs.params import build_params, build_run_settings
from trialsim.reporting.outputs import DESIGN, publish_files, write_json_atomic


def power_curve(cfg: DictConfig) -> dict[str, Any]:
    s, d = build_run_settings(cfg), build_design(cfg)
    base = build_params(cfg)
    ev = Evaluator(cfg, s, dataclasses.replace(d, screen_replications=0),
                   tipping_and_review=False)
    esws = d.curve_esw or (base.delivery.esw_per_locality,)
    sites = int(cfg.sites[d.site_kind].count)
    window = float(cfg.trial.recruitment_months)
    log: list[dict[str, Any]] = []
    smallest: list[dict[str, Any]] = []
    for e in esws:
        first = None
        for n in d.n_grid:
            c = Candidate(n, e, sites, None, False)
            cols = ev.trials(c, s.replications, "curve")
            power, power_se = share(cols["primary_reject"])
            with np.errstate(invalid="ignore"):
                pt, pt_se = share(cols["months_to_target"] < window)
            rec = {"step": "curve", "target_n": n, "esw_per_locality": e,
                   "esws": e * base.localities, "sites": sites, "months": None,
                   "replications": s.replications, "power": power, "power_mc_se": power_se,
                   "prob_target": pt, "prob_target_mc_se": pt_se, "prob_target_months": window}
            if base.uncertainty is not None:
                drawn = ev.trials(dataclasses.replace(c, uncertain=True), s.replications,
                                  "curve")
                rec["assurance"], rec["assurance_mc_se"] = share(drawn["primary_reject"])
            value = rec.get(d.criterion)
            rec["passes"] = (value is not None and
                             value - d.z * rec[f"{d.criterion}_mc_se"] >= d.target_power)
            if first is None and rec["passes"]:
                first = n
            log.append(rec)
        smallest.append({"esw_per_locality": e, "esws": e * base.localities, "target_n": first})
    return {
        "mode": "curve", "scenario": s.scenario, "replications": s.replications,
        "seed": s.seed, "criterion": d.criterion, "site_kind": d.site_kind,
        "localities": base.localities, "scenario_sites": sites,
        "scenario_months": window,
        "goals": {"criterion": d.criterion, "target_power": d.target_power,
                  "prob_target": d.prob_target, "confidence_z": d.z},
        "smallest_n": smallest,
        "target_n": next((m["target_n"] for m in smallest if m["target_n"] is not None), None),
        "work": ev.total_work(),
        "evaluations": log,
    }


def run_curve(cfg: DictConfig, out_dir: Path | None, *,
              answer: Callable[[dict[str, Any]], None] | None = None,
              charts: bool | None = None) -> dict[str, Any]:
    """The curve; `answer` and `charts` as in trialsim.experiments.design.run_design."""
    n_jobs = build_run_settings(cfg).n_jobs
    with workers(n_jobs):  # forked once for every candidate's map
        result = power_curve(cfg)
    told = None if answer is None else (lambda: answer(result))
    if out_dir is None:
        if told is not None:
            told()
    else:
        publish_files(out_dir, lambda d: write_json_atomic(d / DESIGN, result),
                      charts=bool(cfg.output.charts) if charts is None else charts,
                      report=bool(cfg.output.report), answer=told,
                      processes=n_jobs)
    return result
