"""One simulated trial: a model built fresh for each replication."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import partial

import numpy as np

from trialsim.compiled import AVAILABLE, loaded
from trialsim.inputs.params import PRIMARY_CARE, ModelParams
from trialsim.inputs.pathway_params import Outcome
from trialsim.inputs.uncertainty import STREAM, sample_params
from trialsim.model.delivery import DELAYS, Delivery
from trialsim.model.delivery_pass import deliver, fill_pathways
from trialsim.model.followup import Waves, follow_up_trials, wave_days, working_at
from trialsim.model.missingness import (
    BASELINE_STREAM,
    ITEMS_STREAM,
    baseline_covariates,
    return_shift,
)
from trialsim.model.outcomes import effect_share, received_as_intended, scores_of_trials
from trialsim.model.records import (
    STAGES,
    Cohort,
    FunnelCount,
    Participant,
    People,
    cohort_of_arrays,
    joined,
)
from trialsim.model.recruitment import Recruitment
from trialsim.model.rescue import TEXT_STREAM, extra_sites, with_retention
from trialsim.model.sites import Site
from trialsim.streams import Streams

ENGINES = ("compiled", "reference")
ENGINE = "compiled" if AVAILABLE else "reference"  # where a caller names none
# target participants x replications from which a run uses the compiled engine: numba's
# import and first call cost about 0.45 s a process, more than a smaller run saves (a
# pathway at N 750 is some 6 ms faster compiled, about 8 us a participant: 0.45 s is
# about 60,000 participant-replications, doubled for a run's two workers)
COMPILED_FROM = 100_000


def engine_for(participant_replications: int) -> str:
    """The engine a run of this many target participants x replications uses (the same
    values either way, to the last bit): the reference below COMPILED_FROM, unless this
    process has loaded the compiled loops already (a design search's, a test session's)."""
    if participant_replications >= COMPILED_FROM or loaded():
        return ENGINE
    return "reference"


@dataclass(frozen=True)
class ReplicationResult:
    rep: int
    close_reason: str  # "target" or "window"
    close_day: float
    sites: tuple[Site, ...]
    participants: Sequence[Participant]
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


def target_reached(params: ModelParams, seed: int, rep: int,
                   engine: str | None = None) -> bool:
    """Whether replication `rep` (at fixed parameters) randomises the target within the
    window (recruit_only)."""
    return recruit_only(params, seed, rep, draw=False, engine=engine).close_reason == "target"


def recruit_only(params: ModelParams, seed: int, rep: int, draw: bool = True,
                 engine: str | None = None) -> Recruitment:
    """Replication `rep`'s recruitment as `simulate_replication` makes it, from the same
    streams (the same parameter draw with `params.uncertainty`; `draw` False: at fixed
    parameters), to the last bit, with nothing of delivery but the booklets that queue
    with the screening calls (Delivery's `paths` False): what P(target), the sites and
    the windows need, at a fraction of a replication's cost. `engine`: as
    simulate_pathway's."""
    streams = Streams(seed, rep)
    if draw and params.uncertainty is not None:
        params = sample_params(params, streams[STREAM])
    recruitment = Recruitment(params, streams)
    recruitment.start()
    if _checked(engine) == "compiled" and recruitment.compiles():
        recruitment.run_compiled(_delays(streams, params))
    else:
        delivery = Delivery(params, streams, recruitment.coordinator, paths=False)
        recruitment.on_randomised = delivery.start
        recruitment.run()
    return recruitment


def _checked(engine: str | None) -> str:
    """`engine`, or ENGINE for None; an engine that is not one, or compiled without
    numba, refused."""
    engine = ENGINE if engine is None else engine
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}: expected one of {ENGINES}")
    if engine == "compiled" and not AVAILABLE:
        raise ValueError("engine 'compiled' needs numba installed (pip install numba)")
    return engine


def _delays(streams: Streams, params: ModelParams) -> np.ndarray:
    """The uniforms of delivery's delays at randomisation for the compiled coordinator's
    loop: at most two a participant (Delivery.start)."""
    return streams[DELAYS].random(2 * params.target_n + 2)


