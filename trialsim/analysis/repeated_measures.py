"""A repeated-measures mixed model (MMRM) over the follow-up waves, by REML, with the
Kenward-Roger SE and df of the arm effect at the last wave: the missing-data analysis
`analysis.missing_data = mmrm` (issue 20) uses every wave a participant returned,
which is valid under missingness at random given baseline and the earlier waves.

    y_it = mu_t + delta_t IPS_i + gamma_t baseline_i + eta'c_i + u_esw(i) IPS_i + e_it

with arm-by-wave means, a baseline slope per wave, common slopes of extra covariates,
e_i ~ N(0, Sigma) unstructured (optionally one Sigma per arm) and, as an option, an ESW
random intercept u ~ N(0, tau2) for IPS participants, the same at every wave (IPS
participants never seen by an ESW are ESWs of one, as in the partially nested model).
The effect is delta at the last wave.

V is linear in its parameters phi (the elements of Sigma, tau2), so Kenward-Roger's
adjustment has R_ij = 0 and is pbkrtest's (vcovAdj, .KR_adjust) for V(phi) (SAS's
DDFM=KR(LINEAR)); tau2 held at 0 stays in it, as pbkrtest keeps a variance component
estimated at 0. REML is maximised by Fisher scoring, each step's matrix corrected along
the last step (`scoring_matrix`). Without the ESW term participants
are independent units of at most T observations; with it, each ESW's clients form one
unit. Units are batched (padded to a common size with an identity block) so that each
scoring step is a few numpy calls.

Agreement (tests/test_r_agreement.py, fixtures from scripts/r_fixtures.R): one Sigma,
no ESW term: nlme::gls with corSymm and varIdent by wave (estimate, SE, REML variance
parameters) and pbkrtest's functions on that fit's V (KR SE and df); with the ESW term:
nlme::lme with pdDiag(~ 0 + ips) by ESW and the same residual structure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_STEPS = 200
STEP_TOL = 1e-6  # relative change of phi at convergence: nlme's lmeControl and glsControl tolerance


SECANT_TOL = 1e-12  # a secant's curvature y's below this x |s| |y| is rounding: not used


def scoring_matrix(info: np.ndarray, s: np.ndarray, y: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The matrix a step solves with, for one fit (q x q) or a stack of them (r x q x q),
    and whether it was updated: twice the expected information (the Fisher scoring
    matrix of -2 log REML), updated by BFGS along the last step `s` and its change of
    gradient `y` where that curvature is clearly positive (s = 0: none yet). Fisher
    scoring alone converges linearly, slowest along tau2 when the ESW variance is small
    (a default trial took 7 to 62 steps, 11 on average); the update puts the observed
    curvature on that direction (6 to 12 steps, 8 on average, at the same optimum). The
    fit uses the secant of a full step only, restricted to the parameters it moves, and
    stops on an updated step only where a plain scoring step would stop too (fit_mmrm)."""
    h = 2.0 * info
    hs = (h @ s[..., None])[..., 0]
    shs, ys = (s * hs).sum(-1), (s * y).sum(-1)
    size = np.sqrt((s * s).sum(-1) * (y * y).sum(-1))
    ok = (shs > 0) & (ys > SECANT_TOL * size)
    with np.errstate(all="ignore"):
        upd = h - hs[..., :, None] * hs[..., None, :] / shs[..., None, None] \
            + y[..., :, None] * y[..., None, :] / ys[..., None, None]
    return np.where(ok[..., None, None], upd, h), ok


@dataclass(frozen=True)
class MmrmFit:
    """The arm effect at the last wave with its model-based and KR SE, KR df, and the
    covariance estimates."""

    estimate: float
    se: float  # model-based, (X'V^-1 X)^-1
    se_kr: float  # Kenward-Roger adjusted
    df_kr: float
    sigma: np.ndarray  # (arms, T, T): Sigma per arm (two identical if common)
    tau2: float
    beta: np.ndarray
    converged: bool
    steps: int


