"""Prints the largest differences between trialsim's analyses and R's results on the
committed fixtures (tests/fixtures/r/; tests/test_r_agreement.py asserts them). Run from
the repository root: .venv/bin/python scripts/r_agreement.py"""

from __future__ import annotations

import sys
from pathlib import Path

from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_r_agreement as t  # noqa: E402


def worst(pairs):
    """largest |ours - R| / max(|R|, scale) over the pairs (ours, R, scale)."""
    return max(abs(a - b) / max(abs(b), s) for a, b, s in pairs)


def main() -> None:
    rows = t.read("partially_nested_lme4.csv")
    est, se, df, p, dec = [], [], [], [], 0
    for r in rows:
        f = t.fit(int(r["dataset"]), equal=True)
        for kind, sek, dfk, pk in (("kr", f.se_kr, f.df_kr, "p_kr"), ("s", f.se, f.df, "p_satt")):
            pv = 2 * stats.t.sf(abs(f.estimate / sek), dfk)
            se.append((sek, r["se_kr"] if kind == "kr" else r["se"], 1.0))
            df.append((dfk, r["df_kr"] if kind == "kr" else r["df_satt"], 0.0))
            p.append((pv, r[pk], 1.0))
            dec += (pv < 0.05) != (r[pk] < 0.05)
        est.append((f.estimate, r["estimate"], r["se"]))
    print(f"lme4 + pbkrtest + lmerTest, {len(rows)} datasets ({sum(r['tau2'] == 0 for r in rows)}"
          f" at tau2 = 0): estimate {worst(est):.1e} (of the SE), SE {worst(se):.1e}, "
          f"df {worst(df):.1e} relative, p {worst(p):.1e}; decisions differing {dec}")
    rows = t.read("partially_nested_nlme.csv")
    est, se, df, p, dec = [], [], [], [], 0
    for r in rows:
        f = t.fit(int(r["dataset"]), equal=False)
        pv = 2 * stats.t.sf(abs(f.estimate / f.se_kr), f.df_kr)
        est.append((f.estimate, r["estimate"], r["se"]))
        se += [(f.se, r["se"], 1.0), (f.se_kr, r["se_kr"], 1.0)]
        df += [(f.df_kr, r["df_kr"], 0.0), (f.df, r["df_satt"], 0.0)]
        p.append((pv, r["p_kr"], 1.0))
        dec += (pv < 0.05) != (r["p_kr"] < 0.05)
    print(f"nlme (a variance per arm) + pbkrtest's functions + lmerTest's recipe, {len(rows)} "
          f"datasets ({int(sum(r['boundary'] for r in rows))} at tau2 = 0): estimate "
          f"{worst(est):.1e}, SE {worst(se):.1e}, df {worst(df):.1e}, p (KR) {worst(p):.1e}; "
          f"decisions differing {dec}")
    rows = t.read("repeated_measures_nlme.csv")
    at, fit = [], []
    for r in rows:
        y, ips, base, cov, esw = t.RM[int(r["dataset"])]
        for term, pre, s, fitted in ((False, "kr", "s", "gls"), (True, "esw", "e", "lme")):
            m = t.MmrmModel(y, ips, base, cov, esw, esw_intercept=term)
            phi = [r[s + jk] for jk in t.PAIRS] + ([r["esw_tau2"]] if term else [])
            beta, se_, sekr, dfk = m.inference(phi)
            at += [(beta[m.effect], r[f"{pre}_estimate"], r[f"{pre}_se"]),
                   (se_, r[f"{pre}_se"], 0.0), (sekr, r[f"{pre}_se_kr"], 0.0),
                   (dfk, r[f"{pre}_df"], 0.0)]
            f = t.fit_mmrm(y, ips, base, cov, esw, esw_intercept=term)
            fit += [(f.estimate, r[f"{fitted}_estimate"], r[f"{fitted}_se"]),
                    (f.se, r[f"{fitted}_se"], 0.0), (f.se_kr, r[f"{pre}_se_kr"], 0.0),
                    (f.df_kr, r[f"{pre}_df"], 0.0)]
    print(f"MMRM, {len(rows)} datasets x (gls, lme with the ESW term): at nlme's estimates "
          f"{worst(at):.1e}; own REML fit against nlme's {worst(fit):.1e}")
    rows = t.read("imputation_mice_pool.csv")
    print(f"Rubin's rules: mice::pool on {len(rows)} sets of completed datasets and "
          f"pool.scalar on {len(t.read('rubin_scalar_mice.csv'))} hand-made sets: "
          "asserted to 1e-8 in tests/test_r_agreement.py")


if __name__ == "__main__":
    main()
