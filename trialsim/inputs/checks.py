"""Range checks that name the config key, the value and what is allowed."""

from __future__ import annotations

import math
from typing import Any

from trialsim.errors import ConfigError

Z75 = 0.6744897501960817  # standard normal 75% quantile


def number(key: str, value: Any, *, lo: float = -math.inf, hi: float = math.inf,
           lo_open: bool = False, hi_open: bool = False, integer: bool = False,
           allow_inf: bool = False) -> Any:
    """`value` as int or float if it lies in the range, else ConfigError; inf (when
    allowed) comes back as float inf even for integer keys."""
    kind = "an integer" if integer else "a number"
    bound = f"{'>' if lo_open else '>='} {lo:g}" if lo > -math.inf else ""
    if hi < math.inf:
        bound += f"{' and ' if bound else ''}{'<' if hi_open else '<='} {hi:g}"
    allowed = f"{kind} {bound}".strip() + (" (inf allowed)" if allow_inf else "")
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    if ok and math.isinf(value):
        ok = allow_inf and value > 0
    elif ok and integer and not float(value).is_integer():
        ok = False
    if ok and (value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi)):
        ok = False
    if not ok:
        raise ConfigError(key, value, allowed)
    if math.isinf(value):
        return math.inf
    return int(value) if integer else float(value)
