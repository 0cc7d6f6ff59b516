"""The compiled engine against the plain-Python reference (issue 25): the same trials.

The per-participant loops run compiled (numba) in long runs, and as plain Python where
numba is not installed and in short runs of a process that has not loaded the compiled
loops (trialsim.model.trial.engine_for). Issue 25 asked that a faster engine agree with
the old one in distribution; these give the same values to the last bit, so the case
asks for more: every cell of the replications table (the recruitment, the pathway, the
analyses, the costs and the internal pilot's review of each trial) equal between the
engines, bit for bit, on the default scenario, a design of the size the design search
recommends and the pilot scenario (whose allocation rule keeps recruitment in Python:
delivery's pass alone is compiled there). Without numba the case is listed, not run.
"""

from __future__ import annotations

import numpy as np

from trialsim import compiled
from trialsim.experiments.runner import run_replications
from trialsim.experiments.validation.core import FAIL, LISTED, PASS, Case, Context, Result

CASE = "engines_agree"
# name, overrides, replications (full, fast)
CONFIGS = (
    ("default scenario", (), (1000, 40)),
    ("N 750, 5 half-time ESWs a locality, 39 pain services, 48 months",
     ("trial.target_n=750", "delivery.esw.per_locality=5", "delivery.esw.fte=0.5",
      "sites.pain_services.count=39", "trial.recruitment_months=48"), (300, 10)),
    ("pilot scenario", ("scenario=pilot",), (1000, 40)),
)


def _same(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cell by cell, equal to the last bit: floats by their bit patterns (so 0.0 is not
    -0.0), any NaN equal to any NaN; other dtypes by ==."""
    if x.dtype.kind == "f" and x.dtype == y.dtype:
        return (x.view(f"u{x.dtype.itemsize}") == y.view(f"u{y.dtype.itemsize}")) | \
            (np.isnan(x) & np.isnan(y))
    return x == y


def differing_cells(a, b) -> int:
    """Cells of two tables that differ, or every cell if their shapes, columns or dtypes
    differ."""
    if a.shape != b.shape or list(a.columns) != list(b.columns) or \
            list(a.dtypes) != list(b.dtypes):
        return max(a.size, b.size)
    return int(sum(np.sum(~_same(a[c].to_numpy(), b[c].to_numpy())) for c in a.columns))


def engines_agree(ctx: Context) -> list[Result]:
    if not compiled.AVAILABLE:
        return [Result(CASE, "compiled against reference", 0.0, 0.0, 0.0, 0.0, LISTED,
                       "equal to the last bit", "numba not installed: one engine only")]
    out = []
    for i, (name, overrides, (full, fast)) in enumerate(CONFIGS):
        params = ctx.params(overrides)
        reps = ctx.reps(full, fast)
        seed = ctx.seed + 41 + i
        tables = [run_replications(params, reps, seed, figures=False, engine=e).replications
                  for e in ("compiled", "reference")]
        bad = differing_cells(*tables)
        t = tables[0]
        note = (f"{reps} replications, {t.shape[1]} columns each; P(target) "
                f"{t['target_reached'].mean():.3f}, power {t['primary_reject'].mean():.3f}, "
                f"mean randomised {t['randomised'].mean():.1f} under both")
        ran = compiled.loaded()  # numba imported: else its loops ran as Python
        out.append(Result(CASE, f"{name}: cells of the replications table that differ "
                                f"(of {t.size})", 0.0, float(bad), 0.0, 0.0,
                          FAIL if bad else PASS if ran else LISTED, "equal to the last bit",
                          note if ran else note + "; numba failed to import: both in Python"))
    return out


GROUP = "The compiled engine"
CASES = [Case(CASE, GROUP, "every replication's row, compiled against the plain-Python "
              "reference, on the default, a design of the recommended size and the pilot",
              engines_agree)]
