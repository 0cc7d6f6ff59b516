"""trialsim's command line: `python simulate.py scenario=pain_services key=value ...`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from trialsim.app import run, validate
from trialsim.cli import fail, preflight
from trialsim.errors import ConfigError
from trialsim.experiments.design import design_table, run_design
from trialsim.experiments.sweep import ERROR_FILE
from trialsim.inputs.schema import register_configs
from trialsim.reporting.terminal import result_table

CONF_DIR = Path(__file__).resolve().parent / "conf"
register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    for stale in ("summary.json", "design.json", ERROR_FILE):  # a reused sweep directory
        (out_dir / stale).unlink(missing_ok=True)
    try:
        validate(cfg)
        if cfg.mode == "design":
            print(design_table(run_design(cfg, out_dir)))
            print(f"  design.json in {out_dir}")
            return
        summary = run(cfg, out_dir)
    except Exception as ex:
        if hc.mode != RunMode.MULTIRUN:
            if isinstance(ex, ConfigError):
                fail(str(ex))
            raise
        # in a sweep a failed job is recorded, not fatal: sweep_summary.csv lists it
        message = str(ex) if isinstance(ex, ConfigError) else f"{type(ex).__name__}: {ex}"
        (out_dir / ERROR_FILE).write_text(json.dumps({"error": message}) + "\n")
        print(f"trialsim: error: {message}", file=sys.stderr)
        return
    if cfg.output.print_table:
        print(result_table(summary))
        print(f"  results in {out_dir}")


if __name__ == "__main__":
    error = preflight(sys.argv[1:], CONF_DIR)
    if error:
        fail(error)
    main()
