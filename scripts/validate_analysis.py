"""Validation of the pre-specified partially nested analysis (issue 8).

Prints, for each candidate test (ESW variance non-negative or unbounded, with
Kenward-Roger): (1) its type I error at effect 0 for 4, 8 and 16 ESWs x ESW ICC 0,
0.05, 0.2 over null datasets shaped like the default trial, each with its Monte Carlo SE
and distance from 0.05 in SEs; (2) at ICC 0, its power against ANCOVA's on the same
datasets; (3) the default analysis's type I error on full simulated default trials
(outcome.effect_m12=0).

Null datasets mirror the default scenario (pain_services) and model/outcomes.py: 300
randomised 1:1; 16 services in 4 ESW localities (round robin), each service's share of
recruits Gamma(2) (the frailty) times its months open (one opening a month after an
Exp(1) set-up delay, 24 months); within a locality clients go to its ESWs in turn
(least loaded), so ESW caseloads are unequal (CV about 0.36 with 4 ESWs, as in the full
trials); 12-month returns 0.42 IPS, 0.63 TAU (about 63 and 94 analysed); baseline 5.1
(SD 2.2), 12-month mean 3.4 with Table 10's SDs 2.7 (IPS) and 2.2 (TAU), correlation 0.5
with baseline, ESW ICC on the IPS arm's 12-month score; scores clipped to 0-10.

    .venv/bin/python scripts/validate_analysis.py [--trials 3000] [--power-trials 1000]
        [--sim-trials 1000] [--seed 2024]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from trialsim.analysis.estimators import ancova, partially_nested

CANDIDATES = {  # label: (esw_variance, small_sample); Satterthwaite's SE (no KR
    # adjustment) rejected slightly more often than KR's in every check, so only KR is run
    "nonneg_KR": ("nonnegative", "kenward_roger"),
    "unbounded_KR": ("unbounded", "kenward_roger"),
}
SITES, LOCALITIES, MONTHS = 16, 4, 24.0


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
               n_rand: int = 300, ret_ips: float = 0.42, ret_tau: float = 0.63,
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


def rates(n_esw: int, icc: float, trials: int, effect: float, seed: int) -> dict:
    """Rejection rate of each candidate and ANCOVA on the same datasets (two-sided p <
    0.05 at effect 0; in the direction of benefit otherwise), and unusable fits."""
    rng = np.random.default_rng([seed, n_esw, round(icc * 1000), round(effect * 1000)])
    hits = dict.fromkeys([*CANDIDATES, "ancova"], 0)
    bad = dict.fromkeys(CANDIDATES, 0)
    for _ in range(trials):
        y, arm, base, esw = null_trial(rng, n_esw, icc, effect)
        results = {k: partially_nested(y, arm, base, esw, 0.05, esw_variance=v, small_sample=s)
                   for k, (v, s) in CANDIDATES.items()}
        results["ancova"] = ancova(y, arm, base, 0.05)
        for k, r in results.items():
            hits[k] += r.p_value < 0.05 if effect == 0 else r.rejects(0.05)
            if k in bad:
                bad[k] += r.status != "ok"
    return {"rate": {k: h / trials for k, h in hits.items()}, "bad": bad}


def full_trials(trials: int, icc: float, seed: int) -> dict[str, float]:
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    from trialsim.experiments.runner import run_replications
    from trialsim.inputs.params import build_params
    from trialsim.inputs.schema import register_configs
    register_configs()
    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose("config", overrides=["outcome.effect_m12=0", f"outcome.esw_icc={icc}"])
    rows = run_replications(build_params(cfg), trials, seed).replications
    ok = rows["primary_estimable"] == 1
    return {"type1": float((rows.loc[ok, "primary_p"] < 0.05).mean()),
            "estimable": int(ok.sum()), "n_ips": float(rows["primary_n_ips"].mean()),
            "n_tau": float(rows["primary_n_tau"].mean()),
            "bias": float(rows.loc[ok, "primary_estimate"].mean())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=3000)
    ap.add_argument("--power-trials", type=int, default=1000)
    ap.add_argument("--sim-trials", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()
    t0 = time.time()
    names = list(CANDIDATES)
    if args.trials:
        se = math.sqrt(0.05 * 0.95 / args.trials)
        lo, hi = 0.05 - 3 * se, 0.05 + 3 * se
        print(f"Type I error at effect 0, {args.trials} null trials per cell (MC SE {se:.4f};"
              f" pass: within 3 SE of 0.05, [{lo:.3f}, {hi:.3f}]); (n) = not estimable")
        print("ESWs  ICC   " + "  ".join(f"{k:>16s}" for k in names) + "   ANCOVA")
        passes = dict.fromkeys(names, True)
        for n_esw in (4, 8, 16):
            for icc in (0.0, 0.05, 0.2):
                r = rates(n_esw, icc, args.trials, 0.0, args.seed)
                cells = []
                for k in names:
                    p = r["rate"][k]
                    passes[k] &= lo <= p <= hi
                    cells.append(f"{p:.4f} {(p - 0.05) / se:+5.1f} ({r['bad'][k]:3d})")
                print(f"{n_esw:4d}  {icc:4.2f}  " + "  ".join(f"{c:>16s}" for c in cells)
                      + f"   {r['rate']['ancova']:.4f}", flush=True)
        print("every cell within 3 SE: " +
              ", ".join(f"{k} {'PASS' if ok else 'FAIL'}" for k, ok in passes.items()))
        print(f"({time.time() - t0:.0f} s)")
    if args.power_trials:
        t1 = time.time()
        print(f"\nPower at ICC 0, effect 1.0 point, {args.power_trials} trials "
              "(same datasets for every analysis); loss = ANCOVA minus candidate")
        print("ESWs  " + "  ".join(f"{k:>16s}" for k in names) + "   ANCOVA")
        for n_esw in (4, 8, 16):
            r = rates(n_esw, 0.0, args.power_trials, 1.0, args.seed + 1)
            an = r["rate"]["ancova"]
            cells = [f"{r['rate'][k]:.3f} ({an - r['rate'][k]:+.3f})" for k in names]
            print(f"{n_esw:4d}  " + "  ".join(f"{c:>16s}" for c in cells) + f"   {an:.3f}",
                  flush=True)
        print(f"({time.time() - t1:.0f} s)")
    if args.sim_trials:
        t2 = time.time()
        print(f"\nFull simulated trials, default scenario and analysis, outcome.effect_m12=0, "
              f"{args.sim_trials} replications")
        for icc in (0.0, 0.2):
            r = full_trials(args.sim_trials, icc, args.seed)
            s = math.sqrt(0.05 * 0.95 / max(r["estimable"], 1))
            print(f"ICC {icc:4.2f}: type I {r['type1']:.4f} (MC SE {s:.4f}, "
                  f"{(r['type1'] - 0.05) / s:+.1f} SE) over {r['estimable']} estimable; "
                  f"mean estimate {r['bias']:+.3f} (complete-case bias from job-linked "
                  f"non-return); analysed IPS {r['n_ips']:.1f}, TAU {r['n_tau']:.1f}",
                  flush=True)
        print(f"({time.time() - t2:.0f} s)")
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
