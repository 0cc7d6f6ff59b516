"""The model's compiled loops (numba): one decorator, and whether they are compiled.

Why: the parts of a replication that run once a participant in sequence (the
coordinator's queue, the caseload queue, the employment paths) cannot be vectorised
within a replication, since their streams are consumed in order across participants;
in plain Python they were most of a replication's simulation. Each compiled loop is
held to the last bit against the Python it replaces (tests/test_delivery_pass.py),
which stays as the reference engine and runs where numba is not installed. Compiled
code is cached beside its module (numba's cache=True): the first run on a machine
compiles it (some seconds), later runs load it."""

from __future__ import annotations

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba missing: the reference engine runs
    njit = None

AVAILABLE = njit is not None


def jit(fn):
    """`fn` compiled in nopython mode and cached (itself where numba is missing)."""
    return njit(cache=True, nogil=True)(fn) if njit is not None else fn
