"""Sweeps with `-m`: sweep_summary.csv lists every job of this sweep and only those;
a used directory is refused unless resumed; a killed sweep resumes to the same results;
cluster jobs that did not finish are listed with the scheduler's reason."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import CONF_DIR, ROOT

from trialsim.cli import preflight
from trialsim.experiments.cluster import record_status, scheduler_status
from trialsim.experiments.sweep import write_manifest, write_sweep_summary

BASE = ["replications=6", "output.charts=false", "output.print_table=false"]


def command(sweep_dir, *args):
    return [sys.executable, str(ROOT / "simulate.py"), "-m", f"hydra.sweep.dir={sweep_dir}",
            *BASE, *args]


def sweep(sweep_dir, *args):
    return subprocess.run(
        command(sweep_dir, *args), cwd=sweep_dir.parent, capture_output=True, text=True,
        timeout=600,
        # submitit's workers unpickle the job: they need trialsim importable from anywhere
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_two_point_sweep_with_a_failing_job_lists_all_jobs(tmp_path):
    proc = sweep(tmp_path, "scenario=pain_services", "sites.pain_services.count=4,8",
                 "trial.target_n=2,100")
    assert proc.returncode == 1, proc.stderr  # a job failed: non-zero, after the table
    assert "sweep of 4 jobs: " in proc.stdout
    table = pd.read_csv(tmp_path / "sweep_summary.csv")
    assert len(table) == 4
    assert sorted(table["sites.pain_services.count"]) == [4, 4, 8, 8]
    failed = table[table["status"] == "failed"]
    assert list(failed["trial.target_n"]) == [2, 2]
    assert failed["error"].str.contains("trial.target_n=2").all()
    ok = table[table["status"] == "ok"].set_index("sites.pain_services.count")
    assert ok["prob_target_by_end"].notna().all() and ok["power_primary"].notna().all()
    # common random numbers: more services never recruit fewer in the same replications
    assert ok.loc[8, "randomised_mean"] >= ok.loc[4, "randomised_mean"]
    # the directory is used: a rerun is refused, a different sweep cannot resume into it
    again = sweep(tmp_path, "sites.pain_services.count=4")
    assert again.returncode == 2 and "hydra.sweep.dir" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    other = preflight(["-m", f"hydra.sweep.dir={tmp_path}", *BASE,
                       "sites.pain_services.count=4", "resume=true"], CONF_DIR)
    assert len(other) == 1 and "different sweep" in other[0]
    assert len(pd.read_csv(tmp_path / "sweep_summary.csv")) == 4


def test_a_killed_sweep_resumes_to_the_uninterrupted_results(tmp_path):
    args = ["scenario=pilot", "replications=20", "trial.target_n=20,30,40"]
    killed, full = tmp_path / "killed", tmp_path / "full"
    proc = subprocess.Popen(command(killed, *args), cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (killed / "0" / "summary.json").exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) != 0
    table = pd.read_csv(killed / "sweep_summary.csv")
    assert len(table) == 3 and table.loc[0, "status"] == "ok"
    assert "interrupted" in proc.stderr.read()
    done_before = (killed / "0" / "summary.json").stat().st_mtime_ns

    resumed = sweep(killed, *args, "resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert "job 0 already complete" in resumed.stdout
    assert (killed / "0" / "summary.json").stat().st_mtime_ns == done_before  # not rerun
    assert sweep(full, *args).returncode == 0
    assert list(pd.read_csv(killed / "sweep_summary.csv")["status"]) == ["ok"] * 3
    for job in ("0", "1", "2"):
        assert (killed / job / "summary.json").read_bytes() == \
            (full / job / "summary.json").read_bytes()
        assert (killed / job / "replications.csv").read_bytes() == \
            (full / job / "replications.csv").read_bytes()
    assert len(list(killed.rglob("summary.json"))) == 3


def test_local_submitit_launcher_runs_a_sweep(tmp_path):
    proc = sweep(tmp_path, "hydra/launcher=local", "sites.pain_services.count=4,6")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "sweep_summary.csv")
    assert list(table["status"]) == ["ok", "ok"]
    assert sorted(table["sites.pain_services.count"]) == [4, 6]


def test_a_resumed_submitit_sweep_submits_only_the_jobs_to_run_again(tmp_path):
    """The local executor stands in for SLURM: the same launcher code chooses what to
    submit; every job's provenance has the user's command, not submitit's worker's."""
    args = ["hydra/launcher=local", "scenario=pilot", "trial.target_n=2,20"]
    first = sweep(tmp_path, *args)
    assert first.returncode == 1, first.stderr
    assert list(pd.read_csv(tmp_path / "sweep_summary.csv")["status"]) == ["failed", "ok"]
    prov = json.loads((tmp_path / "1" / "provenance.json").read_text())
    assert prov["command_line"][1:] == command(tmp_path, *args)[1:]
    done_before = (tmp_path / "1" / "summary.json").stat().st_mtime_ns
    resumed = sweep(tmp_path, *args, "resume=true")
    assert resumed.returncode == 1, resumed.stderr
    assert "trialsim: resume: submitting 1 of 2 jobs (1 complete)" in resumed.stdout
    assert (tmp_path / "1" / "summary.json").stat().st_mtime_ns == done_before
    assert len(list((tmp_path / ".submitit").glob("*/*_submitted.pkl"))) == 3  # 2 + 1


def test_slurm_launcher_names_the_settings_it_needs(tmp_path):
    proc = sweep(tmp_path, "hydra/launcher=slurm", "hydra.launcher.account=null",
                 "sites.pain_services.count=4,6")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert [ln.split()[2] for ln in lines] == ["hydra.launcher.partition",
                                               "hydra.launcher.timeout_min"]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("state", "error", "status", "reason"), [
    ("CANCELLED by 1234", "has not produced any output (state: CANCELLED by 1234)",
     "cancelled", "CANCELLED by 1234"),
    ("TIMEOUT", "has not produced any output (state: TIMEOUT)", "timed_out", "time limit"),
    ("FAILED", "UncompletedJobError: Job not requeued because: timed-out too many times.",
     "timed_out", "time limit"),
    ("OUT_OF_MEMORY", "", "failed", "out of memory"),
    ("NODE_FAIL", "", "failed", "NODE_FAIL"),
    ("INTERRUPTED", "", "cancelled", "signal"),
    ("FAILED", "Traceback\nValueError: boom", "failed", "ValueError: boom"),
    # SLURM's warning (USR2) before submitit's handler was installed: timeout_min=1
    ("FAILED", "Job 40_0 (task: 0) with path /x/40_0_0_result.pkl\nhas not produced any "
     "output (state: FAILED)\nError stream produced:\n----------------------------------------"
     "\nsrun: error: vm: task 0: User defined signal 2", "timed_out", "USR2"),
    ("FAILED", "has not produced any output (state: FAILED)\nError stream produced:\n-----\n"
     "srun: error: vm: task 0: Killed", "failed", "srun: error: vm: task 0: Killed"),
])
def test_scheduler_states_map_to_statuses(state, error, status, reason):
    got_status, got_reason = scheduler_status(state, error)
    assert got_status == status and reason in got_reason


def test_the_table_lists_unfinished_cluster_jobs_and_only_this_sweeps_jobs(tmp_path):
    jobs = [["trial.target_n=20"], ["trial.target_n=30"], ["trial.target_n=40"]]
    write_manifest(tmp_path, jobs, "finished")
    record_status(tmp_path, 1, *scheduler_status("CANCELLED by 99", ""))
    (tmp_path / "2" / ".hydra").mkdir(parents=True)
    (tmp_path / "7" / ".hydra").mkdir(parents=True)  # not a job of this sweep
    table = write_sweep_summary(tmp_path)
    assert list(table["status"]) == ["not_started", "cancelled", "incomplete"]
    assert table.loc[1, "error"] == "CANCELLED by 99"
