"""The power-curve report (`mode=curve`): power against N for each number of ESWs per
locality, with the N read from the fitted probit curve (trialsim.analysis.power_curve)
beside the first grid point whose own Monte Carlo bound clears the goal."""

from __future__ import annotations

from typing import Any

from trialsim.analysis.power_curve import fit_evaluations, n_for_power
from trialsim.reporting.report_appendix import appendix_blocks, assumptions_section
from trialsim.reporting.report_blocks import Block, SectionProvider, description
from trialsim.reporting.report_blocks import num as _n
from trialsim.reporting.report_blocks import with_se as _se
from trialsim.reporting.report_figures import figure_section
from trialsim.reporting.report_render import prose
from trialsim.reporting.rundir import RunDir


def _work_text(d: dict[str, Any]) -> str:
    w = d.get("work", {})
    return (f"Simulated: {w.get('replications')} replications in {w.get('runs')} runs "
            f"({_n(w.get('participants'), 0)} participants).")


def fitted_n_rows(d: dict[str, Any]) -> list[list[str]]:
    """Per ESWs per locality: the N at which the fitted curve reaches the goal (95%
    interval) and the N where its one-sided lower bound does."""
    crit, goal = d.get("criterion", "power"), d.get("goals", {}).get("target_power")
    z = d.get("goals", {}).get("confidence_z") or 1.6448536269514722
    fit = fit_evaluations(d.get("evaluations", []), crit) if goal is not None else None
    if fit is None:
        return []
    top = max(e["target_n"] for e in d.get("evaluations", []) if e.get(crit) is not None)

    def fmt(x: float) -> str:  # read within the simulated N; beyond it, say so
        if x <= top:
            return f"{x:,.0f}"
        return f"above {top:,} (extrapolated: {x:,.0f})" if x <= 2 * top else f"above {top:,}"

    rows = []
    for e in fit.esw_levels:
        r = n_for_power(fit, goal, e, z)
        rows.append([str(e), fmt(r.n), f"{fmt(r.lower)} to {fmt(r.upper)}", fmt(r.n_bound)])
    return rows


def curve_report(run: RunDir, sections: list[SectionProvider] = ()
                 ) -> tuple[str, list[Block]]:
    d = run.design
    g, crit = d.get("goals", {}), d.get("criterion", "power")
    has_assurance = any("assurance" in e for e in d.get("evaluations", []))
    title = f"trialsim power curve: {d.get('scenario')}"
    header = ["N", "ESWs/locality", "power (MC SE)"] + (["assurance (MC SE)"] if
                                                          has_assurance else []) + \
        [f"P(target within {d.get('scenario_months'):g} months)"]
    rows = [[str(e["target_n"]), str(e["esw_per_locality"]),
             _se(e.get("power"), e.get("power_mc_se"))]
            + ([_se(e.get("assurance"), e.get("assurance_mc_se"))] if has_assurance else [])
            + [_se(e.get("prob_target"), e.get("prob_target_mc_se"))]
            for e in d.get("evaluations", [])]
    fitted = fitted_n_rows(d)
    blocks: list[Block] = [
        ("p", description(run)),
        ("h", 2, "The question"),
        ("p", prose("curve_question", reps=d.get("replications"), seed=d.get("seed"),
                    months=f"{d.get('scenario_months'):g}", sites=d.get("scenario_sites"),
                    kind=str(d.get("site_kind")).replace("_", " "))),
        ("h", 2, f"Smallest N with {crit} >= {g.get('target_power')}"),
        ("table", ["ESWs per locality", "ESWs", "smallest N of the grid (its own one-sided "
                   "bound clears the goal)"],
         [[str(m["esw_per_locality"]), str(m["esws"]),
           str(m["target_n"]) if m["target_n"] is not None else "none in the grid"]
          for m in d.get("smallest_n", [])]),
        *([("p", f"From the fitted curve: the N at which {crit} reaches "
                 f"{g.get('target_power')} (95% interval), and the N at which its one-sided "
                 "lower bound does (the N to plan with: it uses every simulated point)."),
           ("table", ["ESWs per locality", "N (fitted)", "95% interval",
                      "N (fitted lower bound clears the goal)"], fitted)] if fitted else []),
        ("h", 2, f"{crit.capitalize()} against N"),
        ("table", header, rows),
        ("p", _work_text(d)),
        *figure_section(run),
    ]
    for section in sections:  # report.DESIGN_SECTIONS
        blocks += section(run)
    blocks += assumptions_section(run) + appendix_blocks(run)
    return title, blocks
