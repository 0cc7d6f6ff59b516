"""Who returns a questionnaire beyond arm and work, and which returned RTW-SE is complete.

Three parts of the missingness model (docs/guide/missingness.md), applied by
trialsim.model.followup after Table 8's chain has given each participant's return
probability at a wave:

- baseline covariates drawn for everyone from their own stream (sex, single), beside
  the years out of work the recruitment drew and the baseline score;
- log odds shifts of returning: per covariate (`follow_up.return_covariates`) and, not
  at random, per SD of the participant's own unobserved score at the wave
  (`follow_up.mnar_gamma`). They are centred within each arm and Table 8 row (and the
  participants the wave is sent to) by one constant each, solved so that the group's
  mean return probability stays what the chain gave: Table 8's returns stay the
  pilot's, whatever the covariates of the simulated cohort. Centring on the cohort
  (rather than solving a base rate over a population distribution, as
  work_return_ratio's is) needs no integral over the years' long tail or the scores,
  and keeps the work ratio's solved base rates as they are;
- item non-response: a returned questionnaire's RTW-SE items are complete with the
  wave's probability (Tables 9 and 10), at random given the return.

Every shift 0 and every item complete is the model as it was, draw for draw: the new
draws come from new streams, and a neutral setting adds nothing to the probabilities.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

from trialsim.inputs.pathway_params import TABLE8_WAVES, BaselineShares, FollowUp, Outcome
from trialsim.model.records import trial_index

BASELINE_STREAM = "participants/baseline_covariates"  # sex and single, per participant
ITEMS_STREAM = "follow_up/rtw_se_items"  # item non-response, per participant and wave
TABLE8_MONTHS = TABLE8_WAVES
ITEM_FIELDS = {3.0: "m3", 6.0: "m6", 12.0: "m12"}


def baseline_covariates(n: int, shares: BaselineShares,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(male, single) for n participants: independent draws (Table 7 does not cross
    them), participant i from the stream's i-th pair of uniforms whatever n is."""
    u = rng.random((n, 2))
    return u[:, 0] < shares.male.value, u[:, 1] < shares.single.value


def standardised(scores: np.ndarray, months: tuple[float, ...], o: Outcome) -> np.ndarray:
    """(n, 1 + waves) scores in SDs of the control arm at each wave (Table 10)."""
    t = np.concatenate([[0.0], np.asarray(months, dtype=float)])
    mean, sd = o.control_at(t)
    return (scores - mean[None, :]) / sd[None, :]


def return_shift(male: np.ndarray, single: np.ndarray, years: np.ndarray,
                 scores: np.ndarray, fu: FollowUp, o: Outcome) -> np.ndarray | None:
    """(n, waves) log odds shifts of returning each wave's questionnaire (before
    centring); None when every coefficient is 0 (the chain alone)."""
    b = fu.return_covariates
    if b.neutral() and fu.mnar_gamma == 0.0:
        return None
    z = standardised(scores, fu.months, o)
    base = (b.male.value * male + b.single.value * single
            + b.per_year_out_of_work.value * years
            + b.per_sd_baseline_rtw_se.value * z[:, 0])
    return base[:, None] + fu.mnar_gamma * z[:, 1:]


def centred(p: np.ndarray, shift: np.ndarray, groups: list[np.ndarray],
            bounds: np.ndarray | None = None) -> np.ndarray:
    """`p` with each group's odds multiplied by exp(shift + c), c solved so that the
    group's mean probability is kept; certain (0 or 1) probabilities stay certain.
    `groups` are disjoint masks. Every group's c at once, by safeguarded Newton steps
    (the mean is increasing in c: a step leaving the bracket the signs give bisects it)
    to a change of 1e-13: one set of array operations a step for all groups, where a
    scalar root-finder per group costs a few hundred microseconds a replication.
    `bounds`: several trials' participants (trial j's rows bounds[j]:bounds[j + 1]),
    each group taken within each trial and each trial's steps stopped where it alone
    would stop them, so that its result is the same to the last bit."""
    out = np.array(p, dtype=float)
    n_rows = len(out)
    bounds = np.array([0, n_rows]) if bounds is None else bounds
    n_trials, k_groups = len(bounds) - 1, len(groups)
    trial = trial_index(bounds)
    gid = np.full(n_rows, -1)
    for k, g in enumerate(groups):
        gid[g & (out > 0.0) & (out < 1.0)] = k
    inner = gid >= 0
    if not inner.any():
        return out
    ids, n = trial[inner] * k_groups + gid[inner], n_trials * k_groups
    count = np.maximum(np.bincount(ids, minlength=n), 1)
    lp = logit(out[inner]) + shift[inner]
    target = np.bincount(ids, out[inner], n) / count
    c, lo, hi = np.zeros(n), np.full(n, -BRACKET), np.full(n, BRACKET)
    going = np.ones(n, dtype=bool)  # the groups of trials still stepping
    for _ in range(MAX_STEPS):
        q = expit(lp + c[ids])
        gap = np.bincount(ids, q, n) / count - target
        slope = np.bincount(ids, q * (1.0 - q), n) / count
        lo, hi = np.where(gap < 0.0, c, lo), np.where(gap > 0.0, c, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(gap == 0.0, 0.0, gap / slope)
        new = c - step
        new = np.where((new > lo) & (new < hi), new, 0.5 * (lo + hi))
        done = np.abs(new - c) <= STEP_TOL * (1.0 + np.abs(c))
        c = np.where(going, new, c)
        going &= ~np.repeat(done.reshape(n_trials, k_groups).all(axis=1), k_groups)
        if not going.any():
            break
    out[inner] = expit(lp + c[ids])
    return out


BRACKET = 60.0  # |c| beyond this leaves every probability certain in double precision
MAX_STEPS = 200  # Newton converges in a handful; bisection alone would need ~50
STEP_TOL = 1e-13


def item_probabilities(fu: FollowUp) -> np.ndarray:
    """P(RTW-SE complete | returned) for baseline then each wave: a Table 8 wave's own,
    an interim contact's the next Table 8 wave's (the 12-month one after the last)."""
    q = fu.items_complete
    out = [q.baseline.value]
    for m in fu.months:
        later = [t for t in TABLE8_MONTHS if t >= m]
        out.append(getattr(q, ITEM_FIELDS[later[0] if later else 12.0]).value)
    return np.array(out)


def items_complete(n: int, fu: FollowUp, rng: np.random.Generator) -> np.ndarray:
    """(n, 1 + waves): whether a (returned) questionnaire's RTW-SE items are complete."""
    q = item_probabilities(fu)
    if (q == 1.0).all():
        return np.ones((n, len(q)), dtype=bool)
    return rng.random((n, len(q))) < q[None, :]
