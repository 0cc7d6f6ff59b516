"""Assurance: draw a replication's inputs, one draw per distinct piece of evidence.

Every value that carries pilot evidence (counts, or a calibration script's fit) is
drawn from its posterior (trialsim.inputs.predictive); plain numbers are planning
assumptions and stay fixed. A screening funnel whose stages are the same people is
drawn once; a channel's rate or reply whose counts name their pilot sites is drawn as
a new site's rate, over the pilot sites' mean frailty and re-centred on the pooled rate
(trialsim.inputs.predictive), with the site kind's frailty shape drawn first (and used
by every site of the replication); the kind's rate discount multiplies it in the model,
as at the estimates (the drawn values recorded are before the discount); the effect,
the outcome SDs, the within-person correlation and the ESW ICC come from the planner's priors
(trialsim.inputs.priors). Site kinds with no sites and channels no site runs are left
alone: nothing there can move a result. The IPS employment effect stays the planner's
relative risk, re-solved into the supported entry rate after the draw. The three fitted
employment rates (entry, loss, exponent) came from one fit whose estimates are
correlated (`employment.fit_correlation`): they are drawn jointly, each from its own
Gamma by inversion at the uniforms of one correlated normal draw (a Gaussian copula).

Each input draws from its own generator, seeded from the replication's uncertainty
stream and the input's name, so a draw does not depend on which other inputs are drawn.
The names are the config keys (`sites.pain_services.clinics.rate`); a funnel drawn as
one conversion is `<channel>.conversion`; a prior on the SDs is `outcome.sd_scale`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from scipy.special import gammaincinv, ndtr

from trialsim.inputs import predictive as pr
from trialsim.inputs.evidence import MAX_RATE, Estimate, Proportion, Rate
from trialsim.inputs.params import ModelParams, SiteType, Stages, with_supported_entry
from trialsim.inputs.pathway_params import Employment, Outcome, correlation_matrix
from trialsim.inputs.priors import Uncertainty
from trialsim.streams import Streams, stream_key

STREAM = "uncertainty"  # the replication's stream the draws are seeded from
STAGE_NAMES = tuple(f.name for f in dataclasses.fields(Stages))
SKIP = ("site_types", "outcome", "uncertainty")  # drawn by their own rules


class _Draws:
    """Named generators for one replication's draws, and the values drawn."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.entropy = int(rng.integers(2**63))
        self.values: dict[str, float] = {}
        self.uniforms: dict[str, float] = {}  # jointly drawn inputs: their copula's uniforms
        self.pooled = False  # uncertainty.new_site=pooled: no division by the pilot frailty

    def rng(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.entropy, stream_key(name)])

    def record(self, name: str, value: float) -> float:
        self.values[name] = float(value)
        return value


def _name(ev: Any, path: str) -> str:
    return getattr(ev, "key", "") or path


def _evidence(ev: Any, d: _Draws, path: str, shape: float) -> Any:
    """One draw of a proportion, rate or fitted number (itself if it is a plain number);
    counts that name their pilot sites give a new site's value (site kind's `shape`)."""
    name = _name(ev, path)
    if isinstance(ev, Proportion) and ev.k is not None:
        rng = d.rng(name)
        p = pr.jeffreys_proportion(ev.k, ev.n, rng)
        if ev.sites is not None and not d.pooled:
            p = min(1.0, p * pr.new_site_factor(ev.sites, shape, rng))
        return dataclasses.replace(ev, value=d.record(name, p))
    if isinstance(ev, Rate) and ev.events is not None:
        rng = d.rng(name)
        if name in d.uniforms:  # the Gamma(events + 1/2) / exposure quantile
            r = float(gammaincinv(ev.events + 0.5, d.uniforms[name])) / ev.exposure
        else:
            r = pr.jeffreys_rate(ev.events, ev.exposure, rng)
        if ev.sites is not None and not d.pooled:
            r *= pr.new_site_factor(ev.sites, shape, rng)
        r = d.record(name, min(r, MAX_RATE))  # per unit of the evidence (per month)
        return dataclasses.replace(ev, value=ev.scale * r)
    if isinstance(ev, Estimate) and ev.se is not None:
        return dataclasses.replace(ev, value=d.record(name, pr.estimate_draw(ev, d.rng(name))))
    return ev


def _stages(st: Stages, d: _Draws, path: str) -> Stages:
    """Each run of stages that screen the same people drawn once, as its conversion."""
    stages = [getattr(st, n) for n in STAGE_NAMES]
    out = list(stages)
    for run in pr.funnel_runs(stages):
        if len(run) == 1:
            out[run[0]] = _evidence(stages[run[0]], d, f"{path}.{STAGE_NAMES[run[0]]}",
                                    math.inf)
            continue
        members = [stages[i] for i in run]
        channel = (members[0].key.rpartition(".")[0] if members[0].key else path)
        what = "conversion" if len(run) == len(stages) else \
            f"{STAGE_NAMES[run[0]]}_to_{STAGE_NAMES[run[-1]]}"
        name = f"{channel}.{what}"
        q = d.record(name, pr.conversion_draw(members, d.rng(name)))
        for i, value in zip(run, pr.split_conversion(q, members), strict=True):
            out[i] = dataclasses.replace(stages[i], value=value)
    return Stages(*out)


def _walk(obj: Any, d: _Draws, path: str, shape: float = math.inf) -> Any:
    """`obj` with every piece of evidence in it drawn (the same object if none is)."""
    if isinstance(obj, (Proportion, Rate, Estimate)):
        return _evidence(obj, d, path, shape)
    if isinstance(obj, Stages):
        return _stages(obj, d, path)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            new = _walk(value, d, f"{path}.{f.name}", shape)
            if new is not value:
                changes[f.name] = new
        return dataclasses.replace(obj, **changes) if changes else obj
    if isinstance(obj, tuple):
        new = tuple(_walk(v, d, f"{path}[{i}]", shape) for i, v in enumerate(obj))
        return obj if all(a is b for a, b in zip(new, obj, strict=True)) else new
    return obj


