"""P(in work at the horizon) under the employment model, computed from its law (no
random numbers), and the ESW-supported entry rate that gives the planner's IPS/TAU
relative risk.

Participants differ only in their years out of work, which set their self-directed
entry rate and their chance of being ready at the assessment; the law is a mixture
over a few quadrature nodes of the years-out distribution (the caller gives each node's
entry rate, ready share and weight). For one node:

TAU: the two-state chain, a / (a + l) (1 - exp(-(a + l) T)).

IPS (trialsim.model.employment): waiting for the first ESW appointment (exponential
delay), then ESW support for D days from it; a job started in support extends support
to at least E days after the start; support ends on moving away (a participant's first
job start, probability w) and after D (or E after the last job start); then the
self-directed chain. The support clock makes the chain non-Markov, but only through
three fixed delays, so it is written as a Markov chain on five blocks with three
delayed transfers between them:

- pre (waiting): never had a job / had a job / in work;
- X, support before D - E (D > E only): job starts there do not move the end of
  support; (not ready | ready) x (never had a job | had one), in work (not ready |
  ready);
- Y, support in the last min(D, E) days of the first window: a job start here sets
  the end of support E days on and moves the participant to Z;
- Z, support after a job start: every job start restarts E days of support (a new
  "cohort" of Z); not in work (not ready | ready), in work (not ready | ready);
- O, out of support for good: the self-directed chain.

X -> Y happens D - E after entering support, Y -> O D after it, and a Z cohort
leaves for O E after its job start unless it started another job (which made it a new
cohort). The entry flux is known in closed form (the waiting block is autonomous), so
the first two transfers are known in advance; Z's job starts are counted as the chain
runs (two counter states) and leave E later. The chain is stepped with the exact
matrix exponential of each step (of the whole 23-state block generator), the step
dividing E; a transfer inside a step is spread uniformly over it (phi_1, the step's
mean propagator), which is exact to second order in the step. Against a step of
0.25 days the error at the default step is below 7e-5 in 24 configurations (supports
of 3-10 months, in-work support 0-13 months, first-appointment delays 0-30 days), and
below 2e-4 against 0.5 days in tests/test_employment.py; the default 10 years-out nodes
are within 1.2e-4 of 80; against 10^6 Monte Carlo paths the law is within 2 SE (5e-4).

The first-appointment delay is exponential (its mean from
`delivery.esw.first_appointment_mean_days`); caseload waits for an ESW place (and
disengaging while waiting) are ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

STEP_DAYS = 3.0  # the largest step; the step used divides the in-work support window
MAX_SUPPORTED_ENTRY = 30.0  # per day: a ready participant in support finds work at once

# state indices: waiting, support blocks X and Y, Z, out of support, counters
P0, P1, PW = 0, 1, 2
X, Y = 3, 9  # + NR0, R0, NR1, R1, WN, WR (never had a job / had one; in work)
Z = 15  # + NR, R, WN, WR
ON, OW = 19, 20
CWN, CWR = 21, 22  # job starts into Z's WN and WR (counters, not probability mass)
SIZE = 23
IN_WORK = (PW, X + 4, X + 5, Y + 4, Y + 5, Z + 2, Z + 3, OW)
TO_OUT6 = (ON, ON, ON, ON, OW, OW)  # a 6-state support cohort leaving support
TO_OUT4 = (ON, ON, OW, OW)


@dataclass(frozen=True)
class LawInputs:
    """Everything the law depends on (days, per-day hazards, probabilities). The
    per-node tuples are a quadrature of the years-out distribution."""

    horizon: float
    self_entry: tuple[float, ...]  # self-directed entry rate at each node
    ready_share: tuple[float, ...]  # P(ready at the assessment) at each node
    weights: tuple[float, ...]  # the nodes' weights (sum 1)
    readiness: float
    loss: float
    disengage: float  # P(no support after the assessment)
    first_mean: float  # mean delay to the first ESW appointment (exponential)
    support: float  # pre-placement support window (inf: to the horizon)
    in_work: float  # in-work support after a job start in support
    withdraw: float  # P(moving away on the first job start); support ends


def _expm_phi(g: np.ndarray, phi: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """exp(g) and (if `phi`) phi_1(g) = integral_0^1 exp(g s) ds for stacked small
    matrices: Taylor series after scaling, then squaring (phi_1(2g) = (phi_1(g) +
    exp(g) phi_1(g)) / 2), each matrix scaled by its own norm; scipy's expm costs far
    more per call on matrices this small."""
    norms = np.abs(g).sum(axis=-1).max(axis=-1)
    squarings = np.maximum(0, np.ceil(np.log2(np.maximum(norms, 1e-300) / 0.5))).astype(int)
    e = np.empty_like(g)
    p = np.empty_like(g) if phi else None
    for j in np.unique(squarings):
        sel = squarings == j
        a = g[sel] / 2.0**j
        eye = np.broadcast_to(np.eye(g.shape[-1]), a.shape)
        term, ej, pj = eye, eye.copy(), eye.copy()
        for i in range(1, 13):
            term = term @ a / i
            ej = ej + term
            if phi:
                pj = pj + term / (i + 1)
        for _ in range(j):
            if phi:
                pj = 0.5 * (pj + ej @ pj)
            ej = ej @ ej
        e[sel] = ej
        if phi:
            p[sel] = pj
    return e, p


def _generator(x: LawInputs, b: np.ndarray, into: int) -> np.ndarray:
    """The block generator for each (node, supported entry rate) pair: (B, 23, 23).
    `into`: the support block entered at the first appointment (X or Y). Counter
    columns copy job-start flows into Z without taking them from their state."""
    k = len(x.self_entry)
    a = np.repeat(np.asarray(x.self_entry, float), len(b) // k)
    q = np.repeat(np.asarray(x.ready_share, float), len(b) // k)
    ab = a + b
    r, lo, w, d = x.readiness, x.loss, x.withdraw, x.disengage
    s = 1.0 / x.first_mean if x.first_mean > 0 else 0.0
    g = np.zeros((len(b), SIZE, SIZE))

    def put(i: int, j: int, rate) -> None:
        g[:, i, j] += rate

    put(P0, PW, a * (1 - w))
    put(P0, OW, a * w)
    put(P1, PW, a)
    put(PW, P1, lo)
    for src, dst in ((P0, into), (P1, into + 2), (PW, into + 4)):  # the first appointment
        put(src, OW if src == PW else ON, s * d)
        put(src, dst, s * (1 - d) * (1 - q))
        put(src, dst + 1, s * (1 - d) * q)
    for blk in (X, Y):
        nr0, r0, nr1, r1, wn, wr = range(blk, blk + 6)
        put(nr0, r0, r)
        put(nr1, r1, r)
        put(wn, nr1, lo)
        put(wr, r1, lo)
        put(nr0, OW, a * w)  # the first job: moved away, out of support, in work
        put(r0, OW, ab * w)
        # a job start in X stays in X; in Y it starts a Z cohort (counted)
        to_wn, to_wr = (wn, wr) if blk == X else (Z + 2, Z + 3)
        put(nr0, to_wn, a * (1 - w))
        put(r0, to_wr, ab * (1 - w))
        put(nr1, to_wn, a)
        put(r1, to_wr, ab)
        if blk == Y:
            put(nr0, CWN, a * (1 - w))
            put(r0, CWR, ab * (1 - w))
            put(nr1, CWN, a)
            put(r1, CWR, ab)
    put(Z, Z + 1, r)
    put(Z, Z + 2, a)
    put(Z + 1, Z + 3, ab)
    put(Z, CWN, a)
    put(Z + 1, CWR, ab)
    put(Z + 2, Z, lo)
    put(Z + 3, Z + 1, lo)
    put(ON, OW, a)
    put(OW, ON, lo)
    out = g[:, :CWN, :CWN].sum(axis=2)
    g[:, np.arange(CWN), np.arange(CWN)] -= out
    return g


def _entry_vector(q: np.ndarray) -> np.ndarray:
    """(B, 3, 6): a waiting state's mass entering a support block (by readiness)."""
    pi = np.zeros((len(q), 3, 6))
    for i in range(3):
        pi[:, i, 2 * i], pi[:, i, 2 * i + 1] = 1 - q, q
    return pi


