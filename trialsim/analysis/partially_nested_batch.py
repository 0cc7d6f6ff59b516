"""Many partially nested REML fits run in step: multiple imputation's completed datasets
(trialsim.analysis.estimators.imputed) share their design, arms and ESWs and differ only
in the imputed scores, and each was fitted alone, twenty times a trial, most of the time
in the objective's numpy calls on a few small matrices.

Each fit runs its own procedure (trialsim.analysis.partially_nested.fit_steps: the same
start, projected Newton steps, line search, fallback and checks as fit_partially_nested),
as a generator; `fit_partially_nested_many` gathers the points all of them ask for next
and evaluates the objective at all of them in one set of stacked array operations
(`_StackedObjective`, _Objective's algebra with a leading axis). A stacked product may
round in another order, so the fits agree with one at a time to rounding where the ESW
variance is not negative; below 0, where the REML surface flattens towards a singular V
and the stopping rule fixes the fit no more finely, by up to about 1e-7 (99% of fits
within 1e-10; tests/test_partially_nested_batch.py).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

import numpy as np

from trialsim.analysis.partially_nested import (
    Fit,
    PartiallyNestedModel,
    fit_partially_nested,
    fit_steps,
)


def fit_partially_nested_many(ys: Sequence[np.ndarray], x: np.ndarray, ips: np.ndarray,
                              cluster: np.ndarray, equal_variances: bool = False,
                              nonnegative: bool = False,
                              observed_df: bool = True) -> list[Fit | None]:
    """fit_partially_nested(y, x, ips, cluster, ...) for each y of `ys`, in step: one
    design `x` of 3 columns (intercept, arm, baseline, as estimators.partially_nested
    builds it; another is refused), one set of arms and ESWs. A single y is
    fit_partially_nested's own fit, to the last bit."""
    options = {"equal_variances": equal_variances, "nonnegative": nonnegative,
               "observed_df": observed_df}
    if len(ys) < 2:
        return [fit_partially_nested(y, x, ips, cluster, **options) for y in ys]
    models = [PartiallyNestedModel(y, x, ips, cluster) for y in ys]
    steps = [fit_steps(m, y, equal_variances, nonnegative, observed_df)
             for m, y in zip(models, ys, strict=True)]
    return _drive_many(steps, _StackedObjective(models, equal_variances))


def _drive_many(steps: list[Generator], objective: _StackedObjective) -> list:
    """partially_nested.drive for every generator of `steps` at once: each round, the
    points of the fits still running are evaluated together and sent back."""
    out: list = [None] * len(steps)
    with np.errstate(all="ignore"):
        points = {}
        for i, s in enumerate(steps):
            try:
                points[i] = next(s)
            except StopIteration as stop:
                out[i] = stop.value
        while points:
            idx = list(points)
            for i, got in zip(idx, objective(idx, [points[i] for i in idx]), strict=True):
                try:
                    points[i] = steps[i].send(got)
                except StopIteration as stop:
                    out[i] = stop.value
                    del points[i]
    return out


