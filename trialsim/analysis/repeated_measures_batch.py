"""Placeholder: the repeated-measures fit over a batch of datasets, one at a time."""

from __future__ import annotations

import numpy as np

from trialsim.analysis.delta import mmrm_slope
from trialsim.analysis.repeated_measures import MmrmFit, fit_mmrm


def fit_mmrm_batch(datasets, *, per_arm: bool = False,
                   esw_intercept: bool = False) -> list[MmrmFit | None]:
    return [fit_mmrm(*d, per_arm=per_arm, esw_intercept=esw_intercept) for d in datasets]


def mmrm_slopes_batch(items, *, waves: int, esw_intercept: bool) -> list[float]:
    return [mmrm_slope(*it[:5], it[5], waves, esw_intercept) for it in items]


__all__ = ["fit_mmrm_batch", "mmrm_slopes_batch", "np"]
