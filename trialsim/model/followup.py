"""Postal follow-up, applied to the participants' recorded pathways after the run.

Returns follow Table 8's chain, per arm and wave: the first wave, then the 6-month wave
by the 3-month return and the 12-month wave by the 6-month return (the Table 8 waves
are 3, 6 and 12 months). A worker returns with `work_return_ratio` times a non-worker's
probability, and the non-worker's base rate is solved so that the group's observed
rate is kept at the pilot's share in work (trialsim.inputs.pathway_params.Transition),
not multiplied on top of it.

Any other month is an interim contact (e.g. 9 months): its questionnaire returns with
the probability of the next Table 8 wave (the 12-month one after the last), and it
never enters the chain, which always conditions on the last Table 8 wave. Each interim
contact sent since that wave retains `interim_retained` of those who would not return
at the next Table 8 wave. The retention strategies can only add returns: ESW
completion lifts an IPS participant's return while in support, text / e-mail reaches a
share of non-returners, linkage makes employment known for all. Since a return never
lowers the next wave's probability (after_return >= after_miss in Table 8), no strategy
lowers a later return. Beyond arm and work, the odds of a return may shift with
baseline covariates and, not at random, with the participant's own score at the wave,
centred within each arm and Table 8 row so that the chain's returns are kept
(trialsim.model.missingness); the retention strategies then act as before. A returned
questionnaire's RTW-SE items may be incomplete. With ESW completion on, an IPS
participant in support at a wave who returns it does so with the ESW (`esw_assisted`:
its score carries the mode effect, trialsim.model.trial). Nothing here feeds back into
recruitment or delivery, so it is vectorised over participants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trialsim.inputs.params import PRIMARY_CARE
from trialsim.inputs.pathway_params import FollowUp, Returns
from trialsim.model.missingness import TABLE8_MONTHS, centred, items_complete
from trialsim.model.records import Cohort, Participant
from trialsim.units import months_to_days


@dataclass(frozen=True)
class Waves:
    months: tuple[float, ...]
    working: np.ndarray  # (n, waves) true employment status at the wave
    withdrawn: np.ndarray  # withdrawn before the wave: no questionnaire sent
    returned: np.ndarray  # questionnaire returned
    return_day: np.ndarray  # day returned (nan if not)
    employment_known: np.ndarray  # from a questionnaire or from linkage
    esw_assisted: np.ndarray | None = None  # returned with the ESW's help (ESW completion)
    rtw_se_complete: np.ndarray | None = None  # (n, 1 + waves): RTW-SE items complete in a
    # returned questionnaire, baseline first (None: all complete)
    texted: np.ndarray | None = None  # text / e-mail sent to a non-returner (the strategy on)

    def rtw_se_observed(self) -> np.ndarray:
        """(n, 1 + waves): the RTW-SE score is known, baseline (always returned) first."""
        n = len(self.returned)
        back = np.column_stack([np.ones(n, dtype=bool), self.returned])
        return back if self.rtw_se_complete is None else back & self.rtw_se_complete


def working_at(c: Cohort, days: np.ndarray) -> np.ndarray:
    """In work at each participant's wave days (n, waves), from the job spells."""
    out = np.zeros(days.shape, dtype=bool)
    if len(c.job_owner):
        at = days[c.job_owner]  # (jobs, waves): the job holder's wave days
        hit = (c.job_start[:, None] <= at) & (at < c.job_end[:, None])
        jobs, waves = np.nonzero(hit)
        out[c.job_owner[jobs], waves] = True
    return out


def in_support_at(c: Cohort, days: np.ndarray) -> np.ndarray:
    first, end = c.first_appointment_day[:, None], c.support_end_day[:, None]
    return ~c.disengaged[:, None] & (first <= days) & (days < end)  # nan compares False


def counted(c: Cohort, fu: FollowUp) -> np.ndarray:
    """(n, waves): not withdrawn before the wave's last possible return day, the
    denominators of Table 8 (which leaves the pilot's withdrawals out)."""
    last = c.randomised_day[:, None] + np.array([months_to_days(m) for m in fu.months])[None, :] \
        + 2 * fu.reminder_days
    return c.withdrawn_day[:, None] > last


