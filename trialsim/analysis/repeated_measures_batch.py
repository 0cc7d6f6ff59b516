"""The repeated-measures model (trialsim.analysis.repeated_measures) fitted over a batch
of datasets at once: the same REML Fisher scoring and Kenward-Roger algebra, run for
every dataset in one set of numpy calls, since a single fit is mostly numpy call
overhead on tiny arrays.

Layout: the datasets' pieces are concatenated, not padded. One-participant groups
(arm x missingness pattern), the ESW clients' missingness patterns, (ESW, pattern)
cells and ESWs of all datasets are rows of flat ("ragged") arrays; their algebra is per
row on matrices of fixed shape (T x T, p x p, q x q) through stacked np.matmul, and
every sum over a dataset's rows is a segment sum (_Segments) that adds that dataset's
rows only, in order. No reduction and no gemm dimension spans datasets, so a dataset's
results do not depend on what else is in the batch: they are bitwise the same fitted
alone. Each dataset runs fit_mmrm's iteration (its own step, step halving and
stopping); finished datasets are dropped from the batch as it thins. A matrix that is
not positive definite fails its own dataset only, as LinAlgError fails fit_mmrm.

The ESW caseloads use repeated_measures._Clustered's Woodbury algebra rewritten without
per-client terms (each is linear in the client's rows given its pattern and ESW), and
the datasets' rows are built by array operations (_Dataset) rather than by MmrmModel:
both were most of the cost once the scoring steps were batched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix

from trialsim.analysis.repeated_measures import (
    MAX_STEPS,
    STEP_TOL,
    MmrmFit,
    MmrmModel,
    _clipped,
    as_arrays,
    relative_change,
    scoring_matrix,
)

try:  # scipy's CSR kernel itself, without csr_matrix's Python overhead (private API)
    from scipy.sparse._sparsetools import csr_matvecs as _kernel
except ImportError:  # pragma: no cover - a scipy that moved it: the public product
    _kernel = None


def csr_matvecs(n_row, n_col, n_vec, indptr, indices, data, x, out) -> None:
    """out += A x for the CSR matrix A = (data, indices, indptr), x of n_col x n_vec (both
    raveled): scipy's kernel, or csr_matrix's product, which runs that same kernel."""
    if _kernel is not None:
        _kernel(n_row, n_col, n_vec, indptr, indices, data, x, out)
        return
    a = csr_matrix((data, indices, indptr), shape=(n_row, n_col))
    out += (a @ x.reshape(n_col, n_vec)).ravel()


class _Segments:
    """Rows owned by segments (row i by owner[i]): sums per segment, each adding its
    rows in row order, so that a segment's sum does not depend on the other segments.
    The sum is a 0/1 CSR matrix product by scipy's kernel, called directly: csr_matrix
    construction and its @ cost some 100 and 30 us of Python a call, more than the sums
    themselves."""

    def __init__(self, owner: np.ndarray, n_owners: int):
        owner = np.asarray(owner, dtype=np.intp)
        self.n, self.owner = n_owners, owner
        self.indices = np.argsort(owner, kind="stable").astype(np.intp)
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n_owners))
                                      ]).astype(np.intp)
        self.ones = np.ones(len(owner))
        self._outer: dict = {}

    def outer_sum(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """sum of a_i (x) b_i over each segment's rows (a: rows x A, b: rows x B), as a
        CSR product too (row (segment, j) takes a_ij b_i over the segment's rows i), not
        as the rows' outer products, which would be A x B times larger."""
        n_a = a.shape[1]
        out = np.zeros((self.n * n_a, b.shape[1]))
        if not len(a):
            return out.reshape(self.n, n_a, -1)
        if n_a not in self._outer:
            counts = np.diff(self.indptr)
            length = np.repeat(counts, n_a)  # row (segment, j): the segment's rows
            indptr = np.concatenate([[0], np.cumsum(length)]).astype(np.intp)
            row = np.repeat(np.arange(self.n * n_a), length)
            at = np.arange(len(row)) - indptr[row]
            cols = self.indices[self.indptr[row // n_a] + at].astype(np.intp)
            self._outer[n_a] = (indptr, cols, cols * n_a + row % n_a)
        indptr, cols, take = self._outer[n_a]
        csr_matvecs(self.n * n_a, len(a), b.shape[1], indptr, cols,
                                 np.ascontiguousarray(a).ravel()[take],
                                 np.ascontiguousarray(b, dtype=float).ravel(), out.ravel())
        return out.reshape(self.n, n_a, -1)

    def any(self, mask: np.ndarray) -> np.ndarray:
        """Whether any of each segment's rows is flagged (a flag, not a sum: no floats)."""
        out = np.zeros(self.n, bool)
        out[self.owner[mask]] = True
        return out

    def sum(self, x: np.ndarray) -> np.ndarray:
        """Each segment's sum of its rows of x (rows x ...). Called some 30 times a
        scoring step, so lean: the kernel itself (no wrapper) into the result."""
        rows = len(x)
        flat = np.ascontiguousarray(x, dtype=float).reshape(rows, -1)
        out = np.zeros((self.n,) + x.shape[1:])
        if rows:
            (_kernel or csr_matvecs)(self.n, rows, flat.shape[1], self.indptr, self.indices,
                                     self.ones, flat.ravel(), out.ravel())
        return out


def _cholesky(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cholesky factors of a stack and which items are not positive definite (their
    factor is the identity)."""
    try:
        return np.linalg.cholesky(a), np.zeros(len(a), bool)
    except np.linalg.LinAlgError:
        out, bad = np.empty_like(a), np.zeros(len(a), bool)
        for i, m in enumerate(a):
            try:
                out[i] = np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                out[i], bad[i] = np.eye(a.shape[-1]), True
        return out, bad


def _per_item(fn, a: np.ndarray, *rest) -> tuple[np.ndarray, np.ndarray]:
    """fn (np.linalg.inv or solve) over a stack; singular items fail alone (result 0)."""
    try:
        return fn(a, *rest), np.zeros(len(a), bool)
    except np.linalg.LinAlgError:
        outs, bad = [], np.zeros(len(a), bool)
        for i in range(len(a)):
            try:
                outs.append(fn(a[i], *(r[i] for r in rest)))
            except np.linalg.LinAlgError:
                outs.append(None)
                bad[i] = True
        shape = next(o.shape for o in outs if o is not None) if not bad.all() else \
            (fn(np.eye(a.shape[-1]), *(r[0] for r in rest)).shape)
        return np.stack([np.zeros(shape) if o is None else o for o in outs]), bad


def _trace_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """tr(a_k b_l) per row, for a (N, q, X, Y) and b (N, q', Y, X): N x q x q'."""
    n = len(a)
    return a.reshape(n, a.shape[1], -1) @ \
        b.transpose(0, 1, 3, 2).reshape(n, b.shape[1], -1).transpose(0, 2, 1)


def _outer(u: np.ndarray) -> np.ndarray:
    """u (x) u per dataset, as columns (N x P^2 x 1): made per dataset, then taken by
    each of its groups."""
    return (u[:, :, None] * u[:, None, :]).reshape(len(u), -1, 1)


def _diag_logsum(chol: np.ndarray) -> np.ndarray:
    return np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(1)


class _UnitParts:
    """One-participant units grouped by arm and missingness pattern (repeated_measures
    _Units in its K form): a row per group of every dataset."""

    def __init__(self, parts: list, q: int):
        self.ds = np.concatenate([np.full(len(pt["gd"]), r) for r, pt in enumerate(parts)])
        self.gd = np.concatenate([pt["gd"] for pt in parts])
        self.eye = np.concatenate([pt["eye"] for pt in parts])
        self.counts = np.concatenate([pt["counts"] for pt in parts])
        self.kflat = np.concatenate([pt["kflat"] for pt in parts])
        self.kx = np.concatenate([pt["kx"] for pt in parts])
        p1 = int(round(math.sqrt(self.kflat.shape[2])))
        self.seg = _Segments(self.ds, len(parts))
        self.q, self.p1 = q, p1

    def factor(self, phi):
        u, t = len(self.gd), self.gd.shape[-1]
        v = (phi[self.ds][:, None, :] @ self.gd.reshape(u, self.q, t * t)).reshape(u, t, t) \
            + self.eye
        chol, bad = _cholesky(v)
        s = np.linalg.inv(v)
        logdet = self.seg.sum(2 * self.counts * _diag_logsum(chol))
        zsz = self.seg.sum((s.reshape(u, 1, t * t) @ self.kflat)[:, 0])
        p1 = self.p1
        return s, logdet, zsz.reshape(-1, p1, p1), self.seg.any(bad)

    def derivatives(self, s, u, c):
        n, q, t = len(s), self.q, s.shape[-1]
        p = c.shape[-1]
        sg = (self.gd @ s[:, None]).transpose(0, 1, 3, 2)  # S V_k
        tr_sg = np.trace(sg, axis1=2, axis2=3)
        info = 0.5 * self.counts[:, None, None] * _trace_pairs(sg, sg)
        sgs = (sg @ s[:, None]).reshape(n, q, t * t)  # S V_k S
        r = (self.kflat @ _outer(u)[self.ds]).reshape(n, t, t)  # sum_i r_i r_i'
        grad = self.counts[:, None] * tr_sg - \
            (sgs @ r.transpose(0, 2, 1).reshape(n, t * t, 1))[..., 0]
        pk = (sgs @ self.kx).reshape(n, q, p, p)
        skc = s @ (self.kx @ c[self.ds].reshape(n, p * p, 1)).reshape(n, t, t)
        info = info - _trace_pairs(sg, sg @ skc[:, None])
        return self.seg.sum(grad), self.seg.sum(info), self.seg.sum(pk)

    def q_matrices(self, s, p):
        n, q, t = len(s), self.q, s.shape[-1]
        sg = s[:, None] @ self.gd
        m = sg[:, :, None] @ (sg @ s[:, None])[:, None]  # S V_k S V_l S
        out = m.reshape(n, q * q, t * t) @ self.kx
        return self.seg.sum(out).reshape(-1, q, q, p, p)


class _ClusterParts:
    """ESWs' caseloads by Woodbury (repeated_measures._Clustered), with no per-client
    algebra: a client's terms are linear in its rows Z_i, given its pattern g and ESW
    k, so sums over clients become sums over patterns of K_g = sum_i Z_i (x) Z_i and
    over cells (k, g) of Z_kg = sum_i Z_i. Rows per pattern, cell and ESW of every
    dataset; cells are in ESW order."""

    def __init__(self, parts: list, n_ds: int):
        g_off = np.cumsum([0] + [len(pt["e"]) for pt in parts])
        k_off = np.cumsum([0] + [pt["k"] for pt in parts])
        self.g_ds = np.concatenate([np.full(len(pt["e"]), r) for r, pt in enumerate(parts)])
        self.k_ds = np.concatenate([np.full(pt["k"], r) for r, pt in enumerate(parts)])
        cat = {key: np.concatenate([pt[key] for pt in parts])
               for key in ("e", "a", "eye", "n_pat", "kflat", "kx", "zc", "nc")}
        self.e, self.a, self.eye, self.n_pat = cat["e"], cat["a"], cat["eye"], cat["n_pat"]
        self.zc, self.nc = cat["zc"], cat["nc"]
        g, t, p1 = len(self.e), self.e.shape[2], self.zc.shape[2]
        self.p = p1 - 1
        self.kc = cat["kflat"]
        self.kx = cat["kx"].reshape(g, t, t * self.p * self.p)
        self.c_g = np.concatenate([pt["c_g"] + g_off[r] for r, pt in enumerate(parts)])
        self.c_k = np.concatenate([pt["c_k"] + k_off[r] for r, pt in enumerate(parts)])
        self.cell_esw = _Segments(self.c_k, len(self.k_ds))
        self.cell_pat = _Segments(self.c_g, g)
        self.g_seg = _Segments(self.g_ds, n_ds)
        self.k_seg = _Segments(self.k_ds, n_ds)

    def factor(self, phi):
        qs = self.e.shape[1]
        g, t = self.e.shape[:3:2]
        tau2 = phi[self.k_ds, qs]
        v = (phi[self.g_ds, None, :qs] @ self.e.reshape(g, qs, t * t)).reshape(g, t, t) \
            + self.eye
        chol, bad = _cholesky(v)
        si = np.linalg.inv(v)
        d = (si @ self.a[..., None])[..., 0]
        s_c = self.cell_esw.sum(self.nc * (self.a * d).sum(1)[self.c_g])  # a'D^-1 a per ESW
        one = 1 + tau2 * s_c
        bad_ds = self.g_seg.any(bad) | self.k_seg.any(one <= 0)
        kappa = tau2 / np.where(one > 0, one, 1.0)
        logdet = self.g_seg.sum(2 * self.n_pat * _diag_logsum(chol)) + \
            self.k_seg.sum(np.log1p(np.where(one > 0, tau2 * s_c, 0.0)))
        w = self.cell_esw.sum((d[self.c_g][:, None, :] @ self.zc)[:, 0])  # sum_i Z_i'd_i
        p1 = self.p + 1
        zsz = self.g_seg.sum((si.reshape(g, 1, t * t) @ self.kc)[:, 0]).reshape(-1, p1, p1) \
            - self.k_seg.sum(kappa[:, None, None] * (w[:, :, None] * w[:, None, :]))
        return {"si": si, "d": d, "s_c": s_c, "kappa": kappa, "tau2": tau2, "w": w}, \
            logdet, zsz, bad_ds

    def _hj(self, st, p):
        """H_g = sum_i kappa_k X_i (x) w_k and J_g = sum_i kappa_k^2 w_k (x) w_k over each
        pattern's clients (w_k's X part): Xi_i = S_g X_i - kappa_k d_g w_k' in terms
        of the cells' sums."""
        wx = st["w"][:, :p][self.c_k]
        kw = st["kappa"][self.c_k]
        g, t = len(self.e), self.e.shape[2]
        h = self.cell_pat.outer_sum((kw[:, None, None] * self.zc[:, :, :p]).reshape(
            len(kw), -1), wx).reshape(g, t, p, p)
        j = self.cell_pat.outer_sum((self.nc * kw**2)[:, None] * wx, wx)
        return h, j

    def _kxi(self, st, p):
        """sum over each pattern's clients of Xi_i (x) Xi_i (G x T^2 x p^2)."""
        si, d = st["si"], st["d"]
        g, t = si.shape[:2]
        kx = (si @ self.kx).reshape(g, t, t, p * p)
        kx = (si[:, None] @ kx).reshape(g, t, t, p, p)  # (S (x) S) K_g
        h, j = self._hj(st, p)
        sh = (si @ h.reshape(g, t, p * p)).reshape(g, t, p, p)
        kxi = kx - sh[:, :, None] * d[:, None, :, None, None] \
            - d[:, :, None, None, None] * sh.transpose(0, 1, 3, 2)[:, None] \
            + (d[:, :, None] * d[:, None, :])[..., None, None] * j[:, None, None]
        return kxi.reshape(g, t * t, p * p)

    def derivatives(self, st, u, c, keep: dict | None = None):
        p, e = c.shape[-1], self.e
        g_n, qs, t = e.shape[0], e.shape[1], e.shape[2]
        si, d, kappa, tau2, s_c, w = (st[k] for k in ("si", "d", "kappa", "tau2", "s_c", "w"))
        ug = u[self.g_ds]
        wu = (w * u[self.k_ds]).sum(1)
        f = 1 / (1 + tau2 * s_c)  # S a = f d, per ESW
        one_s = s_c * f  # a'S a
        kcell = kappa[self.c_k]
        # sum over each pattern's clients of rho rho', rho_i = S r_i = S_g Z_i u - kappa wu d
        ruu = (self.kc @ _outer(u)[self.g_ds]).reshape(g_n, t, t)
        kw = kcell * wu[self.c_k]
        h = self.cell_pat.sum(kw[:, None] * (self.zc @ ug[self.c_g][:, :, None])[..., 0])
        sh = (si @ h[..., None])[..., 0]
        s2 = self.cell_pat.sum(self.nc * kw**2)
        dd = d[:, :, None] * d[:, None, :]
        r_g = si @ ruu @ si - sh[:, :, None] * d[:, None, :] - d[:, :, None] * sh[:, None, :] \
            + s2[:, None, None] * dd
        se = si[:, None] @ e  # S_g E_k
        ed = (e @ d[:, None, :, None])[..., 0]  # E_k d
        ded = (ed * d[:, None, :]).sum(2)  # d'E_k d
        kap_g = self.cell_pat.sum(self.nc * kcell)
        f2_g = self.cell_pat.sum(self.nc * f[self.c_k] ** 2)
        n_ds = self.g_seg.n
        grad = np.empty((n_ds, qs + 1))
        grad[:, :qs] = self.g_seg.sum(
            self.n_pat[:, None] * np.trace(se, axis1=2, axis2=3) - kap_g[:, None] * ded
            - (e.reshape(g_n, qs, -1) @ r_g.reshape(g_n, -1, 1))[..., 0])
        grad[:, qs] = self.k_seg.sum(one_s - (wu * f) ** 2)  # a'rho per ESW = f w'u
        sed = (si[:, None] @ ed[..., None])[..., 0]  # S_g E_k d
        ses = (se @ si[:, None]).reshape(g_n, qs, t * t)  # S E_k S
        kx = self.kx.reshape(g_n, t * t, p * p)
        wx = w[:, :p]
        dk = self.cell_esw.sum(self.nc[:, None] * ded[self.c_g])
        # eta_k = sum_i (E_k d_i)' Xi_i over the ESW's clients, Xi_i = S_g X_i - kappa_k
        # d_g w_k'; zeta (with S a = f d) = f eta
        eta1 = self.cell_esw.sum(sed[self.c_g] @ self.zc[..., :p])
        eta = eta1 - kappa[:, None, None] * dk[:, :, None] * wx[:, None, :]
        # pk: E_k . sum_i Xi_i (x) Xi_i, its kappa terms summed per ESW
        ks = self.k_seg
        a_k = ks.outer_sum((kappa[:, None, None] * eta1).reshape(len(kappa), -1), wx).reshape(
            n_ds, qs, p, p)
        wxx = ks.outer_sum((kappa**2)[:, None] * dk, (wx[:, :, None] * wx[:, None, :]).reshape(
            len(kappa), -1)).reshape(n_ds, qs, p, p)
        pk = np.empty((n_ds, qs + 1, p, p))
        pk[:, :qs] = self.g_seg.sum((ses @ kx).reshape(g_n, qs, p, p)) + wxx - a_k \
            - a_k.transpose(0, 1, 3, 2)
        xic = f[:, None] * wx  # Xi'a per ESW
        pk[:, qs] = ks.outer_sum(xic, xic)
        # sum_i Xi_i C Xi_i' per pattern
        cg = c[self.g_ds].reshape(g_n, p * p, 1)
        ck = c[self.k_ds]
        cw = (ck @ wx[..., None])[..., 0]  # C w_k
        hv = self.cell_pat.sum(kcell[:, None] * (self.zc[..., :p] @ cw[self.c_k][..., None])[
            ..., 0])
        hc = (si @ hv[..., None])[..., 0]
        jc = self.cell_pat.sum(self.nc * kcell**2 * (wx * cw).sum(1)[self.c_k])
        m_g = si @ (kx @ cg).reshape(g_n, t, t) @ si - hc[:, :, None] * d[:, None, :] \
            - d[:, :, None] * hc[:, None, :] + jc[:, None, None] * dd
        info_g = 0.5 * self.n_pat[:, None, None] * _trace_pairs(se, se) \
            - (ed * kap_g[:, None, None]) @ sed.transpose(0, 2, 1) \
            - _trace_pairs(se.transpose(0, 1, 3, 2), e @ m_g[:, None])
        info_k = 0.5 * (kappa**2)[:, None, None] * (dk[:, :, None] * dk[:, None, :]) \
            + ((eta @ ck) * kappa[:, None, None]) @ eta.transpose(0, 2, 1)
        zeta = f[:, None, None] * eta
        t_kt = self.k_seg.sum(((zeta @ ck) * xic[:, None, :]).sum(2))
        info = np.zeros((n_ds, qs + 1, qs + 1))
        info[:, :qs, :qs] = self.g_seg.sum(info_g) + self.k_seg.sum(info_k)
        info[:, :qs, qs] = info[:, qs, :qs] = self.g_seg.sum(0.5 * f2_g[:, None] * ded) - t_kt
        info[:, qs, qs] = self.k_seg.sum(0.5 * one_s**2 - ((xic[:, None, :] @ ck)[:, 0]
                                                           * xic).sum(1) * one_s)
        if keep is not None:
            keep.update(kxi_flat=self._kxi(st, p), eta=eta, zeta=zeta, xic=xic, one_s=one_s)
        return grad, info, pk

    def q_matrices(self, st, kept: dict, p):
        e, si, kappa = self.e, st["si"], st["kappa"]
        g_n, qs, t = e.shape[0], e.shape[1], e.shape[2]
        n_ds, nk = self.g_seg.n, len(kappa)
        out = np.empty((n_ds, qs + 1, qs + 1, p, p))
        ese = e[:, :, None] @ (si[:, None] @ e)[:, None]  # E_k S E_l
        qq = (ese.reshape(g_n, qs * qs, t * t) @ kept["kxi_flat"]).reshape(g_n, qs, qs, p, p)
        eta, xic, ks = kept["eta"].reshape(nk, -1), kept["xic"], self.k_seg
        ee = ks.outer_sum(kappa[:, None] * eta, eta).reshape(n_ds, qs, p, qs, p)
        out[:, :qs, :qs] = self.g_seg.sum(qq) - ee.transpose(0, 1, 3, 2, 4)
        out[:, :qs, qs] = ks.outer_sum(kept["zeta"].reshape(nk, -1), xic).reshape(
            n_ds, qs, p, p)
        out[:, qs, :qs] = out[:, :qs, qs].transpose(0, 1, 3, 2)
        out[:, qs, qs] = ks.outer_sum(kept["one_s"][:, None] * xic, xic)
        return out


class _Dataset:
    """One dataset as MmrmModel sees it (dimensions, start, Sigma) with its rows for a
    batch (`parts`: one-participant groups, ESW caseloads), built with array operations
    instead of MmrmModel's loops over units; the same groups, patterns and sums."""

    def __init__(self, y, ips, baseline, covariates, esw, per_arm: bool,
                 esw_intercept: bool, more: np.ndarray | None = None):
        """`more`: (n, T, m) further outcome columns, read where y is observed (the
        delta slopes' second arm: its criterion is never taken)."""
        y, ips, cov = as_arrays(y, ips, covariates)
        n, t = y.shape
        self.t, self.per_arm, self.esw_intercept = t, per_arm, esw_intercept
        self.p = p = 3 * t + cov.shape[1]
        self.effect = 2 * t - 1
        self.pairs = [(j, k) for j in range(t) for k in range(j, t)]
        m = len(self.pairs)
        self.q = (2 if per_arm else 1) * m + (1 if esw_intercept else 0)
        obs = ~np.isnan(y)
        keep = obs.any(1)
        extra = 0 if more is None else more.shape[2]
        self.width = p + 1 + extra  # Z's columns: X, y and `more`
        z = np.zeros((n, t, self.width))
        w = np.arange(t)
        z[:, w, w] = 1.0
        z[:, w, t + w] = ips[:, None]
        z[:, w, 2 * t + w] = np.asarray(baseline, float)[:, None]
        z[:, :, 3 * t:p] = cov[:, None, :]
        z[:, :, p] = np.where(obs, y, 0.0)
        if extra:
            z[:, :, p + 1:] = np.where(obs[..., None], more, 0.0)
        ptable = np.zeros((t, t), dtype=int)
        for i, (j, k) in enumerate(self.pairs):
            ptable[j, k] = ptable[k, j] = i
        clustered = np.zeros(n, bool)
        if esw_intercept and esw is not None:
            esw = np.asarray(esw)
            member = keep & ips & (esw >= 0)
            size = np.bincount(esw[member]) if member.any() else np.zeros(1, int)
            clustered[member] = size[esw[member]] > 1  # ESWs of one client: units of one
        single = keep & ~clustered
        self.n_obs = int(obs[keep].sum())
        self._z, self._obs = z[keep], obs[keep]
        units = self._units(z[single], obs[single], ips[single], ptable) if single.any() \
            else None
        cl = self._clustered(z[clustered], obs[clustered], esw[clustered] if
                             clustered.any() else None, ptable) if clustered.any() else None
        self.parts = (units, cl)

    def _units(self, z, obs, ips, ptable) -> dict:
        """Participants grouped by arm and missingness pattern (their V is one): per
        group dV/dphi and K = sum_i Z_i (x) Z_i, rows packed to the observed waves."""
        t, q, m = self.t, self.q, len(self.pairs)
        p1 = z.shape[2]
        first, group = _codes(obs @ (2 ** np.arange(t)) + ips * 2**t, 2 ** (t + 1))
        g = len(first)
        order = np.argsort(~obs, axis=1, kind="stable")  # observed waves first
        count = obs.sum(1)
        valid = np.arange(t) < count[:, None]
        zp = z[np.arange(len(z))[:, None], order] * valid[..., None]
        k = _cross_products(zp.reshape(len(z), -1), group, g)
        wv, ok, arm = order[first], valid[first], ips[first]
        off = np.where(self.per_arm & ~arm, m, 0)
        gd = np.zeros((g, q, t, t))
        gi, r, c = np.nonzero(ok[:, :, None] & ok[:, None, :])
        gd[gi, off[gi] + ptable[wv[gi, r], wv[gi, c]], r, c] = 1.0
        if self.esw_intercept:
            row = ok * arm[:, None]
            gd[:, q - 1] = row[:, :, None] * row[:, None, :]
        return {"gd": gd, "eye": (~ok)[:, :, None] * np.eye(t), "counts":
                np.bincount(group).astype(float),
                **_k_layouts(k.reshape(g, t, p1, t, p1).transpose(0, 1, 3, 2, 4))}

    def _clustered(self, z, obs, esw, ptable) -> dict:
        """ESWs' clients: per missingness pattern dV/dphi of Sigma, a, K_g; per (ESW,
        pattern) cell the sum of the rows Z_i and the cell's size (cells in ESW order)."""
        t, p1 = self.t, z.shape[2]
        z = z * obs[..., None]
        cl = _codes(esw, int(esw.max()) + 1)[1]
        first, pat = _codes(obs @ (2 ** np.arange(t)), 2**t)
        g, ob = len(first), obs[first]
        e = np.zeros((g, self.q - 1, t, t))
        w = np.arange(t)
        e[:, ptable, w[:, None], w] = ob[:, :, None] & ob[:, None, :]
        kc = _cross_products(z.reshape(len(z), -1), pat, g)
        k = int(cl.max()) + 1
        cell_first, cell = _codes(cl * g + pat, k * g)
        cells = cl[cell_first] * g + pat[cell_first]
        return {"e": e, "a": ob.astype(float), "eye": (~ob)[:, :, None] * np.eye(t),
                "n_pat": np.bincount(pat).astype(float),
                **_k_layouts(kc.reshape(g, t, p1, t, p1).transpose(0, 1, 3, 2, 4)),
                "zc": _Segments(cell, len(cells)).sum(z),
                "nc": np.bincount(cell).astype(float), "c_g": cells % g, "c_k": cells // g,
                "k": k}

    def start(self) -> np.ndarray:
        return MmrmModel.start(self)  # MmrmModel's moment start, from _z and _obs

    def sigma(self, phi) -> np.ndarray:
        return MmrmModel.sigma(self, phi)


def _codes(key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(key, return_index=True, return_inverse=True)[1:] for keys in
    range(size), by a table rather than a sort: np.unique's Python costs more than
    these few calls on a dataset's rows."""
    n = len(key)
    first = np.full(size, n)
    np.minimum.at(first, key, np.arange(n))
    present = first < n
    return first[present], (np.cumsum(present) - 1)[key]


def _cross_products(zf: np.ndarray, group: np.ndarray, g: int) -> np.ndarray:
    """sum_i z_i z_i' over each group's rows (one dataset's: a gemm per group), the
    rows sorted by group once so that each group's are a slice."""
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(g + 1)).tolist()
    zs = zf[order]
    out = np.empty((g, zf.shape[1], zf.shape[1]))
    for j in range(g):
        rows = zs[bounds[j]:bounds[j + 1]]
        np.matmul(rows.T, rows, out=out[j])
    return out


def _k_layouts(k: np.ndarray) -> dict:
    """K (G x T x T x p+1 x p+1) as the batch uses it: all of it and its X block, each
    G x T^2 x (columns)^2, contiguous (made once per dataset, not per batch)."""
    g, t, p1 = k.shape[0], k.shape[1], k.shape[-1]
    return {"kflat": np.ascontiguousarray(k).reshape(g, t * t, p1 * p1),
            "kx": np.ascontiguousarray(k[..., :p1 - 1, :p1 - 1]).reshape(
                g, t * t, (p1 - 1) ** 2)}  # no -1: g may be 0 (no caseloads)


def _empty_units(m: _Dataset) -> dict:
    t, p1 = m.t, m.width
    return {"gd": np.zeros((0, m.q, t, t)), "eye": np.zeros((0, t, t)),
            "counts": np.zeros(0), **_k_layouts(np.zeros((0, t, t, p1, p1)))}


def _empty_clustered(m: _Dataset) -> dict:
    t, p1, qs = m.t, m.width, m.q - 1
    return {"e": np.zeros((0, qs, t, t)), "a": np.zeros((0, t)), "eye": np.zeros((0, t, t)),
            "n_pat": np.zeros(0), **_k_layouts(np.zeros((0, t, t, p1, p1))),
            "zc": np.zeros((0, t, p1)), "nc": np.zeros(0), "c_g": np.zeros(0, int),
            "c_k": np.zeros(0, int), "k": 0}


class _Batch:
    """MmrmModel's criterion, derivatives and Kenward-Roger terms for many datasets at
    once (one row of phi per dataset); `bad` marks the datasets where fit_mmrm's
    algebra would raise LinAlgError."""

    def __init__(self, models: Sequence[_Dataset]):
        m0 = models[0]
        self.p, self.q, self.effect, self.width = m0.p, m0.q, m0.effect, m0.width
        parts = [m.parts for m in models]
        self.units = self.clustered = None
        if any(u is not None for u, _ in parts):
            self.units = _UnitParts([u if u is not None else _empty_units(m)
                                     for (u, _), m in zip(parts, models, strict=True)],
                                    self.q)
        if any(c is not None for _, c in parts):
            self.clustered = _ClusterParts([c if c is not None else _empty_clustered(m)
                                            for (_, c), m in zip(parts, models, strict=True)],
                                           len(models))

    def _factor(self, phi):
        r, p1 = len(phi), self.width
        logdet, zsz, bad = np.zeros(r), np.zeros((r, p1, p1)), np.zeros(r, bool)
        states = []
        for part in (self.units, self.clustered):
            if part is None:
                states.append(None)
                continue
            st, ld, z, b = part.factor(phi)
            logdet, zsz, bad = logdet + ld, zsz + z, bad | b
            states.append(st)
        return states, logdet, zsz, bad

    def criterion(self, phi: np.ndarray, kr: bool = False) -> dict:
        """-2 log REML, gradient, expected information, beta, C, P_k per dataset (as
        MmrmModel.criterion with derivatives); with `kr`, also Q_kl."""
        p, q = self.p, self.q
        with np.errstate(all="ignore"):
            (su, sc), logdet, zsz, bad = self._factor(phi)
            a = zsz[:, :p, :p]
            chol, bad_a = _cholesky(a)
            c, bad_c = _per_item(np.linalg.inv, a)
            beta = (c @ zsz[:, :p, p:])[..., 0]
            u = np.concatenate([beta, -np.ones((len(phi), 1))], 1)
            value = logdet + 2 * _diag_logsum(chol) + \
                ((u[:, None, :] @ zsz) @ u[:, :, None])[:, 0, 0]
            r = len(phi)
            grad, info, pk = np.zeros((r, q)), np.zeros((r, q, q)), np.zeros((r, q, p, p))
            kept: dict | None = {} if kr else None
            if self.units is not None:
                g, i, k = self.units.derivatives(su, u, c)
                grad, info, pk = grad + g, info + i, pk + k
            if self.clustered is not None:
                g, i, k = self.clustered.derivatives(sc, u, c, kept)
                grad, info, pk = grad + g, info + i, pk + k
            grad = grad - (pk.reshape(r, q, -1) @ c.reshape(r, -1, 1))[..., 0]
            cp = c[:, None] @ pk
            info = info + 0.5 * cp.reshape(r, q, -1) @ \
                cp.transpose(0, 1, 3, 2).reshape(r, q, -1).transpose(0, 2, 1)
            out = {"value": value, "grad": grad, "info": info, "beta": beta, "c": c, "pk": pk,
                   "bad": bad | bad_a | bad_c}
            if kr:
                qm = np.zeros((r, q, q, p, p))
                if self.units is not None:
                    qm = qm + self.units.q_matrices(su, p)
                if self.clustered is not None:
                    qm = qm + self.clustered.q_matrices(sc, kept, p)
                out["q_kl"] = qm
        return out

    def kenward_roger(self, terms: dict) -> tuple[np.ndarray, ...]:
        """Per dataset: the effect's model-based SE, KR SE and KR df (_kenward_roger),
        and which datasets' expected information is singular."""
        info, c, pk, q_kl = terms["info"], terms["c"], terms["pk"], terms["q_kl"]
        r, q, p, e = len(c), self.q, self.p, self.effect
        with np.errstate(all="ignore"):
            w, bad = _per_item(np.linalg.inv, info)
            u = (w.reshape(r, 1, q * q) @ q_kl.reshape(r, q * q, p * p)).reshape(r, p, p)
            wpk = (w @ pk.reshape(r, q, p * p)).reshape(r, q, p, p)
            u = u - (pk @ c[:, None] @ wpk).sum(1)
            phi_a = c + 2 * c @ u @ c
            g = (c[:, None, e:e + 1, :] @ pk @ c[:, None, :, e:e + 1])[:, :, 0, 0]
            var_var = (g[:, None, :] @ w @ g[:, :, None])[:, 0, 0]
            cee = c[:, e, e]
            df = np.where(var_var > 0, 2 * cee**2 / np.where(var_var > 0, var_var, 1.0),
                          np.inf)
            var_kr = phi_a[:, e, e]
            se = np.sqrt(cee)
            se_kr = np.where(var_kr > 0, np.sqrt(np.abs(var_kr)), np.nan)
        return se, se_kr, df, bad


def _scoring_steps(terms: dict, phi: np.ndarray, tau: int | None, moved_by: np.ndarray,
                  grad_by: np.ndarray):
    """fit_mmrm's scoring step per dataset (its scoring_matrix along the last step
    `moved_by`, `grad_by`, restricted to the parameters that move; tau2 held at 0 where
    the criterion rises into tau2 > 0); the free-parameter mask, which datasets' matrix
    was updated and which datasets' system is singular."""
    grad = terms["grad"].copy()
    free = np.ones(phi.shape, bool)
    if tau is not None:
        held = (phi[:, tau] <= 0) & (grad[:, tau] > 0)
        free[held, tau] = False
    h, updated = scoring_matrix(terms["info"], moved_by * free, grad_by * free)
    if tau is not None:
        h[held, tau, :] = h[held, :, tau] = 0.0
        h[held, tau, tau] = 1.0
        grad[held, tau] = 0.0
    with np.errstate(all="ignore"):
        sol, bad = _per_item(np.linalg.solve, h, grad[..., None])
    step = -sol[..., 0]
    step[~free] = 0.0
    return step, free, updated, bad


def fit_mmrm_batch(datasets: Sequence[tuple], *, per_arm: bool = False,
                   esw_intercept: bool = False) -> list[MmrmFit | None]:
    """fit_mmrm for each (y, ips, baseline, covariates, esw) of `datasets` (same T and
    number of covariates), run together: per dataset the same start, scoring steps,
    step halving and stopping rule, so the same fits to rounding (None where fit_mmrm
    gives None)."""
    models = [_Dataset(y, ips, base, cov, esw, per_arm, esw_intercept)
              for y, ips, base, cov, esw in datasets]
    if len({(m.t, m.p) for m in models}) > 1:
        raise ValueError("a batch's datasets need the same waves and covariates")
    out: list[MmrmFit | None] = [None] * len(models)
    ok = [i for i, m in enumerate(models) if m.n_obs > m.p + m.q]
    if not ok:
        return out
    for i, fit in zip(ok, _fit([models[i] for i in ok], esw_intercept), strict=True):
        out[i] = fit
    return out


def _fit(models: list[_Dataset], esw_intercept: bool) -> list[MmrmFit | None]:
    n = len(models)
    q = models[0].q
    tau = q - 1 if esw_intercept else None
    n_obs = np.array([m.n_obs for m in models], dtype=float)
    phi = np.array([m.start() for m in models])
    batch = full = _Batch(models)
    terms = batch.criterion(phi)
    failed = terms["bad"].copy()
    value, grad, info = terms["value"], terms["grad"], terms["info"]
    steps = np.ones(n, int)
    converged = np.zeros(n, bool)
    moved_by, grad_by = np.zeros_like(phi), np.zeros_like(phi)  # each one's last step
    step, free, updated, bad = _scoring_steps(terms, phi, tau, moved_by, grad_by)
    failed |= bad
    t = np.ones(n)
    active = ~failed
    ids = np.arange(n)  # the datasets in `batch`, in order
    while active.any():
        if active.sum() < 0.75 * len(ids):  # drop finished datasets from the batch
            ids = np.flatnonzero(active)
            batch = _Batch([models[i] for i in ids])
        sel = ids[active[ids]]
        new = phi[ids] + t[ids, None] * step[ids]
        new = _clipped(new, tau)
        nt = batch.criterion(new)
        pos = np.flatnonzero(active[ids])
        new, nt = new[pos], {k: v[pos] for k, v in nt.items()}
        with np.errstate(invalid="ignore"):
            accept = ~nt["bad"] & (nt["value"] <= value[sel] + 1e-10 * np.abs(value[sel]))
        give_up = ~accept & (t[sel] < 1e-6)
        t[sel[~accept & ~give_up]] *= 0.5
        # no descent left: converged if the free gradient is flat
        g = sel[give_up]
        flat = np.where(free[g], np.abs(grad[g]), 0.0).max(1) <= 1e-6 * n_obs[g]
        converged[g], active[g] = flat, False
        a = sel[accept]
        if len(a):
            old, nw = phi[a], new[accept]
            with np.errstate(all="ignore"):
                moved = relative_change(nw, old)
            whole = (t[a] == 1.0)[:, None]  # as fit_mmrm: the secant of a full step only
            moved_by[a] = np.where(whole, nw - old, 0.0)
            grad_by[a] = np.where(whole, nt["grad"][accept] - grad[a], 0.0)
            phi[a], value[a], grad[a], info[a] = nw, nt["value"][accept], \
                nt["grad"][accept], nt["info"][accept]
            done = moved < STEP_TOL
            if (done & updated[a]).any():  # as fit_mmrm: an updated step stops only where
                idx = np.flatnonzero(done & updated[a])  # a plain scoring step would too
                d = a[idx]
                none = np.zeros_like(phi[d])
                plain, _, _, bd = _scoring_steps({"grad": grad[d], "info": info[d]}, phi[d],
                                                tau, none, none)
                with np.errstate(all="ignore"):
                    small = relative_change(_clipped(phi[d] + plain, tau), phi[d]) < STEP_TOL
                failed[d[bd]], active[d[bd]] = True, False  # fit_mmrm's LinAlgError
                stalled = ~small & ~bd  # on a poor secant: plain scoring next
                moved_by[d[stalled]], grad_by[d[stalled]] = 0.0, 0.0
                done[idx[stalled]] = False
            converged[a[done]] |= ~failed[a[done]]
            active[a[done]] = False
            last = ~done & (steps[a] >= MAX_STEPS)
            active[a[last]] = False
            go = a[~done & ~last]
            if len(go):
                steps[go] += 1
                t[go] = 1.0
                st, fr, up, bd = _scoring_steps({"grad": grad[go], "info": info[go]}, phi[go],
                                               tau, moved_by[go], grad_by[go])
                step[go], free[go], updated[go] = st, fr, up
                failed[go[bd]], active[go[bd]] = True, False
    return _inference(models, full, phi, ~failed, converged, steps, tau)


def _inference(models, batch, phi, ok, converged, steps, tau) -> list[MmrmFit | None]:
    """Kenward-Roger at each dataset's final phi (`batch`: all of them; the failed ones'
    results are dropped), and the MmrmFit (None where fit_mmrm's checks fail)."""
    out: list[MmrmFit | None] = [None] * len(models)
    ids = np.flatnonzero(ok)
    if not len(ids):
        return out
    terms = batch.criterion(phi, kr=True)
    se, se_kr, df, bad = batch.kenward_roger(terms)
    e = batch.effect
    for i in ids:
        beta = terms["beta"][i]
        if bad[i] or terms["bad"][i] or not (se[i] > 0 and se_kr[i] > 0 and df[i] > 0
                                             and math.isfinite(beta[e])):
            continue
        out[i] = MmrmFit(float(beta[e]), float(se[i]), float(se_kr[i]), float(df[i]),
                         models[i].sigma(phi[i]),
                         float(phi[i, tau]) if tau is not None else 0.0, beta,
                         bool(converged[i]), int(steps[i]))
    return out


def mmrm_slopes_batch(items: Sequence[tuple], *, waves: int,
                      esw_intercept: bool) -> list[float]:
    """delta.mmrm_slope for each (shift, ips, baseline, covariates, esw, fit) of `items`:
    the GLS weights of the last-wave effect summed over the shifted values, at each
    fit's Sigma (and tau2); NaN where the covariance or design is singular. Items that
    share their data and fit (the same objects: a trial's two arms) share one dataset,
    their shifts as its outcome columns, and one solve."""
    if not items:
        return []
    trials: dict[tuple[int, ...], list[int]] = {}
    for i, (_, *shared) in enumerate(items):
        trials.setdefault(tuple(map(id, shared)), []).append(i)
    width = max(len(idx) for idx in trials.values())
    models, phis = [], []
    for idx in trials.values():
        shift, ips, base, cov, esw, fit = items[idx[0]]
        y = np.zeros((len(shift), waves, width))  # zero columns pad the batch to one width
        for j, i in enumerate(idx):
            y[:, -1, j] = items[i][0]
        m = _Dataset(y[..., 0], np.asarray(ips).astype(bool), base, cov, esw, False,
                     esw_intercept, more=y[..., 1:])
        phi = [fit.sigma[0][j, k] for j, k in m.pairs]
        models.append(m)
        phis.append(phi + [fit.tau2] if esw_intercept else phi)
    batch = _Batch(models)
    p, e = batch.p, batch.effect
    with np.errstate(all="ignore"):
        _, _, zsz, bad = batch._factor(np.array(phis, dtype=float))
        sol, bad_s = _per_item(np.linalg.solve, zsz[:, :p, :p], zsz[:, :p, p:])
    out = [math.nan] * len(items)
    for g, idx in enumerate(trials.values()):
        if not (bad[g] or bad_s[g]):
            for j, i in enumerate(idx):
                out[i] = float(sol[g, e, j])
    return out
