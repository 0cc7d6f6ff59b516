"""Hydra callback: one table of results for a whole sweep (`-m`), and resumable sweeps.

At the start of a multirun it lists the sweep's jobs (Hydra's basic sweeper's cross
product, in job-number order) in `sweep.json` in the sweep directory; a directory
already used by a sweep is refused, unless `resume=true` and it holds the same jobs,
when jobs already complete for the same resolved config (config hash) are skipped.
`sweep_summary.csv` lists exactly those jobs, one row each, with its overrides as
columns, its key results and `status`: ok, failed (with `error`), cancelled, timed_out
or unknown (cluster, with the scheduler's `error`), incomplete (started, no result: a
killed run) or not_started. It is rewritten after every job, when the sweep is
interrupted by a signal, and at the end, when the sweep exits non-zero if any job is
not ok. `python -m trialsim.experiments.sweep DIR` rebuilds it by hand. Every job
uses the same seed (common random numbers).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from trialsim.experiments.cluster import read_status
from trialsim.provenance import PROVENANCE
from trialsim.reporting import keys

ERROR_FILE = "error.json"
SWEEP_SUMMARY = "sweep_summary.csv"
MANIFEST = "sweep.json"
EXIT_INTERRUPTED = 130
EXIT_NOT_OK = 1

KEY_RESULTS = {  # sweep_summary.csv column: its name in trialsim.reporting.keys
    "prob_target_by_end": "prob_target",
    "prob_target_at_pilot_rates": "prob_target_at_pilot_rates",
    "months_to_target_p50": "months_to_target_p50",
    "months_to_target_p90": "months_to_target_p90",
    "randomised_mean": "randomised_mean",
    "power_primary": "power_primary",
    "power_primary_mc_se": "power_primary_mc_se",
    "power_primary_if_target_reached": "power_primary_if_reached",
    "power_secondary": "power_secondary",
    "assurance_joint": "assurance_joint",
    "mean_wait_days": "mean_wait_days",
    "p90_wait_days": "p90_wait_days",
    "analysed_ips": "analysed_ips",
    "analysed_tau": "analysed_tau",
    "bias": "bias",
    "coverage": "coverage",
}


def sweep_jobs(config: DictConfig) -> list[list[str]]:
    """The overrides of every job of this sweep, by job number (the basic sweeper's
    order, which the joblib and submitit launchers keep)."""
    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    parsed = OverridesParser.create().parse_overrides(
        [*params, *[str(o) for o in config.hydra.overrides.task]])
    return task_jobs(parsed)


def task_jobs(parsed: list[Any]) -> list[list[str]]:
    """Jobs from parsed overrides, leaving out Hydra's own and `resume` (which says how
    to run the sweep, not what it is)."""
    task = [p for p in parsed if not p.key_or_group.startswith("hydra")
            and p.key_or_group.lstrip("+~") != "resume"]
    return [job for batch in BasicSweeper.split_arguments(task, None) for job in batch]


def completed_hash(job_dir: Path) -> str | None:
    """The config hash of a job's complete results, or None if it has none."""
    if not ((job_dir / "summary.json").exists() or (job_dir / "design.json").exists()):
        return None
    try:
        return json.loads((job_dir / PROVENANCE).read_text()).get("config_hash")
    except (OSError, ValueError):
        return None


def job_row(job_dir: Path, num: int | None = None, overrides: list[str] | None = None,
            sweep_dir: Path | None = None) -> dict[str, Any]:
    if overrides is None:
        overrides = [str(o) for o in OmegaConf.load(job_dir / ".hydra" / "overrides.yaml")]
    row: dict[str, Any] = {"job": job_dir.name if num is None else num,
                           "overrides": " ".join(overrides)}
    for o in overrides:
        key, _, value = o.partition("=")
        row[key.lstrip("+~")] = re.sub(r"\\(.)", r"\1", value)  # Hydra's escapes: 1\:2 is 1:2
    summary, error = job_dir / "summary.json", job_dir / ERROR_FILE
    design = job_dir / "design.json"
    scheduler = read_status(sweep_dir, num) if sweep_dir is not None and num is not None \
        else None
    if design.exists() and not summary.exists():
        data = json.loads(design.read_text())
        row["status"] = "ok"
        row["design_target_n"] = data.get("target_n")
        for key, value in (data.get("recommended") or {}).items():
            row[f"design_{key}"] = value
    elif summary.exists():
        data = json.loads(summary.read_text())
        row["status"] = "ok"
        row.update({col: keys.get(data, name) for col, name in KEY_RESULTS.items()})
    elif error.exists():
        row["status"], row["error"] = "failed", json.loads(error.read_text())["error"]
    elif scheduler is not None:
        row["status"], row["error"] = scheduler["status"], scheduler["reason"]
    elif (job_dir / ".hydra").is_dir():
        row["status"] = "incomplete"
    else:
        row["status"] = "not_started"
    return row


