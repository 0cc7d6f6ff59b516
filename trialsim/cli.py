"""Command-line guard rails: bad input becomes one line on stderr and exit status 2.

Hydra reports a bad override over several lines, and only after it has made the run
directory. `preflight` composes the config once before Hydra's own run and checks it,
so a bad value stops the command before any output directory exists.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from trialsim.app import validate
from trialsim.errors import ConfigError

EXIT_BAD_INPUT = 2


def fail(message: str) -> NoReturn:
    print(f"trialsim: error: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def _first_line(ex: BaseException) -> str:
    return next((ln.strip() for ln in str(ex).splitlines() if ln.strip()), type(ex).__name__)


def _one_line(ex: BaseException) -> str:
    cause = ex.__cause__
    if cause is not None and _first_line(cause) != _first_line(ex):
        return f"{_first_line(ex)}: {_first_line(cause)}"
    return _first_line(ex)


def scenario_names(conf_dir: Path) -> list[str]:
    return sorted(p.stem for p in (conf_dir / "scenario").glob("*.yaml"))


def check_scenarios(overrides: list[str], conf_dir: Path) -> str | None:
    known = scenario_names(conf_dir)
    for override in overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+~") != "scenario" or not value:
            continue
        for name in value.split(","):
            if name not in known:
                return f"scenario={name!r} is not allowed: one of {', '.join(known)}"
    return None


def preflight(args: list[str], conf_dir: Path) -> str | None:
    """One line describing the first bad input in `args` (sys.argv[1:]), or None."""
    overrides = [a for a in args if not a.startswith("-")]
    flags = [a for a in args if a.startswith("-")]
    error = check_scenarios(overrides, conf_dir)
    if error or flags:  # sweeps and Hydra's own flags (--help, --cfg) are Hydra's to check
        return error
    try:
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            cfg = compose("config", overrides=overrides, return_hydra_config=True)
        validate(cfg)
    except ConfigError as ex:
        return str(ex)
    except (HydraException, OmegaConfBaseException) as ex:
        return _one_line(ex)
    return None
