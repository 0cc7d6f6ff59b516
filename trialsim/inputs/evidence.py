"""Pilot evidence: proportions (k of n), rates (events over exposure) and fitted values.

A parameter counted in the pilot keeps its counts, so that its uncertainty can be
sampled (Beta for k of n, Gamma for events over exposure); a parameter fitted by a
calibration script keeps its estimate and standard error, `{estimate, se}`, sampled from
the Beta or Gamma with that mean and SD (a fitted number with no natural bound, parsed
by `parse_estimate`, from the Normal); a plain number from the planner is a fixed
assumption. Counts are whole numbers. A channel's recruitment rate or mailshot reply may
also say how many pilot sites its counts came from, `{events, exposure, sites}` or
`{k, n, sites}`, so that assurance can carry the variation between sites
(trialsim.inputs.predictive). Parsing checks ranges and names the offending key, and
every value keeps its config key, which names its draw in `assurance_parameters.csv`.
Internally a fitted proportion or rate is held as the pseudo-counts that give the same
draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trialsim.errors import ConfigError
from trialsim.inputs.checks import HUGE, TINY, reject

SIZES = f"; every number 0 or from {TINY:g} to {HUGE:g} in size"
PROPORTION_ALLOWED = ("a proportion is a number in [0, 1], {k, n} with whole numbers "
                      "0 <= k <= n and n > 0, or a fit {estimate, se} with 0 < estimate < 1 "
                      "and 0 < se < sqrt(estimate (1 - estimate))" + SIZES)
MAX_RATE = 1e4  # per site-month or nurse-day: far beyond any site, and keeps runs finite
RATE_ALLOWED = (f"a rate is a number in [0, {MAX_RATE:g}], {{events, exposure}} with whole "
                "events >= 0 and exposure > 0 (finite), or a fit {estimate, se} with "
                f"0 < estimate <= {MAX_RATE:g} and se > 0" + SIZES)
MAX_SITES = 100_000
PER_SITE = (f"; the counts may add sites, the number of pilot sites they came from (a whole "
            f"number from 1 to {MAX_SITES:,})")


@dataclass(frozen=True)
class Proportion:
    value: float
    k: float | None = None  # pilot successes, None for a planning assumption
    n: float | None = None
    sites: int | None = None  # pilot sites the counts came from (None: not said)
    fitted: bool = False  # k and n are a fit's pseudo-counts, not people
    key: str = field(default="", compare=False)  # the config key: names the draw


@dataclass(frozen=True)
class Rate:
    value: float  # scale * events / exposure: per unit of exposure, in the model's units
    events: float | None = None
    exposure: float | None = None
    scale: float = 1.0  # converts the evidence's unit (per month) to the model's (per day)
    sites: int | None = None  # pilot sites the counts came from (None: not said)
    fitted: bool = False  # events and exposure are a fit's pseudo-counts
    key: str = field(default="", compare=False)


@dataclass(frozen=True)
class Estimate:
    """A fitted number with no natural bound (a log hazard ratio, an exponent):
    `{estimate, se}`, drawn from Normal(estimate, se) truncated to [lo, hi]."""

    value: float
    se: float | None = None  # None: a planning assumption, fixed
    lo: float = -math.inf
    hi: float = math.inf
    key: str = field(default="", compare=False)


Evidence = Proportion | Rate | Estimate


def _is_number(x: Any, tiny: bool = False) -> bool:
    """A number 0 or from TINY (any size if `tiny`) to HUGE: pseudo-counts such as
    (estimate / se)^2 then stay finite and nonzero (no overflow, no underflow), and
    counts exact."""
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    if isinstance(x, float) and not math.isfinite(x):
        return False
    return x == 0 or (tiny or TINY <= abs(x)) and abs(x) <= HUGE


def _is_count(x: Any) -> bool:
    return _is_number(x) and float(x).is_integer()


def _counts(raw: Any, names: tuple[str, str],
            per_site: bool) -> tuple[Any, Any, int | None] | None:
    """The two counts and the pilot sites (None) of `{a, b}` or, where allowed,
    `{a, b, sites}`; None when `raw` is neither."""
    if not isinstance(raw, Mapping):
        return None
    if set(raw) == set(names):
        return raw[names[0]], raw[names[1]], None
    s = raw.get("sites") if per_site and set(raw) == {*names, "sites"} else None
    if _is_count(s) and 1 <= s <= MAX_SITES:
        return raw[names[0]], raw[names[1]], int(s)
    return None


def parse_proportion(key: str, raw: Any, *, per_site: bool = False) -> Proportion:
    """`per_site`: a channel's evidence, which may name its pilot sites."""
    if _is_number(raw, tiny=True) and 0.0 <= raw <= 1.0:  # a tiny share is just about 0
        return Proportion(float(raw), key=key)
    counts = _counts(raw, ("k", "n"), per_site)
    if counts is not None:
        k, n, sites = counts
        if _is_count(k) and _is_count(n) and n > 0 and 0 <= k <= n:
            return Proportion(k / n, float(k), float(n), sites, key=key)
    if _is_fit(raw):
        m, s = raw["estimate"], raw["se"]
        if 0 < m < 1 and 0 < s < math.sqrt(m * (1 - m)):
            total = m * (1 - m) / s**2 - 1  # Beta(a, b) with mean m and SD s: a + b
            a = m * total  # drawn as Beta(k + 1/2, n - k + 1/2), as counts are
            return Proportion(float(m), a - 0.5, total - 1.0, fitted=True, key=key)
    allowed = PROPORTION_ALLOWED + (PER_SITE if per_site else "")
    return reject(ConfigError(key, _plain(raw), allowed), Proportion(0.5, key=key))


