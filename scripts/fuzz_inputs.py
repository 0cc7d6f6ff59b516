"""Every key of the composed config with every extreme value, in both site settings: the
full table the suite's fuzz test samples (tests/fuzz_config.py decides each case).

    .venv/bin/python scripts/fuzz_inputs.py [--out table.json]

Prints one line per case that is not a clean refusal naming its key or a completed
one-replication run (a traceback, a hang past 10 s, a refusal naming another key, a
boolean key taking a number, a run that fails), then the counts. Takes some minutes.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from conftest import make_cfg  # noqa: E402
from fuzz_config import EXTREMES, SCENARIOS, decide, leaf_keys  # noqa: E402

MEMORY = 6 << 30  # a case that tries to exhaust memory fails here, not on the machine


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="write every case's outcome as JSON")
    args = ap.parse_args()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    rows = []
    for scenario in SCENARIOS:
        base = make_cfg(f"scenario={scenario}")
        for key in leaf_keys(base):
            for value in EXTREMES:
                o = decide(base, key, value)
                rows.append({"scenario": scenario, "key": key, "value": repr(value),
                             "verdict": o.verdict, "detail": o.detail,
                             "seconds": round(o.seconds, 2)})
                if o.verdict not in ("refused", "ran"):
                    print(f"{scenario} {key}={value!r}: {o.verdict} {o.detail}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=0))
    counts = Counter(r["verdict"] for r in rows)
    keys = len({(r["scenario"], r["key"]) for r in rows})
    slowest = max(r["seconds"] for r in rows)
    print(f"{len(rows)} cases ({keys} scenario keys x {len(EXTREMES)} values): "
          + ", ".join(f"{v} {n}" for v, n in counts.most_common())
          + f"; slowest case {slowest:.2f} s")
    return 0 if set(counts) <= {"refused", "ran"} else 1


if __name__ == "__main__":
    sys.exit(main())
