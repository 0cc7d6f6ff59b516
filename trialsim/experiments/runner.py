"""Replications, in sequence or in parallel (forked workers, or joblib's where the
platform does not fork), gathered into tidy tables.

Each replication is seeded by (seed, rep) alone and runs with one BLAS thread, so the
tables are identical whatever `n_jobs` is; results come back in submission order.
With `replications=auto` the replications run in batches of a fixed size until the
primary power is precise enough: replication r is the same whichever batch runs it, so
an auto run is identical for any `n_jobs` too.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from functools import partial
from itertools import repeat
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from trialsim.analysis.trial_analysis import analysis_columns
from trialsim.analysis.trial_batch import analysis_columns_batch
from trialsim.forking import FORKS, fork_pool
from trialsim.inputs.checks import workers_for
from trialsim.inputs.params import ModelParams, Precision
from trialsim.model.review import AMBER
from trialsim.model.trial import (
    ReplicationResult,
    engine_for,
    outcomes_of_trials,
    simulate_pathway,
    simulate_replication,
)
from trialsim.progress import progress
from trialsim.reporting import keys
from trialsim.reporting.figure_data import replication_extras
from trialsim.reporting.run_result import RunResult
from trialsim.reporting.tables import (
    curve_months,
    participant_rows,
    recruitment_curve,
    replication_row,
)

T = TypeVar("T")
AUTO_BATCH = 100  # replications per batch of an auto run (fixed: results do not depend on n_jobs)
STOPPED_PRECISE, STOPPED_CAP = "power_se", "max_replications"
# Workers are forked where the platform forks safely (trialsim.forking.FORKS): any run of
# two blocks or more gains from them. Elsewhere joblib's loky workers each start a fresh
# interpreter (~1.8 s wall measured against ~18 ms a default replication; n_jobs=2 was
# 1.3x slower at 200 and 1.2x at 600 replications on a shared 2-core machine): a run of
# fewer than PARALLEL_FROM replications then runs in-process whatever n_jobs. Results
# are the same either way.
PARALLEL_FROM = 1000
# the pool of an enclosing `workers` (context-local, like the config checks' problems)
_POOL: ContextVar[ProcessPoolExecutor | None] = ContextVar("trialsim_pool", default=None)
# Replications simulated, then analysed together (trialsim.analysis.trial_batch): blocks
# cut at multiples of BLOCK of the replication index, so a replication's block is the
# same whatever n_jobs is and whichever run or auto batch (a multiple of BLOCK) holds it.
BLOCK = 25


def jobs_for(replications: int, n_jobs: int) -> int:
    """The workers a run of `replications` uses (n_jobs -1: one per core this process may
    use): with forked workers, no more than its blocks; otherwise 1 (in-process) below
    PARALLEL_FROM."""
    n_jobs = workers_for(n_jobs)
    if FORKS:
        return max(1, min(n_jobs, len(block_ranges(0, replications))))
    return 1 if replications < PARALLEL_FROM else n_jobs


def _one(params: ModelParams, seed: int, rep: int, keep_participants: bool,
         figures: bool = True, engine: str | None = None):
    """One replication's row, curve, participants (if kept) and, with `figures`, the
    figure data (needed only where a run directory is written)."""
    return _block(params, seed, range(rep, rep + 1), keep_participants, figures, engine)[0]


def simulated_rows(params: ModelParams, seed: int, reps: range,
                   tipping_and_review: bool = True, engine: str | None = None,
                   ) -> list[tuple[ReplicationResult, dict[str, float]]]:
    """Each replication of `reps` with its row, simulated and then analysed together
    (trialsim.analysis.trial_batch): what a run and the design search both tabulate.
    `tipping_and_review` False: without the columns that only a run's report and the
    design search's check read, the MNAR delta sensitivity (its tipping points) and the
    internal pilot's review (about a tenth of a replication's time at N 750); every
    other column is the same, to the last bit. `engine`: trialsim.model.trial's (None:
    its default; the same values)."""
    pathways = [simulate_pathway(params, seed, rep, engine=engine) for rep in reps]
    return _rows(outcomes_of_trials(pathways), params, seed, tipping_and_review)


def _rows(results: list[ReplicationResult], params: ModelParams, seed: int,
          tipping_and_review: bool = True) -> list[tuple[ReplicationResult, dict[str, float]]]:
    analysed = analysis_columns_batch(results, params.analysis, seed,
                                      sensitivity=tipping_and_review)
    return [(result, replication_row(result, params, seed, columns,
                                     with_review=tipping_and_review))
            for result, columns in zip(results, analysed, strict=True)]


def outcome_only(params: ModelParams, changed: Sequence[ModelParams]) -> list[int]:
    """Which of `changed` differ from `params` in their outcome model alone, all at fixed
    parameters: their trials can be drawn on `params`' pathways (`outcome_variant_rows`;
    with drawn parameters none can: assurance draws the outcome model too)."""
    if params.uncertainty is not None:
        return []
    # compared by repr: a NaN field (an unused plan's value) is equal to itself there,
    # as it is not in == once the parameters have been pickled to a worker
    same = repr(params)
    return [i for i, p in enumerate(changed)
            if p.uncertainty is None and repr(replace(p, outcome=params.outcome)) == same]


def outcome_variant_rows(params: ModelParams, seed: int, reps: range,
                         variants: Sequence[ModelParams], tipping_and_review: bool = True,
                         variants_tipping_and_review: bool = True,
                         ) -> list[list[dict[str, float]]]:
    """The rows `simulated_rows` gives for `params` and for each of `variants` (each
    with its `tipping_and_review`), each pathway simulated once: the variants must
    differ from `params` in their outcome model alone (`outcome_only`; nothing before
    the outcomes reads it, trialsim.model.trial.outcomes_of). A table of rows each,
    `params`' first, then the variants' in order."""
    if len(outcome_only(params, variants)) < len(variants):
        raise ValueError("outcome variants share pathways only if they differ in the "
                         "outcome model alone, at fixed parameters")
    pathways = [simulate_pathway(params, seed, rep) for rep in reps]
    tables = [_rows(outcomes_of_trials(pathways), params, seed, tipping_and_review)]
    tables += [_rows(outcomes_of_trials(pathways, v.outcome), v, seed,
                     variants_tipping_and_review) for v in variants]
    return [[row for _, row in table] for table in tables]


def _block(params: ModelParams, seed: int, reps: range, keep_participants: bool,
           figures: bool = True, engine: str | None = None) -> list[tuple]:
    """_one for each replication of `reps`, their analyses fitted together."""
    out = []
    for result, row in simulated_rows(params, seed, reps, engine=engine):
        people = participant_rows(result) if keep_participants else None
        extras = replication_extras(result, params, curve_months(params)) if figures else None
        row.update(rescue_columns(params, seed, result.rep, row, engine))
        out.append((row, recruitment_curve(result, params), people, extras))
    return out


def rescue_columns(params: ModelParams, seed: int, rep: int, row: dict,
                   engine: str | None = None) -> dict[str, float]:
    """With an amber plan (progression.amber_action): at an amber review the replication
    runs again from the same streams with the plan acting from the review day
    (trialsim.model.rescue); otherwise the trial goes on as it was. Its target and
    primary test beside the plain run's (common random numbers). No plan: no columns."""
    p = params.progression
    if p is None or not p.amber_action.any:
        return {}
    out = {keys.RESCUE_APPLIED: 0, keys.RESCUE_TARGET: row["target_reached"],
           keys.RESCUE_REJECT: row["primary_reject"], keys.RESCUE_RANDOMISED: row["randomised"]}
    if row[keys.review_verdict(keys.OVERALL)] != AMBER:
        return out
    rescued = simulate_replication(params, seed, rep,
                                   rescue_day=p.review_day(params.window_days), engine=engine)
    tested = analysis_columns(rescued, params.analysis, seed)
    return {keys.RESCUE_APPLIED: 1, keys.RESCUE_TARGET: int(rescued.close_reason == "target"),
            keys.RESCUE_REJECT: tested["primary_reject"],
            keys.RESCUE_RANDOMISED: len(rescued.participants)}


