"""Range checks that name the config key, the value and what is allowed.

Outside `collecting()` a bad value raises ConfigError at once. Inside it (only
`trialsim.inputs.validation` opens one) the error is recorded and a safe placeholder is
returned instead, so that building goes on and every bad key is reported in one pass.
The collector lives in a ContextVar: no module-level mutable state, safe under threads.

Two bounds hold for every number, whatever its key's own range: a value other than 0
is at least TINY in size (1e-300 is a typo, and 1/x of it overflows; a share in [0, 1]
is exempt, as a tiny one is just about 0), and a finite
value is at most HUGE (1e308 overflows the first sum it enters; a key that needs less
says so with `hi`). Integer keys are compared as integers, so 10**20 neither loses
precision nor overflows a float.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from trialsim.errors import ConfigError

Z75 = 0.6744897501960817  # standard normal 75% quantile
TINY = 1e-9  # the smallest size of a number other than 0
HUGE = 1e9  # the largest finite number a key takes unless it says (most take far less: `hi`)
# Upper bounds shared by the params modules: far beyond any trial, and each keeps what it
# bounds (events, arrays, loops a replication makes) finite and small.
MAX_SITE_COUNT = 10_000  # sites of one kind (the run-size check counts them too)
MAX_LIST_SIZE = 1_000_000  # people registered at one practice
MAX_BATCHES = 1_000  # mailshot batches per practice
MAX_STAFF = 1_000  # localities, coordinators, nurses
MAX_BLOCK = 1_000  # a randomisation block
MAX_CASELOAD = 10_000  # ESW caseload (inf: no limit)
MAX_SEED = 2**63 - 1
MAX_FOLLOW_UP_MONTHS = 600.0
MAX_WEEKS = 520.0  # a reminder's delay
MAX_SD = 10.0  # outcome SDs and priors on the 0-10 scale, and the effect's prior SD
MIN_RATIO = 0.01  # an odds ratio per year: from 1/100 to 100


def cores() -> int:
    """The cores this process may use (n_jobs -1: a worker each)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, n or 1)


def workers_for(n_jobs: int) -> int:
    """n_jobs as a number of workers: -1 is one per core this process may use."""
    return cores() if n_jobs == -1 else n_jobs


def max_jobs() -> int:
    """The most workers a run may start: four per core this process may use (more only
    queue; a million would never start)."""
    return 4 * cores()

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


def _within(value: Any, lo: float, hi: float, lo_open: bool, hi_open: bool, integer: bool,
            allow_inf: bool) -> bool:
    """Compared without converting: a huge int never meets float()."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    if isinstance(value, float):
        if math.isnan(value) or (math.isinf(value) and not (allow_inf and value > 0)):
            return False
        if math.isinf(value):
            return True
        if integer and not value.is_integer():
            return False
    return not (value < lo or value > hi or (lo_open and value == lo)
                or (hi_open and value == hi))


def number(key: str, value: Any, *, lo: float = -math.inf, hi: float = math.inf,
           lo_open: bool = False, hi_open: bool = False, integer: bool = False,
           allow_inf: bool = False) -> Any:
    """`value` as int or float if it lies in the range, else ConfigError; inf (when
    allowed) comes back as float inf even for integer keys. Also within TINY and HUGE
    (module docstring)."""
    placeholder = _placeholder(lo, hi, integer)
    hi = HUGE if hi == math.inf else hi  # a key may allow more (a seed)
    kind = "an integer" if integer else "a number"
    bound = f"{'>' if lo_open else '>='} {lo:g}" if lo > -math.inf else ""
    bound += f"{' and ' if bound else ''}{'<' if hi_open else '<='} {hi:g}"
    allowed = f"{kind} {bound}".strip() + (" (inf allowed)" if allow_inf else "")
    if not _within(value, lo, hi, lo_open, hi_open, integer, allow_inf):
        return reject(ConfigError(key, value, allowed), placeholder)
    probability = lo == 0 and not lo_open and hi <= 1  # a tiny one is just about 0
    if value != 0 and abs(value) < TINY and not probability:
        return reject(ConfigError(key, value, f"{allowed}, 0 or at least {TINY:g} in size"),
                      placeholder)
    if math.isinf(value):
        return math.inf
    return int(value) if integer else float(value)
