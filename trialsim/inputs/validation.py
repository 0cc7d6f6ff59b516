"""One pass over the whole config that reports every problem at once.

Every section is built (design and limits too, whatever the mode) inside
`checks.collecting()`, so that a bad value is recorded and building goes on with a
placeholder. Keys the schema does not know (`+foo=1`, `+trial.targt_n=100`) are
problems too: Hydra's `+` adds them even to a structured config.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from trialsim.errors import ConfigError, ConfigErrors
from trialsim.inputs.checks import choice, collecting, number, reject
from trialsim.inputs.cost_params import build_costs
from trialsim.inputs.evidence import parse_proportion
from trialsim.inputs.params import (
    build_params,
    build_precision,
    build_run_settings,
    build_screening,
    build_sites,
    build_trial,
)
from trialsim.inputs.pathway_params import (
    build_analysis,
    build_baseline_shares,
    build_delivery,
    build_employment,
    build_follow_up,
    build_outcome,
)
from trialsim.inputs.priors import build_uncertainty
from trialsim.inputs.progression import build_progression
from trialsim.inputs.schema import TrialsimConfig

MODES = ("run", "design", "curve")  # curve: trialsim/experiments/curve.py
FLAGS = ("resume", "output.participants_csv", "output.charts", "output.report",
         "output.print_table")  # true or false, never a number read as one
RUN_NAME = re.compile(r"^(?!\.)[A-Za-z0-9_.\-]{1,100}$")
SKIP = ("hydra",)  # Hydra's own node, checked by Hydra


@functools.cache
def _schema_tree() -> Any:
    """The schema's keys as nested dicts: built once (OmegaConf takes 0.4 s), only read."""
    return OmegaConf.to_container(OmegaConf.structured(TrialsimConfig),
                                  throw_on_missing=False, resolve=False)


def unknown_keys(cfg: DictConfig) -> list[str]:
    """Config keys (dotted) that the schema does not define."""
    found: list[str] = []

    def walk(node: Any, schema: Any, prefix: str) -> None:
        for key in node:
            if not prefix and key in SKIP:
                continue
            dotted = f"{prefix}{key}"
            if key not in schema:
                found.append(dotted)
            elif isinstance(schema[key], dict) and isinstance(node[key], DictConfig):
                walk(node[key], schema[key], dotted + ".")

    walk(cfg, _schema_tree(), "")
    return found


def _strategies(cfg: DictConfig) -> None:
    """Retention strategies' values are checked even while the strategy is off."""
    for key in ("follow_up.esw_completion.return_prob", "follow_up.text_followup.response"):
        if OmegaConf.select(cfg, key, default=None) is not None:
            parse_proportion(key, OmegaConf.select(cfg, key))


def _limits(cfg: DictConfig) -> None:
    number("limits.max_participant_replications", cfg.limits.max_participant_replications,
           lo=1, integer=True)


def _output(cfg: DictConfig) -> None:
    for key in FLAGS:
        value = OmegaConf.select(cfg, key)
        if not isinstance(value, bool):
            reject(ConfigError(key, _show(value), "true or false"), None)


def _names(cfg: DictConfig) -> None:
    """scenario_name names the run's directory (outputs/NAME/...): a name, not a path."""
    name = cfg.scenario_name
    if not (isinstance(name, str) and RUN_NAME.match(name)):
        reject(ConfigError("scenario_name", _show(name),
                           "a name of at most 100 letters, digits, '_', '-' or '.', not "
                           "starting with '.' (it names the run's directory, not a path)"),
               None)


def _sections(cfg: DictConfig) -> list[tuple[str, Callable[[], Any]]]:
    from trialsim.inputs.design_settings import build_design

    return [
        ("scenario_name", lambda: _names(cfg)),
        ("run", lambda: build_run_settings(cfg)),
        ("precision", lambda: build_precision(cfg.precision)),
        ("trial", lambda: build_trial(cfg.trial)),
        ("screening", lambda: build_screening(cfg.screening)),
        ("participants", lambda: _years(cfg)),
        ("participants", lambda: build_baseline_shares(cfg.participants)),
        ("sites", lambda: build_sites(cfg.sites)),
        ("delivery", lambda: build_delivery(cfg.delivery)),
        ("employment", lambda: build_employment(cfg.employment)),
        ("follow_up", lambda: build_follow_up(cfg.follow_up)),
        ("follow_up", lambda: _strategies(cfg)),
        ("outcome", lambda: build_outcome(cfg.outcome)),
        ("analysis", lambda: build_analysis(cfg.analysis)),
        ("uncertainty", lambda: build_uncertainty(cfg.uncertainty, cfg.outcome)),
        ("progression", lambda: build_progression(cfg.progression, cfg.follow_up)),
        ("design", lambda: build_design(cfg, check_values=True)),
        ("costs", lambda: build_costs(cfg.costs)),
        ("limits", lambda: _limits(cfg)),
        ("output", lambda: _output(cfg)),
    ]


def _years(cfg: DictConfig) -> Any:
    from trialsim.inputs.params import _years_out_of_work

    return _years_out_of_work(cfg.participants.years_out_of_work)


def _show(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=False)
    return value


def find_problems(cfg: DictConfig) -> list[ConfigError]:
    """Every problem in `cfg`, in config order; empty when it can run."""
    with collecting() as problems:
        for key in unknown_keys(cfg):
            reject(ConfigError(key, _show(OmegaConf.select(cfg, key)),
                               "a key the schema defines (docs/guide/scenarios.md)"), None)
        choice("mode", cfg.mode, MODES)
        for section, build in _sections(cfg):
            try:
                build()
            except ConfigError as ex:  # a check that cannot go on past its error
                reject(ex, None)
            except (TypeError, ValueError, AttributeError, KeyError,
                    OmegaConfBaseException) as ex:
                node = cfg.get(section) if section in cfg else None
                reject(ConfigError(section, _show(node),
                                   f"values of the documented types ({type(ex).__name__}: "
                                   f"{str(ex).splitlines()[0] if str(ex) else ''})"), None)
        if not problems:  # every key is sound: what only the whole can tell (the solved
            try:          # IPS entry rate for the planner's relative risk)
                build_params(cfg)
            except ConfigError as ex:
                reject(ex, None)
    return problems


def validate(cfg: DictConfig) -> None:
    """Raise ConfigErrors naming every bad key, before anything is run or written."""
    problems = find_problems(cfg)
    if problems:
        raise ConfigErrors(problems)
