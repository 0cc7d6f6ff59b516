"""What a run hands to the summary, the files and the figures: its tables, gathered by
the runner (trialsim.experiments.runner) from the replications' rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas only where the tables are built: joblib workers start faster
    import pandas as pd


@dataclass(frozen=True)
class RunResult:
    replications: pd.DataFrame  # one row per replication
    curve_months: np.ndarray  # month grid
    curves: np.ndarray  # (replications, months): cumulative randomised
    participants: pd.DataFrame | None  # one row per participant and replication
    extras: tuple[dict, ...] = ()  # per replication: what the figures need (figure_data.py)
    precision: dict[str, Any] | None = None  # replications=auto: how many ran and why
