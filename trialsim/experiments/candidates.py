"""Simulating design candidates once, and only as far as a decision needs.

Every candidate runs replications 0, 1, ... from the same seed (common random numbers),
and what was simulated is kept: a candidate screened with a few replications is
confirmed by simulating only the replications it lacks. A decision screens first
(`design.screen_replications`): a candidate whose estimate is below its goal by more than
`Z_SCREEN` Monte Carlo SEs fails there; any other is simulated with every replication and
passes only if the one-sided `design.confidence` bound clears the goal.

Recruitment does not depend on the target beyond the target-th randomisation or on the
window beyond its end (the model never looks ahead), nor, in law, on the ESWs (only
TAU's booklet appointments share the coordinator with screening). So one recruitment run
per number of sites, with the largest target and the longest window, answers
P(target N within m months) for every N and m: reached when the N-th randomisation day
falls before the end of month m. `tests/test_design_search.py` checks this against
direct runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from omegaconf import DictConfig

from trialsim.experiments.allocation_lever import ratio_changes
from trialsim.experiments.runner import (
    map_blocks,
    map_replications,
    outcome_variant_rows,
    simulated_rows,
)
from trialsim.inputs.allocation_ratio import parse_ratio
from trialsim.inputs.compose import Edits
from trialsim.inputs.design_settings import UNCONSTRAINED_MONTHS, DesignSettings
from trialsim.inputs.params import ModelParams, RunSettings, build_params
from trialsim.model.trial import recruit_only
from trialsim.units import DAYS_PER_MONTH

Z_SCREEN = 3.0  # screening drops a candidate only when even its 3-SE upper bound fails
TRIAL_COLUMNS = ("primary_reject", "primary_se", "primary_true", "primary_n_ips",
                 "primary_n_tau", "target_reached", "months_to_target", "randomised",
                 "delivery_mean_wait_days", "delivery_p90_wait_days", "delivery_max_caseload",
                 "delivery_ot_wait_days", "effect_itt_true", "ips_received_share")
KEPT_PREFIXES = ("cost_", "resource_", "randomised_",  # every cost and resource column,
                 "retention_", "review_verdict_",  # the returns and the internal pilot's lights
                 "sensitivity_tipping_delta")  # the MNAR tipping points
# (the lights and the tipping points only where the Evaluator has tipping_and_review)


@dataclass(frozen=True, order=True)
class Candidate:
    target_n: int
    esw: int  # ESWs per locality
    sites: int  # sites of design.site_kind
    months: float | None  # recruitment window; None: unconstrained
    uncertain: bool = False  # parameters drawn per replication (assurance)
    fte: float = 1.0  # each ESW post's FTE (delivery.esw.fte)
    ratio: str = ""  # IPS:TAU (trial.allocation_ratio, blocks that hold it); "": the config's
    ots: int = 0  # OTs for the joint appointments (delivery.ot.count); 0: the config's


@dataclass(frozen=True)
class Decision:
    passes: bool
    estimate: float
    mc_se: float
    replications: int
    screened_out: bool  # failed at screening, never simulated in full


def share(x: np.ndarray) -> tuple[float, float]:
    p = float(np.mean(x)) if len(x) else math.nan
    return p, math.sqrt(p * (1 - p) / len(x)) if len(x) else math.nan


def mean_se(x: np.ndarray) -> tuple[float, float]:
    """Mean and its Monte Carlo SE; a replication with nobody waiting waits 0 days."""
    x = np.nan_to_num(np.asarray(x, dtype=float), nan=0.0)
    if len(x) < 2:
        return (float(x.mean()) if len(x) else math.nan), math.nan
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))


def _kept(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Each row's kept columns (every row of a block has the same columns: the names
    are picked once)."""
    names = [c for c in rows[0] if c in TRIAL_COLUMNS or c.startswith(KEPT_PREFIXES)
             ] if rows else []
    return [{c: float(row[c]) for c in names} for row in rows]


