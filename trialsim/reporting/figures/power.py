"""Power curve from design.json (`mode=design` or `mode=curve`).

Design search: power (or assurance, whichever the search was on, and the other beside
it when uncertainty is on) with its Monte Carlo 95% interval against total N, one line
per number of ESWs per locality; the smallest N reaching the goal against ESWs per
locality (the frontier the search walked); P(target) against the number of sites for
each window at the recommended N. Power curve: power (and assurance) against N, and
P(target within the scenario's window) against N. Target lines and the recommended
design are marked. A design.json written before the joint search (steps
`sample_size`, `sites`, `esw`) is still drawn, by `legacy_figure`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_hex

from trialsim.analysis.power_curve import fit_evaluations
from trialsim.reporting.figures.style import (
    OKABE_ITO,
    SERIES,
    TEXT_WIDTH,
    figure_style,
    new_figure,
    save,
)
from trialsim.reporting.rundir import RunDir

Z95 = 1.959963984540054


def evaluations(design: dict, step: str) -> pd.DataFrame:
    rows = [e for e in design.get("evaluations", []) if e.get("step") == step]
    return pd.DataFrame(rows)


def _points(ax, x, y, se, colour, label, marker="o", ls="-", filled=True):
    """Probabilities with their 95% Monte Carlo intervals, cut at 0 and 1."""
    order = x.argsort()
    x, y, se = x.iloc[order], y.iloc[order], se.iloc[order].fillna(0)
    half = Z95 * se
    yerr = [half.where(y - half > 0, y), half.where(y + half < 1, 1 - y)]
    ax.errorbar(x, y, yerr=yerr, fmt=marker, ls=ls, color=colour, capsize=3,
                lw=1.2, ms=4, label=label, clip_on=False, zorder=3,
                mfc=colour if filled else "white")


def _ordered_colour(i: int, n: int) -> str:
    """Colours that say 'more' as they darken (viridis, colour-blind safe, without its
    pale yellow end): few ESWs light, many dark."""
    if n <= 1:
        return OKABE_ITO["blue"]
    return to_hex(colormaps["viridis"](0.8 * (1 - i / (n - 1))))


def _kind(design: dict) -> str:
    return str(design.get("site_kind", "sites")).replace("_", " ")


def _goal_line(ax, value, label):
    if value is not None:
        ax.axhline(value, color=OKABE_ITO["vermillion"], ls="--", lw=1.1, label=label)


def _by_esw(ax, table: pd.DataFrame, quantity: str, design: dict, goal_label: str | None):
    """`quantity` against N, one line per ESWs per locality, with the goal and the
    recommended design."""
    table = table[table[quantity].notna()] if quantity in table else table.iloc[0:0]
    localities = design.get("localities", 1)
    groups = list(table.groupby("esw_per_locality", sort=True))
    rows = table.to_dict("records")
    fit = fit_evaluations(rows, quantity) if len(rows) > 1 else None
    for i, (esw, d) in enumerate(groups):
        colour = _ordered_colour(i, len(groups))
        label = f"{int(esw)} per locality ({int(esw) * localities} ESWs)"
        drawn = fit is not None and fit.slope(int(esw)) > 0
        if drawn:  # the fitted curve and its band, the points over it
            ns = np.linspace(float(d["target_n"].min()), float(d["target_n"].max()), 120)
            p, lo, hi = fit.power(ns, int(esw))
            ax.fill_between(ns, lo, hi, color=colour, alpha=0.15, lw=0)
            ax.plot(ns, p, color=colour, lw=1.6)
        _points(ax, d["target_n"], d[quantity], d[f"{quantity}_mc_se"], colour, label,
                ls="none" if drawn else "-")
    goals = design.get("goals", {})
    if design.get("criterion", "power") == quantity and goal_label:
        _goal_line(ax, goals.get("target_power"), goal_label)
    rec = design.get("recommended")
    if rec is not None and quantity in rec and rec.get(quantity) is not None:
        ax.plot([rec["target_n"]], [rec[quantity]], marker="*", ms=13, color="black",
                ls="none", zorder=4,
                label=f"recommended: N {rec['target_n']}, {rec['esw_per_locality']} per "
                      "locality")
    ax.set_xlabel("target N (total randomised)")
    ax.set_ylabel(f"{quantity}: P(the primary analysis rejects)")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper left", bbox_to_anchor=(0, 0.86), frameon=False, fontsize=7, title="ESWs",
              title_fontsize=7)  # under the goal line; power curves rise from the lower left


def power_figure(run: RunDir, out: Path) -> list[Path]:
    design = run.design
    if "mode" not in design:
        return legacy_figure(run, out)
    curve = design["mode"] == "curve"
    table = evaluations(design, "curve" if curve else "power")
    criterion = design.get("criterion", "power")
    quantities = [q for q in ("power", "assurance") if q in table and table[q].notna().any()]
    if criterion in quantities:  # the search's quantity first
        quantities.remove(criterion)
        quantities.insert(0, criterion)
    goals = design.get("goals", {})
    caption = design_caption(design)
    caption += ("  |  bars: 95% Monte Carlo intervals; lines: fitted probit in log N with its "
                "95% band; recruitment unconstrained for power")
    if not curve:
        caption += (f"; screened with {design.get('screen_replications')} replications "
                    "(wider bars)")
    panels = len(quantities) + (1 if curve else 2)
    cols = 2 if panels > 1 else 1
    grid_rows = -(-panels // cols)
    with figure_style():
        fig = new_figure(TEXT_WIDTH, 0.6 + 3.3 * grid_rows, caption)
        axes = list(fig.subplots(grid_rows, cols, squeeze=False).ravel())
        for ax in axes[panels:]:
            ax.set_axis_off()
        axes = axes[:panels]
        for ax, q in zip(axes, quantities, strict=False):
            _by_esw(ax, table, q, design, f"goal {goals.get('target_power'):g}")
            what = "every N of the grid" if curve else "candidates the search simulated"
            ax.set_title(f"{q.capitalize()} against total N\n({what})", loc="left")
        rest = axes[len(quantities):]
        if curve:
            _curve_recruitment(rest[0], table, design)
        else:
            _frontier(rest[0], design)
            _sites(rest[1], design)
        for ax in axes:
            ax.grid(alpha=0.3)
        return save(fig, out / "power_curve.png")


def design_caption(design: dict) -> str:
    """What the figure shows: the recommended design (or the curve's scenario), the
    replications and the seed, not the scenario's own N, sites and window."""
    kind = _kind(design)
    head = f"{design.get('replications')} simulated trials per candidate, seed {design.get('seed')}"
    if design.get("mode") == "curve":
        return (f"Power curve, {design.get('scenario')}: {design.get('scenario_sites')} {kind}, "
                f"P(target) within {design.get('scenario_months'):g} months  |  {head}")
    rec = design.get("recommended")
    if rec is None:
        return f"Design search, {design.get('scenario')}: no design met every goal  |  {head}"
    return (f"Design search, {design.get('scenario')}: recommended N {rec['target_n']}, "
            f"{rec['esw_per_locality']} ESW(s) per locality ({rec['esws']} ESWs), {rec['sites']} "
            f"{kind}, {rec['months']:g} months  |  {head}")


def _curve_recruitment(ax, table: pd.DataFrame, design: dict) -> None:
    for _esw, d in table.groupby("esw_per_locality", sort=True):
        _points(ax, d["target_n"], d["prob_target"], d["prob_target_mc_se"],
                OKABE_ITO["blue"], "P(target), whatever the ESWs")
        break  # recruitment does not depend on the ESWs: one line
    _goal_line(ax, design.get("goals", {}).get("prob_target"),
               f"required P(target) {design.get('goals', {}).get('prob_target'):g}")
    ax.set_xlabel("target N (total randomised)")
    ax.set_ylabel("P(target N randomised within the window)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Recruitment: {design.get('scenario_sites')} {_kind(design)}, "
                 f"{design.get('scenario_months'):g} months", loc="left")
    ax.legend(loc="best", frameon=False, fontsize=7)


def _beyond(ax, front: list[dict], found: list[dict]) -> None:
    """The counts not searched because they need at least the N of the count above them,
    more than any design in the grid recruits: drawn at that N, under a line at the
    most any design recruits."""
    beyond = [f for f in front if f.get("beyond_recruitable") is not None]
    if not beyond:
        return
    cap = beyond[0]["beyond_recruitable"]
    ax.axhline(cap, color=OKABE_ITO["grey"], ls=":", lw=1,
               label=f"the most any design in the grid recruits: N {cap}")
    above: dict[str, int] = {}  # each ratio's N of the last count searched
    for g in found:
        r = g.get("allocation_ratio") or "1:1"
        above[r] = max(above.get(r, 0), g["target_n"])
    ax.plot([f["esw_per_locality"] for f in beyond],
            [above[f.get("allocation_ratio") or "1:1"] for f in beyond], "^",
            color=OKABE_ITO["grey"], mfc="none", ms=8, ls="none",
            label="not searched: need more than any design recruits")


def _frontier(ax, design: dict) -> None:
    front = design.get("frontier", [])
    grid = design.get("n_grid") or [e["target_n"] for e in design.get("evaluations", [])
                                    if e.get("step") == "power"]
    top = max(grid) if grid else None
    found = [f for f in front if f["target_n"] is not None]
    crit = design.get("criterion", "power")
    ratios = list(dict.fromkeys(f.get("allocation_ratio") or "1:1" for f in found))
    colours = (OKABE_ITO["blue"], OKABE_ITO["green"], OKABE_ITO["orange"], OKABE_ITO["purple"])
    for i, r in enumerate(ratios):  # one line per IPS:TAU ratio searched
        at = [f for f in found if (f.get("allocation_ratio") or "1:1") == r]
        ax.plot([f["esw_per_locality"] for f in at], [f["target_n"] for f in at], "o-",
                color=colours[i % len(colours)], ms=5,
                label=f"smallest N with {crit} >= {design['goals']['target_power']:g}"
                      + (f", IPS:TAU {r}" if len(ratios) > 1 else ""))
    at_top = False  # whether a marker stands at the grid's top
    for searched, colour, text in ((True, OKABE_ITO["vermillion"], f"none up to N {top}"),
                                   (False, OKABE_ITO["grey"], "not searched")):
        none = [f["esw_per_locality"] for f in front
                if f["target_n"] is None and bool(f.get("searched")) == searched
                and f.get("beyond_recruitable") is None]
        if none and top is not None:
            ax.plot(none, [top] * len(none), "^", color=colour, ms=8, ls="none", label=text)
            at_top = True
    _beyond(ax, front, found)
    rec = design.get("recommended")
    if rec is not None:
        ax.plot([rec["esw_per_locality"]], [rec["target_n"]], "*", ms=13, color="black",
                ls="none", label="recommended")
    if top is not None:
        high = top if at_top or not found else max(f["target_n"] for f in found)
        low = min([f["target_n"] for f in found] + [high])
        ax.set_ylim(low - 0.08 * (high - low + 1),  # room for the legend above the points
                    high + (0.3 if at_top else 0.55) * (high - low + 1))
    ax.set_xlabel(f"ESWs per locality (x {design.get('localities')} localities)")
    ax.set_ylabel("target N (total randomised)")
    esws = [f["esw_per_locality"] for f in front]
    if esws and max(esws) <= 20:
        ax.set_xticks(range(min(esws), max(esws) + 1))
    else:
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title("N needed against ESWs\n(window unconstrained)", loc="left")
    ax.legend(loc="upper right", frameon=False, fontsize=7)


def _sites(ax, design: dict) -> None:
    curves = pd.DataFrame(design.get("recruitment_curves", []))
    goals = design.get("goals", {})
    rec = design.get("recommended")
    n = curves["target_n"].iloc[0] if len(curves) else design.get("target_n")
    for i, (months, d) in enumerate(curves.groupby("months", sort=True) if len(curves)
                                    else []):
        _points(ax, d["sites"], d["prob_target"], d["prob_target_mc_se"],
                SERIES[i % len(SERIES)], f"{months:g} months")
    _goal_line(ax, goals.get("prob_target"), f"required {goals.get('prob_target'):g}")
    if rec is not None:
        ax.plot([rec["sites"]], [rec["prob_target"]], "*", ms=13, color="black", ls="none",
                label=f"recommended: {rec['sites']} in {rec['months']:g} months")
    ax.set_xlabel(f"number of {_kind(design)}")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("P(target N randomised within the window)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Recruitment against sites, N {n}\n(every number of sites simulated)",
                 loc="left")
    ax.legend(loc="lower right", frameon=False, fontsize=7,
              title="window", title_fontsize=7)


def legacy_figure(run: RunDir, out: Path) -> list[Path]:
    """design.json from before the joint search: steps sample_size, esw and sites."""
    design = run.design
    goals = design.get("goals", {})
    target_power = goals.get("target_power")
    prob_target = goals.get("prob_target")
    caption = (f"Design search, {design.get('scenario')}: {design.get('replications')} simulated "
               f"trials per candidate, seed {design.get('seed')}")
    caption += "  |  bars: 95% Monte Carlo intervals; each candidate on common random numbers"
    ss, esw, sites = (evaluations(design, s) for s in ("sample_size", "esw", "sites"))
    panels = [p for p, d in (("n", ss), ("esw", esw), ("sites", sites)) if len(d)]
    cols = 2 if len(panels) > 1 else 1
    grid_rows = max(-(-len(panels) // cols), 1)
    with figure_style():
        fig = new_figure(TEXT_WIDTH, 0.6 + 3.2 * grid_rows, caption)
        axes = fig.subplots(grid_rows, cols, squeeze=False).ravel()
        for ax in axes[len(panels):]:
            ax.set_axis_off()
        for ax, panel in zip(axes, panels, strict=False):
            if panel == "n":
                _points(ax, ss["target_n"], ss["power"], ss["mc_se"], OKABE_ITO["blue"],
                        "power (at the estimates)")
                ax.set_xlabel("target N (total randomised)")
                ax.set_title("Power against total N\n(window unconstrained)", loc="left")
            elif panel == "esw":
                _points(ax, esw["per_locality"], esw["power"], esw["power_mc_se"],
                        OKABE_ITO["blue"], "power")
                ax.set_xlabel("ESWs per locality")
                ax.set_title("Power against ESWs per locality", loc="left")
            if panel in ("n", "esw"):
                _goal_line(ax, target_power, f"target power {target_power:g}")
                ax.set_ylabel("probability the primary analysis rejects")
                ax.set_ylim(0, 1.02)
            if panel == "sites":
                for i, (months, d) in enumerate(sites.groupby("months", sort=True)):
                    _points(ax, d["sites"], d["prob_target"], d["mc_se"],
                            SERIES[i % len(SERIES)], f"{months:g} months")
                _goal_line(ax, prob_target, f"required P(target) {prob_target:g}")
                ax.set_xlabel(f"number of {_kind(design)}")
                ax.set_ylabel("P(target N randomised within the window)")
                ax.set_ylim(0, 1.02)
                ax.set_title("Recruitment against sites", loc="left")
            ax.grid(alpha=0.3)
            ax.legend(loc="lower right", frameon=False, fontsize=7)
        return save(fig, out / "power_curve.png")
