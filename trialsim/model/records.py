"""The small records a replication produces: participants and funnel counts.

The funnel is kept as counts per channel and stage (how many people reached each stage
through each channel), not as one record per responder: every reader (the tables, the
figures' flow, the pilot replay) sums the counts, and nothing reads an individual
responder's path. Participants stay records where the reference engine runs (delivery
fills their pathway); the compiled engine keeps them as arrays (`Recruited`,
`Delivered`) and makes the records only where something reads them (`People`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
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


@dataclass(frozen=True)
class Recruited:
    """The randomised participants' recruitment fields as arrays, in order of
    randomisation: what the compiled coordinator's loop makes
    (trialsim.model.recruitment.Recruitment.run_compiled), without a record each."""

    site: np.ndarray  # int
    site_type: tuple[str, ...]
    setting: tuple[str, ...]
    locality: np.ndarray  # int
    channel: tuple[str, ...]
    ips: np.ndarray  # bool
    randomised_day: np.ndarray
    years_out_of_work: np.ndarray
    booklet_wait_days: np.ndarray  # nan: IPS


@dataclass(frozen=True)
class Delivered:
    """What delivery gives each participant, as arrays in order of randomisation
    (trialsim.model.delivery_pass): Participant's delivery fields; the job spells
    flattened, each participant's together in the order they started."""

    esw: np.ndarray  # int
    esw_wait_days: np.ndarray
    first_appointment_day: np.ndarray
    support_end_day: np.ndarray
    disengaged: np.ndarray  # bool
    ready_at_assessment: np.ndarray  # bool
    ready_day: np.ndarray
    withdrawn_day: np.ndarray
    ot_wait_days: np.ndarray
    job_owner: np.ndarray  # int
    job_start: np.ndarray
    job_end: np.ndarray

    def first_job_day(self, n: int) -> np.ndarray:
        first = np.full(n, math.inf)
        if len(self.job_owner):
            starts = np.flatnonzero(np.diff(self.job_owner, prepend=-1))
            first[self.job_owner[starts]] = self.job_start[starts]
        return first


def cohort_of_arrays(r: Recruited, d: Delivered, male: np.ndarray, single: np.ndarray,
                     primary_care: str) -> Cohort:
    """Cohort.of for the records `People` would make of these arrays, to the last bit,
    without making them."""
    n = len(r.ips)
    return Cohort(
        ips=r.ips.astype(bool), primary_care=np.array([s == primary_care for s in r.setting],
                                                      dtype=bool),
        channel=r.channel, locality=r.locality.astype(int),
        randomised_day=r.randomised_day.astype(float), esw=d.esw.astype(int),
        esw_wait_days=d.esw_wait_days, first_appointment_day=d.first_appointment_day,
        support_end_day=d.support_end_day, disengaged=d.disengaged.astype(bool),
        ot_wait_days=d.ot_wait_days, booklet_wait_days=r.booklet_wait_days,
        first_job_day=d.first_job_day(n), withdrawn_day=d.withdrawn_day,
        job_owner=d.job_owner.astype(int), job_start=d.job_start, job_end=d.job_end,
        male=np.asarray(male, dtype=bool), single=np.asarray(single, dtype=bool),
        years_out_of_work=r.years_out_of_work.astype(float))


@dataclass(frozen=True, eq=False)
class People(Sequence):
    """The participants' records made from the arrays on first use (most runs read only
    the Cohort): `delivered` None, recruitment's fields alone (a run of recruitment)."""

    recruited: Recruited
    delivered: Delivered | None = None
    male: np.ndarray | None = None
    single: np.ndarray | None = None
    _made: list = field(default_factory=list, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.recruited.ips)

    def __getitem__(self, i):
        return self._records()[i]

    def __iter__(self):
        return iter(self._records())

    def _records(self) -> list[Participant]:
        if self._made or not len(self):
            return self._made
        r = self.recruited
        arms = [IPS if x else TAU for x in r.ips.tolist()]
        people = [Participant(i, *v) for i, v in enumerate(zip(
            r.site.tolist(), r.site_type, r.setting, r.locality.tolist(), r.channel, arms,
            r.randomised_day.tolist(), r.years_out_of_work.tolist(), strict=True))]
        for p, wait in zip(people, _values(r.booklet_wait_days), strict=True):
            p.booklet_wait_days = wait
        if self.delivered is not None:
            set_delivered(people, self.delivered)
        if self.male is not None:
            for p, m, s in zip(people, self.male.tolist(), self.single.tolist(), strict=True):
                p.male, p.single = m, s
        self._made.extend(people)
        return self._made


def set_delivered(people: list[Participant], d: Delivered) -> None:
    """Each record's delivery fields from the arrays (rows in the records' order)."""
    values = zip(d.esw.tolist(), _values(d.esw_wait_days), _values(d.first_appointment_day),
                 _values(d.support_end_day), d.disengaged.tolist(),
                 d.ready_at_assessment.tolist(), d.ready_day.tolist(), d.withdrawn_day.tolist(),
                 _values(d.ot_wait_days), strict=True)
    for p, v in zip(people, values, strict=True):
        (p.esw, p.esw_wait_days, p.first_appointment_day, p.support_end_day, p.disengaged,
         p.ready_at_assessment, p.ready_day, p.withdrawn_day, p.ot_wait_days) = v
    bounds = np.searchsorted(d.job_owner, np.arange(len(people) + 1)).tolist()
    starts, ends = d.job_start.tolist(), d.job_end.tolist()
    for p, a, b in zip(people, bounds[:-1], bounds[1:], strict=True):
        if b > a:
            p.jobs = tuple(zip(starts[a:b], ends[a:b], strict=True))


def _values(x: np.ndarray) -> list[float]:
    """The array's floats, NaN as math.nan itself: a record's unset field, as the
    reference's records hold it (records with equal fields then compare equal)."""
    return [math.nan if v != v else v for v in x.tolist()]
