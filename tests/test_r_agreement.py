"""Agreement with R where the models coincide, against committed fixtures (datasets:
scripts/r_fixtures.py; R's results: scripts/r_fixtures.R), so no R is needed here.

- One residual variance, tau2 >= 0 (`equal_variances`, `nonnegative`): lme4's REML fit
  of y ~ arm + baseline + (0 + ips | cl); Kenward-Roger SE, df and p from pbkrtest
  (KRmodcomp, vcovAdj), Satterthwaite df and p from lmerTest (contest1D).
- A residual variance per arm, tau2 >= 0: nlme::lme with varIdent by arm and
  pdDiag(~ 0 + ips); KR from pbkrtest's own functions applied to that fit's V, the
  Satterthwaite df by lmerTest's recipe (numDeriv Hessian of the REML deviance in
  theta, sigma_ips, sigma_tau).
`unbounded` coincides with these wherever its estimate of tau2 is positive."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from trialsim.analysis.estimators import partially_nested
from trialsim.analysis.multiple_imputation import rubin
from trialsim.analysis.partially_nested import fit_partially_nested
from trialsim.analysis.repeated_measures import MmrmModel, fit_mmrm

FIXTURES = Path(__file__).parent / "fixtures" / "r"
REL = 1e-5  # estimate, SE, p: absolute 1e-5 on the scale of the SE; df relative


def read(name):
    with open(FIXTURES / name) as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def pn_datasets():
    rows = read("partially_nested_data.csv")
    out = {}
    for r in rows:
        out.setdefault(int(r["dataset"]), []).append(r)
    data = {}
    for k, rs in out.items():
        ips = np.array([r["ips"] for r in rs]) == 1
        base = np.array([r["baseline"] for r in rs])
        esw = np.array([r["esw"] for r in rs]).astype(int)
        y = np.array([r["y"] for r in rs])
        data[k] = (y, ips, base, esw)
    return data


DATA = pn_datasets()


def fit(k, equal, nonnegative=True):
    y, ips, base, esw = DATA[k]
    cluster = np.where(ips & (esw >= 0), esw, -1 - np.arange(len(y)))
    x = np.column_stack([np.ones(len(y)), ips.astype(float), base])
    return fit_partially_nested(y, x, ips, cluster, equal_variances=equal,
                                nonnegative=nonnegative)


def close(a, b, scale=1.0, rel=REL):
    return abs(a - b) <= rel * max(abs(b), scale)


def ids(row):
    return str(int(row["dataset"]))


@pytest.mark.parametrize("row", read("partially_nested_lme4.csv"), ids=ids)
def test_equal_variances_nonnegative_agree_with_lme4_pbkrtest_lmertest(row):
    k = int(row["dataset"])
    f = fit(k, equal=True)
    assert f is not None and f.converged
    se = row["se"]
    assert close(f.estimate, row["estimate"], se) and close(f.se, se)
    assert close(f.se_kr, row["se_kr"])
    assert close(f.df_kr, row["df_kr"]) and close(f.df, row["df_satt"])
    assert close(f.tau2, row["tau2"], row["s2"]) and close(f.s2_ips, row["s2"])
    y, ips, base, esw = DATA[k]
    kr = partially_nested(y, ips, base, esw, 0.05, esw_variance="nonnegative",
                          equal_variances=True)
    sa = partially_nested(y, ips, base, esw, 0.05, esw_variance="nonnegative",
                          small_sample="satterthwaite", equal_variances=True)
    assert close(kr.p_value, row["p_kr"]) and close(sa.p_value, row["p_satt"])
    assert (kr.p_value < 0.05) == (row["p_kr"] < 0.05)
    assert (sa.p_value < 0.05) == (row["p_satt"] < 0.05)
    u = fit(k, equal=True, nonnegative=False)
    if u.tau2 > 0:  # the unbounded fit found the same interior maximum
        assert close(u.df_kr, row["df_kr"]) and close(u.df, row["df_satt"])
        assert close(u.se_kr, row["se_kr"])


@pytest.mark.parametrize("row", read("partially_nested_nlme.csv"), ids=ids)
def test_per_arm_variances_nonnegative_agree_with_nlme_and_pbkrtest_formulas(row):
    k = int(row["dataset"])
    f = fit(k, equal=False)
    assert f is not None and f.converged
    se = row["se"]
    assert close(f.estimate, row["estimate"], se) and close(f.se, se)
    assert close(f.se_kr, row["se_kr"])
    assert close(f.df_kr, row["df_kr"]) and close(f.df, row["df_satt"])
    p = 2 * stats.t.sf(abs(f.estimate / f.se_kr), f.df_kr)
    assert close(p, row["p_kr"]) and (p < 0.05) == (row["p_kr"] < 0.05)
    # nlme's own estimate and SE (lme's, or gls's at the boundary, where lme cannot reach 0)
    assert close(f.estimate, row["estimate_nlme"], se) and close(f.se, row["se_nlme"], rel=1e-4)
    for field in ("s2_ips", "s2_tau"):
        assert close(getattr(f, field), row[field])
    assert close(f.tau2, row["tau2"], row["s2_ips"])


def test_fixtures_cover_the_boundary_and_few_esws():
    rows = read("partially_nested_lme4.csv")
    assert sum(r["tau2"] == 0 for r in rows) >= 5
    sizes = {len(set(DATA[k][3][DATA[k][1] & (DATA[k][3] >= 0)].tolist())) for k in DATA}
    assert {4, 8, 16} <= sizes
    assert math.isfinite(sum(r["df_kr"] for r in rows))


# --- the repeated-measures model ------------------------------------------------------

def rm_datasets():
    with open(FIXTURES / "repeated_measures_data.csv") as f:
        rows = list(csv.DictReader(f))
    data = {}
    for k in sorted({int(r["dataset"]) for r in rows}):
        d = [r for r in rows if int(r["dataset"]) == k]
        y = np.array([[math.nan if r[f"y{t}"] == "NA" else float(r[f"y{t}"]) for t in (1, 2, 3)]
                      for r in d])
        data[k] = (y, np.array([r["ips"] == "1" for r in d]),
                   np.array([float(r["baseline"]) for r in d]),
                   np.array([[float(r["cov"])] for r in d]), np.array([int(r["esw"]) for r in d]))
    return data


RM = rm_datasets()
PAIRS = ("11", "12", "13", "22", "23", "33")


@pytest.mark.parametrize("row", read("repeated_measures_nlme.csv"), ids=ids)
def test_mmrm_kenward_roger_equals_pbkrtest_at_nlme_estimates(row):
    """At nlme's REML estimates of Sigma (and tau2), the GLS estimate, its SE and the
    Kenward-Roger SE and df equal pbkrtest's computation for that V to 1e-8."""
    y, ips, base, cov, esw = RM[int(row["dataset"])]
    for esw_term, prefix, s in ((False, "kr", "s"), (True, "esw", "e")):
        model = MmrmModel(y, ips, base, cov, esw, esw_intercept=esw_term)
        phi = [row[s + jk] for jk in PAIRS] + ([row["esw_tau2"]] if esw_term else [])
        beta, se, se_kr, df = model.inference(phi)
        e = model.effect
        assert close(beta[e], row[f"{prefix}_estimate"], se, rel=1e-8)
        assert close(se, row[f"{prefix}_se"], rel=1e-8)
        assert close(se_kr, row[f"{prefix}_se_kr"], rel=1e-8)
        assert close(df, row[f"{prefix}_df"], rel=1e-8)


