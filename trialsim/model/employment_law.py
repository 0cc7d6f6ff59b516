"""P(in work at the horizon) under the employment model, computed from its law (no
random numbers), and the ESW-supported entry rate that gives the planner's IPS/TAU
relative risk.

The IPS pathway (trialsim.model.employment) is a Markov chain on (waiting for the first
ESW appointment | in support | out of support for good) x (not in work, not ready |
not in work, ready | in work) plus the support clock: the days of support left, which
runs down and is reset to the in-work support window on a job start in support. The
chain is stepped forward on a grid of about one day with the exact transition matrix of
each step (matrix exponential); only the time within a step of a job start or of the
first appointment is rounded, half to each neighbouring clock value, so the error is
second order in the step (|error| < 1e-4 against 10^6 Monte Carlo paths,
tests/test_employment_law.py). The first-appointment delay is exponential (its mean
from `delivery.esw.first_appointment_mean_days`); caseload waits for an ESW place
(and disengaging while waiting) are ignored. TAU is the same chain without support.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

STEPS_PER_DAY = 1.0
MAX_SUPPORTED_ENTRY = 30.0  # per day: a ready participant in support finds work at once


@dataclass(frozen=True)
class LawInputs:
    """Everything the law depends on (days, per-day hazards, probabilities)."""

    horizon: float
    self_entry: float
    readiness: float
    loss: float
    ready_share: float  # P(ready at the assessment), mixed over settings and years
    disengage: float  # P(no support after the assessment)
    first_mean: float  # mean delay to the first ESW appointment (exponential)
    support: float  # pre-placement support window (inf: to the horizon)
    in_work: float  # in-work support after a job start in support
    withdraw: float  # P(moving away on a job start); support ends


def _clock(days: float, h: float, n: int) -> int:
    return n + 2 if not math.isfinite(days) else int(round(days / h))


def _expm(g: np.ndarray) -> np.ndarray:
    """exp(g) for stacked small generators (..., k, k): Taylor series after scaling,
    then squaring (scipy's expm costs far more per call on matrices this small)."""
    norm = float(np.abs(g).sum(axis=-1).max()) if g.size else 0.0
    squarings = max(0, int(math.ceil(math.log2(norm))) + 1) if norm > 0.5 else 0
    a = g / 2.0**squarings
    eye = np.broadcast_to(np.eye(g.shape[-1]), g.shape)
    term, total = eye, eye.copy()
    for i in range(1, 14):
        term = term @ a / i
        total = total + term
    for _ in range(squarings):
        total = total @ total
    return total


def p_work(x: LawInputs, supported_entry: float, ips: bool = True) -> float:
    """P(in work at `horizon` days after randomisation), not in work at randomisation."""
    if not ips:
        return _p_tau(x)
    return float(_p_ips(x, (float(supported_entry),))[0])


@lru_cache(maxsize=1024)
def _p_tau(x: LawInputs) -> float:
    """The two-state Markov law: a / (a + l) (1 - exp(-(a + l) T))."""
    a, lo = x.self_entry, x.loss
    if a + lo == 0:
        return 0.0
    return a / (a + lo) * -math.expm1(-(a + lo) * x.horizon)


@lru_cache(maxsize=1024)
def _p_ips(x: LawInputs, bs: tuple[float, ...]) -> np.ndarray:
    """P(in work at the horizon) in the IPS arm for each supported entry rate in `bs`
    (one pass for all of them: the solver asks for a grid at a time)."""
    n = max(2, int(math.ceil(x.horizon * STEPS_PER_DAY)))
    h = x.horizon / n
    a, r, lo = x.self_entry, x.readiness, x.loss
    nb = len(bs)
    two = _expm(np.array([[-a, a], [lo, -lo]]) * h)  # self-directed: (not in work, in work)
    (t00, t01), (t10, t11) = two.tolist()
    w, q, d = x.withdraw, x.ready_share, x.disengage
    s = 1.0 / x.first_mean if x.first_mean > 0 else math.inf
    if math.isfinite(s):  # waiting: N, W -> (N, W, moved away in work, start N, start W)
        g = np.zeros((5, 5))
        g[0, 1], g[0, 2], g[1, 0] = a * (1 - w), a * w, lo
        g[0, 3], g[1, 4] = s, s
        g -= np.diag(g.sum(axis=1))
        wait = _expm(g * h)[:2].tolist()
    # in support: NR, R, W(NR), W(R); absorbing markers: a job started from NR, from R
    g = np.zeros((nb, 6, 6))
    g[:, 0, 1], g[:, 0, 4], g[:, 1, 5] = r, a, a + np.asarray(bs)
    g[:, 2, 0], g[:, 3, 1] = lo, lo
    g -= np.eye(6) * g.sum(axis=2)[:, :, None]
    sup = np.ascontiguousarray(np.swapaxes(_expm(g * h)[:, :4], 1, 2))  # (nb, 6, 4)
    k_d, k_e = _clock(x.support, h, n), _clock(x.in_work, h, n)
    size = max(k_d, k_e) + 2
    k_d, k_e = min(k_d, size - 2), min(k_e, size - 2)
    S = np.zeros((nb, 4, size))  # column c: c steps of support left
    y = np.empty((nb, 6, size))
    out_n, out_w = np.zeros(nb), np.zeros(nb)
    pre_n = pre_w = 0.0
    half = 0.5 * (1 - d) * np.array([[1 - q, q, 0, 0], [0, 0, 1 - q, q]])
    k_d1, k_e1 = max(k_d - 1, 0), max(k_e - 1, 0)

    def enter(mass_n: float, mass_w: float) -> None:
        """Start support (the clock from mid-step: half at k_d, half at k_d - 1)."""
        vec = mass_n * half[0] + mass_w * half[1]
        S[:, :, k_d] += vec
        S[:, :, k_d1] += vec

    if math.isfinite(s):
        pre_n = 1.0
    else:
        enter(1.0, 0.0)
        out_n += d
    for _ in range(n):
        out_n, out_w = out_n * t00 + out_w * t10, out_n * t01 + out_w * t11
        started = None
        if math.isfinite(s):
            (w0, w1, w2, w3, w4), (v0, v1, v2, v3, v4) = wait
            started = pre_n * w3 + pre_w * v3, pre_n * w4 + pre_w * v4
            out_w += pre_n * w2 + pre_w * v2
            pre_n, pre_w = pre_n * w0 + pre_w * v0, pre_n * w1 + pre_w * v1
        np.matmul(sup, S, out=y)
        S[:, :, :-1] = y[:, :4, 1:]  # the clock runs down one step
        S[:, :, -1] = 0.0
        jobs = y[:, 4:6, 1:]  # started in this step, by the clock after it
        out_w += w * jobs.sum(axis=(1, 2))
        # in-work support: at least k_e steps from the start (mid-step)
        extra = 0.5 * (1 - w) * jobs[:, :, :k_e].sum(axis=2)
        S[:, 2:4, k_e:size - 1] += (1 - w) * jobs[:, :, k_e:]
        S[:, 2:4, k_e] += extra
        S[:, 2:4, k_e1] += extra
        out_n += S[:, 0, 0] + S[:, 1, 0]  # support over: to the self-directed chain
        out_w += S[:, 2, 0] + S[:, 3, 0]
        S[:, :, 0] = 0.0
        if started is not None:
            enter(*started)
            out_n += d * started[0]
            out_w += d * started[1]
    return out_w + pre_w + S[:, 2].sum(axis=1) + S[:, 3].sum(axis=1)


@dataclass(frozen=True)
class Solved:
    supported_entry: float  # per day
    p_ips: float
    p_tau: float
    rr_max: float


def rr_max(x: LawInputs) -> float:
    return p_work(x, MAX_SUPPORTED_ENTRY) / _p_tau(x)


GRID = 24


@lru_cache(maxsize=1024)
def solve_supported_entry(x: LawInputs, relative_risk: float) -> Solved:
    """The supported entry rate b with P_IPS(b) / P_TAU = relative_risk, b = 0 for
    RR = 1 (IPS equals TAU in law). Beyond the reachable maximum, b is that maximum's
    (the caller decides whether that is an error). Two passes over a grid of b on a
    log scale, the second inside the first's bracket, then interpolation in log b."""
    p_tau = _p_tau(x)
    lo, hi = math.log(1e-6), math.log(MAX_SUPPORTED_ENTRY)
    top = None
    if relative_risk <= 1.0 or p_tau == 0.0:
        return Solved(0.0, p_tau, p_tau, rr_max(x) if p_tau > 0 else math.nan)
    goal = relative_risk * p_tau
    for _ in range(2):
        zs = np.linspace(lo, hi, GRID)
        ps = _p_ips(x, tuple(float(v) for v in np.exp(zs)))
        if top is None:
            top = float(ps[-1]) / p_tau
            if relative_risk >= top:
                return Solved(MAX_SUPPORTED_ENTRY, float(ps[-1]), p_tau, top)
            if ps[0] >= goal:
                return Solved(math.exp(lo), float(ps[0]), p_tau, top)
        i = int(np.searchsorted(ps, goal))  # ps[i - 1] < goal <= ps[i]
        i = min(max(i, 1), GRID - 1)
        lo, hi = float(zs[i - 1]), float(zs[i])
        p_lo, p_hi = float(ps[i - 1]), float(ps[i])
    z = lo + (hi - lo) * (goal - p_lo) / (p_hi - p_lo) if p_hi > p_lo else lo
    return Solved(math.exp(z), goal, p_tau, top)
