"""Time the partially nested REML fit (issue 12, part 2) and check it against the SLSQP fit
it replaced (kept as the test oracle, tests/reml_slsqp_oracle.py).

Datasets: scripts/validate_analysis.py's null trials of the default trial's size (4 ESWs,
about 63 IPS in unequal caseloads + 94 TAU analysed, 3 coefficients), ICC 0 / 0.05 / 0.2
in turn. Prints the CPU time per fit (time.process_time, so that other processes on a
shared machine count less) of both, interleaved, and for 4, 8 and 16 ESWs with every
option (ESW variance unbounded or non-negative, residual variances per arm or equal) how
many fits agree within 1e-6 (estimate and SEs; df and variances relative to
max(|value|, 1)), the largest differences and, where they differ, which fit has the
higher REML likelihood (lower -2 log REML). Also the cost of the closed-form CR2.

    nice -n 10 .venv/bin/python scripts/time_reml.py [--fits 300] [--compare 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from validate_analysis import null_trial

from trialsim.analysis import partially_nested as newton
from trialsim.analysis.cluster_robust import fit_cluster_robust

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import reml_slsqp_oracle as slsqp  # noqa: E402

FIELDS = ("estimate", "se", "se_kr", "df", "s2_ips", "s2_tau", "tau2")
RELATIVE = {"df", "s2_ips", "s2_tau", "tau2"}


def datasets(seed: int, n_esw: int, count: int):
    rng = np.random.default_rng([seed, n_esw])
    out = []
    for i in range(count):
        y, arm, base, esw = null_trial(rng, n_esw, (0.0, 0.05, 0.2)[i % 3], (0.0, 1.0)[i % 2])
        ips = arm.astype(bool)
        cluster = np.where(esw >= 0, esw, -1 - np.arange(len(y)))
        out.append((y, np.column_stack([np.ones(len(y)), ips.astype(float), base]), ips,
                    cluster))
    return out


def cpu_per_fit(fit, data, **kw) -> tuple[float, float]:
    """Mean and median CPU ms per fit."""
    times = []
    for d in data:
        start = time.process_time()
        fit(*d, **kw)
        times.append(time.process_time() - start)
    return float(np.mean(times)) * 1e3, float(np.median(times)) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fits", type=int, default=300)
    ap.add_argument("--compare", type=int, default=100)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    data = datasets(args.seed, 4, args.fits)
    print(f"CPU ms per fit, mean (median), {args.fits} default-size datasets (4 ESWs), ESW "
          "variance unbounded, residual variance per arm; two interleaved rounds:")
    for round_ in (1, 2):
        old = cpu_per_fit(slsqp.fit_partially_nested, data)
        new = cpu_per_fit(newton.fit_partially_nested, data)
        nn = cpu_per_fit(newton.fit_partially_nested, data, nonnegative=True)
        cr2 = cpu_per_fit(fit_cluster_robust, data)
        print(f"  round {round_}: SLSQP (before) {old[0]:.3f} ({old[1]:.3f})   Newton (now) "
              f"{new[0]:.3f} ({new[1]:.3f}), non-negative ESW variance {nn[0]:.3f} "
              f"({nn[1]:.3f})   speed-up {old[0] / new[0]:.1f}x   CR2 (closed form) "
              f"{cr2[0]:.3f} ({cr2[1]:.3f})")
    print(f"\nAgreement with the SLSQP fit, {args.compare} datasets per row "
          "(ICC 0/0.05/0.2, effect 0/1 in turn):")
    for n_esw in (4, 8, 16):
        data = datasets(args.seed + 1, n_esw, args.compare)
        for nonneg in (False, True):
            for equal in (False, True):
                agree, worst, differ, better = 0, dict.fromkeys(FIELDS, 0.0), [], 0
                for i, d in enumerate(data):
                    a = slsqp.fit_partially_nested(*d, equal_variances=equal,
                                                   nonnegative=nonneg)
                    b = newton.fit_partially_nested(*d, equal_variances=equal,
                                                    nonnegative=nonneg)
                    if (a is None) != (b is None) or (a and a.converged != b.converged):
                        differ.append(i)
                        continue
                    if a is None:
                        agree += 1
                        continue
                    # the oracle's df is the expected-information df, now Fit.df_kr (Fit.df
                    # is lmerTest's since issue 20); with nonnegative at tau2 = 0 the oracle
                    # still drops tau2 from KR, which pbkrtest (and now trialsim) keeps
                    gaps = {f: abs(getattr(a, f) - getattr(b, "df_kr" if f == "df" else f)) /
                            (max(abs(getattr(a, f)), 1.0) if f in RELATIVE else 1.0)
                            for f in FIELDS}
                    if max(gaps.values()) <= 1e-6:
                        agree += 1
                        for f, g in gaps.items():
                            worst[f] = max(worst[f], g)
                    else:
                        differ.append(i)
                        model = newton.PartiallyNestedModel(*d)
                        crit = [model.criterion(np.array([f.s2_ips, f.s2_tau, f.tau2]))
                                for f in (a, b)]
                        better += crit[1] <= crit[0] + 1e-9
                print(f"  {n_esw:2d} ESWs, {'tau2 >= 0' if nonneg else 'unbounded'}, "
                      f"{'equal' if equal else 'per-arm'} variances: {agree}/{len(data)} "
                      f"within 1e-6 (largest: estimate {worst['estimate']:.1e}, SE "
                      f"{worst['se']:.1e}, df {worst['df']:.1e}, tau2 {worst['tau2']:.1e})"
                      + (f"; differ: datasets {differ}, the Newton fit's -2 log REML "
                         f"lower or equal in {better}" if differ else ""), flush=True)


if __name__ == "__main__":
    main()
