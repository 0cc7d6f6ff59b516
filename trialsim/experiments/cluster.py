"""Cluster sweeps with submitit that end with a table, not a traceback.

Hydra's submitit launcher collects each job with `job.results()`, which raises for a
job the scheduler cancelled or stopped at its time limit, and the whole sweep ends in
a traceback. These launchers collect every job; a job that did not finish is recorded
in the sweep directory (`.trialsim_status/<num>.json`: status and the scheduler's
reason) for sweep_summary.csv, and a resumed sweep (`resume=true`) reruns it. A job the
scheduler stops while it runs writes that file itself (`job_stops`); the launcher
writes it for a job that left no result (`scheduler_status`, `slurm_queue.lost_status`).
The launchers themselves live in `hydra_plugins/trialsim_launcher` (Hydra accepts
launchers only from its plugin namespace); `conf/hydra/launcher/slurm.yaml` and
`local.yaml` name them.
"""

from __future__ import annotations

import json
from pathlib import Path

STATUS_DIR = ".trialsim_status"


SUBMITIT_LABELS = ("Error stream produced", "No error stream produced", "-----")
KILLED_BY_WARNING = "User defined signal 2"  # srun: a task killed by USR2 (submitit's signal)


def scheduler_status(state: str, error: str) -> tuple[str, str]:
    """(status, reason) of a job that produced no result, from the scheduler's state
    (sacct or squeue for SLURM, the process for the local executor) and submitit's
    error text (which holds the job's stderr)."""
    s = (state or "").strip().upper()
    lines = [ln.strip() for ln in (error or "").splitlines()
             if ln.strip() and not ln.strip().startswith(SUBMITIT_LABELS)]
    first = next((ln for ln in lines if "Error" in ln or "error:" in ln or "requeued" in ln),
                 (lines[0] if lines else "")[:200])
    if s.startswith("CANCELLED"):
        return "cancelled", state.strip()  # e.g. "CANCELLED by 1234"
    if s == "INTERRUPTED":
        return "cancelled", "interrupted (local executor: the job's process got a signal)"
    if s.startswith(("TIMEOUT", "DEADLINE")) or "timed-out" in (error or ""):
        return "timed_out", f"reached its time limit (hydra.launcher.timeout_min); state {state}"
    if KILLED_BY_WARNING in (error or ""):  # the warning came before submitit's handler was up
        return "timed_out", ("stopped by SLURM's time-limit warning (USR2) as it started: "
                             "timeout_min is not above signal_delay_s + 1 minute")
    if s.startswith(("OUT_OF_MEMORY", "OOM")):
        return "failed", "out of memory (raise hydra.launcher.mem_gb)"
    if s.startswith(("NODE_FAIL", "BOOT_FAIL", "PREEMPTED")):
        return "failed", f"scheduler: {state.strip()}"
    return "failed", first or state or "no result"


def record_status(sweep_dir: Path, num: int, status: str, reason: str) -> None:
    folder = sweep_dir / STATUS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{num}.json").write_text(json.dumps({"status": status, "reason": reason}) + "\n")


def clear_status(sweep_dir: Path, num: int) -> None:
    (sweep_dir / STATUS_DIR / f"{num}.json").unlink(missing_ok=True)


def read_status(sweep_dir: Path, num: int) -> dict[str, str] | None:
    path = sweep_dir / STATUS_DIR / f"{num}.json"
    return json.loads(path.read_text()) if path.exists() else None
