"""The sites of one replication: when each opens and closes, how keen it is, which
channels it runs. Drawn once per replication from one stream per kind of site, one row
of uniforms per site, turned into draws by inversion (common random numbers: site i of a
kind gets the same row, so the same draws, whatever the number of sites)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaincinv

from trialsim.inputs.params import Channel, ModelParams, SiteType
from trialsim.streams import Streams


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


def gamma_frailty(shape: float, u: np.ndarray) -> np.ndarray:
    """Gamma(shape, scale 1/shape) at uniforms u (inverse CDF): mean 1, variance
    1/shape; shape inf gives 1."""
    return np.ones_like(u) if math.isinf(shape) else gammaincinv(shape, u) / shape


def channel_uptake(st: SiteType, c: int, uptake: float, u: np.ndarray) -> set[int]:
    """Which sites run channel `c` of the type: the round(uptake * count) with the
    smallest of their uniforms u[site, c] (each site has its own, so a site keeps its
    draw when sites are added). All or none need no ranking."""
    n_running = int(math.floor(uptake * st.count + 0.5))
    if n_running >= st.count:
        return set(range(st.count))
    return set(np.argsort(u[:, c], kind="stable")[:n_running].tolist())


def _open_days(st: SiteType, u: np.ndarray) -> np.ndarray:
    """Opening day of each site: listed, or regular with a Gamma set-up delay drawn at
    uniforms u (inverse CDF)."""
    o = st.opening
    if o.days is not None:
        return np.array(o.days, dtype=float)
    days = o.first_day + np.arange(st.count) * o.interval_days
    if o.setup_delay_mean_days > 0:
        days = days + gammaincinv(o.setup_delay_shape, u) * (
            o.setup_delay_mean_days / o.setup_delay_shape)
    return days


def build_sites(params: ModelParams, streams: Streams) -> list[Site]:
    """Site i of a kind takes row i of its kind's uniforms: one per channel (uptake),
    one for its frailty, one for its set-up delay."""
    sites: list[Site] = []
    for st in params.site_types:
        if not st.count:  # no sites of the kind: its stream is never needed
            continue
        n_ch = len(st.channels)
        u = streams[f"sites/{st.name}"].random((st.count, n_ch + 2))
        running = [channel_uptake(st, c, ch.uptake, u) for c, ch in enumerate(st.channels)]
        frailty = gamma_frailty(st.frailty_shape, u[:, n_ch]).tolist()
        opens = _open_days(st, u[:, n_ch + 1]).tolist()
        for i in range(st.count):
            sites.append(Site(
                index=len(sites),
                key=f"{st.name}/{i}",
                type=st,
                locality=len(sites) % params.localities,
                open_day=opens[i],
                close_day=min(opens[i] + st.opening.active_days, params.window_days),
                frailty=frailty[i],
                channels=tuple(ch for c, ch in enumerate(st.channels) if i in running[c]),
            ))
    return sites
