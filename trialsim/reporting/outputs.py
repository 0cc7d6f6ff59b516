"""Writing a run's results into its directory.

summary.json is written last and atomically (temporary file, then rename), so a run
that failed part-way leaves no summary.json: its absence marks the run incomplete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from trialsim.experiments.runner import RunResult
from trialsim.reporting.figure_data import write_figure_data
from trialsim.reporting.report import publish

SUMMARY = "summary.json"


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


def write_outputs(out_dir: Path, summary: dict[str, Any], result: RunResult, *,
                  charts: bool, participants: bool, assurance: RunResult | None = None,
                  report: bool = True) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SUMMARY).unlink(missing_ok=True)
    result.replications.to_csv(out_dir / "replications.csv", index=False)
    if assurance is not None:
        assurance.replications.to_csv(out_dir / "replications_assurance.csv", index=False)
    curve = summary["recruitment"]["curve"]
    pd.DataFrame(curve).to_csv(out_dir / "recruitment_curve.csv", index=False)
    if participants and result.participants is not None:
        result.participants.to_csv(out_dir / "participants.csv", index=False)
    write_figure_data(out_dir, result)  # small CSVs the figures are drawn from
    write_json_atomic(out_dir / SUMMARY, summary)
    publish(out_dir, charts=charts, report=report)  # figures and report, from the files
