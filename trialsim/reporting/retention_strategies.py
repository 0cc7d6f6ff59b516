"""The retention strategies compared (summary.json "retention_strategies"): terminal
lines and the report's section, so that a planner reads each strategy's 12-month
returns, bias and power beside the others'. Written only by runs with
`follow_up.compare_strategies=true` (trialsim.experiments.retention)."""

from __future__ import annotations

from typing import Any

from trialsim.reporting.rundir import RunDir

KEY = "retention_strategies"
LABELS = {"none": "none", "esw_completion": "ESW completion", "text_followup": "text / e-mail",
          "interim_contact": "9-month contact", "linkage": "record linkage",
          "all": "all together"}
Block = tuple  # as trialsim.reporting.report's


def _f(x: float | None, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def _row(v: dict[str, Any]) -> list[str]:
    r, k = v["returned_m12"], v["retention_m12"]
    return [LABELS.get(v["strategy"], v["strategy"]),
            f"{_f(r['ips'], '.1f')} ({_f(k['ips'], '.2f')})",
            f"{_f(r['tau'], '.1f')} ({_f(k['tau'], '.2f')})",
            f"{_f(v['analysed']['ips'], '.1f')} / {_f(v['analysed']['tau'], '.1f')}",
            f"{_f(v['bias'], '+.3f')} ({_f(v['bias_mc_se'], '.3f')})",
            f"{_f(v['power'], '.3f')} ({_f(v['power_mc_se'], '.3f')})"]


HEADER = ["strategies", "IPS returned at 12 m (share)", "TAU returned at 12 m (share)",
          "analysed IPS / TAU", "bias (MC SE)", "power (MC SE)"]


def retention_lines(summary: dict[str, Any]) -> list[str]:
    """Terminal lines: one per set of strategies (none when not compared)."""
    s = summary.get(KEY)
    if not s:
        return []
    lines = [f"  retention strategies      same seeds; ESW mode effect {s['mode_effect']:+g} "
             "points; IPS / TAU returned at 12 m, bias, power"]
    for v in s["variants"]:
        r = v["returned_m12"]
        lines.append(f"    {LABELS.get(v['strategy'], v['strategy']):<22} "
                     f"{_f(r['ips'], '.1f')} / {_f(r['tau'], '.1f')}, bias "
                     f"{_f(v['bias'], '+.3f')}, power {_f(v['power'], '.3f')}")
    return lines


def retention_strategies_blocks(run: RunDir) -> list[Block]:
    """The report's section (empty when the run did not compare strategies)."""
    s = (run.summary or {}).get(KEY)
    if not s:
        return []
    return [
        ("h", 2, "Retention strategies compared"),
        ("p", f"The same {s['replications']} simulated trials (same seeds) run with no "
              "retention strategy, each alone and all together: questionnaires returned at "
              "12 months per arm (mean count, and share of those sent), participants the "
              "primary analysis used, its bias against the full-data effect and its power. "
              "ESW completion adds IPS returns while the participant is in support, but a "
              "questionnaire completed with the ESW is scored "
              f"{s['mode_effect']:+g} points (follow_up.esw_completion.mode_effect, an "
              "assumption), which enters the bias. The 9-month contact is sent at "
              f"{s['interim_month']:g} months; linkage makes employment known but adds no "
              "RTW-SE questionnaire. docs/guide/missingness.md describes the model."),
        ("table", HEADER, [_row(v) for v in s["variants"]]),
    ]
