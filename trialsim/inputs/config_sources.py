"""Every way the command line can bring a config into Hydra, checked before Hydra runs.

The arguments are read with Hydra's own argument parser, so that an abbreviation
(`--config-d`) or a flag form (`-r`, `--run`) means here what it means to Hydra. A config
source other than trialsim's conf/ (`--config-dir`, `--config-path`, `--config-name`,
`--experimental-rerun`, `hydra.searchpath`) is refused; so are overrides of Hydra's
callbacks (the run directory's claim is one), a scenario placed in another package, and
interpolations that call a resolver reading the environment or Hydra's settings. Every
scenario the overrides choose, by any form (`scenario=`, `+scenario@_global_=`, a sweep,
a list), is checked as data (trialsim.inputs.scenario_files).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from trialsim.inputs.scenario_files import NAME, check_scenario_file, resolver_call
from trialsim.inputs.yaml_loader import safe_load

OTHER_SOURCES = {"config_dir": "--config-dir", "config_path": "--config-path",
                 "config_name": "--config-name", "experimental_rerun": "--experimental-rerun"}
HYDRA_KEYS = ("hydra.callbacks", "hydra.searchpath")  # code to run, places to load from
RESOLVERS = ("now", "trialsim_unique")  # what conf/config.yaml's directories use
GROUPS = ("scenario", "hydra/")  # conf/ has no other group


@dataclass(frozen=True)
class CommandLine:
    overrides: list[str]
    multirun: bool
    runs: bool  # False for --help, --cfg, --info ...: Hydra prints and stops
    sources: list[str]  # flags naming a config source other than conf/


def parse(args: list[str]) -> CommandLine | None:
    """`args` as Hydra reads them, or None when Hydra's parser would stop (a usage
    error, --version): Hydra then says so itself, once."""
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            ns = get_args_parser().parse_args(args)
    except SystemExit:
        return None
    stops = bool(ns.help or ns.hydra_help or ns.cfg or ns.info or ns.shell_completion)
    sources = [flag for attr, flag in OTHER_SOURCES.items() if getattr(ns, attr)]
    return CommandLine(list(ns.overrides), bool(ns.multirun), not stops, sources)


def source_problems(line: CommandLine) -> list[str]:
    """Flags that would load a config from somewhere other than conf/."""
    return [f"{flag} is not allowed: trialsim reads its config and scenarios from its own "
            "conf/ directory only (checked scenario files)" for flag in line.sources]


def scenario_names(conf_dir: Path) -> list[str]:
    return sorted(p.stem for p in (conf_dir / "scenario").glob("*.yaml"))


def default_scenario(conf_dir: Path) -> str | None:
    defaults = (safe_load(conf_dir / "config.yaml") or {}).get("defaults", [])
    return next((d["scenario"] for d in defaults if isinstance(d, dict) and "scenario" in d),
                None)


def _values(override) -> list[str]:
    if override.is_sweep_override():
        return [str(v) for v in override.sweep_string_iterator()]
    value = override.value()
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def override_problems(overrides: list[str], conf_dir: Path) -> list[str]:
    """One line per override that brings in code, the environment or an unchecked file."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except (HydraException, OmegaConfBaseException):
        return []  # Hydra's own message, one line, from the composition (trialsim.cli)
    errors: list[str] = []
    chosen: list[str] = []
    for text, o in zip(overrides, parsed, strict=True):
        key = o.key_or_group
        called = resolver_call(text, RESOLVERS)
        if called:
            errors.append(f"{text} is not allowed: the interpolation ${{{called}:...}} reads "
                          "the environment or Hydra's settings (give the value itself)")
        elif any(key == k or key.startswith(k + ".") for k in HYDRA_KEYS):
            errors.append(f"{key} is not allowed on the command line: Hydra's callbacks and "
                          "search path are trialsim's own (conf/config.yaml)")
        elif "/" in key and not key.startswith(GROUPS[1]):
            errors.append(f"{key} is not allowed: conf/ has no such config group")
        elif key == "scenario":
            if o.package not in (None, "", "_global_"):
                errors.append(f"{text} is not allowed: a scenario is chosen with "
                              "scenario=NAME (its keys are global)")
            chosen.extend(_values(o))
    if errors:
        return errors
    if not chosen:
        chosen = [s for s in [default_scenario(conf_dir)] if s]
    return _scenario_problems(chosen, conf_dir)


def _scenario_problems(chosen: list[str], conf_dir: Path) -> list[str]:
    known = scenario_names(conf_dir)
    errors = []
    for name in dict.fromkeys(chosen):
        if not NAME.match(name) or name not in known:
            errors.append(f"scenario={name!r} is not allowed: one of {', '.join(known)}")
            continue
        error = check_scenario_file(conf_dir / "scenario" / f"{name}.yaml")
        if error:
            errors.append(error)
    return errors
