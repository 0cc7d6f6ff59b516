"""Pilot evidence: proportions (k of n), rates (events over exposure) and fitted values.

A parameter counted in the pilot keeps its counts, so that its uncertainty can be
sampled (Beta for k of n, Gamma for events over exposure); a parameter fitted by a
calibration script keeps its estimate and standard error, `{estimate, se}`, sampled from
the Beta or Gamma with that mean and SD; a plain number from the planner is a fixed
assumption. Counts are whole numbers. Parsing checks ranges and names the offending key.
Internally a fitted value is held as the pseudo-counts that give the same draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trialsim.errors import ConfigError
from trialsim.inputs.checks import reject

PROPORTION_ALLOWED = ("a proportion is a number in [0, 1], {k, n} with whole numbers "
                      "0 <= k <= n and n > 0, or a fit {estimate, se} with 0 < estimate < 1 "
                      "and 0 < se < sqrt(estimate (1 - estimate))")
MAX_RATE = 1e4  # per site-month or nurse-day: far beyond any site, and keeps runs finite
RATE_ALLOWED = (f"a rate is a number in [0, {MAX_RATE:g}], {{events, exposure}} with whole "
                "events >= 0 and exposure > 0 (finite), or a fit {estimate, se} with "
                f"0 < estimate <= {MAX_RATE:g} and se > 0")


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
    if _is_fit(raw):
        m, s = raw["estimate"], raw["se"]
        if 0 < m < 1 and 0 < s < math.sqrt(m * (1 - m)):
            total = m * (1 - m) / s**2 - 1  # Beta(a, b) with mean m and SD s: a + b
            a = m * total  # drawn as Beta(k + 1/2, n - k + 1/2), as counts are
            return Proportion(float(m), a - 0.5, total - 1.0)
    return reject(ConfigError(key, _plain(raw), PROPORTION_ALLOWED), Proportion(0.5))


def parse_rate(key: str, raw: Any) -> Rate:
    if _is_number(raw) and 0.0 <= raw <= MAX_RATE:
        return Rate(float(raw))
    if isinstance(raw, Mapping) and set(raw) == {"events", "exposure"}:
        e, x = raw["events"], raw["exposure"]
        if _is_count(e) and _is_number(x) and e >= 0 and x > 0 and e / x <= MAX_RATE:
            return Rate(e / x, float(e), float(x))
    if _is_fit(raw):
        m, s = raw["estimate"], raw["se"]
        if 0 < m <= MAX_RATE and s > 0:
            shape = (m / s) ** 2  # Gamma with mean m and SD s, drawn as
            return Rate(float(m), shape - 0.5, shape / m)  # Gamma(events + 1/2) / exposure
    return reject(ConfigError(key, _plain(raw), RATE_ALLOWED), Rate(1.0))


def _is_fit(raw: Any) -> bool:
    return (isinstance(raw, Mapping) and set(raw) == {"estimate", "se"}
            and _is_number(raw["estimate"]) and _is_number(raw["se"]))


def _plain(raw: Any) -> Any:
    return dict(raw) if isinstance(raw, Mapping) else raw
