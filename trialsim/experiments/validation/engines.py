"""The compiled engine against the plain-Python reference (issue 25): the same trials.

The per-participant loops run compiled (numba) in long runs and as plain Python in short
ones and where numba is not installed (trialsim.model.trial.engine_for). Issue 25 asked
that a faster engine agree with the old one in distribution; these give the same values
to the last bit, so the case asks for more: every cell of the replications table (the
recruitment, the pathway, the analyses, the costs and the internal pilot's review of
each trial) equal between the engines, on the default scenario, the design search's
recommended design and the pilot scenario (whose allocation rule keeps recruitment in
Python: delivery's pass alone is compiled there).
"""

from __future__ import annotations

import numpy as np

from trialsim.experiments.runner import run_replications
from trialsim.experiments.validation.core import FAIL, PASS, Case, Context, Result
from trialsim.model.trial import ENGINE

CASE = "engines_agree"
# name, overrides, replications (full, fast)
CONFIGS = (
    ("default scenario", (), (1000, 40)),
    ("the design search's recommendation (N 750, 5 half-time ESWs a locality, 39 pain "
     "services, 48 months)",
     ("trial.target_n=750", "delivery.esw.per_locality=5", "delivery.esw.fte=0.5",
      "sites.pain_services.count=39", "trial.recruitment_months=48"), (300, 10)),
    ("pilot scenario", ("scenario=pilot",), (1000, 40)),
)


def differing_cells(a, b) -> int:
    """Cells of two tables that differ (NaN equal to NaN), or every cell if their columns
    or dtypes differ."""
    if list(a.columns) != list(b.columns) or list(a.dtypes) != list(b.dtypes) or \
            a.shape != b.shape:
        return max(a.size, b.size)
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    return int(np.sum((x != y) & ~(np.isnan(x) & np.isnan(y))))


def engines_agree(ctx: Context) -> list[Result]:
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
        out.append(Result(CASE, f"{name}: cells of the replications table that differ "
                                f"(of {t.size})", 0.0, float(bad), 0.0, 0.0,
                          PASS if bad == 0 else FAIL, "equal to the last bit", note))
    return out


GROUP = "The compiled engine"
CASES = [Case(CASE, GROUP, "every replication's row, compiled against the plain-Python "
              "reference, on the default, the recommended design and the pilot",
              engines_agree)] if ENGINE == "compiled" else []
