"""Sweeps on a real SLURM (`make test-slurm`; not in `make test`, and skipped where
there is no `sbatch` or no partition TRIALSIM_SLURM_PARTITION, default `debug`): a
task at its time limit is timed_out and a resumed sweep submits only it; a task
cancelled while running is listed cancelled, with or without SLURM accounting."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pandas as pd
import pytest
from test_sweeps import command, sweep

PARTITION = os.environ.get("TRIALSIM_SLURM_PARTITION", "debug")


def partition_up() -> bool:
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-p", PARTITION, "-o", "%a"], capture_output=True,
                             text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "up" in out.split()


pytestmark = [pytest.mark.slurm, pytest.mark.skipif(
    not partition_up(), reason=f"no SLURM here (sbatch, sinfo), or partition {PARTITION} not up")]


def slurm(timeout_min: int) -> list[str]:
    return ["hydra/launcher=slurm", f"hydra.launcher.partition={PARTITION}",
            "hydra.launcher.account=null", f"hydra.launcher.timeout_min={timeout_min}"]


# 40000 replications run for minutes, 6 for seconds. SLURM sends its warning signal
# signal_delay_s before the limit, up to a minute earlier: with the default 120 s and
# timeout_min=1 that can be as a job starts (both jobs then time out); with 30 s and
# timeout_min=2, never in the first 30 s
LONG = ["scenario=pilot", "replications=6,40000"]
WARN_30S = "hydra.launcher.signal_delay_s=30"


def test_a_task_at_its_time_limit_is_timed_out_and_resume_submits_only_it(tmp_path):
    first = sweep(tmp_path, *slurm(2), WARN_30S, *LONG)
    assert first.returncode == 1 and "Traceback" not in first.stderr, first.stderr
    table = pd.read_csv(tmp_path / "sweep_summary.csv")
    assert list(table["status"]) == ["ok", "timed_out"]
    assert "time limit" in table.loc[1, "error"]
    prov = json.loads((tmp_path / "0" / "provenance.json").read_text())
    assert prov["command_line"][1:] == command(tmp_path, *slurm(2), WARN_30S, *LONG)[1:]
    resumed = sweep(tmp_path, *slurm(2), WARN_30S, *LONG, "resume=true")
    assert "resume: submitting 1 of 2 jobs (1 complete)" in resumed.stdout, resumed.stderr
    assert list(pd.read_csv(tmp_path / "sweep_summary.csv")["status"]) == ["ok", "timed_out"]


def test_a_task_cancelled_while_running_is_listed_cancelled(tmp_path):
    proc = subprocess.Popen(command(tmp_path, *slurm(10), *LONG), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300  # a guard against a queue that never starts it
    while not list(tmp_path.glob(".submitit/*_1/*_1_0_log.out")):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.5)
    while not (tmp_path / "1" / "provenance.json").exists():  # the simulation has begun
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.5)
    task = next(tmp_path.glob(".submitit/*_1")).name
    subprocess.run(["scancel", task], check=True)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1 and "Traceback" not in err, err
    table = pd.read_csv(tmp_path / "sweep_summary.csv")
    assert list(table["status"]) == ["ok", "cancelled"]
    assert "SIGTERM" in table.loc[1, "error"]
