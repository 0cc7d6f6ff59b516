"""The pure entry point: a composed config in, results (and files) out.

`simulate.py` calls `run` under `@hydra.main`; tests call it on a config from
`hydra.compose`. Nothing here depends on Hydra's global state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from trialsim.outputs import write_outputs
from trialsim.params import build_params, build_run_settings
from trialsim.runner import run_replications
from trialsim.summary import summarise


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first bad value, before anything is run or written."""
    build_run_settings(cfg)
    build_params(cfg)


def run(cfg: DictConfig, out_dir: Path | None = None) -> dict[str, Any]:
    settings = build_run_settings(cfg)
    params = build_params(cfg)
    result = run_replications(params, settings.replications, settings.seed, settings.n_jobs,
                              keep_participants=bool(cfg.output.participants_csv))
    summary = summarise(settings, params, result)
    if out_dir is not None:
        write_outputs(Path(out_dir), summary, result, charts=bool(cfg.output.charts),
                      participants=bool(cfg.output.participants_csv))
    return summary
