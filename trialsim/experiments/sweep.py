"""Hydra callback: one table of results for a whole sweep (`-m`).

At the end of a multirun it reads every job directory of the sweep, whatever launcher
ran it (basic, joblib, submitit), and writes `sweep_summary.csv` there: one row per job,
its overrides as columns, its key results, and `status` (ok, failed with its `error`, or
incomplete when the job left no summary). The table is rewritten after every job as
well, and `python -m trialsim.experiments.sweep DIR` rebuilds it by hand. Every job uses the same
seed, so replication r of each sweep point draws the same random numbers (common random
numbers).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from trialsim.reporting.report import build_sweep

ERROR_FILE = "error.json"
SWEEP_SUMMARY = "sweep_summary.csv"

KEY_RESULTS = {  # column: path in summary.json
    "prob_target_by_end": ("recruitment", "prob_target_by_end"),
    "months_to_target_p50": ("recruitment", "months_to_target", "p50"),
    "months_to_target_p90": ("recruitment", "months_to_target", "p90"),
    "randomised_mean": ("recruitment", "randomised", "mean"),
    "power_primary": ("power", "primary"),
    "power_primary_mc_se": ("power", "primary_mc_se"),
    "power_employment": ("power", "employment"),
    "assurance_joint": ("assurance", "joint"),
    "mean_wait_days": ("delivery", "mean_wait_days"),
    "p90_wait_days": ("delivery", "p90_wait_days"),
    "analysed_ips": ("analysed", "ips"),
    "analysed_tau": ("analysed", "tau"),
    "bias": ("estimate", "bias"),
    "coverage": ("estimate", "coverage"),
}


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def job_row(job_dir: Path) -> dict[str, Any]:
    overrides = [str(o) for o in OmegaConf.load(job_dir / ".hydra" / "overrides.yaml")]
    row: dict[str, Any] = {"job": job_dir.name, "overrides": " ".join(overrides)}
    for o in overrides:
        key, _, value = o.partition("=")
        row[key.lstrip("+~")] = value
    summary, error = job_dir / "summary.json", job_dir / ERROR_FILE
    design = job_dir / "design.json"
    if design.exists() and not summary.exists():
        data = json.loads(design.read_text())
        row["status"] = "ok"
        row["design_target_n"] = data.get("target_n")
        for key, value in (data.get("recommended") or {}).items():
            row[f"design_{key}"] = value
    elif summary.exists():
        data = json.loads(summary.read_text())
        row["status"] = "ok"
        row.update({col: _get(data, path) for col, path in KEY_RESULTS.items()})
    elif error.exists():
        row["status"], row["error"] = "failed", json.loads(error.read_text())["error"]
    else:
        row["status"] = "incomplete"
    return row


def write_sweep_summary(sweep_dir: Path) -> pd.DataFrame:
    jobs = sorted((d for d in sweep_dir.iterdir() if (d / ".hydra" / "overrides.yaml").exists()),
                  key=lambda d: (len(d.name), d.name))
    table = pd.DataFrame([job_row(d) for d in jobs])
    tmp = sweep_dir / f".{SWEEP_SUMMARY}.{os.getpid()}.tmp"
    table.to_csv(tmp, index=False)
    os.replace(tmp, sweep_dir / SWEEP_SUMMARY)  # atomic: jobs may finish at once
    return table


class SweepSummary(Callback):
    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """Keep the table current after every job, so that a sweep whose launcher dies
        (a killed worker, a cluster time-out) still leaves the finished jobs listed."""
        sweep_dir = Path(config.hydra.sweep.dir)
        if config.hydra.mode == RunMode.MULTIRUN and sweep_dir.is_dir():
            write_sweep_summary(sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        table = write_sweep_summary(sweep_dir)
        build_sweep(sweep_dir)  # heatmaps from sweep_summary.csv, even with output.charts=false
        failed = table[table["status"] != "ok"] if len(table) else table
        print(f"trialsim: {len(table)} jobs, {len(failed)} not ok; "
              f"{sweep_dir / SWEEP_SUMMARY}")
        for _, r in failed.iterrows():
            print(f"  job {r['job']} {r['status']}: {r.get('error', '')} [{r['overrides']}]")


if __name__ == "__main__":  # rebuild the table by hand: python -m trialsim.experiments.sweep DIR
    print(write_sweep_summary(Path(sys.argv[1])).to_string(index=False))
