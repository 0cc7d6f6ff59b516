"""A config composed exactly as the command line composes it, for code that runs the
model outside `simulate.py` (the validation cases, scripts): Hydra's compose API on the
project's own conf/ directory, with trialsim's schema and resolvers registered (the
command line registers them too); and a config with some keys changed, as the design
search's candidates are made."""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def unique_suffix() -> str:
    """Process id and a random part: distinct for runs started together, even on
    different nodes (run directories are named with it, trialsim.run_dirs)."""
    return f"{os.getpid()}-{secrets.token_hex(3)}"


def register_resolvers() -> None:
    """`${trialsim_unique:}`, cached per config so that every read gives one value."""
    if not OmegaConf.has_resolver("trialsim_unique"):
        OmegaConf.register_new_resolver("trialsim_unique", unique_suffix, use_cache=True)


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    from trialsim.inputs.schema import register_configs

    register_configs()
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def with_changes(cfg: DictConfig, changes: dict[str, Any]) -> DictConfig:
    """A copy of `cfg` with each dotted key of `changes` set to its value (interpolations
    kept, to resolve in the copy)."""
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    for key, value in changes.items():
        OmegaConf.update(out, key, value, merge=False)
    return out
