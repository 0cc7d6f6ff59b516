"""Questionnaire returns by arm and wave: the simulated trials' interval against the
rates the pilot observed (Table 8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.special import betaincinv  # beta.ppf's own kernel: scipy.stats costs ~0.4 s to import

from trialsim.reporting import keys, pilot_observed
from trialsim.reporting.figures.style import (
    ARM_COLOURS,
    ARM_LABELS,
    OKABE_ITO,
    TEXT_WIDTH,
    figure_style,
    new_figure,
    save,
)
from trialsim.reporting.rundir import RunDir


def retention_columns(reps) -> dict[str, list[str]]:
    """Wave labels per arm present in replications.csv (retention_<arm>_m<k>)."""
    out: dict[str, list[str]] = {}
    for arm in ("ips", "tau"):
        waves = [c.split("_")[-1] for c in reps.columns if c.startswith(f"retention_{arm}_m")]
        out[arm] = sorted(waves, key=lambda w: float(w[1:]))
    return out


def jeffreys(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    a = (1 - level) / 2
    return (float(betaincinv(k + 0.5, n - k + 0.5, a)),
            float(betaincinv(k + 0.5, n - k + 0.5, 1 - a)))


def retention_figure(run: RunDir, out: Path) -> list[Path]:
    reps, summary = run.csv("replications.csv"), run.summary
    waves = retention_columns(reps)
    all_waves = sorted({w for ws in waves.values() for w in ws}, key=lambda w: float(w[1:]))
    x = {w: i for i, w in enumerate(all_waves)}
    with figure_style():
        fig = new_figure(TEXT_WIDTH, 4.2, run.caption(keys.get(summary, "replications"),
                                               keys.get(summary, "seed")))
        ax = fig.add_subplot()
        for arm in ("ips", "tau"):
            off = -0.17 if arm == "ips" else 0.05
            c = ARM_COLOURS[arm]
            for w in waves[arm]:
                v = reps[f"retention_{arm}_{w}"].dropna().to_numpy(dtype=float)
                if not len(v):
                    continue
                lo, med, hi = np.quantile(v, [0.05, 0.5, 0.95], method="inverted_cdf")
                ax.errorbar(x[w] + off, med, yerr=[[med - lo], [hi - med]], fmt="o", color=c,
                            capsize=3, lw=1.4,
                            label=f"{ARM_LABELS[arm]} simulated: median, 90% of trials"
                            if w == waves[arm][0] else None)
            obs = pilot_observed.RETENTION_TABLE8[arm]
            first = True
            for w, (k, n) in obs.items():
                if w not in x:
                    continue
                lo, hi = jeffreys(k, n)
                ax.errorbar(x[w] + off + 0.12, k / n, yerr=[[k / n - lo], [hi - k / n]],
                            fmt="s", mfc="white", color=c, capsize=3, lw=1, ls="none",
                            label=f"{ARM_LABELS[arm]} pilot: observed, 95% Jeffreys interval"
                            if first else None)
                ax.annotate(f"{k}/{n}", (x[w] + off + 0.12, hi), textcoords="offset points",
                            xytext=(0, 3), ha="center", fontsize=7, color=c)
                first = False
        ax.set_xticks(range(len(all_waves)), [f"{w[1:]} months" for w in all_waves])
        ax.set_xlim(-0.6, len(all_waves) - 0.4)
        ax.set_ylim(0, 1.08)
        ax.set_ylabel("share returning the questionnaire\n(of those not withdrawn)")
        ax.set_xlabel("follow-up wave after randomisation")
        ax.set_title("Questionnaire returns by arm and wave:\nsimulated trials against the pilot "
                     "(Table 8)", loc="left")
        ax.axhline(1, color=OKABE_ITO["grey"], lw=0.6)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="lower left", frameon=False)
        return save(fig, out / "retention.png")
