"""Speed of the model, measured here rather than in timed tests.

Prints milliseconds per replication for each scenario, and checks the hot-path promise
that a run's cost does not grow with the number of mailshot packs: 100 times more packs
with a 100 times smaller reply probability gives the same number of repliers and
should take about the same time.

    python bench/benchmark.py [replications]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trialsim.experiments.runner import run_replications  # noqa: E402
from trialsim.inputs.params import build_params  # noqa: E402
from trialsim.inputs.schema import register_configs  # noqa: E402


def per_replication_ms(overrides: list[str], reps: int) -> tuple[float, float]:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    params = build_params(cfg)
    start = time.perf_counter()
    rows = run_replications(params, reps, seed=1).replications
    return 1000 * (time.perf_counter() - start) / reps, float(rows["funnel_responded"].mean())


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    register_configs()
    cases = {
        f"scenario={s}": [f"scenario={s}"]
        for s in ("pilot", "pain_services", "primary_care", "mixed")
    }
    base = ["scenario=primary_care", "trial.target_n=100000"]
    cases["mailshot x1 packs"] = base
    cases["mailshot x100 packs"] = base + ["sites.gp_practices.mailshot.packs_per_1000=508.5",
                                           "sites.gp_practices.mailshot.reply={k:62,n:101700}"]
    print(f"{'case':28s} {'ms/replication':>15s} {'responders':>11s}")
    for name, overrides in cases.items():
        ms, responders = per_replication_ms(overrides, reps)
        print(f"{name:28s} {ms:15.1f} {responders:11.1f}")


if __name__ == "__main__":
    main()
