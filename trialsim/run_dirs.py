"""Run directories that never collide and are never written over.

Hydra names the directory (`${trialsim_unique:}`, registered by trialsim.inputs.compose,
gives runs started in the same second different names); before anything is written in
it, Hydra's own `.hydra/` included, a run claims its directory by creating a claim file
exclusively (O_EXCL: atomic, also on a shared filesystem's local view), from a Hydra
callback at the start of the run (`ClaimRunDir`, conf/config.yaml). A directory already
claimed, or holding another run's results, is refused with one line and exit 2.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from trialsim.errors import ConfigError, fail
from trialsim.reporting.staging import discard_stages

CLAIM = ".trialsim_claim"
RESULT_FILES = ("summary.json", "design.json", "error.json", "replications.csv",
                "replications_assurance.csv", "recruitment_curve.csv", "participants.csv",
                "recruitment.png", "provenance.json", "config_resolved.yaml")


def holds_results(path: Path) -> bool:
    return path.is_dir() and any((path / f).exists() for f in (CLAIM, *RESULT_FILES))


def _mine() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def claimed_by_me(out_dir: Path) -> bool:
    try:
        return json.loads((out_dir / CLAIM).read_text()) == _mine()
    except (OSError, ValueError):
        return False


def claim(out_dir: Path, key: str) -> None:
    """Claim `out_dir` for this run, or ConfigError naming the override `key`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if any((out_dir / f).exists() for f in RESULT_FILES):
        raise ConfigError(key, str(out_dir), "a directory that holds no other run's results")
    try:
        fd = os.open(out_dir / CLAIM, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise ConfigError(key, str(out_dir),
                          "a directory no other run has claimed (another run uses it)") from None
    with os.fdopen(fd, "w") as f:
        json.dump(_mine(), f)


class ClaimRunDir(Callback):
    """Claims `hydra.run.dir` before Hydra writes `.hydra/` into it (a single run; a
    sweep's jobs claim theirs in simulate.py, a sweep directory is checked by
    trialsim.experiments.sweep)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            claim(Path(str(config.hydra.run.dir)), "hydra.run.dir")
        except ConfigError as ex:
            fail(str(ex))


def clear_results(out_dir: Path) -> None:
    """Remove an incomplete job's files before it is rerun (resumed sweeps only)."""
    for name in (CLAIM, *RESULT_FILES):
        (out_dir / name).unlink(missing_ok=True)
    discard_stages(out_dir)