def _rows(m: np.ndarray, rows) -> np.ndarray:
    return m[:, list(rows), :]


@dataclass(frozen=True)
class _Grid:
    """The time grid and what does not depend on the supported entry rate."""

    h: float  # step (days), dividing E when Z cohorts leave before the horizon
    k_e: int  # steps in E (0: no Z cohort leaves before the horizon)
    n_full: int
    last: float  # a last, shorter step (0: none)
    into: int  # the support block entered at the first appointment
    delays: tuple[float, ...]  # the entry cohorts' transfers, in `_transfers` order
    masses: tuple[np.ndarray, ...]  # per delay: (nodes, steps, 6) entering mass
    pi: np.ndarray  # (nodes, 3, 6): waiting state -> support state, times P(engaged)


@lru_cache(maxsize=256)
def _grid(x: LawInputs) -> _Grid:
    T, D, E = x.horizon, x.support, x.in_work
    renews = math.isfinite(D) and E > 0  # job starts in support can move its end
    h, k_e = STEP_DAYS, 0
    if renews and E < T:  # the Z cohorts leave on the grid
        k_e = max(1, math.ceil(E / STEP_DAYS - 1e-9))
        h = E / k_e
    n_full = int(math.floor(T / h + 1e-9))
    last = T - n_full * h
    last = last if last > 1e-9 * h else 0.0
    into = Y if renews and D <= E else X
    if not math.isfinite(D):
        delays = ()
    elif not renews or D <= E:
        delays = (D,)
    else:
        delays = (D - E, D)
    pi = _entry_vector(np.asarray(x.ready_share, float)) * (1 - x.disengage)
    masses = ()
    if delays and x.first_mean > 0:
        g = _generator(x, np.zeros(len(x.self_entry)), into)
        masses = tuple(_entry_masses(x, g[:, :3, :3], h, n_full + (1 if last else 0),
                                     1.0 / x.first_mean, pi, list(delays)))
    return _Grid(h, k_e, n_full, last, into, delays, masses, pi)