def _trial_block(params: ModelParams, seed: int, tipping_and_review: bool,
                 reps: range) -> list[dict[str, float]]:
    """The kept columns of replications `reps`, their analyses fitted together
    (`tipping_and_review`: runner.simulated_rows')."""
    return _kept([row for _, row in simulated_rows(params, seed, reps, tipping_and_review)])


def _variant_block(params: ModelParams, variants: tuple[ModelParams, ...], upto: int,
                   seed: int, tipping_and_review: tuple[bool, bool],
                   reps: range) -> list[list[dict[str, float]]]:
    """_trial_block's rows of `reps`, each in a list with the rows of `variants` (outcome
    models on the same pathway, runner.outcome_variant_rows) below replication `upto`;
    `tipping_and_review`: the candidate's, the variants'."""
    below = range(reps.start, max(reps.start, min(reps.stop, upto)))
    tables = outcome_variant_rows(params, seed, below, variants,
                                  *tipping_and_review) if below else []
    out = [list(rows) for rows in zip(*map(_kept, tables), strict=True)]
    rest = range(below.stop, reps.stop)
    return out + [[row] for row in _trial_block(params, seed, tipping_and_review[0], rest)
                  ] if rest else out


def _columns(rows: list[dict[str, float]]) -> dict[str, np.ndarray]:
    return {col: np.array([r[col] for r in rows]) for col in (rows[0] if rows else ())}


def _label(c: Candidate, step: str) -> str:
    """A candidate's progress-bar label."""
    return (f"design {step}: N {c.target_n}, {c.esw} ESW/loc"
            + (f", {c.ratio}" if c.ratio else ""))


def _recruitment_rep(params: ModelParams, seed: int, rep: int):
    """Randomisation days (sorted) and each site's opening and closing day."""
    result = recruit_only(params, seed, rep)
    days = np.sort(result.randomised_days())
    return (days, np.array([s.open_day for s in result.sites], dtype=float),
            np.array([s.close_day for s in result.sites], dtype=float))


