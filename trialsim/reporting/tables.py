"""From one replication's records to one flat row of numbers (no pandas here)."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np

from trialsim.analysis.trial_analysis import analysis_columns
from trialsim.inputs.params import SETTINGS, ModelParams
from trialsim.model.delivery import caseload_peak
from trialsim.model.followup import counted
from trialsim.model.records import ARMS, IPS, STAGES, Participant
from trialsim.model.trial import ReplicationResult
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
        "sites_opened": sum(s.open_day < result.close_day for s in result.sites),
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
    row.update(pathway_metrics(result, params))
    row.update(analysis_columns(result, params.analysis))
    return row


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else math.nan


def wave_label(month: float) -> str:
    return f"m{month:g}"


def pathway_metrics(result: ReplicationResult, params: ModelParams) -> dict[str, float]:
    """Delivery, employment, retention and outcome columns of one replication."""
    people = result.participants
    waves = result.waves
    ips = np.array([p.arm == IPS for p in people], dtype=bool)
    seen = [p for p in people if p.esw >= 0]
    # everyone who queued, including those who gave up (their waits cut short)
    waits = np.array([p.esw_wait_days for p in people if not math.isnan(p.esw_wait_days)])
    spans = [(p.first_appointment_day, p.support_end_day) for p in seen]
    d = params.delivery
    places = params.localities * d.esw_per_locality * d.caseload
    utilisation = math.nan
    if spans and math.isfinite(places):
        start, end = min(s for s, _ in spans), max(e for _, e in spans)
        if end > start:
            utilisation = sum(e - s for s, e in spans) / (places * (end - start))
    ot = np.array([p.ot_wait_days for p in people if not math.isnan(p.ot_wait_days)])
    booklet = np.array([p.booklet_wait_days for p in people
                        if not math.isnan(p.booklet_wait_days)])
    row: dict[str, float] = {
        "delivery_mean_wait_days": _mean(waits),
        "delivery_p90_wait_days": float(np.quantile(waits, 0.9)) if len(waits) else math.nan,
        "delivery_max_caseload": caseload_peak(list(people)),
        "delivery_esw_utilisation": utilisation,
        "delivery_ot_wait_days": _mean(ot),
        "delivery_booklet_wait_days": _mean(booklet),
        "delivery_disengaged": sum(p.disengaged for p in people),
        "delivery_gave_up_waiting": sum(p.disengaged and p.esw < 0 and p.arm == IPS
                                        for p in people),
    }
    k12 = waves.months.index(12.0)
    horizon_days = np.array([p.randomised_day for p in people]) + 12 * DAYS_PER_MONTH
    ever = np.array([any(s < h for s, _ in p.jobs) for p, h in zip(people, horizon_days,
                                                                     strict=True)], dtype=bool)
    reported = waves.returned & waves.working  # what the questionnaires show
    at_risk = counted(list(people), params.follow_up)
    for arm, mask in (("ips", ips), ("tau", ~ips)):
        row[f"employment_m12_{arm}"] = _mean(waves.working[mask, k12])
        row[f"employment_ever_{arm}"] = _mean(ever[mask])
        row[f"employment_known_m12_{arm}"] = _mean(waves.employment_known[mask, k12])
        row[f"withdrawn_{arm}"] = int(waves.withdrawn[mask, -1].sum())
        row[f"reported_work_any_{arm}"] = int((reported[mask]).any(axis=1).sum())
        for k, month in enumerate(waves.months):
            sent = mask & at_risk[:, k]
            row[f"retention_{arm}_{wave_label(month)}"] = _mean(waves.returned[sent, k])
            row[f"reported_work_{arm}_{wave_label(month)}"] = int(reported[mask, k].sum())
        row[f"complete_m12_{arm}"] = int(waves.returned[mask, k12].sum())
        row[f"rtw_se_m12_{arm}"] = _mean(result.rtw_se[mask, 1 + k12])
    return row


def recruitment_curve(result: ReplicationResult, params: ModelParams) -> np.ndarray:
    """Cumulative number randomised at each month of the grid."""
    days = np.sort([p.randomised_day for p in result.participants])
    return np.searchsorted(days, curve_months(params) * DAYS_PER_MONTH, side="right")


def participant_rows(result: ReplicationResult) -> list[dict]:
    """One tidy row per participant: recruitment, pathway, and each wave."""
    rows = []
    waves = result.waves
    for i, p in enumerate(result.participants):
        row = {"rep": result.rep, **{f: getattr(p, f) for f in PARTICIPANT_FIELDS}}
        row["n_jobs"] = len(p.jobs)
        row["first_job_day"] = p.jobs[0][0] if p.jobs else math.nan
        row["rtw_se_m0"] = result.rtw_se[i, 0]
        for k, month in enumerate(waves.months):
            label = wave_label(month)
            row[f"working_{label}"] = bool(waves.working[i, k])
            row[f"returned_{label}"] = bool(waves.returned[i, k])
            row[f"rtw_se_{label}"] = result.rtw_se[i, 1 + k]
        rows.append(row)
    return rows


PARTICIPANT_FIELDS = [f.name for f in fields(Participant) if f.name != "jobs"]
