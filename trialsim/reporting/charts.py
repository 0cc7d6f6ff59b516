"""Planning charts: the recruitment fan chart a grant application can show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def recruitment_fan_chart(summary: dict[str, Any], path: Path) -> None:
    curve = summary["recruitment"]["curve"]
    months = curve["months"]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    ax.fill_between(months, curve["p10"], curve["p90"], alpha=0.25, color="C0",
                    label="10-90% of simulated trials")
    ax.plot(months, curve["p50"], color="C0", lw=2, label="median")
    ax.axhline(summary["target_n"], color="C3", ls="--", lw=1,
               label=f"target {summary['target_n']}")
    p = summary["recruitment"]["prob_target_by_end"]
    ax.set_title(f"{summary['scenario']}: cumulative randomised "
                 f"(P(target by month {summary['recruitment_months']:g}) = {p:.0%})")
    ax.set_xlabel("months from the start of recruitment")
    ax.set_ylabel("participants randomised")
    ax.set_xlim(0, months[-1])
    ax.set_ylim(0, 1.2 * max(summary["target_n"], max(curve["p90"])))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
