"""How many people the configured sites can be expected to randomise, how they split
between the arms (`trial.allocation_ratio`) and so how many each ESW takes on, and how
much work a run is, estimated from the parameters before anything is simulated.

The expectation uses the mean of every random element (frailty mean 1, set-up delay at
its mean, each stage's probability) and a new site's rates (the kind's rate discount,
the ramp-up): it sizes a run and flags implausible targets; it is not a forecast (the
simulation is). The run's size also counts what a replication builds whoever is
recruited (sites, mailshot batches and replies, ESWs): a million sites recruit no more
than the target but still cost a million sites.
"""

from __future__ import annotations

import math

from omegaconf import DictConfig

from trialsim.errors import ConfigError
from trialsim.inputs.params import (
    AUTO,
    HandSearchChannel,
    MailshotChannel,
    ModelParams,
    SiteType,
)
from trialsim.inputs.ramp import expected_days
from trialsim.units import DAYS_PER_MONTH


def _stage_share(ch) -> float:
    s = ch.stages
    return s.contact.value * s.eligible.value * s.consent.value


def _open_days(st: SiteType, i: int, window_days: float) -> float:
    o = st.opening
    start = o.days[i] if o.days is not None else (  # listed days have no set-up delay
        o.first_day + i * o.interval_days + o.setup_delay_mean_days)
    return max(0.0, min(window_days - start, o.active_days))


def expected_randomised(params: ModelParams) -> float:
    """Expected recruits over the whole window if recruitment never stopped at target."""
    total = 0.0
    for st in params.site_types:
        open_days = [_open_days(st, i, params.window_days) for i in range(st.count)]
        site_months = sum(expected_days(d, st.opening.ramp_up_days)
                          for d in open_days) / DAYS_PER_MONTH
        opened = sum(d > 0 for d in open_days)
        for ch in st.channels:
            share = ch.uptake * _stage_share(ch)
            if isinstance(ch, MailshotChannel):
                packs = ch.packs_per_1000 * st.list_size / 1000
                total += share * opened * packs * min(1.0, st.new_site(ch.reply.value))
            elif isinstance(ch, HandSearchChannel):
                days = min(ch.nurse_day_budget, opened * ch.uptake * ch.nurse_days_per_practice)
                total += _stage_share(ch) * days * st.new_site(ch.yield_per_nurse_day.value)
            else:
                total += share * site_months * st.new_site(ch.rate.value)
    return total


def expected_arms(params: ModelParams, n: float | None = None) -> tuple[float, float]:
    """Expected (IPS, TAU) randomised: `n` (by default the target, or the expected
    recruits if fewer) split by `trial.allocation_ratio`. Exact for allocation=blocks
    up to the unfinished last block of each setting; the pilot's deadline rule and
    fixed counts allocate otherwise."""
    if n is None:
        n = min(params.target_n, expected_randomised(params))
    return params.allocation_ratio.expected_counts(n)


def expected_ips_per_esw(params: ModelParams, n: float | None = None) -> float:
    """Expected IPS participants each ESW takes on over the trial (the ESW caseload
    the allocation ratio sets): the IPS arm over every locality's ESWs."""
    esws = params.localities * params.delivery.esw_per_locality
    return expected_arms(params, n)[0] / esws


def mailshot_replies(params: ModelParams) -> float:
    """Replies to every practice's mailshot: drawn in bulk when the packs go out, so they
    are simulated even after the target is reached."""
    total = 0.0
    for st in params.site_types:
        for ch in st.channels:
            if isinstance(ch, MailshotChannel):
                total += (st.count * ch.uptake * ch.packs_per_1000 * st.list_size / 1000
                          * ch.reply.value)
    return total


def structure(params: ModelParams) -> float:
    """What a replication builds whoever is recruited, in participant-sized units: each
    site, each mailshot batch, each ESW and the mailshot replies."""
    sites = sum(st.count * (1 + sum(getattr(ch, "batches", 1) for ch in st.channels))
                for st in params.site_types)
    staff = params.localities * params.delivery.esw_per_locality
    return sites + staff + mailshot_replies(params)


def participant_replications(cfg: DictConfig, params: ModelParams) -> float:
    """Participants simulated over the run: min(target, expected) per replication plus
    its structure (sites, batches, ESWs, mailshot replies), twice with assurance; for a
    design search or a power curve, over its candidates."""
    per_rep = max(1.0, min(params.target_n, expected_randomised(params))) + structure(params)
    runs = 2 if params.uncertainty is not None else 1
    if cfg.mode in ("design", "curve"):
        from trialsim.inputs.design_settings import participant_replications as search

        return search(cfg, per_rep)
    return per_rep * replications(cfg) * runs


def replications(cfg: DictConfig) -> int:
    """The replications a run may use: its count, or with `replications=auto` its cap."""
    if cfg.replications == AUTO:
        return int(cfg.precision.max_replications)
    return int(cfg.replications)


def check_workload(cfg: DictConfig, params: ModelParams) -> None:
    """Refuse a run above `limits.max_participant_replications`, naming the override."""
    limit = int(cfg.limits.max_participant_replications)
    work = participant_replications(cfg, params)
    if work > limit:
        raise ConfigError(
            "limits.max_participant_replications", limit,
            f"a run this size is about {work:.3g} participant-replications "
            f"(replications={_replications_text(cfg)}, target_n={params.target_n}, "
            f"{_structure_text(params)}); lower "
            f"them or allow it with limits.max_participant_replications={math.ceil(work)}")


def _replications_text(cfg: DictConfig) -> str:
    if cfg.replications == AUTO:
        return f"auto, at most precision.max_replications={cfg.precision.max_replications}"
    return str(cfg.replications)


def _structure_text(params: ModelParams) -> str:
    sites = ", ".join(f"sites.{st.name}.count={st.count}" for st in params.site_types)
    return (f"{sites}, trial.localities={params.localities}, about "
            f"{mailshot_replies(params):.3g} mailshot replies")
