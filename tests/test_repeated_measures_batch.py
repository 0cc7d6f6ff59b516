"""fit_mmrm_batch and mmrm_slopes_batch against the one-dataset fit_mmrm and
delta.mmrm_slope, on simulated trials and on synthetic edge cases.

Tolerance 1e-10 (relative; absolute for tau2 near 0): both run the same scoring steps
from the same start to the same stopping point, but sum in a different order (per
pattern and per ESW-pattern cell instead of per client), which moves the criterion in
its last bits; the fitted values then differ by about 1e-13 (measured: at most 3e-12
for the estimate, SEs, df, Sigma and beta), far inside 1e-10 and far outside what
could hide a wrong term in the algebra (a wrong term moves them by > 1e-6)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_repeated_measures import data

from trialsim.analysis import delta
from trialsim.analysis.repeated_measures import MmrmFit, fit_mmrm
from trialsim.analysis.repeated_measures_batch import fit_mmrm_batch, mmrm_slopes_batch

RTOL = 1e-10
FIELDS = ("estimate", "se", "se_kr", "df_kr", "sigma", "beta")


def trials(count: int, *overrides: str):
    """(TrialData, fit_mmrm arguments) of simulated default trials, as the trial
    analysis builds them (trial_analysis.rtw_se_by)."""
    from trialsim.analysis.trial_analysis import TrialData, _varying
    from trialsim.inputs.compose import compose_config
    from trialsim.inputs.params import build_params
    from trialsim.model.trial import simulate_replication

    params = build_params(compose_config(["analysis.missing_data=repeated_measures",
                                          *overrides]))
    out = []
    for rep in range(count):
        d = TrialData.from_replication(simulate_replication(params, 20261206, rep), True)
        out.append((d, (d.rtw_se_waves, d.ips, d.rtw_se_m0, _varying(d.covariates), d.esw)))
    return params, out


@pytest.fixture(scope="module")
def simulated():
    return trials(20)


def assert_same(a: MmrmFit | None, b: MmrmFit | None, rtol: float = RTOL):
    assert (a is None) == (b is None)
    if a is None:
        return
    for f in FIELDS:
        np.testing.assert_allclose(getattr(b, f), getattr(a, f), rtol=rtol, atol=0)
    assert b.tau2 == pytest.approx(a.tau2, rel=RTOL, abs=1e-10)
    assert (b.converged, b.steps) == (a.converged, a.steps)


def assert_all_same(datasets, rtol: float = RTOL, **kw):
    batch = fit_mmrm_batch(datasets, **kw)
    assert len(batch) == len(datasets)
    single = [fit_mmrm(*x, **kw) for x in datasets]
    for a, b in zip(single, batch, strict=True):
        assert_same(a, b, rtol)
    return single, batch


def test_simulated_trials_with_the_esw_term_agree_with_fit_mmrm(simulated):
    _, items = simulated
    single, _ = assert_all_same([x for _, x in items], esw_intercept=True)
    assert all(f is not None for f in single)


def test_pilot_sized_trials_agree_with_fit_mmrm():
    """The pilot scenario's small trials (21 to 80 participants), where the corrected
    steps meet step halving, the tau2 = 0 boundary and a degenerate fit: the batch
    takes the same turns as fit_mmrm, step for step (the secant of a halved step is
    dropped in both: kept, its rounding sent the two apart on the 21-participant
    trial). Within 1e-9: the 26-participant trial's 21 steps on a poorly conditioned
    criterion carry the sums' last bits to 1.3e-10 in its KR SE (the others 4e-13)."""
    _, items = trials(20, "scenario=pilot")
    single, _ = assert_all_same([x for _, x in items], 1e-9, esw_intercept=True)
    fits = [f for f in single if f is not None]
    assert len(fits) < len(single)  # one degenerate
    assert any(f.tau2 == 0.0 for f in fits) and any(f.tau2 > 0.0 for f in fits)


