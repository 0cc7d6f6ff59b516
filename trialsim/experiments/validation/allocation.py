"""Power of the pre-specified partially nested analysis at unequal allocation (r:1)
against the Moerbeek and Wong design-effect approximation.

Moerbeek M, Wong WK (2008). Sample size formulae for trials comparing group and
individual treatments in a multilevel model. Stat Med 27:2850-2864 (doi:
10.1002/sim.3115). With K ESWs of m IPS participants each, N_tau TAU participants, a
total SD sd in both arms and an ICC rho among one ESW's clients (IPS arm only), the
variance of the arm difference is

    Var = sd^2 (1 + (m - 1) rho) / (K m) + sd^2 / N_tau

(as the clusterPower package computes it: cpa.irgtt.normal, vard = (m varu + varei) /
(K m) + varr / ncontrols, which is the same with varu = rho sd^2, varei = (1 - rho)
sd^2). The reference distribution is a t with Welch's degrees of freedom between the
two parts, (v_ips + v_tau)^2 / (v_ips^2 / (K - 1) + v_tau^2 / (N_tau - 1)): what the
analysis's Kenward-Roger df reduces to when the ESWs' caseloads are equal (one
variance per arm, the ESW part estimated from K ESW means), and the reference the 1:1
case in power.py uses. The closed form is evaluated at each replication's own numbers
analysed (m = analysed IPS / K) and averaged over replications.

The same clean setting as power.py (identical sites open at once, nobody lost, no
cap on caseloads, outcome far from the 0-10 bounds), ICC 0.05 and 10 ESWs, the total N
fixed at 200 and the ratio IPS:TAU 1:1, 2:3 and 1:2 (`trial.allocation_ratio`). A
ratio passes when the simulated rejection rate is within 4 binomial SE of the closed
form. With the same setting at effect 0 and 1:2, the type I error must be within 3
binomial SE of alpha (power.py's rule): unequal arms must not make the test liberal.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from trialsim.experiments.validation.core import Case, Context, Result, share_result
from trialsim.experiments.validation.power import ALPHA, CLEAN, SD, size_result, welch_power
from trialsim.inputs.allocation_ratio import parse_ratio

ICC, ESWS, EFFECT = 0.05, 10, 0.6
RATIOS = ("1:1", "2:3", "1:2")
NULL_RATIO = "1:2"  # type I error checked with the arms furthest apart


def moerbeek_wong_variance(n_ips: float, n_tau: float, esws: int, icc: float,
                           sd: float = SD) -> tuple[float, float]:
    """(IPS part, TAU part) of Var(arm difference): sd^2 (1 + (m - 1) icc) / (K m) with
    m = n_ips / K, and sd^2 / n_tau."""
    m = n_ips / esws
    return sd**2 * (1 + (m - 1) * icc) / (esws * m), sd**2 / n_tau


def closed_form_power(n_ips: float, n_tau: float, esws: int = ESWS, icc: float = ICC,
                      effect: float = EFFECT) -> float:
    """Two-sided power at alpha 0.05: the Moerbeek-Wong variance, Welch's t df."""
    v_ips, v_tau = moerbeek_wong_variance(n_ips, n_tau, esws, icc)
    return welch_power(effect, v_ips, v_tau, esws, n_tau)


def overrides(ratio: str, esws: int = ESWS, icc: float = ICC,
              effect: float = EFFECT) -> list[str]:
    return [*CLEAN, f"trial.allocation_ratio={ratio}", "trial.block_sizes=auto",
            f"outcome.esw_icc={icc}", f"outcome.effect_m12={effect}",
            "outcome.within_person_corr=0.0", f"delivery.esw.per_locality={esws}"]


def ratio_result(ctx: Context, ratio: str, reps: int, seed_offset: int) -> Result:
    rows = ctx.replications(overrides(ratio), reps, seed_offset)
    ok = rows[rows["primary_estimable"] == 1]
    expected = float(np.mean([closed_form_power(a, b) for a, b in
                              zip(ok["primary_n_ips"], ok["primary_n_tau"], strict=True)]))
    r = parse_ratio(ratio)
    n1, n0 = ok["primary_n_ips"].mean(), ok["primary_n_tau"].mean()
    return share_result(
        "unequal_allocation_power",
        f"IPS:TAU {r.text}, {n1:.0f} + {n0:.0f} analysed, {ESWS} ESWs, ICC {ICC:g}, "
        f"effect {EFFECT:g}", expected, int(ok["primary_reject"].sum()), len(ok),
        note=f"{len(rows) - len(ok)} of {len(rows)} not estimable" if len(ok) < len(rows)
        else "")


def null_result(ctx: Context, ratio: str, reps: int, seed_offset: int) -> Result:
    """Type I error at effect 0 with the arms unequal: the rule of power.py's type I
    cells (within 3 binomial SE of alpha)."""
    rows = ctx.replications(overrides(ratio, effect=0.0), reps, seed_offset)
    ok = rows[rows["primary_estimable"] == 1]
    rejects = ok["primary_p"] < ALPHA
    r = size_result(ESWS, ICC, int(rejects.sum()), len(rejects),
                    f"IPS:TAU {parse_ratio(ratio).text}; {len(rows) - len(ok)} of "
                    f"{len(rows)} not estimable")
    return dataclasses.replace(r, case="unequal_allocation_power",
                               quantity=f"IPS:TAU {parse_ratio(ratio).text}, {r.quantity}")


def unequal_allocation_power(ctx: Context) -> list[Result]:
    reps = ctx.reps(2000, 200)
    out = [ratio_result(ctx, ratio, reps, 31 + i) for i, ratio in enumerate(RATIOS)]
    return [*out, null_result(ctx, NULL_RATIO, ctx.reps(1000, 200), 35)]


def expected_powers() -> dict[str, float]:
    """The closed form at exactly N 200 split by each ratio (for the guide)."""
    out = {}
    for ratio in RATIOS:
        n_ips, n_tau = parse_ratio(ratio).expected_counts(200)
        out[ratio] = closed_form_power(n_ips, n_tau)
    return out


GROUP = "Power and type I error of the pre-specified analyses against closed forms"
CASES = [
    Case("unequal_allocation_power", GROUP, "pre-specified clustered analysis at IPS:TAU "
         "1:1, 2:3 and 1:2 (N 200, 10 ESWs, ICC 0.05) against the Moerbeek-Wong (2008) "
         "variance with Welch df, and its type I error at 1:2", unequal_allocation_power,
         fast=False),
]
