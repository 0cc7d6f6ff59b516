"""A grant-ready report in the run directory (`report.md` and a self-contained
`report.html`), with its figures, built from the run directory's files alone.

    python -m trialsim.reporting.report RUN_DIR [--no-charts] [--no-report]

rebuilds every figure and the report of a finished run (or design search, or a sweep
directory's heatmaps) without simulating again; the files come out byte for byte the same.

Where things live: report_run / report_design / report_curve (each report's sections),
report_parameters (the assumptions table), report_appendix, report_figures (figures and
their captions), report_render with templates/ (the layout and prose, Jinja2),
report_blocks (the Block type and number formats), labels (plain words for keys).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trialsim.inputs.yaml_loader import use_libyaml
from trialsim.reporting.allocation_section import allocation_blocks
from trialsim.reporting.budget_section import budget_blocks
from trialsim.reporting.drawing import draw_all
from trialsim.reporting.figures.sweep import sweep_figure
from trialsim.reporting.manifest import damage
from trialsim.reporting.missing_data_section import missing_data_blocks
from trialsim.reporting.progression_section import progression_blocks
from trialsim.reporting.report_blocks import Block, SectionProvider
from trialsim.reporting.report_design import check_verdict, design_report
from trialsim.reporting.report_figures import FIGURES, figure_jobs
from trialsim.reporting.report_render import to_html, to_markdown
from trialsim.reporting.report_run import (
    key_facts,
    loss_to_follow_up,
    rates_sentence,
    run_report,
    sample_size_paragraph,
)
from trialsim.reporting.retention_strategies import retention_strategies_blocks
from trialsim.reporting.rundir import RunDir
from trialsim.reporting.sources import write_run_sources
from trialsim.reporting.staging import staged

__all__ = ["Block", "FIGURES", "RUN_SECTIONS", "DESIGN_SECTIONS", "build", "build_sweep",
           "check_verdict", "design_report", "figure_jobs", "key_facts", "loss_to_follow_up",
           "main", "publish", "rates_sentence", "run_report", "sample_size_paragraph",
           "to_html", "to_markdown", "write_report"]

SWEEP_SUMMARY = "sweep_summary.csv"

# Extra report sections, each a function (run: RunDir) -> list[Block] that returns [] when
# it has nothing to say for this run. RUN_SECTIONS go after the figures of a run report,
# DESIGN_SECTIONS after the figures of a design-search or power-curve report, both before
# the assumptions table. Wire a new section with one line in the list.
RUN_SECTIONS: list[SectionProvider] = [
    allocation_blocks,
    missing_data_blocks,
    retention_strategies_blocks,
    progression_blocks,
    budget_blocks,
]
DESIGN_SECTIONS: list[SectionProvider] = [
    budget_blocks,
]


def write_report(run: RunDir) -> list[Path]:
    if run.summary is not None:
        title, blocks = run_report(run, RUN_SECTIONS)
    elif run.design is not None:
        title, blocks = design_report(run, DESIGN_SECTIONS)
    else:
        return []
    md, page = run.path / "report.md", run.path / "report.html"
    md.write_text(to_markdown(title, blocks))
    page.write_text(to_html(title, blocks, run.path))
    return [md, page]


def sweep_thresholds(sweep_dir: Path) -> dict[str, float]:
    """The planner's goals (design.target_power, design.prob_target) from a job's config."""
    for job in sorted(sweep_dir.iterdir()):
        run = RunDir(job)
        if run.config:
            return {k: float(run.cfg(f"design.{k}")) for k in ("target_power", "prob_target")
                    if run.cfg(f"design.{k}") is not None}
    return {}


def build_sweep(sweep_dir: Path) -> list[Path]:
    """The sweep's heatmaps (or line chart) from its sweep_summary.csv."""
    import pandas as pd

    path = sweep_dir / SWEEP_SUMMARY
    if not path.is_file():
        return []
    table = pd.read_csv(path)
    jobs = [d for d in sorted(sweep_dir.iterdir()) if (d / ".hydra" / "config.yaml").is_file()]
    first = RunDir(jobs[0]) if jobs else RunDir(sweep_dir)
    caption = (f"sweep of {len(table)} jobs, scenario {first.cfg('scenario_name')}  |  "
               f"{first.cfg('replications')} replications each, seed {first.cfg('seed')} "
               "(common random numbers)")
    return sweep_figure(table, sweep_thresholds(sweep_dir), sweep_dir, caption)


def build(path: Path, *, charts: bool = True, report: bool = True,
          processes: int | None = None) -> list[Path]:
    """Every figure and the report for a run, design-search or sweep directory; the
    figures side by side on up to `processes` forked processes (None or -1: one per core
    this process may use; trialsim.reporting.drawing), the report after them."""
    path = Path(path)
    if (path / SWEEP_SUMMARY).is_file():
        return build_sweep(path) if charts else []
    run = RunDir(path)
    if not run.has("parameter_sources.csv") and run.config:
        write_run_sources(run)
    made = draw_all(path, figure_jobs(run), processes) if charts else []
    if report:
        made += write_report(run)
    return made


def publish(out_dir: Path, *, charts: bool, report: bool,
            processes: int | None = None) -> list[Path]:
    """At the end of a run or design search: note each parameter's source beside the
    results, then draw the figures and write the report from the directory's files."""
    write_run_sources(RunDir(Path(out_dir)))
    return build(Path(out_dir), charts=charts, report=report, processes=processes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trialsim.reporting.report",
                                 description="Rebuild a finished run's figures and report "
                                             "from its files (no simulation).")
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--no-charts", action="store_true", help="skip the figures")
    ap.add_argument("--no-report", action="store_true", help="skip report.md / report.html")
    args = ap.parse_args(argv)
    use_libyaml()  # the run's config read back as simulate.py reads it
    if not args.run_dir.is_dir():
        print(f"trialsim: error: {args.run_dir} is not a directory", file=sys.stderr)
        return 2
    problem = damage(args.run_dir)
    if problem is None:
        try:  # built aside and published only when complete: a failure changes nothing
            with staged(args.run_dir) as stage:
                made = [args.run_dir / p.relative_to(stage) for p in
                        build(stage, charts=not args.no_charts, report=not args.no_report)]
        except Exception as ex:  # noqa: BLE001 - damage the checks missed: one line
            problem = f"cannot rebuild {args.run_dir}: {type(ex).__name__}: " \
                      f"{(str(ex).splitlines() or [''])[0]}"
    if problem is not None:
        print(f"trialsim: error: {problem}; nothing was changed", file=sys.stderr)
        return 2
    for p in made:
        print(p)
    if not made:
        print(f"trialsim: nothing to build in {args.run_dir} (no summary.json, design.json "
              f"or {SWEEP_SUMMARY})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
