"""Partially nested fits run in step (trialsim.analysis.partially_nested_batch) against the
same fits one at a time, on multiple imputation's completed datasets of simulated
trials: the objective to rounding, and the fits to rounding where the ESW variance is
not negative. Where it is (the default's unbounded fit below zero, where the REML
surface flattens towards a singular V), the fit one at a time does not reproduce its
own result more finely than about 1e-7 on scores an ulp apart (test_1e_10_is_below_...),
and another rounding of the objective can end the same steps a little elsewhere.
Measured once over 1,600 fits of 40 default trials and 40 at ICC 0 (Kenward-Roger): at
most 3e-8 in the estimates, SEs and variances and 1e-7 in the Kenward-Roger df (2 SE^4
over the variance of the SE^2: the curvature of a flat surface; 5e-8 in the
Satterthwaite df with equal variances), 11 fits beyond 1e-10, all with tau2 < 0 (the
default fits of 20 trials, Satterthwaite df included: 6 of 400 beyond 1e-10, at most
1.7e-7). The tests below take 6 trials under three
options and bound tau2 < 0 by 1e-6."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_cfg

from trialsim.analysis.estimators import imputed, partially_nested, partially_nested_many
from trialsim.analysis.multiple_imputation import impute_by_arm
from trialsim.analysis.partially_nested import (
    PartiallyNestedModel,
    _Objective,
    fit_partially_nested,
)
from trialsim.analysis.partially_nested_batch import (
    _StackedObjective,
    fit_partially_nested_many,
)
from trialsim.analysis.trial_analysis import (
    _imputation_waves,
    _varying,
    imputation_rng,
    trial_data,
)
from trialsim.inputs.params import build_params
from trialsim.model.trial import outcomes_of_trials, simulate_pathway

FIELDS = ("estimate", "se", "se_kr", "s2_ips", "s2_tau", "tau2")
DFS = ("df", "df_kr")


def completed(*overrides, reps=range(6), m=20):
    """Each trial's completed 12-month scores (m x n), design, arms and clusters."""
    params = build_params(make_cfg("analysis.missing_data=multiple_imputation", *overrides))
    a = params.analysis
    out = []
    for r in outcomes_of_trials([simulate_pathway(params, 4, rep) for rep in reps]):
        d = trial_data(r, a)
        aux = _varying(d.covariates)
        cov = d.rtw_se_m0[:, None] if aux is None else np.column_stack([d.rtw_se_m0, aux])
        done = impute_by_arm(_imputation_waves(d), d.ips, cov, m, imputation_rng(r, 4)())
        ips = d.ips.astype(bool)
        cluster = np.where(d.esw >= 0, d.esw, -1 - np.arange(len(d.esw)))
        x = np.column_stack([np.ones(len(ips)), ips.astype(float), d.rtw_se_m0])
        out.append((done[:, :, -1], x, ips, cluster, d))
    return out


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(a))


@pytest.mark.parametrize("equal", [False, True])
def test_the_stacked_objective_is_the_objective_of_each_fit(equal):
    ys, x, ips, cluster, _ = completed(reps=range(1))[0]
    models = [PartiallyNestedModel(y, x, ips, cluster) for y in ys]
    thetas = [[0.2 + 0.01 * k, 0.1, 0.02 + 0.01 * k] for k in range(len(ys))]
    if equal:
        thetas = [[t[0], t[-1]] for t in thetas]
    stacked = _StackedObjective(models, equal)(list(range(len(ys))), thetas)
    for model, theta, got in zip(models, thetas, stacked, strict=True):
        value, grad, hess = _Objective(model, equal)(theta)
        assert _rel(value, got[0]) < 1e-12
        assert max(_rel(a, b) for a, b in zip(grad, got[1], strict=True)) < 1e-12
        assert max(_rel(a, b) for r, s in zip(hess, got[2], strict=True)
                   for a, b in zip(r, s, strict=True)) < 1e-12


@pytest.mark.parametrize("options", [
    {},  # the default: tau2 unbounded, Kenward-Roger only
    {"nonnegative": True, "observed_df": True},
    {"equal_variances": True, "observed_df": True},
])
def test_fits_in_step_are_the_fits_one_at_a_time(options):
    worst = {True: [], False: []}  # each fit's largest relative difference, by tau2 >= 0
    for ys, x, ips, cluster, _ in completed():
        many = fit_partially_nested_many(ys, x, ips, cluster, **options)
        for y, b in zip(ys, many, strict=True):
            a = fit_partially_nested(y, x, ips, cluster, **options)
            assert (a is None) == (b is None)
            if a is None:
                continue
            assert a.converged == b.converged
            finite = [f for f in FIELDS + DFS if np.isfinite(getattr(a, f))]
            assert all(np.isfinite(getattr(b, f)) for f in finite)
            worst[a.tau2 >= 0].append(max(_rel(getattr(a, f), getattr(b, f)) for f in finite))
    every = worst[True] + worst[False]
    assert len(every) > 100 and np.quantile(every, 0.95) < 1e-10
    assert max(worst[True]) < 1e-11  # tau2 >= 0: to rounding
    assert max(worst[False], default=0.0) < 1e-6  # below 0: the stopping rule's resolution