@pytest.mark.parametrize("row", read("repeated_measures_nlme.csv"), ids=ids)
def test_mmrm_fit_agrees_with_nlme_gls_and_lme(row):
    """The REML fit reaches a -2 log REML no higher than nlme's (nlme stops up to 2e-7
    short) and agrees with nlme::gls (no ESW term) and nlme::lme (ESW term): estimate
    and SEs within 5e-5 of the SE, KR df within 5e-5 relative, the decision at 0.05
    the same. The gap is nlme's convergence: at nlme's own estimates the agreement is
    1e-8 (the test above)."""
    y, ips, base, cov, esw = RM[int(row["dataset"])]
    for esw_term, prefix, s, fitted in ((False, "kr", "s", "gls"), (True, "esw", "e", "lme")):
        model = MmrmModel(y, ips, base, cov, esw, esw_intercept=esw_term)
        fit = fit_mmrm(y, ips, base, cov, esw, esw_intercept=esw_term)
        assert fit is not None and fit.converged
        phi_r = [row[s + jk] for jk in PAIRS] + ([row["esw_tau2"]] if esw_term else [])
        phi = [fit.sigma[0][int(jk[0]) - 1, int(jk[1]) - 1] for jk in PAIRS] + \
            ([fit.tau2] if esw_term else [])
        assert model.criterion(phi) <= model.criterion(phi_r) + 1e-9
        se = row[f"{fitted}_se"]
        assert close(fit.estimate, row[f"{fitted}_estimate"], se, rel=5e-5)
        assert close(fit.se, se, rel=5e-5) and close(fit.se_kr, row[f"{prefix}_se_kr"], rel=5e-5)
        assert close(fit.df_kr, row[f"{prefix}_df"], rel=5e-5)
        p = 2 * stats.t.sf(abs(fit.estimate / fit.se_kr), fit.df_kr)
        assert (p < 0.05) == (row[f"{prefix}_p"] < 0.05)


