"""Which uncertain inputs move the probability of success: the one definition that
summary.json's ranked table and the tornado chart share.

The table is `assurance_parameters.csv`: one row per replication, `rep`, one column
per drawn input and the flags `success` (the pre-specified primary analysis rejects in
favour of IPS) and `target_reached`. For each input, the replications are ranked by
its drawn value and split into thirds (ties kept in replication order); P(flag) in the
lowest and the highest third, their difference (high - low) with its Monte Carlo SE
(two independent shares), ranked by |difference|.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

SUCCESS = "success"
TARGET = "target_reached"
FLAGS = (SUCCESS, TARGET)
PARTS = 3  # thirds
COLUMNS = ["input", "low", "high", "difference", "difference_mc_se", "n_low", "n_high"]


def parameters_table(drawn: Sequence[Mapping[str, float]], reps: pd.DataFrame) -> pd.DataFrame:
    """The drawn inputs of each replication beside its flags."""
    table = pd.DataFrame(list(drawn))
    flags = reps.set_index("rep").loc[table["rep"]]
    table[SUCCESS] = flags["primary_reject"].astype(int).to_numpy()
    table[TARGET] = flags["target_reached"].astype(int).to_numpy()
    return table


def inputs(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c != "rep" and c not in FLAGS]


def _share_se(p: float, n: int) -> float:
    return p * (1 - p) / n


def sensitivity(table: pd.DataFrame, flag: str = SUCCESS) -> pd.DataFrame:
    """One row per drawn input that varies: P(flag) in its lowest and highest third."""
    ok = table[flag].astype(float).to_numpy()
    size = len(table) // PARTS
    rows = []
    for col in inputs(table):
        x = table[col].astype(float).to_numpy()
        if size == 0 or np.unique(x).size < 2:
            continue
        order = np.argsort(x, kind="stable")
        low, high = ok[order[:size]].mean(), ok[order[-size:]].mean()
        rows.append({"input": col, "low": float(low), "high": float(high),
                     "difference": float(high - low),
                     "difference_mc_se": math.sqrt(_share_se(low, size)
                                                   + _share_se(high, size)),
                     "n_low": size, "n_high": size})
    out = pd.DataFrame(rows, columns=COLUMNS)
    key = out["difference"].abs()
    return (out.assign(_key=-key).sort_values(["_key", "input"]).drop(columns="_key")
            .reset_index(drop=True))


def ranked(table: pd.DataFrame, flag: str = SUCCESS) -> list[dict[str, Any]]:
    """The sensitivity table as summary.json holds it."""
    return sensitivity(table, flag).to_dict(orient="records")
