"""Searching a sorted grid for the first candidate that passes a monotone test.

`smallest` bisects the whole grid. `first_passing` starts from a guess and gallops
(1, 2, 4 ... steps) towards the answer before bisecting, so that a good guess costs two
or three tests, and it takes what earlier searches proved: every index below `lo`
fails, index `hi` passes. The design search walks its N x ESW frontier with it: N needed
never grows with more ESWs, so the answer for one ESW count bounds the next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def smallest(candidates: list[T], passes: Callable[[T], bool]) -> T | None:
    """The smallest candidate that passes, assuming passing is monotone (bisection)."""
    lo, hi, found = 0, len(candidates) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if passes(candidates[mid]):
            found, hi = candidates[mid], mid - 1
        else:
            lo = mid + 1
    return found


def first_passing(n: int, passes: Callable[[int], bool], start: int, lo: int = 0,
                  hi: int | None = None, guide: Callable[[], int] | None = None,
                  guided: int = 3) -> int | None:
    """The smallest index i in [lo, n) with passes(i), or None; `passes` must be monotone
    (False ... False True ... True). Indices below `lo` are known to fail and `hi` (if
    given) to pass: neither is tested again. With `guide` (a fresh guess after every
    test, e.g. a model refitted to the tests so far), up to `guided` tests go where it
    points, inside what is still open; then galloping and bisection finish the search,
    so a bad guide costs at most `guided` extra tests."""
    fail = lo - 1  # largest index known to fail
    ok = n if hi is None else min(hi, n)  # smallest index known to pass (n: none yet)
    probed = 0
    for _ in range(guided if guide is not None else 0):
        if ok - fail <= 1:
            break
        i = min(max(guide(), fail + 1), ok - 1)
        if passes(i):
            ok = i
        else:
            fail = i
        probed += 1
    if ok - fail <= 1:
        return ok if ok < n else None
    if probed and ok < n:  # the guide has bracketed the answer: bisect it
        return _bisect(passes, fail, ok)
    i = min(max(start if not probed else fail + 1, fail + 1), ok - 1)
    step = 1
    if passes(i):
        ok = i
        while ok - fail > 1:  # gallop down
            j = max(ok - step, fail + 1)
            if passes(j):
                ok, step = j, step * 2
            else:
                fail = j
                break
    else:
        fail = i
        while ok - fail > 1:  # gallop up
            j = min(fail + step, ok - 1)
            if passes(j):
                ok = j
                break
            fail, step = j, step * 2
    ok = _bisect(passes, fail, ok)
    return ok if ok < n else None


def _bisect(passes: Callable[[int], bool], fail: int, ok: int) -> int:
    """The first passing index between a known failure and a known pass (or the end)."""
    while ok - fail > 1:
        mid = (fail + ok) // 2
        if passes(mid):
            ok = mid
        else:
            fail = mid
    return ok
