"""Expected CONSORT flow diagram: the mean count in each box over simulated trials,
with its 90% interval. In every replication each box equals the sum of its branches
(`FLOW`); `check_flow` says where it does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trialsim.reporting import keys
from trialsim.reporting.figures.style import (
    ARM_COLOURS,
    OKABE_ITO,
    TEXT_WIDTH,
    figure_style,
    new_figure,
    save,
)
from trialsim.reporting.rundir import RunDir

# parent: its branches (columns of flow.csv; a name ending in "*" is derived below)
ENROLMENT = [
    ("approached", ["responded", "no_reply*"]),
    ("responded", ["contacted", "not_contacted*"]),
    ("contacted", ["eligible", "ineligible*"]),
    ("eligible", ["consented", "declined*"]),
    ("consented", ["randomised", "not_randomised*"]),
    ("randomised", ["ips", "tau"]),
    ("ips", ["ips_seen", "ips_not_seen"]),
    ("ips_seen", ["ips_engaged", "ips_disengaged_after_assessment"]),
    ("tau", ["tau_booklet", "tau_no_booklet"]),
]
DERIVED = {"no_reply": ("approached", "responded"), "not_contacted": ("responded", "contacted"),
           "ineligible": ("contacted", "eligible"), "declined": ("eligible", "consented"),
           "not_randomised": ("consented", "randomised")}
LABELS = {
    "approached": "Approached (packs posted or people asked)", "responded": "Responded",
    "contacted": "Contacted and screened", "eligible": "Eligible", "consented": "Consented",
    "randomised": "Randomised", "no_reply": "No reply",
    "not_contacted": "Not contacted (unreachable, or\nstill to be called at the close)",
    "ineligible": "Ineligible", "declined": "Declined",
    "not_randomised": "Not randomised (recruitment closed)",
    "ips": "Allocated to IPS", "tau": "Allocated to TAU",
    "ips_seen": "Received IPS (first ESW appointment)",
    "ips_not_seen": "Never seen by an ESW (gave up waiting)",
    "ips_engaged": "Engaged after assessment",
    "ips_disengaged_after_assessment": "Disengaged after assessment",
    "tau_booklet": "Received booklet appointment", "tau_no_booklet": "No booklet appointment",
}


def flow_note(run: RunDir) -> str:
    """Why no one is ineligible or declines in a pain-services flow: the pilot's clinics
    recorded only the 13 they recruited (13 approached, 13 eligible, 13 consented: no
    denominators), so the model's shares are 13 of 13 ('' when the run does not use them)."""
    if not run.cfg("sites.pain_services.count", 0):
        return ""
    stages = [run.cfg(f"sites.pain_services.clinics.{s}") for s in ("contact", "eligible",
                                                                     "consent")]
    if not all(isinstance(v, dict) and v.get("k") == v.get("n") for v in stages):
        return ""
    counts = "/".join(str(v["k"]) for v in stages)
    gp = (" Ineligible and declining counts come from GP practices only."
          if run.cfg("sites.gp_practices.count", 0) else "")
    return (f"In pain services everyone approached is counted as eligible and consenting: the "
            f"pilot's clinics recorded {counts} (approached, eligible, consented: only those "
            f"recruited, no denominators), so the model has no data to screen anyone out "
            f"there.{gp}")


def flow_table(flow: pd.DataFrame) -> pd.DataFrame:
    """flow.csv with the derived exclusion boxes added (one row per replication)."""
    out = flow.copy()
    for name, (parent, child) in DERIVED.items():
        out[name] = out[parent] - out[child]
    return out


def wave_labels(flow: pd.DataFrame) -> list[str]:
    return sorted({c.split("_")[1] for c in flow.columns if c.endswith("_returned")
                   and c.startswith("ips_m")}, key=lambda w: float(w[1:]))


