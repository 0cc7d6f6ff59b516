"""The allocation ratio as a design lever: what a design search needs to try IPS:TAU
ratios beside N, ESWs, sites and months.

- the candidate list itself ("1:1", "2:3", "1:2") is checked with the config
  (`trialsim.inputs.allocation_ratio.ratio_candidates`);
- `ratio_changes(cfg, ratio)`: the config changes that run one candidate ratio
  (`inputs.compose.with_changes(cfg, ratio_changes(cfg, r))`), with block sizes that hold
  it (the configured ones if they do, else 2 and 3 repeats of the ratio);
- `ips_per_esw(n, ratio, esws)`: the IPS participants each ESW takes on over the trial
  (the caseload side of the lever);
- `rescaled_unclustered(a, ...)`: PowerGuess's unclustered term `a` (variance x N)
  calibrated at one ratio, moved to another. The between-ESW term b / K does not
  depend on the ratio (it rests on K ESW means); the rest is sd_ips^2 (1 - icc) /
  (p N) + sd_tau^2 / ((1 - p) N) for an IPS share p, so a(p) = sd_ips^2 (1 - icc) / p
  + sd_tau^2 / (1 - p) up to the factor PowerGuess fits. A search over ratios either
  keeps one PowerGuess per ratio or moves the first one's `a` with this.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig

from trialsim.inputs.allocation_ratio import (
    BLOCKS_KEY,
    KEY,
    AllocationRatio,
    blocks_for,
)


def ratio_changes(cfg: DictConfig, ratio: AllocationRatio) -> dict[str, Any]:
    """The two keys that run `cfg` at `ratio`: the ratio, and block sizes that hold it
    (unchanged at 1:1 with the default [4, 6]: the run is today's, draw for draw)."""
    sizes = cfg.trial.block_sizes
    configured = tuple(sizes) if isinstance(sizes, (list, tuple, ListConfig)) else ()
    return {KEY: ratio.text, BLOCKS_KEY: list(blocks_for(ratio, configured))}


def ips_per_esw(n: float, ratio: AllocationRatio, esws: int) -> float:
    """Expected IPS participants per ESW over the trial: N's IPS share over the ESWs."""
    return ratio.expected_counts(n)[0] / esws


def unclustered_factor(share: float, var_ips: float, var_tau: float) -> float:
    """N x the unclustered variance of the arm difference at IPS share `share`:
    var_ips / p + var_tau / (1 - p) (var_ips: the IPS arm's within-ESW variance)."""
    return var_ips / share + var_tau / (1 - share)


def rescaled_unclustered(a: float, from_ratio: AllocationRatio, to_ratio: AllocationRatio,
                         var_ips: float, var_tau: float) -> float:
    """PowerGuess's `a`, calibrated at `from_ratio`, at `to_ratio`."""
    return a * (unclustered_factor(to_ratio.ips_share, var_ips, var_tau)
                / unclustered_factor(from_ratio.ips_share, var_ips, var_tau))
