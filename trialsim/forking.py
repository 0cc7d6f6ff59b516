"""Forked worker pools, shared by the replications (trialsim.experiments.runner) and the
figures (trialsim.reporting.drawing).

A fork starts in milliseconds with every module already imported, where the platform
forks safely (Linux); elsewhere a worker would start a fresh interpreter, which costs
more than most of what it would do, so callers fall back to joblib or to one process.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

FORKS = sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


def _ignore_interrupt() -> None:
    """Ctrl-C is left to the parent, which stops the work (no traceback from every
    worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def fork_pool(workers: int, initializer: Callable[[], None] | None = None
              ) -> ProcessPoolExecutor:
    """A pool of `workers` forked processes, each ignoring Ctrl-C, then running
    `initializer`."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_start, initargs=(initializer,))


def _start(initializer: Callable[[], None] | None) -> None:
    _ignore_interrupt()
    if initializer is not None:
        initializer()


def fork_map(fn: Callable[..., Any], items: Iterable[tuple], workers: int) -> list[Any]:
    """fn(*item) for each item, in order, on `workers` forked processes, which are
    terminated on the way out: an error in one, or Ctrl-C, ends the call at once and
    leaves no process behind (an executor's shutdown would wait for the work queued)."""
    with multiprocessing.get_context("fork").Pool(workers, initializer=_ignore_interrupt) \
            as pool:
        return pool.starmap(fn, items, chunksize=1)
