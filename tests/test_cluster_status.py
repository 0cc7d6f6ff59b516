"""What a cluster job that did not simply finish is listed as, without SLURM: a job's
own stop (SIGTERM: cancelled; submitit's time-limit signal: timed_out), SLURM states
read from squeue when there is no accounting, and a bounded wait for a lost task."""

from __future__ import annotations

import json
import os
import signal
import sys
from types import SimpleNamespace

import pytest
from conftest import ROOT, make_cfg
from submitit.core.utils import UncompletedJobError

from trialsim.experiments import slurm_queue
from trialsim.experiments.cluster import read_status
from trialsim.experiments.job_stops import JobStopped, stop_status, stopping_on_sigterm
from trialsim.experiments.slurm_queue import lost_status, squeue_info, wait_for
from trialsim.provenance import COMMAND_LINE_ENV, command_line

sys.path.insert(0, str(ROOT))
import simulate  # noqa: E402 - the sweep job lives in the script


@pytest.fixture
def in_slurm_job(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "41")
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")


def test_sigterm_in_a_slurm_job_stops_it_and_the_handler_is_restored(in_slurm_job):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(JobStopped), stopping_on_sigterm():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


def test_outside_slurm_sigterm_is_left_alone(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    before = signal.getsignal(signal.SIGTERM)
    with stopping_on_sigterm():
        assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize(("ex", "status", "reason"), [
    (JobStopped("signal SIGTERM"), "cancelled", "SIGTERM from SLURM"),
    (UncompletedJobError("Job not requeued because: timed-out too many times."),
     "timed_out", "hydra.launcher.timeout_min"),
])
def test_a_stop_by_the_scheduler_maps_to_a_status(ex, status, reason):
    got = stop_status(ex)
    assert got is not None and got[0] == status and reason in got[1]


def test_an_error_of_the_run_is_not_a_stop():
    assert stop_status(ValueError("boom")) is None


def sweep_job(tmp_path, monkeypatch, stop):
    """Run simulate.py's sweep job 0 in tmp_path, its simulation replaced by `stop`."""
    monkeypatch.setattr(simulate, "_simulate", lambda cfg, out_dir, **_: stop())
    hc = SimpleNamespace(job=SimpleNamespace(num=0), sweep=SimpleNamespace(dir=str(tmp_path)))
    simulate._sweep_job(make_cfg("replications=2"), tmp_path / "0", hc)
    return read_status(tmp_path, 0)


def test_a_job_at_its_time_limit_is_timed_out_not_failed(tmp_path, monkeypatch):
    def usr2():  # what submitit's handler raises when the job cannot be requeued
        raise UncompletedJobError("Job not requeued because: timed-out too many times.")
    status = sweep_job(tmp_path, monkeypatch, usr2)
    assert status["status"] == "timed_out"
    assert not (tmp_path / "0" / "error.json").exists()


def test_a_cancelled_job_stops_at_sigterm_and_is_listed_cancelled(tmp_path, monkeypatch,
                                                                  in_slurm_job):
    def scancel():
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("ran on after SIGTERM")
    assert sweep_job(tmp_path, monkeypatch, scancel)["status"] == "cancelled"
    assert not (tmp_path / "0" / "error.json").exists()


def test_a_failing_job_is_still_failed(tmp_path, monkeypatch):
    def boom():
        raise ValueError("boom")
    assert sweep_job(tmp_path, monkeypatch, boom) is None
    error = json.loads((tmp_path / "0" / "error.json").read_text())["error"]
    assert error == "ValueError: boom"


def test_squeue_states_without_accounting():
    text = "12_0|COMPLETED\n12_1|CANCELLED\n12_[3-4%2]|PENDING\n13|TIMEOUT"
    info = squeue_info(text, {"12_0", "12_1", "12_2", "12_3", "12_4"})
    states = {k: v["State"] for k, v in info.items()}
    assert states == {"12_0": "COMPLETED", "12_1": "CANCELLED", "12_2": "UNKNOWN",
                      "12_3": "PENDING", "12_4": "PENDING", "13": "TIMEOUT"}


def test_the_watcher_asks_squeue_when_sacct_does_not_answer(monkeypatch):
    calls = []

    def run(cmd, **kwargs):
        calls.append(cmd[0])
        if cmd[0] == "sacct":  # accounting_storage/none
            return SimpleNamespace(returncode=1, stdout="", stderr="accounting disabled")
        return SimpleNamespace(returncode=0, stdout="7_0|CANCELLED\n7_1|RUNNING\n")
    monkeypatch.setattr(slurm_queue.subprocess, "run", run)
    watcher = slurm_queue.QueueWatcher()
    assert watcher.get_state("7_0", mode="force") == "CANCELLED"
    assert watcher.get_state("7_1", mode="force") == "RUNNING"
    assert watcher.get_state("7_2", mode="force") == "UNKNOWN"
    assert watcher.is_done("7_0", mode="cache") and not watcher.is_done("7_1", mode="cache")
    assert calls[0] == "sacct" and set(calls[1:]) == {"squeue"}


class FakeJob:
    """A submitit job whose states come from a list, one per poll."""

    def __init__(self, states):
        self.states = list(states)

    def done(self):
        return self.states[0] in ("COMPLETED", "CANCELLED")

    @property
    def state(self):
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


class Clock:
    def __init__(self, step):
        self.t, self.step = 0.0, step

    def __call__(self):
        self.t += self.step
        return self.t


def test_the_wait_ends_with_the_job_or_after_a_bounded_time_unknown():
    assert wait_for(FakeJob(["PENDING", "RUNNING", "COMPLETED"]), sleep_s=0)
    assert not wait_for(FakeJob(["RUNNING", "UNKNOWN"]), give_up_s=100, sleep_s=0,
                        clock=Clock(10))
    # UNKNOWN that clears (sacct not yet listing a new job) does not count
    job = FakeJob(["UNKNOWN"] * 5 + ["RUNNING"] + ["UNKNOWN"] * 5 + ["CANCELLED"])
    assert wait_for(job, give_up_s=100, sleep_s=0, clock=Clock(10))


def test_a_lost_task_is_cancelled_if_it_never_started_else_unknown():
    assert lost_status("9_2", started=False)[0] == "cancelled"
    status, reason = lost_status("9_2", started=True)
    assert status == "unknown" and "9_2" in reason


def test_provenance_records_the_command_simulate_py_passed_on(monkeypatch):
    user = ["/venv/bin/python", "simulate.py", "-m", "seed=3"]
    monkeypatch.setenv(COMMAND_LINE_ENV, json.dumps(user))
    assert command_line() == user
    monkeypatch.setenv(COMMAND_LINE_ENV, "not json")
    assert command_line()[1:] == sys.argv
