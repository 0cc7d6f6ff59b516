"""From one replication's records to one flat row of numbers (no pandas here)."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np

from trialsim.analysis.costs import cost_columns
from trialsim.analysis.trial_analysis import analysis_columns
from trialsim.inputs.params import PAIN_SERVICE, PRIMARY_CARE, ModelParams
from trialsim.model.delivery import caseload_peak
from trialsim.model.followup import counted
from trialsim.model.records import IPS, STAGES, TAU, Participant
from trialsim.model.resources import count as count_resources
from trialsim.model.review import Review, review
from trialsim.model.trial import ReplicationResult
from trialsim.reporting import keys
from trialsim.units import DAYS_PER_MONTH, days_to_months


def curve_months(params: ModelParams) -> np.ndarray:
    """Month grid of the recruitment curve: 0, 1, ... up to the end of the window."""
    return np.arange(0, math.ceil(params.window_days / DAYS_PER_MONTH) + 1, dtype=float)


def replication_row(result: ReplicationResult, params: ModelParams,
                    seed: int | None = None, analysed: dict[str, float] | None = None,
                    with_review: bool = True) -> dict[str, float]:
    """`seed`: the run's (the analysis's own random stream, for multiple imputation);
    `analysed`: the trial's analysis columns when made beside other trials'
    (trialsim.analysis.trial_batch); `with_review` False: without the internal pilot's
    review columns."""
    channels = params.channel_names()
    reached = result.close_reason == "target"
    c = result.cohort
    row: dict[str, float] = {
        "rep": result.rep,
        "randomised": len(result.participants),
        "target_reached": int(reached),
        "months_to_target": result.close_day / DAYS_PER_MONTH if reached else math.nan,
        "sites_opened": sum(s.open_day < result.close_day for s in result.sites),
    }
    for arm, mask in ((IPS, c.ips), (TAU, ~c.ips)):
        row[arm] = int(mask.sum())
    for setting, place in ((PRIMARY_CARE, c.primary_care), (PAIN_SERVICE, ~c.primary_care)):
        for arm, mask in ((IPS, c.ips), (TAU, ~c.ips)):
            row[f"{arm}_{setting}"] = int((mask & place).sum())
    counts = result.funnel_counts.tolist()
    for s, stage in enumerate(STAGES):
        row[f"funnel_{stage}"] = sum(per_channel[s] for per_channel in counts)
    for ch, channel in enumerate(channels):
        row[f"randomised_{channel}"] = counts[ch][-1]
        for s, stage in enumerate(STAGES):
            row[f"funnel_{channel}_{stage}"] = counts[ch][s]
    row.update(pathway_metrics(result, params))
    row.update(analysis_columns(result, params.analysis, seed) if analysed is None
               else analysed)
    if with_review and params.progression is not None:
        row.update(review_columns(review(result.cohort, result.waves, result.sites, params)))
    row.update(cost_columns(count_resources(result, params), params.costs,
                            params.screening.call_days))
    return row


def review_columns(r: Review) -> dict[str, float]:
    """The internal pilot's review of one replication: what the committee saw, and the
    rule's verdicts (trialsim.model.review)."""
    row: dict[str, float] = {
        keys.REVIEW_MONTH: days_to_months(r.day),
        keys.REVIEW_RANDOMISED: r.randomised,
        keys.REVIEW_PLANNED: r.planned,
        keys.REVIEW_SITES_OPEN: r.sites_open,
        keys.REVIEW_SITES_PLANNED: r.sites_planned,
        keys.REVIEW_WAVE: r.wave_month,
        **{keys.review_returns(arm): v for arm, v in r.returns.items()},
        **{keys.review_returns_vs_plan(arm): v for arm, v in r.returns_vs_plan.items()},
        keys.REVIEW_IPS_JUDGED: r.ips_judged,
        keys.REVIEW_ATTENDED: r.attended,
        keys.REVIEW_ESW_WAIT: r.esw_wait_days,
    }
    for name, value in r.statistics.items():
        row[keys.review_statistic(name)] = value
    for name, v in r.verdicts.items():
        row[keys.review_verdict(name)] = v
    row[keys.review_verdict(keys.OVERALL)] = r.overall
    return row


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else math.nan


def quantile(x: np.ndarray, q: float) -> float:
    """np.quantile(x, q) (its default, linear method) to the last bit, for a non-empty
    1-D float array without nan: the same order statistics and the same interpolation
    arithmetic, without its tens of microseconds of overhead a call."""
    n = len(x)
    at = (n - 1) * q
    if at >= n - 1:
        return float(x.max())
    lo = math.floor(at)
    t = at - lo
    a, b = np.partition(x, (lo, lo + 1))[lo:lo + 2].tolist()
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def _ratio(count: int, n: int) -> float:
    """A boolean column's mean from its count: what numpy's mean gives, nan if empty."""
    return count / n if n else math.nan


