"""Shared test helpers: configs composed exactly as the command line composes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from trialsim.inputs.schema import register_configs

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"

register_configs()


def make_cfg(*overrides: str):
    """The config of `overrides`, in-process (n_jobs=1) unless they set n_jobs: xdist
    already runs a worker per core, and workers forked inside each only add their start
    (the worker paths have their own tests, which set n_jobs)."""
    if not any(o.lstrip("+~").startswith("n_jobs=") for o in overrides):
        overrides = (*overrides, "n_jobs=1")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def z_share(hits: int, n: int, p: float) -> float:
    """How many standard errors a share of hits is away from p."""
    return (hits / n - p) / (p * (1 - p) / n) ** 0.5


@pytest.fixture
def cfg_factory():
    return make_cfg
