"""The pure entry point: a composed config in, results (and files) out.

`simulate.py` calls `run` under `@hydra.main`; tests call it on a config from
`hydra.compose`. Nothing here depends on Hydra's global state.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from trialsim.errors import ConfigError
from trialsim.experiments.design import DesignSearch
from trialsim.experiments.runner import run_replications
from trialsim.inputs.params import build_params, build_run_settings
from trialsim.reporting.outputs import write_outputs
from trialsim.reporting.summary import assurance_summary, summarise

MODES = ("run", "design")


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first bad value, before anything is run or written."""
    if cfg.mode not in MODES:
        raise ConfigError("mode", cfg.mode, f"one of {', '.join(MODES)}")
    build_run_settings(cfg)
    build_params(cfg)
    if cfg.mode == "design":
        DesignSearch(cfg)


def run(cfg: DictConfig, out_dir: Path | None = None) -> dict[str, Any]:
    """Simulate the configured trial `replications` times and summarise.

    With `uncertainty.mode=pilot` it runs twice from the same seeds: once at the
    parameters' estimates (conventional power) and once drawing them per replication
    (assurance), reported side by side."""
    settings = build_run_settings(cfg)
    params = build_params(cfg)
    keep = bool(cfg.output.participants_csv)
    point = dataclasses.replace(params, uncertainty=None)
    result = run_replications(point, settings.replications, settings.seed, settings.n_jobs,
                              keep_participants=keep)
    summary = summarise(settings, point, result)
    uncertain = None
    if params.uncertainty is not None:
        uncertain = run_replications(params, settings.replications, settings.seed,
                                     settings.n_jobs)
        summary["assurance"] = assurance_summary(uncertain.replications, params)
    if out_dir is not None:
        write_outputs(Path(out_dir), summary, result, charts=bool(cfg.output.charts),
                      participants=keep, assurance=uncertain, report=bool(cfg.output.report))
    return summary