# --- Rubin's rules --------------------------------------------------------------------

def ols_arm(y, ips, base):
    x = np.column_stack([np.ones(len(y)), ips, base])
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    resid = y - x @ beta
    return beta[1], float(resid @ resid) / (len(y) - 3) * xtx_inv[1, 1]


@pytest.mark.parametrize("row", read("imputation_mice_pool.csv"), ids=ids)
def test_rubin_equals_mice_pool_on_the_same_completed_datasets(row):
    """lm(y3 ~ ips + baseline) on each completed dataset (made by impute_by_arm), pooled:
    estimate, SE, df and every pooled quantity equal mice::pool's to 1e-8."""
    with open(FIXTURES / "imputation_completed.csv") as f:
        d = [r for r in csv.DictReader(f) if int(r["dataset"]) == int(row["dataset"])]
    q, u = [], []
    for imp in range(1, int(row["m"]) + 1):
        rs = [r for r in d if int(r[".imp"]) == imp]
        est, var = ols_arm(np.array([float(r["y3"]) for r in rs]),
                           np.array([float(r["ips"]) for r in rs]),
                           np.array([float(r["baseline"]) for r in rs]))
        q.append(est)
        u.append(var)
    n = len(d) // (int(row["m"]) + 1)
    pooled = rubin(q, u, df_complete=n - 3)
    assert n - 3 == row["dfcom"]
    for ours, theirs in ((pooled.estimate, "estimate"), (pooled.se, "se"), (pooled.df, "df"),
                         (pooled.ubar, "ubar"), (pooled.b, "b"), (pooled.t, "t"),
                         (pooled.riv, "riv"), (pooled.lambda_, "lambda"), (pooled.fmi, "fmi")):
        assert ours == pytest.approx(row[theirs], rel=1e-8, abs=1e-12), theirs
    p = 2 * stats.t.sf(abs(pooled.estimate / pooled.se), pooled.df)
    assert p == pytest.approx(row["p"], rel=1e-8)


@pytest.mark.parametrize("row", read("rubin_scalar_mice.csv"), ids=lambda r: str(int(r["set"])))
def test_rubin_equals_mice_pool_scalar_at_the_edges(row):
    """b = 0 (lambda floored at 1e-4), m = 2, lambda near 1, an infinite dfcom."""
    d = [r for r in read("rubin_scalar.csv") if r["set"] == row["set"]]
    pooled = rubin([r["q"] for r in d], [r["u"] for r in d], df_complete=d[0]["dfcom"])
    for ours, theirs in ((pooled.estimate, "qbar"), (pooled.ubar, "ubar"), (pooled.b, "b"),
                         (pooled.t, "t"), (pooled.df, "df"), (pooled.riv, "r"),
                         (pooled.fmi, "fmi")):
        assert ours == pytest.approx(row[theirs], rel=1e-8, abs=1e-15), theirs
