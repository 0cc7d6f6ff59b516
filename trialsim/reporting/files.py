"""Result file names, and writing a file so that it is never seen half written (a
temporary file renamed into place). Values JSON cannot hold (NaN, inf) are written as
null. Kept apart from trialsim.reporting.outputs, which publishes through the report:
the figures and the manifest need only these."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

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


def atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")  # keeps the format
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    atomic(path, lambda p: p.write_text(text))


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")
