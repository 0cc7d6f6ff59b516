"""Writes the datasets of the R-agreement fixtures (tests/fixtures/r/*_data.csv); then
`Rscript scripts/r_fixtures.R` fits them in R and writes R's results next to them.
Seeded: rerunning gives the same files. Run from the repository root."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

OUT = Path("tests/fixtures/r")


def partially_nested(rng, n_esw, icc, n_tau, sizes=None, unseen=0, sd=(2.0, 1.6)):
    """Arm, baseline, ESW (-1: IPS never seen by an ESW) and 12-month score; ESW
    caseloads of unequal size, a residual SD per arm."""
    sizes = rng.integers(3, 16, n_esw) if sizes is None else np.asarray(sizes)
    esw = np.concatenate([np.repeat(np.arange(n_esw), sizes), np.full(unseen, -1),
                          np.full(n_tau, -2)])
    ips = esw != -2
    esw = np.where(esw == -2, -1, esw)
    base = rng.normal(20, 5, len(esw))
    u = rng.normal(0, sd[0] * np.sqrt(icc / (1 - icc)), n_esw)
    e = rng.normal(0, 1, len(esw)) * np.where(ips, sd[0], sd[1])
    y = 5 + 1.0 * ips + 0.6 * base + np.where(ips & (esw >= 0), u[esw], 0.0) + e
    return ips, base, esw, y


def partially_nested_datasets():
    rng = np.random.default_rng(20)
    rows = []
    d = 0
    for n_esw in (4, 8, 16):
        for icc in (0.0, 0.05, 0.2):
            for _ in range(4 if n_esw == 4 else 2):
                rows.append((d, *partially_nested(rng, n_esw, icc, int(rng.integers(30, 120)),
                                                  unseen=int(rng.integers(0, 4)))))
                d += 1
    # hand-made: equal caseloads of 3 with no ESW variation in the data (the ESW
    # variance at 0), one ESW of one, equal SDs, many unseen, a large trial
    ips, base, esw, y = partially_nested(rng, 4, 0.0, 20, sizes=(3, 3, 3, 3))
    y[ips] -= np.array([y[ips & (esw == k)].mean() for k in range(4)])[esw[ips]] - 30
    rows.append((d, ips, base, esw, y))
    rows.append((d + 1, *partially_nested(rng, 4, 0.1, 15, sizes=(1, 6, 5, 9))))
    rows.append((d + 2, *partially_nested(rng, 5, 0.1, 40, sd=(2.0, 2.0))))
    rows.append((d + 3, *partially_nested(rng, 6, 0.05, 50, unseen=12)))
    rows.append((d + 4, *partially_nested(rng, 16, 0.05, 150, sizes=np.full(16, 10))))
    with open(OUT / "partially_nested_data.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "ips", "baseline", "esw", "y"])
        for k, ips, base, esw, y in rows:
            for i in range(len(y)):
                w.writerow([k, int(ips[i]), repr(float(base[i])), int(esw[i]), repr(float(y[i]))])


if __name__ == "__main__":
    partially_nested_datasets()
