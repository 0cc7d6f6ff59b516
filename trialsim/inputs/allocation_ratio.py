"""The allocation ratio IPS:TAU (`trial.allocation_ratio`), checked, and what follows from
it before anything is simulated: each arm's expected share and count, and block sizes
that hold the ratio exactly.

Written "IPS:TAU" ("1:1", "2:3", "1:2"): a string that Hydra overrides and sweeps take
as it is (`trial.allocation_ratio=1:1,2:3,1:2`). In YAML it must be quoted ("1:2"):
YAML 1.1 reads an unquoted 1:2 as the base-60 integer 62, which is refused here by
name. The ratio is kept in lowest terms (2:4 is 1:2), so a block holds the ratio
whole when its size is a multiple of IPS + TAU.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trialsim.errors import ConfigError
from trialsim.inputs.checks import MAX_BLOCK, number, reject

KEY = "trial.allocation_ratio"
BLOCKS_KEY = "trial.block_sizes"
AUTO_BLOCKS = "auto"  # trial.block_sizes=auto: 2 and 3 repeats of the ratio
MAX_PART = 10  # each side of the ratio: beyond 10:1 a block is mostly one arm
BLOCK_REPEATS = (2, 3)  # suggested blocks: 2 and 3 repeats of the ratio ([4, 6] at 1:1)
_FORM = re.compile(r"\s*(\d+)\s*:\s*(\d+)\s*")
ALLOWED = (f"IPS:TAU as two whole numbers from 1 to {MAX_PART}, e.g. \"1:1\", \"2:3\" or "
           "\"1:2\" (quoted in YAML: an unquoted 1:2 is read as the number 62)")


@dataclass(frozen=True)
class AllocationRatio:
    """IPS:TAU in lowest terms."""

    ips: int = 1
    tau: int = 1

    @property
    def total(self) -> int:
        """The smallest block that holds the ratio exactly."""
        return self.ips + self.tau

    @property
    def ips_share(self) -> float:
        return self.ips / self.total

    @property
    def text(self) -> str:
        return f"{self.ips}:{self.tau}"

    @property
    def equal(self) -> bool:
        return self.ips == self.tau

    def expected_counts(self, n: float) -> tuple[float, float]:
        """Expected (IPS, TAU) among n randomised: exact shares of n (blocks keep the
        arms within half a block of them in each stratum)."""
        return n * self.ips / self.total, n * self.tau / self.total

    def block_arms(self, size: int) -> tuple[int, int]:
        """(IPS, TAU) in a block of `size`, a multiple of `total`."""
        repeats = size // self.total
        return repeats * self.ips, repeats * self.tau

    def suggested_blocks(self) -> tuple[int, ...]:
        """Block sizes of 2 and 3 repeats of the ratio: [4, 6] at 1:1, the default."""
        return tuple(r * self.total for r in BLOCK_REPEATS)

    def fits(self, block_sizes: Sequence[int]) -> bool:
        return all(b % self.total == 0 for b in block_sizes)


EQUAL = AllocationRatio(1, 1)


def parse_ratio(value: object, key: str = KEY) -> AllocationRatio:
    """The ratio "IPS:TAU" in lowest terms, or ConfigError naming the key (inside
    `collecting()`: recorded, and 1:1 goes on in its place)."""
    match = _FORM.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return reject(ConfigError(key, value, ALLOWED), EQUAL)
    ips, tau = int(match.group(1)), int(match.group(2))
    if not (1 <= ips <= MAX_PART and 1 <= tau <= MAX_PART):
        return reject(ConfigError(key, value, ALLOWED), EQUAL)
    g = math.gcd(ips, tau)
    return AllocationRatio(ips // g, tau // g)


def block_size_allowed(ratio: AllocationRatio) -> str:
    """What `trial.block_sizes` must hold at this ratio, for the one-line error."""
    if ratio.equal:
        return "an even block size (1:1 allocation)"  # today's message, unchanged
    sizes = ", ".join(str(b) for b in ratio.suggested_blocks())
    return (f"a multiple of {ratio.total}, so that each block holds {KEY}={ratio.text} "
            f"exactly (e.g. {BLOCKS_KEY}=[{sizes}], or {BLOCKS_KEY}={AUTO_BLOCKS})")


def build_block_sizes(value: object, ratio: AllocationRatio) -> tuple[int, ...]:
    """`trial.block_sizes` checked against the ratio: a list of sizes, each a multiple of
    IPS + TAU (even at 1:1, as before the ratio existed), or `auto` for 2 and 3 repeats
    of the ratio (a sweep over ratios needs no block sizes of its own)."""
    if value == AUTO_BLOCKS:
        return ratio.suggested_blocks()
    if not isinstance(value, Sequence) or isinstance(value, str) or not len(value):
        sizes = ", ".join(str(b) for b in ratio.suggested_blocks())
        each = ("even sizes >= 2" if ratio.equal else
                f"sizes, each a multiple of {ratio.total} ({KEY}={ratio.text})")
        return reject(ConfigError(BLOCKS_KEY, _plain(value),
                                  f"a non-empty list of {each}, e.g. [{sizes}], or "
                                  f"{AUTO_BLOCKS}"), ratio.suggested_blocks())
    out = []
    for i, b in enumerate(value):
        b = number(f"{BLOCKS_KEY}[{i}]", b, lo=2, hi=MAX_BLOCK, integer=True)
        if b % ratio.total:
            reject(ConfigError(f"{BLOCKS_KEY}[{i}]", b, block_size_allowed(ratio)), None)
        out.append(int(b + (-b) % ratio.total))  # placeholder when refused: rounded up
    return tuple(out)


def _plain(value: object) -> object:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else value


def blocks_for(ratio: AllocationRatio, block_sizes: Sequence[int]) -> tuple[int, ...]:
    """The configured block sizes if each holds the ratio whole, else 2 and 3 repeats of
    it: the sizes a design search or a sweep over ratios sets with each ratio."""
    sizes = tuple(int(b) for b in block_sizes)
    return sizes if sizes and ratio.fits(sizes) else ratio.suggested_blocks()


def ratio_candidates(key: str, values: Any) -> tuple[AllocationRatio, ...]:
    """The distinct ratios of a non-empty list (a list of candidates to try, e.g.
    `design.allocation_ratios`), in the order given (duplicates in lowest terms dropped:
    2:4 is 1:2)."""
    if isinstance(values, str) or not isinstance(values, Sequence) or not len(values):
        return reject(ConfigError(key, values, 'a non-empty list of IPS:TAU ratios, e.g. '
                                  '["1:1", "2:3", "1:2"]'), (AllocationRatio(),))
    out: list[AllocationRatio] = []
    for i, v in enumerate(values):
        r = parse_ratio(v, f"{key}[{i}]")
        if r not in out:
            out.append(r)
    return tuple(out)


def ratio_texts(ratios: Sequence[AllocationRatio]) -> list[str]:
    return [r.text for r in ratios]
