"""The model's compiled loops (numba): one decorator, whether they can be compiled, and
the one small loop they share (`least`).

Why: the parts of a replication that run once a participant in sequence (the
coordinator's queue, the caseload queue, the employment paths) cannot be vectorised
within a replication, since their streams are consumed in order across participants;
in plain Python they were most of a replication's simulation. Each compiled loop is
held to the last bit against the Python it replaces (tests/test_delivery_pass.py),
which stays as the reference engine and runs where numba is not installed.

numba is imported only when a loop is first wanted (`kernel`): its import and first call
cost about 0.45 s a process, more than a short run saves, and a short run uses the
reference engine unless the process has loaded them already (`loaded`;
trialsim.model.trial.engine_for). Compiled code is cached (numba's
cache=True: beside its module where that is writable, else in the user's cache
directory, or NUMBA_CACHE_DIR): the first run on a machine compiles it (some seconds;
`make` does it at install), later runs load it. Intel's SVML is kept out: the loops
must call the same C library exp, log1p and pow as Python does, to the last bit."""

from __future__ import annotations

import importlib.util
import os
import threading
import types
import warnings
from collections.abc import Callable

AVAILABLE = importlib.util.find_spec("numba") is not None

_LOOPS: list[Callable] = []  # every loop `compiled_loop` marked, in the order marked
_COMPILED: dict[Callable, Callable] = {}  # each marked loop compiled, once a process
_LOCK = threading.Lock()


def compiled_loop(fn: Callable) -> Callable:
    """Mark `fn` as a loop to compile (nopython mode, cached); it stays the Python
    function until `kernel` asks for it."""
    _LOOPS.append(fn)
    return fn


def kernel(fn: Callable) -> Callable:
    """The compiled `fn` (a marked loop, or already its compiled self). Every marked loop
    not yet wrapped is wrapped (numba compiles or loads each at its first call) and put
    in place of its Python function in every module holding a marked loop (its own, and
    those that imported it), so that loops calling loops compile against the compiled
    ones: the same code, so calling either gives the same values. Where numba cannot be
    imported, a warning and the Python function itself."""
    if fn in _COMPILED:
        return _COMPILED[fn]
    with _LOCK:
        todo = [loop for loop in _LOOPS if loop not in _COMPILED]
        if todo:
            try:
                os.environ.setdefault("NUMBA_DISABLE_INTEL_SVML", "1")
                from numba import njit
            except Exception as err:  # noqa: BLE001 - any failure: run the Python itself
                warnings.warn(f"numba could not be imported ({err}): the model's loops run "
                              "as plain Python, far slower", RuntimeWarning, stacklevel=2)
                return fn
            made = {}
            for loop in todo:
                try:
                    made[loop] = njit(cache=True, nogil=True)(loop)
                except RuntimeError:  # no writable cache directory: compiled each process
                    made[loop] = njit(nogil=True)(loop)
            for names in {id(loop.__globals__): loop.__globals__ for loop in _LOOPS}.values():
                for name, value in list(names.items()):
                    if isinstance(value, types.FunctionType) and value in made:
                        names[name] = made[value]
            _COMPILED.update(made)
    return _COMPILED.get(fn, fn)


def loaded() -> bool:
    """Whether this process has already imported numba for its loops (`kernel` has run):
    its cost is then paid, and even a short run gains by the compiled engine."""
    return bool(_COMPILED)


@compiled_loop
def least(x, n):
    """The index of the least of x[:n] (the first, on ties): the free day a queue's
    servers or places read, which a heap's root would give (n >= 1)."""
    m = 0
    for s in range(1, n):
        if x[s] < x[m]:
            m = s
    return m