def test_1e_10_is_below_what_a_fit_with_tau2_below_0_reproduces():
    """Issue 25 asks fits in step to agree with fits one at a time within 1e-10. Where
    they do not (about 1% of the fits, all with tau2 < 0), the fit one at a time does
    not reproduce itself to 1e-10 either, on the same scores each moved by at most one
    unit in the last place (data rounded another way): for these fits 1e-10 is finer
    than the procedure's own arithmetic fixes the result, and no stopping rule gives it
    (two more Newton steps after convergence were tried: as many fits stayed beyond
    1e-10). Largest relative difference over the estimate, both SEs, the variances and
    both df; the fits in step within ten times the largest move an ulp away, most of
    the fits beyond 1e-10 in step beyond it an ulp away too, and 1e-10 wherever
    tau2 >= 0."""
    rng = np.random.default_rng(1)
    step, ulp = [], []  # each fit's largest relative difference, in step and an ulp away
    for ys, x, ips, cluster, _ in (completed(reps=range(10))
                                   + completed("outcome.esw_icc=0", reps=range(10))):
        for y, b in zip(ys, fit_partially_nested_many(ys, x, ips, cluster), strict=True):
            a = fit_partially_nested(y, x, ips, cluster)
            way = rng.choice([-np.inf, 0.0, np.inf], size=len(y))
            moved = np.where(way == 0.0, y, np.nextafter(y, way))
            c = fit_partially_nested(moved, x, ips, cluster)
            if a is None or c is None:
                continue
            finite = [f for f in FIELDS + DFS if np.isfinite(getattr(a, f))]
            step.append((max(_rel(getattr(a, f), getattr(b, f)) for f in finite), a.tau2))
            ulp.append(max(_rel(getattr(a, f), getattr(c, f)) for f in finite))
    step, ulp = np.array(step), np.array(ulp)
    beyond = step[:, 0] > 1e-10
    assert np.any(ulp > 1e-10) and np.all(step[beyond, 1] < 0)
    assert np.sum(ulp > 1e-10) >= np.sum(beyond)  # the fit itself, an ulp away: as many
    assert np.sum(beyond & (ulp > 1e-10)) >= 0.5 * np.sum(beyond)  # mostly the same fits
    assert step[:, 0].max() <= 10 * ulp.max()


def test_a_point_where_v_is_not_positive_fails_alone():
    """A row past V's singular edge (gamma below -1 / the largest caseload) is None, as
    _Objective raises there; the rows beside it are their own fits' objective."""
    ys, x, ips, cluster, _ = completed(reps=range(1), m=3)[0]
    models = [PartiallyNestedModel(y, x, ips, cluster) for y in ys]
    edge = -1.0 / models[0].m.max()
    thetas = [[0.2, 0.1, 0.05], [0.2, 0.1, 2 * edge], [0.3, 0.0, 0.1]]
    with np.errstate(all="ignore"):
        got = _StackedObjective(models, False)([0, 1, 2], thetas)
        with pytest.raises(np.linalg.LinAlgError):
            _Objective(models[1], False)(thetas[1])
    assert got[1] is None
    for k in (0, 2):
        value, grad, _ = _Objective(models[k], False)(thetas[k])
        assert _rel(value, got[k][0]) < 1e-12
        assert max(_rel(a, b) for a, b in zip(grad, got[k][1], strict=True)) < 1e-12


def test_a_fit_whose_design_fails_fails_in_step_too():
    ys, x, ips, cluster, _ = completed(reps=range(1))[0]
    x = x.copy()
    x[:, 2] = 5.0  # the baseline column a copy of the intercept's: X'V^-1 X singular
    assert fit_partially_nested(ys[0], x, ips, cluster) is None
    assert fit_partially_nested_many(ys[:3], x, ips, cluster) == [None] * 3


def test_stacked_fits_need_one_structure():
    ys, x, ips, cluster, _ = completed(reps=range(1), m=2)[0]
    one_esw = np.where(ips, 0, cluster)  # every IPS participant with one ESW: other blocks
    models = [PartiallyNestedModel(ys[0], x, ips, cluster),
              PartiallyNestedModel(ys[1], x, ips, one_esw)]
    with pytest.raises(ValueError, match="same blocks"):
        _StackedObjective(models, False)
    wider = np.column_stack([x, x[:, 2] ** 2])
    with pytest.raises(ValueError, match="3 columns"):
        _StackedObjective([PartiallyNestedModel(y, wider, ips, cluster) for y in ys], False)


def test_multiple_imputation_pools_the_same_analyses():
    """The pooled MI result with the completed datasets fitted in step equals the one
    with each fitted alone (estimators.partially_nested), to the fits' agreement."""
    for _, _, _, _, d in completed(reps=range(4), m=2):
        args = (_imputation_waves(d), d.ips, d.rtw_se_m0, _varying(d.covariates), 0.05, 20)

        def alone(ys, ips, base, esw=d.esw):
            return [partially_nested(y, ips, base, esw, 0.05) for y in ys]

        def in_step(ys, ips, base, esw=d.esw):
            return partially_nested_many(ys, ips, base, esw, 0.05)

        a = imputed(*args, np.random.default_rng(3), alone)
        b = imputed(*args, np.random.default_rng(3), in_step)
        assert a.status == b.status
        if a.status == "ok":
            assert _rel(a.estimate, b.estimate) < 1e-8 and _rel(a.se, b.se) < 1e-8
            assert _rel(a.df, b.df) < 1e-6 and a.rejects(0.05) == b.rejects(0.05)
