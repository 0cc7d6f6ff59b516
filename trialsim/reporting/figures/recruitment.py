"""Recruitment projection: cumulative randomised by month with 50% and 90% bands, the
target and the window's end, site openings as ticks, and each channel's mean share."""

from __future__ import annotations

from pathlib import Path

from trialsim.reporting import keys, pilot_observed
from trialsim.reporting.figures.style import (
    OKABE_ITO,
    SERIES,
    TEXT_WIDTH,
    figure_style,
    new_figure,
    save,
)
from trialsim.reporting.labels import channel as channel_words
from trialsim.reporting.rundir import RunDir

KIND_LABELS = {"gp_practices": "GP practice opens", "pain_services": "pain service opens"}


def recruitment_figure(run: RunDir, out: Path) -> list[Path]:
    bands, summary = run.csv("recruitment_bands.csv"), run.summary
    target = keys.get(summary, "target_n")
    window = keys.get(summary, "recruitment_months")
    p = keys.get(summary, "prob_target")
    m = bands["months"]
    channels = [c for c in bands.columns if c.startswith("mean_")
                and bands[c].iloc[-1] > 0]
    with figure_style():
        fig = new_figure(TEXT_WIDTH, 5.8, run.caption(keys.get(summary, "replications"),
                                               keys.get(summary, "seed")))
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.6])
        blue = OKABE_ITO["blue"]
        top.fill_between(m, bands["p05"], bands["p95"], color=blue, alpha=0.18, lw=0,
                         label="90% of simulated trials")
        top.fill_between(m, bands["p25"], bands["p75"], color=blue, alpha=0.35, lw=0,
                         label="50% of simulated trials")
        top.plot(m, bands["p50"], color=blue, lw=2, label="median")
        top.axhline(target, color=OKABE_ITO["vermillion"], ls="--", lw=1.2,
                    label=f"target {target}")
        top.axvline(window, color=OKABE_ITO["black"], ls=":", lw=1.2,
                    label=f"window ends, month {window:g}")
        if keys.get(summary, "scenario") == "pilot":
            top.plot([window], [pilot_observed.RANDOMISED_TOTAL], marker="D", ls="none",
                     color=OKABE_ITO["vermillion"], ms=7, clip_on=False,
                     label=pilot_observed.RANDOMISED_SOURCE)
        sites = run.csv("site_openings.csv")
        ymax = 1.4 * max(target, float(bands["p95"].max()))  # room for the legend above
        if sites is not None and len(sites):
            for i, (kind, grp) in enumerate(sites.groupby("kind", sort=True)):
                top.plot(grp["open_month_p50"], [-0.035 * ymax * (i + 1)] * len(grp),
                         ls="none", marker="|", ms=9, mew=1.5,
                         color=[OKABE_ITO["green"], OKABE_ITO["purple"]][i % 2],
                         label=f"{KIND_LABELS.get(kind, kind)} (median month)")
            top.set_ylim(-0.035 * ymax * (sites["kind"].nunique() + 1), ymax)
        else:
            top.set_ylim(0, ymax)
        title = "Cumulative number randomised"
        if p is not None:
            title += f": P(target {target} by month {window:g}) = {p:.2f}"
        top.set_title(title, loc="left")
        top.set_ylabel("participants randomised")
        top.grid(alpha=0.3)
        top.legend(loc="upper left", frameon=False, ncol=2)
        if channels:
            ys = [bands[c] for c in channels]
            labels = [channel_words(c[5:]) for c in channels]
            bottom.stackplot(m, ys, labels=labels, colors=SERIES[2:2 + len(ys)], alpha=0.85)
            bottom.legend(loc="upper left", frameon=False)
        bottom.axvline(window, color=OKABE_ITO["black"], ls=":", lw=1.2)
        bottom.set_title("Mean cumulative randomised by channel", loc="left")
        bottom.set_ylabel("participants (mean)")
        bottom.set_xlabel("months from the start of recruitment")
        bottom.set_xlim(0, float(m.iloc[-1]) + 0.3)  # the window's end stays visible
        bottom.grid(alpha=0.3)
        return save(fig, out / "recruitment.png")
