"""The internal pilot's review: each criterion's statistic at the review month over the
replications, split by whether the trial went on to reach its target, on the green /
amber / red bands; and the red-line trade-off (the share of succeeding trials stopped
against the share of failing trials stopped, as the red line moves).

Drawn from replications.csv (the review columns, trialsim.reporting.keys) and
summary.json's `progression` (thresholds, proposal curves)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trialsim.reporting import keys
from trialsim.reporting.figures.style import OKABE_ITO, figure_style, new_figure, save
from trialsim.reporting.progression_summary import not_proposed
from trialsim.reporting.rundir import RunDir

REVIEW_FILE, TRADE_OFF_FILE = "progression.png", "progression_trade_off.png"
BANDS = {"red": "#f4c7c3", "amber": "#fde9b8", "green": "#cfe8d5"}
LABELS = {"recruitment": "randomised / planned", "sites": "sites open / planned",
          "retention": "questionnaires returned (lower arm)",
          "adherence": "IPS seen and engaged"}


def _caption(run: RunDir, what: str) -> str:
    s = run.summary or {}
    return run.caption(keys.get(s, "replications"), keys.get(s, "seed")) + f"  |  {what}"


def review_figure(run: RunDir, out: Path) -> list[Path]:
    """One panel per criterion: the statistic's histogram among trials that reached N
    and those that did not, over the threshold bands."""
    reps, pr = run.csv("replications.csv"), keys.get(run.summary, "progression")
    names = list(pr["thresholds"])
    reached = reps["target_reached"].astype(bool).to_numpy()
    with figure_style():
        fig = new_figure(9.0, 5.6, _caption(run, f"review at month {pr['review_month']:.1f}; "
                                                 "statistics with no data yet are left out"))
        axes = fig.subplots(2, 2).ravel()
        for ax, name in zip(axes, names, strict=False):
            x = reps[keys.review_statistic(name)].to_numpy(dtype=float)
            ok = np.isfinite(x)
            t = pr["thresholds"][name]
            top = max(1.2 * t["green"], float(np.nanmax(x)) if ok.any() else 1.0, 1.0)
            ax.axvspan(0, t["red"], color=BANDS["red"], lw=0)
            ax.axvspan(t["red"], t["green"], color=BANDS["amber"], lw=0)
            ax.axvspan(t["green"], top, color=BANDS["green"], lw=0)
            bins = np.linspace(0, top, 31)
            ax.hist([x[ok & reached], x[ok & ~reached]], bins=bins, stacked=True,
                    color=[OKABE_ITO["blue"], OKABE_ITO["orange"]],
                    label=["went on to reach N", "did not reach N"])
            light = pr["lights"].get(name)
            shares = (f" (G {light['green']:.2f}, A {light['amber']:.2f}, "
                      f"R {light['red']:.2f})" if light else " (not read by the rule)")
            ax.set_title(f"{name}{shares}", loc="left")
            ax.set_xlabel(LABELS.get(name, name))
            ax.set_ylabel("replications")
            ax.set_xlim(0, top)
        axes[0].legend(frameon=False, fontsize=7, loc="upper right")
        return save(fig, out / REVIEW_FILE)


def trade_off_figure(run: RunDir, out: Path) -> list[Path]:
    """For recruitment and retention: P(stop | fail) against P(stop | succeed) as the
    red line moves, the configured and the proposed red lines marked."""
    pr = keys.get(run.summary, "progression")
    prop = pr["proposal"]
    with figure_style():
        fig = new_figure(9.0, 4.0, _caption(run, "success: the target N randomised in the "
                                                 "window; stop: below the red line"))
        for ax, name in zip(fig.subplots(1, 2), ("recruitment", "retention"), strict=True):
            q = prop[name]["target"]
            c = q["curve"]
            xs = np.array([np.nan if v is None else v for v in c["p_stop_if_success"]])
            ys = np.array([np.nan if v is None else v for v in c["p_stop_if_failure"]])
            ax.plot(xs, ys, "-", color=OKABE_ITO["blue"], lw=1.5)
            t = pr["thresholds"][name]
            red = t["red"]
            i = int(np.argmin(np.abs(np.array(c["red"]) - red)))
            ax.plot(xs[i], ys[i], "s", color=OKABE_ITO["vermillion"],
                    label=f"configured red line {red:g}")
            if q["red"] is not None and not_proposed(q, t["green"]) is None:
                ax.plot(q["p_stop_if_success"], q["p_stop_if_failure"] or 0.0, "o",
                        color=OKABE_ITO["green"], label=f"proposed {q['red']:.2f}")
            ax.axvline(prop["max_stop_if_success"], color="#777777", ls="--", lw=1)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel("P(stop | would reach N)")
            ax.set_ylabel("P(stop | would miss N)")
            ax.set_title(f"{name}: red-line trade-off ({q['successes']} reach N)", loc="left")
            ax.legend(frameon=False, fontsize=7, loc="lower right")
            ax.grid(alpha=0.3)
        return save(fig, out / TRADE_OFF_FILE)


def _progression(run: RunDir) -> dict | None:
    pr = keys.get(run.summary, "progression")
    return pr if pr is not None and run.has("replications.csv") else None


def review_job(run: RunDir, out: Path) -> list[Path]:
    """The review figure, where its inputs are in the run directory."""
    return review_figure(run, out) if _progression(run) is not None else []


def trade_off_job(run: RunDir, out: Path) -> list[Path]:
    """The trade-off figure, where there is a proposal to draw."""
    pr = _progression(run)
    return trade_off_figure(run, out) if pr is not None and pr.get("proposal") else []

