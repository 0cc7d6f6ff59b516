"""The model's compiled loops (numba): one decorator, and whether they can be compiled.

Why: the parts of a replication that run once a participant in sequence (the
coordinator's queue, the caseload queue, the employment paths) cannot be vectorised
within a replication, since their streams are consumed in order across participants;
in plain Python they were most of a replication's simulation. Each compiled loop is
held to the last bit against the Python it replaces (tests/test_delivery_pass.py),
which stays as the reference engine and runs where numba is not installed.

numba is imported, and the loops compiled, only when one is first called (`kernel`):
numba's import and its first call cost about 0.45 s a process, more than a short run
saves, and a short run uses the reference engine (trialsim.model.trial.engine_for).
Compiled code is cached beside its module (numba's cache=True): the first run on a
machine compiles it (some seconds; `make` does it at install), later runs load it."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

AVAILABLE = importlib.util.find_spec("numba") is not None

_LOOPS: list[Callable] = []  # every loop `jit` marked, in the order marked


def jit(fn: Callable) -> Callable:
    """Mark `fn` as a loop to compile (nopython mode, cached); it stays the Python
    function until `kernel` compiles the marked loops."""
    _LOOPS.append(fn)
    return fn


def kernel(fn: Callable) -> Callable:
    """The compiled `fn` (a loop `jit` marked, or already its compiled self). The first
    call compiles every marked loop and puts each in its module in place of its Python
    function, so that loops calling loops compile against the compiled ones (the same
    code: calling either gives the same values)."""
    if not _COMPILED:
        from numba import njit

        for loop in _LOOPS:
            _COMPILED[loop] = njit(cache=True, nogil=True)(loop)
            loop.__globals__[loop.__name__] = _COMPILED[loop]
    return _COMPILED.get(fn, fn)


_COMPILED: dict[Callable, Callable] = {}  # each marked loop compiled, once a process