def relations(flow: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """Every parent box with its branches, including each arm at each wave."""
    rel = [(p, [c.rstrip("*") for c in cs]) for p, cs in ENROLMENT]
    for w in wave_labels(flow):
        for arm in ("ips", "tau"):
            rel.append((arm, [f"{arm}_{w}_returned", f"{arm}_{w}_not_returned",
                              f"{arm}_{w}_withdrawn"]))
    return rel


def check_flow(flow: pd.DataFrame) -> list[str]:
    """Replications where a box is not the sum of its branches or a count is negative."""
    t = flow_table(flow)
    problems = []
    for parent, children in relations(flow):
        bad = t[parent] != t[children].sum(axis=1)
        if bad.any():
            problems.append(f"{parent} != {' + '.join(children)} in {int(bad.sum())} reps")
    neg = [c for c in t.columns if c != "rep" and (t[c] < 0).any()]
    problems += [f"{c} negative" for c in neg]
    return problems


def _text(t: pd.DataFrame, col: str) -> str:
    x = t[col].to_numpy(dtype=float)
    lo, hi = np.quantile(x, [0.05, 0.95], method="inverted_cdf")
    return f"{x.mean():,.1f} ({lo:,.0f} to {hi:,.0f})"


def _box(ax, x: float, y: float, text: str, colour: str, ha: str = "center") -> None:
    ax.text(x, y, text, ha=ha, va="center", fontsize=FONT, wrap=False,
            bbox={"boxstyle": "round,pad=0.35", "fc": "white", "ec": colour, "lw": 1.1},
            transform=ax.transAxes)


FONT = 7.5  # points, printed at the text width
HEIGHT = 9.4  # inches


def _half(lines: int) -> float:
    """Half a box's height in axes fraction (FONT pt lines, padding) plus a margin."""
    return (FONT * 1.2 / 72 * lines / 2 + 0.06) / (HEIGHT * 0.93) + 0.004


def _arrow(ax, xy0, xy1) -> None:
    ax.annotate("", xy=xy1, xytext=xy0, xycoords="axes fraction",
                arrowprops={"arrowstyle": "->", "color": "#555555", "lw": 0.8})


def flow_figure(run: RunDir, out: Path) -> list[Path]:
    t = flow_table(run.csv("flow.csv"))
    summary = run.summary
    reps = run.csv("replications.csv")
    for arm in ("ips", "tau"):  # analysed as the primary analysis counted them, if saved
        col = f"primary_n_{arm}"
        if reps is not None and col in reps and len(reps) == len(t):
            t[f"{arm}_analysed"] = reps[col].to_numpy()
    primary = keys.get(summary, "primary_outcome") or "rtw_se"
    outcome = {"rtw_se": "12-month RTW self-efficacy",
               "employment": "in work at 12 months"}.get(primary, primary)
    waves = wave_labels(t)
    grey, black = OKABE_ITO["grey"], OKABE_ITO["black"]
    with figure_style():
        note = flow_note(run)
        fig = new_figure(TEXT_WIDTH, HEIGHT, run.caption(keys.get(summary, "replications"),
                                                         keys.get(summary, "seed"))
                         + "  |  mean per simulated trial (5th to 95th percentile)"
                         + (f"  |  {note}" if note else ""))
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.set_title("Expected CONSORT flow", loc="left")
        main = ["approached", "responded", "contacted", "eligible", "consented", "randomised"]
        side = ["no_reply", "not_contacted", "ineligible", "declined", "not_randomised"]
        step = 0.062
        ys = [0.97 - i * step for i in range(len(main))]
        for i, name in enumerate(main):
            _box(ax, 0.36, ys[i], f"{LABELS[name]}\n{_text(t, name)}", black)
            if i + 1 < len(main):
                _arrow(ax, (0.36, ys[i] - 0.02), (0.36, ys[i + 1] + 0.02))
                yb = (ys[i] + ys[i + 1]) / 2
                _box(ax, 0.625, yb, f"{LABELS[side[i]]}\n{_text(t, side[i])}", grey,
                     ha="left")
                _arrow(ax, (0.36, yb), (0.61, yb))
        y = ys[-1] - 0.075
        xs = {"ips": 0.25, "tau": 0.75}
        for x in xs.values():
            _arrow(ax, (0.36, ys[-1] - 0.02), (x, y + 0.02))
        rows: dict[str, list[list[str]]] = {
            "ips": [["ips"], ["ips_seen", "ips_not_seen"],
                    ["ips_engaged", "ips_disengaged_after_assessment"]],
            "tau": [["tau"], ["tau_booklet", "tau_no_booklet"], []],
        }
        parts = [("returned", "Questionnaire returned"), ("not_returned", "Not returned"),
                 ("withdrawn", "Withdrawn (moved away on a job)")]
        levels: dict[str, list[str | None]] = {}
        for arm in xs:
            levels[arm] = ["\n".join(f"{LABELS[c]}: {_text(t, c)}" for c in level) or None
                           for level in rows[arm]]
            levels[arm] += [f"Follow-up at month {w[1:]} (of all allocated)\n" + "\n".join(
                f"{lab}: {_text(t, f'{arm}_{w}_{k}')}" for k, lab in parts) for w in waves]
            levels[arm].append(f"Analysed\n(primary outcome: {outcome})\n"
                               f"{_text(t, f'{arm}_analysed')}")
        n_levels = len(levels["ips"])
        gap = (y - 0.04) / (n_levels - 1)
        for arm, x in xs.items():
            previous = None
            for i, text in enumerate(levels[arm]):
                if text is None:
                    continue
                yi = y - i * gap
                _box(ax, x, yi, text, ARM_COLOURS[arm])
                if previous is not None:
                    y0, lines0 = previous
                    _arrow(ax, (x, y0 - _half(lines0)), (x, yi + _half(text.count("\n") + 1)))
                previous = (yi, text.count("\n") + 1)
        return save(fig, out / "flow.png")
