"""The replication row's own arithmetic (trialsim.reporting.tables)."""

from __future__ import annotations

import numpy as np

from trialsim.reporting.tables import quantile


def test_quantile_equals_numpys_linear_quantile_to_the_last_bit():
    # the replication row takes the 90th centile of the waits with it, not np.quantile
    rng = np.random.default_rng(9)
    for i in range(3000):
        n = int(rng.integers(1, 300))
        x = rng.exponential(20.0, n) if i % 2 else np.round(rng.uniform(0.0, 30.0, n))
        for q in (0.9, 0.5, 0.05, 0.95, 1.0, 0.0):
            assert quantile(x, q) == float(np.quantile(x, q))
