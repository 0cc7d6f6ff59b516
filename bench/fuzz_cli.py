"""Hostile-user check of the command line, too slow for the test suite.

For every leaf key of the default config and a set of bad or odd values, run the
preflight (the CLI's compose + validate, in process); every value it accepts is then
simulated for real (`app.run`, 3 replications, into a temporary directory). Counts:
refused cleanly (one line per problem, each naming a key), ran with a valid
summary.json, or anything else (an exception: a bug). Use `--every N` to try every N-th
key only.

    .venv/bin/python bench/fuzz_cli.py --every 1
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import traceback
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trialsim.app import run  # noqa: E402
from trialsim.cli import preflight  # noqa: E402
from trialsim.inputs.compose import prepare_omegaconf  # noqa: E402
from trialsim.inputs.schema import register_configs  # noqa: E402

CONF = ROOT / "conf"
VALUES = ["abc", "-1", "0", "1e12", "nan", "inf", "null", "[1]", "{k:1.5,n:3}", "true"]


def leaves(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, f"{prefix}{k}.")
    else:
        yield prefix[:-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--every", type=int, default=1)
    args = parser.parse_args()
    register_configs()
    prepare_omegaconf()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        base = OmegaConf.to_container(compose("config"), resolve=False)
    keys = sorted(set(leaves(base)))[::args.every]
    counts = {"refused": 0, "ran": 0, "bug": 0}
    for key in keys:
        for value in VALUES:
            overrides = [f"{key}={value}", "replications=3", "output.charts=false"]
            try:
                lines = preflight(overrides, CONF)
                if lines:
                    assert all("\n" not in ln and "=" in ln for ln in lines)
                    counts["refused"] += 1
                    continue
                with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
                    cfg = compose("config", overrides=overrides)
                with tempfile.TemporaryDirectory() as out:
                    run(cfg, Path(out))
                    json.loads((Path(out) / "summary.json").read_text(),
                               parse_constant=lambda c: 1 / 0)
                counts["ran"] += 1
            except Exception:  # noqa: BLE001 - what this script looks for
                counts["bug"] += 1
                print(f"BUG {key}={value}:\n{traceback.format_exc(limit=3)}", file=sys.stderr)
        print(f"{key}: {counts}", flush=True)
    total = sum(counts.values())
    print(f"{len(keys)} keys x {len(VALUES)} values = {total}: {counts['refused']} refused "
          f"in one line per problem, {counts['ran']} ran with a valid summary.json, "
          f"{counts['bug']} exceptions")


if __name__ == "__main__":
    main()
