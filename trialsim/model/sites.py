"""The sites of one replication: when each opens and closes, how keen it is, which
channels it runs. Drawn once per replication from one stream per site (common random
numbers: site i of a type gets the same draws whatever the number of sites)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trialsim.inputs.params import Channel, ModelParams, SiteType
from trialsim.model.streams import Streams


@dataclass(frozen=True, slots=True)
class Site:
    index: int  # across all types
    key: str  # "gp_practices/3": names the site's random streams
    type: SiteType
    locality: int
    open_day: float
    close_day: float  # when it stops recruiting (math.inf: when recruitment closes)
    frailty: float  # multiplies every recruitment rate of the site; mean 1
    channels: tuple[Channel, ...]


def gamma_frailty(shape: float, rng) -> float:
    """Gamma(shape, scale 1/shape): mean 1, variance 1/shape; shape inf gives 1."""
    return 1.0 if math.isinf(shape) else float(rng.gamma(shape, 1.0 / shape))


def channel_uptake(st: SiteType, c: int, uptake: float, u: np.ndarray) -> set[int]:
    """Which sites run channel `c` of the type: the round(uptake * count) with the
    smallest of their uniform draws u[site, c] (each site draws its own, so a site keeps
    its draw when sites are added). All or none need no ranking."""
    n_running = int(math.floor(uptake * st.count + 0.5))
    if n_running >= st.count:
        return set(range(st.count))
    return set(np.argsort(u[:, c], kind="stable")[:n_running].tolist())


def _open_day(st: SiteType, i: int, rng: np.random.Generator) -> float:
    o = st.opening
    if o.days is not None:
        return o.days[i]
    day = o.first_day + i * o.interval_days
    if o.setup_delay_mean_days > 0:
        day += float(rng.gamma(o.setup_delay_shape, o.setup_delay_mean_days / o.setup_delay_shape))
    return day


def build_sites(params: ModelParams, streams: Streams) -> list[Site]:
    """One stream per site, drawn in a fixed order: a uniform per channel (uptake), the
    frailty, then the set-up delay."""
    sites: list[Site] = []
    for st in params.site_types:
        rngs = [streams[f"site/{st.name}/{i}"] for i in range(st.count)]
        u = np.array([rng.random(len(st.channels)) for rng in rngs]).reshape(
            st.count, len(st.channels))
        running = [channel_uptake(st, c, ch.uptake, u) for c, ch in enumerate(st.channels)]
        for i, rng in enumerate(rngs):
            frailty = gamma_frailty(st.frailty_shape, rng)
            open_day = _open_day(st, i, rng)
            sites.append(Site(
                index=len(sites),
                key=f"{st.name}/{i}",
                type=st,
                locality=len(sites) % params.localities,
                open_day=open_day,
                close_day=min(open_day + st.opening.active_days, params.window_days),
                frailty=frailty,
                channels=tuple(ch for c, ch in enumerate(st.channels) if i in running[c]),
            ))
    return sites
