"""Named random streams: one generator per stochastic process, per replication.

Stream `name` of replication `rep` is seeded from SeedSequence([seed, rep, crc32(name)]),
so it does not depend on which other streams exist, on the order they are asked for,
or on the worker that runs the replication. Replication r of every scenario therefore
draws the same numbers for the same process and site (common random numbers), and
adding a site or a channel leaves the draws of the others unchanged.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np


def stream_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def entropy_words(values: tuple[int, ...]) -> np.ndarray:
    """The uint32 words SeedSequence makes of a list of non-negative ints (each
    little-endian, 0 as one word), as an array: SeedSequence takes such an array as it
    is, several microseconds faster than the list, for the same state."""
    words = []
    for n in values:
        if n < 0:
            raise ValueError(f"expected a non-negative integer, got {n}")
        words.append(n & 0xFFFFFFFF)
        n >>= 32
        while n:
            words.append(n & 0xFFFFFFFF)
            n >>= 32
    return np.array(words, dtype=np.uint32)


Uniforms = Callable[[], float]  # one uniform in [0, 1) a call


def buffered(rng: np.random.Generator, block: int = 256) -> Uniforms:
    """Uniforms in [0, 1) from one generator, one per call, drawn from it in blocks: a
    scalar draw from numpy costs about as much as a block of a hundred. The k-th call
    returns the generator's k-th uniform, the same number as its k-th `random()` call,
    whatever the block size; the generator must not be drawn from otherwise. A
    generator's own __next__, so that a call runs no Python frame of ours."""
    def blocks():
        while True:
            yield from rng.random(block).tolist()
    return blocks().__next__


class Streams:
    """The random streams of one replication, created on first use. A stream is used
    either as a generator (`streams[name]`) or as buffered uniforms
    (`streams.uniforms(name)`), never both."""

    def __init__(self, seed: int, rep: int) -> None:
        self.seed, self.rep = seed, rep
        self._rngs: dict[str, np.random.Generator] = {}
        self._uniforms: dict[str, Uniforms] = {}

    def uniforms(self, name: str) -> Uniforms:
        u = self._uniforms.get(name)
        if u is None:
            u = self._uniforms[name] = buffered(self[name])
        return u

    def __getitem__(self, name: str) -> np.random.Generator:
        rng = self._rngs.get(name)
        if rng is None:
            ss = np.random.SeedSequence(entropy_words((self.seed, self.rep, stream_key(name))))
            # default_rng(ss) is this generator; built directly, in half the time
            rng = self._rngs[name] = np.random.Generator(np.random.PCG64(ss))
        return rng
