"""Writes the datasets of the R-agreement fixtures (tests/fixtures/r/*_data.csv); then
`Rscript scripts/r_fixtures.R` fits them in R and writes R's results next to them.
Seeded: rerunning gives the same files. Run from the repository root."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from trialsim.analysis.multiple_imputation import impute_by_arm

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


def repeated_measures(rng, n, n_esw, icc, extra=True, drop=(0.1, 0.2, 0.3)):
    """n participants, 3 waves, per-wave SDs and correlations, arm-by-wave effects, an
    ESW intercept for IPS participants, missingness depending on baseline (MAR) with
    intermittent gaps; one extra covariate."""
    ips = rng.random(n) < 0.5
    esw = np.where(ips, rng.integers(0, n_esw, n), -1)
    base = rng.normal(20, 5, n)
    cov = rng.normal(0, 1, n) if extra else np.zeros(n)
    sd = np.array([4.0, 4.5, 5.0])
    corr = np.array([[1, 0.6, 0.45], [0.6, 1, 0.6], [0.45, 0.6, 1]])
    chol = np.linalg.cholesky(corr * np.outer(sd, sd))
    u = rng.normal(0, 4.5 * np.sqrt(icc / (1 - icc)), n_esw)
    y = (3 + 0.6 * base[:, None] + 0.8 * cov[:, None] + ips[:, None] * np.array([0.5, 1.0, 1.5])
         + rng.standard_normal((n, 3)) @ chol.T + np.where(ips, u[esw], 0.0)[:, None])
    p = np.array(drop)[None, :] * (1 + 0.5 * (base[:, None] < 20))
    y[rng.random((n, 3)) < p] = np.nan
    return ips, base, cov, esw, y


def repeated_measures_datasets():
    rng = np.random.default_rng(21)
    specs = [(80, 4, 0.05), (150, 4, 0.1), (300, 8, 0.05), (120, 8, 0.0), (200, 16, 0.05),
             (300, 16, 0.02), (60, 4, 0.2), (250, 8, 0.1)]
    with open(OUT / "repeated_measures_data.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "id", "ips", "baseline", "cov", "esw", "y1", "y2", "y3"])
        made = [repeated_measures(rng, n, n_esw, icc) for n, n_esw, icc in specs]
        # hand-made: every wave returned (clients to 4 ESWs in turn); monotone dropout
        # only, the ESWs' mean scores made equal at every wave (the ESW variance at 0)
        ips, base, cov, esw, y = repeated_measures(rng, 80, 4, 0.1, drop=(0, 0, 0))
        esw = np.where(ips, np.cumsum(ips) % 4, -1)
        made.append((ips, base, cov, esw, y))
        ips, base, cov, esw, y = repeated_measures(rng, 120, 4, 0.1, drop=(0, 0, 0))
        stop = rng.choice([1, 2, 3], size=len(y), p=[0.15, 0.2, 0.65])
        y[np.arange(3)[None, :] >= stop[:, None]] = np.nan
        for k in range(4):
            on = ips & (esw == k)
            y[on] -= np.nanmean(y[on], 0) - np.nanmean(y[ips], 0)
        made.append((ips, base, cov, esw, y))
        for k, (ips, base, cov, esw, y) in enumerate(made):
            n = len(y)
            for i in range(n):
                w.writerow([k, i, int(ips[i]), repr(float(base[i])), repr(float(cov[i])),
                            int(esw[i])] + ["NA" if np.isnan(v) else repr(float(v)) for v in y[i]])


def imputation_datasets():
    """Completed datasets from impute_by_arm (m = 5, 20, 2) of simulated trials, the
    original (.imp = 0, NA where missing) first, as mice::as.mids reads them; and
    hand-made per-imputation estimates and variances for pool.scalar (no between-
    imputation variance, m = 2, an infinite complete-data df, large fractions missing)."""
    rng = np.random.default_rng(22)
    with open(OUT / "imputation_completed.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", ".imp", ".id", "ips", "baseline", "working", "y1", "y2", "y3"])
        for k, (n, m) in enumerate([(120, 5), (300, 20), (60, 2), (200, 10)]):
            ips, base, _, _, y = repeated_measures(rng, n, 4, 0.05, extra=False,
                                                   drop=(0.15, 0.25, 0.35))
            working = (rng.random(n) < 0.3 + 0.1 * ips).astype(float)
            done = impute_by_arm(y, ips, np.column_stack([base, working]), m, rng)
            for imp in range(m + 1):
                vals = y if imp == 0 else done[imp - 1]
                for i in range(n):
                    w.writerow([k, imp, i + 1, int(ips[i]), repr(float(base[i])),
                                int(working[i])] +
                               ["NA" if np.isnan(v) else repr(float(v)) for v in vals[i]])
    with open(OUT / "rubin_scalar.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["set", "q", "u", "dfcom"])
        sets = [(rng.normal(1, 0.3, 5), rng.uniform(0.05, 0.1, 5), 97),
                (np.full(4, 0.7), np.full(4, 0.02), 50),  # b = 0
                (np.array([0.2, 1.4]), np.array([0.1, 0.12]), 30),
                (rng.normal(0, 1, 10), rng.uniform(0.01, 0.02, 10), 200),  # lambda near 1
                (rng.normal(0, 0.1, 30), rng.uniform(0.05, 0.06, 30), "Inf")]
        for j, (q, u, dfcom) in enumerate(sets):
            for a, b in zip(q, u, strict=True):
                w.writerow([j, repr(float(a)), repr(float(b)), dfcom])


if __name__ == "__main__":
    partially_nested_datasets()
    repeated_measures_datasets()
    imputation_datasets()