def wave_label(month: float) -> str:
    return f"m{month:g}"


def pathway_metrics(result: ReplicationResult, params: ModelParams) -> dict[str, float]:
    """Delivery, employment, retention and outcome columns of one replication."""
    c = result.cohort
    waves = result.waves
    ips = c.ips
    seen = c.esw >= 0
    # everyone who queued, including those who gave up (their waits cut short)
    waits = c.esw_wait_days[~np.isnan(c.esw_wait_days)]
    d = params.delivery
    places = params.localities * d.esw_per_locality * d.places_per_esw
    utilisation = math.nan
    if seen.any() and math.isfinite(places):
        first, end = c.first_appointment_day[seen], c.support_end_day[seen]
        start, stop = first.min(), end.max()
        if stop > start:
            utilisation = float((end - first).sum() / (places * (stop - start)))
    ot = c.ot_wait_days[~np.isnan(c.ot_wait_days)]
    booklet = c.booklet_wait_days[~np.isnan(c.booklet_wait_days)]
    row: dict[str, float] = {
        "delivery_mean_wait_days": _mean(waits),
        "delivery_p90_wait_days": quantile(waits, 0.9) if len(waits) else math.nan,
        "delivery_max_caseload": caseload_peak(c.esw, c.first_appointment_day,
                                               c.support_end_day),
        "delivery_esw_utilisation": utilisation,
        "delivery_ot_wait_days": _mean(ot),
        "delivery_booklet_wait_days": _mean(booklet),
        "delivery_disengaged": int(c.disengaged.sum()),
        "delivery_gave_up_waiting": int((c.disengaged & ~seen & ips).sum()),
    }
    k12 = waves.months.index(12.0)
    ever = c.first_job_day < c.randomised_day + 12 * DAYS_PER_MONTH
    reported = waves.returned & waves.working  # what the questionnaires show
    at_risk = counted(c, params.follow_up)
    w = len(waves.months)
    # every count below as one column of a boolean matrix, counted per arm in two sums
    # (the means of booleans are these counts over the arm's size, to the last bit)
    flags = np.column_stack([
        waves.working[:, k12], ever, waves.employment_known[:, k12], waves.withdrawn[:, -1],
        reported.any(axis=1), reported, waves.returned[:, k12], at_risk,
        waves.returned & at_risk])
    in_ips = flags[ips].sum(axis=0).tolist()
    in_tau = [a - b for a, b in zip(flags.sum(axis=0).tolist(), in_ips, strict=True)]
    n_ips = int(ips.sum())
    scores = result.rtw_se[:, 1 + k12]
    for arm, mask, n, size in (("ips", ips, in_ips, n_ips), ("tau", ~ips, in_tau,
                                                                 len(ips) - n_ips)):
        working, ever_, known, withdrawn, any_work = n[:5]
        sent, kept = n[6 + w: 6 + 2 * w], n[6 + 2 * w: 6 + 3 * w]
        row[f"employment_m12_{arm}"] = _ratio(working, size)
        row[f"employment_ever_{arm}"] = _ratio(ever_, size)
        row[f"employment_known_m12_{arm}"] = _ratio(known, size)
        row[f"withdrawn_{arm}"] = withdrawn
        row[f"reported_work_any_{arm}"] = any_work
        for k, month in enumerate(waves.months):
            row[f"retention_{arm}_{wave_label(month)}"] = _ratio(kept[k], sent[k])
            row[f"reported_work_{arm}_{wave_label(month)}"] = n[5 + k]
        row[f"complete_m12_{arm}"] = n[5 + w]
        row[f"rtw_se_m12_{arm}"] = _mean(scores[mask])
    o = params.outcome
    row["ips_received_share"] = _ratio(int(result.received.sum()), n_ips)
    # the true ITT effect at 12 months: the effect as received, diluted by non-receipt,
    # plus (pooled centring) what IPS's extra employment adds
    work = o.work_effect * (row["employment_m12_ips"] - row["employment_m12_tau"]) \
        if o.work_effect_centring == "pooled" else 0.0
    row["effect_itt_true"] = o.effect_m12 * _mean(result.effect_share[ips]) + work
    return row


def recruitment_curve(result: ReplicationResult, params: ModelParams) -> np.ndarray:
    """Cumulative number randomised at each month of the grid."""
    days = np.sort(result.cohort.randomised_day)
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
