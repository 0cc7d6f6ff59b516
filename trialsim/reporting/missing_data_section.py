"""The report's missing-data section: the pre-specified missing-data analysis as a
paragraph for the statistical analysis plan, the delta-adjusted sensitivity analysis
(table, figure, tipping point) and, when the run compared them, every missing-data
analysis side by side. Blocks as trialsim.reporting.report's document model."""

from __future__ import annotations

from typing import Any

from trialsim.reporting import keys
from trialsim.reporting.figures.tipping_point import FILE
from trialsim.reporting.rundir import RunDir

Block = tuple
ANALYSIS_WORDS = {
    "complete_case": "complete cases (participants who returned the 12-month questionnaire)",
    "repeated_measures": "a repeated-measures mixed model over every questionnaire returned",
    "multiple_imputation": "multiple imputation",
}
ARM_WORDS = {"ips": "IPS participants", "tau": "TAU participants",
             "both": "participants in either arm"}


def _f(x: Any, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _with_se(x: Any, se: Any, digits: int = 2) -> str:
    return _f(x, digits) + ("" if se is None else f" (MC SE {_f(se, digits)})")


def primary_paragraph(analysis: str, method: str, imputations: Any) -> str:
    """The pre-specified RTW-SE analysis in the words of an analysis plan."""
    cluster = ("with a random intercept for the employment support worker (ESW) in the IPS "
               "arm (partially nested)" if method == "partially_nested" else
               "with ESWs as clusters" if method == "cluster_robust" else
               "ignoring the ESWs")
    if analysis == "repeated_measures":
        return ("RTW self-efficacy at 12 months will be analysed by a repeated-measures mixed "
                "model using every questionnaire returned at 3, 6 and 12 months: visit by "
                "arm means, baseline RTW-SE by visit, log years out of work and setting as "
                f"covariates, an unstructured within-participant covariance, {cluster}; "
                "the treatment effect is the difference at 12 months, with Kenward-Roger "
                "standard error and degrees of freedom. It is valid if the missing scores "
                "are missing at random (MAR) given baseline and the earlier returns, and "
                "uses every participant with at least one return (White, Horton, Carpenter "
                "& Pocock 2011, BMJ 342:d40).")
    if analysis == "multiple_imputation":
        return (f"Missing 3-, 6- and 12-month RTW self-efficacy will be imputed {imputations} "
                "times, separately by arm, in visit order from baseline RTW-SE, log years "
                "out of work, setting, the earlier visits and work status at 12 months "
                "where known (normal linear regression, proper posterior draws); each "
                f"completed dataset will be analysed by the primary model {cluster}, and "
                "the estimates combined by Rubin's rules with Barnard-Rubin degrees of "
                "freedom. It is valid under MAR given these variables.")
    return ("RTW self-efficacy at 12 months will be analysed among participants who "
            f"returned the 12-month questionnaire, adjusted for baseline, {cluster}. It is "
            "valid if returns are missing at random given arm and baseline only; the "
            "3- and 6-month returns are not used.")


def sensitivity_paragraph(sens: dict[str, Any]) -> str:
    grid = ", ".join(f"{g['delta']:g}" for g in sens["grid"])
    by = {g["delta"]: g for g in sens["grid"]}
    at0 = by.get(0.0)
    half = by.get(-0.5)
    text = ("Departures from MAR will be explored by delta adjustment: the missing "
            f"12-month scores of {ARM_WORDS.get(sens['arm'], sens['arm'])} are taken to be "
            "delta standard deviations (pooled SD of the returned 12-month scores) away "
            f"from their values predicted under MAR, for delta in {{{grid}}}; the primary "
            "model's estimate is recomputed at each delta with its standard error held at "
            "the MAR value (information-anchored; Cro, Carpenter & Kenward 2019, JRSS A "
            "182:623). The tipping point is the delta at which the conclusion "
            "(p < alpha in favour of IPS) changes.")
    if at0 is not None:
        text += (f" In the simulated trials the power is {_f(at0['power'])} under MAR"
                 + (f" and {_f(half['power'])} at delta = -0.5" if half else "") + ";")
    text += (" among trials significant under MAR the median tipping point is "
             f"{_with_se(sens.get('tipping_delta_median_if_significant'), sens.get('tipping_delta_median_if_significant_mc_se'))}"  # noqa: E501
             " SD, and over all trials power crosses one half at delta "
             f"{_with_se(sens.get('tipping_delta_median'), sens.get('tipping_delta_median_mc_se'))}.")  # noqa: E501
    by = sens.get("by_arm") or {}
    if all(by.get(arm, {}).get("tipping_delta_median_if_significant") is not None
           for arm in ("ips", "tau", "both")):
        def tip(arm: str) -> str:
            b = by[arm]
            return _with_se(b["tipping_delta_median_if_significant"],
                            b["tipping_delta_median_if_significant_mc_se"])
        text += (" Each arm will also be shifted alone and both together: among trials "
                 f"significant under MAR the conclusion turns at a median delta of {tip('ips')} "
                 f"SD in the IPS arm alone (its non-returners worse), {tip('tau')} SD in the "
                 f"TAU arm alone (its non-returners better) and {tip('both')} SD in both "
                 "arms (the same shift in each: it moves the estimate only by the arms' "
                 "different shares missing).")
    return text


def missing_data_blocks(run: RunDir) -> list[Block]:
    s = run.summary
    analysis = keys.get(s, "missing_data_analysis")
    if analysis is None:
        return []
    sens = keys.get(s, "missing_data_sensitivity")
    method = keys.get(s, "rtw_se_method") or "partially_nested"
    blocks: list[Block] = [
        ("h", 2, "Missing data: pre-specified analysis and sensitivity (ready to edit)"),
        ("quote", primary_paragraph(analysis, method, keys.get(s, "missing_data_imputations"))
         + (" " + sensitivity_paragraph(sens) if sens else "")),
    ]
    if sens:
        rows = [[f"{g['delta']:g}", _with_se(g["power"], g["power_mc_se"], 3),
                 _f(g["mean_estimate"]), _with_se(g["bias"], g["bias_mc_se"])]
                for g in sens["grid"]]
        blocks += [("table", ["delta (SD)", "power", "mean estimate", "bias"], rows)]
        if run.has(FILE):  # drawn with the other figures (charts on)
            blocks.append(("fig", FILE, "MNAR sensitivity: power and bias against delta"))
    comp = keys.get(s, "missing_data_comparison")
    if comp:
        rows = [[ANALYSIS_WORDS[m].split(" (")[0], _with_se(c["power"], c["power_mc_se"], 3),
                 _with_se(c["bias"], c["bias_mc_se"]),
                 _with_se(c["coverage"], c["coverage_mc_se"], 3),
                 f"{c['analysed_ips']:.1f} / {c['analysed_tau']:.1f}"]
                for m, c in comp.items()]
        blocks += [("p", "Each simulated trial analysed by every missing-data analysis "
                         "(analysis.compare_missing_data): power, bias against the "
                         "full-data effect, coverage of the 95% CI, numbers analysed "
                         "(IPS / TAU)."),
                   ("table", ["analysis", "power", "bias", "coverage", "analysed"], rows)]
    return blocks
