"""Assurance: draw a replication's parameters from the pilot evidence behind them.

A proportion kept as k of n is drawn from Beta(k + 1/2, n - k + 1/2) and a rate kept as
events over exposure from Gamma(events + 1/2) / exposure (Jeffreys posteriors); plain
numbers are planning assumptions and stay fixed. The true effect is drawn from
Normal(effect_m12, effect_prior_sd); the IPS employment effect stays the planner's
relative risk, re-solved into the supported entry rate after the draw. The walk over
the frozen parameter tree follows field order, so the draws are reproducible.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from trialsim.inputs.evidence import MAX_RATE, Proportion, Rate
from trialsim.inputs.params import ModelParams, with_supported_entry


def _draw(value: Any, rng: np.random.Generator) -> Any:
    if isinstance(value, Proportion):
        if value.k is None:
            return value
        return dataclasses.replace(
            value, value=float(rng.beta(value.k + 0.5, value.n - value.k + 0.5)))
    if isinstance(value, Rate):
        if value.events is None:
            return value
        per_unit = min(float(rng.gamma(value.events + 0.5)) / value.exposure, MAX_RATE)
        return dataclasses.replace(value, value=value.scale * per_unit)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _draw(getattr(value, f.name), rng) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(_draw(v, rng) for v in value)
    return value


def sample_params(params: ModelParams, rng: np.random.Generator) -> ModelParams:
    """One draw of every parameter that carries pilot evidence, and of the effect, with
    the supported entry rate solved again for the drawn parameters."""
    return with_supported_entry(draw_evidence(params, rng), strict=False)


def draw_evidence(params: ModelParams, rng: np.random.Generator) -> ModelParams:
    """The draws alone (the supported entry rate left as it was)."""
    drawn = _draw(dataclasses.replace(params, uncertainty=None), rng)
    effect = float(rng.normal(params.outcome.effect_m12, params.uncertainty.effect_prior_sd))
    # the employment effect stays the planner's relative risk: sample_params re-solves
    # the supported entry rate for the drawn self-directed, loss and delivery rates
    return dataclasses.replace(drawn, outcome=dataclasses.replace(drawn.outcome,
                                                                  effect_m12=effect))
