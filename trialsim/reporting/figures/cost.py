"""Cost against power from design.json (`design.objective=cost`): every design the
search costed (ranking cost; simulated cost where simulated in full), the cost-power
frontier, the recommendation and the smallest-N rule's design."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trialsim.reporting.figures.style import OKABE_ITO, figure_style, new_figure, save

FILE = "cost_frontier.png"


def _cost(r: dict[str, Any]) -> float:
    return r["cost"] if r.get("cost") is not None else r["ranking_cost"]


def cost_figure(design: dict[str, Any], out: Path) -> list[Path]:
    crit = design.get("criterion", "power")
    rows = [r for r in design.get("designs", []) if r.get("ranking_cost") is not None]
    if not rows:
        return []
    with figure_style():
        fig = new_figure(6.5, 4.2, "Each point a design the search costed (filled: simulated "
                                   "in full; hollow: ranking cost). Line: the cheapest design "
                                   f"at each {crit} level. Costs in GBP millions, costs.*.")
        ax = fig.add_subplot()
        for sim in (False, True):
            pts = [r for r in rows if (r.get("cost") is not None) == sim]
            ax.scatter([r[crit] for r in pts], [_cost(r) / 1e6 for r in pts], s=18,
                       color=OKABE_ITO["blue"], facecolors=OKABE_ITO["blue"] if sim else "none",
                       label="simulated in full" if sim else "ranking cost")
        front = [p for p in design.get("cost_frontier", []) if p.get("design")]
        if front:
            ax.step([p["level"] for p in front],
                    [_cost(p["design"]) / 1e6 for p in front], where="post",
                    color=OKABE_ITO["vermillion"], lw=1.2, label="cost-power frontier")
        for key, colour, label in (("recommended", OKABE_ITO["green"], "recommended"),
                                   ("smallest_n_design", OKABE_ITO["purple"], "smallest-N rule")):
            r = design.get(key)
            if r and r.get("cost") is not None and r.get(crit) is not None:
                ax.scatter([r[crit]], [r["cost"] / 1e6], marker="*", s=120, color=colour,
                           label=label, zorder=4)
        ax.axvline(design.get("goals", {}).get("target_power", 0.9), color="#888", ls="--",
                   lw=0.8)
        ax.set_xlabel(f"{crit} (search estimate)")
        ax.set_ylabel("expected total cost (GBP million)")
        ax.legend(fontsize=7)
        return save(fig, out / FILE)