def wave_plan(months: tuple[float, ...]) -> list[tuple[str, int]]:
    """For each wave: the transition row family ('first', 'm6', 'm12') its return uses,
    and the index of the Table 8 wave it conditions on (-1: none)."""
    table8 = [k for k, m in enumerate(months) if m in TABLE8_MONTHS]
    plan = []
    for k, m in enumerate(months):
        before = [j for j in table8 if j < k]
        if m in TABLE8_MONTHS:
            target = k
        else:  # an interim contact: the next Table 8 wave's probability
            later = [j for j in table8 if j > k]
            target = later[0] if later else (before[-1] if before else k)
        prev = [j for j in table8 if j < target]
        if not prev:
            plan.append(("first", -1))
        else:
            family = "m6" if months[target] <= 6.0 else "m12"
            plan.append((family, prev[-1]))
    return plan


def planned_returns(r: Returns, months: tuple[float, ...]) -> tuple[float, ...]:
    """Each wave's return the sample size assumes: Table 8's chain as observed (workers
    included), the marginal share P(return at k) = P(prev) x after_return + (1 - P(prev))
    x after_miss, without retention strategies (they only add returns)."""
    plan, out = wave_plan(months), []
    for family, prev in plan:
        if family == "first":
            out.append(r.first.observed.value)
            continue
        ok = getattr(r, f"{family}_after_return").observed.value
        miss = getattr(r, f"{family}_after_miss").observed.value
        out.append(out[prev] * ok + (1.0 - out[prev]) * miss)
    return tuple(out)


def _base(r: Returns, family: str, prev_returned: np.ndarray | None,
          ratio: float) -> np.ndarray | float:
    if family == "first":
        return r.first.base(ratio)
    ok, miss = getattr(r, f"{family}_after_return"), getattr(r, f"{family}_after_miss")
    return np.where(prev_returned, ok.base(ratio), miss.base(ratio))


def wave_days(c: Cohort, fu: FollowUp) -> np.ndarray:
    """(n, waves): each participant's day of each wave."""
    return c.randomised_day[:, None] + np.array([months_to_days(m) for m in fu.months])[None, :]


def follow_up(people: Sequence[Participant], fu: FollowUp, rng: np.random.Generator,
              cohort: Cohort | None = None, shift: np.ndarray | None = None,
              items_rng: np.random.Generator | None = None, esw_from: float = -np.inf,
              text_from: float = -np.inf, text_rng: np.random.Generator | None = None
              ) -> Waves:
    """`cohort`: the participants' records as arrays, if the caller has them already.
    `shift`: (n, waves) log odds shifts of returning (trialsim.model.missingness), None:
    none. `items_rng`: the item non-response stream (None: every RTW-SE complete).
    `esw_from`, `text_from`: the strategy applies to waves due on or after this day (a
    rescue plan's, switched on at the review); `text_rng`: the text strategy's draws from
    a stream of their own, so that switching it on moves no other draw."""
    c = Cohort.of(people, PRIMARY_CARE) if cohort is None else cohort
    return follow_up_trials(c, np.array([0, len(people)]), fu, [rng], shift,
                            None if items_rng is None else [items_rng], esw_from, text_from,
                            None if text_rng is None else [text_rng])


