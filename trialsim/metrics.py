"""From one replication's records to one flat row of numbers (no pandas here)."""

from __future__ import annotations

import math

import numpy as np

from trialsim.model import ReplicationResult
from trialsim.params import SETTINGS, ModelParams
from trialsim.records import ARMS, STAGES
from trialsim.units import DAYS_PER_MONTH


def curve_months(params: ModelParams) -> np.ndarray:
    """Month grid of the recruitment curve: 0, 1, ... up to the end of the window."""
    return np.arange(0, math.ceil(params.window_days / DAYS_PER_MONTH) + 1, dtype=float)


def replication_row(result: ReplicationResult, params: ModelParams) -> dict[str, float]:
    channels = params.channel_names()
    reached = result.close_reason == "target"
    row: dict[str, float] = {
        "rep": result.rep,
        "randomised": len(result.participants),
        "target_reached": int(reached),
        "months_to_target": result.close_day / DAYS_PER_MONTH if reached else math.nan,
        "sites_opened": sum(s.open_day < params.window_days for s in result.sites),
    }
    for arm in ARMS:
        row[arm] = sum(p.arm == arm for p in result.participants)
    for setting in SETTINGS:
        for arm in ARMS:
            row[f"{arm}_{setting}"] = sum(p.arm == arm and p.setting == setting
                                          for p in result.participants)
    stage_by_channel = np.zeros((len(channels), len(STAGES)), dtype=np.int64)
    index = {name: i for i, name in enumerate(channels)}
    for ev in result.funnel:
        stage_by_channel[index[ev.channel], ev.stage] += ev.n
    for s, stage in enumerate(STAGES):
        row[f"funnel_{stage}"] = int(stage_by_channel[:, s].sum())
    for c, channel in enumerate(channels):
        row[f"randomised_{channel}"] = int(stage_by_channel[c, -1])
        for s, stage in enumerate(STAGES):
            row[f"funnel_{channel}_{stage}"] = int(stage_by_channel[c, s])
    return row


def recruitment_curve(result: ReplicationResult, params: ModelParams) -> np.ndarray:
    """Cumulative number randomised at each month of the grid."""
    days = np.sort([p.randomised_day for p in result.participants])
    return np.searchsorted(days, curve_months(params) * DAYS_PER_MONTH, side="right")
