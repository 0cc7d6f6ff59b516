"""Amber means act: the internal pilot's rescue plan, from the review day on.

At an amber review the trial opens `extra_sites` more sites of one kind (approved on the
review day, each opening after its kind's random set-up delay) and may switch on a
retention strategy for the waves due from then on. The rest of the trial is simulated
with it.

Why a second run of the replication from the same streams, not an action taken inside
the first run: the committee's verdict reads the questionnaires returned by the
review, and the follow-up is drawn after the run from the recorded pathways (it feeds
nothing back), so no process at the review day could see them. Nothing the plan does
acts before the review day (the extra sites open after it, the strategy covers waves
due after it), and the extra sites draw from streams of their own
("progression/extra_sites/<kind>", their responders' "responders/<kind>/extra<i>/..."),
so the second run's recruitment and delivery up to the review are the first run's, and
the verdict it would have reached is the same. A run without the plan is bit-identical
to one before the plan existed. The follow-up's draws are per participant in order, so
they are reshuffled once the plan adds participants (the same law, other draws).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import gammaincinv

from trialsim.inputs.evidence import Proportion
from trialsim.inputs.params import ModelParams, SiteType
from trialsim.inputs.progression import AmberAction
from trialsim.model.sites import Site, gamma_frailty
from trialsim.streams import Streams

STREAM = "progression/extra_sites"
TEXT_STREAM = "progression/text_followup"


def rescue_kind(params: ModelParams, action: AmberAction) -> SiteType:
    """The kind of site the plan opens: the one named, else the scenario's most numerous
    (the first on a tie)."""
    if action.site_kind is not None:
        return next(st for st in params.site_types if st.name == action.site_kind)
    return max(params.site_types, key=lambda st: st.count)


def extra_sites(params: ModelParams, streams: Streams, action: AmberAction, review_day: float,
                first_index: int) -> list[Site]:
    """`action.extra_sites` sites of the plan's kind, approved on `review_day`: site i
    takes row i of its own stream's uniforms (one per channel for its uptake, one for
    its frailty, one for its set-up delay), as trialsim.model.sites draws the scenario's."""
    st = rescue_kind(params, action)
    m, n_ch = action.extra_sites, len(st.channels)
    u = streams[f"{STREAM}/{st.name}"].random((m, n_ch + 2))
    frailty = gamma_frailty(st.frailty_shape, u[:, n_ch]).tolist()
    o = st.opening
    delay = (gammaincinv(o.setup_delay_shape, u[:, n_ch + 1])
             * (o.setup_delay_mean_days / o.setup_delay_shape)
             if o.setup_delay_mean_days > 0 else np.zeros(m))
    sites = []
    for i in range(m):
        index = first_index + i
        opens = review_day + float(delay[i])
        sites.append(Site(
            index=index, key=f"{st.name}/extra{i}", type=st, locality=index % params.localities,
            open_day=opens, close_day=min(opens + o.active_days, params.window_days),
            frailty=frailty[i],
            channels=tuple(ch for c, ch in enumerate(st.channels) if u[i, c] < ch.uptake)))
    return sites


def with_retention(params: ModelParams, action: AmberAction) -> tuple[ModelParams, str | None]:
    """The parameters with the plan's retention strategy on (if it was off), and which
    strategy the plan switched on (None: none, or it was already on for every wave)."""
    fu, name = params.follow_up, action.retention
    if name is None or getattr(fu, name) is not None:
        return params, None
    fu = dataclasses.replace(fu, **{name: Proportion(action.retention_value)})
    return dataclasses.replace(params, follow_up=fu), name
