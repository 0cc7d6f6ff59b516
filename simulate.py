"""trialsim's command line: `python simulate.py scenario=pain_services key=value ...`."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from trialsim.app import run
from trialsim.cli import fail, preflight
from trialsim.config import register_configs
from trialsim.errors import ConfigError
from trialsim.report import result_table

CONF_DIR = Path(__file__).resolve().parent / "conf"
register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = run(cfg, out_dir)
    except ConfigError as ex:
        fail(str(ex))
    if cfg.output.print_table:
        print(result_table(summary))
        print(f"  results in {out_dir}")


if __name__ == "__main__":
    error = preflight(sys.argv[1:], CONF_DIR)
    if error:
        fail(error)
    main()
