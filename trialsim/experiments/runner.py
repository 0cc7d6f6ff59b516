"""Replications, in sequence or in parallel with joblib, gathered into tidy tables.

Each replication is seeded by (seed, rep) alone and runs with one BLAS thread, so the
tables are identical whatever `n_jobs` is; joblib returns results in submission order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from trialsim.inputs.params import ModelParams
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


@dataclass(frozen=True)
class RunResult:
    replications: pd.DataFrame  # one row per replication
    curve_months: np.ndarray  # month grid
    curves: np.ndarray  # (replications, months): cumulative randomised
    participants: pd.DataFrame | None  # one row per participant and replication
    extras: tuple[dict, ...] = ()  # per replication: what the figures need (figure_data.py)


def _one(params: ModelParams, seed: int, rep: int, keep_participants: bool):
    result = simulate_replication(params, seed, rep)
    people = participant_rows(result) if keep_participants else None
    extras = replication_extras(result, params, curve_months(params))
    return replication_row(result, params), recruitment_curve(result, params), people, extras


def map_replications(one: Callable[[int], T], replications: int, n_jobs: int = 1,
                     label: str = "replications") -> list[T]:
    """`one(rep)` for every replication, in order, in sequence or with joblib workers.

    One BLAS thread everywhere: a multi-threaded BLAS sums in another order, and the
    analysis would then differ in the last bits between n_jobs=1 and n_jobs>1."""
    if n_jobs == 1:
        with threadpool_limits(limits=1):
            return [one(rep) for rep in progress(range(replications), replications, label)]
    tasks = (delayed(one)(rep) for rep in range(replications))
    # results come back in submission order; the bar only counts them
    return list(progress(Parallel(n_jobs=n_jobs, inner_max_num_threads=1,
                                  return_as="generator")(tasks), replications, label))


def run_replications(params: ModelParams, replications: int, seed: int, n_jobs: int = 1,
                     keep_participants: bool = False) -> RunResult:
    outputs = map_replications(partial(_one, params, seed, keep_participants=keep_participants),
                               replications, n_jobs)
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
    )