def test_simulated_trials_without_the_esw_term_agree_with_fit_mmrm(simulated):
    _, items = simulated
    assert_all_same([x for _, x in items[:8]])


def test_mmrm_slopes_agree_with_mmrm_slope(simulated):
    """Each arm's slope, a trial's arms sharing one dataset (the same objects, as
    trial_batch passes them), against delta.mmrm_slope one at a time."""
    _, items = simulated
    fits = fit_mmrm_batch([x for _, x in items], esw_intercept=True)
    args = []
    for (d, (_, ips, base, cov, esw)), fit in zip(items, fits, strict=True):
        for arm in delta.ONE_ARM:
            args.append((delta.shifted(ips, ~d.analysed_m12, arm), ips, base, cov, esw, fit))
    # a Sigma that is not positive definite: mmrm_slope's LinAlgError, NaN
    bad = dataclasses.replace(fits[0], sigma=-fits[0].sigma)
    args.insert(1, args[0][:5] + (bad,))
    batch = mmrm_slopes_batch(args, waves=3, esw_intercept=True)
    single = [delta.mmrm_slope(*a, waves=3, esw_intercept=True) for a in args]
    np.testing.assert_allclose(batch, single, rtol=RTOL)
    assert np.isnan(single[1]) and all(s != 0 for s in single)


@pytest.mark.parametrize("per_arm,esw_term", [(False, False), (True, False), (False, True),
                                              (True, True)])
def test_synthetic_batches_of_mixed_sizes_agree(per_arm, esw_term):
    """Different sizes and numbers of ESWs in one batch."""
    datasets = [data(seed, n=n, n_esw=k) for seed, (n, k) in
                enumerate([(80, 5), (150, 9), (60, 2), (200, 14), (90, 1)])]
    assert_all_same(datasets, per_arm=per_arm, esw_intercept=esw_term)


def test_covariate_free_batch_agrees():
    datasets = [data(seed)[:3] + (None, data(seed)[4]) for seed in range(4)]
    for kw in ({}, {"esw_intercept": True}):
        assert_all_same(datasets, **kw)


def boundary_data():
    """ESW means made equal: tau2 ends held at 0 (as in test_repeated_measures)."""
    y, ips, base, cov, esw = data(3, icc=0.0)
    for k in range(5):
        on = ips & (esw == k)
        y[on] -= np.nanmean(y[on], axis=0) - np.nanmean(y[ips & (esw >= 0)], axis=0)
    return y, ips, base, cov, esw


def degenerate():
    """fit_mmrm gives None: too few observations; a covariate equal to the baseline
    (a singular design: LinAlgError in the criterion)."""
    y, ips, base, cov, esw = data(5, n=5)
    small = (y, ips, base, cov, esw)
    y, ips, base, cov, esw = data(6)
    return [small, (y, ips, base, base[:, None] * 2.0, esw)]


@pytest.mark.parametrize("esw_term", [False, True])
def test_boundary_and_degenerate_datasets_fail_or_fit_alone(esw_term):
    datasets = [data(1), *degenerate(), boundary_data(), data(2, n=120)]
    single, batch = assert_all_same(datasets, esw_intercept=esw_term)
    assert single[1] is None and single[2] is None
    assert all(f is not None for f in (single[0], single[3], single[4]))
    if esw_term:
        assert batch[3].tau2 == 0.0


def test_a_dataset_fits_the_same_alone_and_in_any_batch(simulated):
    """No reduction or gemm dimension spans datasets: bitwise the same results."""
    _, items = simulated
    datasets = [x for _, x in items]
    synthetic = [data(s, n=60 + 10 * s, n_esw=1 + s) for s in range(20)]
    batch = fit_mmrm_batch(datasets + synthetic, esw_intercept=True)
    alone = [fit_mmrm_batch([x], esw_intercept=True)[0] for x in datasets[:4] + synthetic[:4]]
    reversed_ = fit_mmrm_batch((datasets + synthetic)[::-1], esw_intercept=True)[::-1]
    for i, a in zip(list(range(4)) + list(range(20, 24)), alone, strict=True):
        for other in (batch[i], reversed_[i]):
            for f in (*FIELDS, "tau2", "converged", "steps"):
                assert np.array_equal(getattr(a, f), getattr(other, f)), f


