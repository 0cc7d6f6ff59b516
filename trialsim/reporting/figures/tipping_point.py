"""The delta-adjusted (MNAR) sensitivity analysis: power and bias of the RTW-SE
analysis against delta, with the tipping point (summary.json missing_data.sensitivity)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trialsim.reporting import keys
from trialsim.reporting.figures.style import OKABE_ITO, figure_style, new_figure, save
from trialsim.reporting.rundir import RunDir

FILE = "tipping_point.png"
ARM_WORDS = {"ips": "the IPS arm's", "tau": "the TAU arm's", "both": "both arms'"}


def tipping_point_figure(run: RunDir, out: Path) -> list[Path]:
    summary = run.summary
    sens = keys.get(summary, "missing_data_sensitivity")
    if not sens or not sens.get("grid"):
        return []
    grid = sens["grid"]
    d = np.array([g["delta"] for g in grid])
    power = np.array([g["power"] for g in grid])
    p_se = np.array([g["power_mc_se"] for g in grid])
    bias = np.array([np.nan if g["bias"] is None else g["bias"] for g in grid])
    b_se = np.array([np.nan if g["bias_mc_se"] is None else g["bias_mc_se"] for g in grid])
    tip, tip_se = sens.get("tipping_delta_median"), sens.get("tipping_delta_median_mc_se")
    alpha = keys.get(summary, "alpha") or 0.05
    caption = (run.caption(keys.get(summary, "replications"), keys.get(summary, "seed"))
               + f". delta shifts {ARM_WORDS.get(sens['arm'], sens['arm'])} missing 12-month"
               " scores (SD units); SE held at the MAR analysis's.")
    with figure_style():
        fig = new_figure(6.8, 4.2, caption)
        ax1, ax2 = fig.subplots(1, 2)
        ax1.errorbar(d, power, yerr=2 * p_se, fmt="o-", color=OKABE_ITO["blue"], capsize=3,
                     label="power (2 MC SE)")
        ax1.axhline(alpha, color=OKABE_ITO["grey"], lw=0.8, ls=":")
        ax1.set_ylim(0, 1)
        ax1.set_xlabel("delta (SD of the 12-month score)")
        ax1.set_ylabel("power (p < alpha, favouring IPS)")
        sig = sens.get("tipping_delta_median_if_significant")
        for value, se, words, colour, ls in (
                (tip, tip_se, "median tipping point, all trials", "vermillion", "--"),
                (sig, sens.get("tipping_delta_median_if_significant_mc_se"),
                 "median, trials significant under MAR", "purple", "-.")):
            if value is None:
                continue
            label = f"{words}: {value:.2f}" + (f" (MC SE {se:.2f})" if se is not None else "")
            for ax in (ax1, ax2):
                ax.axvline(value, color=OKABE_ITO[colour], lw=1, ls=ls,
                           label=label if ax is ax1 else None)
        ax1.legend(loc="upper left", frameon=False, fontsize=7)
        ax2.errorbar(d, bias, yerr=2 * b_se, fmt="s-", color=OKABE_ITO["orange"], capsize=3)
        ax2.axhline(0, color=OKABE_ITO["grey"], lw=0.8)
        ax2.set_xlabel("delta (SD of the 12-month score)")
        ax2.set_ylabel("bias against the full-data effect")
        return save(fig, out / FILE)
