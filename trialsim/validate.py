"""Run trialsim's validation cases and write docs/validation.md with its figures.

    python -m trialsim.validate                 # every case at full size (make validate)
    python -m trialsim.validate --fast          # the fast subset CI runs (smaller runs)
    python -m trialsim.validate --case erlang --case table8_returns
    python -m trialsim.validate --fast --set follow_up.returns.ips.m12_after_return=0.35

`--set key=value` adds a Hydra override to every config the cases compose: a
deliberately broken parameter must make the validation fail. Exit status 0 when every
judged check passes, 1 when one fails, 2 for bad arguments. Writes the document only
with `--out` (the full run's is committed as docs/validation.md).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from trialsim.experiments.validation import CASES
from trialsim.experiments.validation.core import FAIL, LISTED, Context, Result, case_passed
from trialsim.experiments.validation.document import (
    FIGURE_DIR,
    markdown,
    replay_figure,
    standardised_figure,
)

SEED = 20240601


def run_cases(ctx: Context, ids: Sequence[str] = ()) -> dict[str, list[Result]]:
    chosen = [c for c in CASES if (c.id in ids if ids else (c.fast or not ctx.fast))]
    results = {}
    for case in chosen:
        start = time.perf_counter()
        results[case.id] = case.run(ctx)
        verdict = "pass" if case_passed(results[case.id]) else "FAIL"
        print(f"  {case.id:<24} {verdict}  ({time.perf_counter() - start:.0f} s)",
              file=sys.stderr)
    return results


def write_document(results: dict[str, list[Result]], out: Path, command: str,
                   seconds: float, seed: int) -> Path:
    fig_dir = out.parent / FIGURE_DIR
    fig_dir.mkdir(parents=True, exist_ok=True)
    caption = f"trialsim validation: {command}; seed {seed}."
    figures = []
    if any(r.se > 0 for rs in results.values() for r in rs):
        standardised_figure(results, fig_dir / "checks.png", caption)
        figures.append("checks.png")
    if "replay_counts" in results:
        replay_figure(results["replay_counts"], fig_dir / "pilot_replay.png", caption)
        figures.append("pilot_replay.png")
    out.write_text(markdown(CASES, results, command, seconds, figures))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trialsim.validate",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--fast", action="store_true", help="the fast subset at smaller sizes")
    ap.add_argument("--case", action="append", default=[], choices=[c.id for c in CASES],
                    help="run only this case (repeatable)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a Hydra override added to every case's config")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=None,
                    help="write this Markdown file and its figures beside it")
    args = ap.parse_args(argv)
    command = "python -m trialsim.validate " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    ctx = Context(fast=args.fast, seed=args.seed, overrides=tuple(args.set))
    start = time.perf_counter()
    results = run_cases(ctx, args.case)
    seconds = time.perf_counter() - start
    checks = [r for rs in results.values() for r in rs]
    failed = [r for r in checks if r.status == FAIL]
    listed = sum(r.status == LISTED for r in checks)
    print(f"trialsim validate: {len(checks) - listed - len(failed)} of {len(checks) - listed} "
          f"checks pass, {len(failed)} fail, {listed} listed ({seconds:.0f} s)")
    for r in failed:
        print(f"  FAIL {r.case}: {r.quantity}: expected {r.expected:.4g}, simulated "
              f"{r.simulated:.4g} [{r.low:.4g}, {r.high:.4g}] ({r.rule})")
    if args.out is not None:
        print(f"  written {write_document(results, args.out, command, seconds, args.seed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
