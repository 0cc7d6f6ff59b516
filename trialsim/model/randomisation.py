"""Allocation: permuted blocks stratified by setting at the ratio IPS:TAU
(`trial.allocation_ratio`, 1:1 by default), the pilot's compromise, and that compromise
held to the pilot's counts (for the replay conditioned on them)."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from trialsim.inputs.allocation_ratio import EQUAL, AllocationRatio
from trialsim.inputs.params import FixedCounts
from trialsim.model.records import IPS, TAU


class Allocator(Protocol):
    def allocate(self, stratum: str, day: float) -> str: ...


class StratifiedBlocks:
    """Permuted blocks at the ratio IPS:TAU, a block size drawn at random for each new
    block; every size is a multiple of IPS + TAU (checked in inputs.params), so each
    completed block holds the ratio exactly.

    Within a stratum the arms never stray from the ratio by more than one block's worth:
    at 1:1 the imbalance never exceeds half the largest block. At 1:1 the draws are
    those of the 1:1 rule before the ratio existed (same stream, same calls).
    """

    def __init__(self, block_sizes: tuple[int, ...], rng: np.random.Generator,
                 ratio: AllocationRatio = EQUAL) -> None:
        bad = [b for b in block_sizes if b % ratio.total]
        if bad:
            raise ValueError(f"block sizes {bad} do not hold the ratio {ratio.text}")
        self.block_sizes = block_sizes
        self.rng = rng
        self.ratio = ratio
        self._pending: dict[str, list[str]] = {}

    def allocate(self, stratum: str, day: float) -> str:
        pending = self._pending.setdefault(stratum, [])
        if not pending:
            pending.extend(self._block())
        return pending.pop()

    def _block(self) -> list[str]:
        """A new block: a size drawn uniformly, then a uniform order of its arms (its
        last arm allocated first)."""
        size = self.block_sizes[int(self.rng.integers(len(self.block_sizes)))]
        ips, tau = self.ratio.block_arms(size)
        block = [IPS] * ips + [TAU] * tau
        self.rng.shuffle(block)
        return block

    def ahead(self, stratum: str, n: int) -> list[str]:
        """The next `n` arms of `stratum`, as n calls of `allocate` give them (the same
        draws, blocks drawn as the last is used up), without a call per arm: what the
        compiled coordinator's loop is handed (trialsim.model.recruitment_pass)."""
        pending = self._pending.setdefault(stratum, [])
        arms = pending[::-1]
        pending.clear()
        while len(arms) < n:
            arms += self._block()[::-1]  # allocate pops from the end
        pending.extend(arms[n:][::-1])
        return arms[:n]


class PilotCapacity:
    """The pilot's compromise (WP4 "Randomisation"): random blocks at first, then IPS
    for every recruit while IPS places remain and IPS could still give 12 months of
    support, then TAU."""

    def __init__(self, blocks: StratifiedBlocks, random_until_day: float,
                 ips_until_day: float, ips_places: int | None) -> None:
        self.blocks = blocks
        self.random_until_day = random_until_day
        self.ips_until_day = ips_until_day
        self.ips_left = math.inf if ips_places is None else ips_places

    def allocate(self, stratum: str, day: float) -> str:
        if day < self.random_until_day and self.ips_left > 0:
            arm = self.blocks.allocate(stratum, day)
        else:
            arm = IPS if day < self.ips_until_day and self.ips_left > 0 else TAU
        if arm == IPS:
            self.ips_left -= 1
        return arm


class Quotas:
    """A rule held to fixed counts per setting and arm: the recruit gets the rule's arm
    while that arm has places left in the setting, else the other arm; once both are
    full the recruit is over quota and gets TAU (no ESW place to take from the others),
    for the pilot replay to leave out. Held to the pilot's counts, the pilot's rule keeps
    its time order (IPS to earlier recruits) and gives exactly the pilot's allocation to
    the first recruits of each setting, drawing nothing beyond the rule's own draws.
    A setting without counts has none: all its recruits are over quota."""

    def __init__(self, rule: Allocator, fixed: FixedCounts) -> None:
        self.rule = rule
        self.left = {setting: {IPS: ips, TAU: tau} for setting, ips, tau in fixed.counts}

    def allocate(self, stratum: str, day: float) -> str:
        arm = self.rule.allocate(stratum, day)
        left = self.left.setdefault(stratum, {IPS: 0, TAU: 0})
        if not left[arm]:
            arm = TAU if arm == IPS else IPS
            if not left[arm]:
                return TAU  # over quota
        left[arm] -= 1
        return arm


def make_allocator(kind: str | FixedCounts, block_sizes: tuple[int, ...],
                   rng: np.random.Generator, random_until_day: float = 0.0,
                   ips_until_day: float = 0.0, ips_places: int | None = None,
                   ratio: AllocationRatio = EQUAL) -> Allocator:
    """The allocation `kind` names; fixed_counts is the pilot's rule (its IPS cap unused)
    held to the counts it carries. The ratio applies wherever blocks allocate (the
    pilot's rule uses them only before its deadline phase)."""
    blocks = StratifiedBlocks(block_sizes, rng, ratio)
    if kind == "blocks":
        return blocks
    if isinstance(kind, FixedCounts):
        return Quotas(PilotCapacity(blocks, random_until_day, ips_until_day, None), kind)
    return PilotCapacity(blocks, random_until_day, ips_until_day, ips_places)
