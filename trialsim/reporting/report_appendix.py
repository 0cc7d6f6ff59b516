"""The end of every report: the assumptions table (what the run uses, in words), then the
appendices: provenance, every raw configuration key, the resolved configuration."""

from __future__ import annotations

import subprocess
from typing import Any

from trialsim import __version__
from trialsim.reporting.report_blocks import Block
from trialsim.reporting.report_parameters import appendix_blocks as key_list
from trialsim.reporting.report_parameters import assumptions_blocks
from trialsim.reporting.rundir import RunDir
from trialsim.reporting.sources import ROOT

SEARCH_NOTE = ("The search varies the target N, the ESWs per locality and their FTE, the "
               "number of sites and the months (and the allocation ratio, the retention "
               "strategies and the kind of site where the design block lists several), and "
               "staffs the OTs to demand: for these the table gives the recommended design's "
               "value beside the configured one; the other values below are held as "
               "configured.")


def assumptions_section(run: RunDir, note: str | None = None,
                        searched: dict[str, Any] | None = None) -> list[Block]:
    """`searched`: the keys a design search varied, with the recommended design's values."""
    return [("h", 2, "Assumptions and their sources"),
            *([("p", note)] if note else []),
            *assumptions_blocks(run, searched)]


def provenance_rows(run: RunDir) -> list[list[str]]:
    prov = run.provenance
    rows = [[k, str(v)] for k, v in prov.items()]
    if not any("commit" in k for k in prov):
        rows.append(["trialsim version (report build)", __version__])
        rows.append(["git commit (report build; the run saved none)", _git_commit()])
    rows.insert(0, ["seed", str(run.cfg("seed"))])
    rows.insert(1, ["overrides", " ".join(run.overrides) or "(none)"])
    return rows


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, check=True, timeout=10)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _config_text(run: RunDir) -> str:
    path = run.path / ".hydra" / "config.yaml"
    return path.read_text() if path.is_file() else "(no .hydra/config.yaml in the run directory)"


def appendix_blocks(run: RunDir, searched: dict[str, Any] | None = None) -> list[Block]:
    """`searched`: as assumptions_section's."""
    return [
        ("h", 2, "Appendix A: provenance"),
        ("table", ["item", "value"], provenance_rows(run)),
        ("h", 2, "Appendix B: every parameter by its configuration key"),
        *key_list(run, searched),
        ("details", "Resolved configuration (.hydra/config.yaml)", [("pre", _config_text(run))]),
    ]
