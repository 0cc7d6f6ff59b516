"""Named random streams: one generator per stochastic process, per replication.

Stream `name` of replication `rep` is seeded from SeedSequence([seed, rep, crc32(name)]),
so it does not depend on which other streams exist, on the order they are asked for,
or on the worker that runs the replication. Replication r of every scenario therefore
draws the same numbers for the same process and site (common random numbers), and
adding a site or a channel leaves the draws of the others unchanged.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """The random streams of one replication, created on first use."""

    def __init__(self, seed: int, rep: int) -> None:
        self.seed, self.rep = seed, rep
        self._rngs: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        rng = self._rngs.get(name)
        if rng is None:
            ss = np.random.SeedSequence([self.seed, self.rep, stream_key(name)])
            rng = self._rngs[name] = np.random.default_rng(ss)
        return rng
