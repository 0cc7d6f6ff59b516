"""Sweeps with `-m`: sweep_summary.csv lists every job, failed ones with their error."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
from conftest import ROOT


def sweep(tmp_path, *args):
    return subprocess.run(
        [sys.executable, str(ROOT / "simulate.py"), "-m", f"hydra.sweep.dir={tmp_path}",
         "replications=6", "output.charts=false", "output.print_table=false", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        # submitit's workers unpickle the job: they need trialsim importable from anywhere
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_two_point_sweep_with_a_failing_job_lists_all_jobs(tmp_path):
    proc = sweep(tmp_path, "scenario=pain_services", "sites.pain_services.count=4,8",
                 "trial.target_n=2,100")
    assert proc.returncode == 0, proc.stderr
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


def test_a_reused_sweep_directory_reports_the_new_results(tmp_path):
    assert sweep(tmp_path, "sites.pain_services.count=4").returncode == 0
    assert sweep(tmp_path, "sites.pain_services.count=4", "trial.target_n=2").returncode == 0
    table = pd.read_csv(tmp_path / "sweep_summary.csv")
    assert list(table["status"]) == ["failed"]


def test_submitit_local_launcher_runs_a_sweep(tmp_path):
    proc = sweep(tmp_path, "hydra/launcher=submitit_local", "sites.pain_services.count=4,6")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "sweep_summary.csv")
    assert list(table["status"]) == ["ok", "ok"]
    assert sorted(table["sites.pain_services.count"]) == [4, 6]
