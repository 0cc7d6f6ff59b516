"""Range checks that name the config key, the value and what is allowed.

Outside `collecting()` a bad value raises ConfigError at once. Inside it (only
`trialsim.inputs.validation` opens one) the error is recorded and a safe placeholder is
returned instead, so that building goes on and every bad key is reported in one pass.
The collector lives in a ContextVar: no module-level mutable state, safe under threads.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from trialsim.errors import ConfigError

Z75 = 0.6744897501960817  # standard normal 75% quantile

_PROBLEMS: ContextVar[list[ConfigError] | None] = ContextVar("trialsim_problems", default=None)

T = TypeVar("T")


@contextmanager
def collecting() -> Iterator[list[ConfigError]]:
    """Record ConfigErrors from `number`, `reject` and the evidence parsers in a list."""
    problems: list[ConfigError] = []
    token = _PROBLEMS.set(problems)
    try:
        yield problems
    finally:
        _PROBLEMS.reset(token)


def reject(error: ConfigError, placeholder: T) -> T:
    """Raise `error`, or inside `collecting()` record it and go on with `placeholder`."""
    problems = _PROBLEMS.get()
    if problems is None:
        raise error
    if not any(p.key == error.key for p in problems):  # one line per key
        problems.append(error)
    return placeholder


def choice(key: str, value: Any, allowed: tuple[str, ...], placeholder: str | None = None) -> str:
    """`value` if it is one of `allowed`, else ConfigError (inside `collecting()`, recorded,
    and `placeholder`, by default the first allowed, goes on in its place)."""
    if value in allowed:
        return str(value)
    return reject(ConfigError(key, value, f"one of {', '.join(allowed)}"),
                  allowed[0] if placeholder is None else placeholder)


def _placeholder(lo: float, hi: float, integer: bool) -> float:
    """A value inside [lo, hi] for building to go on with after a recorded error."""
    if math.isfinite(lo) and math.isfinite(hi):
        x = (lo + hi) / 2
    elif math.isfinite(lo):
        x = lo + 1
    elif math.isfinite(hi):
        x = hi - 1
    else:
        x = 0.0
    return int(math.ceil(x)) if integer else float(x)


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
        return reject(ConfigError(key, value, allowed), _placeholder(lo, hi, integer))
    if math.isinf(value):
        return math.inf
    return int(value) if integer else float(value)
