"""Return-to-work self-efficacy (0-10) at baseline and each wave, drawn after the run.

The control arm follows Table 10's TAU trajectory. IPS adds the planner's effect,
growing linearly to `effect_m12` at 12 months, to those who received IPS as intended
(`received_as_intended`); the others get `effect_if_not_received` of it, so that the ITT
effect among all randomised follows what the delivery model did (capacity, waits,
disengagement). IPS has its own SDs (Table 10's IPS SDs are larger than TAU's at 12
months). Waves share a person effect (correlation `within_person_corr`); IPS follow-ups
share an ESW effect (`esw_icc` of the variance); being in work adds `work_effect`,
centred within arm and wave (no arm mean moves) or over both arms (`pooled`: IPS's extra
employment then adds to its mean), while non-return of those in work still biases
complete cases. Values are clipped to 0-10."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trialsim.inputs.pathway_params import Outcome
from trialsim.model.records import Cohort, trial_index


def received_as_intended(c: Cohort, o: Outcome) -> np.ndarray:
    """IPS participants who received IPS as intended: seen by an ESW, not disengaged
    (while waiting or after the assessment), their first ESW appointment within
    `max_wait_days` of randomisation. Those who moved away before it were never seen."""
    wait = c.first_appointment_day - c.randomised_day  # nan: never seen, compares False
    return c.ips & (c.esw >= 0) & ~c.disengaged & (wait <= o.max_wait_days)


def effect_share(c: Cohort, o: Outcome, received: np.ndarray) -> np.ndarray:
    """Each participant's share of `effect_m12`: 1 for IPS as intended (`received`), the
    planner's `effect_if_not_received` for the rest of the IPS arm, 0 for TAU."""
    return np.where(received, 1.0, np.where(c.ips, o.effect_if_not_received, 0.0))


def rtw_self_efficacy(ips: np.ndarray, esw: np.ndarray, working: np.ndarray,
                      months: tuple[float, ...], o: Outcome, n_esw: int,
                      rng: np.random.Generator, share: np.ndarray | None = None) -> np.ndarray:
    """(n, 1 + waves) scores: column 0 is baseline. `share`: each participant's share of
    the effect (`effect_share`; None: the whole effect for every IPS participant)."""
    return scores_of_trials(ips, esw, working, months, o, n_esw, [rng],
                            np.array([0, len(ips)]), share)


def scores_of_trials(ips: np.ndarray, esw: np.ndarray, working: np.ndarray,
                     months: tuple[float, ...], o: Outcome, n_esw: int,
                     rngs: Sequence[np.random.Generator], bounds: np.ndarray,
                     share: np.ndarray | None = None) -> np.ndarray:
    """rtw_self_efficacy for several trials of the same parameters at once: trial j's
    participants are rows bounds[j]:bounds[j + 1] (its ESW ids its own), drawn from
    rngs[j] in the order one trial draws them, so that each trial's scores are the same
    to the last bit however many trials are drawn beside it."""
    t = np.concatenate([[0.0], np.asarray(months, dtype=float)])
    mean, sd = o.control_at(t)
    effect = o.effect_m12 * np.minimum(t / 12.0, 1.0)
    rho, icc = o.within_person_corr, o.esw_icc
    sizes = np.diff(bounds).tolist()
    n_u = max(n_esw, 1)
    person, wave, u = [], [], []
    for rng, m in zip(rngs, sizes, strict=True):  # each trial's draws in its own order
        person.append(rng.standard_normal(m))
        wave.append(rng.standard_normal((m, len(t))))
        u.append(rng.standard_normal(n_u))
    z = np.sqrt(rho) * np.concatenate(person)[:, None] + np.sqrt(1 - rho) * np.concatenate(wave)
    seen = ips & (esw >= 0)
    if icc > 0 and seen.any():
        trial = trial_index(bounds)  # each ESW's effect is its trial's
        effects = np.concatenate(u)[trial[seen] * n_u + esw[seen]]
        z[seen, 1:] = np.sqrt(1 - icc) * z[seen, 1:] + np.sqrt(icc) * effects[:, None]
    sd_arm = np.where(ips[:, None], o.ips_sd_at(t)[None, :], sd[None, :])
    gain = effect[None, :] if share is None else effect[None, :] * share[:, None]
    y = mean[None, :] + sd_arm * z + np.where(ips[:, None], gain, 0.0)
    if o.work_effect:
        w = working.astype(float)
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if b == a:
                continue
            wj, ips_j = w[a:b], ips[a:b]  # centred within the trial, as it alone would be
            if o.work_effect_centring == "pooled":
                wj -= wj.mean(axis=0)
            else:
                for arm in (ips_j, ~ips_j):
                    if arm.any():
                        wj[arm] -= wj[arm].mean(axis=0)
        y[:, 1:] += o.work_effect * w
    return np.clip(y, 0.0, 10.0)
