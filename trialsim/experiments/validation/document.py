"""docs/validation.md and its figures from the results of a validation run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trialsim.experiments.validation.core import FAIL, LISTED, PASS, Case, Result
from trialsim.reporting.figures.style import OKABE_ITO, figure_style, new_figure, save

FIGURE_DIR = "validation"  # beside validation.md


def _num(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    if float(x).is_integer() and abs(x) >= 1:
        return f"{x:.0f}"
    return f"{x:.3f}" if abs(x) < 100 else f"{x:.1f}"


def markdown(cases: Sequence[Case], results: dict[str, list[Result]], command: str,
             seconds: float, figures: Sequence[str]) -> str:
    judged = [r for rs in results.values() for r in rs if r.status != LISTED]
    failed = [r for r in judged if r.status == FAIL]
    listed = [r for rs in results.values() for r in rs if r.status == LISTED]
    lines = [
        "# Validation of trialsim",
        "",
        f"Written by `{command}` ({seconds:.0f} s). Every case is seeded: the same command "
        "gives the same numbers. A case passes when each of its checks passes; the rule of "
        "each check is in its row (MC SE: Monte Carlo standard error of the simulated value).",
        "",
        f"**{len(judged) - len(failed)} of {len(judged)} checks pass"
        + (f"; {len(failed)} fail" if failed else "") + "**"
        + (f"; {len(listed)} checks the model or its analysis knowingly misses are listed "
           "with their reasons." if listed else "."),
        "",
        "| case | checks | result |",
        "|---|---|---|",
    ]
    for case in cases:
        if case.id not in results:
            continue
        rs = results[case.id]
        bad = sum(r.status == FAIL for r in rs)
        n_listed = sum(r.status == LISTED for r in rs)
        verdict = "FAIL" if bad else "pass"
        extra = f" ({n_listed} listed)" if n_listed else ""
        lines.append(f"| [{case.id}](#{case.id.replace('_', '-')}) {case.title} | "
                     f"{len(rs) - n_listed}{extra} | {verdict} |")
    lines += ["", *(f"![{f}]({FIGURE_DIR}/{f})" for f in figures), ""]
    group = None
    for case in cases:
        if case.id not in results:
            continue
        if case.group != group:
            group = case.group
            lines += [f"## {group}", ""]
        lines += [f"### {case.id}", "", case.title + ".", "",
                  "| quantity | expected | simulated | interval | rule | result |",
                  "|---|---|---|---|---|---|"]
        for r in results[case.id]:
            result = r.status if not r.note else f"{r.status}: {r.note}"
            lines.append(f"| {r.quantity} | {_num(r.expected)} | {_num(r.simulated)} | "
                         f"[{_num(r.low)}, {_num(r.high)}] | {r.rule} | {result} |")
        lines.append("")
    return "\n".join(lines)


def standardised_figure(results: dict[str, list[Result]], out: Path, caption: str) -> list[Path]:
    """Every check with a Monte Carlo SE as (simulated - expected) / SE; a listed one in
    orange, a failed one in red."""
    rows = [r for rs in results.values() for r in rs if math.isfinite(r.z)]
    with figure_style():
        fig = new_figure(7.5, 1.4 + 0.16 * max(len(rows), 1), caption)
        ax = fig.subplots()
        y = np.arange(len(rows))[::-1]
        colors = [OKABE_ITO["vermillion"] if r.status == FAIL else OKABE_ITO["orange"]
                  if r.status == LISTED else OKABE_ITO["blue"] for r in rows]
        ax.scatter([r.z for r in rows], y, color=colors, s=14, zorder=3)
        for bound, style in ((3, ":"), (4, "--")):
            for sign in (-1, 1):
                ax.axvline(sign * bound, color=OKABE_ITO["black"], ls=style, lw=0.8)
        ax.axvline(0, color=OKABE_ITO["grey"], lw=0.8)
        ax.set_yticks(y, [f"{r.case}: {r.quantity}"[:70] for r in rows], fontsize=5.5)
        ax.set_xlabel("(simulated - expected) / Monte Carlo SE  (dotted: 3 SE, dashed: 4 SE)"
                      "\nblue: pass, orange: listed with its reason, red: fail")
        ax.set_title("Analytic and calibration checks, standardised", loc="left")
        lim = max(5.0, max((abs(r.z) for r in rows), default=0) + 0.5)
        ax.set_xlim(-lim, lim)
        ax.grid(axis="x", alpha=0.3)
        return save(fig, out)


def replay_figure(results: Sequence[Result], out: Path, caption: str) -> list[Path]:
    """Each pilot count against its simulated 90% interval, scaled to that interval."""
    with figure_style():
        fig = new_figure(7.5, 1.4 + 0.16 * max(len(results), 1), caption)
        ax = fig.subplots()
        y = np.arange(len(results))[::-1]
        for yi, r in zip(y, results, strict=True):
            width = max(r.high - r.low, 1e-9)
            pos = (r.expected - r.low) / width
            mean = (r.simulated - r.low) / width
            color = {PASS: OKABE_ITO["blue"], FAIL: OKABE_ITO["vermillion"],
                     LISTED: OKABE_ITO["orange"]}[r.status]
            ax.plot([0, 1], [yi, yi], color=OKABE_ITO["grey"], lw=2.5, alpha=0.5)
            ax.scatter([mean], [yi], marker="|", color=OKABE_ITO["black"], s=30, zorder=3)
            ax.scatter([min(max(pos, -0.6), 1.6)], [yi], color=color, s=14, zorder=4)
        ax.set_yticks(y, [r.quantity[:60] for r in results], fontsize=5)
        ax.set_xlim(-0.7, 1.7)
        ax.set_xticks([0, 0.5, 1], ["5th percentile", "", "95th percentile"])
        ax.set_xlabel("pilot count on its simulated 90% interval (grey bar); black tick: "
                      "simulated mean\ndot: blue inside, orange a listed misfit, red outside")
        ax.set_title("The pilot replayed: every reported count", loc="left")
        return save(fig, out)
