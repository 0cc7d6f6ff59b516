"""Writing a run's results into its directory.

Every file, figures and report included, is written in a staging directory and renamed
into the run directory once all are written (trialsim.reporting.staging), so no file is
ever seen half written; summary.json comes last, so that its absence marks a run
incomplete and it never stands beside a partial replications.csv or report. Values
that JSON cannot hold (NaN, inf: e.g. the mean wait of a run that randomised nobody)
are written as null.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trialsim.experiments.runner import RunResult
from trialsim.reporting.figure_data import write_figure_data
from trialsim.reporting.manifest import write_manifest
from trialsim.reporting.staging import staged

SUMMARY = "summary.json"
ASSURANCE_REPLICATIONS = "replications_assurance.csv"
ASSURANCE_PARAMETERS = "assurance_parameters.csv"  # the figures read it by this name
DESIGN = "design.json"  # mode=design and mode=curve: goals, evaluations, the answer


def json_safe(data: Any) -> Any:
    """`data` with NaN and inf as None and numpy scalars as Python numbers."""
    if isinstance(data, dict):
        return {str(k): json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    if isinstance(data, np.generic):
        data = data.item()
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")  # keeps the format
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    _atomic(path, lambda p: p.write_text(text))


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")


def _csv(path: Path, frame: pd.DataFrame) -> None:
    _atomic(path, lambda p: frame.to_csv(p, index=False))


def write_outputs(out_dir: Path, summary: dict[str, Any], result: RunResult, *,
                  charts: bool, participants: bool, assurance: RunResult | None = None,
                  assurance_inputs: pd.DataFrame | None = None, report: bool = True) -> None:
    """`assurance_inputs`: each assurance replication's drawn inputs and flags
    (trialsim.reporting.sensitivity)."""
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
    publish_files(Path(out_dir), files, charts=charts, report=report)


def publish_files(out_dir: Path, files: Callable[[Path], None], *, charts: bool,
                  report: bool) -> None:
    """`files(directory)` writes the results; then the figures and report are drawn from
    them, and all are published into `out_dir` together (the completion mark last)."""
    # imported here: the figures import this module for the file names
    from trialsim.reporting.report import publish

    with staged(out_dir) as stage:
        files(stage)
        write_manifest(stage)  # what a rebuild checks its inputs against
        publish(stage, charts=charts, report=report)  # figures and report, from the files
