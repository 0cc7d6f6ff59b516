"""Writing a run's results into its directory.

Every file, figures and report included, is written in a staging directory and renamed
into the run directory once all are written (trialsim.reporting.staging), so no file is
ever seen half written; summary.json comes last, so that its absence marks a run
incomplete and it never stands beside a partial replications.csv or report. Values
that JSON cannot hold (NaN, inf: e.g. the mean wait of a run that randomised nobody)
are written as null.

The answer comes before the figures: `answer` (the terminal's table) is called once the
results are written in the staging directory and before the figures and the report are
drawn from them, which take most of a short run's time; they are still published with
the results, all or nothing. pandas, matplotlib and the report's modules are imported
only when a run directory is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialsim.reporting.files import (  # noqa: F401 - re-exported: the writers' names
    ASSURANCE_PARAMETERS,
    ASSURANCE_REPLICATIONS,
    DESIGN,
    SUMMARY,
    atomic,
    json_safe,
    write_json_atomic,
    write_text_atomic,
)
from trialsim.reporting.staging import staged

if TYPE_CHECKING:
    import pandas as pd

    from trialsim.reporting.run_result import RunResult

Answer = Callable[[], None]  # prints the answer: called before the figures are drawn


# the file names live with the atomic writes (trialsim.reporting.files): the figures and
# the manifest read them without importing this module, which publishes through them
def _csv(path: Path, frame: pd.DataFrame) -> None:
    atomic(path, lambda p: frame.to_csv(p, index=False))


def write_outputs(out_dir: Path, summary: dict[str, Any], result: RunResult, *,
                  charts: bool, participants: bool, assurance: RunResult | None = None,
                  assurance_inputs: pd.DataFrame | None = None, report: bool = True,
                  answer: Answer | None = None, processes: int | None = None) -> None:
    """`assurance_inputs`: each assurance replication's drawn inputs and flags
    (trialsim.reporting.sensitivity); `processes`: the run's n_jobs, for the figures."""
    import pandas as pd

    from trialsim.reporting.figure_data import write_figure_data

    def files(stage: Path) -> None:
        _csv(stage / "replications.csv", result.replications)
        if assurance is not None:
            _csv(stage / ASSURANCE_REPLICATIONS, assurance.replications)
        if assurance_inputs is not None:
            _csv(stage / ASSURANCE_PARAMETERS, assurance_inputs)
        _csv(stage / "recruitment_curve.csv", pd.DataFrame(summary["recruitment"]["curve"]))
        if participants and result.participants is not None:
            _csv(stage / "participants.csv", result.participants)
        write_figure_data(stage, result)  # small CSVs the figures are drawn from
        write_json_atomic(stage / SUMMARY, summary)

    (Path(out_dir) / SUMMARY).unlink(missing_ok=True)
    publish_files(Path(out_dir), files, charts=charts, report=report, answer=answer,
                  processes=processes)


def publish_files(out_dir: Path, files: Callable[[Path], None], *, charts: bool,
                  report: bool, answer: Answer | None = None,
                  processes: int | None = None) -> None:
    """`files(directory)` writes the results; `answer()` is called (the results are
    complete, none published yet); then the figures (on up to `processes` forked
    processes: the run's n_jobs) and report are drawn from them, and all are published
    into `out_dir` together (the completion mark last)."""
    from trialsim.reporting.manifest import write_manifest

    with staged(out_dir) as stage:
        files(stage)
        write_manifest(stage)  # what a rebuild checks its inputs against
        if answer is not None:
            answer()
        if charts or report:
            from trialsim.reporting.report import publish  # matplotlib, jinja2: drawn last

            publish(stage, charts=charts, report=report,  # figures and report, from the files
                    processes=processes)
        else:  # neither (a sweep's jobs): none of their modules loaded, a second saved
            from trialsim.reporting.rundir import RunDir
            from trialsim.reporting.sources import write_run_sources

            write_run_sources(RunDir(stage))
