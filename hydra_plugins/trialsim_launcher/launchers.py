"""Hydra's submitit launchers, collecting every job of a sweep finished or not.

Hydra instantiates launchers only from the `hydra_plugins` namespace, so they live here;
what a job's scheduler state means is `trialsim.experiments.cluster.scheduler_status`.
Three things differ from Hydra's plugin: a resumed sweep (`resume=true`) submits only
the jobs whose results are not complete for their config (the rest are not queued
again); SLURM tasks are followed without accounting too
(`trialsim.experiments.slurm_queue`), and one SLURM no longer knows is listed `unknown`
after a bounded wait; and every job records the user's command in its provenance.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as plugin
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf, open_dict

from trialsim.experiments.cluster import record_status, scheduler_status
from trialsim.experiments.sweep import completed_hash
from trialsim.inputs.compose import prepare_omegaconf
from trialsim.provenance import COMMAND_LINE_ENV, config_hash

log = logging.getLogger(__name__)
prepare_omegaconf()  # a worker resolves ${trialsim_unique:} in hydra.sweep.dir again


def listed_return(overrides: Sequence[str]) -> JobReturn:
    """A job's return that the sweep lists from its files (sweep_summary.csv), not from
    a value here: a job not submitted again, or one the scheduler stopped."""
    ret = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
    ret.return_value = None
    return ret


class _Collecting:
    """`launch` as in the plugin, but every job is collected, finished or not."""

    _EXECUTOR: str
    params: dict[str, Any]
    config: Any
    hydra_context: Any
    command_line: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        if self.command_line:  # in the job: the user's command, even with sbatch --export=NONE
            os.environ[COMMAND_LINE_ENV] = self.command_line
        return super().__call__(*args, **kwargs)  # type: ignore[misc]

    def complete(self, overrides: Sequence[str], idx: int, sweep_dir: Path) -> bool:
        """Whether job `idx` already has complete results for its config (resume=true)."""
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with open_dict(cfg.hydra.job):
            cfg.hydra.job.num = idx
        job_dir = sweep_dir / str(cfg.hydra.sweep.subdir)
        task = copy.deepcopy(cfg)
        with open_dict(task):
            del task["hydra"]
        return completed_hash(job_dir) == config_hash(task)

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit

        assert self.config is not None and len(job_overrides) > 0
        init_keys = {"max_num_timeout", "submitit_folder"}
        init_params = {"folder": self.params["submitit_folder"]}
        if "max_num_timeout" in self.params:
            init_params[f"{self._EXECUTOR}_max_num_timeout"] = self.params["max_num_timeout"]
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init_params)
        baseparams = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{
            k if k in baseparams else f"{self._EXECUTOR}_{k}": v
            for k, v in self.params.items() if k not in init_keys})
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        self.command_line = os.environ.get(COMMAND_LINE_ENV)
        resume = self.config.get("resume", False) is True
        returns: dict[int, JobReturn] = {}
        job_params = []
        for i, overrides in enumerate(job_overrides):
            idx = initial_job_idx + i
            if resume and self.complete(overrides, idx, sweep_dir):
                log.info(f"\t#{idx} : complete: not submitted again")
                returns[idx] = listed_return(overrides)
                continue
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            job_params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}",
                               Singleton.get_state()))
        if resume:
            print(f"trialsim: resume: submitting {len(job_params)} of {len(job_overrides)} "
                  f"jobs ({len(returns)} complete)")
        jobs = executor.map_array(self, *zip(*job_params, strict=True)) if job_params else []
        for (overrides, _, idx, _, _), job in zip(job_params, jobs, strict=True):
            returns[idx] = self.collect(job, overrides, idx, sweep_dir)
        return [returns[initial_job_idx + i] for i in range(len(job_overrides))]

    def collect(self, job: Any, overrides: list[str], idx: int, sweep_dir: Path) -> JobReturn:
        """The job's return, or one listing it with its scheduler's reason."""
        lost = self.follow(job)
        if lost:
            record_status(sweep_dir, idx, *lost)
            return listed_return(overrides)
        try:
            return job.results()[0]
        except Exception as ex:  # noqa: BLE001 - UncompletedJobError, FailedJobError
            status, reason = scheduler_status(job.state, str(ex))
        record_status(sweep_dir, idx, status, reason)
        return listed_return(overrides)

    def follow(self, job: Any) -> tuple[str, str] | None:
        """Wait for the job to end; (status, reason) if its scheduler lost it."""
        job.wait()
        return None


class LocalLauncher(_Collecting, plugin.LocalLauncher):
    pass


class SlurmLauncher(_Collecting, plugin.SlurmLauncher):
    def follow(self, job: Any) -> tuple[str, str] | None:
        from trialsim.experiments import slurm_queue as queue  # submitit: only when used

        job.watcher = queue.shared_watcher()  # sacct, or squeue without accounting
        if queue.wait_for(job):
            return None
        return queue.lost_status(job.job_id, started=job.paths.stdout.exists())
