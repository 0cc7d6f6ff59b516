"""A config composed exactly as the command line composes it, for code that runs the
model outside `simulate.py` (the validation cases, scripts): Hydra's compose API on the
project's own conf/ directory, with trialsim's schema and resolvers registered (the
command line registers them too); and a config with some keys changed, as the design
search's candidates are made (`with_changes` for a copy to keep, `Edits` for many that
are turned into parameters at once)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from trialsim.inputs.yaml_loader import use_libyaml

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def unique_suffix() -> str:
    """Process id and a random part: distinct for runs started together, even on
    different nodes (run directories are named with it, trialsim.run_dirs)."""
    return f"{os.getpid()}-{secrets.token_hex(3)}"


def prepare_omegaconf() -> None:
    """What OmegaConf needs before it composes a trialsim config: the resolver
    `${trialsim_unique:}`, cached per config so that every read gives one value, and
    YAML read by libyaml (trialsim.inputs.yaml_loader)."""
    use_libyaml()
    if not OmegaConf.has_resolver("trialsim_unique"):
        OmegaConf.register_new_resolver("trialsim_unique", unique_suffix, use_cache=True)


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    from trialsim.inputs.schema import register_configs

    register_configs()
    prepare_omegaconf()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def with_changes(cfg: DictConfig, changes: dict[str, Any]) -> DictConfig:
    """A copy of `cfg` with each dotted key of `changes` set to its value (interpolations
    kept, to resolve in the copy)."""
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    for key, value in changes.items():
        OmegaConf.update(out, key, value, merge=False)
    return out


T = TypeVar("T")


class Edits:
    """Configs that differ from one base in a few keys, each used at once and not kept
    (`build(changes, make)` returns make(config)): one working copy of the base, its
    keys set for each call and every key an earlier call set put back to the base's
    value, interpolations as they were. A fresh copy of the whole config
    (`with_changes`) costs about 25 ms, an edit a fraction of a millisecond; the design
    search builds a candidate's parameters from each of some sixty configs, in the
    parent while the workers wait. Each key must be one the base has, and none inside
    another (putting back a parent would undo a child); `make` must keep nothing of the
    config it is given."""

    def __init__(self, cfg: DictConfig) -> None:
        self._plain = OmegaConf.to_container(cfg, resolve=False)
        self._work = OmegaConf.create(self._plain)
        self._touched: dict[str, Any] = {}  # key -> the base's value

    def build(self, changes: dict[str, Any], make: Callable[[DictConfig], T]) -> T:
        for key in changes:
            if key not in self._touched:
                self._touched[key] = self._base(key)
        for key, base in self._touched.items():
            OmegaConf.update(self._work, key, changes.get(key, base), merge=False)
        return make(self._work)

    def _base(self, key: str) -> Any:
        node: Any = self._plain
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"{key}: not a key of the base config")
            node = node[part]
        if any(k.startswith(key + ".") or key.startswith(k + ".") for k in self._touched):
            raise ValueError(f"{key}: inside or around a key already edited")
        return node