def without_gc(one: Callable[[int], T], rep: int) -> T:
    """`one(rep)` with Python's cyclic garbage collector paused. A replication makes
    tens of thousands of short-lived objects, nearly all freed by reference counting
    as it goes; the collector's passes over them (and now and then over every object
    the process holds) cost a few per cent of a replication. The few cycles a
    replication leaves are collected when the collector next runs, after it."""
    if not gc.isenabled():
        return one(rep)
    gc.disable()
    try:
        return one(rep)
    finally:
        gc.enable()


def each_replication(one: Callable[[int], T], replications: int, n_jobs: int = 1,
                     label: str = "replications", first: int = 0) -> Iterator[T]:
    """`one(rep)` for rep = first, ..., first + replications - 1, yielded in order as
    they finish, in sequence or on workers (each run `without_gc`).

    One BLAS thread everywhere: a multi-threaded BLAS sums in another order, and the
    analysis would then differ in the last bits between n_jobs=1 and n_jobs>1. The
    workers get a block of replications a task (each_block): a task per replication
    held about 90 KB a replication in the parent (10,000 peaked at 1.3 GB)."""
    yield from each_block(partial(_each, one), replications, n_jobs, label, first)


def _each(one: Callable[[int], T], reps: range) -> list[T]:
    return [one(rep) for rep in reps]


