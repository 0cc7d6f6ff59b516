"""Draw docs/model_flow.png: the flow of one simulated trial (docs/model.md).

    .venv/bin/python docs/model_flow.py docs/model_flow.png
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from trialsim.reporting.figures.style import OKABE_ITO as C  # noqa: E402

KIND = {  # fill, text colour, legend
    "bulk": (C["sky"], "black", "drawn in bulk before the loop needs it (numpy)"),
    "clock": (C["blue"], "white", "in order of time: the coordinator's loop, serving "
                                  "the ESW asks due"),
    "python": (C["orange"], "black", "computed in plain Python when the loop reaches it"),
    "after": (C["purple"], "black", "after the loop (vectorised or a recursion)"),
    "stats": (C["green"], "white", "analysis and summary"),
    "setup": (C["grey"], "black", "before the replication (parameters)"),
}

W, H = 12.0, 16.1
fig = plt.figure(figsize=(W, H))
ax = fig.add_axes([0, 0, 1, 1])
ax.set_xlim(0, W)
ax.set_ylim(0, H)
ax.axis("off")
boxes = {}


def box(name, x, y, w, h, text, kind, dashed=False):
    fill, ink, _ = KIND[kind]
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle="round,pad=0.02,rounding_size=0.12",
                                fc=fill, ec="black", lw=0.8, ls="--" if dashed else "-"))
    ax.text(x, y, text, ha="center", va="center", fontsize=8.6, color=ink, wrap=False,
            linespacing=1.25)
    boxes[name] = (x, y, w, h)


def arrow(a, b, text=None, side_a="bottom", side_b="top", rad=0.0, dx_a=0.0, dx_b=0.0,
          style="-|>", ls="-", label_dx=0.12, label_dy=0.0):
    def point(name, side, dx):
        x, y, w, h = boxes[name]
        return {"bottom": (x + dx, y - h / 2), "top": (x + dx, y + h / 2),
                "left": (x - w / 2, y + dx), "right": (x + w / 2, y + dx)}[side]
    p, q = point(a, side_a, dx_a), point(b, side_b, dx_b)
    ax.annotate("", xy=q, xytext=p,
                arrowprops=dict(arrowstyle=style, lw=1.0, color="black", ls=ls,
                                shrinkA=1, shrinkB=1,
                                connectionstyle=f"arc3,rad={rad}"))
    if text:
        ax.text((p[0] + q[0]) / 2 + label_dx, (p[1] + q[1]) / 2 + label_dy, text,
                fontsize=7.8, ha="left", va="center", style="italic")


ax.text(0.3, H - 0.35, "One simulated trial in trialsim (trialsim/model/trial.py, "
        "simulate_replication); time in days", fontsize=11.5, ha="left", va="center",
        weight="bold")

box("params", 3.55, 14.35, 6.5, 0.9,
    "Config -> frozen parameters (inputs/params.py, build_params);\n"
    "ESW-supported job entry rate solved from ips_relative_risk_m12\n"
    "by the employment law (inputs/employment_law.py)", "setup")
box("draws", 9.35, 14.35, 4.5, 0.9,
    "uncertainty.mode=pilot only: the replication\n"
    "draws its inputs, then re-solves the rate\n(inputs/uncertainty.py, sample_params)",
    "setup", dashed=True)
box("sites", 6.0, 13.05, 8.0, 0.75,
    "Sites: opening day (list, or regular + Gamma set-up delay), Gamma frailty,\n"
    "channels run (round(uptake x count) sites); locality round-robin (model/sites.py)",
    "bulk")
box("mail", 2.05, 11.8, 3.7, 1.0,
    "GP mailshot: packs in batches,\nBinomial(packs, reply x frailty)\nrepliers, Exp reply delay",
    "bulk")
box("hand", 6.0, 11.8, 3.7, 1.0,
    "GP hand-search: nurses visit in\nturn from a shared nurse-day\n"
    "budget; Poisson finds over visit",
    "bulk")
box("pois", 9.95, 11.8, 3.7, 1.0,
    "Poisson channels: opportunistic GP,\nposters, pain clinics; rate x frailty,\n"
    "drawn in chunks of time", "bulk")
box("resp", 6.0, 10.5, 10.0, 0.8,
    "Responders: arrival day; how far screening would take them (contact, eligible, consent)"
    "\nand the day they are ready for the call, arrival + Exp(screening.delay_mean_days) "
    "(model/recruitment.py)", "bulk")
box("coord", 6.0, 9.25, 10.0, 0.8,
    "Study coordinator(s): ONE queue of screening calls and TAU booklet appointments,\n"
    "in order of request day; each starts when asked or when the first coordinator is "
    "free (Recruitment.run)", "clock")
box("rand", 4.55, 7.95, 7.1, 0.95,
    "Call ends while recruitment is open: counted at the stage reached;\n"
    "if consented, randomised now: 1:1 blocks by setting or pilot_capacity\n"
    "(model/randomisation.py); years out of work drawn (Recruitment._randomise)", "clock")
box("close", 9.7, 7.95, 2.5, 0.95,
    "Recruitment closes at\ntrial.target_n randomised\nor at the window's end", "clock")

box("ask", 3.55, 6.45, 6.5, 0.9,
    "IPS: after Exp(first_appointment_mean_days), asks for a\ncaseload place in its locality "
    "(per_locality x caseload places,\nfirst come first served; patience ~ Exp) "
    "(Delivery._ask_esw)",
    "clock")
box("tau", 9.2, 6.45, 4.0, 0.9,
    "TAU: employment path (self-directed entry,\njob loss) at randomisation; booklet "
    "after\nExp delay, "
    "in the coordinator's queue\n(dashed; Delivery._tau)", "python")
box("gave", 1.35, 5.0, 2.3, 0.9, "waited past its\npatience: disengaged,\nno ESW", "clock")
box("seen", 5.1, 5.0, 4.9, 0.9,
    "First appointment with the least-loaded ESW;\nassessment: disengages (support 0) "
    "or not;\nready for work with P(setting, years out)", "clock")
box("path", 5.0, 3.65, 9.4, 0.95,
    "Employment path (model/employment.py): self-directed entry a(years out), + ESW-supported "
    "entry\nwhile in support and ready, readiness, job loss; a job in support extends it; "
    "first job:\nmay move away and withdraw. The ESW place is held until support ends",
    "python")
box("ot", 9.25, 5.0, 3.0, 0.9,
    "Joint ESW + OT appointment\nfor everyone seen; OT queue\nin order of request "
    "(Delivery.finish)", "after")
box("fu", 6.0, 2.35, 11.0, 0.8,
    "Follow-up at follow_up.months (3, 6, 12): Table 8's return chain per arm, job-linked "
    "non-return (work_return_ratio),\nnone after withdrawal; interim contacts and retention "
    "strategies only add returns (model/followup.py)", "after")
box("out", 6.0, 1.3, 11.0, 0.7,
    "RTW self-efficacy 0-10: Table 10 trajectory + IPS effect, person and ESW effects, work "
    "effect (model/outcomes.py)", "after")
box("ana", 6.0, 0.38, 11.0, 0.62,
    "Pre-specified analysis of the trial (analysis/trial_analysis.py) -> over replications: "
    "power, P(target), waits (reporting/summary.py)", "stats")

arrow("params", "sites", dx_b=-2.45)
arrow("draws", "sites", ls="--", dx_b=2.45)
for ch, dx in (("mail", -3.95), ("hand", 0.0), ("pois", 3.95)):
    arrow("sites", ch, dx_a=dx)
    arrow(ch, "resp", dx_b=dx)
arrow("resp", "coord")
arrow("coord", "rand", dx_a=-1.45)
arrow("rand", "close", side_a="right", side_b="left", text=None)
arrow("rand", "ask", dx_a=-1.0, text="IPS", label_dy=0.0)
arrow("rand", "tau", dx_a=2.9, dx_b=-0.95, text="TAU", label_dx=0.08)
arrow("tau", "coord", side_a="right", side_b="right", rad=0.5, ls="--")
arrow("ask", "gave", dx_a=-2.2)
arrow("ask", "seen", dx_a=1.55)
arrow("gave", "path", dx_b=-3.65)
arrow("seen", "path", dx_b=0.1)
arrow("seen", "ot", side_a="right", side_b="left")
arrow("path", "fu", dx_a=0.0, dx_b=-1.0)
arrow("tau", "fu", dx_a=1.85, dx_b=5.05)
arrow("fu", "out")
arrow("out", "ana")

handles = [plt.Rectangle((0, 0), 1, 1, fc=KIND[k][0], ec="black", lw=0.6) for k in KIND]
ax.legend(handles, [KIND[k][2] for k in KIND], loc="upper left",
          bbox_to_anchor=(0.02, 1 - 0.55 / H),
          ncol=3, fontsize=8, frameon=False)
fig.savefig(sys.argv[1], dpi=110, metadata={"Software": None})
