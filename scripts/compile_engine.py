"""Compile the model's loops once (trialsim.compiled), so that the first run after an
install does not: `make` runs it after installing. numba caches the compiled code beside
each module; a later run only loads it.

    .venv/bin/python scripts/compile_engine.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trialsim.compiled import AVAILABLE  # noqa: E402
from trialsim.inputs.compose import compose_config  # noqa: E402
from trialsim.inputs.params import build_params  # noqa: E402
from trialsim.model.trial import recruit_only, simulate_pathway  # noqa: E402


def main() -> int:
    if not AVAILABLE:
        print("numba is not installed: the reference engine runs (nothing to compile)")
        return 0
    start = time.perf_counter()
    params = build_params(compose_config([]))
    simulate_pathway(params, 1, 0, engine="compiled")  # every loop, at the types a run uses
    recruit_only(params, 1, 0)
    print(f"trialsim: the model's compiled loops are ready ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
