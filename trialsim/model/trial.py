"""One simulated trial: a model built fresh for each replication."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from trialsim.inputs.params import ModelParams
from trialsim.inputs.uncertainty import STREAM, sample_params
from trialsim.model.delivery import Delivery
from trialsim.model.followup import Waves, follow_up
from trialsim.model.outcomes import rtw_self_efficacy
from trialsim.model.records import IPS, FunnelEvent, Participant
from trialsim.model.recruitment import Recruitment
from trialsim.model.sites import Site
from trialsim.model.streams import Streams


@dataclass(frozen=True)
class ReplicationResult:
    rep: int
    close_reason: str  # "target" or "window"
    close_day: float
    sites: tuple[Site, ...]
    participants: tuple[Participant, ...]
    funnel: tuple[FunnelEvent, ...]
    waves: Waves
    rtw_se: np.ndarray  # (participants, 1 + waves): baseline then each wave


def simulate_replication(params: ModelParams, seed: int, rep: int) -> ReplicationResult:
    """Run replication `rep` from its own streams; nothing is shared between runs.

    With `params.uncertainty`, the replication first draws its own parameters from
    their pilot evidence (assurance). The SimPy run goes on after recruitment closes
    until every participant's pathway has ended; follow-up and outcomes are then drawn
    from the recorded pathways."""
    streams = Streams(seed, rep)
    if params.uncertainty is not None:
        params = sample_params(params, streams[STREAM])
    env = simpy.Environment()
    recruitment = Recruitment(env, params, streams)
    delivery = Delivery(env, params, streams, recruitment.coordinator)
    recruitment.on_randomised = delivery.start
    recruitment.start()
    env.run()
    people = recruitment.participants
    waves = follow_up(people, params.follow_up, streams["follow_up"])
    d = params.delivery
    scores = rtw_self_efficacy(
        ips=np.array([p.arm == IPS for p in people], dtype=bool),
        esw=np.array([p.esw for p in people], dtype=int),
        working=waves.working, months=waves.months, o=params.outcome,
        n_esw=params.localities * d.esw_per_locality, rng=streams["outcome"])
    return ReplicationResult(
        rep=rep,
        close_reason=recruitment.closed.value,
        close_day=recruitment.close_day,
        sites=tuple(recruitment.sites),
        participants=tuple(people),
        funnel=tuple(recruitment.funnel),
        waves=waves,
        rtw_se=scores,
    )
