"""Return-to-work self-efficacy (0-10) at baseline and each wave, drawn after the run.

The control arm follows Table 10's TAU trajectory; IPS adds the planner's effect,
growing linearly to `effect_m12` at 12 months, with its own SDs (Table 10's IPS SDs
are larger than TAU's at 12 months), so `effect_m12` is the true difference in arm
means. Waves share a person effect (correlation `within_person_corr`); IPS follow-ups
share an ESW effect (`esw_icc` of the variance); being in work adds `work_effect`,
centred within arm and wave so that the arm means (and so the true effect) stay as set,
while non-return of those in work still biases complete cases. Values are clipped to
0-10."""

from __future__ import annotations

import numpy as np

from trialsim.inputs.pathway_params import Outcome


def rtw_self_efficacy(ips: np.ndarray, esw: np.ndarray, working: np.ndarray,
                      months: tuple[float, ...], o: Outcome, n_esw: int,
                      rng: np.random.Generator) -> np.ndarray:
    """(n, 1 + waves) scores: column 0 is baseline."""
    n = len(ips)
    t = np.concatenate([[0.0], np.asarray(months, dtype=float)])
    mean, sd = o.control_at(t)
    effect = o.effect_m12 * np.minimum(t / 12.0, 1.0)
    rho, icc = o.within_person_corr, o.esw_icc
    z = np.sqrt(rho) * rng.standard_normal(n)[:, None] + \
        np.sqrt(1 - rho) * rng.standard_normal((n, len(t)))
    u = rng.standard_normal(max(n_esw, 1))
    seen = ips & (esw >= 0)
    if icc > 0 and seen.any():
        z[seen, 1:] = np.sqrt(1 - icc) * z[seen, 1:] + np.sqrt(icc) * u[esw[seen]][:, None]
    sd_arm = np.where(ips[:, None], o.ips_sd_at(t)[None, :], sd[None, :])
    y = mean[None, :] + sd_arm * z + np.where(ips[:, None], effect[None, :], 0.0)
    if o.work_effect and n:
        w = working.astype(float)
        for arm in (ips, ~ips):
            if arm.any():
                w[arm] -= w[arm].mean(axis=0)
        y[:, 1:] += o.work_effect * w
    return np.clip(y, 0.0, 10.0)
