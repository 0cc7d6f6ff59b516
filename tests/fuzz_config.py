"""Extreme values for every key of the composed config, and what the checks make of each.

The keys come from the composed config itself (every leaf, dicts walked, a list as a
whole and its first and last element), so keys added later are fuzzed too. A case is
decided in-process: the value is set as Hydra would set it (OmegaConf's own type check
refuses some), then `trialsim.app.validate` (every check and the run-size check) runs
under an alarm; an accepted value then runs one replication, under an alarm too.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from trialsim.app import run, validate
from trialsim.errors import ConfigError, ConfigErrors

EXTREMES: tuple[Any, ...] = (0, -1, 1e-300, 1e308, math.inf, -math.inf, math.nan, 10**20,
                             "word", [], {}, None, True, 2)
SCENARIOS = ("pain_services", "primary_care")
DECIDE_SECONDS = 10.0
RUN_SECONDS = 60.0


class Timeout(Exception):
    pass


@contextmanager
def alarm(seconds: float) -> Iterator[None]:
    def ring(*_: Any) -> None:
        raise Timeout

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def leaf_keys(cfg: DictConfig) -> list[str]:
    """Every leaf of `cfg` but Hydra's: dotted keys; a list, and its first and last item."""
    out: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, DictConfig):
            if prefix:
                out.append(prefix[:-1])  # a section or a {k, n} as a whole
            for key in node:
                if not prefix and key == "hydra":
                    continue
                walk(node[key], f"{prefix}{key}.")
        elif isinstance(node, ListConfig):
            out.append(prefix[:-1])
            for i in sorted({0, len(node) - 1}) if len(node) else ():
                out.append(f"{prefix[:-1]}[{i}]")
        else:
            out.append(prefix[:-1])

    walk(cfg, "")
    return out


@dataclass
class Outcome:
    key: str
    value: Any
    verdict: str  # refused | ran | traceback | hang | run_failed | wrong_key
    detail: str = ""
    seconds: float = 0.0


def _set(cfg: DictConfig, key: str, value: Any) -> DictConfig:
    cfg = cfg.copy()
    if key.endswith("]"):
        base, index = key[:-1].split("[")
        items = OmegaConf.to_container(OmegaConf.select(cfg, base))
        items[int(index)] = value
        OmegaConf.update(cfg, base, items, merge=False)
    else:
        OmegaConf.update(cfg, key, value, merge=False)
    return cfg


EVIDENCE_PARTS = ("k", "n", "events", "exposure", "estimate", "se", "sites")


def names_key(line: str, key: str) -> bool:
    """The line names `key`, or for a part of a piece of evidence (`{k, n}`, a fit) the
    evidence key: the evidence is one value, and its message shows it whole."""
    base = key.split("[")[0]
    parent, _, leaf = base.rpartition(".")
    return base in line or (leaf in EVIDENCE_PARTS and bool(parent) and parent in line)


def decide(base: DictConfig, key: str, value: Any, tiny_run: bool = True) -> Outcome:
    start = time.perf_counter()

    def done(verdict: str, detail: str = "") -> Outcome:
        return Outcome(key, value, verdict, detail, time.perf_counter() - start)

    try:
        cfg = _set(base, key, value)
    except (OmegaConfBaseException, ValueError, TypeError) as ex:  # Hydra refuses it
        return done("refused", f"omegaconf: {type(ex).__name__}")
    try:
        with alarm(DECIDE_SECONDS):
            validate(cfg)
    except Timeout:
        return done("hang")
    except ConfigError as ex:
        lines = ex.lines() if isinstance(ex, ConfigErrors) else [str(ex)]
        if any(names_key(line, key) for line in lines):
            return done("refused", lines[0])
        return done("wrong_key", " | ".join(lines))
    except Exception as ex:  # noqa: BLE001 - what the fuzz looks for
        return done("traceback", f"{type(ex).__name__}: {ex}"[:200])
    if isinstance(OmegaConf.select(base, key), bool) and not isinstance(value, bool):
        return done("not_boolean", "a boolean key accepted a non-boolean")
    if not tiny_run:
        return done("accepted")
    try:
        with alarm(RUN_SECONDS):
            small = cfg if key.startswith(("replications", "precision")) else \
                _set(cfg, "replications", 1)
            run(small, None)
    except Timeout:
        return done("run_failed", "hang")
    except Exception as ex:  # noqa: BLE001
        return done("run_failed", f"{type(ex).__name__}: {ex}"[:200])
    return done("ran")
