"""What a validation case returns, and how it is judged.

A case sets a value the model must reproduce (an analytic law, a closed-form power, a
pilot count) against what the simulation gives, with the Monte Carlo interval of the
simulated value. Each result says its own rule; a case passes only if every one of its
results passes. A pilot count the model is known not to reproduce, or a type I error
rate conservative where no valid test can reach the band, is `listed` with its reason,
never judged as a pass, and never hidden.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from trialsim.experiments.runner import run_replications
from trialsim.inputs.compose import compose_config
from trialsim.inputs.params import ModelParams, build_params

Z_MC = 4.0  # a simulated mean or share passes within 4 Monte Carlo SE of the expected value
PASS, FAIL, LISTED = "pass", "FAIL", "listed"


@dataclass(frozen=True)
class Result:
    case: str  # the case's id
    quantity: str  # what is compared, in words
    expected: float  # the law, closed form or pilot count
    simulated: float
    low: float  # Monte Carlo interval of the simulated value (see `rule`)
    high: float
    status: str  # PASS, FAIL or LISTED
    rule: str  # how it is judged
    note: str = ""  # e.g. the reason a pilot count is listed
    se: float = math.nan  # Monte Carlo SE behind the rule (none for a pilot count)

    @property
    def z(self) -> float:
        """(simulated - expected) in Monte Carlo SEs."""
        return (self.simulated - self.expected) / self.se if self.se > 0 else math.nan


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    title: str
    run: Callable[[Context], list[Result]]
    # in the fast subset CI runs (tests/test_validate.py); a case the test suite already
    # checks at an equal or larger size runs only in the full validation
    fast: bool = True


@dataclass(frozen=True)
class Context:
    """What every case is run with: the size of the run and the overrides added to every
    config it composes (a deliberately broken parameter, to show the cases can fail)."""

    fast: bool
    seed: int
    overrides: tuple[str, ...] = ()

    def reps(self, full: int, fast: int) -> int:
        return fast if self.fast else full

    def params(self, overrides: Sequence[str]) -> ModelParams:
        """The parameters the overrides compose, with the context's own overrides on top."""
        return build_params(compose_config([*overrides, *self.overrides]))

    def replications(self, overrides: Sequence[str], reps: int, seed_offset: int = 0):
        """`reps` replications of `params(overrides)`: their tidy table."""
        return run_replications(self.params(overrides), reps, self.seed + seed_offset,
                                figures=False).replications


def mean_result(case: str, quantity: str, expected: float, values: np.ndarray,
                note: str = "") -> Result:
    """The simulated mean of `values` against `expected`, within Z_MC standard errors."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    mean = float(values.mean()) if len(values) else math.nan
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan
    ok = bool(abs(mean - expected) <= Z_MC * se) if math.isfinite(se) else False
    return Result(case, quantity, float(expected), mean, mean - Z_MC * se, mean + Z_MC * se,
                  PASS if ok else FAIL, f"expected inside mean +- {Z_MC:g} MC SE", note, se)


def share_result(case: str, quantity: str, expected: float, hits: int, n: int,
                 z: float = Z_MC, note: str = "") -> Result:
    """A simulated share (hits of n) against an expected probability; the interval is
    the expected value +- z binomial SE at that probability (the test's own SE)."""
    share = hits / n if n else math.nan
    se = math.sqrt(expected * (1 - expected) / n) if n else math.nan
    ok = bool(n and abs(share - expected) <= z * se)
    return Result(case, quantity, float(expected), share, expected - z * se, expected + z * se,
                  PASS if ok else FAIL, f"share inside expected +- {z:g} binomial SE", note, se)


def case_passed(results: Sequence[Result]) -> bool:
    return all(r.status != FAIL for r in results)