@dataclass(frozen=True)
class Pathway:
    """A replication up to its outcomes: who was randomised, when, and what delivery and
    employment did to each (`people`, `cohort`), with what recruitment kept; the draws
    still to come (scores, questionnaire returns, item completion) are the outcome
    streams', which nothing before them touches (`outcomes_of`)."""

    params: ModelParams  # as the replication ran (drawn, with `params.uncertainty`)
    seed: int
    rep: int
    recruitment: Recruitment
    people: Sequence[Participant]  # People (made on first use) or a tuple
    cohort: Cohort
    fu_days: dict  # follow_up's strategy days (a rescue plan's retention), without rngs


def simulate_pathway(params: ModelParams, seed: int, rep: int,
                     rescue_day: float | None = None, engine: str | None = None) -> Pathway:
    """Replication `rep` from its own streams up to its outcomes; nothing is shared
    between runs.

    With `params.uncertainty`, the replication first draws its own parameters from
    their pilot evidence (assurance). Delivery serves the asks for a caseload place
    still due after recruitment closes. `rescue_day`: the internal pilot's amber plan
    (params.progression.amber_action) acts from this day on (trialsim.model.rescue);
    None: no plan. `engine`: "compiled", recruitment first, then delivery's pathways
    in one compiled pass (trialsim.model.delivery_pass), or "reference", delivery's
    event recursion as recruitment runs (trialsim.model.delivery): the same values to
    the last bit (tests/test_delivery_pass.py); None: ENGINE."""
    engine = _checked(engine)
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
            fu_days = {"text_from": rescue_day}
    recruitment = Recruitment(params, streams, extra)
    recruitment.start()  # draws responders only: delivery is wired in before the run
    compiled = engine == "compiled"
    if compiled and recruitment.compiles():  # arrays throughout, records made on first use
        recruited, asks = recruitment.run_compiled(_delays(streams, params))
        delivered = deliver(params, streams, recruited.ips, recruited.randomised_day,
                            recruited.locality, recruited.years_out_of_work,
                            recruited.setting, asks)
        male, single = baseline_covariates(len(recruited.ips), params.baseline,
                                           streams[BASELINE_STREAM])
        return Pathway(params, seed, rep, recruitment,
                       People(recruited, delivered, male, single),
                       cohort_of_arrays(recruited, delivered, male, single, PRIMARY_CARE),
                       fu_days)
    delivery = Delivery(params, streams, recruitment.coordinator, paths=not compiled)
    recruitment.on_randomised = delivery.start
    if compiled:  # the reference loop records each IPS participant's ask, then the pass
        recruitment.run()
        fill_pathways(params, streams, recruitment.participants, delivery.recorded_asks())
    else:
        recruitment.before_randomising = delivery.serve
        recruitment.run()  # delivery serves the asks due by each randomisation as it goes
        delivery.finish()  # and the asks still to come
    people = recruitment.participants
    male, single = baseline_covariates(len(people), params.baseline, streams[BASELINE_STREAM])
    for person, m, s in zip(people, male.tolist(), single.tolist(), strict=True):
        person.male, person.single = m, s
    return Pathway(params, seed, rep, recruitment, tuple(people),
                   Cohort.of(people, PRIMARY_CARE), fu_days)


def outcomes_of(pathway: Pathway, outcome: Outcome | None = None) -> ReplicationResult:
    """The replication's outcomes and follow-up drawn on its pathway, from its own
    outcome streams (fresh each call: the same draws every time). `outcome`: another
    outcome model on the same pathway (None: the replication's own), as a run with only
    `params.outcome` changed would draw it, to the last bit: nothing before the outcomes
    reads it (the design check's outcome sensitivities, trialsim.experiments.design).
    Not with drawn parameters: a run of its own would draw the outcome model too."""
    return outcomes_of_trials([pathway], outcome)[0]


