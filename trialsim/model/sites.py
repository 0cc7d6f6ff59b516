"""The sites of one replication: when each opens and closes, how keen it is, which
channels it runs. Drawn once per replication from per-site streams (common random
numbers: site i of a type gets the same draws whatever the number of sites)."""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def channel_uptake(st: SiteType, channel: str, uptake: float, streams: Streams) -> set[int]:
    """Which sites run a channel: the round(uptake * count) with the smallest of one
    uniform draw per site (per-site streams, so a site keeps its draw when sites are
    added)."""
    n_running = int(math.floor(uptake * st.count + 0.5))
    u = [streams[f"uptake/{st.name}/{i}/{channel}"].random() for i in range(st.count)]
    return set(sorted(range(st.count), key=u.__getitem__)[:n_running])


def _open_day(st: SiteType, i: int, streams: Streams) -> float:
    o = st.opening
    if o.days is not None:
        return o.days[i]
    day = o.first_day + i * o.interval_days
    if o.setup_delay_mean_days > 0:
        rng = streams[f"opening/{st.name}/{i}"]
        day += float(rng.gamma(o.setup_delay_shape, o.setup_delay_mean_days / o.setup_delay_shape))
    return day


def build_sites(params: ModelParams, streams: Streams) -> list[Site]:
    sites: list[Site] = []
    for st in params.site_types:
        running = {ch.name: channel_uptake(st, ch.name, ch.uptake, streams)
                   for ch in st.channels}
        for i in range(st.count):
            open_day = _open_day(st, i, streams)
            sites.append(Site(
                index=len(sites),
                key=f"{st.name}/{i}",
                type=st,
                locality=len(sites) % params.localities,
                open_day=open_day,
                close_day=min(open_day + st.opening.active_days, params.window_days),
                frailty=gamma_frailty(st.frailty_shape, streams[f"frailty/{st.name}/{i}"]),
                channels=tuple(ch for ch in st.channels if i in running[ch.name]),
            ))
    return sites
