"""The design search's check run, again with one input changed at a time
(`design.check_sensitivity`): what the recommendation gives if an assumption a panel
doubts is wrong.

Each entry is [config key, value]: the recommended design is simulated on the check
run's seeds (common random numbers: the differences are the input's) with that one value,
on a tenth of the check's replications (at least 100), and its criterion among the trials
that reach N and its P(target) are reported beside the check's. The defaults are the
assumptions the pilot supports least: the as-received effect (an assumption: the pilot's
12-month difference less its baseline one is about as much on Brouwer's scale, 0.6 on
Black's, from 26 complete cases, Table 10),
disengagement after the ESW's assessment (inferred, 2 of 22), a new pain service's
recruitment rate (the median of other trials'), the ESWs' ICC (an assumption, which
sets how many ESWs the IPS arm needs) and the outcome SDs at their 80% upper confidence
limit (26 complete cases behind Table 10's SDs: `outcome.sd_scale`).
The design's own levers are refused: they are what the search chose.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from trialsim.errors import ConfigError
from trialsim.inputs.checks import collecting, reject
from trialsim.inputs.compose import with_changes

KEY = "design.check_sensitivity"
# the search's own levers (and what is not an input of the model): not a sensitivity
LEVERS = ("design.", "trial.target_n", "trial.recruitment_months", "trial.allocation_ratio",
          "trial.block_sizes", "delivery.esw.per_locality", "delivery.esw.fte",
          "delivery.ot.count",  # staffed to demand by the search (design_check.ots_needed)
          "seed", "replications", "n_jobs", "mode", "output.", "hydra.")
ALLOWED = ("a list of [config key, value] pairs, each a number the key takes, e.g. "
           "[[outcome.effect_m12, 0.75], [delivery.esw.disengage_after_assessment, 0.3]] "
           "([]: none); not a lever of the search, a unit cost or, searching on power, an "
           "assurance draw")
MIN_REPLICATIONS = 100


def replications(check_replications: int) -> int:
    """Each changed input's replications: a tenth of the check's, at least 100."""
    return max(MIN_REPLICATIONS, check_replications // 10)


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value) if isinstance(value, (DictConfig, ListConfig)) \
        else value


def _refused(cfg: DictConfig, name: str, kinds: tuple[str, ...],
             assurance: bool) -> str | None:
    """Why `name` cannot be a sensitivity (None: it can): a lever of the search, a
    searched kind's count (each candidate sets it), a unit cost (moves neither the
    criterion nor P(target)) or, searching on power, the assurance draws (not made)."""
    if name.startswith(LEVERS) or name in {f"sites.{k}.count" for k in kinds}:
        return f"{name} is one of the search's levers"
    if name.startswith("costs."):
        return f"{name} is a unit cost: it moves neither the criterion nor P(target)"
    if name.startswith("uncertainty.") and not assurance:
        return f"{name} is drawn only when the search is on assurance"
    if OmegaConf.select(cfg, name, default=None) is None:
        return f"there is no key {name}"
    return None


def parse(cfg: DictConfig, kinds: tuple[str, ...], assurance: bool,
          build: Any | None = None) -> tuple[tuple[str, float], ...]:
    """The checked pairs. `build(cfg)`: the model's parameters from a config (given when
    the config is validated in mode=design), to check each value as the key itself would
    be checked."""
    value = cfg.design.get("check_sensitivity", [])
    if value is None:
        return ()
    if not isinstance(value, (list, tuple, ListConfig)):
        return reject(ConfigError(KEY, _plain(value), ALLOWED), ())
    out: list[tuple[str, float]] = []
    before = None  # the config's own problems, found once: a pair reports only what it adds
    for i, pair in enumerate(value):
        key = f"{KEY}[{i}]"
        if (not isinstance(pair, (list, tuple, ListConfig)) or len(pair) != 2
                or not isinstance(pair[0], str)
                or isinstance(pair[1], bool) or not isinstance(pair[1], (int, float))):
            reject(ConfigError(key, _plain(pair), ALLOWED), None)
            continue
        name, v = str(pair[0]), float(pair[1])
        why = _refused(cfg, name, kinds, assurance)
        if why is not None:
            reject(ConfigError(key, _plain(pair), f"{ALLOWED}: {why}"), None)
            continue
        if build is not None:
            if before is None:
                before = {(p.key, repr(p.value)) for p in _problems(cfg, build)}
            problem = _problem(cfg, name, v, build, before)
            if problem is not None:
                reject(ConfigError(key, _plain(pair), f"a value {name} takes: "
                                   f"{problem.allowed}"), None)
                continue
        if (name, v) not in out:
            out.append((name, v))
    return tuple(out)


def _problems(cfg: DictConfig, build: Any) -> list[ConfigError]:
    with collecting() as problems:
        try:
            build(cfg)
        except ConfigError as ex:
            problems.append(ex)
    return problems


def _problem(cfg: DictConfig, name: str, value: float, build: Any,
             before: set[tuple[str, str]]) -> ConfigError | None:
    """The first problem the model finds with `name` set to `value` that is not among
    the config's own (`before`: (key, repr(value)) of each; None: none new): a bad key
    elsewhere is reported once, by its own name, not against every pair."""
    return next((p for p in _problems(with_changes(cfg, {name: value}), build)
                 if (p.key, repr(p.value)) not in before), None)