def test_datasets_of_different_shapes_are_refused():
    y, ips, base, cov, esw = data(1)
    with pytest.raises(ValueError):
        fit_mmrm_batch([data(1), (y, ips, base, None, esw)])
    assert fit_mmrm_batch([]) == []


def test_the_public_sparse_product_gives_the_same_sums(monkeypatch):
    """Should scipy move its private CSR kernel, the public csr_matrix product (which runs
    that kernel) takes over: the same fits, to the bit."""
    import trialsim.analysis.repeated_measures_batch as rb

    datasets = [data(seed=s, n=60, n_esw=4) for s in (1, 2)]
    fast = rb.fit_mmrm_batch(datasets, esw_intercept=True)
    monkeypatch.setattr(rb, "_kernel", None)
    slow = rb.fit_mmrm_batch(datasets, esw_intercept=True)
    for a, b in zip(fast, slow, strict=True):
        assert a.estimate == b.estimate and a.se_kr == b.se_kr and a.df_kr == b.df_kr


def test_a_trial_whose_ips_arm_no_esw_saw_fits_beside_others():
    """With the ESW term, a trial in which no IPS participant was seen by an ESW (every
    one an ESW of one: no caseload) fits in a batch with trials that have caseloads, as
    it fits alone (the design search's assurance runs met it)."""
    seen = data(seed=3, n=60, n_esw=4)
    y, ips, base, cov, esw = data(seed=4, n=60, n_esw=4)
    unseen = (y, ips, base, cov, np.full_like(esw, -1))
    got = fit_mmrm_batch([seen, unseen], esw_intercept=True)
    for d, g in zip((seen, unseen), got, strict=True):
        want = fit_mmrm(*d, esw_intercept=True)
        assert g.estimate == pytest.approx(want.estimate, rel=1e-10)
        assert g.se_kr == pytest.approx(want.se_kr, rel=1e-10)


def test_stalled_corrected_steps_fall_back_alike(simulated, monkeypatch):
    """Every updated matrix made 1e7 times too stiff: each corrected step stalls, the
    fit falls back to plain scoring, and the batch takes the same turns as fit_mmrm
    (steps, convergence, failures) on every trial."""
    import trialsim.analysis.repeated_measures as rm
    import trialsim.analysis.repeated_measures_batch as rb
    original = rm.scoring_matrix

    def stiff(info, s, y):
        h, updated = original(info, s, y)
        return np.where(np.asarray(updated)[..., None, None], 1e7 * h, h), updated

    monkeypatch.setattr(rm, "scoring_matrix", stiff)
    monkeypatch.setattr(rb, "scoring_matrix", stiff)
    _, items = simulated
    single, _ = assert_all_same([x for _, x in items], esw_intercept=True)
    assert all(f is not None and f.converged for f in single)


def test_one_esw_leaves_the_esw_term_not_estimable():
    """With every IPS client at one ESW tau2 is not identified: not estimable, as the
    partially nested model, before any fit (estimators.rm_estimable)."""
    from trialsim.analysis.estimators import repeated_measures, rm_estimable

    y, ips, base, cov, esw = data(5)
    one = np.where(esw >= 0, 0, -1)
    assert rm_estimable(y, ips, esw) and not rm_estimable(y, ips, one)
    assert rm_estimable(y, ips, None)  # without the ESW term: fitted
    r = repeated_measures(y, ips, base, one, 0.05, covariates=cov)
    assert r.status == "not_estimable"
    assert repeated_measures(y, ips, base, esw, 0.05, covariates=cov).status == "ok"