def _transfers(x: LawInputs, g: np.ndarray, grid: _Grid) -> list[tuple]:
    """The entry cohorts' delayed transfers: (delay, propagator over the delay, from
    block, to rows)."""
    D, E = x.support, x.in_work
    xx, yy = g[:, X:X + 6, X:X + 6], g[:, Y:Y + 6, Y:Y + 6]
    if not grid.delays:
        return []
    if len(grid.delays) == 1:
        blk = grid.into
        return [(D, _expm_phi(g[:, blk:blk + 6, blk:blk + 6] * D, False)[0], blk, TO_OUT6)]
    psi = _expm_phi(xx * (D - E), False)[0]
    return [(D - E, psi, X, tuple(range(Y, Y + 6))),
            (D, psi @ _expm_phi(yy * E, False)[0], Y, TO_OUT6)]


def _p_ips_batch(x: LawInputs, b: np.ndarray) -> np.ndarray:
    """P(in work at the horizon) in the IPS arm for each (node, rate) pair, node-major:
    b has len(nodes) x m entries, the m rates repeated for each node."""
    grid = _grid(x)
    T, h, k_e, n_full, last = x.horizon, grid.h, grid.k_e, grid.n_full, grid.last
    n_steps = n_full + (1 if last else 0)
    per_node = len(b) // len(x.self_entry)
    bsz = len(b)
    g = _generator(x, b, grid.into)
    ex, ph = _expm_phi(np.stack([g * h, g * last]) if last else (g * h)[None])
    ex[:, :, CWN:, :] = 0.0  # counters restart each step: they hold that step's job starts
    pi = np.repeat(grid.pi, per_node, axis=0)
    a_vec = np.zeros((bsz, 1, SIZE))
    if x.first_mean > 0:
        a_vec[:, 0, P0] = 1.0
    else:  # support starts at randomisation
        a_vec[:, 0, ON] = x.disengage
        a_vec[:, 0, grid.into:grid.into + 6] = pi[:, 0]
    forcing = np.zeros((bsz, n_steps, SIZE))
    for i, (delay, prop, src, dst) in enumerate(_transfers(x, g, grid)):
        if x.first_mean > 0:  # spread over each step (phi_1)
            mass = np.repeat(grid.masses[i], per_node, axis=0)  # (B, steps, 6)
            for phi, which in ((ph[0], slice(0, n_full)), (ph[-1], slice(n_full, None))):
                k = prop @ (_rows(phi, dst) - phi[:, src:src + 6, :])  # (B, 6, SIZE)
                forcing[:, which] += mass[:, which] @ k
        elif delay < T:  # everyone entered at randomisation: the cohort moves at `delay`
            n_at = min(int(delay // h), n_steps - 1)
            exact = _expm_phi(g * (min((n_at + 1) * h, T) - delay), False)[0]
            k = prop @ (_rows(exact, dst) - exact[:, src:src + 6, :])
            forcing[:, n_at] += (pi[:, 0][:, None, :] @ k)[:, 0]
    forcing = np.ascontiguousarray(forcing.transpose(1, 0, 2)[:, :, None, :])
    if k_e:
        zz = g[:, Z:Z + 4, Z:Z + 4].copy()
        zz[:, 0, 2] = zz[:, 1, 3] = 0.0  # a new job start ends the cohort
        survive = _expm_phi(zz * x.in_work, False)[0][:, 2:4, :]  # from WN, WR
        leave = [survive @ (_rows(p, TO_OUT4) - p[:, Z:Z + 4, :]) for p in (ph[0], ph[-1])]
    starts = np.zeros((n_steps, bsz, 1, 2))
    nxt = np.empty_like(a_vec)
    for first in range(0, n_steps, k_e or n_steps):
        block = range(first, min(first + (k_e or n_steps), n_steps))
        if k_e and first >= k_e:  # the Z cohorts started E ago leave: known for the block
            for n in block:
                whole = n < n_full
                forcing[n] += (starts[n - k_e] * (1.0 if whole else last / h)) @ \
                    leave[0 if whole else 1]
        for n in block:
            np.matmul(a_vec, ex[0] if n < n_full else ex[-1], out=nxt)
            nxt += forcing[n]
            starts[n] = nxt[:, :, CWN:]
            a_vec, nxt = nxt, a_vec
    return a_vec[:, 0, list(IN_WORK)].sum(axis=1)


def _entry_masses(x: LawInputs, gp: np.ndarray, h: float, n_steps: int, s: float,
                  pi: np.ndarray, delays: list[float]) -> list[np.ndarray]:
    """For each delay: (nodes, steps, 6) the support cohorts' entry mass, by state at
    entry, whose delay ends in each step (the waiting block, `gp`, is autonomous: its
    occupation is integrated exactly)."""
    nodes = gp.shape[0]
    ends = np.minimum(np.arange(1, n_steps + 1) * h, x.horizon)
    edges = np.concatenate([[0.0], ends])
    step_e, step_p = _expm_phi(gp * h)
    pre = np.zeros((n_steps + 1, nodes, 1, 3))
    pre[0, :, 0, P0] = 1.0
    for n in range(n_steps):
        pre[n + 1] = pre[n] @ step_e
    integral = np.zeros_like(pre)  # the waiting mass integrated to n h
    integral[1:] = np.cumsum(pre[:-1] @ (step_p * h), axis=0)
    out = []
    for delay in delays:
        times = edges - delay
        idx = np.clip(np.floor(times / h + 1e-12).astype(int), 0, n_steps)
        frac = np.where(times > 0, times - idx * h, 0.0)
        cum = np.zeros((len(times), nodes, 1, 3))
        for f in np.unique(np.round(frac[times > 0], 9)):
            sel = (times > 0) & np.isclose(frac, f, rtol=0, atol=1e-8)
            part = _expm_phi(gp * f)[1] * f if f > 0 else np.zeros_like(gp)
            cum[sel] = integral[idx[sel]] + pre[idx[sel]] @ part
        entered = (cum[1:] - cum[:-1])[:, :, 0, :] * s  # (steps, nodes, 3)
        out.append(entered.transpose(1, 0, 2) @ pi)  # (nodes, steps, 6)
    return out


def p_work(x: LawInputs, supported_entry: float, ips: bool = True) -> float:
    """P(in work at `horizon` days after randomisation), not in work at randomisation,
    over the years-out mixture."""
    if not ips:
        return _p_tau(x)
    return float(_p_ips(x, (float(supported_entry),))[0])


@lru_cache(maxsize=1024)
def _p_tau(x: LawInputs) -> float:
    a = np.asarray(x.self_entry, float)
    s = a + x.loss
    p = np.divide(a, s, out=np.zeros_like(a), where=s > 0) * -np.expm1(-s * x.horizon)
    return float(np.dot(x.weights, p))


@lru_cache(maxsize=1024)
def _p_ips(x: LawInputs, bs: tuple[float, ...]) -> np.ndarray:
    """The mixture's P(in work at the horizon) in the IPS arm for each rate in `bs`."""
    k, m = len(x.self_entry), len(bs)
    p = _p_ips_batch(x, np.tile(np.asarray(bs, float), k)).reshape(k, m)
    return np.asarray(x.weights, float) @ p


@dataclass(frozen=True)
class Solved:
    supported_entry: float  # per day
    p_ips: float
    p_tau: float
    rr_max: float


def rr_max(x: LawInputs) -> float:
    return p_work(x, MAX_SUPPORTED_ENTRY) / _p_tau(x)


GUESSES = (0.002, 0.02)  # per day: where the solver starts
LOWEST = 1e-12  # per day: a smaller rate is taken as this
NODE = 0.01  # spacing in log b of the fixed nodes the answer is interpolated between


@lru_cache(maxsize=1024)
def solve_supported_entry(x: LawInputs, relative_risk: float) -> Solved:
    """The supported entry rate b with P_IPS(b) / P_TAU = relative_risk, b = 0 for
    RR = 1 (IPS equals TAU in law). Beyond the reachable maximum, b is that maximum's
    (the caller decides whether that is an error).

    Secant steps in (log b, logit of the share of the reachable gain), safeguarded by
    bisection, find b to well within a node of a fixed grid in log b (spacing NODE);
    the answer is the linear interpolation between the two nodes that bracket it
    (error below 1e-6 in P), so that b is an exactly non-decreasing function of the
    relative risk whatever path the search took."""
    p_tau = _p_tau(x)
    if relative_risk <= 1.0 or p_tau == 0.0:
        return Solved(0.0, p_tau, p_tau, rr_max(x) if p_tau > 0 else math.nan)
    p_max, *first = (float(v) for v in _p_ips(x, (MAX_SUPPORTED_ENTRY, *GUESSES)))
    top = p_max / p_tau
    if relative_risk >= top:
        return Solved(MAX_SUPPORTED_ENTRY, p_max, p_tau, top)
    goal = relative_risk * p_tau
    span = p_max - p_tau

    def y(p: float) -> float:
        u = min(max((p - p_tau) / span, 1e-300), 1 - 1e-16)
        return math.log(u) - math.log1p(-u)

    lo, hi = math.log(LOWEST), math.log(MAX_SUPPORTED_ENTRY)
    pts = [(math.log(b), p) for b, p in zip(GUESSES, first, strict=True)]
    for z, p in pts:
        lo, hi = (z, hi) if p < goal else (lo, z)
    target = y(goal)
    for _ in range(60):
        (z0, p0), (z1, p1) = pts[-2:]
        slope = (y(p1) - y(p0)) / (z1 - z0)
        step = z1 + (target - y(p1)) / slope if slope > 0 else math.nan
        z = step if lo < step < hi else 0.5 * (lo + hi)
        if abs(z - z1) < NODE or hi - lo < 0.1 * NODE:
            break
        p = float(_p_ips(x, (math.exp(z),))[0])
        lo, hi = (z, hi) if p < goal else (lo, z)
        pts.append((z, p))
    # the fixed nodes around z; move out until they bracket the goal
    k = min(max(math.floor(z / NODE), math.ceil(math.log(LOWEST) / NODE)),
            math.floor(math.log(MAX_SUPPORTED_ENTRY) / NODE) - 1)
    p_k, p_k1 = (float(v) for v in _p_ips(x, (math.exp(k * NODE), math.exp((k + 1) * NODE))))
    while p_k > goal and k * NODE > math.log(LOWEST):
        k -= 1
        p_k1, p_k = p_k, float(_p_ips(x, (math.exp(k * NODE),))[0])
    while p_k1 < goal and (k + 1) * NODE < math.log(MAX_SUPPORTED_ENTRY):
        k += 1
        p_k, p_k1 = p_k1, float(_p_ips(x, (math.exp((k + 1) * NODE),))[0])
    frac = min(max((goal - p_k) / (p_k1 - p_k), 0.0), 1.0) if p_k1 > p_k else 0.0
    return Solved(math.exp((k + frac) * NODE), goal, p_tau, top)
