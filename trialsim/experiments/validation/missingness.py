"""Job-linked non-return against the selection formula.

If a worker returns the 12-month questionnaire with probability r1 = ratio x r0 and a
non-worker with r0, independently of everything else, the share in work among those who
return is p r1 / (p r1 + (1 - p) r0) = p ratio / (p ratio + 1 - p), p the true share in
work. The case makes returns independent of earlier returns and of the baseline
covariates (every transition of Table 8's chain at one probability, every return odds
ratio 1), withdrawals impossible and employment known only from
the questionnaire, so that the formula holds exactly; it then checks the simulated
returners' share in work in each arm, and the complete-case bias of the employment
difference, against the formula at the simulated true shares.
"""

from __future__ import annotations

import math

import numpy as np

from trialsim.experiments.validation.core import FAIL, PASS, Z_MC, Case, Context, Result
from trialsim.model.records import ARMS

RATIO, RETURN = 0.4, 0.6
ROWS = ("first", "m6_after_return", "m6_after_miss", "m12_after_return", "m12_after_miss")
OVERRIDES = [
    "scenario=pain_services", "trial.recruitment_months=120", "trial.target_n=300",
    "employment.ips_relative_risk_m12=1.8", "employment.ready.primary_care=0.6",
    "employment.ready.pain_service=0.6", "employment.withdraw_on_job.ips=0.0",
    "employment.withdraw_on_job.tau=0.0", f"follow_up.work_return_ratio={RATIO}",
    "follow_up.linkage=false",
    # returns independent of the baseline covariates too (the formula's assumption)
    "follow_up.return_covariates.male=0", "follow_up.return_covariates.single=0",
    *(f"follow_up.returns.{arm}.{row}={RETURN}" for arm in ARMS for row in ROWS),
]


def selected_share(p: float, ratio: float) -> float:
    """Share in work among returners when workers return `ratio` times as often."""
    return p * ratio / (p * ratio + 1 - p)


def _ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """sum(num) / sum(den) over replications and its delta-method SE."""
    r = float(num.sum() / den.sum())
    resid = num - r * den
    se = float(math.sqrt(resid.var(ddof=1) / len(num)) / den.mean())
    return r, se


def job_linked_non_return(ctx: Context) -> list[Result]:
    rows = ctx.replications(OVERRIDES, ctx.reps(1000, 200), 11)
    out: list[Result] = []
    truth = {}
    for arm in ARMS:
        n = rows[arm].to_numpy(dtype=float)
        working = rows[f"employment_m12_{arm}"].to_numpy(dtype=float) * n
        p = float(working.sum() / n.sum())
        truth[arm] = p
        expected = selected_share(p, RATIO)
        share, se = _ratio(rows[f"reported_work_{arm}_m12"].to_numpy(dtype=float),
                           rows[f"complete_m12_{arm}"].to_numpy(dtype=float))
        ok = abs(share - expected) <= Z_MC * se
        out.append(Result("job_linked_non_return",
                          f"{arm.upper()}: share in work among 12-month returners "
                          f"(true share {p:.3f}, ratio {RATIO})", expected, share,
                          share - Z_MC * se, share + Z_MC * se, PASS if ok else FAIL,
                          f"expected inside ratio estimate +- {Z_MC:g} MC SE", se=se))
    bias = (selected_share(truth["ips"], RATIO) - selected_share(truth["tau"], RATIO)
            - (truth["ips"] - truth["tau"]))
    estimate = rows["secondary_estimate"] if "secondary_estimate" in rows else None
    if estimate is not None:
        diff = (estimate - rows["secondary_true"]).to_numpy(dtype=float)
        diff = diff[np.isfinite(diff)]
        mean, se = float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff)))
        ok = abs(mean - bias) <= Z_MC * se
        out.append(Result("job_linked_non_return",
                          "complete-case bias of the employment difference (IPS - TAU)",
                          bias, mean, mean - Z_MC * se, mean + Z_MC * se,
                          PASS if ok else FAIL, f"expected inside mean +- {Z_MC:g} MC SE",
                          "the formula at the pooled true shares; the estimate is the "
                          "secondary (employment) analysis of each trial", se))
    return out


GROUP = "Missing data: complete cases under job-linked non-return"
CASES = [Case("job_linked_non_return", GROUP,
              f"workers return at {RATIO} times a non-worker's rate ({RETURN}), returns "
              "independent across waves: returners' share in work p r / (p r + 1 - p)",
              job_linked_non_return)]
