"""Postal follow-up, applied to the participants' recorded pathways after the run.

Returns are a Markov chain over waves (return given the previous return, per arm,
Table 8), lowered while in work, with the retention strategies layered on top. Nothing
here feeds back into the SimPy model, so it is vectorised over participants."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trialsim.inputs.pathway_params import FollowUp
from trialsim.model.records import IPS, Participant
from trialsim.units import months_to_days


@dataclass(frozen=True)
class Waves:
    months: tuple[float, ...]
    working: np.ndarray  # (n, waves) true employment status at the wave
    withdrawn: np.ndarray  # withdrawn before the wave: no questionnaire sent
    returned: np.ndarray  # questionnaire returned
    return_day: np.ndarray  # day returned (nan if not)
    employment_known: np.ndarray  # from a questionnaire or from linkage


def working_at(people: list[Participant], days: np.ndarray) -> np.ndarray:
    """In work at each participant's wave days (n, waves)."""
    out = np.zeros(days.shape, dtype=bool)
    for i, p in enumerate(people):
        for start, end in p.jobs:
            out[i] |= (start <= days[i]) & (days[i] < end)
    return out


def in_support_at(people: list[Participant], days: np.ndarray) -> np.ndarray:
    first = np.array([p.first_appointment_day for p in people])[:, None]
    end = np.array([p.support_end_day for p in people])[:, None]
    engaged = ~np.array([p.disengaged for p in people])[:, None]
    return engaged & (first <= days) & (days < end)  # nan compares False


def follow_up(people: list[Participant], fu: FollowUp, rng: np.random.Generator) -> Waves:
    n, w = len(people), len(fu.months)
    ips = np.array([p.arm == IPS for p in people], dtype=bool)
    rand_day = np.array([p.randomised_day for p in people])
    withdrawn_day = np.array([p.withdrawn_day for p in people])[:, None]
    days = rand_day[:, None] + np.array([months_to_days(m) for m in fu.months])[None, :]
    working = working_at(people, days)
    withdrawn = withdrawn_day <= days
    support = in_support_at(people, days) if fu.esw_completion is not None else None
    returned = np.zeros((n, w), dtype=bool)
    return_day = np.full((n, w), np.nan)
    r_ips, r_tau = fu.returns_ips, fu.returns_tau
    for k in range(w):
        if k == 0:
            p = np.where(ips, r_ips.first.value, r_tau.first.value)
        else:
            prev = returned[:, k - 1]
            p = np.where(ips, np.where(prev, r_ips.after_return.value, r_ips.after_miss.value),
                         np.where(prev, r_tau.after_return.value, r_tau.after_miss.value))
        p = np.where(working[:, k], p * fu.work_return_ratio, p)
        if support is not None:
            p = np.where(ips & support[:, k], np.maximum(p, fu.esw_completion.value), p)
        u, late, when = rng.random(n), rng.random(n), rng.random(n)
        day = days[:, k] + fu.reminder_days * np.where(late < fu.after_reminder.value,
                                                       1.0 + when, when)
        ok = ~withdrawn[:, k] & (u < p) & (day < withdrawn_day[:, 0])
        if fu.text_followup is not None:
            text = ~withdrawn[:, k] & ~ok & (rng.random(n) < fu.text_followup.value)
            day = np.where(text & ~ok, days[:, k] + 2 * fu.reminder_days, day)
            ok |= text & (day < withdrawn_day[:, 0])
        returned[:, k] = ok
        return_day[:, k] = np.where(ok, day, np.nan)
    known = returned | fu.linkage
    return Waves(fu.months, working, withdrawn, returned, return_day, known)
