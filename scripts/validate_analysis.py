"""Validation of the pre-specified primary analysis (issue 8).

Prints, for each candidate analysis, on the same datasets:
(1) its type I error at effect 0 for 4, 8 and 16 ESWs x ESW ICC 0, 0.05, 0.2 over null
    datasets shaped like the default trial, each with its Monte Carlo SE and distance
    from 0.05 in SEs, and whether every cell is within 3 SE;
(2) at ICC 0 and a 1-point effect, its power (rejecting in favour of IPS) against
    ANCOVA's, and the loss;
(3) its type I error on full simulated default trials (outcome.effect_m12=0; 4 ESWs at
    ICC 0, 0.05, 0.2 and 8 ESWs at ICC 0.2).

Candidates: the partially nested REML model (Candlish et al. 2018) with the ESW variance
unbounded and Kenward-Roger SE (the default) or the model-based SE with
Satterthwaite df, or held >= 0 with Satterthwaite df or with Kenward-Roger (as lme4 with
pbkrtest and lmerTest compute them since issue 20: an ESW variance held at 0 stays in
Kenward-Roger's adjustment and df, which SAS drops); ANCOVA with the
CR2 cluster-robust SE and Bell-McCaffrey df under an independence working model
(clubSandwich's default) or under an estimated random-intercept working model (Imbens &
Kolesar 2016: `analysis.method=cluster_robust`); ANCOVA.

Null datasets mirror the default scenario (pain_services) and model/outcomes.py: 300
randomised 1:1; 16 services in 4 ESW localities (round robin), each service's share of
recruits Gamma(2) (the frailty) times its months open (one opening a month after an
Exp(1) set-up delay, 24 months); within a locality clients go to its ESWs in turn
(least loaded), so ESW caseloads are unequal (CV about 0.36 with 4 ESWs, as in the full
trials); 12-month returns 0.376 IPS, 0.650 TAU (about 56 and 98 analysed, as in the
full default trials of the current model: see (3)); baseline 5.1
(SD 2.2), 12-month mean 3.4 with Table 10's SDs 2.7 (IPS) and 2.2 (TAU), correlation 0.5
with baseline, ESW ICC on the IPS arm's 12-month score; scores clipped to 0-10.

    nice -n 10 .venv/bin/python scripts/validate_analysis.py [--trials 3000]
        [--power-trials 2500] [--sim-trials 3000] [--seed 2024]
"""

from __future__ import annotations

import argparse
import math
import time
from functools import partial

import numpy as np

from trialsim.analysis.estimators import ancova, cluster_robust, partially_nested

CANDIDATES = {  # label: analysis(y, arm, baseline, esw, alpha) -> TestResult
    "REML_unb_KR": partial(partially_nested, esw_variance="unbounded",
                           small_sample="kenward_roger"),
    "REML_unb_S": partial(partially_nested, esw_variance="unbounded",
                          small_sample="satterthwaite"),
    "REML_nn_S": partial(partially_nested, esw_variance="nonnegative",
                         small_sample="satterthwaite"),
    "REML_nn_KR": partial(partially_nested, esw_variance="nonnegative",
                          small_sample="kenward_roger"),
    "CR2_BM_indep": partial(cluster_robust, working="independent"),
    "CR2_BM_est": partial(cluster_robust, working="estimated"),
    "ANCOVA": lambda y, arm, base, esw, alpha: ancova(y, arm, base, alpha),
}
SITES, LOCALITIES, MONTHS = 16, 4, 24.0
ALPHA = 0.05


