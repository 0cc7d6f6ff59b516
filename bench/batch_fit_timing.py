"""CPU ms per repeated-measures fit: fit_mmrm one dataset at a time against
fit_mmrm_batch in batches, on default-scenario trials (the ESW term, as the default
partially nested analysis fits it); also the part of it that is model construction
(a dataset's rows for the batch and its start values) and the delta slopes.

    .venv/bin/python bench/batch_fit_timing.py [datasets]

One BLAS thread and CPU time (time.process_time), best of 3, as bench/benchmark.py."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from threadpoolctl import threadpool_limits  # noqa: E402

from trialsim.analysis import delta  # noqa: E402
from trialsim.analysis.repeated_measures import fit_mmrm  # noqa: E402
from trialsim.analysis.repeated_measures_batch import (  # noqa: E402
    _Dataset,
    fit_mmrm_batch,
    mmrm_slopes_batch,
)
from trialsim.analysis.trial_analysis import TrialData, _varying  # noqa: E402
from trialsim.inputs.compose import compose_config  # noqa: E402
from trialsim.inputs.params import build_params  # noqa: E402
from trialsim.model.trial import simulate_replication  # noqa: E402

SEED = 20261206
BATCHES = (10, 25, 50, 100)


def datasets(count: int):
    params = build_params(compose_config(["analysis.missing_data=repeated_measures"]))
    out = []
    for rep in range(count):
        d = TrialData.from_replication(simulate_replication(params, SEED, rep), True)
        out.append((d, (d.rtw_se_waves, d.ips, d.rtw_se_m0, _varying(d.covariates), d.esw)))
    return params, out


def ms_per_item(task, items: int, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        task()
        best = min(best, time.process_time() - start)
    return 1000 * best / items


def in_batches(fn, items, size):
    return [r for i in range(0, len(items), size) for r in fn(items[i:i + size])]


def main(count: int = 100) -> None:
    params, data = datasets(count)
    args = [x for _, x in data]
    n = sum(len(x[1]) for x in args) / len(args)
    print(f"{count} default trials, {n:.0f} randomised on average; CPU ms per dataset")
    with threadpool_limits(limits=1):
        single = ms_per_item(lambda: [fit_mmrm(*x, esw_intercept=True) for x in args], count)
        print(f"{'fit_mmrm, one at a time':32s} {single:7.2f}")
        for size in BATCHES:
            ms = ms_per_item(lambda size=size: in_batches(
                lambda b: fit_mmrm_batch(b, esw_intercept=True), args, size), count)
            print(f"{f'fit_mmrm_batch, batches of {size}':32s} {ms:7.2f}   "
                  f"{single / ms:4.1f}x")
        build = ms_per_item(lambda: [_Dataset(*x, False, True).start() for x in args], count)
        print(f"{'  of which construction, start':32s} {build:7.2f}")
        fits = fit_mmrm_batch(args, esw_intercept=True)
        items = [(delta.shifted(x[1], ~d.analysed_m12, params.analysis.delta_arm), *x[1:],
                  f) for (d, x), f in zip(data, fits, strict=True) if f is not None]
        one = ms_per_item(lambda: [delta.mmrm_slope(*i, waves=3, esw_intercept=True)
                                   for i in items], len(items))
        print(f"{'mmrm_slope, one at a time':32s} {one:7.2f}")
        for size in (25, 50):
            ms = ms_per_item(lambda size=size: in_batches(
                lambda b: mmrm_slopes_batch(b, waves=3, esw_intercept=True), items, size),
                len(items))
            print(f"{f'mmrm_slopes_batch, batches of {size}':32s} {ms:7.2f}   "
                  f"{one / ms:4.1f}x")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
