"""Sweep figures from sweep_summary.csv: heatmaps of P(target) and power over two swept
knobs, values in the cells and the cells meeting the planner's thresholds outlined;
with one swept knob, a line chart. Knobs are named in words (`labels`); the colour scale
spans the values the sweep found (not 0 to 1), so that cells that differ look different."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from trialsim.reporting import labels
from trialsim.reporting.figures.style import OKABE_ITO, TEXT_WIDTH, figure_style, new_figure, save

METRICS = (("prob_target_by_end", "P(target reached in the window)", "prob_target"),
           ("power_primary", "power of the primary analysis", "target_power"))
NOT_KNOBS = {"job", "overrides", "status", "error", "scenario", "replications", "seed",
             "n_jobs", "hydra/launcher"}


def swept_knobs(table: pd.DataFrame) -> list[str]:
    """Override columns that take more than one value across the sweep's jobs."""
    over = set()
    for text in table.get("overrides", pd.Series(dtype=str)).fillna(""):
        over |= {o.partition("=")[0].lstrip("+~") for o in str(text).split()}
    return [k for k in sorted(over - NOT_KNOBS)
            if k in table and table[k].astype(str).nunique() > 1]


def _sorted_values(col: pd.Series) -> list:
    vals = col.dropna().unique().tolist()
    try:
        return sorted(vals, key=float)
    except (TypeError, ValueError):
        return sorted(vals, key=str)


def heatmap_grid(table: pd.DataFrame, x: str, y: str, metric: str):
    """(x values, y values, matrix y-by-x of the metric; nan where a job is missing)."""
    ok = table[table["status"] == "ok"] if "status" in table else table
    xs, ys = _sorted_values(table[x]), _sorted_values(table[y])
    grid = np.full((len(ys), len(xs)), np.nan)
    for _, r in ok.iterrows():
        if metric in r and pd.notna(r[metric]):
            grid[ys.index(r[y]), xs.index(r[x])] = float(r[metric])
    return xs, ys, grid


def _axis(key: str) -> str:
    """A swept key in words, with its unit."""
    unit = labels.unit(key)
    return labels.label(key) + (f" ({unit})" if unit and unit != "x" else "")


def _colour_range(grid: np.ndarray) -> tuple[float, float]:
    """The colour scale: the sweep's own range of values, widened to at least 0.1 so that
    Monte Carlo noise does not look like a gradient."""
    vals = grid[np.isfinite(grid)]
    if not len(vals):
        return 0.0, 1.0
    lo, hi = float(vals.min()), float(vals.max())
    if hi - lo < 0.1:
        mid = (lo + hi) / 2
        lo, hi = max(0.0, mid - 0.05), min(1.0, mid + 0.05)
    return lo, hi


def sweep_figure(table: pd.DataFrame, thresholds: dict[str, float], out: Path,
                 caption: str) -> list[Path]:
    knobs = swept_knobs(table)
    metrics = [m for m in METRICS if m[0] in table and table[m[0]].notna().any()]
    if not knobs or not metrics:
        return []
    with figure_style():
        if len(knobs) == 1:
            k = knobs[0]
            fig = new_figure(TEXT_WIDTH, 4.0, caption)
            ax = fig.add_subplot()
            ok = table[table["status"] == "ok"].copy()
            order = _sorted_values(table[k])
            numeric = pd.to_numeric(ok[k], errors="coerce")
            if numeric.notna().all():
                ok["_x"] = numeric
            else:  # words (an allocation ratio "1:2", a method): evenly spaced, labelled
                ok["_x"] = [order.index(v) for v in ok[k]]
                ax.set_xticks(range(len(order)), [str(v) for v in order])
            ok = ok.sort_values("_x")
            for i, (m, label, goal) in enumerate(metrics):
                c = [OKABE_ITO["blue"], OKABE_ITO["orange"]][i]
                ax.plot(ok["_x"], ok[m], "o-", color=c, label=label)
                if goal in thresholds:
                    ax.axhline(thresholds[goal], color=c, ls="--", lw=1,
                               label=f"goal {thresholds[goal]:g}")
            ax.set_xlabel(_axis(k))
            ax.set_ylabel("probability")
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            ax.legend(frameon=False, fontsize=7)
            ax.set_title(f"Sweep over: {_axis(k)}", loc="left")
            return save(fig, out / "sweep.png")
        x, y = knobs[0], knobs[1]
        xs = _sorted_values(table[x])
        fig = new_figure(TEXT_WIDTH, 0.8 + 3.4 * len(metrics),
                         caption + (f"  |  other swept keys at each value: {', '.join(knobs[2:])}"
                                    if len(knobs) > 2 else ""))
        axes = fig.subplots(len(metrics), 1, squeeze=False)[:, 0]
        for ax, (m, label, goal) in zip(axes, metrics, strict=True):
            xs, ys, grid = heatmap_grid(table, x, y, m)
            lo, hi = _colour_range(grid)
            im = ax.imshow(grid, origin="lower", cmap="viridis", vmin=lo, vmax=hi,
                           aspect="auto")
            for i in range(len(ys)):
                for j in range(len(xs)):
                    v = grid[i, j]
                    ax.text(j, i, "n/a" if np.isnan(v) else f"{v:.2f}", ha="center",
                            va="center", fontsize=8,
                            color="black" if not np.isnan(v) and v > lo + 0.6 * (hi - lo)
                            else "white")
                    if goal in thresholds and not np.isnan(v) and v >= thresholds[goal]:
                        ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False,
                                               ec=OKABE_ITO["vermillion"], lw=2.2))
            ax.set_xticks(range(len(xs)), [str(v) for v in xs])
            ax.set_yticks(range(len(ys)), [str(v) for v in ys])
            ax.set_xlabel(_axis(x))
            ax.set_ylabel(_axis(y))
            title = label
            if goal in thresholds:
                title += f"\n(outlined: at least {thresholds[goal]:g})"
            ax.set_title(title, loc="left")
            fig.colorbar(im, ax=ax, shrink=0.85, label="probability (scale: this sweep's range)")
        return save(fig, out / "sweep_heatmaps.png")