def _site_type(st: SiteType, u: Uncertainty, d: _Draws) -> SiteType:
    if st.count == 0:
        return st
    shape = st.frailty_shape
    if math.isfinite(shape) and u.frailty_shape_log_sd > 0:
        name = f"sites.{st.name}.frailty_shape"
        shape = d.record(name, pr.frailty_shape(shape, u.frailty_shape_log_sd, d.rng(name)))
    # a channel that no site runs (round(uptake x count) = 0, trialsim.model.sites) is left
    channels = tuple(
        _walk(ch, d, f"sites.{st.name}.{ch.name}", shape)
        if math.floor(ch.uptake * st.count + 0.5) > 0 else ch for ch in st.channels)
    return dataclasses.replace(st, frailty_shape=shape, channels=channels)


def _outcome(o: Outcome, u: Uncertainty, d: _Draws) -> Outcome:
    changes: dict[str, Any] = {}
    name = "outcome.effect_m12"
    effect = float(d.rng(name).normal(o.effect_m12, u.effect_prior_sd))
    changes["effect_m12"] = d.record(name, effect) if u.effect_prior_sd > 0 else effect
    if math.isfinite(u.outcome_sd_df):
        name = "outcome.sd_scale"
        c = d.record(name, pr.sd_scale(u.outcome_sd_df, d.rng(name)))
        changes["control_sds"] = tuple(c * s for s in o.control_sds)
        changes["ips_sds"] = tuple(c * s for s in o.ips_sds)
    for field, sd in (("within_person_corr", u.within_person_corr_sd),
                      ("esw_icc", u.esw_icc_sd)):
        if sd > 0:
            name = f"outcome.{field}"
            value = pr.beta_mean_sd(getattr(o, field), sd, d.rng(name))
            changes[field] = d.record(name, min(value, 1.0 - 1e-9))  # both are < 1
    return _walk(dataclasses.replace(o, **changes), d, "outcome")


FIT_JOINT = ("employment.self_job_entry_per_month", "employment.job_loss_per_month",
             "employment.self_job_entry_years_exponent")  # the order of fit_correlation


def _joint_uniforms(e: Employment, d: _Draws) -> dict[str, float]:
    """The uniforms at which the fitted employment rates are drawn: Phi of one normal
    draw with the fit's correlations (of those that are fits); none if uncorrelated."""
    rates = (e.self_entry_per_day, e.loss_per_day, e.self_entry_years_exponent)
    fitted = [i for i, r in enumerate(rates) if r.events is not None]
    r = correlation_matrix(e.fit_correlation)[np.ix_(fitted, fitted)]
    if len(fitted) < 2 or np.allclose(r, np.eye(len(fitted))):
        return {}
    name = "employment.fit_joint"
    z = np.linalg.cholesky(r) @ d.rng(name).standard_normal(len(fitted))
    return {FIT_JOINT[i]: float(u) for i, u in zip(fitted, ndtr(z), strict=True)}


def draw_inputs(params: ModelParams,
                rng: np.random.Generator) -> tuple[ModelParams, dict[str, float]]:
    """One draw of every uncertain input, and the drawn values by name (in the units of
    the config: rates per month), the supported entry rate left as it was."""
    u = params.uncertainty
    d = _Draws(rng)
    d.uniforms = _joint_uniforms(params.employment, d)
    d.pooled = u.new_site == "pooled"
    site_types = tuple(_site_type(st, u, d) for st in params.site_types)
    changes = {f.name: _walk(getattr(params, f.name), d, f.name)
               for f in dataclasses.fields(params) if f.name not in SKIP}
    drawn = dataclasses.replace(params, **changes, site_types=site_types,
                                outcome=_outcome(params.outcome, u, d), uncertainty=None)
    return drawn, d.values


def draw_evidence(params: ModelParams, rng: np.random.Generator) -> ModelParams:
    """The draws alone (the supported entry rate left as it was)."""
    return draw_inputs(params, rng)[0]


def sample_params(params: ModelParams, rng: np.random.Generator) -> ModelParams:
    """One draw of every uncertain input, with the supported entry rate solved again
    for the drawn parameters (the employment effect stays the planner's relative risk)."""
    return with_supported_entry(draw_evidence(params, rng), strict=False)


def drawn_inputs(params: ModelParams, seed: int, replications: int) -> list[dict[str, float]]:
    """Each replication's drawn inputs, `rep` first: the very draws
    `trialsim.model.trial.simulate_replication` makes (same stream, same function),
    made again here without simulating, so the table never travels with the results."""
    return [{"rep": rep, **draw_inputs(params, Streams(seed, rep)[STREAM])[1]}
            for rep in range(replications)]


def at_estimates(obj: Any) -> Any:
    """Every piece of evidence as a plain number (its estimate), so that with
    `uncertainty.mode=pilot` nothing but the priors is drawn: the setting in which
    assurance must equal the power averaged over the effect prior (validation)."""
    if isinstance(obj, Proportion):
        return dataclasses.replace(obj, k=None, n=None, sites=None)
    if isinstance(obj, Rate):
        return dataclasses.replace(obj, events=None, exposure=None, sites=None)
    if isinstance(obj, Estimate):
        return dataclasses.replace(obj, se=None)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: at_estimates(getattr(obj, f.name))
                                           for f in dataclasses.fields(obj) if f.init})
    if isinstance(obj, tuple):
        return tuple(at_estimates(v) for v in obj)
    return obj
