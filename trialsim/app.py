"""The pure entry point: a composed config in, results (and files) out.

`simulate.py` calls `run` under `@hydra.main`; tests call it on a config from
`hydra.compose`. Nothing here depends on Hydra's global state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from trialsim.experiments.pilot_rates import pilot_rates_summary
from trialsim.experiments.retention import retention_summary
from trialsim.experiments.runner import jobs_for, run_replications, run_until_precise, workers
from trialsim.inputs import validation
from trialsim.inputs.params import build_params, build_run_settings
from trialsim.inputs.uncertainty import drawn_inputs
from trialsim.inputs.warnings import config_warnings, result_warnings
from trialsim.inputs.workload import check_workload
from trialsim.provenance import config_hash
from trialsim.reporting.outputs import write_outputs
from trialsim.reporting.progression_summary import progression_summary
from trialsim.reporting.sensitivity import parameters_table
from trialsim.reporting.summary import assurance_summary, summarise

MODES = validation.MODES


def validate(cfg: DictConfig) -> None:
    """Raise ConfigErrors naming every bad key (ConfigError when the run is too big),
    before anything is run or written."""
    validation.validate(cfg)
    check_workload(cfg, build_params(cfg))


def warnings_for(cfg: DictConfig) -> list[str]:
    """Legal but likely mistaken settings of a valid config, one line each."""
    return config_warnings(build_params(cfg), str(cfg.scenario_name))


def run(cfg: DictConfig, out_dir: Path | None = None, *,
        answer: Callable[[dict[str, Any]], None] | None = None,
        charts: bool | None = None) -> dict[str, Any]:
    """Simulate the configured trial `replications` times (with `replications=auto`, in
    batches until the primary power is precise enough) and summarise.

    With `uncertainty.mode=pilot` it runs twice from the same seeds: once at the
    parameters' estimates (conventional power) and once drawing them per replication
    (assurance), reported side by side, with each replication's drawn inputs. P(target)
    is also given at the pilot's own rates (every rate discount 1; recruitment alone,
    same seeds), beside the headline's at new sites' rates.

    `answer(summary)` (the terminal's table) is called once the results are written and
    before the figures and the report are drawn (they take most of a short run's time);
    `charts` overrides `output.charts` (a sweep's jobs draw figures only if asked)."""
    settings = build_run_settings(cfg)
    asked = settings.n_jobs  # the figures' processes too (a sweep's jobs: 1)
    if settings.precision is None:  # small runs in-process (runner.PARALLEL_FROM)
        settings = dataclasses.replace(
            settings, n_jobs=jobs_for(settings.replications, settings.n_jobs))
    params = build_params(cfg)
    keep = bool(cfg.output.participants_csv)
    point = dataclasses.replace(params, uncertainty=None)
    figures = out_dir is not None  # the figure data is written with the results
    with workers(settings.n_jobs):  # forked once for every map of this run
        if settings.precision is None:
            result = run_replications(point, settings.replications, settings.seed, settings.n_jobs,
                                      keep_participants=keep, figures=figures)
        else:  # replications=auto: as many as the primary power's precision needs
            result = run_until_precise(point, settings.precision, settings.seed, settings.n_jobs,
                                       keep_participants=keep, figures=figures)
            settings = dataclasses.replace(settings, replications=len(result.replications))
        summary = summarise(settings, point, result)
        summary["precision"] = result.precision or {"replications": "fixed",
                                                    "used": settings.replications}
        summary["recruitment"].update(pilot_rates_summary(
            point, settings.replications, settings.seed, settings.n_jobs,
            summary["recruitment"]["prob_target_by_end"]))
        if point.follow_up.compare_strategies:  # opt-in: six more runs (same seeds)
            summary["retention_strategies"] = retention_summary(
                point, settings.replications, settings.seed, settings.n_jobs, result.replications)
        uncertain = inputs = None
        if params.uncertainty is not None:  # the same replications, drawing the parameters
            uncertain = run_replications(params, settings.replications, settings.seed,
                                         settings.n_jobs, figures=False)
            inputs = parameters_table(drawn_inputs(params, settings.seed, settings.replications),
                                      uncertain.replications)
            summary["assurance"] = assurance_summary(uncertain.replications, params, inputs)
            if params.progression is not None:  # the review's record with the inputs uncertain
                summary["progression"]["assurance"] = progression_summary(
                    uncertain.replications, params, full=False)
    summary["seed"] = settings.seed
    summary["config_hash"] = config_hash(cfg)
    summary["warnings"] = (config_warnings(params, settings.scenario)
                           + result_warnings(summary))
    told = None if answer is None else (lambda: answer(summary))
    if out_dir is not None:
        write_outputs(Path(out_dir), summary, result,
                      charts=bool(cfg.output.charts) if charts is None else charts,
                      participants=keep, assurance=uncertain, assurance_inputs=inputs,
                      report=bool(cfg.output.report), answer=told, processes=asked)
    elif told is not None:
        told()
    return summary
