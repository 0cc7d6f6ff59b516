"""The study coordinator's queue compiled: screening calls, TAU booklet appointments and
randomisation in one loop (numba), to the last bit what trialsim.model.recruitment's
`Recruitment.run` gives, with delivery's draws at randomisation
(trialsim.model.delivery.Delivery.start without paths) made in the same loop.

Why it is exact: the loop is `Recruitment.run`'s, statement by statement, over arrays
instead of lists and heaps. A heap pops the least (day, id) first, so any priority
queue keyed the same pops the same sequence; the coordinators' heap is a multiset of
free days, of which only the least is read. What the loop would ask of other objects
is drawn before it: the arms, for a trial whose sites are all of one setting and
whose allocation is permuted blocks (the allocator's stream serves nothing else, and a
block is drawn when the last is used up, so drawing them ahead gives the same arms in
the same order), and delivery's delays at randomisation (one uniform for TAU's booklet
delay, one for IPS's first-appointment delay and one for their patience, each where
its mean or rate is above 0, from that stream alone, in order of randomisation). Where
the Poisson arrivals drawn so far run out the loop returns, Python draws the next
chunk (`Recruitment._next_chunk`), and the loop goes on where it stopped: all its
state is in the arrays (Recruitment.run_compiled drives it). tests/test_delivery_pass.py
holds it to the reference.
"""

from __future__ import annotations

import math

import numpy as np

from trialsim.compiled import compiled_loop, least

DONE, MORE = 0, 1  # the loop ended, or it needs the next chunk of arrivals
# istate: next request, requests, calls under way, booklets waiting, closed (0/1),
# randomised, delay uniforms used; fstate: horizon, close day
NEXT, N_REQ, N_CALLS, N_BOOKS, CLOSED, N_RAND, N_DELAYS = range(ISTATE := 7)
HORIZON, CLOSE_DAY = range(2)


@compiled_loop
def _before(d1, k1, d2, k2):
    return d1 < d2 or (d1 == d2 and k1 < k2)


@compiled_loop
def _push(hd, hk, n, d, k):
    """(d, k) onto the heap of n pairs (hd, hk) ordered as tuples; returns n + 1."""
    i = n
    while i > 0:
        parent = (i - 1) >> 1
        if not _before(d, k, hd[parent], hk[parent]):
            break
        hd[i], hk[i] = hd[parent], hk[parent]
        i = parent
    hd[i], hk[i] = d, k
    return n + 1


@compiled_loop
def _pop(hd, hk, n):
    """The least pair off the heap of n (hd, hk); the heap keeps n - 1."""
    n -= 1
    d, k = hd[n], hk[n]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and _before(hd[child + 1], hk[child + 1], hd[child], hk[child]):
            child += 1
        if not _before(hd[child], hk[child], d, k):
            break
        hd[i], hk[i] = hd[child], hk[child]
        i = child
    if n > 0:
        hd[i], hk[i] = d, k


@compiled_loop
def run_queue(istate, fstate, req, who, arrival, reach, channel, free, c_end, c_k,
              b_day, b_id, reached, randomised, p_resp, p_day, p_ips, booklet_wait,
              ask_due, ask_patience, arms, u_delays, window, target_n, call_days,
              booklet_days, booklet_mean, first_mean, patience_rate, consented):
    """Recruitment.run over the state arrays, until it ends (DONE) or needs the next
    chunk of arrivals (MORE: the state is as the reference's would be before it draws)."""
    inf = math.inf
    queue = len(free) > 0  # coordinators (else: unlimited, no queue, calls take no time)
    nxt, n_req, n_calls, n_books = istate[NEXT], istate[N_REQ], istate[N_CALLS], istate[N_BOOKS]
    n_rand, cu = istate[N_RAND], istate[N_DELAYS]
    horizon = fstate[HORIZON]
    status = DONE
    while True:
        if nxt < n_req and req[nxt] < horizon:
            t_call = req[nxt]
        elif horizon == inf:
            t_call = req[nxt] if nxt < n_req else inf
        else:
            status = MORE
            break
        t_book = b_day[0] if n_books > 0 else inf
        t = t_call if t_call < t_book else t_book
        start = t
        if queue:
            m = least(free, len(free))
            if free[m] > t:
                start = free[m]
        if n_calls > 0 and c_end[0] <= start:  # a call ends first
            if c_end[0] >= horizon:
                status = MORE
                break
            end, k = c_end[0], c_k[0]
            _pop(c_end, c_k, n_calls)
            n_calls -= 1
            if end < window and istate[CLOSED] == 0:
                r = reach[k]
                reached[channel[k], r] += 1
                if r == consented:  # randomised (records.CONSENTED: an argument, so
                    # that the cached compiled code never keeps an old value of it)
                    randomised[channel[k]] += 1
                    ips = arms[n_rand]
                    p_resp[n_rand], p_day[n_rand], p_ips[n_rand] = k, end, ips
                    day = end
                    if not ips:
                        if booklet_mean > 0:
                            day -= booklet_mean * math.log1p(-u_delays[cu])
                            cu += 1
                        if queue:
                            n_books = _push(b_day, b_id, n_books, day, n_rand)
                        else:
                            booklet_wait[n_rand] = 0.0
                    else:
                        if first_mean > 0:
                            day -= first_mean * math.log1p(-u_delays[cu])
                            cu += 1
                        patience = inf
                        if patience_rate > 0:
                            patience = -math.log1p(-u_delays[cu]) / patience_rate
                            cu += 1
                        ask_due[n_rand], ask_patience[n_rand] = day, patience
                    n_rand += 1
                    if n_rand >= target_n:  # closed at the target: Recruitment._close
                        istate[CLOSED], fstate[CLOSE_DAY] = 1, end
                        kept = 0
                        for i in range(nxt, n_req):
                            if arrival[who[i]] <= end:
                                req[kept], who[kept] = req[i], who[i]
                                kept += 1
                        nxt, n_req, horizon = 0, kept, inf
            continue
        if t == inf:
            break
        if t_book <= t_call:  # a booklet appointment
            person = b_id[0]
            _pop(b_day, b_id, n_books)
            n_books -= 1
            booklet_wait[person] = start - t
            free[least(free, len(free))] = start + booklet_days
            continue
        k = who[nxt]
        nxt += 1
        end = start
        if queue:
            end = start + call_days
            free[least(free, len(free))] = end
        n_calls = _push(c_end, c_k, n_calls, end, k)
    istate[NEXT], istate[N_REQ], istate[N_CALLS], istate[N_BOOKS] = nxt, n_req, n_calls, n_books
    istate[N_RAND], istate[N_DELAYS] = n_rand, cu
    fstate[HORIZON] = horizon
    return status


@compiled_loop
def years_of(u, z, cut, share, mu, below, above, low, span):
    """YearsOutOfWork.draws (trialsim.inputs.params) compiled, operation by operation
    (math.exp, as draws': numpy's exp differs in the last bit), on its quantiles."""
    out = np.empty(len(u))
    for i in range(len(u)):
        v, zv = u[i], z[i]
        if v >= cut:
            out[i] = low + span * ((v - cut) / share)
        else:
            out[i] = math.exp(mu + (below if zv < 0 else above) * zv)
    return out
