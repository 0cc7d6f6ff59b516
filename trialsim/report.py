"""A short plain-text result table for the terminal."""

from __future__ import annotations

from typing import Any


def _m(x: float | None) -> str:
    return "never" if x is None else f"{x:.1f}"


def result_table(summary: dict[str, Any]) -> str:
    r = summary["recruitment"]
    mt, rn = r["months_to_target"], r["randomised"]
    lines = [
        f"trialsim: scenario {summary['scenario']}, {summary['replications']} replications, "
        f"seed {summary['seed']}",
        f"  target {summary['target_n']} randomised within "
        f"{summary['recruitment_months']:g} months",
        f"  P(target reached)         {r['prob_target_by_end']:.3f} "
        f"(MC SE {r['prob_target_by_end_mc_se']:.3f})",
        f"  months to target          median {_m(mt['p50'])}  (10% {_m(mt['p10'])}, "
        f"90% {_m(mt['p90'])})",
        f"  randomised                mean {rn['mean']:.1f}  (10% {rn['p10']:.0f}, "
        f"90% {rn['p90']:.0f})",
        f"  allocation                IPS {summary['allocation']['ips']:.1f}, "
        f"TAU {summary['allocation']['tau']:.1f}",
        "  randomised by channel     "
        + ", ".join(f"{c} {v:.1f}" for c, v in r["by_channel"].items() if v > 0),
        "  funnel (mean)             "
        + " > ".join(f"{s} {v:.0f}" for s, v in r["funnel"].items()),
    ]
    return "\n".join(lines)
