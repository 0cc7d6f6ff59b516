"""Power of the pre-specified analyses against closed forms, and type I error.

Full simulated trials in a clean setting (identical sites open at once, nobody lost to
follow-up, outcome far from the 0-10 bounds), analysed exactly as a run analyses them
(trialsim.analysis.trial_analysis):
- ANCOVA against the two-sample t-test power with the baseline-adjusted effect size
  d = effect / (sd sqrt(1 - rho^2));
- the pre-specified partially nested analysis against the Moerbeek and Wong (2008)
  variance sd^2 (1 + (m - 1) icc) / (J m) + sd^2 / n_tau with Welch degrees of freedom;
- the two-proportion test of employment against the normal power with Cohen's arcsine
  effect size;
- type I error of the pre-specified primary analysis at effect 0 on full default trials
  (pain_services) with 4, 8 and 16 ESWs and ESW ICC 0, 0.05, 0.2: within 3 MC SE of
  alpha; above it (liberal, an invalid test) fails. Below it (conservative) fails too,
  except with 4 ESWs, where it is listed: there no valid test can be relied on to reach
  the band (scripts/power_bound.py: the most powerful test that keeps its size at ICC
  0.05 and 0.2 rejects 0.034 at ICC 0), so the conservatism is the price of validity,
  shown, not hidden.
A power passes when the simulated rejection rate is within 4 binomial SE of the closed
form at the simulated numbers analysed.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats

from trialsim.experiments.runner import run_replications
from trialsim.experiments.validation.core import (
    FAIL,
    LISTED,
    PASS,
    Z_MC,
    Case,
    Context,
    Result,
    share_result,
)
from trialsim.inputs.params import with_supported_entry
from trialsim.inputs.uncertainty import at_estimates

CLEAN = (
    "scenario=pain_services", "sites.pain_services.count=20", "screening.delay_mean_days=0",
    "screening.coordinators=null",
    "sites.pain_services.frailty_shape=inf", "sites.pain_services.opening.first_month=0",
    "sites.pain_services.opening.interval_months=0",
    "sites.pain_services.opening.setup_delay_mean_months=0",
    "trial.recruitment_months=120", "trial.target_n=200", "trial.localities=1",
    "delivery.esw.caseload=inf", "delivery.esw.disengage_after_assessment=0.0",
    "follow_up.returns.ips.first=1.0", "follow_up.returns.ips.m6_after_return=1.0",
    "follow_up.returns.ips.m12_after_return=1.0",
    "follow_up.returns.tau.first=1.0", "follow_up.returns.tau.m6_after_return=1.0",
    "follow_up.returns.tau.m12_after_return=1.0",
    "follow_up.work_return_ratio=1.0", "employment.withdraw_on_job.ips=0.0",
    "outcome.work_effect=0.0", "outcome.control.means=[5,5,5,5]",
    "outcome.control.sds=[1.5,1.5,1.5,1.5]", "outcome.ips_sds=null",
    # the closed forms are for one 12-month analysis of complete data: every RTW-SE item
    # answered, returns independent of sex and being single, the 12-month analysis alone
    "follow_up.return_covariates.male=0", "follow_up.return_covariates.single=0",
    "follow_up.rtw_se_items_complete.baseline=1", "follow_up.rtw_se_items_complete.m3=1",
    "follow_up.rtw_se_items_complete.m6=1", "follow_up.rtw_se_items_complete.m12=1",
    "analysis.missing_data=complete_case",
)
SD = 1.5
ALPHA = 0.05


def t_test_power(d: float, n1: float, n0: float, alpha: float = ALPHA) -> float:
    df = n1 + n0 - 2
    ncp = d * math.sqrt(n1 * n0 / (n1 + n0))
    crit = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))


def welch_power(effect: float, var_ips: float, var_tau: float, n_esw: int, n_tau: float,
                alpha: float = ALPHA) -> float:
    df = (var_ips + var_tau) ** 2 / (var_ips**2 / (n_esw - 1) + var_tau**2 / (n_tau - 1))
    ncp = effect / math.sqrt(var_ips + var_tau)
    crit = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))


def normal_power(h: float, n1: float, n0: float, alpha: float = ALPHA) -> float:
    z = stats.norm.ppf(1 - alpha / 2)
    shift = h / math.sqrt(1 / n1 + 1 / n0)
    return float(stats.norm.sf(z - shift) + stats.norm.cdf(-z - shift))


def _power_result(case: str, quantity: str, expected: float, rejects) -> Result:
    return share_result(case, quantity, expected, int(rejects.sum()), len(rejects))


def ancova_power(ctx: Context) -> list[Result]:
    effect, rho = 0.5, 0.5
    rows = ctx.replications([*CLEAN, "outcome.esw_icc=0.0", f"outcome.effect_m12={effect}",
                             f"outcome.within_person_corr={rho}", "analysis.method=ancova"],
                            ctx.reps(2000, 300), 21)
    n1, n0 = rows["primary_n_ips"].mean(), rows["primary_n_tau"].mean()
    d = effect / (SD * math.sqrt(1 - rho**2))
    return [_power_result("ancova_power", f"ANCOVA power, effect {effect}, {n1:.0f} + "
                          f"{n0:.0f} analysed", t_test_power(d, n1, n0),
                          rows["primary_reject"])]


def partially_nested_power(ctx: Context) -> list[Result]:
    icc, esws, effect = 0.1, 20, 0.7
    rows = ctx.replications([*CLEAN, f"outcome.esw_icc={icc}", f"outcome.effect_m12={effect}",
                             "outcome.within_person_corr=0.0",
                             f"delivery.esw.per_locality={esws}"], ctx.reps(2000, 300), 22)
    n1, n0 = rows["primary_n_ips"].mean(), rows["primary_n_tau"].mean()
    m = n1 / esws
    var_ips = SD**2 * (1 + (m - 1) * icc) / (esws * m)
    expected = welch_power(effect, var_ips, SD**2 / n0, esws, n0)
    return [_power_result("partially_nested_power",
                          f"pre-specified analysis, {esws} ESWs, ICC {icc}, effect {effect}",
                          expected, rows["primary_reject"])]


MORE_WORK = ("employment.ips_relative_risk_m12=1.8", "employment.ready.primary_care=0.6",
             "employment.ready.pain_service=0.6")


def employment_power(ctx: Context) -> list[Result]:
    rows = ctx.replications([*CLEAN, "follow_up.linkage=true", *MORE_WORK],
                            ctx.reps(2000, 300), 23)
    p1, p0 = rows["employment_m12_ips"].mean(), rows["employment_m12_tau"].mean()
    h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0))
    n1, n0 = rows["ips"].mean(), rows["tau"].mean()
    return [_power_result("employment_power",
                          f"two proportions, {p1:.2f} vs {p0:.2f} in work, status known for all",
                          normal_power(h, n1, n0), rows["secondary_reject"])]


TYPE_ONE_CELLS = [(esws, icc) for esws in (4, 8, 16) for icc in (0.0, 0.05, 0.2)]
FAST_CELLS = [(4, 0.0), (4, 0.2)]
# With this few ESWs no test valid at ICC 0.05 and 0.2 reliably reaches 0.05 - 3 MC SE at
# ICC 0 (docs/validation/power_bound.txt): a conservative cell there is listed, not failed
FEW_ESWS = 4


def size_result(esws: int, icc: float, hits: int, n: int, note: str) -> Result:
    """A type I error rate within 3 binomial SE of alpha passes; above (liberal) fails;
    below (conservative) fails, or with FEW_ESWS ESWs is listed with the reason."""
    r = share_result("type_one_error", f"{esws} ESWs, ICC {icc:g}: rejections at effect 0",
                     ALPHA, hits, n, z=3.0, note=note)
    if r.status == FAIL and r.simulated < ALPHA and esws <= FEW_ESWS:
        return dataclasses.replace(r, status=LISTED, note=(
            f"{note}; conservative: with {esws} ESWs the most powerful test valid at ICC "
            "0.05 and 0.2 itself rejects only 0.034 at ICC 0 (scripts/power_bound.py)"))
    return r


def type_one_error(ctx: Context) -> list[Result]:
    out = []
    for esws, icc in (FAST_CELLS if ctx.fast else TYPE_ONE_CELLS):
        rows = ctx.replications(["scenario=pain_services", "outcome.effect_m12=0.0",
                                 f"outcome.esw_icc={icc}",
                                 f"delivery.esw.per_locality={esws // 4}"],
                                ctx.reps(1000, 200), 100 + esws + int(icc * 100))
        ok = rows[rows["primary_estimable"] == 1]
        rejects = ok["primary_p"] < ALPHA
        out.append(size_result(esws, icc, int(rejects.sum()), len(rejects),
                               f"{len(rows) - len(ok)} of {len(rows)} not estimable"))
    return out


def assurance_effect_only(ctx: Context) -> list[Result]:
    """Every input a plain number but the effect, Normal(mu, sd): assurance must equal
    E[power(theta)] under the prior, computed by 5-node Gauss-Hermite quadrature on the
    same replications (same seeds: the same trial at each node), so that the paired
    difference's spread is the Monte Carlo SE."""
    mu, sd, reps = 1.0, 0.6, ctx.reps(1000, 150)
    params = with_supported_entry(at_estimates(ctx.params([
        "analysis.method=ancova", "trial.target_n=100", "sites.pain_services.count=8",
        "uncertainty.mode=pilot", f"outcome.effect_m12={mu}",
        f"uncertainty.effect_prior_sd={sd}", "uncertainty.frailty_shape_log_sd=0",
        "uncertainty.outcome_sd_df=inf", "uncertainty.within_person_corr_sd=0",
        "uncertainty.esw_icc_sd=0"])))
    seed = ctx.seed + 41
    assured = run_replications(params, reps, seed,
                               figures=False).replications["primary_reject"].to_numpy()
    point = dataclasses.replace(params, uncertainty=None)
    nodes, weights = np.polynomial.hermite_e.hermegauss(5)
    weights = weights / weights.sum()
    at = np.column_stack([run_replications(dataclasses.replace(
        point, outcome=dataclasses.replace(point.outcome, effect_m12=mu + sd * x)), reps,
        seed, figures=False).replications["primary_reject"].to_numpy() for x in nodes])
    expected = at @ weights
    d = assured - expected
    se = float(d.std(ddof=1) / math.sqrt(reps))
    ok = abs(float(d.mean())) <= Z_MC * se
    sim = float(assured.mean())
    return [Result("assurance_effect_only",
                   f"assurance with the effect ~ Normal({mu}, {sd}), ANCOVA, N 100",
                   float(expected.mean()), sim, sim - Z_MC * se, sim + Z_MC * se,
                   PASS if ok else FAIL, f"paired difference within {Z_MC:g} MC SE",
                   "expected: the power at 5 Gauss-Hermite nodes of the prior, same trials",
                   se)]


GROUP = "Power and type I error of the pre-specified analyses against closed forms"
CASES = [
    Case("ancova_power", GROUP, "ANCOVA against t-test power with the baseline-adjusted "
         "effect size", ancova_power, fast=False),
    Case("partially_nested_power", GROUP, "pre-specified clustered analysis against the "
         "Moerbeek-Wong variance with Welch df", partially_nested_power, fast=False),
    Case("employment_power", GROUP, "two-proportion test against normal power with the "
         "arcsine effect size", employment_power, fast=False),
    Case("type_one_error", GROUP, "type I error at effect 0: 4, 8, 16 ESWs x ICC 0, 0.05, "
         "0.2 on full default trials, within 3 MC SE of 0.05; liberal fails anywhere. A "
         "conservative cell with 4 ESWs is listed: no valid test reliably reaches the band "
         "there (docs/guide/validation.md: the most powerful test valid at ICC "
         "0.05 and 0.2 rejects only 0.034 at ICC 0)", type_one_error, fast=False),
    Case("assurance_effect_only", GROUP, "assurance with only the effect uncertain against "
         "the power averaged over the effect prior", assurance_effect_only, fast=False),
]
