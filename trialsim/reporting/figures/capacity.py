"""ESW capacity: each locality's caseload by month (median, 50% and 90% bands) against
its places, and the distribution of waits for a caseload place."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from trialsim.reporting import keys
from trialsim.reporting.figures.style import OKABE_ITO, SERIES, figure_style, new_figure, save
from trialsim.reporting.rundir import RunDir


def capacity_figure(run: RunDir, out: Path) -> list[Path]:
    load, waits, summary = run.csv("caseload_by_month.csv"), run.csv("esw_waits.csv"), \
        run.summary
    localities = sorted(load["locality"].unique())
    with figure_style():
        fig = new_figure(8.5, 4.2, run.caption(keys.get(summary, "replications"),
                                               keys.get(summary, "seed")))
        left, right = fig.subplots(1, 2, width_ratios=[1.5, 1])
        for i, loc in enumerate(localities):
            d = load[load["locality"] == loc]
            c = SERIES[i % len(SERIES)]
            left.fill_between(d["month"], d["p05"], d["p95"], color=c, alpha=0.12, lw=0)
            left.fill_between(d["month"], d["p25"], d["p75"], color=c, alpha=0.25, lw=0)
            left.plot(d["month"], d["p50"], color=c, lw=1.6, label=f"locality {loc}")
        places = float(load["places"].iloc[0]) if len(load) else math.inf
        if math.isfinite(places):
            left.axhline(places, color=OKABE_ITO["vermillion"], ls="--", lw=1.2,
                         label=f"caseload places per locality ({places:g})")
        window = keys.get(summary, "recruitment_months")
        if window is not None:
            left.axvline(window, color=OKABE_ITO["black"], ls=":", lw=1.1,
                         label=f"recruitment window ends ({window:g})")
        left.set_title("IPS clients held by each locality's ESWs\n"
                       "median, 50% and 90% of simulated trials", loc="left")
        left.set_xlabel("months from the start of recruitment")
        left.set_ylabel("clients on the caseload")
        top = max(float(load["p95"].max()), places if math.isfinite(places) else 0)
        left.set_ylim(0, 1.35 * max(top, 1))
        left.grid(alpha=0.3)
        left.legend(loc="upper right", frameon=False, fontsize=7, ncol=2)
        weeks = waits["from_days"].to_numpy() / 7
        right.bar(weeks, waits["share"], width=0.9, align="edge", color=OKABE_ITO["blue"])
        mean, p90 = keys.get(summary, "mean_wait_days"), keys.get(summary, "p90_wait_days")
        if mean is not None:
            right.axvline(mean / 7, color=OKABE_ITO["black"], ls="--", lw=1.1,
                          label=f"mean {mean:.1f} days")
        if p90 is not None:
            right.axvline(p90 / 7, color=OKABE_ITO["vermillion"], ls=":", lw=1.3,
                          label=f"90th percentile {p90:.1f} days\n(within a trial, averaged)")
        n = int(waits["participants"].sum())
        right.set_title(f"Wait for a caseload place\n({n:,} IPS participants pooled)",
                        loc="left")
        right.set_xlabel(f"weeks waited (last bar: {len(weeks) - 1} weeks or more)")
        right.set_ylabel("share of IPS participants")
        right.set_xlim(0, max(4, float(np.max(weeks[waits['share'] > 0], initial=0)) + 2))
        right.grid(alpha=0.3)
        right.legend(loc="upper right", frameon=False, fontsize=7)
        return save(fig, out / "capacity.png")