def outcomes_of_trials(pathways: list[Pathway],
                       outcome: Outcome | None = None) -> list[ReplicationResult]:
    """outcomes_of for each pathway, to the last bit, those of the same parameters
    drawn together: their scores, returns and item completion as one set of array
    operations over all their participants (each trial's draws from its own streams, in
    its own order; trialsim.model.outcomes.scores_of_trials,
    trialsim.model.followup.follow_up_trials), since one trial's are mostly numpy's
    overhead on small arrays. Pathways with their own parameters (drawn, or a rescue
    plan's) are drawn one at a time."""
    if outcome is not None and any(p.params.uncertainty is not None for p in pathways):
        raise ValueError("another outcome model on a pathway needs fixed parameters")
    if not pathways:
        return []
    first = pathways[0]
    if len(pathways) > 1 and not all(p.params is first.params and p.fu_days == first.fu_days
                                     for p in pathways):
        return [r for p in pathways for r in outcomes_of_trials([p], outcome)]
    params = first.params if outcome is None else replace(first.params, outcome=outcome)
    streams = [Streams(p.seed, p.rep) for p in pathways]
    fu, d = params.follow_up, params.delivery
    cohort, bounds = (first.cohort, np.array([0, len(first.cohort.ips)])) \
        if len(pathways) == 1 else joined([p.cohort for p in pathways])
    fu_days = dict(first.fu_days)
    if "text_from" in fu_days:
        fu_days["text_rngs"] = [s[TEXT_STREAM] for s in streams]
    received = received_as_intended(cohort, params.outcome)
    share = effect_share(cohort, params.outcome, received)
    # the scores first (their own stream): a return may depend on the score at the wave
    scores = scores_of_trials(
        ips=cohort.ips, esw=cohort.esw,
        working=working_at(cohort, wave_days(cohort, fu)), months=fu.months,
        o=params.outcome, n_esw=params.localities * d.esw_per_locality,
        rngs=[s["outcome"] for s in streams], bounds=bounds, share=share)
    shift = return_shift(cohort.male, cohort.single, cohort.years_out_of_work, scores, fu,
                         params.outcome)
    waves = follow_up_trials(cohort, bounds, fu, [s["follow_up"] for s in streams],
                             shift=shift, items_rngs=[s[ITEMS_STREAM] for s in streams],
                             **fu_days)
    return [_result(p, params, _waves_rows(waves, a, b), scores[a:b], received[a:b],
                    share[a:b])
            for p, a, b in zip(pathways, bounds[:-1].tolist(), bounds[1:].tolist(),
                               strict=True)]


def _waves_rows(waves: Waves, a: int, b: int) -> Waves:
    """One trial's rows a:b of several trials' waves."""
    cut = {f.name: (v[a:b] if isinstance(v := getattr(waves, f.name), np.ndarray) else v)
           for f in fields(Waves)}
    return Waves(**cut)


def _result(pathway: Pathway, params: ModelParams, waves: Waves, scores: np.ndarray,
            received: np.ndarray, share: np.ndarray) -> ReplicationResult:
    fu = params.follow_up
    measured = None
    if fu.esw_mode_effect and waves.esw_assisted is not None and waves.esw_assisted.any():
        measured = scores.copy()
        measured[:, 1:] = np.clip(measured[:, 1:] + fu.esw_mode_effect * waves.esw_assisted,
                                  0.0, 10.0)  # the scale's range, as the scores are
    recruitment = pathway.recruitment
    return ReplicationResult(
        rep=pathway.rep,
        close_reason=recruitment.close_reason,
        close_day=recruitment.close_day,
        sites=tuple(recruitment.sites),
        participants=pathway.people,
        channels=recruitment.channels,
        funnel_counts=recruitment.funnel_counts(),
        waves=waves,
        rtw_se=scores,
        received=received,
        effect_share=share,
        cohort=pathway.cohort,
        rtw_se_measured=measured,
        packs=recruitment.packs(),
        nurse_visits=tuple(recruitment.nurse_visits),
        call_days=recruitment.call_days(),
    )


def simulate_replication(params: ModelParams, seed: int, rep: int,
                         rescue_day: float | None = None,
                         engine: str | None = None) -> ReplicationResult:
    """Run replication `rep` from its own streams: its pathway (`simulate_pathway`),
    then its outcomes and follow-up drawn from the recorded pathways (`outcomes_of`)."""
    return outcomes_of(simulate_pathway(params, seed, rep, rescue_day, engine))