def _trace_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum over units of tr(a_k b_l), for a, b of shape (units, q, N, N)."""
    q = a.shape[1]
    return a.transpose(1, 0, 2, 3).reshape(q, -1) @ b.transpose(1, 0, 3, 2).reshape(q, -1).T


class _Units:
    """Units of one padded size N: dV/dphi_k (B x q x N x N) and a pad mask; the data
    either as the units' rows Z = [X y] (B x N x p+1), or, for units of one participant
    grouped by arm and missingness pattern (they share V), as the sums over each
    group's participants K[a, b] = sum_i z_ia z_ib' (B x N x N x p+1 x p+1) with the
    group sizes as counts."""

    def __init__(self, gd: np.ndarray, pad: np.ndarray, z: np.ndarray | None = None,
                 k: np.ndarray | None = None, counts: np.ndarray | None = None,
                 n_sigma: int | None = None):
        self.gd, self.z, self.k = gd, z, k
        self.partner = self.has_partner = self.a = None
        if n_sigma is not None:  # V_k as gathers (and tau2's as a a')
            g = gd[:, :n_sigma]
            self.has_partner = g.any(axis=3).astype(float)
            self.partner = g.argmax(axis=3)
            if gd.shape[1] > n_sigma:
                self.a = np.sqrt(np.diagonal(gd[:, n_sigma], axis1=1, axis2=2))
        self.counts = np.ones(len(gd)) if counts is None else counts
        self.eye = np.einsum("bi,ij->bij", pad, np.eye(gd.shape[2]))
        if k is not None:
            self.kflat = k.reshape(k.shape[0] * k.shape[1] * k.shape[2], -1)
            pp = k.shape[-1] - 1
            self.kxflat = np.ascontiguousarray(k[..., :pp, :pp]).reshape(len(self.kflat), -1)

    def factor(self, phi: np.ndarray):
        """S = V^-1 per unit, sum of log|V| and [X y]'V^-1[X y]."""
        v = np.tensordot(phi, self.gd, axes=(0, 1)) + self.eye
        chol = np.linalg.cholesky(v)  # LinAlgError unless every unit is positive definite
        s = np.linalg.inv(v)
        logdet = 2 * float(self.counts @ np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(1))
        if self.k is not None:
            zsz = (s.reshape(-1) @ self.kflat).reshape(self.k.shape[-2:])
        else:
            zsz = np.einsum("bip,biq->pq", self.z, s @ self.z)
        return s, logdet, zsz

    def gmul(self, m: np.ndarray) -> np.ndarray:
        """V_k m for every k (B x q x N x X), m of shape B x N x X. Each Sigma element's
        dV/dphi_k has at most one 1 per row (the participant's row at the paired wave):
        a gather, O(N) per column; tau2's is a a' (a the IPS indicator): rank one."""
        if self.partner is None:
            return self.gd @ m[:, None]
        b = np.arange(len(m))[:, None, None]
        out = m[b, self.partner] * self.has_partner[..., None]
        if self.a is not None:
            am = np.einsum("bi,bix->bx", self.a, m)
            out = np.concatenate([out, (self.a[:, :, None] * am[:, None, :])[:, None]], 1)
        return out

    def derivatives(self, s, u, c):
        """This batch's parts of the gradient (but tr(C P_k)), of the expected
        information (but 1/2 tr(C P_k C P_l)), and P_k = X'S V_k S X."""
        p = len(c)
        sg = self.gmul(s).transpose(0, 1, 3, 2)  # S V_k = (V_k S)'
        tr_sg = np.trace(sg, axis1=2, axis2=3)
        info = 0.5 * _trace_pairs(sg * self.counts[:, None, None, None], sg)
        if self.k is not None:
            sgs = sg @ s[:, None]  # S V_k S
            b, q, n = sg.shape[:3]
            sgs_flat = sgs.transpose(1, 0, 2, 3).reshape(q, -1)
            r = (self.kflat @ np.outer(u, u).ravel()).reshape(b, n, n)  # sum_i r_i r_i'
            grad = self.counts @ tr_sg - sgs_flat @ r.transpose(0, 2, 1).ravel()
            pk = (sgs_flat @ self.kxflat).reshape(q, p, p)
            skc = s @ (self.kxflat @ c.ravel()).reshape(b, n, n)  # S sum_i X_i C X_i'
            info -= _trace_pairs(sg, sg @ skc[:, None])
        else:
            sz = s @ self.z
            sx, sr = sz[..., :p], sz @ u
            gsx = self.gmul(sx)  # V_k S X
            grad = tr_sg.sum(0) - np.einsum("bki,bi->k", self.gmul(sr[..., None])[..., 0], sr)
            pk = np.einsum("bip,bkiq->kpq", sx, gsx)
            sgsx = s[:, None] @ gsx
            q = gsx.shape[1]
            info -= (gsx @ c).transpose(1, 0, 2, 3).reshape(q, -1) @ \
                sgsx.transpose(1, 0, 2, 3).reshape(q, -1).T
        return grad, info, pk

    def q_matrices(self, s, p):
        """Q_kl = X'S V_k S V_l S X, this batch's part."""
        if self.k is not None:
            sg = s[:, None] @ self.gd
            m = sg[:, :, None] @ (sg @ s[:, None])[:, None]  # S V_k S V_l S
            return np.einsum("bklij,bijpq->klpq", m, self.k[..., :p, :p])
        gsx = self.gmul(s @ self.z[..., :p])
        return np.einsum("bkip,bliq->klpq", gsx, s[:, None] @ gsx)