def block_ranges(first: int, replications: int, size: int = BLOCK) -> list[range]:
    """first, ..., first + replications - 1 cut at the multiples of `size`."""
    end = first + replications
    cuts = [first, *range((first // size + 1) * size, end, size), end]
    return [range(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def each_block(block: Callable[[range], list[T]], replications: int, n_jobs: int = 1,
               label: str = "replications", first: int = 0) -> Iterator[T]:
    """Like each_replication for a function of a block of replications (block_ranges),
    its outputs yielded one replication at a time, in order."""
    ranges = block_ranges(first, replications)
    n_jobs = min(workers_for(n_jobs), len(ranges))

    def flat(blocks):
        for outputs in blocks:
            yield from outputs

    if n_jobs <= 1:
        with threadpool_limits(limits=1):
            yield from progress(flat(without_gc(block, r) for r in ranges), replications,
                                label)
        return
    if FORKS:
        yield from progress(flat(_forked(block, ranges, n_jobs)), replications, label)
        return
    from joblib import Parallel, delayed

    tasks = (delayed(without_gc)(block, r) for r in ranges)
    # results come back in submission order; the bar only counts them
    yield from progress(flat(Parallel(n_jobs=n_jobs, inner_max_num_threads=1,
                                      return_as="generator")(tasks)), replications, label)


def _worker_start() -> None:
    """A forked worker: one BLAS thread (for the whole process; see each_replication) and
    the parent's objects frozen out of the collector's reach (a collection would touch,
    hence copy, every page of them)."""
    threadpool_limits(limits=1)
    gc.freeze()


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return fork_pool(workers, _worker_start)


@contextmanager
def workers(n_jobs: int) -> Iterator[None]:
    """Forked workers kept for every map of blocks inside (`with workers(n_jobs): ...`):
    a design search makes about 70 maps and a pool costs some 15-20 ms to fork and join
    (a saving within the noise of the search's minute of wall time, measured). Nothing
    where workers are not forked or n_jobs is 1."""
    n = workers_for(n_jobs)
    if not FORKS or n <= 1 or _POOL.get() is not None:
        yield
        return
    pool = _new_pool(n)
    token = _POOL.set(pool)
    try:
        yield
    finally:
        _POOL.reset(token)
        pool.shutdown(wait=True, cancel_futures=True)


def _forked(block: Callable[[range], list[T]], ranges: list[range],
            workers: int) -> Iterator[list[T]]:
    """block(r) for each range, in order, on forked workers: those of the enclosing
    `workers` if any (its size caps the workers), else a pool of `workers` for this map;
    work not yet started is cancelled if the caller stops."""
    kept = _POOL.get()
    pool = kept if kept is not None else _new_pool(workers)
    try:
        yield from pool.map(without_gc, repeat(block), ranges)
    finally:
        if kept is None:
            pool.shutdown(wait=True, cancel_futures=True)


def map_blocks(block: Callable[[range], list[T]], replications: int, n_jobs: int = 1,
               label: str = "replications", first: int = 0) -> list[T]:
    """block's outputs for every replication, in order (see each_block)."""
    return list(each_block(block, replications, n_jobs, label, first))


def map_replications(one: Callable[[int], T], replications: int, n_jobs: int = 1,
                     label: str = "replications", first: int = 0) -> list[T]:
    """`one(rep)` for every replication, in order (see each_replication)."""
    return list(each_replication(one, replications, n_jobs, label, first))


class Gathered:
    """Replications' outputs kept compactly as they arrive, so that a long run holds a
    few kilobytes per replication: a row's values without its column names (the same
    in every replication), and the figure data's flow counts with shared names."""

    def __init__(self) -> None:
        self.columns: tuple[str, ...] | None = None
        self.values: list[tuple] = []
        self.curves: list[np.ndarray] = []
        self.people: list[dict] = []
        self.extras: list[dict] = []
        self._names: dict[str, str] = {}

    def add(self, output) -> None:
        row, curve, people, extras = output
        columns = tuple(row)
        if self.columns is None:
            self.columns = columns
        elif columns != self.columns:  # every replication's row has the same columns
            raise ValueError(f"replication {row.get('rep')} has other columns")
        self.values.append(tuple(row.values()))
        self.curves.append(curve)
        if people is not None:
            self.people.extend(people)
        if extras is None:
            return
        names = self._names
        extras["flow"] = {names.setdefault(k, k): v for k, v in extras["flow"].items()}
        self.extras.append(extras)

    def column(self, name: str) -> list:
        i = self.columns.index(name)
        return [values[i] for values in self.values]

    def __len__(self) -> int:
        return len(self.values)

    def result(self, params: ModelParams, keep_participants: bool,
               precision: dict[str, Any] | None = None) -> RunResult:
        import pandas as pd

        return RunResult(
            replications=pd.DataFrame.from_records(self.values, columns=list(self.columns)),
            curve_months=curve_months(params),
            curves=np.vstack(self.curves),
            participants=pd.DataFrame(self.people) if keep_participants else None,
            extras=tuple(self.extras),
            precision=precision,
        )


def run_replications(params: ModelParams, replications: int, seed: int, n_jobs: int = 1,
                     keep_participants: bool = False, figures: bool = True,
                     engine: str | None = None) -> RunResult:
    """`figures`: keep what the figures need (RunResult.extras); a caller that writes no
    run directory saves its cost by passing False (the tables are the same). `engine`:
    trialsim.model.trial.ENGINES (the same values either way); None: `engine_for` the
    run's size."""
    gathered = Gathered()
    if engine is None:
        engine = engine_for(replications * params.target_n)
    for output in each_block(partial(_block, params, seed, keep_participants=keep_participants,
                                     figures=figures, engine=engine),
                             replications, n_jobs):
        gathered.add(output)
    return gathered.result(params, keep_participants)


def stopping_se(rejections: int, n: int) -> float:
    """The Monte Carlo SE an auto run stops on: the binomial SE at (k + 1) / (n + 2),
    which is never below the reported SE at k / n, so that a batch that happens to
    reject in none or all of its trials does not pass for a precise estimate."""
    p = (rejections + 1) / (n + 2)
    return math.sqrt(p * (1 - p) / n)


def run_until_precise(params: ModelParams, precision: Precision, seed: int, n_jobs: int = 1,
                      keep_participants: bool = False, figures: bool = True) -> RunResult:
    """`replications=auto`: batches of AUTO_BATCH replications (0, 1, ... in order) until
    the primary power's Monte Carlo SE is below `precision.power_se`, or
    `precision.max_replications` have run."""
    block = partial(_block, params, seed, keep_participants=keep_participants,
                    figures=figures)
    gathered = Gathered()
    while True:
        n = min(AUTO_BATCH, precision.max_replications - len(gathered))
        for output in each_block(block, n, n_jobs, first=len(gathered)):
            gathered.add(output)
        rejections = sum(int(x) for x in gathered.column("primary_reject"))
        se = stopping_se(rejections, len(gathered))
        if se < precision.power_se or len(gathered) >= precision.max_replications:
            break
    stopped = STOPPED_PRECISE if se < precision.power_se else STOPPED_CAP
    return gathered.result(params, keep_participants, {
        "replications": "auto", "used": len(gathered), "stopped_by": stopped,
        "power_se_target": precision.power_se, "stopping_se": se,
        "max_replications": precision.max_replications, "batch": AUTO_BATCH})
