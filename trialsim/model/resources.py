"""What one simulated trial uses, counted from its records after the run.

Nothing here feeds back into the model: every count is read from the replication's
result (funnel, sites, cohort, waves and the few recruitment records it keeps), so the
simulation is unchanged. Each resource is a total and a split by trial year
(year k holds days [365.25 k, 365.25 (k + 1)); the last year also holds everything
later), so that the costs module (trialsim.analysis.costs) can give a budget by year.
Units are the resource's own (packs, nurse-days, hours, post-months, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trialsim.inputs.params import ModelParams
from trialsim.model.followup import TABLE8_MONTHS, in_support_at
from trialsim.model.records import RESPONDED, Cohort
from trialsim.model.trial import ReplicationResult
from trialsim.units import CALENDAR_PER_WORKING_DAY, DAYS_PER_MONTH, months_to_days

DAYS_PER_YEAR = 365.25
MAX_YEARS = 10  # budget years; the last holds everything later
HOURS_PER_DAY = 7.5  # a working day (trialsim.inputs.pathway_params.WORKING_HOURS_PER_DAY)

# name: what is counted (its unit)
RESOURCES = {
    "packs": "mailshot packs posted (packs)",
    "nurse_days": "research-nurse days hand-searching records (days)",
    "screening_calls": "study coordinator's screening calls (calls)",
    "screening_hours": "coordinator hours on screening calls (hours)",
    "booklet_appointments": "TAU booklet appointments with the coordinator (appointments)",
    "booklet_hours": "coordinator hours on booklet appointments (hours)",
    "esw_baselines": "ESW baseline appointments, about 1 hour each (appointments)",
    "ot_sessions": "joint ESW + OT appointments (appointments)",
    "esw_post_months": "ESW posts employed, FTE x months from hire (post-months)",
    "esw_headcount_months": "ESWs employed, whole people x months from hire (months)",
    "caseload_place_months_available": "caseload places the posts hold x months (place-months)",
    "caseload_place_months_used": "caseload places held by IPS participants (place-months)",
    "questionnaires_sent": "postal questionnaires at the 3/6/12-month waves (questionnaires)",
    "reminders": "reminder letters with a second copy after reminder_weeks (letters)",
    "questionnaires_returned": "questionnaires returned, each with a voucher (returns)",
    "texts": "text / e-mail questionnaires to non-returners (texts)",
    "esw_completions": "questionnaires completed with the ESW while in support (sessions)",
    "placement_months": "months of IPS clients' first jobs in ESW support with a wage subsidy, "
                        "at most delivery.esw.placement_subsidy_months each (months)",
    "interim_contacts": "interim contacts, waves other than 3/6/12 months (contacts)",
    "sites_set_up": "sites opened before recruitment closed (sites)",
    "site_months": "months sites are open for recruitment (site-months)",
    "trial_months": "months of the trial team: set-up, month 0 to the last follow-up return "
                    "window, close-out (months)",
}


@dataclass(frozen=True)
class Resources:
    totals: dict[str, float]  # RESOURCES -> total
    by_year: dict[str, np.ndarray]  # RESOURCES -> (years,) split over trial years
    by_channel: dict[str, dict[str, float]]  # channel -> packs, nurse_days, calls, randomised

    @property
    def utilisation(self) -> float:
        """Caseload place-months used over those the posts hold (nan: no limit)."""
        have = self.totals["caseload_place_months_available"]
        return self.totals["caseload_place_months_used"] / have if have > 0 else math.nan


def years(params: ModelParams) -> int:
    """Budget years of a trial of these parameters: set-up, the window, the longest
    follow-up and its two reminder periods, close-out (at most MAX_YEARS). Year 1 starts
    with set-up, `params.setup_days` before month 0."""
    fu = params.follow_up
    end = (params.setup_days + params.window_days + months_to_days(max(fu.months))
           + 2 * fu.reminder_days + params.closeout_days)
    return int(min(MAX_YEARS, max(1, math.ceil(end / DAYS_PER_YEAR))))


def _events_by_year(days: np.ndarray, n_years: int,
                    weights: np.ndarray | None = None) -> np.ndarray:
    """Counts (or weights) by the year each day falls in."""
    days = np.asarray(days, dtype=float)
    if not len(days):
        return np.zeros(n_years)
    k = np.clip(np.floor(days / DAYS_PER_YEAR), 0, n_years - 1).astype(int)
    return np.bincount(k, weights=weights, minlength=n_years).astype(float)


def _spans_by_year(start: np.ndarray, end: np.ndarray, n_years: int,
                   weights: np.ndarray | None = None) -> np.ndarray:
    """Months of the spans [start, end) in each year (times weights), the last year
    open-ended."""
    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    w = np.ones(len(start)) if weights is None else np.asarray(weights, dtype=float)
    edges = np.arange(n_years + 1) * DAYS_PER_YEAR
    edges[-1] = math.inf
    lo = np.maximum(start[:, None], edges[None, :-1])
    hi = np.minimum(end[:, None], edges[None, 1:])
    return (np.clip(hi - lo, 0, None) * w[:, None]).sum(axis=0) / DAYS_PER_MONTH


def placements(c: Cohort, subsidy_days: float) -> tuple[np.ndarray, np.ndarray]:
    """Each subsidised placement's first and last day: an IPS client's first job that
    starts while an ESW supports them (first appointment to support end), subsidised
    for its first `subsidy_days` or until it ends, whichever is sooner."""
    owner = c.job_owner
    if not len(owner):
        return np.empty(0), np.empty(0)
    first_day, end_day = c.first_appointment_day[owner], c.support_end_day[owner]
    supported = (c.ips[owner] & (c.esw[owner] >= 0) & (c.job_start >= first_day)
                 & (c.job_start <= end_day))
    idx = np.flatnonzero(supported)
    _, first = np.unique(owner[idx], return_index=True)  # spells run in time order
    idx = idx[first]
    start = c.job_start[idx]
    return start, np.minimum(c.job_end[idx], start + subsidy_days)


def count(result: ReplicationResult, params: ModelParams) -> Resources:
    """Everything in RESOURCES for one replication; by budget year, year 1 starting with
    set-up (`params.setup_days` before month 0, from which the model's days count)."""
    n_years, shift = years(params), params.setup_days

    def events(days, weights=None):
        return _events_by_year(np.asarray(days, dtype=float) + shift, n_years, weights)

    def spans(start, end, weights=None):
        return _spans_by_year(np.asarray(start, dtype=float) + shift,
                              np.asarray(end, dtype=float) + shift, n_years, weights)

    close = result.close_day
    c, waves, d, fu = result.cohort, result.waves, params.delivery, params.follow_up
    by_year: dict[str, np.ndarray] = {}
    channels = result.channels

    # recruitment: packs, nurse-days, screening calls
    packs = np.array([(day, n) for day, _, n in result.packs], dtype=float).reshape(-1, 2)
    by_year["packs"] = events(packs[:, 0], packs[:, 1])
    visits = np.array([v for v in result.nurse_visits if v[0] < close],
                      dtype=float).reshape(-1, 2)
    by_year["nurse_days"] = events(visits[:, 0], visits[:, 1])
    calls = result.call_days if result.call_days is not None else np.empty(0)
    by_year["screening_calls"] = events(calls)
    call_hours = params.screening.call_days / CALENDAR_PER_WORKING_DAY * HOURS_PER_DAY
    by_year["screening_hours"] = by_year["screening_calls"] * call_hours

    # delivery: booklets, baselines, joint appointments
    booked = ~c.ips & ~np.isnan(c.booklet_wait_days)
    by_year["booklet_appointments"] = events(c.randomised_day[booked])
    booklet_hours = d.booklet_days / CALENDAR_PER_WORKING_DAY * HOURS_PER_DAY
    by_year["booklet_hours"] = by_year["booklet_appointments"] * booklet_hours
    seen = c.esw >= 0
    by_year["esw_baselines"] = events(c.first_appointment_day[seen])
    joint = ~np.isnan(c.ot_wait_days)
    by_year["ot_sessions"] = events(c.first_appointment_day[joint])
    start, end = placements(c, d.placement_subsidy_days)
    by_year["placement_months"] = spans(start, end)

    # ESW posts: each locality's from its hire day to the later of recruitment closing
    # and its last client's support ending
    hire, end = [], []
    for loc in range(params.localities):
        opens = [s.open_day for s in result.sites if s.locality == loc and s.open_day < close]
        start = 0.0 if d.esw_hire == "day0" else (min(opens) if opens else close)
        mine = seen & (c.locality == loc)
        last = float(np.nanmax(c.support_end_day[mine])) if mine.any() else close
        hire.append(min(start, close))
        end.append(max(close, last, start))
    hire_a, end_a = np.array(hire), np.array(end)
    per_loc = np.full(params.localities, float(d.esw_per_locality))
    by_year["esw_headcount_months"] = spans(hire_a, end_a, per_loc)
    by_year["esw_post_months"] = by_year["esw_headcount_months"] * d.esw_fte
    places = d.places_per_esw
    by_year["caseload_place_months_available"] = (
        by_year["esw_headcount_months"] * places if math.isfinite(places)
        else np.zeros(n_years))
    by_year["caseload_place_months_used"] = spans(c.first_appointment_day[seen],
                                                  c.support_end_day[seen])

    # follow-up
    wave_days = c.randomised_day[:, None] + np.array(
        [months_to_days(m) for m in waves.months])[None, :]
    sent = ~waves.withdrawn
    table8 = np.array([m in TABLE8_MONTHS for m in waves.months], dtype=bool)
    postal = sent & table8[None, :]
    by_year["questionnaires_sent"] = events(wave_days[postal])
    early = waves.returned & (waves.return_day - wave_days < fu.reminder_days)
    reminded = postal & ~early
    by_year["reminders"] = events(wave_days[reminded] + fu.reminder_days)
    by_year["questionnaires_returned"] = events(waves.return_day[waves.returned])
    texted = waves.texted if waves.texted is not None else np.zeros_like(sent)
    by_year["texts"] = events(wave_days[texted] + 2 * fu.reminder_days)
    if fu.esw_completion is not None:
        with_esw = c.ips[:, None] & in_support_at(c, wave_days) & sent
    else:
        with_esw = np.zeros_like(sent)
    by_year["esw_completions"] = events(wave_days[with_esw])
    by_year["interim_contacts"] = events(wave_days[sent & ~table8[None, :]])

    # sites and the trial's span
    opened = [s for s in result.sites if s.open_day < close]
    by_year["sites_set_up"] = events(np.array([s.open_day for s in opened]))
    by_year["site_months"] = spans(np.array([s.open_day for s in opened]),
                                   np.array([min(s.close_day, close) for s in opened]))
    last = (float(wave_days.max()) + 2 * fu.reminder_days) if len(c.ips) else close
    by_year["trial_months"] = spans(np.array([-params.setup_days]),
                                    np.array([max(last, close) + params.closeout_days]))

    totals = {k: float(v.sum()) for k, v in by_year.items()}
    by_channel = {}
    randomised = result.funnel_counts[:, -1]
    responded = result.funnel_counts[:, RESPONDED]
    for i, ch in enumerate(channels):
        by_channel[ch] = {
            "packs": float(sum(n for _, j, n in result.packs if j == i)),
            "nurse_days": totals["nurse_days"] if ch.endswith("hand_search") else 0.0,
            "screening_calls": float(responded[i]),
            "randomised": float(randomised[i]),
        }
    return Resources(totals, by_year, by_channel)