class _Clustered:
    """ESWs' caseloads: V_c = D_c + tau2 a a' (D_c block diagonal, Sigma at each client's
    observed waves; a the indicator of the caseload's observations). By Woodbury,
    S_c = D^-1 - kappa_c d d' with d = D^-1 a, kappa_c = tau2 / (1 + tau2 a'd): every
    term is a sum over clients of T x T algebra plus one rank-one term per ESW, O(n T^3)
    a step instead of O(K N^3) for dense caseloads of N observations. What depends on a
    client's missingness pattern only (D_i^-1, d_i, dV/dphi) is computed once a pattern;
    client by client are only S r, S X and their sums per pattern and per ESW."""

    def __init__(self, z: np.ndarray, e: np.ndarray, pad: np.ndarray, cl: np.ndarray):
        self.z, self.cl = z, cl  # clients x T x p+1
        codes, first, self.pat = np.unique(pad @ (2.0 ** np.arange(pad.shape[1])),
                                           return_index=True, return_inverse=True)
        self.e = e[first]  # patterns x q_s x T x T
        self.a = 1.0 - pad[first]  # observed waves, per pattern
        self.eye = np.einsum("bi,ij->bij", pad[first], np.eye(z.shape[1]))
        self.k = int(cl.max()) + 1
        self.onehot = (cl == np.arange(self.k)[:, None]).astype(float)  # K x clients
        self.by_pat = (self.pat == np.arange(len(first))[:, None]).astype(float)  # G x clients
        self.n_pat = self.by_pat.sum(1)
        self.esw_pat = self.onehot @ self.by_pat.T  # K x G: clients per ESW and pattern

    def factor(self, phi: np.ndarray):
        qs = self.e.shape[1]
        tau2 = float(phi[qs])
        v = np.tensordot(phi[:qs], self.e, axes=(0, 1)) + self.eye
        chol = np.linalg.cholesky(v)
        si = np.linalg.inv(v)
        d = (si @ self.a[..., None])[..., 0]  # per pattern
        s_c = self.esw_pat @ (self.a * d).sum(1)
        if np.any(1 + tau2 * s_c <= 0):
            raise np.linalg.LinAlgError("not positive definite")
        kappa = tau2 / (1 + tau2 * s_c)
        logdet = 2 * float(self.n_pat @ np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(1)) \
            + float(np.log1p(tau2 * s_c).sum())
        sz = si[self.pat] @ self.z
        di = d[self.pat]
        w = self.onehot @ (di[:, None, :] @ self.z)[:, 0]  # K x p+1: sum_i Z_i'd_i
        pp = self.z.shape[2]
        zsz = self.z.reshape(-1, pp).T @ sz.reshape(-1, pp) - (w.T * kappa) @ w
        state = (si, d, s_c, kappa, tau2, sz, w)
        return state, logdet, zsz

    def _xi(self, state, u, p):
        si, d, s_c, kappa, tau2, sz, w = state
        kc = kappa[self.cl]
        di = d[self.pat]
        rho = sz @ u - (kc * (w @ u)[self.cl])[:, None] * di  # S r, client by client
        xi = sz[..., :p] - (kc[:, None, None] * di[..., None]) * w[self.cl, None, :p]  # S X
        f = 1 / (1 + tau2 * s_c)[self.cl]  # S a = f d
        return rho, xi, f

    def derivatives(self, state, u, c):
        si, d, s_c, kappa, tau2, sz, w = state
        p, e, oh, bp = len(c), self.e, self.onehot, self.by_pat
        g_n, qs, t = e.shape[0], e.shape[1], e.shape[2]
        rho, xi, f = self._xi(state, u, p)
        kc = kappa[self.cl]
        se = si[:, None] @ e  # S_g E_k, per pattern
        ed = (e @ d[:, None, :, None])[..., 0]  # E_k d: patterns x q_s x T
        ded = (ed * d[:, None, :]).sum(2)  # d'E_k d
        one_s = s_c / (1 + tau2 * s_c)  # a'S a per ESW
        kap_g, f2_g = bp @ kc, bp @ (f * f)
        r_g = (bp @ (rho[:, :, None] * rho[:, None, :]).reshape(len(rho), -1))  # sum rho rho'
        grad = np.empty(qs + 1)
        grad[:qs] = (self.n_pat @ np.trace(se, axis1=2, axis2=3) - kap_g @ ded
                     - e.reshape(g_n, qs, -1).transpose(1, 0, 2).reshape(qs, -1) @ r_g.ravel())
        a_rho = oh @ (self.a[self.pat] * rho).sum(1)
        grad[qs] = float((one_s - a_rho**2).sum())
        # sum over each pattern's clients of Xi (x) Xi: G x T x T x p x p
        xf = xi.reshape(len(xi), -1)
        kxi = (bp @ (xf[:, :, None] * xf[:, None, :]).reshape(len(xf), -1)).reshape(
            g_n, t, p, t, p).transpose(0, 1, 3, 2, 4)
        kxi_flat = kxi.reshape(g_n * t * t, p * p)
        pk = np.empty((qs + 1, p, p))
        pk[:qs] = (e.transpose(1, 0, 2, 3).reshape(qs, -1) @ kxi_flat).reshape(qs, p, p)
        xic = oh @ (self.a[self.pat][:, None, :] @ xi)[:, 0]  # K x p: Xi'a per ESW
        pk[qs] = xic.T @ xic
        info = np.zeros((qs + 1, qs + 1))
        info[:qs, :qs] = 0.5 * _trace_pairs(se * self.n_pat[:, None, None, None], se)
        sed = (si[:, None] @ ed[..., None])[..., 0]  # S_g E_k d
        info[:qs, :qs] -= _trace_pairs((ed * kap_g[:, None, None])[..., None],
                                       sed[:, :, None, :])
        dk = self.esw_pat @ ded  # K x q_s
        info[:qs, :qs] += 0.5 * (dk.T * kappa**2) @ dk
        info[:qs, qs] = info[qs, :qs] = 0.5 * f2_g @ ded
        info[qs, qs] = 0.5 * float((one_s**2).sum())
        # minus tr(C Q_kl)
        m_g = (kxi_flat @ c.ravel()).reshape(g_n, t, t)  # sum_i Xi_i C Xi_i'
        info[:qs, :qs] -= _trace_pairs(se.transpose(0, 1, 3, 2), e @ m_g[:, None])
        exd = ed[self.pat] @ xi  # clients x q_s x p: (E_k d_i)' Xi_i
        eta = (oh @ exd.reshape(len(exd), -1)).reshape(self.k, qs, p)
        keta = (eta @ c) * kappa[:, None, None]
        info[:qs, :qs] += keta.transpose(1, 0, 2).reshape(qs, -1) @ \
            eta.transpose(1, 0, 2).reshape(qs, -1).T
        zeta = (oh @ (exd * f[:, None, None]).reshape(len(exd), -1)).reshape(self.k, qs, p)
        t_kt = ((zeta @ c) * xic[:, None, :]).sum((0, 2))
        info[:qs, qs] -= t_kt
        info[qs, :qs] -= t_kt
        info[qs, qs] -= float(((xic @ c) * xic).sum(1) @ one_s)
        return grad, info, pk

    def q_matrices(self, state, p):
        si, d, s_c, kappa, tau2, sz, w = state
        oh = self.onehot
        qs = self.e.shape[1]
        _, xi, f = self._xi(state, np.zeros(p + 1), p)
        e, si_i, di = self.e[self.pat], si[self.pat], d[self.pat]
        ex = e @ xi[:, None]  # E_k Xi
        out = np.empty((qs + 1, qs + 1, p, p))
        out[:qs, :qs] = np.einsum("bkip,bliq->klpq", ex, si_i[:, None] @ ex)
        exd = (e @ di[:, None, :, None])[..., 0] @ xi  # (E_k d_i)' Xi_i
        eta = (oh @ exd.reshape(len(exd), -1)).reshape(self.k, qs, p)
        out[:qs, :qs] -= np.einsum("k,kjp,klq->jlpq", kappa, eta, eta)
        zeta = (oh @ (exd * f[:, None, None]).reshape(len(exd), -1)).reshape(self.k, qs, p)
        xic = oh @ (self.a[self.pat][:, None, :] @ xi)[:, 0]
        one_s = s_c / (1 + tau2 * s_c)
        out[:qs, qs] = np.einsum("kjp,kq->jpq", zeta, xic)
        out[qs, :qs] = out[:qs, qs].transpose(0, 2, 1)
        out[qs, qs] = (xic.T * one_s) @ xic
        return out