def read_manifest(sweep_dir: Path) -> dict[str, Any] | None:
    path = sweep_dir / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def write_manifest(sweep_dir: Path, jobs: list[list[str]], state: str) -> None:
    sweep_dir.mkdir(parents=True, exist_ok=True)
    tmp = sweep_dir / f".{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"jobs": jobs, "state": state}, indent=1) + "\n")
    os.replace(tmp, sweep_dir / MANIFEST)


def write_sweep_summary(sweep_dir: Path) -> pd.DataFrame:
    manifest = read_manifest(sweep_dir)
    if manifest is not None:
        rows = [job_row(sweep_dir / str(num), num, list(job), sweep_dir)
                for num, job in enumerate(manifest["jobs"])]
    else:  # a sweep from before sweep.json: whatever job directories there are
        jobs = sorted((d for d in sweep_dir.iterdir()
                       if (d / ".hydra" / "overrides.yaml").exists()),
                      key=lambda d: (len(d.name), d.name))
        rows = [job_row(d) for d in jobs]
    table = pd.DataFrame(rows)
    tmp = sweep_dir / f".{SWEEP_SUMMARY}.{os.getpid()}.tmp"
    table.to_csv(tmp, index=False)
    os.replace(tmp, sweep_dir / SWEEP_SUMMARY)  # atomic: jobs may finish at once
    return table


def used_by_a_sweep(sweep_dir: Path) -> bool:
    return sweep_dir.is_dir() and any(
        (sweep_dir / name).exists() for name in (MANIFEST, SWEEP_SUMMARY, "multirun.yaml"))


def reuse_problem(sweep_dir: Path, jobs: list[list[str]], resume: bool) -> str | None:
    """Why this sweep may not run in `sweep_dir`, in one line, or None."""
    if not used_by_a_sweep(sweep_dir):
        return None
    if not resume:
        return (f"hydra.sweep.dir={str(sweep_dir)!r} is not allowed: it holds another sweep's "
                "results (choose a new directory, or resume=true to finish the same sweep)")
    manifest = read_manifest(sweep_dir)
    if manifest is None or [list(j) for j in manifest["jobs"]] != jobs:
        return (f"hydra.sweep.dir={str(sweep_dir)!r} is not allowed with resume=true: it holds "
                "a different sweep (other jobs); resume with the same sweep overrides")
    return None


def _counts(table: pd.DataFrame) -> str:
    counts = table["status"].value_counts() if len(table) else {}
    return ", ".join(f"{n} {status}" for status, n in dict(counts).items())


class SweepSummary(Callback):
    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = sweep_jobs(config)
        problem = reuse_problem(sweep_dir, jobs, bool(config.get("resume", False)))
        if problem:
            print(f"trialsim: error: {problem}", file=sys.stderr)
            sys.exit(2)
        write_manifest(sweep_dir, jobs, "running")
        write_sweep_summary(sweep_dir)

        def interrupted(signum: int, frame: Any) -> None:
            write_manifest(sweep_dir, jobs, f"interrupted by signal {signum}")
            table = write_sweep_summary(sweep_dir)
            print(f"trialsim: sweep interrupted by signal {signum}: {_counts(table)}; "
                  f"{sweep_dir / SWEEP_SUMMARY} (finish it with the same command and "
                  "resume=true)", file=sys.stderr)
            os._exit(EXIT_INTERRUPTED)  # noqa: SLF001 - no cleanup may rewrite the table

        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, interrupted)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """Keep the table current after every job, so that a sweep whose launcher dies
        (a killed worker, a cluster time-out) still leaves the finished jobs listed."""
        sweep_dir = Path(config.hydra.sweep.dir)
        if config.hydra.mode == RunMode.MULTIRUN and (sweep_dir / MANIFEST).exists():
            write_sweep_summary(sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        manifest = read_manifest(sweep_dir)
        if manifest is not None:
            write_manifest(sweep_dir, manifest["jobs"], "finished")
        table = write_sweep_summary(sweep_dir)
        from trialsim.reporting.report import build_sweep  # matplotlib: once, at the end

        build_sweep(sweep_dir)  # heatmaps from sweep_summary.csv, even with output.charts=false
        failed = table[table["status"] != "ok"] if len(table) else table
        for _, r in failed.iterrows():
            error = r.get("error")
            error = "" if error is None or (isinstance(error, float) and error != error) \
                else f": {error}"
            print(f"  job {r['job']} {r['status']}{error} [{r['overrides']}]")
        print(f"trialsim: sweep of {len(table)} jobs: {_counts(table)}; "
              f"{sweep_dir / SWEEP_SUMMARY}")
        if len(failed):
            sys.exit(EXIT_NOT_OK)


if __name__ == "__main__":  # rebuild the table by hand: python -m trialsim.experiments.sweep DIR
    print(write_sweep_summary(Path(sys.argv[1])).to_string(index=False))
