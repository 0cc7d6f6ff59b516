"""A cluster job stopped by its scheduler says why, instead of failing or running on.

Inside a SLURM job submitit ignores SIGTERM (scancel, preemption), so a cancelled job
ran on for SLURM's KillWait and could even finish and be listed ok; and at the
pre-time-limit signal (USR2, `signal_delay_s` before the limit) it raises its own
UncompletedJobError inside the job, which the sweep job used to record as a failure.
`stopping_on_sigterm` turns SIGTERM into `JobStopped`; `stop_status` says what either
means for sweep_summary.csv (status and reason). The job records it itself, so this
needs no SLURM accounting.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class JobStopped(BaseException):  # noqa: N818 - like KeyboardInterrupt: not an error
    """SIGTERM from the scheduler. A BaseException, so no `except Exception` in the
    simulation swallows it."""


def in_slurm_job() -> bool:
    return bool(os.environ.get("SLURM_JOB_ID")) and \
        os.environ.get("SUBMITIT_EXECUTOR") == "slurm"


@contextmanager
def stopping_on_sigterm() -> Iterator[None]:
    """Inside a SLURM job, SIGTERM raises JobStopped (elsewhere: nothing changes)."""
    if not in_slurm_job():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise JobStopped(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stop_status(ex: BaseException) -> tuple[str, str] | None:
    """(status, reason) when `ex` is the scheduler stopping the job, else None. A time
    limit sends submitit's warning signal first, so SIGTERM alone is a cancellation
    (SLURM's controller says only COMPLETING by then, for either)."""
    if isinstance(ex, JobStopped):
        return "cancelled", f"{ex} from SLURM (scancel, or preemption)"
    from submitit.core.utils import UncompletedJobError

    if isinstance(ex, UncompletedJobError):  # raised by submitit's USR2 handler
        return "timed_out", ("reached its time limit: stopped at SLURM's warning signal, "
                             "hydra.launcher.signal_delay_s before hydra.launcher.timeout_min")
    return None
