"""Hydra's submitit launchers, collecting every job of a sweep finished or not.

Hydra instantiates launchers only from the `hydra_plugins` namespace, so they live here;
what a job's scheduler state means is `trialsim.experiments.cluster.scheduler_status`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as plugin
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf

from trialsim.experiments.cluster import record_status, scheduler_status
from trialsim.run_dirs import register_resolvers

log = logging.getLogger(__name__)
register_resolvers()  # a worker resolves ${trialsim_unique:} in hydra.sweep.dir again


class _Collecting:
    """`launch` as in the plugin, but every job is collected, finished or not."""

    _EXECUTOR: str
    params: dict[str, Any]
    config: Any

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
        job_params = []
        for i, overrides in enumerate(job_overrides):
            idx = initial_job_idx + i
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            job_params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}",
                               Singleton.get_state()))
        jobs = executor.map_array(self, *zip(*job_params, strict=True))
        returns = []
        for (overrides, _, idx, _, _), job in zip(job_params, jobs, strict=True):
            try:
                returns.append(job.results()[0])
                continue
            except Exception as ex:  # noqa: BLE001 - UncompletedJobError, FailedJobError
                status, reason = scheduler_status(job.state, str(ex))
            record_status(sweep_dir, idx, status, reason)
            ret = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
            ret.return_value = None  # listed in sweep_summary.csv; not an exception here
            returns.append(ret)
        return returns


class LocalLauncher(_Collecting, plugin.LocalLauncher):
    pass


class SlurmLauncher(_Collecting, plugin.SlurmLauncher):
    pass
