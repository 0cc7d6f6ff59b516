"""One simulated trial: a model built fresh for each replication."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from trialsim.inputs.params import PRIMARY_CARE, ModelParams
from trialsim.inputs.uncertainty import STREAM, sample_params
from trialsim.model.delivery import Delivery
from trialsim.model.followup import Waves, follow_up, wave_days, working_at
from trialsim.model.missingness import (
    BASELINE_STREAM,
    ITEMS_STREAM,
    baseline_covariates,
    return_shift,
)
from trialsim.model.outcomes import effect_share, received_as_intended, rtw_self_efficacy
from trialsim.model.records import STAGES, Cohort, FunnelCount, Participant
from trialsim.model.recruitment import Recruitment
from trialsim.model.rescue import TEXT_STREAM, extra_sites, with_retention
from trialsim.model.sites import Site
from trialsim.streams import Streams


@dataclass(frozen=True)
class ReplicationResult:
    rep: int
    close_reason: str  # "target" or "window"
    close_day: float
    sites: tuple[Site, ...]
    participants: tuple[Participant, ...]
    channels: tuple[str, ...]  # ModelParams.channel_names(): the rows of funnel_counts
    funnel_counts: np.ndarray  # (channels, stages): people reaching each stage
    waves: Waves
    rtw_se: np.ndarray  # (participants, 1 + waves): baseline then each wave
    received: np.ndarray  # bool: IPS received as intended (outcomes.received_as_intended)
    effect_share: np.ndarray  # each participant's share of the effect as received (0 for TAU)
    cohort: Cohort  # the participants' records as arrays, for the tables and figures
    rtw_se_measured: np.ndarray | None = None  # as the questionnaire records it: rtw_se plus
    # the mode effect where ESW-assisted (None: rtw_se itself); seen where
    # waves.rtw_se_observed()
    # resources the records above do not hold (trialsim.model.resources): mailshot
    # batches posted (day, channel, packs) and hand-search visits (start day, nurse-days)
    packs: tuple[tuple[float, int, int], ...] = ()
    nurse_visits: tuple[tuple[float, float], ...] = ()
    call_days: np.ndarray | None = None  # each screening call's responder's day

    @property
    def funnel(self) -> tuple[FunnelCount, ...]:
        """The funnel as (channel, stage, n) counts."""
        return tuple(FunnelCount(ch, s, int(self.funnel_counts[c, s]))
                     for c, ch in enumerate(self.channels) for s in range(len(STAGES)))


def target_reached(params: ModelParams, seed: int, rep: int) -> bool:
    """Whether replication `rep` (at fixed parameters) randomises the target within the
    window (recruit_only)."""
    return recruit_only(params, seed, rep, draw=False).close_reason == "target"


def recruit_only(params: ModelParams, seed: int, rep: int, draw: bool = True) -> Recruitment:
    """Replication `rep`'s recruitment as `simulate_replication` makes it, from the same
    streams (the same parameter draw with `params.uncertainty`; `draw` False: at fixed
    parameters), to the last bit, with nothing of delivery but the booklets that queue
    with the screening calls (Delivery's `paths` False): what P(target), the sites and
    the windows need, at a fraction of a replication's cost."""
    streams = Streams(seed, rep)
    if draw and params.uncertainty is not None:
        params = sample_params(params, streams[STREAM])
    recruitment = Recruitment(params, streams)
    delivery = Delivery(params, streams, recruitment.coordinator, paths=False)
    recruitment.on_randomised = delivery.start
    recruitment.start()
    recruitment.run()
    return recruitment


def simulate_replication(params: ModelParams, seed: int, rep: int,
                         rescue_day: float | None = None) -> ReplicationResult:
    """Run replication `rep` from its own streams; nothing is shared between runs.

    With `params.uncertainty`, the replication first draws its own parameters from
    their pilot evidence (assurance). Delivery serves the asks for a caseload place
    still due after recruitment closes; follow-up and outcomes are then drawn from
    the recorded pathways. `rescue_day`: the internal
    pilot's amber plan (params.progression.amber_action) acts from this day on
    (trialsim.model.rescue); None: no plan."""
    streams = Streams(seed, rep)
    if params.uncertainty is not None:
        params = sample_params(params, streams[STREAM])
    extra, fu_days = None, {}
    if rescue_day is not None:
        action = params.progression.amber_action
        if action.extra_sites:
            extra = partial(extra_sites, params, streams, action, rescue_day)
        params, switched = with_retention(params, action)
        if switched == "esw_completion":
            fu_days = {"esw_from": rescue_day}
        elif switched == "text_followup":
            fu_days = {"text_from": rescue_day, "text_rng": streams[TEXT_STREAM]}
    recruitment = Recruitment(params, streams, extra)
    delivery = Delivery(params, streams, recruitment.coordinator)
    recruitment.on_randomised, recruitment.before_randomising = delivery.start, delivery.serve
    recruitment.start()
    recruitment.run()  # delivery serves the asks due by each randomisation as it goes
    delivery.finish()  # and the asks still to come
    people = recruitment.participants
    fu = params.follow_up
    male, single = baseline_covariates(len(people), params.baseline, streams[BASELINE_STREAM])
    for person, m, s in zip(people, male.tolist(), single.tolist(), strict=True):
        person.male, person.single = m, s
    cohort = Cohort.of(people, PRIMARY_CARE)
    d = params.delivery
    received = received_as_intended(cohort, params.outcome)
    share = effect_share(cohort, params.outcome, received)
    # the scores first (their own stream): a return may depend on the score at the wave
    scores = rtw_self_efficacy(
        ips=cohort.ips, esw=cohort.esw,
        working=working_at(cohort, wave_days(cohort, fu)), months=fu.months,
        o=params.outcome, n_esw=params.localities * d.esw_per_locality,
        rng=streams["outcome"], share=share)
    shift = return_shift(cohort.male, cohort.single, cohort.years_out_of_work, scores, fu,
                         params.outcome)
    waves = follow_up(people, fu, streams["follow_up"], cohort, shift=shift,
                      items_rng=streams[ITEMS_STREAM], **fu_days)
    measured = None
    if fu.esw_mode_effect and waves.esw_assisted is not None and waves.esw_assisted.any():
        measured = scores.copy()
        measured[:, 1:] = np.clip(measured[:, 1:] + fu.esw_mode_effect * waves.esw_assisted,
                                  0.0, 10.0)  # the scale's range, as the scores are
    return ReplicationResult(
        rep=rep,
        close_reason=recruitment.close_reason,
        close_day=recruitment.close_day,
        sites=tuple(recruitment.sites),
        participants=tuple(people),
        channels=recruitment.channels,
        funnel_counts=recruitment.funnel_counts(),
        waves=waves,
        rtw_se=scores,
        received=received,
        effect_share=share,
        cohort=cohort,
        rtw_se_measured=measured,
        packs=recruitment.packs(),
        nurse_visits=tuple(recruitment.nurse_visits),
        call_days=recruitment.call_days(),
    )
