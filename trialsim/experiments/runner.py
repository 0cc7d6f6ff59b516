"""Replications, in sequence or in parallel with joblib, gathered into tidy tables.

Each replication is seeded by (seed, rep) alone and runs with one BLAS thread, so the
tables are identical whatever `n_jobs` is; joblib returns results in submission order.
With `replications=auto` the replications run in batches of a fixed size until the
primary power is precise enough: replication r is the same whichever batch runs it, so
an auto run is identical for any `n_jobs` too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from trialsim.inputs.params import ModelParams, Precision
from trialsim.model.trial import simulate_replication
from trialsim.progress import progress
from trialsim.reporting.figure_data import replication_extras
from trialsim.reporting.tables import (
    curve_months,
    participant_rows,
    recruitment_curve,
    replication_row,
)

T = TypeVar("T")
AUTO_BATCH = 100  # replications per batch of an auto run (fixed: results do not depend on n_jobs)
STOPPED_PRECISE, STOPPED_CAP = "power_se", "max_replications"


@dataclass(frozen=True)
class RunResult:
    replications: pd.DataFrame  # one row per replication
    curve_months: np.ndarray  # month grid
    curves: np.ndarray  # (replications, months): cumulative randomised
    participants: pd.DataFrame | None  # one row per participant and replication
    extras: tuple[dict, ...] = ()  # per replication: what the figures need (figure_data.py)
    precision: dict[str, Any] | None = None  # replications=auto: how many ran and why


def _one(params: ModelParams, seed: int, rep: int, keep_participants: bool):
    result = simulate_replication(params, seed, rep)
    people = participant_rows(result) if keep_participants else None
    extras = replication_extras(result, params, curve_months(params))
    return replication_row(result, params), recruitment_curve(result, params), people, extras


def map_replications(one: Callable[[int], T], replications: int, n_jobs: int = 1,
                     label: str = "replications", first: int = 0) -> list[T]:
    """`one(rep)` for rep = first, ..., first + replications - 1, in order, in sequence
    or with joblib workers.

    One BLAS thread everywhere: a multi-threaded BLAS sums in another order, and the
    analysis would then differ in the last bits between n_jobs=1 and n_jobs>1."""
    reps = range(first, first + replications)
    if n_jobs == 1:
        with threadpool_limits(limits=1):
            return [one(rep) for rep in progress(reps, replications, label)]
    tasks = (delayed(one)(rep) for rep in reps)
    # results come back in submission order; the bar only counts them
    return list(progress(Parallel(n_jobs=n_jobs, inner_max_num_threads=1,
                                  return_as="generator")(tasks), replications, label))


def _gather(params: ModelParams, outputs: list, keep_participants: bool,
            precision: dict[str, Any] | None = None) -> RunResult:
    rows, curves, people, extras = zip(*outputs, strict=True)
    participants = None
    if keep_participants:
        participants = pd.DataFrame([p for per_rep in people for p in per_rep])
    return RunResult(
        replications=pd.DataFrame(list(rows)),
        curve_months=curve_months(params),
        curves=np.vstack(curves),
        participants=participants,
        extras=tuple(extras),
        precision=precision,
    )


def run_replications(params: ModelParams, replications: int, seed: int, n_jobs: int = 1,
                     keep_participants: bool = False) -> RunResult:
    outputs = map_replications(partial(_one, params, seed, keep_participants=keep_participants),
                               replications, n_jobs)
    return _gather(params, outputs, keep_participants)


def stopping_se(rejections: int, n: int) -> float:
    """The Monte Carlo SE an auto run stops on: the binomial SE at (k + 1) / (n + 2),
    which is never below the reported SE at k / n, so that a batch that happens to
    reject in none or all of its trials does not pass for a precise estimate."""
    p = (rejections + 1) / (n + 2)
    return math.sqrt(p * (1 - p) / n)


def run_until_precise(params: ModelParams, precision: Precision, seed: int, n_jobs: int = 1,
                      keep_participants: bool = False) -> RunResult:
    """`replications=auto`: batches of AUTO_BATCH replications (0, 1, ... in order) until
    the primary power's Monte Carlo SE is below `precision.power_se`, or
    `precision.max_replications` have run."""
    one = partial(_one, params, seed, keep_participants=keep_participants)
    outputs: list = []
    while True:
        n = min(AUTO_BATCH, precision.max_replications - len(outputs))
        outputs += map_replications(one, n, n_jobs, first=len(outputs))
        rejections = sum(int(row["primary_reject"]) for row, *_ in outputs)
        se = stopping_se(rejections, len(outputs))
        if se < precision.power_se or len(outputs) >= precision.max_replications:
            break
    stopped = STOPPED_PRECISE if se < precision.power_se else STOPPED_CAP
    return _gather(params, outputs, keep_participants, {
        "replications": "auto", "used": len(outputs), "stopped_by": stopped,
        "power_se_target": precision.power_se, "stopping_se": se,
        "max_replications": precision.max_replications, "batch": AUTO_BATCH})
