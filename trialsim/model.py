"""One simulated trial: a model built fresh for each replication."""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from trialsim.params import ModelParams
from trialsim.records import FunnelEvent, Participant
from trialsim.recruitment import Recruitment
from trialsim.sites import Site
from trialsim.streams import Streams


@dataclass(frozen=True)
class ReplicationResult:
    rep: int
    close_reason: str  # "target" or "window"
    close_day: float
    sites: tuple[Site, ...]
    participants: tuple[Participant, ...]
    funnel: tuple[FunnelEvent, ...]


def simulate_replication(params: ModelParams, seed: int, rep: int) -> ReplicationResult:
    """Run replication `rep` from its own streams; nothing is shared between runs."""
    env = simpy.Environment()
    recruitment = Recruitment(env, params, Streams(seed, rep))
    recruitment.start()
    reason = env.run(until=recruitment.closed)
    return ReplicationResult(
        rep=rep,
        close_reason=reason,
        close_day=recruitment.close_day,
        sites=tuple(recruitment.sites),
        participants=tuple(recruitment.participants),
        funnel=tuple(recruitment.funnel),
    )
