"""A directory's figures drawn side by side, a forked process each, up to the run's
n_jobs (trialsim.forking): after the answer is printed the figures are most of a short
run's time, and each is drawn from the directory's files alone, so which process draws
it changes no byte of it (tests/test_reporting.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from trialsim.forking import FORKS, fork_map
from trialsim.inputs.checks import workers_for
from trialsim.reporting.rundir import RunDir

Draw = Callable[[RunDir, Path], list[Path]]  # draw(run, out): the files it wrote


def draw_all(path: Path, jobs: Sequence[Draw], processes: int | None = None) -> list[Path]:
    """Every drawing of `jobs` from the directory `path` into it, on up to `processes`
    forked processes (None or -1: one per core this process may use, as n_jobs; 1: in
    this process), the files in the order of `jobs`."""
    n = min(len(jobs), workers_for(-1 if processes is None else processes))
    if n < 2 or not FORKS:
        run = RunDir(path)
        return [p for job in jobs for p in job(run, path)]
    return [p for made in fork_map(_draw, [(job, path) for job in jobs], n) for p in made]


def _draw(job: Draw, path: Path) -> list[Path]:
    return job(RunDir(path), path)
