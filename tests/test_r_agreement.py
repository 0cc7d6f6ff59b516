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
from trialsim.analysis.partially_nested import fit_partially_nested

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