class _StackedObjective:
    """partially_nested._Objective for fits of one structure (the same blocks and design;
    each its own [X y] cross-products), evaluated for several of them at once: one row
    per fit asked, (value, gradient, Hessian) as plain floats, or None where the fit's
    X'V^-1 X is not positive definite (where _Objective raises LinAlgError)."""

    def __init__(self, models: Sequence[PartiallyNestedModel], equal: bool):
        m0 = models[0]
        if any(m.g.shape != m0.g.shape or not (np.array_equal(m.nb, m0.nb)
                                               and np.array_equal(m.z, m0.z)
                                               and np.array_equal(m.af, m0.af))
               for m in models):
            raise ValueError("stacked fits need the same blocks and design")
        if m0.p != 3:  # the 3 x 3 inverse by cofactors, as partially_nested._inverse
            raise ValueError("stacked fits take a design of 3 columns (intercept, arm, "
                             "baseline), as estimators.partially_nested builds it")
        self.equal, self.p = equal, m0.p
        z = m0.z
        self.zc = np.column_stack([z[:, 0] + z[:, 1], z[:, 2]]) if equal else z
        self.nb, self.af = m0.nb, m0.af  # the design's: the same in every fit
        p = m0.p
        self.gx = np.stack([np.ascontiguousarray(m.g[:, :, :p]).reshape(-1, p)
                            for m in models])  # fits x (blocks (p + 1)) x p
        self.gy = np.stack([m.g[:, :, p] for m in models])  # fits x blocks x (p + 1)
        self.c = np.stack([m.c for m in models])  # fits x blocks x p

    def __call__(self, idx: list[int], thetas: list[list[float]]) -> list:
        th = np.array(thetas, dtype=float)
        n, q, p = len(idx), len(thetas[0]), self.p
        s2i, gam = np.exp(th[:, 0]), th[:, -1]
        mix = np.zeros((n, q, q))  # dv/dtheta = zc @ mix, per fit (as _Objective)
        mix[:, 0, 0] = s2i
        mix[:, -1, 0] = s2i * gam
        mix[:, -1, -1] = s2i
        if not self.equal:
            mix[:, 1, 1] = np.exp(th[:, 1])
        dv = self.zc @ mix  # n x blocks x q
        v = dv[..., 0] if self.equal else dv[..., 0] + dv[..., 1]
        w = 1.0 / v
        a = (w @ self.af).reshape(n, p, p)  # X'V^-1 X
        ainv, det, ok = _inverse_3x3(a)
        beta = (ainv @ (w[:, None, :] @ self.c[idx])[:, 0, :, None])[..., 0]
        gy = self.gy[idx]
        gu = (self.gx[idx] @ beta[..., None]).reshape(gy.shape) - gy
        e = gu[..., :-1]  # minus X_b'(y_b - X_b beta)
        r = (e @ beta[..., None])[..., 0] - gu[..., -1]  # residual sum of squares per block
        value = np.log(v) @ self.nb + np.log(det) + (w * r).sum(1)
        w2 = w * w
        d_w = r - self.nb * v + ainv.reshape(n, -1) @ self.af.T
        dw = dv * w2[..., None]
        dwt = dw.transpose(0, 2, 1)
        f = ainv[:, None] @ (dwt @ self.af).reshape(n, q, p, p)
        ff = f.reshape(n, q, -1)
        ew = dwt @ e
        grad = -(dwt @ d_w[..., None])[..., 0]
        hess = ((dv * (w2 * (self.nb + 2 * w * d_w))[..., None]).transpose(0, 2, 1) @ dv
                - ff @ f.transpose(0, 1, 3, 2).reshape(n, q, -1).transpose(0, 2, 1)
                - 2 * (ew @ ainv @ ew.transpose(0, 2, 1)))
        hess[:, 0, 0] += grad[:, 0]
        hess[:, 0, -1] += grad[:, -1]
        hess[:, -1, 0] += grad[:, -1]
        if not self.equal:
            hess[:, 1, 1] += grad[:, 1]
        values, grads, hessians = value.tolist(), grad.tolist(), hess.tolist()
        return [(values[k], grads[k], hessians[k]) if ok[k] else None for k in range(n)]


def _inverse_3x3(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """partially_nested._inverse of each 3 x 3 matrix of the stack (by cofactors), its
    determinant, and which are positive definite (leading minors; the others' inverse
    and determinant are not to be used)."""
    p, q, r = a[:, 0, 0], a[:, 0, 1], a[:, 0, 2]
    s, t, u = a[:, 1, 1], a[:, 1, 2], a[:, 2, 2]
    c00, c01, c02 = s * u - t * t, r * t - q * u, q * t - r * s
    det = p * c00 + q * c01 + r * c02
    ok = (det > 0) & (p > 0) & (p * s - q * q > 0)
    c11, c12, c22 = p * u - r * r, q * r - p * t, p * s - q * q
    inv = np.stack([np.stack([c00, c01, c02], -1), np.stack([c01, c11, c12], -1),
                    np.stack([c02, c12, c22], -1)], 1) / np.where(ok, det, 1.0)[:, None, None]
    return inv, np.where(ok, det, 1.0), ok

