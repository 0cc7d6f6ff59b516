"""ESW capacity: each locality's caseload by month (median, 50% and 90% bands) against
its places, and below, the distribution of waits for a caseload place in weeks (the
mean and 90th percentile marked on the same weeks axis, labelled in weeks and days)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.ticker import FuncFormatter, NullFormatter

from trialsim.reporting import keys
from trialsim.reporting.figures.style import (
    OKABE_ITO,
    SERIES,
    TEXT_WIDTH,
    figure_style,
    new_figure,
    save,
)
from trialsim.reporting.rundir import RunDir


def capacity_figure(run: RunDir, out: Path) -> list[Path]:
    load, waits, summary = run.csv("caseload_by_month.csv"), run.csv("esw_waits.csv"), \
        run.summary
    localities = sorted(load["locality"].unique())
    places = float(load["places"].iloc[0]) if len(load) else math.inf
    window = keys.get(summary, "recruitment_months")
    top = 1.3 * max(float(load["p95"].max()), places if math.isfinite(places) else 0, 1)
    cols = 1 if len(localities) == 1 else 2
    rows = math.ceil(len(localities) / cols)
    with figure_style():
        fig = new_figure(TEXT_WIDTH, 1.2 + 1.7 * rows + 2.4,
                         run.caption(keys.get(summary, "replications"), keys.get(summary, "seed")))
        lfig, rfig = fig.subfigures(2, 1, height_ratios=[0.6 + 1.7 * rows, 2.4])
        axes = lfig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
        lfig.suptitle("IPS clients on each locality's ESW caseloads\n"
                      "(median, 50% and 90% of simulated trials)", x=0.02, ha="left",
                      fontsize=9)
        lfig.supxlabel("months from the start of recruitment", fontsize=8.5)
        lfig.supylabel("clients on the caseload", fontsize=8.5)
        for i, ax in enumerate(axes):
            if i >= len(localities):
                ax.set_axis_off()
                continue
            d = load[load["locality"] == localities[i]]
            c = SERIES[0]
            ax.fill_between(d["month"], d["p05"], d["p95"], color=c, alpha=0.18, lw=0,
                            label="90% of trials")
            ax.fill_between(d["month"], d["p25"], d["p75"], color=c, alpha=0.35, lw=0,
                            label="50% of trials")
            ax.plot(d["month"], d["p50"], color=c, lw=1.6, label="median")
            if math.isfinite(places):
                ax.axhline(places, color=OKABE_ITO["vermillion"], ls="--", lw=1.1,
                           label=f"places ({places:g})")
            if window is not None:
                ax.axvline(window, color=OKABE_ITO["black"], ls=":", lw=1.1,
                           label=f"window ends ({window:g})")
            ax.set_title(f"locality {localities[i]}", loc="left", fontsize=8.5)
            ax.set_ylim(0, top)
            ax.grid(alpha=0.3)
            if i == 0:
                ax.legend(loc="upper left", frameon=False, fontsize=7, ncol=2)
        right = rfig.subplots()
        weeks = waits["from_days"].to_numpy() / 7
        n = int(waits["participants"].sum())
        right.bar(weeks, waits["share"], width=0.9, align="edge", color=OKABE_ITO["blue"])
        mean, p90 = keys.get(summary, "mean_wait_days"), keys.get(summary, "p90_wait_days")
        if mean is not None:
            right.axvline(mean / 7, color=OKABE_ITO["black"], ls="--", lw=1.1,
                          label=f"mean {mean / 7:.1f} weeks ({mean:.1f} days)")
        if p90 is not None:
            right.axvline(p90 / 7, color=OKABE_ITO["vermillion"], ls=":", lw=1.3,
                          label=f"90th percentile {p90 / 7:.1f} weeks ({p90:.1f} days;\n"
                                "within a trial, averaged)")
        right.set_title(f"Wait for a caseload place ({n:,} IPS participants, all trials)",
                        loc="left")
        right.set_xlabel(f"weeks waited (last bar: {len(weeks) - 1} weeks or more)")
        if (waits["share"] > 0).any():  # a log axis needs a positive bar
            right.set_ylabel("share of IPS participants (log scale)")
            right.set_yscale("log")
            # percentages, not matplotlib's 10^k in mathtext: plainer to read, and the
            # mathtext parser is a seventh of drawing this figure
            right.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:g}%"))
            right.yaxis.set_minor_formatter(NullFormatter())
            right.set_ylim(min(1e-3, 0.5 / max(n, 1)), 1.5)
        else:
            right.set_ylabel("share of IPS participants")
            right.text(0.5, 0.5, "no IPS participants", transform=right.transAxes,
                       ha="center", va="center", fontsize=8)
        right.set_xlim(0, max(4, float(np.max(weeks[waits['share'] > 0], initial=0)) + 2))
        right.grid(alpha=0.3)
        if right.get_legend_handles_labels()[0]:
            right.legend(loc="upper right", frameon=False, fontsize=7)
        return save(fig, out / "capacity.png")
