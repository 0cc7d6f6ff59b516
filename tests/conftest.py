"""Shared test helpers: configs composed exactly as the command line composes them."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from trialsim.compiled import AVAILABLE, kernel, least
from trialsim.inputs.compose import prepare_omegaconf
from trialsim.inputs.schema import register_configs

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"

register_configs()
prepare_omegaconf()  # as simulate.py does before it composes (the resolver, libyaml)
if AVAILABLE:  # numba loaded once a test process: its short runs use the compiled engine
    kernel(least)  # too (the same values; the reference has its own tests, and the
    # command-line tests run fresh processes, where a short run uses the reference)


def make_cfg(*overrides: str):
    """The config of `overrides`, in-process (n_jobs=1) unless they set n_jobs: xdist
    already runs a worker per core, and workers forked inside each only add their start
    (the worker paths have their own tests, which set n_jobs)."""
    if not any(o.lstrip("+~").startswith("n_jobs=") for o in overrides):
        overrides = (*overrides, "n_jobs=1")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def searched(*overrides: str) -> dict:
    """The design search of `overrides`' config (make_cfg), run once a test process for
    each config however its overrides are spelt: several tests read the same small
    search. A deep copy, so a test may edit its own. Never under a monkeypatch of the
    search's code: the cache would keep the patched result for the tests after."""
    from trialsim.experiments.design import DesignSearch

    cfg = make_cfg(*overrides)
    key = OmegaConf.to_yaml(cfg)
    if key not in _SEARCHES:
        _SEARCHES[key] = DesignSearch(cfg).run()
    return copy.deepcopy(_SEARCHES[key])


_SEARCHES: dict[str, dict] = {}  # searched's: one test process's cache


def z_share(hits: int, n: int, p: float) -> float:
    """How many standard errors a share of hits is away from p."""
    return (hits / n - p) / (p * (1 - p) / n) ** 0.5


@pytest.fixture
def cfg_factory():
    return make_cfg
