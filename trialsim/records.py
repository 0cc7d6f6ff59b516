"""The small records a replication produces: participants and funnel events.

Results are kept as an event log rather than ad-hoc counters: each funnel event says
how many people (a whole mailshot batch, or one person) reached which stage, where and
when; counts are derived from the log afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

STAGES = ("approached", "responded", "contacted", "eligible", "consented", "randomised")
APPROACHED, RESPONDED, CONTACTED, ELIGIBLE, CONSENTED, RANDOMISED = range(len(STAGES))
IPS, TAU = "ips", "tau"
ARMS = (IPS, TAU)


class FunnelEvent(NamedTuple):
    day: float
    site: int
    channel: str
    stage: int  # index into STAGES
    n: int


@dataclass(slots=True)
class Participant:
    """A randomised participant; later stages of the model add their own fields."""

    id: int
    site: int
    site_type: str
    setting: str
    locality: int
    channel: str
    arm: str
    randomised_day: float
    years_out_of_work: float