def as_arrays(y, ips, covariates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scores (n x T, float), the IPS flags (bool) and the covariates (n x k, k = 0
    when None), as the model (and the batched fit) reads them."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    cov = np.zeros((n, 0)) if covariates is None else \
        np.asarray(covariates, dtype=float).reshape(n, -1)
    return y, np.asarray(ips, dtype=bool), cov


class MmrmModel:
    """The data as units: participants (no ESW term) or ESWs' caseloads (ESW term)."""

    def __init__(self, y: np.ndarray, ips: np.ndarray, baseline: np.ndarray,
                 covariates: np.ndarray | None = None, esw: np.ndarray | None = None,
                 per_arm: bool = False, esw_intercept: bool = False,
                 dense_clusters: bool = False):
        """`dense_clusters`: each ESW's caseload as one dense unit (the slow reference
        for the Woodbury algebra of _Clustered)."""
        y, ips, cov = as_arrays(y, ips, covariates)
        n, t = y.shape
        self.t, self.per_arm, self.esw_intercept = t, per_arm, esw_intercept
        # columns: mu_1..T, delta_1..T, gamma_1..T, eta
        p = 3 * t + cov.shape[1]
        self.p = p
        self.effect = 2 * t - 1  # delta_T
        obs = ~np.isnan(y)
        keep = obs.any(1)
        # covariance parameters: Sigma_jk (j <= k) per arm set, then tau2
        pairs = [(j, k) for j in range(t) for k in range(j, t)]
        self.pairs = pairs
        n_sets = 2 if per_arm else 1
        self.q = q = n_sets * len(pairs) + (1 if esw_intercept else 0)
        pindex = {pk: i for i, pk in enumerate(pairs)}

        # [X y] for every participant and wave (n x T x p+1), observed or not
        zfull = np.zeros((n, t, p + 1))
        zfull[:, np.arange(t), np.arange(t)] = 1.0
        zfull[:, np.arange(t), t + np.arange(t)] = ips[:, None]
        zfull[:, np.arange(t), 2 * t + np.arange(t)] = np.asarray(baseline, float)[:, None]
        zfull[:, :, 3 * t:p] = cov[:, None, :]
        zfull[:, :, p] = np.where(obs, y, 0.0)
        ptable = np.zeros((t, t), dtype=int)
        for (j, k), i in pindex.items():
            ptable[j, k] = ptable[k, j] = i

        if esw_intercept:
            esw = np.full(n, -1) if esw is None else np.asarray(esw)
            clusters: dict[object, list[int]] = {}
            for i in np.flatnonzero(keep):
                key = ("esw", int(esw[i])) if ips[i] and esw[i] >= 0 else ("one", int(i))
                clusters.setdefault(key, []).append(int(i))
            units = list(clusters.values())
        else:
            units = [[int(i)] for i in np.flatnonzero(keep)]
        # units of one participant, grouped by arm and pattern; larger units (ESWs)
        code = obs @ (2 ** np.arange(t)) + ips * 2**t
        singles = np.array(sorted(u[0] for u in units if len(u) == 1), dtype=int)
        large = [u for u in units if len(u) > 1]
        small = {}
        if len(singles):
            keys, inverse = np.unique(code[singles], return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            bounds = np.searchsorted(inverse[order], np.arange(len(keys) + 1))
            small = {int(keys[g]): singles[order[bounds[g]:bounds[g + 1]]]
                     for g in range(len(keys))}

        def structure(unit, size):
            """dV/dphi (q x size x size) and [X y] rows (size x p+1) of one unit."""
            unit = np.asarray(unit)
            ob = obs[unit]
            pid, wave = np.nonzero(ob)  # rows in order: participant, then wave
            m = len(pid)
            z = np.zeros((size, p + 1))
            z[:m] = zfull[unit][ob]
            off = np.where(per_arm & ~ips[unit[pid]], len(pairs), 0)
            r, c = np.nonzero(pid[:, None] == pid[None, :])
            gd = np.zeros((q, size, size))
            gd[off[r] + ptable[wave[r], wave[c]], r, c] = 1.0
            if esw_intercept:
                ipsrow = np.zeros(size)
                ipsrow[:m] = ips[unit[pid]]
                gd[q - 1] = np.outer(ipsrow, ipsrow)
            return gd, z, m

        self.batches = []
        if small:
            groups = list(small.values())
            gds, ks, pads = [], [], []
            for members in groups:
                gd, _, m = structure(members[:1], t)
                members = np.asarray(members)
                waves = np.flatnonzero(obs[members[0]])
                zs = np.zeros((len(members), t, p + 1))
                zs[:, :m] = zfull[members][:, waves]
                gds.append(gd)
                ks.append(np.einsum("nap,nbq->abpq", zs, zs))
                pads.append(np.arange(t) >= m)
            self.batches.append(_Units(np.stack(gds), np.array(pads, dtype=float),
                                       k=np.stack(ks),
                                       counts=np.array([len(g) for g in groups], dtype=float)))
        if large and not dense_clusters:
            clients = np.concatenate([np.asarray(u) for u in large])
            cl = np.concatenate([np.full(len(u), j) for j, u in enumerate(large)])
            ob = obs[clients]
            z = zfull[clients] * ob[..., None]
            e = np.zeros((len(clients), n_sets * len(pairs), t, t))
            jj, kk = np.meshgrid(np.arange(t), np.arange(t), indexing="ij")
            e[:, ptable[jj, kk], jj, kk] = (ob[:, :, None] & ob[:, None, :])
            self.batches.append(_Clustered(z, e, (~ob).astype(float), cl))
        elif large:
            size = max(int(obs[u].sum()) for u in large)
            built = [structure(u, size) for u in large]
            self.batches.append(_Units(np.stack([b[0] for b in built]),
                                       np.array([np.arange(size) >= b[2] for b in built],
                                                dtype=float),
                                       z=np.stack([b[1] for b in built]),
                                       n_sigma=n_sets * len(pairs)))
        self.n_obs = int(obs[keep].sum())
        self._z, self._obs = zfull[keep], obs[keep]

    # --- REML ------------------------------------------------------------------------
    def _factor(self, phi):
        parts = [bt.factor(phi) for bt in self.batches]
        zsz = sum(pt[2] for pt in parts)
        return [pt[0] for pt in parts], sum(pt[1] for pt in parts), zsz

    def criterion(self, phi, derivatives: bool = False):
        """-2 log REML (constants dropped) at phi; with `derivatives`, also its gradient,
        the expected information 1/2 tr(P V_k P V_l), beta, C and P_k = X'S V_k S X."""
        p = self.p
        ss, logdet, zsz = self._factor(np.asarray(phi, dtype=float))
        a = zsz[:p, :p]
        chol = np.linalg.cholesky(a)
        c = np.linalg.inv(a)
        beta = c @ zsz[:p, p]
        u = np.append(beta, -1.0)
        value = logdet + 2 * float(np.log(np.diag(chol)).sum()) + float(u @ zsz @ u)
        if not derivatives:
            return value
        grad, info, pk = 0.0, 0.0, 0.0
        for bt, s in zip(self.batches, ss, strict=True):
            g, i, k = bt.derivatives(s, u, c)
            grad, info, pk = grad + g, info + i, pk + k
        q = len(pk)
        grad = grad - pk.reshape(q, -1) @ c.ravel()
        cp = (c @ pk).reshape(q, -1)
        info = info + 0.5 * cp @ (c @ pk).transpose(0, 2, 1).reshape(q, -1).T
        return value, grad, info, beta, c, pk

    def q_matrices(self, phi):
        """Q_kl = X'S V_k S V_l S X (q x q x p x p), for Kenward-Roger."""
        ss, *_ = self._factor(np.asarray(phi, dtype=float))
        return sum(bt.q_matrices(s, self.p) for bt, s in zip(self.batches, ss, strict=True))

    def start(self) -> np.ndarray:
        """Moment start: Sigma from the OLS residuals' pairwise-complete products (the
        correlations shrunk by a tenth, and further until positive definite); tau2 =
        0.05 of the mean variance."""
        p, t = self.p, self.t
        rows = self._z[self._obs]
        beta = np.linalg.lstsq(rows[:, :p], rows[:, p], rcond=None)[0]
        e = np.where(self._obs, self._z[..., p] - self._z[..., :p] @ beta, 0.0)
        both = self._obs.T.astype(float) @ self._obs
        sig = (e.T @ e) / np.maximum(both, 1.0)
        var = np.diag(sig).copy()
        corr = sig / np.sqrt(np.outer(var, var))
        for shrink in (0.9, 0.7, 0.5, 0.0):
            sig = np.sqrt(np.outer(var, var)) * (np.eye(t) + shrink * (corr - np.eye(t)))
            if np.linalg.eigvalsh(sig)[0] > 1e-3 * var.min():
                break
        one = [sig[j, k] for j, k in self.pairs]
        phi = one * (2 if self.per_arm else 1)
        if self.esw_intercept:
            phi = phi + [0.05 * float(var.mean())]
        return np.array(phi)

    def inference(self, phi, terms=None):
        """beta, the effect's model-based SE, Kenward-Roger SE and df at phi (Sigma's
        elements j <= k, per arm set, then tau2); `terms`: criterion(phi, True) if known."""
        phi = np.asarray(phi, dtype=float)
        _, _, info, beta, c, pk = self.criterion(phi, derivatives=True) if terms is None \
            else terms
        var_kr, df = _kenward_roger(self, phi, info, c, pk)
        e = self.effect
        return beta, math.sqrt(c[e, e]), math.sqrt(var_kr) if var_kr > 0 else math.nan, df

    def sigma(self, phi) -> np.ndarray:
        t, m = self.t, len(self.pairs)
        out = np.zeros((2, t, t))
        for s in range(2):
            off = m * s if self.per_arm else 0
            for i, (j, k) in enumerate(self.pairs):
                out[s, j, k] = out[s, k, j] = phi[off + i]
        return out


def relative_change(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """The largest change of phi relative to each parameter's size (the last axis), the
    stopping rule's measure (STEP_TOL)."""
    return np.max(np.abs(new - old) / (np.abs(old) + 1e-8 * np.abs(old).max(-1, keepdims=True)),
                  axis=-1)


def _clipped(phi: np.ndarray, tau: int | None) -> np.ndarray:
    """phi (one fit's, or a row per fit) with a negative tau2 set to 0 (nonnegative, as
    nlme), in place."""
    if tau is not None:
        phi[..., tau] = np.maximum(phi[..., tau], 0.0)
    return phi


def _scoring_step(phi, grad, info, tau, moved_by, grad_by):
    """The step solved with scoring_matrix (the secant restricted to the parameters that
    move), tau2 held at 0 where the criterion rises into tau2 > 0; the mask of the
    parameters it moves and whether the matrix was updated."""
    free = np.ones(len(phi), bool)
    if tau is not None and phi[tau] <= 0 and grad[tau] > 0:
        free[tau] = False
    h, updated = scoring_matrix(info, moved_by * free, grad_by * free)
    step = np.zeros(len(phi))
    step[free] = -np.linalg.solve(h[np.ix_(free, free)], grad[free])
    return step, free, bool(updated)


def fit_mmrm(y: np.ndarray, ips: np.ndarray, baseline: np.ndarray,
             covariates: np.ndarray | None = None, esw: np.ndarray | None = None, *,
             per_arm: bool = False, esw_intercept: bool = False) -> MmrmFit | None:
    """REML fit and Kenward-Roger inference for delta at the last wave. y: n x T scores
    (NaN missing; participants with none are dropped), ips: bool, baseline: n,
    covariates: n x k or None, esw: ESW index (-1 none; used with `esw_intercept`).
    None if the fit is degenerate (a singular design or covariance)."""
    model = MmrmModel(y, ips, baseline, covariates, esw, per_arm, esw_intercept)
    if model.n_obs <= model.p + model.q:
        return None
    phi = model.start()
    tau = model.q - 1 if esw_intercept else None
    converged, steps = False, 0
    none = np.zeros(model.q)
    moved_by, grad_by = none, none  # the last step and its change of gradient (none yet)
    try:
        terms = model.criterion(phi, derivatives=True)
        value, grad, info = terms[:3]
        for steps in range(1, MAX_STEPS + 1):  # noqa: B007
            step, free, updated = _scoring_step(phi, grad, info, tau, moved_by, grad_by)
            t = 1.0
            while True:
                new = _clipped(phi + t * step, tau)
                try:
                    new_terms = model.criterion(new, True)
                    new_value, new_grad, new_info = new_terms[:3]
                    ok = new_value <= value + 1e-10 * abs(value)
                except np.linalg.LinAlgError:
                    ok = False
                if ok or t < 1e-6:
                    break
                t *= 0.5
            if not ok:  # no descent left: converged if the free gradient is flat
                converged = bool(np.abs(grad[free]).max() <= 1e-6 * model.n_obs)
                break
            moved = float(relative_change(new, phi))
            # the secant of a full step only: a halved one's change of gradient is
            # mostly rounding on a problem that needs halving
            moved_by, grad_by = (new - phi, new_grad - grad) if t == 1.0 else (none, none)
            phi, value, grad, info, terms = new, new_value, new_grad, new_info, new_terms
            if moved < STEP_TOL:
                # an updated step may be short for want of a good secant, not because
                # the fit is there: it stops only where a plain scoring step would stop
                # too, and otherwise plain scoring goes on
                if not updated or relative_change(_clipped(
                        phi + _scoring_step(phi, grad, info, tau, none, none)[0], tau),
                        phi) < STEP_TOL:
                    converged = True
                    break
                moved_by, grad_by = none, none
        beta, se, se_kr, df = model.inference(phi, terms)
    except np.linalg.LinAlgError:
        return None
    if not (se > 0 and se_kr > 0 and df > 0 and math.isfinite(beta[model.effect])):
        return None
    return MmrmFit(float(beta[model.effect]), se, se_kr, df, model.sigma(phi),
                   float(phi[tau]) if tau is not None else 0.0, beta, converged, steps)


def _kenward_roger(model: MmrmModel, phi, info, c, pk):
    """pbkrtest's vcovAdj and .KR_adjust for one contrast (the effect): Phi_A = C + 2 C
    U C, U = sum_kl W_kl (Q_kl - P_k C P_l), W the inverse expected information; df =
    2 (C_ee)^2 / (g'W g), g_k = (C P_k C)_ee."""
    w = np.linalg.inv(info)
    q_kl = model.q_matrices(phi)
    u = np.tensordot(w, q_kl, 2) - (pk @ c @ np.tensordot(w, pk, (1, 0))).sum(0)
    phi_a = c + 2 * c @ u @ c
    e = model.effect
    g = np.einsum("p,kpq,q->k", c[e], pk, c[:, e])
    var_var = float(g @ w @ g)
    df = 2 * c[e, e] ** 2 / var_var if var_var > 0 else math.inf
    return float(phi_a[e, e]), df
