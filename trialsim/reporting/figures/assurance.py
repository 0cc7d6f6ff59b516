"""Assurance: the distribution of the drawn effect, and a ranked sensitivity (tornado)
chart of which uncertain inputs move the probability of success.

Drawn from `assurance_parameters.csv`: one row per replication, one column per drawn
input, `success` and `target_reached` (0/1). For each input, P(success) among the
replications that drew it in its lowest third and in its highest third; inputs ranked
by the gap (trialsim.reporting.sensitivity, as summary.json's table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trialsim.reporting import keys, labels
from trialsim.reporting.figures.style import OKABE_ITO, TEXT_WIDTH, figure_style, new_figure, save
from trialsim.reporting.files import ASSURANCE_PARAMETERS as FILE
from trialsim.reporting.rundir import RunDir
from trialsim.reporting.sensitivity import FLAGS, SUCCESS, TARGET, sensitivity

__all__ = ["FILE", "assurance_figure", "effect_column", "sensitivity"]
TOP = 12  # inputs shown


def effect_column(table: pd.DataFrame) -> str | None:
    named = [c for c in table.columns if c not in FLAGS and "effect" in c]
    return (sorted(named, key=len)[0]) if named else None


def assurance_figure(run: RunDir, out: Path) -> list[Path]:
    table = run.csv(FILE)
    summary = run.summary or {}
    base = float(table[SUCCESS].mean())
    # the planning figure: the target reached in time and the primary analysis rejects
    joint = keys.get(summary, "assurance_joint")
    if joint is None and TARGET in table:
        joint = float((table[SUCCESS].astype(bool) & table[TARGET].astype(bool)).mean())
    sens = sensitivity(table).head(TOP)
    eff = effect_column(table)
    with figure_style():
        fig = new_figure(TEXT_WIDTH, 3.4 + 0.3 * max(len(sens), 6),
                         run.caption(keys.get(summary, "replications"),
                                     keys.get(summary, "seed"))
                         + "  |  success: the primary analysis rejects in favour of IPS")
        left, right = fig.subplots(2, 1, height_ratios=[2.4, 0.3 * max(len(sens), 6)])
        if eff is not None:
            x = table[eff].astype(float)
            bins = np.histogram_bin_edges(x, bins=30)
            left.hist([x[table[SUCCESS] == 1], x[table[SUCCESS] == 0]], bins=bins, stacked=True,
                      color=[OKABE_ITO["blue"], OKABE_ITO["orange"]],
                      label=["trial succeeded", "trial failed"])
            left.set_xlabel(f"{labels.label(eff)}, as drawn (points)")
            left.set_ylabel("replications")
            left.legend(frameon=False, loc="upper left", fontsize=7)
        title = (f"Assurance {joint:.2f}: P(target reached in time and the primary analysis "
                 f"rejects)\nthe primary analysis rejects: {base:.2f}" if joint is not None
                 else f"Assurance {base:.2f}: P(the primary analysis rejects)")
        left.set_title(title, loc="left")
        left.grid(alpha=0.3)
        y = np.arange(len(sens))[::-1]
        for yi, r in zip(y, sens.itertuples(), strict=True):
            right.plot([r.low, r.high], [yi, yi], color="#bbbbbb", lw=5, solid_capstyle="butt")
            right.plot(r.low, yi, "o", color=OKABE_ITO["orange"], ms=5)
            right.plot(r.high, yi, "o", color=OKABE_ITO["blue"], ms=5)
            right.text(1.01, yi, f"{r.difference:+.2f} ({r.difference_mc_se:.2f})",
                       ha="left", va="center", fontsize=7, color="#555555",
                       transform=right.get_yaxis_transform())
        right.plot([], [], "o", color=OKABE_ITO["orange"], label="input in its lowest third")
        right.plot([], [], "o", color=OKABE_ITO["blue"], label="input in its highest third")
        right.axvline(base, color=OKABE_ITO["black"], ls="--", lw=1,
                      label=f"overall P(success) {base:.2f}")
        right.set_yticks(y, [labels.label(k) for k in sens["input"]], fontsize=7.5)
        right.set_xlim(0, 1)
        right.set_xlabel("P(success) among replications (right: high - low, MC SE)")
        right.set_title("Which uncertain inputs move P(the primary analysis rejects)",
                        loc="left")
        right.grid(axis="x", alpha=0.3)
        right.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.4, -0.14 * 6 /
                                                                        max(len(sens), 6)),
                     ncol=2)
        return save(fig, out / "assurance.png")
