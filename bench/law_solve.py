"""Speed of solving the planner's IPS relative risk into the ESW-supported entry rate
(trialsim.inputs.params.with_supported_entry), which assurance repeats for every
replication: milliseconds per solve on fresh parameter sets (the law's caches defeated
by changing the self-directed rate), and on assurance draws.

    python bench/law_solve.py [solves]
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trialsim.inputs.compose import compose_config  # noqa: E402
from trialsim.inputs.evidence import Rate  # noqa: E402
from trialsim.inputs.params import build_params, with_supported_entry  # noqa: E402
from trialsim.inputs.uncertainty import draw_evidence  # noqa: E402


def _ms(times: list[float]) -> str:
    times = sorted(times)
    return f"median {1000 * times[len(times) // 2]:.1f} ms, max {1000 * times[-1]:.1f} ms"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    params = build_params(compose_config(["uncertainty.mode=pilot"]))
    e = params.employment
    fresh = []
    for i in range(n):
        rate = Rate(e.self_entry_per_day.value * (1 + 0.001 * (i + 1)))
        p = dataclasses.replace(params, employment=dataclasses.replace(
            e, self_entry_per_day=rate))
        start = time.perf_counter()
        with_supported_entry(p)
        fresh.append(time.perf_counter() - start)
    rng = np.random.default_rng(1)
    drawn = []
    for _ in range(n):
        p = draw_evidence(params, rng)
        start = time.perf_counter()
        with_supported_entry(p, strict=False)
        drawn.append(time.perf_counter() - start)
    print(f"with_supported_entry, {n} fresh parameter sets: {_ms(fresh)}")
    print(f"with_supported_entry, {n} assurance draws:      {_ms(drawn)}")


if __name__ == "__main__":
    main()
