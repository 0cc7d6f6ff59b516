"""Command-line guard rails: bad input becomes one line per problem on stderr, exit 2,
and nothing written.

Hydra reports a bad override over several lines, and only after it has made the run
directory. `preflight` checks everything it can before Hydra's own run: where the
config comes from and the scenario files (data only: trialsim.inputs.config_sources),
the launcher's required settings, the composed config (every problem at once, see
`trialsim.inputs.validation`), the run's size, and whether the chosen run or sweep
directory already holds results.
"""

from __future__ import annotations

import difflib
import os
import shutil
import sys
from pathlib import Path

import yaml
from hydra import compose, initialize_config_dir
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from trialsim.app import validate
from trialsim.errors import ConfigError, ConfigErrors
from trialsim.inputs.compose import prepare_omegaconf
from trialsim.inputs.config_sources import override_problems, parse, source_problems
from trialsim.run_dirs import holds_results

RAW_LAUNCHERS = {"submitit_slurm": "slurm", "submitit_local": "local"}


def write_failure(ex: OSError) -> str:
    """One line for a file that could not be written (the disk full, say)."""
    where = f" {ex.filename}" if ex.filename else ""
    return f"cannot write{where}: {ex.strerror or ex}; no result file was published"


def warn(message: str) -> None:
    print(f"trialsim: warning: {message}", file=sys.stderr)


def _first_line(ex: BaseException) -> str:
    return next((ln.strip() for ln in str(ex).splitlines() if ln.strip()), type(ex).__name__)


def _one_line(ex: BaseException) -> str:
    cause = ex.__cause__
    if cause is not None and _first_line(cause) != _first_line(ex):
        return f"{_first_line(ex)}: {_first_line(cause)}"
    return _first_line(ex)


def _is_group(override: Override) -> bool:
    key = override.key_or_group
    return key == "scenario" or "/" in key


def _compose(overrides: list[str]) -> DictConfig:
    return compose("config", overrides=overrides, return_hydra_config=True)


def key_paths(cfg: DictConfig, prefix: str = "") -> list[str]:
    """Every key of the composed config (nested ones dotted), Hydra's own left out."""
    paths = []
    for key in cfg:
        if not prefix and key == "hydra":
            continue
        path = f"{prefix}{key}"
        paths.append(path)
        node = cfg._get_node(key)
        if isinstance(node, DictConfig) and not node._is_none() and not node._is_missing():
            paths += key_paths(node, path + ".")
    return paths


def did_you_mean(key: str, paths: list[str]) -> str:
    """The closest valid keys to a misspelt one: the whole path first (trial.targt_n),
    then the last part alone (target_n without its block)."""
    level = [p for p in paths if p.count(".") == key.count(".")]  # siblings first
    close = difflib.get_close_matches(key, level, n=3, cutoff=0.75) or \
        difflib.get_close_matches(key, paths, n=3, cutoff=0.75)
    if not close:
        last = key.rsplit(".", 1)[-1]
        tails = {p.rsplit(".", 1)[-1]: p for p in paths}
        close = [tails[t] for t in difflib.get_close_matches(last, list(tails), n=3,
                                                               cutoff=0.75)]
    return "did you mean " + " or ".join(close) + "?" if close else \
        "python simulate.py --cfg job lists every key"


def _refusal(override: Override, ex: BaseException, cfg: DictConfig) -> str:
    """One line for an override Hydra refuses; a key in no schema gets the closest keys."""
    causes = [ex, ex.__cause__, ex.__context__]
    if any(isinstance(c, (ConfigAttributeError, ConfigKeyError)) for c in causes):
        key = override.key_or_group
        return (f"{key} is not a trialsim key: {did_you_mean(key, key_paths(cfg))} "
                "(python simulate.py --help lists the main keys)")
    return _one_line(ex)


