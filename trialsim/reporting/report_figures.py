"""Which figures a directory gets, what each needs, how it is drawn, and the caption the
report gives it: what is drawn, in words, from the run's own numbers (a design report's
figure is captioned with the recommended design, not the scenario's settings)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trialsim.reporting import keys
from trialsim.reporting.figures.assurance import FILE as ASSURANCE_FILE
from trialsim.reporting.figures.assurance import assurance_figure
from trialsim.reporting.figures.capacity import capacity_figure
from trialsim.reporting.figures.flow import flow_figure, flow_note
from trialsim.reporting.figures.power import power_figure
from trialsim.reporting.figures.progression import review_job, trade_off_job
from trialsim.reporting.figures.recruitment import recruitment_figure
from trialsim.reporting.figures.retention import retention_figure
from trialsim.reporting.figures.tipping_point import tipping_point_figure
from trialsim.reporting.report_blocks import Block
from trialsim.reporting.rundir import RunDir


def _sims(run: RunDir) -> str:
    s = run.summary or {}
    return f"{keys.get(s, 'replications')} simulated trials, seed {keys.get(s, 'seed')}"


def _recruitment(run: RunDir) -> str:
    s = run.summary
    return (f"Recruitment projection: cumulative number randomised by month (median, 50% and "
            f"90% of {_sims(run)}) against the target of {keys.get(s, 'target_n')} and the "
            f"{keys.get(s, 'recruitment_months'):g}-month window, with each site's median "
            "opening month; below, the mean cumulative number by recruitment channel.")


def _flow(run: RunDir) -> str:
    note = flow_note(run)
    return ("Expected CONSORT flow: the mean count in each box per simulated trial, with the "
            f"5th to 95th percentile ({_sims(run)})." + (f" {note}" if note else ""))


def _capacity(run: RunDir) -> str:
    c = run.cfg
    per, loc, cap = (c("delivery.esw.per_locality"), c("trial.localities"),
                     c("delivery.esw.caseload"))
    esws = (f" ({per} ESW(s) in each of {loc} localities, {cap:g} places each)"
            if None not in (per, loc, cap) else "")
    return ("ESW capacity: IPS clients on each locality's caseloads by month (median, 50% and "
            f"90% of simulated trials) against the places{esws}; below, the distribution of "
            "waits for a caseload place, in weeks.")


def _retention(run: RunDir) -> str:
    return ("Questionnaire returns by arm and wave: the simulated trials (median and 90% "
            "interval) beside the pilot's observed returns with 95% Jeffreys intervals "
            "(Table 8).")


def _assurance(run: RunDir) -> str:
    s = run.summary or {}
    joint = keys.get(s, "assurance_joint")
    head = ("Assurance: left, the drawn true effect in trials that succeeded and failed; "
            "right, the uncertain inputs ranked by how much P(success) moves between their "
            "lowest and highest thirds.")
    if joint is not None:
        head += (f" Success for planning is the joint event (the target reached in time and "
                 f"the primary analysis rejects): assurance {joint:.2f}.")
    return head


def _power(run: RunDir) -> str:
    d = run.design or {}
    crit = d.get("criterion", "power")
    fit = (" Lines: the fitted probit curve in log N with its pointwise 95% band; points: "
           "the simulated estimates with 95% Monte Carlo intervals.")
    if d.get("mode") == "curve":
        return (f"Power curve: {crit} of the primary analysis against the total N, "
                f"{d.get('replications')} simulated trials per N (recruitment unconstrained), "
                f"and P(N randomised within {d.get('scenario_months'):g} months with "
                f"{d.get('scenario_sites')} {str(d.get('site_kind')).replace('_', ' ')})."
                + fit)
    rec = d.get("recommended")
    what = (f"The recommended design (star): N {rec['target_n']}, {rec['esw_per_locality']} "
            f"ESW(s) per locality ({rec['esws']} ESWs), {rec['sites']} "
            f"{str(d.get('site_kind')).replace('_', ' ')} over {rec['months']:g} months."
            if rec else "No design in the grid met every goal.")
    return (f"Design search: {crit} against the total N for each number of ESWs per locality, "
            "the smallest N meeting the goal against the ESWs, and P(target) against the "
            f"number of sites at the chosen N. {what}" + fit)


# figure file, the files it needs, how to draw it, its caption
FIGURES: tuple[tuple[str, tuple[str, ...], Callable, Callable[[RunDir], str]], ...] = (
    ("recruitment.png", ("summary.json", "recruitment_bands.csv"), recruitment_figure,
     _recruitment),
    ("flow.png", ("summary.json", "flow.csv"), flow_figure, _flow),
    ("capacity.png", ("summary.json", "caseload_by_month.csv", "esw_waits.csv"),
     capacity_figure, _capacity),
    ("retention.png", ("summary.json", "replications.csv"), retention_figure, _retention),
    ("assurance.png", (ASSURANCE_FILE,), assurance_figure, _assurance),
    ("power_curve.png", ("design.json",), power_figure, _power),
)

SLOWEST = ("capacity.png", "flow.png")  # after the internal pilot's review, in figure_jobs


def figure_jobs(run: RunDir) -> list[Callable[[RunDir, Path], list[Path]]]:
    """Every drawing a directory gets with charts on (the one place that says so; the
    report shows what was drawn), each from its files alone: the figures whose inputs are
    here, and the report sections' own (the internal pilot's two, the MNAR tipping point:
    each draws nothing where its section has nothing to show). Slowest first (about 0.7,
    0.65, 0.5 s, then 0.3 s or less each for a default run), so that handed out in this
    order to the processes side by side they finish together
    (trialsim.reporting.drawing)."""
    drawn = {name: draw for name, needs, draw, _caption in FIGURES
             if all(run.has(n) for n in needs)}
    first = [drawn.pop(name) for name in SLOWEST if name in drawn]
    return [review_job, *first, trade_off_job, *drawn.values(), tipping_point_figure]


def figure_blocks(run: RunDir) -> list[Block]:
    return [("fig", name, f"Figure {i}. {caption(run)}")
            for i, (name, _needs, _draw, caption) in
            enumerate([f for f in FIGURES if run.has(f[0])], start=1)]


def figure_section(run: RunDir) -> list[Block]:
    figs = figure_blocks(run)
    return [("h", 2, "Figures"), *figs] if figs else []
