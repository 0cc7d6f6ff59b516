"""SLURM job states with or without accounting, for collecting a sweep's array tasks.

submitit asks `sacct`, which needs SLURM's accounting (slurmdbd). Without it every
state stays UNKNOWN, and a task that ends with no result (cancelled while pending,
killed) kept the sweep waiting for ever. `QueueWatcher` asks `sacct` while it answers
and `squeue --states=all` otherwise (the controller keeps finished jobs there for
MinJobAge, 300 s by default, though not always: a task cancelled while pending is not
listed at all). A task the controller does not list is UNKNOWN, and `wait_for` gives up
on one UNKNOWN for `give_up_s`: nothing more will come of it (a task that ran and ended
would be listed, or have left its result); `lost_status` says what it was.
"""

from __future__ import annotations

import getpass
import subprocess
import time
from typing import Any

from submitit.slurm.slurm import SlurmInfoWatcher

SQUEUE_HEADER = "JobID|State"
POLL_S = 60  # at most this long between two questions to SLURM (submitit's: 600)
GIVE_UP_S = 120  # a task SLURM has not listed for this long is given up on


def sacct_answers() -> bool:
    """Whether `sacct` works here (no: not installed, or accounting storage disabled)."""
    try:
        proc = subprocess.run(["sacct", "-n", "-X", "-o", "JobID", "-S", "now"],
                              capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def squeue_info(text: str, asked: set[str]) -> dict[str, dict[str, str]]:
    """States from `squeue -h -t all -o %i|%T` (array tasks as 12_3, pending ranges as
    12_[4-7%2]); a registered task of an asked array that squeue does not list has
    left the controller: UNKNOWN."""
    watcher = SlurmInfoWatcher()
    info = watcher.read_info("\n".join([SQUEUE_HEADER, *text.splitlines()]))
    return {k: {"JobID": k, "State": v["State"]} for k, v in info.items()} | {
        task: {"JobID": task, "State": "UNKNOWN"} for task in asked if task not in info}


class QueueWatcher(SlurmInfoWatcher):
    """submitit's watcher, falling back to squeue when sacct does not answer."""

    def __init__(self, delay_s: int = POLL_S) -> None:
        super().__init__(delay_s=delay_s)
        self.accounting: bool | None = None  # asked once, at the first update

    def update(self) -> None:
        if self.accounting is None:
            self.accounting = sacct_answers()
        if self.accounting:
            super().update()
            return
        pending = self._registered - self._finished
        if not pending:
            return
        self._num_calls += 1
        try:
            out = subprocess.run(
                ["squeue", "-h", "-t", "all", "-u", getpass.getuser(), "-o", "%i|%T"],
                capture_output=True, text=True, timeout=60, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            pass  # the controller did not answer: states unchanged, asked again later
        else:
            self._info_dict.update(squeue_info(out, pending))
        self._last_status_check = time.time()
        for job_id in pending:
            if self.is_done(job_id, mode="cache"):
                self._finished.add(job_id)


_WATCHER: list[QueueWatcher] = []


def shared_watcher() -> QueueWatcher:
    """One watcher for every task of the sweep: one sacct/squeue call a poll for all."""
    if not _WATCHER:
        _WATCHER.append(QueueWatcher())
    return _WATCHER[0]


def wait_for(job: Any, give_up_s: float = GIVE_UP_S, sleep_s: float = 1.0,
             clock: Any = time.monotonic) -> bool:
    """Wait until submitit's `job` is done (a result, or a final SLURM state): True; or
    False once SLURM has not known it for `give_up_s` on end."""
    unknown_since = None
    while not job.done():
        if job.state.upper() == "UNKNOWN":
            unknown_since = clock() if unknown_since is None else unknown_since
            if clock() - unknown_since >= give_up_s:
                return False
        else:
            unknown_since = None
        time.sleep(sleep_s)
    return True


def lost_status(job_id: str, started: bool) -> tuple[str, str]:
    """(status, reason) of a task SLURM no longer lists and that left no result: one
    that never started was cancelled while pending (nothing else removes it unseen)."""
    if not started:
        return "cancelled", (f"SLURM dropped task {job_id} before it started (scancel while "
                             "pending, of which neither squeue nor sacct keeps a record)")
    return "unknown", (f"task {job_id} left no result and SLURM has not listed it for "
                       f"{GIVE_UP_S} s (killed? see its log in .submitit/)")
