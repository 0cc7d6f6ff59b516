"""Trials analysed in batches: the repeated-measures fits (and their delta slopes) of
several replications made in one set of array operations
(trialsim.analysis.repeated_measures_batch), each then read by the trial's own analysis
(trial_analysis.analyse_trial), which is otherwise unchanged. A trial's columns equal
those of analysis_columns to the batch fit's agreement with fit_mmrm (1e-10); with
`sensitivity` False, all but the delta sensitivity's."""

from __future__ import annotations

import numpy as np

from trialsim.analysis import delta
from trialsim.analysis.estimators import rm_estimable
from trialsim.analysis.repeated_measures_batch import fit_mmrm_batch, mmrm_slopes_batch
from trialsim.analysis.trial_analysis import (
    Prefit,
    TrialData,
    _varying,
    analyse_trial,
    imputation_rng,
    trial_data,
)
from trialsim.inputs.pathway_params import Analysis
from trialsim.model.trial import ReplicationResult


def analysis_columns_batch(results: list[ReplicationResult], a: Analysis,
                           seed: int | None = None,
                           sensitivity: bool = True) -> list[dict[str, float]]:
    """analysis_columns of each replication, the repeated-measures fits made together;
    `sensitivity` False: without the delta sensitivity's columns (analyse_trial), its
    slopes not fitted."""
    data = [trial_data(r, a) for r in results]
    fitted = a.missing_data == "repeated_measures"
    prefits = prefit(data, a, with_slopes=sensitivity) if fitted else [None] * len(data)
    return [analyse_trial(d, a, imputation_rng(r, seed), p, sensitivity)
            for r, d, p in zip(results, data, prefits, strict=True)]


def prefit(data: list[TrialData], a: Analysis,
           with_slopes: bool = True) -> list[Prefit | None]:
    """Each trial's repeated-measures fit and (`with_slopes`) delta slope, fitted as one
    batch; None for a trial the model is not fitted to (too few returns: the analysis
    says so itself)."""
    esw_intercept = a.method == "partially_nested"
    args = {i: (d.rtw_se_waves, d.ips, d.rtw_se_m0, _varying(d.covariates), d.esw)
            for i, d in enumerate(data)
            if rm_estimable(d.rtw_se_waves, d.ips, d.esw if esw_intercept else None)}
    out: list[Prefit | None] = [None] * len(data)
    for todo in _alike(args):  # a batch shares its waves and covariate count
        with np.errstate(all="ignore"):
            fits = fit_mmrm_batch([args[i] for i in todo], esw_intercept=esw_intercept)
        for i, fit in zip(todo, fits, strict=True):
            out[i] = Prefit(fit)
    if not with_slopes:
        return out
    shifts = {}  # (trial, arm): the missing 12-month values shifted
    for i in args:
        fit = out[i].fit
        if fit is not None and fit.converged:
            out[i] = Prefit(fit, dict.fromkeys(delta.ONE_ARM, 0.0))  # nothing missing: 0
            for arm in delta.ONE_ARM:
                s = delta.shifted(data[i].ips, ~data[i].analysed_m12, arm)
                if s.any():
                    shifts[i, arm] = s
    keys = list(shifts)
    for todo in _alike({j: args[i] for j, (i, _) in enumerate(keys)}):
        slopes = mmrm_slopes_batch(
            [(shifts[keys[j]], *args[keys[j][0]][1:], out[keys[j][0]].fit) for j in todo],
            waves=args[keys[todo[0]][0]][0].shape[1], esw_intercept=esw_intercept)
        for j, g in zip(todo, slopes, strict=True):
            i, arm = keys[j]
            out[i].slopes[arm] = g
    return out


def _alike(args: dict[int, tuple]) -> list[list[int]]:
    """The trials' indices grouped by (waves, covariates), in order."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (y, _, _, cov, _) in args.items():
        groups.setdefault((y.shape[1], 0 if cov is None else cov.shape[1]), []).append(i)
    return list(groups.values())
