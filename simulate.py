"""trialsim's command line: `python simulate.py scenario=pain_services key=value ...`."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from trialsim.app import run, validate, warnings_for
from trialsim.cli import preflight, warn, write_failure
from trialsim.errors import EXIT_WRITE_FAILED, ConfigError, ConfigErrors, fail
from trialsim.experiments.cluster import clear_status, record_status
from trialsim.experiments.job_stops import JobStopped, stop_status, stopping_on_sigterm
from trialsim.experiments.sweep import ERROR_FILE, completed_hash
from trialsim.inputs.compose import prepare_omegaconf
from trialsim.inputs.schema import register_configs
from trialsim.provenance import config_hash, remember_command_line, write_provenance
from trialsim.reporting.outputs import write_text_atomic
from trialsim.reporting.terminal import result_table
from trialsim.run_dirs import claim, claimed_by_me, clear_results

CONF_DIR = Path(__file__).resolve().parent / "conf"
register_configs()
prepare_omegaconf()


def _simulate(cfg: DictConfig, out_dir: Path, charts: bool | None = None) -> None:
    """The answer is printed as soon as the results are written, before the figures and
    the report are drawn (published with them when all are done). `charts`: None keeps
    output.charts; a sweep's job passes False unless the command line asked for them."""
    validate(cfg)
    write_provenance(out_dir, cfg)
    for line in warnings_for(cfg):
        warn(line)
    if cfg.mode in ("design", "curve"):  # the modes: trialsim/inputs/validation.py MODES
        if cfg.mode == "design":
            from trialsim.experiments.design import run_design as search
            from trialsim.reporting.design_terminal import design_table as table
        else:
            from trialsim.experiments.curve import run_curve as search
            from trialsim.reporting.design_terminal import curve_table as table

        def tell_design(result: dict) -> None:
            print(table(result))
            print(f"  design.json in {out_dir}", flush=True)

        search(cfg, out_dir, answer=tell_design, charts=charts)
        return
    configured = len(warnings_for(cfg))

    def tell(summary: dict) -> None:
        for line in summary["warnings"][configured:]:
            warn(line)
        if cfg.output.print_table:
            print(result_table(summary))
            print(f"  results in {out_dir}", flush=True)

    run(cfg, out_dir, answer=tell, charts=charts)


def _asked(hc, key: str) -> bool:
    """Whether the command line set `key` (a sweep job's own overrides)."""
    task = getattr(getattr(hc, "overrides", None), "task", None) or ()
    return any(str(o).lstrip("+~").split("=", 1)[0] == key for o in task)


def _charts_asked(hc) -> bool | None:
    """A sweep job draws its figures only if the command line set output.charts (the
    sweep's own heatmaps are drawn once, at its end): None (as configured) if so, else
    False."""
    return None if _asked(hc, "output.charts") else False


def _sweep_job(cfg: DictConfig, out_dir: Path, hc) -> None:
    """One job of a sweep: skipped if already complete (resume), recorded if it fails or
    its scheduler stops it (cancelled, timed out: the job's status file)."""
    num, sweep_dir = int(hc.job.num), Path(hc.sweep.dir)
    clear_status(sweep_dir, num)
    if completed_hash(out_dir) == config_hash(cfg):
        print(f"trialsim: job {num} already complete for this config: skipped")
        return
    if cfg.get("resume", False) is True:
        clear_results(out_dir)  # an earlier attempt's partial files
    if not _asked(hc, "n_jobs"):  # the sweep's jobs share the machine: one core each
        with open_dict(cfg):
            cfg.n_jobs = 1
    try:
        with stopping_on_sigterm():
            claim(out_dir, "hydra.sweep.dir")
            _simulate(cfg, out_dir, charts=_charts_asked(hc))
    except (Exception, JobStopped) as ex:  # a failed point is recorded: the table lists it
        stopped = stop_status(ex)
        if stopped is not None:
            record_status(sweep_dir, num, *stopped)
            print(f"trialsim: error: job {num} {stopped[0]}: {stopped[1]}", file=sys.stderr)
            return
        if isinstance(ex, ConfigErrors):
            message = "; ".join(ex.lines())
        elif isinstance(ex, ConfigError):
            message = str(ex)
        elif isinstance(ex, OSError):
            message = write_failure(ex)
        else:
            message = f"{type(ex).__name__}: {ex}"
        with contextlib.suppress(OSError):  # a full disk: the line below still says why
            write_text_atomic(out_dir / ERROR_FILE, json.dumps({"error": message}) + "\n")
        print(f"trialsim: error: job {num}: {message}", file=sys.stderr)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    if hc.mode == RunMode.MULTIRUN:
        _sweep_job(cfg, out_dir, hc)
        return
    try:
        if not claimed_by_me(out_dir):  # ClaimRunDir has claimed it, unless removed
            claim(out_dir, "hydra.run.dir")
        _simulate(cfg, out_dir)
    except ConfigError as ex:
        fail(str(ex))
    except OSError as ex:  # a full disk, a file made read-only: the results were not
        fail(write_failure(ex), EXIT_WRITE_FAILED)  # published (trialsim.reporting.staging)


if __name__ == "__main__":
    remember_command_line()  # every job of a sweep records this command, not its worker's
    errors = preflight(sys.argv[1:], CONF_DIR)
    if errors:
        fail("\n".join(errors))
    main()
