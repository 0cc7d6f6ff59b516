"""What a rebuild may trust: the run's own record of its data files, and a strict read.

When a run publishes, `manifest.json` records the SHA-256 of every file the figures and
the report are drawn from (results, provenance, Hydra's config and overrides). A
rebuild (`python -m trialsim.report DIR`) first checks each against it, so that a
damaged or edited file is refused with one line instead of drawn into a report that
looks right. A directory without a manifest (an older run, a sweep) is read strictly
instead: JSON without NaN or Infinity, YAML that is a mapping or list, CSVs that parse.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from trialsim.reporting.files import write_json_atomic

MANIFEST = "manifest.json"
HYDRA_FILES = (".hydra/config.yaml", ".hydra/overrides.yaml")
DATA_SUFFIXES = (".json", ".csv", ".yaml")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_files(run_dir: Path) -> list[str]:
    """The files a rebuild reads (relative names), those present."""
    names = sorted(p.name for p in run_dir.iterdir()
                   if p.is_file() and p.suffix in DATA_SUFFIXES and not p.name.startswith(".")
                   and p.name != MANIFEST and p.name != "parameter_sources.csv")
    return names + [h for h in HYDRA_FILES if (run_dir / h).is_file()]


def write_manifest(run_dir: Path) -> None:
    write_json_atomic(run_dir / MANIFEST,
                      {"sha256": {n: _sha256(run_dir / n) for n in data_files(run_dir)}})


def _strict_json(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not a number JSON allows")

    return json.loads(text, parse_constant=refuse)


def _problem(run_dir: Path, name: str) -> str | None:
    path = run_dir / name
    try:
        if name.endswith(".json"):
            data = _strict_json(path.read_text())
            if not isinstance(data, dict):
                return "not a JSON object"
        elif name.endswith(".yaml"):
            if not isinstance(yaml.safe_load(path.read_text()), (dict, list)):
                return "not a YAML mapping or list"
        elif name.endswith(".csv"):
            pd.read_csv(path)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError,
            pd.errors.ParserError) as ex:
        return str(ex).splitlines()[0] if str(ex) else type(ex).__name__
    return None


def damage(run_dir: Path) -> str | None:
    """One line naming the first damaged file of `run_dir`, or None."""
    manifest = run_dir / MANIFEST
    if manifest.exists():
        problem = _problem(run_dir, MANIFEST)
        sums = None if problem else _strict_json(manifest.read_text()).get("sha256")
        if not isinstance(sums, dict):
            return f"{manifest} is damaged ({problem or 'no sha256 table'})"
        for name, digest in sums.items():
            path = run_dir / str(name)
            if not path.is_file():
                return f"{path} is missing (the run's {MANIFEST} lists it)"
            if _sha256(path) != digest:
                return f"{path} is damaged or edited (it differs from the run's {MANIFEST})"
    for name in data_files(run_dir):
        problem = _problem(run_dir, name)
        if problem:
            return f"{run_dir / name} is damaged ({problem})"
    return None