def parse_rate(key: str, raw: Any, *, per_site: bool = False) -> Rate:
    """`per_site`: a channel's evidence, which may name its pilot sites."""
    if _is_number(raw) and 0.0 <= raw <= MAX_RATE:
        return Rate(float(raw), key=key)
    counts = _counts(raw, ("events", "exposure"), per_site)
    if counts is not None:
        e, x, sites = counts
        if _is_count(e) and _is_number(x) and e >= 0 and x > 0 and e / x <= MAX_RATE:
            return Rate(e / x, float(e), float(x), sites=sites, key=key)
    if _is_fit(raw):
        m, s = raw["estimate"], raw["se"]
        if 0 < m <= MAX_RATE and s > 0:
            shape = (m / s) ** 2  # Gamma with mean m and SD s, drawn as
            return Rate(float(m), shape - 0.5, shape / m,  # Gamma(events + 1/2) / exposure
                        fitted=True, key=key)
    allowed = RATE_ALLOWED + (PER_SITE if per_site else "")
    return reject(ConfigError(key, _plain(raw), allowed), Rate(1.0, key=key))


def parse_estimate(key: str, raw: Any, *, lo: float = -math.inf,
                   hi: float = math.inf) -> Estimate:
    """A plain number in [lo, hi] (fixed) or a fit `{estimate, se}` with the estimate in
    [lo, hi] and se > 0 (drawn in assurance)."""
    if _is_number(raw) and lo <= raw <= hi:
        return Estimate(float(raw), lo=lo, hi=hi, key=key)
    if _is_fit(raw) and lo <= raw["estimate"] <= hi and raw["se"] > 0:
        return Estimate(float(raw["estimate"]), float(raw["se"]), lo, hi, key=key)
    within = f"in [{lo:g}, {hi:g}]" if math.isfinite(lo) or math.isfinite(hi) else "finite"
    return reject(ConfigError(key, _plain(raw),
                              f"a number {within}, or a fit {{estimate, se}} with the "
                              "estimate there and se > 0" + SIZES),
                  Estimate(min(max(0.0, lo), hi), lo=lo, hi=hi, key=key))


def _is_fit(raw: Any) -> bool:
    return (isinstance(raw, Mapping) and set(raw) == {"estimate", "se"}
            and _is_number(raw["estimate"]) and _is_number(raw["se"]))


def _plain(raw: Any) -> Any:
    return dict(raw) if isinstance(raw, Mapping) else raw
