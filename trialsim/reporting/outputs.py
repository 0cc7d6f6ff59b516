"""Writing a run's results into its directory.

Every file is written to a temporary name and renamed, so no file is ever seen half
written; summary.json comes last, so that its absence marks a run incomplete and it
never stands beside a partial replications.csv. Values that JSON cannot hold (NaN,
inf: e.g. the mean wait of a run that randomised nobody) are written as null.
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


def write_json_atomic(path: Path, data: Any) -> None:
    text = json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n"
    _atomic(path, lambda p: p.write_text(text))


def _csv(path: Path, frame: pd.DataFrame) -> None:
    _atomic(path, lambda p: frame.to_csv(p, index=False))


def write_outputs(out_dir: Path, summary: dict[str, Any], result: RunResult, *,
                  charts: bool, participants: bool, assurance: RunResult | None = None,
                  assurance_inputs: pd.DataFrame | None = None, report: bool = True) -> None:
    """`assurance_inputs`: each assurance replication's drawn inputs and flags
    (trialsim.reporting.sensitivity)."""
    # imported here: the figures import this module for the file names
    from trialsim.reporting.report import publish

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SUMMARY).unlink(missing_ok=True)
    _csv(out_dir / "replications.csv", result.replications)
    if assurance is not None:
        _csv(out_dir / ASSURANCE_REPLICATIONS, assurance.replications)
    if assurance_inputs is not None:
        _csv(out_dir / ASSURANCE_PARAMETERS, assurance_inputs)
    curve = summary["recruitment"]["curve"]
    _csv(out_dir / "recruitment_curve.csv", pd.DataFrame(curve))
    if participants and result.participants is not None:
        _csv(out_dir / "participants.csv", result.participants)
    write_figure_data(out_dir, result)  # small CSVs the figures are drawn from
    write_json_atomic(out_dir / SUMMARY, summary)
    publish(out_dir, charts=charts, report=report)  # figures and report, from the files
