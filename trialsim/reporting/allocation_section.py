"""The report's allocation section: the ratio IPS:TAU, the expected and simulated arm
sizes, and the IPS participants each ESW takes on. Written only at an unequal ratio (a
1:1 report is as before); the sample-size paragraph's "per arm" is N / 2, so this
section gives the arms at the run's ratio."""

from __future__ import annotations

from trialsim.inputs.allocation_ratio import KEY, AllocationRatio, parse_ratio
from trialsim.reporting import keys
from trialsim.reporting.rundir import RunDir

Block = tuple  # as trialsim.reporting.report.Block


def run_ratio(run: RunDir) -> AllocationRatio:
    """The run's ratio (1:1 for a run saved before the key existed)."""
    return parse_ratio(str(run.cfg(KEY, "1:1")))


def allocation_blocks(run: RunDir) -> list[Block]:
    ratio = run_ratio(run)
    s = run.summary or {}
    n = keys.get(s, "target_n")
    if ratio.equal or n is None:
        return []
    ips, tau = ratio.expected_counts(n)
    esws = (run.cfg("delivery.esw.per_locality") or 0) * (run.cfg("trial.localities") or 0)
    sim_ips, sim_tau = keys.get(s, "allocation_ips"), keys.get(s, "allocation_tau")
    blocks = run.cfg("trial.block_sizes")
    auto = blocks == "auto"
    sizes = " or ".join(str(b) for b in (ratio.suggested_blocks() if auto else blocks or []))
    sizes = f"of {sizes}" + (" (`trial.block_sizes=auto`)" if auto else "")
    text = (f"Participants are allocated IPS:TAU {ratio.text} (`{KEY}`), in permuted "
            f"blocks {sizes} within each setting, so each completed block holds the ratio "
            f"exactly. A target of {n} is {ips:g} IPS and {tau:g} TAU participants "
            "(the sample-size paragraph's 'per arm' halves N; these are the arms at this "
            "ratio)")
    if sim_ips is not None and sim_tau is not None:
        text += f"; the simulated trials randomised on average {sim_ips:.1f} and {sim_tau:.1f}"
    text += "."
    if esws:
        text += (f" Each of the {esws} ESWs takes on about {ips / esws:.1f} IPS participants "
                 f"over the trial ({n / 2 / esws:.1f} at 1:1).")
    text += (" Unequal allocation lowers the ESW caseload and cost; with the clustering by "
             "ESW in the IPS arm only, it costs some power at a fixed N "
             "(docs/guide/allocation.md).")
    return [("h", 2, "Allocation ratio"), ("p", text)]
