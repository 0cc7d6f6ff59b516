"""Design search figures from design.json's `evaluations`: power with its Monte Carlo
95% interval against total N and against ESWs per locality (assurance beside it when an
evaluation carries one), and P(target) against the number of sites for each window."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trialsim.reporting.figures.style import OKABE_ITO, SERIES, figure_style, new_figure, save
from trialsim.reporting.rundir import RunDir

Z95 = 1.959963984540054


def evaluations(design: dict, step: str) -> pd.DataFrame:
    rows = [e for e in design.get("evaluations", []) if e.get("step") == step]
    return pd.DataFrame(rows)


def _points(ax, x, y, se, colour, label, marker="o"):
    order = x.argsort()
    x, y, se = x.iloc[order], y.iloc[order], se.iloc[order]
    ax.errorbar(x, y, yerr=Z95 * se, fmt=marker + "-", color=colour, capsize=3, lw=1.2,
                ms=4, label=label, clip_on=False, zorder=3)


def power_figure(run: RunDir, out: Path) -> list[Path]:
    design = run.design
    goals = design.get("goals", {})
    target_power = goals.get("target_power")
    prob_target = goals.get("prob_target")
    caption = run.caption(design.get("replications"), design.get("seed"))
    caption += "  |  bars: 95% Monte Carlo intervals; each candidate on common random numbers"
    ss, esw, sites = (evaluations(design, s) for s in ("sample_size", "esw", "sites"))
    panels = [p for p, d in (("n", ss), ("esw", esw), ("sites", sites)) if len(d)]
    with figure_style():
        fig = new_figure(max(3.6 * len(panels), 6.5), 4.0, caption)
        axes = fig.subplots(1, max(len(panels), 1), squeeze=False)[0]
        for ax, panel in zip(axes, panels, strict=False):
            if panel == "n":
                _points(ax, ss["target_n"], ss["power"], ss["mc_se"], OKABE_ITO["blue"],
                        "power (at the estimates)")
                if "assurance" in ss:
                    _points(ax, ss["target_n"], ss["assurance"],
                            ss.get("assurance_mc_se", ss["mc_se"] * 0), OKABE_ITO["orange"],
                            "assurance (pilot uncertainty)", marker="s")
                if design.get("target_n") is not None:
                    ax.axvline(design["target_n"], color=OKABE_ITO["green"], lw=1.2, ls=":",
                               label=f"smallest N passing: {design['target_n']}")
                ax.set_xlabel("target N (total randomised)")
                ax.set_title("Power against total N\n(window unconstrained)", loc="left")
            elif panel == "esw":
                _points(ax, esw["per_locality"], esw["power"], esw["power_mc_se"],
                        OKABE_ITO["blue"], "power")
                ax.set_xlabel("ESWs per locality")
                ax.set_title("Power against ESWs per locality\n(recommended N, sites, months)",
                             loc="left")
                ax.xaxis.get_major_locator().set_params(integer=True)
            if panel in ("n", "esw"):
                if target_power is not None:
                    ax.axhline(target_power, color=OKABE_ITO["vermillion"], ls="--", lw=1.1,
                               label=f"target power {target_power:g}")
                ax.set_ylabel("probability the primary analysis rejects")
                ax.set_ylim(0, 1.02)
            if panel == "sites":
                for i, (months, d) in enumerate(sites.groupby("months", sort=True)):
                    _points(ax, d["sites"], d["prob_target"], d["mc_se"],
                            SERIES[i % len(SERIES)], f"{months:g} months")
                if prob_target is not None:
                    ax.axhline(prob_target, color=OKABE_ITO["vermillion"], ls="--", lw=1.1,
                               label=f"required P(target) {prob_target:g}")
                ax.set_xlabel(f"number of {design.get('site_kind', 'sites')}")
                ax.xaxis.get_major_locator().set_params(integer=True)
                ax.set_ylabel("P(target N randomised within the window)")
                ax.set_ylim(0, 1.02)
                ax.set_title("Recruitment against sites\n(bisection points per window)",
                             loc="left")
            ax.grid(alpha=0.3)
            ax.legend(loc="lower right", frameon=False, fontsize=7)
        return save(fig, out / "power_curve.png")
