"""A finished run's files, read back for the figures and the report (never the
in-memory results), so that `python -m trialsim.reporting.report DIR` rebuilds them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

PROVENANCE_FILES = ("provenance.json", "provenance.yaml", "environment.json")


@dataclass
class RunDir:
    path: Path
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def csv(self, name: str) -> pd.DataFrame | None:
        if name not in self._cache:
            self._cache[name] = pd.read_csv(self.path / name) if self.has(name) else None
        return self._cache[name]

    def json(self, name: str) -> dict[str, Any] | None:
        if not self.has(name):
            return None
        return json.loads((self.path / name).read_text())

    @cached_property
    def summary(self) -> dict[str, Any] | None:
        return self.json("summary.json")

    @cached_property
    def design(self) -> dict[str, Any] | None:
        return self.json("design.json")

    @cached_property
    def config(self) -> dict[str, Any]:
        """The composed config Hydra saved for this run ({} when absent)."""
        path = self.path / ".hydra" / "config.yaml"
        if not path.is_file():
            return {}
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False)

    @cached_property
    def overrides(self) -> list[str]:
        path = self.path / ".hydra" / "overrides.yaml"
        return [str(o) for o in OmegaConf.load(path)] if path.is_file() else []

    def cfg(self, dotted: str, default: Any = None) -> Any:
        data: Any = self.config
        for key in dotted.split("."):
            if not isinstance(data, dict) or key not in data:
                return default
            data = data[key]
        return data

    @cached_property
    def provenance(self) -> dict[str, Any]:
        """The provenance file a run writes, if any (flattened to one level)."""
        for name in PROVENANCE_FILES:
            path = self.path / name
            if path.is_file():
                data = (json.loads(path.read_text()) if name.endswith(".json")
                        else OmegaConf.to_container(OmegaConf.load(path)))
                return _flatten(data) if isinstance(data, dict) else {}
        return {}

    def caption(self, replications: int | None = None, seed: int | None = None) -> str:
        desc = " ".join(str(self.cfg("description", "") or "").split())
        scenario = self.cfg("scenario_name", "")
        reps = replications if replications is not None else self.cfg("replications")
        seed = seed if seed is not None else self.cfg("seed")
        head = f"{scenario}: {desc}" if desc else str(scenario)
        return f"{head}  |  {reps} replications, seed {seed}"


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
