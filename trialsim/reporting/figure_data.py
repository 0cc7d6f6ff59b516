"""What the planning figures need beyond replications.csv, taken from each replication's
records after the run (never inside the simulation), then reduced to small CSVs.

Per replication (`replication_extras`, hot path: numpy only): the expected CONSORT flow
counts, the caseload each locality's ESWs hold at each month (from first appointment to
the end of support), the waits for a caseload place, each channel's cumulative
recruitment and the months the sites opened. `write_figure_data` reduces them over
replications into the run directory's `flow.csv`, `recruitment_bands.csv`,
`site_openings.csv`, `caseload_by_month.csv` and `esw_waits.csv`; the figures and the
report are drawn from those files alone, so they can be rebuilt without simulating.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from trialsim.analysis.trial_analysis import analysed_by
from trialsim.model.records import STAGES
from trialsim.units import DAYS_PER_MONTH, DAYS_PER_WEEK

BANDS = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
WAIT_BIN_WEEKS = 26  # weekly bins of the wait for a caseload place; the last is open
EXTRA_FOLLOW_MONTHS = 24  # caseload grid beyond the window: 12-month follow-up + support


def _label(month: float) -> str:
    return f"m{month:g}"


def flow_counts(result: Any, missing_data: str = "complete_case") -> dict[str, int]:
    """One replication's expected-CONSORT boxes: every parent equals the sum of its
    branches (flow.FLOW lists them). Analysed as the RTW-SE analysis counts them
    (`analysis.missing_data`): complete cases at 12 months, anyone with a wave to 12
    months (repeated measures), or everyone randomised (multiple imputation)."""
    funnel = result.funnel_counts.sum(axis=0).tolist()
    row = {f"{s}": funnel[i] for i, s in enumerate(STAGES)}
    c = result.cohort
    waves = result.waves
    ips = c.ips
    seen = c.esw >= 0
    diseng = c.disengaged
    w = len(waves.months)
    # every box as a column of one boolean matrix, counted per arm in two sums
    flags = np.column_stack([seen, seen & ~diseng, seen & diseng, ~np.isnan(c.booklet_wait_days),
                             waves.withdrawn, waves.returned, ~waves.withdrawn & ~waves.returned])
    n_ips, n_tau = int(ips.sum()), len(ips) - int(ips.sum())
    in_ips = flags[ips].sum(axis=0).tolist()
    in_tau = [a - b for a, b in zip(flags.sum(axis=0).tolist(), in_ips, strict=True)]
    row["ips"], row["tau"] = n_ips, n_tau
    row["ips_seen"] = in_ips[0]
    row["ips_not_seen"] = n_ips - in_ips[0]
    row["ips_engaged"] = in_ips[1]
    row["ips_disengaged_after_assessment"] = in_ips[2]
    row["tau_booklet"] = in_tau[3]
    row["tau_no_booklet"] = n_tau - in_tau[3]
    for k, month in enumerate(waves.months):
        lab = _label(month)
        for arm, n in (("ips", in_ips), ("tau", in_tau)):
            row[f"{arm}_{lab}_withdrawn"] = n[4 + k]
            row[f"{arm}_{lab}_returned"] = n[4 + w + k]
            row[f"{arm}_{lab}_not_returned"] = n[4 + 2 * w + k]
    k12 = waves.months.index(12.0)
    observed = waves.rtw_se_observed()[:, 1:k12 + 2]  # returned, RTW-SE items complete
    scored = analysed_by(missing_data, observed)
    row["ips_analysed"] = int(scored[ips].sum())
    row["tau_analysed"] = int(scored.sum()) - row["ips_analysed"]
    return row


def caseload_by_month(cohort: Any, localities: int, months: np.ndarray) -> np.ndarray:
    """(localities, months): IPS participants holding a caseload place at each month,
    from their first ESW appointment to the end of their support."""
    out = np.zeros((localities, len(months)), dtype=np.int32)
    held = (cohort.esw >= 0) & ~np.isnan(cohort.first_appointment_day)
    if not held.any():
        return out
    t = months * DAYS_PER_MONTH
    end = cohort.support_end_day[held]
    end = np.where(np.isnan(end), np.inf, end)
    # held at month m: first <= t[m] < end, i.e. from the first month on or after the
    # first appointment up to (not including) the first on or after the end
    return _covering(cohort.locality[held] % localities,
                     np.searchsorted(t, cohort.first_appointment_day[held], side="left"),
                     np.searchsorted(t, end, side="left"), out.shape)


def _covering(group: np.ndarray, first: np.ndarray, stop: np.ndarray,
              shape: tuple[int, int]) -> np.ndarray:
    """(groups, months): how many of the month ranges [first, stop) of each group cover
    each month, as running sums of +1 at each first month and -1 at each stop (two
    bincounts, not a participants x months matrix)."""
    n_groups, n_months = shape
    keep = stop > first
    width = n_months + 1
    base = group[keep] * width
    edges = (np.bincount(base + first[keep], minlength=n_groups * width)
             - np.bincount(base + stop[keep], minlength=n_groups * width))
    return np.cumsum(edges.reshape(n_groups, width), axis=1)[:, :n_months].astype(np.int32)


def caseload_months(params: Any) -> np.ndarray:
    return np.arange(0, math.ceil(params.window_days / DAYS_PER_MONTH)
                     + EXTRA_FOLLOW_MONTHS + 1, dtype=float)


def replication_extras(result: Any, params: Any, curve_months: np.ndarray) -> dict[str, Any]:
    """Everything the figures need from one replication, as small numpy arrays."""
    channels = params.channel_names()
    c = result.cohort
    index = {name: i for i, name in enumerate(channels)}
    by_channel = np.zeros((len(channels), len(curve_months)), dtype=np.int32)
    if len(c.ips):  # joined by month m: randomised on or before it
        which = np.array([index[name] for name in c.channel], dtype=int)
        first = np.searchsorted(curve_months * DAYS_PER_MONTH, c.randomised_day, side="left")
        by_channel = _covering(which, first, np.full(len(which), len(curve_months)),
                               by_channel.shape)
    return {
        "flow": flow_counts(result, params.analysis.missing_data),
        "caseload": caseload_by_month(c, params.localities, caseload_months(params)),
        "waits": c.esw_wait_days[~np.isnan(c.esw_wait_days)],
        "channel_curves": by_channel,
        "site_open_months": np.array([s.open_day / DAYS_PER_MONTH for s in result.sites]),
        "site_kinds": tuple(s.key.split("/")[0] for s in result.sites),
        "channels": channels,
        "places_per_locality": params.delivery.esw_per_locality * params.delivery.caseload,
    }


def _quantiles(x: np.ndarray, axis: int = 0) -> dict[str, np.ndarray]:
    return {name: np.quantile(x, q, axis=axis, method="inverted_cdf")
            for name, q in BANDS.items()}


def _write_csv(path: Path, columns: dict[str, Any]) -> None:
    """A plain CSV with fixed number formatting (identical bytes on every rebuild)."""
    names = list(columns)
    n = len(next(iter(columns.values())))
    lines = [",".join(names)]
    for i in range(n):
        cells = []
        for name in names:
            v = columns[name][i]
            if isinstance(v, str):
                cells.append(v)
            elif isinstance(v, (int, np.integer)):
                cells.append(str(int(v)))
            else:
                cells.append("" if not math.isfinite(float(v)) else repr(round(float(v), 6)))
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")


def write_figure_data(out_dir: Path, result: Any) -> None:
    """Reduce a RunResult's per-replication extras to the run directory's small CSVs."""
    extras, curve_months, curves = result.extras, result.curve_months, result.curves
    if not extras:
        return
    channels = extras[0]["channels"]
    localities = extras[0]["caseload"].shape[0]
    capacity = float(extras[0]["places_per_locality"])
    flow_names = list(extras[0]["flow"])
    _write_csv(out_dir / "flow.csv",
               {"rep": list(range(len(extras))),
                **{k: [e["flow"][k] for e in extras] for k in flow_names}})

    bands = _quantiles(curves)
    chan = np.stack([e["channel_curves"] for e in extras])  # (reps, channels, months)
    _write_csv(out_dir / "recruitment_bands.csv",
               {"months": curve_months.tolist(), **{k: v.tolist() for k, v in bands.items()},
                "mean": curves.mean(axis=0).tolist(),
                **{f"mean_{c}": chan[:, i].mean(axis=0).tolist()
                   for i, c in enumerate(channels)}})

    opens = np.stack([e["site_open_months"] for e in extras])  # (reps, sites)
    kinds = extras[0]["site_kinds"]
    _write_csv(out_dir / "site_openings.csv",
               {"site": list(range(opens.shape[1])), "kind": list(kinds),
                "open_month_p50": np.median(opens, axis=0).tolist() if opens.size else [],
                "open_month_p05": (np.quantile(opens, 0.05, axis=0).tolist()
                                   if opens.size else []),
                "open_month_p95": (np.quantile(opens, 0.95, axis=0).tolist()
                                   if opens.size else [])})

    load = np.stack([e["caseload"] for e in extras])  # (reps, localities, months)
    months = np.arange(load.shape[2], dtype=float)
    active = np.nonzero(load.max(axis=(0, 1)) > 0)[0]
    last = int(active[-1]) + 2 if len(active) else 1
    last = min(max(last, len(curve_months)), load.shape[2])
    cols: dict[str, list] = {"locality": [], "month": [], "mean": [],
                             **{k: [] for k in BANDS}, "places": []}
    for loc in range(localities):
        q = _quantiles(load[:, loc, :last])
        for m in range(last):
            cols["locality"].append(loc + 1)
            cols["month"].append(months[m])
            cols["mean"].append(float(load[:, loc, m].mean()))
            for k in BANDS:
                cols[k].append(float(q[k][m]))
            cols["places"].append(capacity)
    _write_csv(out_dir / "caseload_by_month.csv", cols)

    waits = np.concatenate([e["waits"] for e in extras]) if extras else np.array([])
    edges = np.arange(WAIT_BIN_WEEKS + 1) * DAYS_PER_WEEK
    counts = np.histogram(np.minimum(waits, edges[-1] - 1e-9), bins=edges)[0]
    total = max(len(waits), 1)
    _write_csv(out_dir / "esw_waits.csv",
               {"from_days": edges[:-1].tolist(),
                "to_days": [*edges[1:-1].tolist(), math.inf],
                "participants": counts.tolist(),
                "share": (counts / total).tolist()})