def compose_all(overrides: list[str]) -> tuple[DictConfig | None, list[str]]:
    """The composed config, or the composable part of it and one line for each override
    that Hydra refuses (a word where a number belongs, a key in no schema).

    Composed once: the config groups (the scenario) by Hydra's compose, then every other
    override applied to it as Hydra applies them after composing (ConfigLoaderImpl), one
    at a time, so that a refused one costs no further composition."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        ConfigLoaderImpl.validate_sweep_overrides_legal(parsed, RunMode.RUN, from_shell=True)
    except (HydraException, OmegaConfBaseException) as ex:  # Hydra's hint kept whole
        return None, ["; ".join(ln.strip() for ln in str(ex).splitlines() if ln.strip())]
    groups = [o.input_line for o in parsed if _is_group(o)]
    try:
        cfg = _compose(groups)
    except (HydraException, OmegaConfBaseException) as ex:
        return None, [_one_line(ex)]
    errors = []
    for o in parsed:
        if _is_group(o):
            continue
        try:
            ConfigLoaderImpl._apply_overrides_to_config([o], cfg)
        except (HydraException, OmegaConfBaseException) as ex:
            errors.append(_refusal(o, ex, cfg))
    return cfg, errors


def run_dir_problem(key: str, value: str) -> str | None:
    """A run or sweep directory that cannot be made: part of its path is a file, or the
    nearest existing directory cannot be written."""
    path = Path(value).absolute()
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                return (f"{key}={value!r} is not allowed: {str(parent)!r} is a file, not a "
                        "directory (choose a directory path)")
            if not os.access(parent, os.W_OK | os.X_OK):
                return (f"{key}={value!r} is not allowed: {str(parent)!r} cannot be "
                        "written (choose a directory you can write)")
            return None
    return None


def required_launcher_keys(conf_dir: Path, name: str) -> list[str]:
    """Keys left `???` in conf/hydra/launcher/<name>.yaml: the user must set them there
    or on the command line (Hydra would silently keep the plugin's default)."""
    path = conf_dir / "hydra" / "launcher" / f"{name}.yaml"
    if not path.is_file():
        return []
    data = yaml.safe_load(path.read_text()) or {}
    return [k for k, v in data.items() if v == "???"]


def launcher_problems(conf_dir: Path, overrides: list[str]) -> list[str]:
    errors = []
    given = {o.partition("=")[0].lstrip("+~") for o in overrides}
    for o in overrides:
        key, _, value = o.partition("=")
        if key.lstrip("+~") != "hydra/launcher":
            continue
        if value in RAW_LAUNCHERS:
            errors.append(f"hydra/launcher={value} is not allowed: use hydra/launcher="
                          f"{RAW_LAUNCHERS[value]} (trialsim's wrapper of it, which lists "
                          "cancelled and timed-out jobs)")
            continue
        for req in required_launcher_keys(conf_dir, value):
            if f"hydra.launcher.{req}" not in given:
                errors.append(f"hydra.launcher.{req} is not set: hydra/launcher={value} needs "
                              f"it (add hydra.launcher.{req}=... or set it in "
                              f"conf/hydra/launcher/{value}.yaml)")
        if value == "slurm" and not errors and shutil.which("sbatch") is None:
            errors.append("hydra/launcher=slurm is not allowed here: no SLURM on this machine "
                          "(sbatch not found); run the sweep on the cluster's login node")
    return errors


def _dir_override(overrides: list[str], key: str) -> bool:
    return any(o.partition("=")[0].lstrip("+~") == key for o in overrides)


def preflight(args: list[str], conf_dir: Path) -> list[str]:
    """One line per bad input in `args` (sys.argv[1:]); empty when the run may start."""
    prepare_omegaconf()
    line = parse(args)
    if line is None:  # a usage error or --version: Hydra's parser says so itself
        return []
    errors = source_problems(line) or override_problems(line.overrides, conf_dir)
    if errors or not line.runs:  # --help, --cfg, --info: Hydra prints and stops
        return errors
    overrides = line.overrides
    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        if line.multirun:
            return _preflight_sweep(overrides, conf_dir)
        cfg, errors = compose_all(overrides)
        if cfg is None:
            return errors
        try:
            validate(cfg)
        except ConfigErrors as ex:
            errors += ex.lines()
        except ConfigError as ex:
            errors.append(str(ex))
        run_dir = Path(str(cfg.hydra.run.dir))
        problem = run_dir_problem("hydra.run.dir", str(run_dir))
        if problem:
            errors.append(problem)
        elif not errors and _dir_override(overrides, "hydra.run.dir"):
            if holds_results(run_dir):
                errors.append(f"hydra.run.dir={str(run_dir)!r} is not allowed: it holds "
                              "another run's results (choose a new directory)")
    return errors


def _preflight_sweep(overrides: list[str], conf_dir: Path) -> list[str]:
    """A sweep's points are checked in their jobs (a bad point is a failed job); here
    only what would stop the whole sweep: the launcher and a used sweep directory."""
    from trialsim.experiments.sweep import reuse_problem, task_jobs

    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(overrides)
    except (HydraException, OmegaConfBaseException) as ex:
        return [_one_line(ex)]
    fixed = [o for o, p in zip(overrides, parsed, strict=True) if not p.is_sweep_override()]
    cfg, errors = compose_all(fixed)
    if cfg is None:
        return errors
    errors = errors + launcher_problems(conf_dir, overrides)
    problem = run_dir_problem("hydra.sweep.dir", str(cfg.hydra.sweep.dir))
    if problem:
        errors.append(problem)
    if not errors and _dir_override(overrides, "hydra.sweep.dir"):
        problem = reuse_problem(Path(str(cfg.hydra.sweep.dir)), task_jobs(parsed),
                                cfg.get("resume") is True)
        if problem:
            errors.append(problem)
    return errors