class Evaluator:
    """The simulations of one design search, cached per candidate and replication."""

    def __init__(self, cfg: DictConfig, run: RunSettings, design: DesignSettings,
                 seed: int | None = None, tipping_and_review: bool = True) -> None:
        """`tipping_and_review` False: the candidates' trials without the MNAR delta
        sensitivity and the internal pilot's review (runner.simulated_rows), for an
        evaluator whose trials nobody reads them of (all but the design search's check)."""
        self.cfg, self.design = cfg, design
        self.tipping_and_review = tipping_and_review
        self.replications = run.replications
        self.seed = run.seed if seed is None else seed
        self.n_jobs = run.n_jobs
        screen = design.screen_replications
        self.screen = screen if 0 < screen < run.replications else run.replications
        self._trials: dict[Candidate, list[dict[str, float]]] = {}
        # (sites, uncertain) -> (the runs' target, the runs): a run to a larger target
        # answers every smaller N (recruitment before the N-th randomisation does not
        # depend on the target, to the last bit)
        self._recruits: dict[tuple[int, bool], tuple[int, list[tuple]]] = {}
        self.recruit_n = 0  # target of new recruitment runs (the largest N asked)
        self.recruit_months = max(design.months_grid)  # their window
        self.work: dict[str, dict[str, int]] = {}
        self._edits = Edits(cfg)
        self._params: dict[Candidate, ModelParams] = {}

    # --- simulation ---------------------------------------------------------------------
    def params(self, c: Candidate) -> ModelParams:
        """The candidate's parameters (built once: they are frozen)."""
        params = self._params.get(c)
        if params is None:
            months = UNCONSTRAINED_MONTHS if c.months is None else c.months
            params = self._edits.build({
                "trial.target_n": c.target_n, "trial.recruitment_months": months,
                "delivery.esw.per_locality": c.esw, "delivery.esw.fte": c.fte,
                f"sites.{self.design.site_kind}.count": c.sites,
                **(ratio_changes(self.cfg, parse_ratio(c.ratio)) if c.ratio else {}),
                **({"delivery.ot.count": c.ots} if c.ots else {})}, build_params)
            params = self._params[c] = params if c.uncertain else _point(params)
        return params

    def _count(self, step: str, reps: int, participants: float) -> None:
        w = self.work.setdefault(step, {"runs": 0, "replications": 0, "participants": 0})
        w["runs"] += 1
        w["replications"] += reps
        w["participants"] += int(participants)

    def _count_trials(self, step: str, rows: list[dict[str, float]]) -> None:
        self._count(step, len(rows), sum(r["randomised"] for r in rows))

    def add_work(self, other: Evaluator) -> None:
        """Another evaluator's work (the check's, a sensitivity's) added to this one's,
        step by step."""
        for step, w in other.work.items():
            mine = self.work.setdefault(step, dict.fromkeys(w, 0))
            for k, v in w.items():
                mine[k] += v

    def trials(self, c: Candidate, reps: int, step: str) -> dict[str, np.ndarray]:
        """Replications 0..reps-1 of candidate `c`, as columns (simulating what is new)."""
        have = self._trials.setdefault(c, [])
        if len(have) < reps:
            block = partial(_trial_block, self.params(c), self.seed, self.tipping_and_review)
            new = map_blocks(block, reps - len(have), self.n_jobs, first=len(have),
                             label=_label(c, step))
            self._count_trials(step, new)
            have.extend(new)
        return _columns(have[:reps])

    def trials_with_outcomes(self, c: Candidate, reps: int, step: str,
                             variants: tuple[ModelParams, ...], upto: int, variant_step: str,
                             variants_tipping_and_review: bool = True,
                             ) -> list[dict[str, np.ndarray]]:
        """`trials` of a candidate not simulated yet, with the first `upto` replications'
        trials again under each of `variants` (the candidate's parameters with another
        outcome model, at fixed parameters) on the same pathways: the columns of each
        variant (replications 0..upto-1; `variants_tipping_and_review` as an Evaluator's),
        each pathway simulated once. The candidate's own trials are kept as `trials`
        keeps them."""
        if self._trials.get(c) or not 0 < upto <= reps:
            raise ValueError(f"{c}: trials already, or variants of {upto} of {reps}")
        block = partial(_variant_block, self.params(c), variants, upto, self.seed,
                        (self.tipping_and_review, variants_tipping_and_review))
        rows = map_blocks(block, reps, self.n_jobs, label=_label(c, step))
        self._trials[c] = [r[0] for r in rows]
        self._count_trials(step, self._trials[c])
        out = []
        for k in range(1, len(variants) + 1):
            mine = [r[k] for r in rows[:upto]]
            self._count_trials(variant_step, mine)
            out.append(_columns(mine))
        return out

    def power_points(self, sites: int, uncertain: bool, ratio: str,
                     ) -> tuple[list[tuple[int, int, int, int]], list[np.ndarray]]:
        """(N, ESWs per locality, rejections, replications) of every power run simulated
        so far at `sites`, window unconstrained, whole posts and `ratio`: the points the
        fitted power curve goes through; and beside each, its replications' 0/1
        decisions in replication order (all from the same seeds, common random numbers:
        the curve's covariance is clustered on the replication)."""
        runs = sorted((c.target_n, c.esw, np.array([r["primary_reject"] for r in rows]))
                      for c, rows in self._trials.items()
                      if (c.months is None and c.sites == sites and c.uncertain == uncertain
                          and c.ratio == ratio and c.fte == 1.0 and rows))
        return ([(n, e, int(y.sum()), len(y)) for n, e, y in runs], [y for *_, y in runs])

    def available(self, c: Candidate) -> int:
        return len(self._trials.get(c, ()))

    def recruitment(self, sites: int, uncertain: bool, reps: int,
                    up_to: int = 0) -> list[tuple]:
        """Recruitment runs with `sites` sites up to `recruit_n` (or `up_to`, if larger)
        and `recruit_months`; runs made to a smaller target are made again."""
        key = (sites, uncertain)
        target, have = self._recruits[key] = self._reaching(key, up_to)
        if len(have) < reps:
            esw = int(self.cfg.delivery.esw.per_locality)  # recruitment ignores the ESWs
            c = Candidate(target, esw, sites, self.recruit_months, uncertain)
            one = partial(_recruitment_rep, self.params(c), self.seed)
            new = map_replications(one, reps - len(have), self.n_jobs, first=len(have),
                                   label=f"design recruitment: {sites} sites")
            self._count("sites", len(new), sum(len(r[0]) for r in new))
            have.extend(new)
        return have[:reps]

    def recruit_up_to(self, n: int) -> None:
        """Recruitment runs must reach N = n: runs made for a smaller N stopped short of
        it, so they are dropped and made again (same seeds) when first asked for."""
        if n > self.recruit_n:
            self.recruit_n = n
            self._recruits = {k: v for k, v in self._recruits.items() if v[0] >= n}

    def _reaching(self, key: tuple[int, bool], up_to: int) -> tuple[int, list[tuple]]:
        """The runs of `key` and their target, where they reach `recruit_n` and `up_to`;
        else that N and none (runs made to a smaller target stopped short of it)."""
        need = max(self.recruit_n, up_to)
        target, runs = self._recruits.get(key, (0, []))
        return (target, runs) if target >= need else (need, [])

    def recruitment_available(self, sites: int, uncertain: bool, up_to: int = 0) -> int:
        return len(self._reaching((sites, uncertain), up_to)[1])

    def recruitment_cached(self, uncertain: bool) -> dict[int, list[tuple]]:
        """Every recruitment run simulated so far, by number of sites."""
        return {s: runs for (s, u), (_, runs) in sorted(self._recruits.items())
                if u == uncertain}

    # --- decisions ----------------------------------------------------------------------
    def decide(self, get: Callable[[int], np.ndarray], goal: float, have: int,
               higher: bool = True, stat: Callable = share) -> Decision:
        """Screen, then confirm with every replication; `have` is what is simulated."""
        z = self.design.z
        reps = self.replications if have >= self.replications else self.screen
        est, se = stat(get(reps))
        if reps < self.replications:
            bound = est + Z_SCREEN * se if higher else est - Z_SCREEN * se
            if (bound < goal) if higher else (bound > goal):
                return Decision(False, est, se, reps, True)
            est, se = stat(get(self.replications))
        passes = est - z * se >= goal if higher else est + z * se <= goal
        return Decision(bool(passes), est, se, self.replications, False)

    # --- recruitment measures -----------------------------------------------------------
    def reached(self, runs: list[tuple], n: int, months: float) -> np.ndarray:
        end = months * DAYS_PER_MONTH
        return np.array([len(d) >= n and d[n - 1] < end for d, _, _ in runs], dtype=float)

    def resources(self, runs: list[tuple], n: int, months: float, esws: int,
                  support_days: float) -> dict[str, float]:
        """Mean over replications: service-months (each site's months open for
        recruitment before recruitment closes), months recruiting (first opening to the
        close) and ESW-months (all ESWs, from the first opening to the close plus the
        longest support a participant randomised at the close can receive)."""
        end = months * DAYS_PER_MONTH
        service, span, shut, opened = [], [], [], []
        for days, opens, closes in runs:
            close = days[n - 1] if len(days) >= n and days[n - 1] < end else end
            service.append(np.clip(np.minimum(closes, close) - opens, 0, None).sum())
            first = float(opens.min()) if len(opens) else 0.0
            span.append(max(close - first, 0.0))
            shut.append(close)
            opened.append(float((opens < close).sum()))
        span_m = float(np.mean(span)) / DAYS_PER_MONTH
        return {"service_months": float(np.mean(service)) / DAYS_PER_MONTH,
                "recruiting_months": span_m,
                "esw_months": esws * (span_m + support_days / DAYS_PER_MONTH),
                "close_months": float(np.mean(shut)) / DAYS_PER_MONTH,
                "sites_opened": float(np.mean(opened))}

    def total_work(self) -> dict[str, Any]:
        out = {"runs": 0, "replications": 0, "participants": 0}
        for w in self.work.values():
            for k in out:
                out[k] += w[k]
        return {**out, "by_step": self.work}


def _point(params: ModelParams) -> ModelParams:
    import dataclasses

    return dataclasses.replace(params, uncertainty=None)
