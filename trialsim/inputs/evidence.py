"""Pilot evidence as counts: proportions (k of n) and rates (events over exposure).

A parameter estimated from the pilot keeps its counts, so that its uncertainty can be
sampled (Beta for k of n, Gamma for events over exposure); a plain number from the
planner is a fixed assumption. Parsing checks ranges and names the offending key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trialsim.errors import ConfigError
from trialsim.inputs.checks import reject

PROPORTION_ALLOWED = ("a proportion is a number in [0, 1] or {k, n} with whole numbers "
                      "0 <= k <= n and n > 0")
MAX_RATE = 1e4  # per site-month or nurse-day: far beyond any site, and keeps runs finite
RATE_ALLOWED = (f"a rate is a number in [0, {MAX_RATE:g}] or {{events, exposure}} with "
                "events >= 0 and exposure > 0 (finite)")


@dataclass(frozen=True)
class Proportion:
    value: float
    k: float | None = None  # pilot successes, None for a planning assumption
    n: float | None = None


@dataclass(frozen=True)
class Rate:
    value: float  # scale * events / exposure: per unit of exposure, in the model's units
    events: float | None = None
    exposure: float | None = None
    scale: float = 1.0  # converts the evidence's unit (per month) to the model's (per day)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _is_count(x: Any) -> bool:
    return _is_number(x) and float(x).is_integer()


def parse_proportion(key: str, raw: Any) -> Proportion:
    if _is_number(raw) and 0.0 <= raw <= 1.0:
        return Proportion(float(raw))
    if isinstance(raw, Mapping) and set(raw) == {"k", "n"}:
        k, n = raw["k"], raw["n"]
        if _is_count(k) and _is_count(n) and n > 0 and 0 <= k <= n:
            return Proportion(k / n, float(k), float(n))
    return reject(ConfigError(key, _plain(raw), PROPORTION_ALLOWED), Proportion(0.5))


def parse_rate(key: str, raw: Any) -> Rate:
    if _is_number(raw) and 0.0 <= raw <= MAX_RATE:
        return Rate(float(raw))
    if isinstance(raw, Mapping) and set(raw) == {"events", "exposure"}:
        e, x = raw["events"], raw["exposure"]
        if _is_number(e) and _is_number(x) and e >= 0 and x > 0 and e / x <= MAX_RATE:
            return Rate(e / x, float(e), float(x))
    return reject(ConfigError(key, _plain(raw), RATE_ALLOWED), Rate(1.0))


def _plain(raw: Any) -> Any:
    return dict(raw) if isinstance(raw, Mapping) else raw
