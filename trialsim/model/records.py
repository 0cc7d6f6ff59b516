"""The small records a replication produces: participants and funnel counts.

The funnel is kept as counts per channel and stage (how many people reached each stage
through each channel), not as one record per responder: every reader (the tables, the
figures' flow, the pilot replay) sums the counts, and nothing reads an individual
responder's path. Participants stay records: the delivery fills their pathway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import NamedTuple

import numpy as np

STAGES = ("approached", "responded", "contacted", "eligible", "consented", "randomised")
APPROACHED, RESPONDED, CONTACTED, ELIGIBLE, CONSENTED, RANDOMISED = range(len(STAGES))
IPS, TAU = "ips", "tau"
ARMS = (IPS, TAU)


class FunnelCount(NamedTuple):
    channel: str
    stage: int  # index into STAGES
    n: int  # people (or mailshot packs, at APPROACHED) who reached the stage


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
    male: bool = False  # baseline covariates drawn after the run from their own stream
    single: bool = False  # (trialsim.model.missingness): they shift questionnaire returns


@dataclass(frozen=True)
class Cohort:
    """The participants' records as arrays, one entry per participant, built once after
    the run so that the tables and figures need no loop over participants."""

    ips: np.ndarray  # bool
    primary_care: np.ndarray  # bool: recruited in primary care (else a pain service)
    channel: tuple[str, ...]
    locality: np.ndarray  # int
    randomised_day: np.ndarray
    esw: np.ndarray  # int, -1: never seen by an ESW
    esw_wait_days: np.ndarray  # nan: never queued
    first_appointment_day: np.ndarray
    support_end_day: np.ndarray
    disengaged: np.ndarray  # bool
    ot_wait_days: np.ndarray
    booklet_wait_days: np.ndarray
    first_job_day: np.ndarray  # inf: no job
    withdrawn_day: np.ndarray  # inf: not withdrawn
    job_owner: np.ndarray  # int: every job spell, flattened: whose it is,
    job_start: np.ndarray  # when it starts
    job_end: np.ndarray  # and ends (inf: still in work at the horizon)
    male: np.ndarray | None = None  # bool, the baseline covariates (None: not drawn)
    single: np.ndarray | None = None
    years_out_of_work: np.ndarray | None = None

    @classmethod
    def of(cls, people: tuple[Participant, ...], primary_care: str) -> Cohort:
        numbers = list(zip(*map(_NUMBERS, people), strict=True)) or [()] * len(_NUMBER_FIELDS)
        col = dict(zip(_NUMBER_FIELDS, numbers, strict=True))
        owner = [i for i, p in enumerate(people) for _ in p.jobs]
        spells = [job for p in people for job in p.jobs]
        starts, ends = (zip(*spells, strict=True) if spells else ((), ()))
        return cls(
            ips=np.array([p.arm == IPS for p in people], dtype=bool),
            primary_care=np.array([p.setting == primary_care for p in people], dtype=bool),
            channel=tuple(p.channel for p in people),
            locality=np.array(col["locality"], dtype=int),
            randomised_day=np.array(col["randomised_day"], dtype=float),
            esw=np.array(col["esw"], dtype=int),
            esw_wait_days=np.array(col["esw_wait_days"], dtype=float),
            first_appointment_day=np.array(col["first_appointment_day"], dtype=float),
            support_end_day=np.array(col["support_end_day"], dtype=float),
            disengaged=np.array(col["disengaged"], dtype=bool),
            ot_wait_days=np.array(col["ot_wait_days"], dtype=float),
            booklet_wait_days=np.array(col["booklet_wait_days"], dtype=float),
            first_job_day=np.array([p.jobs[0][0] if p.jobs else math.inf for p in people],
                                   dtype=float),
            withdrawn_day=np.array(col["withdrawn_day"], dtype=float),
            job_owner=np.array(owner, dtype=int),
            job_start=np.array(starts, dtype=float),
            job_end=np.array(ends, dtype=float),
            male=np.array([p.male for p in people], dtype=bool),
            single=np.array([p.single for p in people], dtype=bool),
            years_out_of_work=np.array([p.years_out_of_work for p in people], dtype=float),
        )


def joined(cohorts: list[Cohort]) -> tuple[Cohort, np.ndarray]:
    """Several trials' cohorts as one, trial j's participants rows bounds[j]:bounds[j + 1]
    (their job spells' owners moved with them; ESW ids stay each trial's own), and the
    bounds: what the outcomes of several trials drawn at once read."""
    sizes = [len(c.ips) for c in cohorts]
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    out = {}
    for f in fields(Cohort):
        values = [getattr(c, f.name) for c in cohorts]
        if f.name == "channel":
            out[f.name] = tuple(ch for v in values for ch in v)
        elif f.name == "job_owner":
            out[f.name] = np.concatenate([v + b for v, b in zip(values, bounds.tolist(),
                                                                 strict=False)])
        elif any(v is None for v in values):
            out[f.name] = None
        else:
            out[f.name] = np.concatenate(values)
    return Cohort(**out), bounds


def trial_index(bounds: np.ndarray) -> np.ndarray:
    """Each row's trial, for several trials' rows (trial j's rows bounds[j]:bounds[j + 1],
    as `joined` gives them)."""
    return np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))


_NUMBER_FIELDS = ("locality", "randomised_day", "esw", "esw_wait_days", "first_appointment_day",
                  "support_end_day", "disengaged", "ot_wait_days", "booklet_wait_days",
                  "withdrawn_day")
_NUMBERS = attrgetter(*_NUMBER_FIELDS)  # one pass over the participants for all of them
