"""Assurance: the distribution of the drawn effect, and a ranked sensitivity (tornado)
chart of which uncertain inputs move the probability of success.

Drawn from `assurance_parameters.csv`: one row per replication, one column per drawn
input and `success` (0/1). For each input, P(success) among the replications that drew
it in its lowest fifth and in its highest fifth; inputs ranked by the gap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trialsim.reporting import keys
from trialsim.reporting.figures.style import OKABE_ITO, figure_style, new_figure, save
from trialsim.reporting.rundir import RunDir

FILE = "assurance_parameters.csv"
SUCCESS = "success"
FIFTH = 0.2
TOP = 12  # inputs shown


def effect_column(table: pd.DataFrame) -> str | None:
    named = [c for c in table.columns if c != SUCCESS and "effect" in c]
    return (sorted(named, key=len)[0]) if named else None


def sensitivity(table: pd.DataFrame) -> pd.DataFrame:
    """One row per drawn input: P(success) in its lowest and highest fifth, ranked."""
    ok = table[SUCCESS].astype(float)
    rows = []
    for col in table.columns:
        if col in (SUCCESS, "rep"):
            continue
        x = table[col].astype(float)
        if x.nunique() < 2:
            continue
        lo, hi = np.quantile(x, [FIFTH, 1 - FIFTH])
        low, high = ok[x <= lo], ok[x >= hi]
        if not len(low) or not len(high):
            continue
        rows.append({"input": col, "low": float(low.mean()), "high": float(high.mean()),
                     "n_low": len(low), "n_high": len(high)})
    out = pd.DataFrame(rows, columns=["input", "low", "high", "n_low", "n_high"])
    out["swing"] = (out["high"] - out["low"]).abs()
    return out.sort_values(["swing", "input"], ascending=[False, True]).reset_index(drop=True)


def assurance_figure(run: RunDir, out: Path) -> list[Path]:
    table = run.csv(FILE)
    summary = run.summary or {}
    base = float(table[SUCCESS].mean())
    sens = sensitivity(table).head(TOP)
    eff = effect_column(table)
    with figure_style():
        fig = new_figure(9.0, 0.9 + 0.32 * max(len(sens), 6),
                         run.caption(keys.get(summary, "replications"),
                                     keys.get(summary, "seed"))
                         + f"  |  success: {SUCCESS} column of {FILE}")
        left, right = fig.subplots(1, 2, width_ratios=[1, 1.6])
        if eff is not None:
            x = table[eff].astype(float)
            bins = np.histogram_bin_edges(x, bins=30)
            left.hist(x[table[SUCCESS] == 1], bins=bins, color=OKABE_ITO["blue"], alpha=0.85,
                      label="trial succeeded")
            left.hist(x[table[SUCCESS] == 0], bins=bins, color=OKABE_ITO["orange"], alpha=0.6,
                      label="trial failed")
            left.set_xlabel(f"drawn true effect ({eff}), points")
            left.set_ylabel("replications")
            left.legend(frameon=False, loc="upper left", fontsize=7)
        left.set_title(f"Drawn effect (assurance {base:.2f})", loc="left")
        left.grid(alpha=0.3)
        y = np.arange(len(sens))[::-1]
        for yi, r in zip(y, sens.itertuples(), strict=True):
            right.plot([r.low, r.high], [yi, yi], color="#bbbbbb", lw=5, solid_capstyle="butt")
            right.plot(r.low, yi, "o", color=OKABE_ITO["orange"], ms=5)
            right.plot(r.high, yi, "o", color=OKABE_ITO["blue"], ms=5)
        right.plot([], [], "o", color=OKABE_ITO["orange"], label="input in its lowest fifth")
        right.plot([], [], "o", color=OKABE_ITO["blue"], label="input in its highest fifth")
        right.axvline(base, color=OKABE_ITO["black"], ls="--", lw=1,
                      label=f"overall P(success) {base:.2f}")
        right.set_yticks(y, list(sens["input"]), fontsize=7)
        right.set_xlim(0, 1)
        right.set_xlabel("P(success) among replications")
        right.set_title("Which uncertain inputs move the probability of success", loc="left")
        right.grid(axis="x", alpha=0.3)
        right.legend(frameon=False, fontsize=7, loc="lower right")
        return save(fig, out / "assurance.png")
