"""The report's document model and number formats, shared by every section.

A Block is a tuple the templates render to markdown and HTML:

    ("h", level, text) | ("p", text) | ("quote", text) | ("ul", items) | ("ol", items)
    | ("table", header, rows) | ("fig", file, caption) | ("pre", text)
    | ("details", summary, blocks)

A report section is a function `(run: RunDir) -> list[Block]` (a SectionProvider); the
run and design reports insert the providers listed in `report.RUN_SECTIONS` and
`report.DESIGN_SECTIONS`, so a new section is wired with one line there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from trialsim.inputs.allocation_ratio import parse_ratio

if TYPE_CHECKING:
    from trialsim.reporting.rundir import RunDir

Block = tuple
SectionProvider = Callable[["RunDir"], list[Block]]


def p3(x: float | None) -> str:
    """A probability to three decimals."""
    return "n/a" if x is None else f"{x:.3f}"


def num(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def sd_words(c: Callable) -> str | None:
    """The 12-month outcome SDs as configured (`c`: RunDir.cfg): TAU's, and the IPS arm's
    where it has its own; None where the config does not give them."""
    ctrl_months, sds = c("outcome.control.months", []), c("outcome.control.sds", [])
    ips_sds = c("outcome.ips_sds", None) or sds
    if 12 not in ctrl_months or not len(sds) == len(ctrl_months) == len(ips_sds):
        return None
    k, scale = ctrl_months.index(12), c("outcome.sd_scale", 1.0)
    tau, ips = (f"{scale * s:{'g' if scale == 1 else '.2f'}}" for s in (sds[k], ips_sds[k]))
    words = f"SD {tau}" if ips_sds[k] == sds[k] else f"SD {tau} TAU, {ips} IPS"
    return words if scale == 1 else f"{words}: the configured SDs x {scale:g}, outcome.sd_scale"


def pct(x: float | None) -> str:
    """A percentage to the unit; to a tenth within a unit of 0 or 100% (but not at
    them), so that 0.005 reads 0.5%, not 0%: a rare event is not an impossible one."""
    if x is None:
        return "n/a"
    return f"{100 * x:.1f}%" if 0 < x < 0.01 or 0.99 < x < 1 else f"{100 * x:.0f}%"


def with_se(x: float | None, se: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f} (MC SE {p3(se)})"


def description(run: RunDir) -> str:
    """The scenario's description on one line."""
    return " ".join(str(run.cfg("description", "") or "").split())


def per_arm(n: float, ratio: object = "1:1") -> str:
    """How a total of n splits between the arms at the allocation ratio (IPS:TAU), in words."""
    r = parse_ratio(ratio or "1:1")
    if r.equal:
        return f"{n / 2:g} per arm"
    ips, tau = r.expected_counts(n)
    return f"{ips:g} IPS and {tau:g} TAU, allocated {r.text} IPS:TAU"