def follow_up_trials(c: Cohort, bounds: np.ndarray, fu: FollowUp,
                     rngs: Sequence[np.random.Generator], shift: np.ndarray | None = None,
                     items_rngs: Sequence[np.random.Generator] | None = None,
                     esw_from: float = -np.inf, text_from: float = -np.inf,
                     text_rngs: Sequence[np.random.Generator] | None = None) -> Waves:
    """follow_up for several trials of the same parameters at once: trial j's
    participants are rows bounds[j]:bounds[j + 1] of `c` (Cohort.joined), its draws from
    rngs[j] (items_rngs[j], text_rngs[j]) in the order one trial draws them, and every
    group the returns are centred in taken within the trial: each trial's waves are the
    same to the last bit however many are followed up beside it."""
    n, w = len(c.ips), len(fu.months)
    sizes = np.diff(bounds).tolist()
    # the text's uniform after each trial's u, late, when, on its stream, unless its own
    own_text = fu.text_followup is not None and text_rngs is None
    ips = c.ips
    withdrawn_day = c.withdrawn_day[:, None]
    days = wave_days(c, fu)
    working = working_at(c, days)
    withdrawn = withdrawn_day <= days
    support = in_support_at(c, days) if fu.esw_completion is not None else None
    if support is not None and esw_from > -np.inf:
        support &= days >= esw_from
    returned = np.zeros((n, w), dtype=bool)
    return_day = np.full((n, w), np.nan)
    assisted = np.zeros((n, w), dtype=bool)
    ratio = fu.work_return_ratio.value
    is_table8 = [m in TABLE8_MONTHS for m in fu.months]
    interim_sent = np.zeros(n)  # interim contacts sent since the last Table 8 wave
    texted = np.zeros((n, w), dtype=bool) if fu.text_followup is not None else None
    # Table 8's chain conditions on the previous wave returned as planned, not by the text
    # follow-up: answering a text does not make a participant a returner of the next
    # questionnaire (so the text raises each wave once: 0.50 to 0.60 at response 0.2)
    chain = np.zeros((n, w), dtype=bool)
    for k, (family, prev) in enumerate(wave_plan(fu.months)):
        prev_returned = chain[:, prev] if prev >= 0 else None
        p = np.where(ips, _base(fu.returns_ips, family, prev_returned, ratio),
                     _base(fu.returns_tau, family, prev_returned, ratio))
        p = np.where(working[:, k], p * ratio, p)
        if is_table8[k]:
            p = 1.0 - (1.0 - p) * (1.0 - fu.interim_retained) ** interim_sent
            interim_sent[:] = 0.0
        else:
            interim_sent += ~withdrawn[:, k]
        if shift is not None:
            sent = ~withdrawn[:, k]
            rows = [sent] if prev_returned is None else [sent & prev_returned,
                                                          sent & ~prev_returned]
            p = centred(p, shift[:, k], [r & a for r in rows for a in (ips, ~ips)], bounds)
        if support is not None:
            p = np.where(ips & support[:, k], np.maximum(p, fu.esw_completion.value), p)
        # each trial's u, late, when (and the text's) in its own order
        drawn = [[g.random(m) for _ in range(4 if own_text else 3)]
                 for g, m in zip(rngs, sizes, strict=True)]
        u, late, when = (np.concatenate([d[i] for d in drawn]) for i in range(3))
        day = days[:, k] + fu.reminder_days * np.where(late < fu.after_reminder.value,
                                                       1.0 + when, when)
        ok = ~withdrawn[:, k] & (u < p) & (day < withdrawn_day[:, 0])
        if support is not None:  # the ESW completes it with those in support who return it
            assisted[:, k] = ok & ips & support[:, k]
        chain[:, k] = ok
        if fu.text_followup is not None:
            texted[:, k] = ~withdrawn[:, k] & ~ok & (days[:, k] >= text_from)  # sent (costs)
            u_text = np.concatenate([d[3] for d in drawn] if own_text else
                                    [g.random(m) for g, m in zip(text_rngs, sizes, strict=True)])
            text = texted[:, k] & (u_text < fu.text_followup.value)
            day = np.where(text & ~ok, days[:, k] + 2 * fu.reminder_days, day)
            ok |= text & (day < withdrawn_day[:, 0])
        returned[:, k] = ok
        return_day[:, k] = np.where(ok, day, np.nan)
    known = returned | fu.linkage
    complete = None
    if items_rngs is not None:
        complete = np.concatenate([items_complete(m, fu, g)
                                   for g, m in zip(items_rngs, sizes, strict=True)])
    return Waves(fu.months, working, withdrawn, returned, return_day, known, assisted,
                 complete, texted)
