"""What a run's results came from: resolved config, command line, seed, versions, commit.

`config_hash` identifies a resolved config (without `hydra`, and without the keys that
do not change results: `n_jobs`, `resume`, `output.print_table`); summary.json repeats it
and sweeps use it to recognise a job already done. The command line is the user's: a
sweep job runs in a launcher's worker (joblib, or submitit's `-m submitit.core._submit`
on a cluster node), so `simulate.py` passes its own in the environment
(`TRIALSIM_COMMAND_LINE`, which sbatch and worker processes inherit).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import trialsim

PROVENANCE = "provenance.json"
RESOLVED_CONFIG = "config_resolved.yaml"
NOT_RESULTS = ("n_jobs", "resume")  # top-level keys that leave the results unchanged
COMMAND_LINE_ENV = "TRIALSIM_COMMAND_LINE"


def remember_command_line() -> None:
    """Called by `simulate.py` itself: its jobs, wherever they run, record this command."""
    os.environ[COMMAND_LINE_ENV] = json.dumps([sys.executable, *sys.argv])


def command_line() -> list[str]:
    """The user's command: the one `simulate.py` remembered, or this process's own."""
    try:
        remembered = json.loads(os.environ.get(COMMAND_LINE_ENV, "null"))
    except ValueError:
        remembered = None
    if isinstance(remembered, list) and all(isinstance(a, str) for a in remembered):
        return remembered
    return [sys.executable, *sys.argv]


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The task config with every interpolation resolved (no `${oc.env:...}` left)."""
    data = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    data.pop("hydra", None)
    return data


def config_hash(cfg: DictConfig) -> str:
    data = resolved(cfg)
    for key in NOT_RESULTS:
        data.pop(key, None)
    (data.get("output") or {}).pop("print_table", None)
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    """trialsim's declared dependencies and the versions installed."""
    out = {}
    for req in metadata.requires("trialsim") or []:
        if "extra ==" in req:
            continue
        name = re.match(r"[A-Za-z0-9_.\-]+", req).group(0)
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


CONFIG_DIRS = ("conf", "scenarios")  # a file here the checkout does not track was used


def git_state(where: Path) -> dict[str, Any]:
    """The checkout's commit and whether it has uncommitted changes: changes to tracked
    files, or config and scenario files it does not track (ignored ones included)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(where), *args], capture_output=True,
                              text=True, timeout=20, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        root = Path(git("rev-parse", "--show-toplevel"))
        dirs = [str(root / d) for d in CONFIG_DIRS if (root / d).is_dir()]
        dirty = bool(git("status", "--porcelain", "--untracked-files=no")) or bool(
            dirs and git("ls-files", "--others", "--", *dirs))
    except (OSError, subprocess.SubprocessError):
        return {"commit": "not a git checkout", "dirty": None}
    return {"commit": commit, "dirty": dirty}


def provenance(cfg: DictConfig, argv: list[str] | None = None) -> dict[str, Any]:
    return {
        "command_line": command_line() if argv is None else [sys.executable, *argv],
        "seed": int(cfg.seed),
        "config_hash": config_hash(cfg),
        "trialsim_version": trialsim.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "git": git_state(Path(trialsim.__file__).resolve().parent),
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_provenance(out_dir: Path, cfg: DictConfig) -> dict[str, Any]:
    from trialsim.reporting.outputs import write_json_atomic, write_text_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / RESOLVED_CONFIG,
                      OmegaConf.to_yaml(OmegaConf.create(resolved(cfg))))
    info = provenance(cfg)
    write_json_atomic(out_dir / PROVENANCE, info)
    return info