def esw_of_ips(rng: np.random.Generator, n_ips: int, n_esw: int) -> np.ndarray:
    """Each IPS client's ESW, as the default scenario's sites and localities spread them."""
    opened = np.arange(SITES) + 1.0 + rng.exponential(1.0, SITES)
    weight = rng.gamma(2.0, size=SITES) * np.maximum(MONTHS - opened, 0.5)
    share = np.bincount(np.arange(SITES) % LOCALITIES, weights=weight) / weight.sum()
    locality = rng.choice(LOCALITIES, n_ips, p=share)
    per = max(n_esw // LOCALITIES, 1)
    esw = np.empty(n_ips, dtype=int)
    for loc in range(LOCALITIES):
        idx = np.flatnonzero(locality == loc)
        esw[idx] = (loc * per + np.arange(len(idx)) % per) % n_esw
    return esw


def null_trial(rng: np.random.Generator, n_esw: int, icc: float, effect: float = 0.0,
               n_rand: int = 300, ret_ips: float = 0.376, ret_tau: float = 0.650,
               rho: float = 0.5):
    n_i = n_rand // 2
    n_t = n_rand - n_i
    esw = esw_of_ips(rng, n_i, n_esw)
    esw = esw[rng.random(n_i) < ret_ips]
    nt = int((rng.random(n_t) < ret_tau).sum())
    arm = np.r_[np.ones(len(esw), bool), np.zeros(nt, bool)]
    esw = np.r_[esw, np.full(nt, -1)]
    n = len(arm)
    z0 = rng.standard_normal(n)
    z1 = rho * z0 + math.sqrt(1 - rho**2) * rng.standard_normal(n)
    u = rng.standard_normal(n_esw)
    z1[arm] = math.sqrt(1 - icc) * z1[arm] + math.sqrt(icc) * u[esw[arm]]
    y = np.clip(3.4 + np.where(arm, 2.7, 2.2) * z1 + effect * arm, 0, 10)
    return y, arm, np.clip(5.1 + 2.2 * z0, 0, 10), esw


def _tally(hits: dict, bad: dict, data, effect: float) -> None:
    for k, analysis in CANDIDATES.items():
        r = analysis(*data, ALPHA)
        hits[k] += (r.p_value < ALPHA) if effect == 0 else r.rejects(ALPHA)
        bad[k] += r.status != "ok"


def rates(n_esw: int, icc: float, trials: int, effect: float, seed: int) -> dict:
    """Rejection rate of every candidate on the same datasets (two-sided p < 0.05 at
    effect 0; in favour of IPS otherwise), and the count not estimable."""
    rng = np.random.default_rng([seed, n_esw, round(icc * 1000), round(effect * 1000)])
    hits, bad = dict.fromkeys(CANDIDATES, 0), dict.fromkeys(CANDIDATES, 0)
    for _ in range(trials):
        _tally(hits, bad, null_trial(rng, n_esw, icc, effect), effect)
    return {"rate": {k: h / trials for k, h in hits.items()}, "bad": bad}


def full_trials(trials: int, icc: float, per_locality: int, seed: int) -> dict:
    """Every candidate on the complete cases of full simulated default trials at
    effect 0 (the same trials for all)."""
    from trialsim.analysis.trial_analysis import TrialData
    from trialsim.inputs.compose import compose_config
    from trialsim.inputs.params import build_params
    from trialsim.model.trial import simulate_replication
    cfg = compose_config(["outcome.effect_m12=0", f"outcome.esw_icc={icc}",
                          f"delivery.esw.per_locality={per_locality}"])
    params = build_params(cfg)
    hits, bad = dict.fromkeys(CANDIDATES, 0), dict.fromkeys(CANDIDATES, 0)
    n_ips = n_tau = 0
    for rep in range(trials):
        d = TrialData.from_replication(simulate_replication(params, seed, rep))
        cc = d.returned_m12
        n_ips += int((cc & d.ips).sum())
        n_tau += int((cc & ~d.ips).sum())
        _tally(hits, bad, (d.rtw_se_m12[cc], d.ips[cc], d.rtw_se_m0[cc], d.esw[cc]), 0.0)
    return {"rate": {k: h / trials for k, h in hits.items()}, "bad": bad,
            "n_ips": n_ips / trials, "n_tau": n_tau / trials}


def _header(first: str) -> str:
    return first + "".join(f"{k:>20s}" for k in CANDIDATES)


def _type1_row(label: str, r: dict, se: float, passes: dict, lo: float, hi: float) -> str:
    cells = []
    for k in CANDIDATES:
        p = r["rate"][k]
        if k != "ANCOVA":
            passes[k] &= lo <= p <= hi
        cells.append(f"{p:.4f} {(p - ALPHA) / se:+5.1f} ({r['bad'][k]})")
    return label + "".join(f"{c:>20s}" for c in cells)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=3000)
    ap.add_argument("--power-trials", type=int, default=2500)
    ap.add_argument("--sim-trials", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()
    t0 = time.time()
    print("cell: rejection rate, (rate - 0.05) / MC SE, (number not estimable)")
    if args.trials:
        se = math.sqrt(ALPHA * (1 - ALPHA) / args.trials)
        lo, hi = ALPHA - 3 * se, ALPHA + 3 * se
        print(f"\nType I error at effect 0, {args.trials} null datasets per cell (MC SE "
              f"{se:.4f}; pass: within 3 SE of 0.05, [{lo:.4f}, {hi:.4f}])")
        print(_header("ESWs  ICC "))
        passes = {k: True for k in CANDIDATES if k != "ANCOVA"}
        for n_esw in (4, 8, 16):
            for icc in (0.0, 0.05, 0.2):
                r = rates(n_esw, icc, args.trials, 0.0, args.seed)
                print(_type1_row(f"{n_esw:4d}  {icc:4.2f}", r, se, passes, lo, hi), flush=True)
        print("every cell within 3 SE: " +
              ", ".join(f"{k} {'PASS' if ok else 'FAIL'}" for k, ok in passes.items()))
        print(f"({time.time() - t0:.0f} s)")
    if args.power_trials:
        t1 = time.time()
        n = args.power_trials
        print(f"\nPower at ICC 0, effect 1.0 point, {n} datasets per row (same datasets for "
              f"every analysis; MC SE at most {0.5 / math.sqrt(n):.3f}); in brackets the "
              "loss against ANCOVA")
        print(_header("ESWs      "))
        for n_esw in (4, 8, 16):
            r = rates(n_esw, 0.0, n, 1.0, args.seed + 1)
            an = r["rate"]["ANCOVA"]
            cells = [f"{r['rate'][k]:.3f} ({an - r['rate'][k]:+.3f})" for k in CANDIDATES]
            print(f"{n_esw:4d}      " + "".join(f"{c:>20s}" for c in cells), flush=True)
        print(f"({time.time() - t1:.0f} s)")
    if args.sim_trials:
        t2 = time.time()
        n = args.sim_trials
        se = math.sqrt(ALPHA * (1 - ALPHA) / n)
        lo, hi = ALPHA - 3 * se, ALPHA + 3 * se
        print(f"\nFull simulated default trials, outcome.effect_m12=0, {n} replications per "
              f"row, seed {args.seed} (MC SE {se:.4f})")
        print(_header("ESWs  ICC "))
        passes = {k: True for k in CANDIDATES if k != "ANCOVA"}
        for per, icc in ((1, 0.0), (1, 0.05), (1, 0.2), (2, 0.2)):
            r = full_trials(n, icc, per, args.seed)
            print(_type1_row(f"{4 * per:4d}  {icc:4.2f}", r, se, passes, lo, hi) +
                  f"   analysed IPS {r['n_ips']:.1f}, TAU {r['n_tau']:.1f}", flush=True)
        print("every row within 3 SE: " +
              ", ".join(f"{k} {'PASS' if ok else 'FAIL'}" for k, ok in passes.items()))
        print(f"({time.time() - t2:.0f} s)")
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
