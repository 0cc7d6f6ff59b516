"""The small records a replication produces: participants and funnel events.

Results are kept as an event log rather than ad-hoc counters: each funnel event says
how many people (a whole mailshot batch, or one person) reached which stage, where and
when; counts are derived from the log afterwards.
"""

from __future__ import annotations

import math
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
    """A randomised participant. Recruitment fills the first fields; delivery and
    employment fill the rest as the participant's pathway unfolds (days throughout)."""

    id: int
    site: int
    site_type: str
    setting: str
    locality: int
    channel: str
    arm: str
    randomised_day: float
    years_out_of_work: float
    esw: int = -1  # ESW id across localities; -1: never seen by an ESW
    esw_wait_days: float = math.nan  # waiting for a caseload place
    first_appointment_day: float = math.nan
    disengaged: bool = False  # while waiting or after the assessment
    ready_at_assessment: bool = False
    ready_day: float = math.inf  # first day ready for work while supported
    support_end_day: float = math.nan  # caseload place released
    ot_wait_days: float = math.nan
    booklet_wait_days: float = math.nan
    jobs: tuple[tuple[float, float], ...] = ()  # (start, end) spells; end inf: still in work
    withdrawn_day: float = math.inf  # moved away after finding work
