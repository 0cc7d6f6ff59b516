"""P(target) at the pilot's own rates, beside the headline's, for a plain run.

The headline recruits at new sites' rates, the pilot's times `sites.<kind>.rate_discount`:
the pilot's report calls its circumstances favourable (docs/calibration.md), and a trial
sized on its rates plans on its best case. So that a planner sees what the discount
costs, the same replications (same seeds) are run again with every discount 1: only
recruitment, which is all P(target) needs, so the pass costs a fraction of the run.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import Any

from trialsim.experiments.runner import map_replications
from trialsim.inputs.params import ModelParams
from trialsim.model.trial import engine_for, target_reached


def discounts(params: ModelParams) -> dict[str, float]:
    """Each kind's rate discount, for the kinds the trial has sites of."""
    return {st.name: st.rate_discount for st in params.site_types if st.count}


def at_pilot_rates(params: ModelParams) -> ModelParams:
    """The same parameters with every kind's new sites at the pilot's rates."""
    return dataclasses.replace(params, site_types=tuple(
        dataclasses.replace(st, rate_discount=1.0) for st in params.site_types))


def pilot_rates_summary(params: ModelParams, replications: int, seed: int, n_jobs: int,
                        headline: float) -> dict[str, Any]:
    """P(target) at the pilot's rates and its Monte Carlo SE (the headline's own value,
    not run again, when every discount is 1), and the discounts the headline used."""
    used = discounts(params)
    if all(d == 1.0 for d in used.values()):
        p = headline
    else:
        reached = map_replications(
            partial(target_reached, at_pilot_rates(params), seed,
                    engine=engine_for(replications * params.target_n)),
            replications, n_jobs, label="at the pilot's rates")
        p = sum(reached) / replications
    return {"prob_target_at_pilot_rates": p,
            "prob_target_at_pilot_rates_mc_se": math.sqrt(p * (1 - p) / replications),
            "rate_discount": used}
