"""Design search (`mode=design`): target N, ESWs, sites and months together.

1. Power frontier. For each number of ESWs per locality (from `max_esw_per_locality`
   down), the smallest target N in the grid whose power (or assurance, with
   `design.criterion=assurance`) reaches `target_power`, recruitment unconstrained (every
   trial reaches its N) at the scenario's sites. Power never falls with more ESWs or a
   larger N, so the N found for e + 1 ESWs is a floor for e, and the walk costs about
   |ESW grid| + |N grid| candidates, not their product; a design-effect approximation
   (`power_guess.py`), refitted to every candidate simulated, says where to start. With
   `pick_n=fitted` (default) each count's N is read off the fitted power curve, and the
   walk simulates where that curve places it and the grid N below (`fitted_walk.py`)
   rather than bracketing the grid rule's boundary. Once a count needs more N than the
   most sites recruit within the longest window (`_recruitable`), fewer ESWs are not
   searched: they would need more still, and no design in the grid has such an N.
2. Recruitment, for the smallest N on the frontier (the rule below puts it first, and a
   larger N comes with fewer ESWs: no faster to recruit, no shorter waits, so a design
   exists with it only if one exists with the smallest): in each window of `months`, the
   fewest sites of `site_kind` with P(target N randomised within the window) >=
   `prob_target`. Recruitment does not depend on the ESWs: one recruitment run per
   number of sites answers every window (`candidates.py`).
3. Feasible designs: the frontier's ESW counts at that N with each window's sites, with
   their resources (service-months, ESW-months), ranked smallest N, then fewest
   ESW-months, then fewest service-months, and simulated in full down the ranking until
   one meets the wait goal for an ESW caseload place (`max_wait_days`): the
   recommendation.
4. A check run of the recommendation as a plain run with a fresh seed and
   `check_replications` (1000) trials: the confirmation estimate. The search's estimate of
   the chosen design is one that cleared a bound among many candidates, so it reads high
   (the winner's curse); the check's does not. The recommendation is `confirmed` when
   each of the check's point estimates meets its goal, and `meets` when none is below
   it by more than the Monte Carlo bound.

A goal is met only when the one-sided `confidence` Monte Carlo bound clears it, with
every replication; candidates far below a goal are dropped after
`screen_replications` (see `candidates.py`). No goal is relaxed at any step.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig
from scipy.special import ndtri

from trialsim.analysis.costs import cost_summary
from trialsim.experiments.allocation_lever import ratio_changes
from trialsim.experiments.candidates import (
    Z_SCREEN,
    Candidate,
    Decision,
    Evaluator,
    mean_se,
    share,
)
from trialsim.experiments.design_check import (
    delivery_and_review,
    edge_note,
    ot_load,
    ot_note,
    ots_needed,
)
from trialsim.experiments.design_costs import cost_of, idle_note, per_participant, ranking_cost
from trialsim.experiments.design_costs import frontier as cost_frontier
from trialsim.experiments.design_variants import run_variants
from trialsim.experiments.fitted_n import FittedN, fitted_ns, pick
from trialsim.experiments.fitted_sites import NEAR, fitted_sites, probit
from trialsim.experiments.fitted_walk import walk_count
from trialsim.experiments.power_guess import PowerGuess
from trialsim.experiments.runner import outcome_only, workers
from trialsim.experiments.search import first_passing, smallest
from trialsim.inputs import check_sensitivity
from trialsim.inputs.allocation_ratio import parse_ratio
from trialsim.inputs.compose import with_changes
from trialsim.inputs.design_settings import (
    FRONTIER_LEVELS,
    SITE_KINDS,
    DesignSettings,
    build_design,
)
from trialsim.inputs.params import build_params, build_run_settings
from trialsim.inputs.workload import expected_randomised
from trialsim.reporting.outputs import DESIGN, publish_files, write_json_atomic
from trialsim.reporting.precision import FEW_TRIALS
from trialsim.units import DAYS_PER_MONTH, months_to_days

__all__ = ["DesignSearch", "run_design", "smallest", "check_seed"]

RULE = "smallest N, then fewest ESW-months, then fewest service-months"
RULE_COST = ("lowest expected total cost (costs.*) among designs meeting every goal, ranked by "
             "a quick cost and simulated in full down the ranking")
CHECK_ATTEMPTS = 4  # objective=cost: designs checked before giving up on confirmation


def check_seed(seed: int) -> int:
    """A fresh seed for the check run, derived from `seed` (so reproducible) and never
    equal to it."""
    fresh = int(np.random.SeedSequence([seed, zlib.crc32(b"design/check")])
                .generate_state(1)[0])
    return fresh if fresh != seed else fresh + 1


def _record(step: str, c: Candidate | None = None, **values: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"step": step}
    if c is not None:
        rec.update(target_n=c.target_n, esw_per_locality=c.esw, sites=c.sites, months=c.months)
        if c.fte != 1.0:
            rec["fte"] = c.fte
        if c.ratio:
            rec["allocation_ratio"] = c.ratio
    rec.update(values)
    return rec


class DesignSearch:
    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.settings = build_run_settings(cfg)
        self.d: DesignSettings = build_design(cfg)
        self.base = base = build_params(cfg)
        self.localities = base.localities
        self.scenario_sites = int(cfg.sites[self.d.site_kind].count)
        self.scenario_esw = base.delivery.esw_per_locality
        self.uncertainty_on = base.uncertainty is not None
        dl = base.delivery
        support = dl.support_days + dl.in_work_support_days if math.isfinite(dl.support_days) \
            else months_to_days(max(base.follow_up.months))
        self.support_days = dl.first_appointment_mean_days + support
        # the search reads no tipping point or light of its trials: the check's do
        self.ev = Evaluator(cfg, self.settings, self.d, tipping_and_review=False)
        self.ratios = self.d.allocation_ratios  # each searched like the ESWs: its own frontier
        self.guesses = {r: PowerGuess.from_params(self._params_at(r), self.d.uncertain)
                        for r in self.ratios}
        self.guess = self.guesses[self.ratios[0]]
        self._decided: dict[tuple[int, int, str], Decision] = {}  # (N, ESW/loc, ratio)
        self.log: list[dict[str, Any]] = []
        self._logged: dict[tuple[int, int, str], int] = {}  # power decision -> its record
        self._expected_ratio = 1.15  # sites guide: expected recruits per target N at first
        self.recruitable_n: int | None = None  # the largest N any design recruits
        self.unit = base.costs
        self.by_cost = self.d.objective == "cost"

    def _params_at(self, ratio: str):
        """The scenario's parameters at IPS:TAU `ratio` (blocks that hold it)."""
        return build_params(with_changes(self.cfg, ratio_changes(self.cfg, parse_ratio(ratio))))

    # --- 1. power frontier --------------------------------------------------------------
    def _power(self, n: int, e: int, ratio: str, full: bool = False) -> Decision:
        """The criterion at N = n, e ESWs per locality and `ratio`, window unconstrained
        (decided once: a second call returns the first decision, logged once). `full`:
        decided with every replication, never at the screen, a decision screened out
        before made again and its record replaced (a frontier N the fitted curve picks
        rests on every replication, as the grid rule's does)."""
        key = (n, e, ratio)
        before = self._decided.get(key)
        if before is not None and not (full and before.screened_out):
            return before
        d = self.d
        c = Candidate(n, e, self.scenario_sites, None, d.uncertain, ratio=ratio)
        if full:
            self.ev.trials(c, self.settings.replications, "power")
        get = lambda r: self.ev.trials(c, r, "power")["primary_reject"]  # noqa: E731
        dec = self.ev.decide(get, d.target_power, self.ev.available(c))
        cols = self.ev.trials(c, dec.replications, "power")
        hits = int(cols["primary_reject"].sum())
        if before is None:  # the guess has seen this candidate's screen already
            self.guesses[ratio].observe(n, e * self.localities, hits, dec.replications,
                                        cols["primary_se"], cols["primary_true"])
        values = {d.criterion: dec.estimate, f"{d.criterion}_mc_se": dec.mc_se}
        if self.uncertainty_on:  # the other of power / assurance, beside it
            other = "power" if d.uncertain else "assurance"
            flags = self.ev.trials(dataclasses.replace(c, uncertain=not d.uncertain),
                                   dec.replications, "power")["primary_reject"]
            values[other], values[f"{other}_mc_se"] = share(flags)
        record = _record("power", c, esws=e * self.localities, replications=dec.replications,
                         goal=d.criterion, passes=dec.passes, screened_out=dec.screened_out,
                         **values)
        if before is None:
            self._logged[key] = len(self.log)
            self.log.append(record)
        else:
            self.log[self._logged[key]] = record
        self._decided[key] = dec
        return dec

    def frontier(self) -> list[dict[str, Any]]:
        """Each ratio's frontier, one after the other (every entry names its ratio),
        down to the first count that needs more N than any design in the grid recruits."""
        self.recruitable_n = self._recruitable()
        out: list[dict[str, Any]] = []
        for r in self.ratios:
            out += self._frontier_at(r)
        return out

    def _recruitable(self) -> int | None:
        """The largest N of the grid that the most sites of the grid recruit within the
        longest window (P(target) cleared as in step 2). No design in the grid has a
        larger N (fewer sites or a shorter window recruit no faster: step 2's own
        assumption), so once a count needs more, fewer ESWs (which need more still) are
        not searched, and the check's step up stops there. None where not even the
        smallest N is recruitable: then nothing is cut (the whole frontier is searched,
        as before, and the binding goal reported). Read off one recruitment
        run of the most sites to the grid's largest N, which step 2 then reuses
        (recruitment before the close does not depend on the target, to the last bit);
        its decisions are logged with `purpose` "recruitable_n"."""
        d, grid = self.d, self.d.n_grid
        top = len(grid) - 1  # index i tests grid[top - i]: passing grows as N falls
        idx = first_passing(len(grid), lambda i: self._prob_target(
            grid[top - i], d.sites_grid[-1], d.months_grid[-1], up_to=grid[-1],
            purpose="recruitable_n").passes, 0)
        return None if idx is None else grid[top - idx]

    def _recruitable_at(self, n: int) -> bool:
        """Whether N = n is within what some design in the grid recruits (always, where
        `_recruitable` found none: nothing is cut then)."""
        return self.recruitable_n is None or n <= self.recruitable_n

    def _frontier_at(self, ratio: str) -> list[dict[str, Any]]:
        d, grid = self.d, self.d.n_grid
        guess = self.guesses[ratio]
        decided: dict[tuple[int, int], Decision] = {}
        level = d.target_power + d.z * math.sqrt(
            d.target_power * (1 - d.target_power) / self.settings.replications)
        target = int(self.cfg.trial.target_n)
        default = min(range(len(grid)), key=lambda i: abs(grid[i] - target))
        out: list[dict[str, Any]] = []
        lo = gfloor = 0  # the walk's floor; the grid rule's (`_settle`)
        floor_n: int | None = None  # the final N of the count above
        for pos, e in enumerate(reversed(d.esw_grid)):
            k = e * self.localities

            def passes(i: int, e: int = e) -> bool:
                if (grid[i], e) not in decided:
                    decided[(grid[i], e)] = self._power(grid[i], e, ratio)
                return decided[(grid[i], e)].passes

            def guide(k: int = k) -> int:
                return guess.index(grid, k, level, default)

            def start(k: int = k, pos: int = pos, lo: int = lo) -> int:
                """Where the guess starts this count: where it points for the most
                ESWs; for fewer, the last answer shifted as the guess shifts (its level
                is less sure than its slope)."""
                if pos == 0:
                    return guide()
                return lo + max(0, guide() - guess.index(grid, k + self.localities, level,
                                                         default))

            by_grid = d.pick_n == "grid"
            if not by_grid:  # probe where the curve places the answer
                idx, by_grid = walk_count(
                    len(grid), lo, partial(self._curve_index, e, ratio, start),
                    lambda i, e=e: (grid[i], e) in decided, passes,
                    lambda passes=passes, start=start, lo=lo: first_passing(
                        len(grid), passes, min(start(), len(grid) - 1), lo=lo))
            elif pos == 0:  # the most ESWs: start where the guess points, refit as it goes
                idx = first_passing(len(grid), passes, guide(), guide=guide, guided=2)
            else:  # fewer: from the last answer, shifted as the guess shifts
                idx = first_passing(len(grid), passes, start(), lo=lo)
            if idx is not None and not by_grid:  # the curve's N, on every replication
                decided[(grid[idx], e)] = self._power(grid[idx], e, ratio, full=True)
            if idx is None:
                out.append({"esw_per_locality": e, "esws": k, "allocation_ratio": ratio,
                            **self._none(e, ratio)})
                out += self._not_searched(pos, ratio)  # fewer ESWs cannot do better
                break
            dec = decided[(grid[idx], e)]
            row = {"esw_per_locality": e, "esws": k, "allocation_ratio": ratio,
                   "target_n": grid[idx], "searched": True, d.criterion: dec.estimate,
                   f"{d.criterion}_mc_se": dec.mc_se,
                   # the grid rule's N, where the walk searched for it
                   "grid_n": grid[idx] if by_grid else None}
            lo = idx
            out.append(row)
            settled = self._settle(row, ratio, gfloor, floor_n)
            if settled is None:  # none after all: fewer ESWs cannot do better
                out += self._not_searched(pos, ratio)
                break
            gfloor, floor_n = grid.index(settled), row["target_n"]
            if not self._recruitable_at(floor_n):  # no design recruits that N: fewer
                out += self._not_searched(pos, ratio, beyond=True)  # ESWs need more still
                break
        return out

    def _not_searched(self, pos: int, ratio: str, beyond: bool = False) -> list[dict]:
        """The ESW counts below position `pos` of the walk, not searched: fewer ESWs
        cannot do better than none, nor need less N than a count above them (`beyond`:
        more than any design in the grid recruits, `_recruitable`)."""
        grid = self.d.esw_grid
        return [{"esw_per_locality": f, "esws": f * self.localities, "allocation_ratio": ratio,
                 "target_n": None, "searched": False,
                 **({"beyond_recruitable": self.recruitable_n} if beyond else {})}
                for f in reversed(grid[:len(grid) - pos - 1])]

    def _settle(self, row: dict[str, Any], ratio: str, gfloor: int,
                floor_n: int | None) -> int | None:
        """The walked count's final N, in `row`, as soon as it is walked: its curve
        (`_fitted`) rests on its own points and those of counts with more ESWs, so
        nothing searched after it can move it. With design.pick_n=fitted: where the walk's
        N came from the curve but the curve, refitted with that N decided in full, no
        longer places the count, the grid rule's N from the N of the count above
        (`gfloor`, the decisions made so far reused; None, and the row is none, if no N
        in the grid passes); then the curve's N where it places the count, else that N,
        never below the final N of the count above (`floor_n`: power never falls with
        more ESWs), decided with every replication. Returns the N before that last step
        (the next count's grid rule starts from it)."""
        d, crit, grid = self.d, self.d.criterion, self.d.n_grid
        e = row["esw_per_locality"]
        fit = self._fitted(ratio, e)
        if d.pick_n == "fitted" and row["grid_n"] is None and (fit is None or
                                                               fit.grid_n is None):
            idx = first_passing(len(grid), lambda i: self._power(grid[i], e, ratio).passes,
                                max(grid.index(row["target_n"]), gfloor), lo=gfloor)
            if idx is None:
                for key in (crit, f"{crit}_mc_se"):
                    row.pop(key, None)
                row.update(self._none(e, ratio))  # through the grid rule's points too
                return None
            dec = self._power(grid[idx], e, ratio)
            row.update({"target_n": grid[idx], "grid_n": grid[idx], crit: dec.estimate,
                        f"{crit}_mc_se": dec.mc_se})
            fit = self._fitted(ratio, e)  # through the grid rule's points too
        settled = row["target_n"]
        if fit is not None:
            row.update(fit.record())
        placed = fit is not None and fit.grid_n is not None
        row["pick_n"] = d.pick_n if placed else "grid"
        if d.pick_n == "fitted":
            n = pick({e: settled}, {e: fit} if fit is not None else {}, floor_n)[e]
            dec = self._power(n, e, ratio, full=True)
            row.update({"target_n": n, crit: dec.estimate, f"{crit}_mc_se": dec.mc_se})
        return settled

    def _none(self, e: int, ratio: str) -> dict[str, Any]:
        """A count with no N in the grid: the power at the largest N tried (power rises
        with N: a higher estimate at a smaller N is noise), with its replications (the
        screen's, where it failed there), and its fitted curve's N where one fits."""
        tried = [(n, dec) for (n, ee, r), dec in self._decided.items() if ee == e and r == ratio]
        n, dec = max(tried, key=lambda t: t[0]) if tried else (None, None)
        fit = self._fitted(ratio, e)
        return {"target_n": None, "searched": True, "grid_n": None, "best_n": n,
                "best": dec.estimate if dec else None, "best_mc_se": dec.mc_se if dec else None,
                "best_replications": dec.replications if dec else None,
                **(fit.record() if fit is not None else {})}

    def _curve_index(self, e: int, ratio: str, guess: Callable[[], int]) -> tuple[int, bool]:
        """The grid index where count e's fitted power curve (`_fitted`: through the power
        points at `ratio` of the counts with at least e ESWs per locality) places its N
        (the grid's length: not within it) and True; the guess's and False while the
        count has no point of its own or no curve fits."""
        grid = self.d.n_grid
        f = self._fitted(ratio, e)
        if f is not None:
            return (len(grid) if f.grid_n is None else grid.index(f.grid_n)), True
        return guess(), False

    def _fitted(self, ratio: str, count: int) -> FittedN | None:
        """ESW count `count`'s N on the fitted power curve (`fitted_n.py`) through every
        power point at the scenario's sites and `ratio` of the counts with at least
        `count` ESWs per locality: the points simulated by the time the walk (from the
        most ESWs down) settles the count, so that its N never depends on the counts
        searched after it, nor on how far down the walk goes. None where the count has
        no point of its own or no curve fits."""
        d = self.d
        points, outcomes = self.ev.power_points(self.scenario_sites, d.uncertain, ratio)
        keep = [i for i, p in enumerate(points) if p[1] >= count]
        if not any(points[i][1] == count for i in keep):
            return None
        return fitted_ns([points[i] for i in keep], d.target_power, d.n_grid, d.z,
                         [outcomes[i] for i in keep]).get(count)

    # --- 2. sites per window ------------------------------------------------------------
    def _prob_target(self, n: int, sites: int, months: float, up_to: int = 0,
                     purpose: str | None = None) -> Decision:
        """P(target n within `months`) with `sites`, decided; the recruitment runs go to
        N `up_to` at least, and the record names its `purpose` where given."""
        d = self.d
        get = lambda r: self.ev.reached(  # noqa: E731
            self.ev.recruitment(sites, d.uncertain, r, up_to), n, months)
        dec = self.ev.decide(get, d.prob_target,
                             self.ev.recruitment_available(sites, d.uncertain, up_to))
        self.log.append(_record("sites", None, target_n=n, esw_per_locality=None, sites=sites,
                                months=months, replications=dec.replications,
                                prob_target=dec.estimate, prob_target_mc_se=dec.mc_se,
                                goal="prob_target", passes=dec.passes,
                                screened_out=dec.screened_out,
                                **({"purpose": purpose} if purpose else {})))
        return dec

    def sites(self, ns: list[int]) -> dict[tuple[int, float], int | None]:
        d, grid = self.d, self.d.sites_grid
        self.ev.recruit_up_to(max(ns))
        found: dict[tuple[int, float], int | None] = {}
        level = d.prob_target + d.z * math.sqrt(
            d.prob_target * (1 - d.prob_target) / self.settings.replications)
        for a, n in enumerate(ns):
            for b, m in enumerate(d.months_grid):
                floor = found[(ns[a - 1], m)] if a else None  # a smaller N needs no more
                if a and floor is None:
                    found[(n, m)] = None
                    continue
                cap = found[(n, d.months_grid[b - 1])] if b else None  # nor a longer window
                lo = grid.index(floor) if floor is not None else 0
                hi = grid.index(cap) if cap is not None else None
                cached = self.ev.recruitment_cached(d.uncertain)  # sites -> P(target), so far
                seen = {s: share(self.ev.reached(runs, n, m))[0] for s, runs in cached.items()}
                decided: dict[int, bool] = {}

                def passes(i: int, n: int = n, m: float = m, decided=decided, seen=seen) -> bool:
                    if i not in decided:
                        dec = self._prob_target(n, grid[i], m)
                        decided[i], seen[grid[i]] = dec.passes, dec.estimate
                    return decided[i]

                if hi is None:  # the most sites first, screened: a window they cannot fill
                    top = self._screen_prob_target(n, grid[-1], m)  # is done at once
                    if top is None:
                        found[(n, m)] = None
                        continue
                    seen[grid[-1]] = top
                expected = self._expected(n, m)
                guide = partial(self._sites_guide, grid, expected, seen, n, level)
                idx = first_passing(len(grid), passes, max(guide(), lo), lo=lo, hi=hi,
                                    guide=guide)
                found[(n, m)] = grid[idx] if idx is not None else None
                if idx is not None:
                    self._expected_ratio = expected[idx] / n
        return found

    def _screen_prob_target(self, n: int, sites: int, months: float) -> float | None:
        """P(target) with `sites` at screening (or with every replication if they are
        simulated already), or None (logged) when it fails there."""
        d, ev = self.d, self.ev
        reps = max(ev.screen, min(ev.recruitment_available(sites, d.uncertain),
                                  ev.replications))
        est, se = share(ev.reached(ev.recruitment(sites, d.uncertain, reps), n, months))
        screened = reps < ev.replications
        fails = (est + Z_SCREEN * se < d.prob_target if screened
                 else est - d.z * se < d.prob_target)
        if fails:
            self.log.append(_record("sites", None, target_n=n, esw_per_locality=None,
                                    sites=sites, months=months, replications=reps,
                                    prob_target=est, prob_target_mc_se=se,
                                    goal="prob_target", passes=False, screened_out=screened))
            return None
        return est

    def _expected(self, n: int, months: float) -> list[float]:
        """Expected recruits within `months` (every random element at its mean) for each
        number of sites in the grid: the scale on which the sites guide interpolates."""
        base = dataclasses.replace(self.base, window_days=months * DAYS_PER_MONTH)
        out = []
        for s in self.d.sites_grid:
            types = tuple(dataclasses.replace(st, count=s) if st.name == self.d.site_kind
                          else st for st in base.site_types)
            out.append(expected_randomised(dataclasses.replace(base, site_types=types)))
        return out

    def _sites_guide(self, grid, expected: list[float], seen: dict[int, float], n: int,
                     level: float) -> int:
        """The first number of sites whose P(target) should reach `level`: P(target) is
        taken as linear in expected recruits on the probit scale, through the two
        simulated points nearest the level (with none near it: as many expected recruits
        per target as the last window solved needed, at first 15% above N)."""
        reps = self.settings.replications
        t = float(ndtri(level))
        pts = sorted((expected[grid.index(s)], probit(p, reps)) for s, p in seen.items())
        pts = [(x, y) for x, y in pts if abs(y - t) < NEAR]  # near the level: nearly linear
        if len({x for x, _ in pts}) < 2:  # as many expected per target as the last answer
            goal_e = self._expected_ratio * n
        else:
            below = [p for p in pts if p[1] < t]
            above = [p for p in pts if p[1] >= t]
            pair = (below[-1], above[0]) if below and above else \
                (pts[-2], pts[-1]) if below else (pts[0], pts[1])
            (x0, y0), (x1, y1) = pair
            goal_e = x1 if y1 == y0 else x0 + (t - y0) * (x1 - x0) / (y1 - y0)
        return next((i for i, e in enumerate(expected) if e >= goal_e), len(grid) - 1)

    # --- 3. feasible designs, their waits, the recommendation -----------------------------
    def _wait(self, c: Candidate, reps: int) -> dict[str, Any]:
        cols = self.ev.trials(c, reps, "design")
        wait, wait_se = mean_se(cols[f"delivery_{self.d.wait_statistic}_wait_days"])
        power, power_se = share(cols["primary_reject"])
        pt, pt_se = share(cols["target_reached"])
        return {"replications": reps, "wait_days": wait, "wait_mc_se": wait_se,
                f"{self.d.criterion}_at_window": power,
                f"{self.d.criterion}_at_window_mc_se": power_se,
                "prob_target_direct": pt, "prob_target_direct_mc_se": pt_se}

    def designs(self, front: list[dict[str, Any]],
                sites: dict[tuple[int, float], int | None]) -> list[dict[str, Any]]:
        d = self.d
        rows = []
        for f in front:
            n, e, ratio = f["target_n"], f["esw_per_locality"], f["allocation_ratio"]
            if n is None:
                continue
            at = Candidate(n, e, self.scenario_sites, None, d.uncertain, ratio=ratio)
            power_runs = self.ev.trials(at, max(1, self.ev.available(at)), "power")
            per_head = per_participant(power_runs)
            for m in d.months_grid:
                s = sites.get((n, m))
                if s is None:
                    continue
                runs = self.ev.recruitment(s, d.uncertain, self.settings.replications)
                pt, pt_se = share(self.ev.reached(runs, n, m))
                res = self.ev.resources(runs, n, m, f["esws"], self.support_days)
                for fte in d.esw_fte:
                    rows.append({
                        "target_n": n, "esw_per_locality": e, "esws": f["esws"], "fte": fte,
                        "allocation_ratio": ratio, "sites": s, "months": m,
                        d.criterion: f[d.criterion],
                        f"{d.criterion}_mc_se": f[f"{d.criterion}_mc_se"],
                        "prob_target": pt, "prob_target_mc_se": pt_se, **res,
                        "ranking_cost": ranking_cost(self.unit, self.base, n, f["esws"], fte,
                                                     per_head, res)})
        if self.by_cost:
            rows.sort(key=lambda r: (r["ranking_cost"], r["target_n"], r["months"], r["sites"],
                                     r["allocation_ratio"]))
        else:
            rows.sort(key=lambda r: (r["target_n"], r["esw_months"], r["service_months"],
                                     r["months"], r["sites"], -r["fte"], r["allocation_ratio"]))
        for rank, row in enumerate(rows, 1):
            row.update(rank=rank, replications=None, wait_days=None, wait_mc_se=None,
                       wait_ok=None, feasible=None, cost=None, cost_mc_se=None, cost_p5=None,
                       cost_p95=None, utilisation=None, peak_caseload=None)
        return rows

    def recommend(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The first design down the ranking that meets the wait goal, the utilisation
        floor and (a fractional post holds fewer places, so IPS may wait longer) the
        criterion again in its own full simulation."""
        d = self.d
        column = f"delivery_{d.wait_statistic}_wait_days"
        for row in rows:
            if row["feasible"] is not None:  # simulated already (an earlier attempt)
                if row["feasible"]:
                    return row
                continue
            c = Candidate(row["target_n"], row["esw_per_locality"], row["sites"], row["months"],
                          d.uncertain, row["fte"], row["allocation_ratio"])
            get = lambda r, c=c: self.ev.trials(c, r, "design")[column]  # noqa: E731
            dec = self.ev.decide(get, d.max_wait_days, self.ev.available(c), higher=False,
                                 stat=mean_se)
            row.update(self._wait(c, dec.replications))
            cols = self.ev.trials(c, dec.replications, "design")
            row.update(cost_of(cols))
            util_ok = (row["utilisation"] or 0.0) >= d.min_utilisation \
                if d.min_utilisation > 0 else True
            power_ok = True
            if row["fte"] != 1.0 and dec.passes:
                pget = lambda r, c=c: self.ev.trials(c, r, "design")["primary_reject"]  # noqa: E731
                power_ok = self.ev.decide(pget, d.target_power, self.ev.available(c)).passes
            row["wait_ok"] = dec.passes
            row["utilisation_ok"] = util_ok
            row["feasible"] = dec.passes and util_ok and power_ok
            self.log.append(_record("design", c, esws=row["esws"],
                                    replications=dec.replications, wait_days=dec.estimate,
                                    wait_mc_se=dec.mc_se, goal="wait", passes=row["feasible"],
                                    screened_out=dec.screened_out,
                                    prob_target=row["prob_target_direct"],
                                    prob_target_mc_se=row["prob_target_direct_mc_se"],
                                    cost=row["cost"], utilisation=row["utilisation"],
                                    **{d.criterion: row[f"{d.criterion}_at_window"],
                                       f"{d.criterion}_mc_se":
                                           row[f"{d.criterion}_at_window_mc_se"]}))
            if row["feasible"]:
                return row
        return None

    # --- 4. check run -------------------------------------------------------------------
    def check(self, rec: dict[str, Any]) -> dict[str, Any]:
        d = self.d
        seed = check_seed(self.settings.seed)
        ev = Evaluator(self.cfg, self.settings, d, seed=seed, tipping_and_review=True)
        c = Candidate(rec["target_n"], rec["esw_per_locality"], rec["sites"], rec["months"],
                      d.uncertain, rec.get("fte", 1.0), rec.get("allocation_ratio") or "",
                      rec.get("ot_count", 0))  # the OTs staffed to demand (ots_needed)
        reps = d.check_replications
        sens = [Evaluator(with_changes(self.cfg, {key: value}), self.settings, d, seed=seed,
                          tipping_and_review=False) for key, value in d.check_sensitivity]
        shared = outcome_only(ev.params(c), [e.params(c) for e in sens])
        reused: dict[int, dict[str, np.ndarray]] = {}
        if shared:  # check_replications >= 100: the variants' replications are the check's
            got = ev.trials_with_outcomes(c, reps, "check",
                                          tuple(sens[i].params(c) for i in shared),
                                          check_sensitivity.replications(reps), "sensitivity",
                                          variants_tipping_and_review=False)
            reused = dict(zip(shared, got, strict=True))
        cols = ev.trials(c, reps, "check")
        spent = cost_of(cols)
        self.ev.add_work(ev)
        p, p_se = share(cols["primary_reject"])
        reached = cols["target_reached"] == 1
        p_r, p_r_se = share(cols["primary_reject"][reached]) if reached.any() else (None, None)
        pt, pt_se = share(cols["target_reached"])
        wait, wait_se = mean_se(cols[f"delivery_{d.wait_statistic}_wait_days"])
        z = d.z
        # the criterion's goal is for a trial of N (the search's trials all reach it): judged
        # on the check's trials that reached N (all of them if none did)
        q, q_se = (p_r, p_r_se) if p_r is not None else (p, p_se)
        out = {"seed": seed, "replications": reps, d.criterion: p, f"{d.criterion}_mc_se": p_se,
               **delivery_and_review(cols, self.base, rec["months"]),
               f"{d.criterion}_of_n": q, f"{d.criterion}_of_n_mc_se": q_se,
               f"{d.criterion}_if_target_reached": p_r,
               f"{d.criterion}_if_target_reached_mc_se": p_r_se,
               "prob_target": pt, "prob_target_mc_se": pt_se, "wait_days": wait,
               "wait_mc_se": wait_se, **spent,
               **cost_summary(cols, self.unit, self.base.channel_names()),
               # met within Monte Carlo error: not below the goal by more than z SEs
               "meets": {d.criterion: q + z * q_se >= d.target_power,
                         "prob_target": pt + z * pt_se >= d.prob_target,
                         "wait": wait - z * (wait_se or 0.0) <= d.max_wait_days},
               # confirmed: the point estimate itself meets the goal
               "confirmed": {d.criterion: q >= d.target_power,
                             "prob_target": pt >= d.prob_target,
                             "wait": wait <= d.max_wait_days}}
        out["sensitivity_unchanged"], out["sensitivity"] = self._sensitivity(c, cols, sens,
                                                                             reused)
        self.log.append(_record("check", c, esws=rec["esws"], replications=reps, seed=seed,
                                prob_target=pt, prob_target_mc_se=pt_se, wait_days=wait,
                                wait_mc_se=wait_se, goal=None, passes=all(out["meets"].values()),
                                screened_out=False,
                                **{d.criterion: p, f"{d.criterion}_mc_se": p_se}))
        return out

    def _sensitivity(self, c: Candidate, check: dict[str, np.ndarray],
                     evaluators: list[Evaluator], reused: dict[int, dict[str, np.ndarray]]
                     ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The check's design again with one input changed at a time
        (`design.check_sensitivity`, `check_sensitivity.py`; `evaluators`, one a change, on
        the check's seed), on the first of the check's seeds: its criterion among the
        trials that reached N, and P(target); and the same of the check's own trials on
        those seeds (`check`'s first ones, nothing changed), against which each change is
        read, paired trial by trial. A change of the outcome model alone was drawn on the
        check's own pathways as the check ran (`reused`, by position: the trials a run of
        its own gives, to the last bit, each pathway simulated once). A criterion among
        fewer than FEW_TRIALS trials reaching N is not quoted (None)."""
        d, crit = self.d, self.d.criterion
        reps = check_sensitivity.replications(d.check_replications)
        if not d.check_sensitivity:
            return None, []
        base = {k: v[:reps] for k, v in check.items()}
        unchanged = {"replications": reps, **_sensitivity_shares(base, crit)}
        out = []
        for i, ((key, value), ev) in enumerate(zip(d.check_sensitivity, evaluators,
                                                   strict=True)):
            cols = reused.get(i)
            if cols is None:
                cols = ev.trials(c, reps, "sensitivity")
                self.ev.add_work(ev)
            out.append({"key": key, "value": value, "replications": reps,
                        **_sensitivity_shares(cols, crit),
                        **_paired_change(cols, base, crit)})
        return unchanged, out

    # --- when nothing is feasible ---------------------------------------------------------
    def binding(self, front, sites, rows) -> dict[str, str] | None:
        d = self.d
        crit = d.criterion
        if not any(f["target_n"] is not None for f in front):
            top = next(f for f in front if f["searched"])
            e, n = top["esw_per_locality"], top.get("best_n")
            guess = self.guesses[top["allocation_ratio"]]
            at = f" at IPS:TAU {top['allocation_ratio']}" if len(self.ratios) > 1 else ""
            top_n = d.n_grid[-1]
            msg = (f"{crit} {top['best']:.2f} at N {n} with {e} ESW(s) per locality "
                   f"({top['esws']} ESWs){at}: no N up to {top_n} reaches "
                   f"{d.target_power:g}")
            level = d.target_power + d.z * math.sqrt(
                d.target_power * (1 - d.target_power) / self.settings.replications)
            step = d.n_grid[1] - d.n_grid[0] if len(d.n_grid) > 1 else 20
            more_n = guess.smallest_n(top["esws"], level, step, top_n + step)
            k = self.localities
            more_e = next((f for f in range(e + 1, 1001)
                           if guess.power(top_n, f * k) >= level), None)
            hints = []
            if more_e is not None:
                hints.append(f"{more_e} ESWs per locality at N {top_n}")
            if more_n is not None:
                hints.append(f"N {more_n} with {e} ESWs per locality")
            if not hints:  # neither alone: both
                for f in (2 * e, 4 * e, 8 * e, 16 * e, 32 * e):
                    n = guess.smallest_n(f * k, level, step, top_n + step)
                    if n is not None and f <= 1000:
                        hints.append(f"N {n} with {f} ESWs per locality")
                        break
            if hints:
                msg += ("; the design-effect approximation fitted to these runs suggests "
                        + " or ".join(hints) + " (not simulated: raise "
                        "design.max_esw_per_locality or design.n_stop)")
            return {"goal": crit, "message": msg}
        if not rows:
            best = max((e for e in self.log if e["step"] == "sites"
                        and e.get("purpose") != "recruitable_n"),  # a frontier N's only
                       key=lambda e: e["prob_target"], default=None)
            msg = "no window in design.months recruits a frontier N with P(target) >= " \
                  f"{d.prob_target:g}"
            if best is not None:
                msg = (f"P(target) {best['prob_target']:.2f} at best (N {best['target_n']}, "
                       f"{best['sites']} {d.site_kind}, {best['months']:g} months): " + msg +
                       f" with up to {d.sites_grid[-1]} {d.site_kind}; try longer "
                       f"design.months, faster openings (sites.{d.site_kind}.opening."
                       "interval_months) or more ESWs for a smaller N")
            return {"goal": "prob_target", "message": msg}
        best = min(rows, key=lambda r: r["wait_days"])
        return {"goal": "wait",
                "message": f"{d.wait_statistic} wait {best['wait_days']:.1f} days at best "
                           f"(N {best['target_n']}, {best['esw_per_locality']} ESW(s) per "
                           f"locality): above {d.max_wait_days:g}; raise "
                           "design.max_esw_per_locality or delivery.esw.caseload"}

    def _at(self, f: dict[str, Any], n: int) -> dict[str, Any]:
        """Frontier entry `f` (an ESW count and its smallest N) as a design with N = n: its
        own search estimate there (simulated if n is above its smallest N)."""
        if f["target_n"] == n:
            return f
        dec = self._power(n, f["esw_per_locality"], f["allocation_ratio"])
        return {**f, "target_n": n, self.d.criterion: dec.estimate,
                f"{self.d.criterion}_mc_se": dec.mc_se}

    # --- the whole search ---------------------------------------------------------------
    def _recommended(self, row: dict[str, Any]) -> dict[str, Any]:
        d = self.d
        rec = {k: row.get(k) for k in (
            "target_n", "esw_per_locality", "esws", "fte", "allocation_ratio", "sites", "months",
            d.criterion,
            f"{d.criterion}_mc_se", "prob_target", "prob_target_mc_se", "wait_days",
            "wait_mc_se", "service_months", "esw_months", "recruiting_months", "ranking_cost",
            "cost", "cost_mc_se", "cost_p5", "cost_p95", "utilisation", "peak_caseload")}
        rec["localities"] = self.localities
        rec["idle"] = idle_note(row.get("utilisation"), d.min_utilisation,
                                row.get("fte") or 1.0, d.esw_fte)
        ips = rec["target_n"] * parse_ratio(row.get("allocation_ratio") or "1:1").ips_share
        rec["ot_load"] = ot_load(self.base, ips, row.get("recruiting_months") or 0.0)
        rec["ot_note"] = ot_note(rec["ot_load"], self.base)
        rec["ot_count"] = ots_needed(rec["ot_load"], self.base)
        rec["edge"] = edge_note(rec, d, d.site_kind)
        return rec

    def _attempt(self, row: dict[str, Any], check: dict[str, Any]) -> dict[str, Any]:
        crit = self.d.criterion
        return {"target_n": row["target_n"], "esw_per_locality": row["esw_per_locality"],
                "fte": row["fte"], "allocation_ratio": row["allocation_ratio"],
                "sites": row["sites"], "months": row["months"], "search": row[crit],
                "check": check[crit + "_of_n"],
                "check_mc_se": check[crit + "_of_n_mc_se"],
                "confirmed": check["confirmed"][crit]}

    def _smallest_n_search(self, front):
        """Today's rule: sites and months for the smallest N alone; if the check run does
        not confirm the criterion there, the next N of the grid. The rule puts the
        smallest N first, and a design with it exists if any does (a larger N has fewer
        ESWs: slower to recruit, longer waits)."""
        d = self.d
        ns = sorted({f["target_n"] for f in front if f["target_n"] is not None})
        found: dict[tuple[int, float], int | None] = {}
        rows: list[dict[str, Any]] = []
        recommended = check = None
        attempts: list[dict[str, Any]] = []
        n = ns[0] if ns else None
        while n is not None:
            found = self.sites([n])
            at_n = [self._at(f, n) for f in front
                    if f["target_n"] is not None and f["target_n"] <= n]
            rows = self.designs(at_n, found) if found else []
            rec_row = self.recommend(rows) if rows else None
            if rec_row is None:
                break
            recommended = self._recommended(rec_row)
            check = self.check(recommended)
            attempts.append(self._attempt(rec_row, check))
            bigger = [m for m in d.n_grid if m > n]
            if check["confirmed"][d.criterion] or not bigger or not self._recruitable_at(
                    bigger[0]):  # no design recruits the next N: this attempt stands
                break
            n = bigger[0]
        return found, rows, recommended, check, attempts

    def _cost_search(self, front):
        """objective=cost: every ESW count's smallest N, the fewest sites for it in each
        window, each FTE: ranked by the quick cost and simulated in full down the ranking
        until one meets every goal; if its check run does not confirm the criterion,
        that ESW count's N moves to the next of the grid and the ranking is redone."""
        d = self.d
        at = [f for f in front if f["target_n"] is not None]
        found: dict[tuple[int, float], int | None] = {}
        rows: list[dict[str, Any]] = []
        recommended = check = None
        attempts: list[dict[str, Any]] = []
        for _ in range(CHECK_ATTEMPTS):
            if not at:
                break
            found = self.sites(sorted({f["target_n"] for f in at}))
            rows = self.designs(at, found)
            rec_row = self._cheapest(rows) if rows else None
            if rec_row is None:
                break
            recommended = self._recommended(rec_row)
            check = self.check(recommended)
            attempts.append(self._attempt(rec_row, check))
            bigger = [m for m in d.n_grid if m > rec_row["target_n"]]
            if check["confirmed"][d.criterion] or not bigger:
                break
            key = (rec_row["esw_per_locality"], rec_row["allocation_ratio"])
            if self._recruitable_at(bigger[0]):
                at = [self._at(f, bigger[0]) if (f["esw_per_locality"], f["allocation_ratio"])
                      == key else f for f in at]
            else:  # no design recruits the next N: the count's designs end here
                at = [f for f in at if (f["esw_per_locality"], f["allocation_ratio"]) != key]
        return found, rows, recommended, check, attempts

    def _cheapest(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        """objective=cost: down each ratio's own ranking to its first design meeting every
        goal, then the one of those whose full simulation costs least. Per ratio, so that
        a ratio added to design.allocation_ratios can only lower the recommendation's
        cost: the other ratios' designs are the ones their own search finds (the quick
        cost alone could rank a dearer design of one ratio above another's)."""
        found = [self.recommend([r for r in rows if r["allocation_ratio"] == ratio])
                 for ratio in self.ratios]
        found = [r for r in found if r is not None]
        return min(found, key=lambda r: r["cost"]) if found else None

    def _rule_design(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The design today's rule (objective=smallest_n) picks from these rows, simulated
        with the same seed: the comparison the cost objective reports."""
        ones = [dict(r) for r in rows if r["fte"] == 1.0]
        if not ones:
            return None
        n0 = min(r["target_n"] for r in ones)
        ranked = sorted((r for r in ones if r["target_n"] == n0),
                        key=lambda r: (r["esw_months"], r["service_months"], r["months"],
                                       r["sites"]))
        row = self.recommend(ranked)
        return self._recommended(row) if row is not None else None

    def _frontier_rows(self, front, rows) -> list[dict[str, Any]]:
        """Designs below each ESW count's smallest N (every N whose power run reached the
        lowest frontier level with every replication), with the fewest sites in each
        window: the frontier's cheaper, less powerful points (not simulated in full)."""
        crit, low = self.d.criterion, min(FRONTIER_LEVELS)
        smallest = {(f["esw_per_locality"], f["allocation_ratio"]): f["target_n"]
                    for f in front if f["target_n"] is not None}
        extra = {}
        for e in self.log:
            key = (e.get("esw_per_locality"), e.get("allocation_ratio"))
            if (e["step"] == "power" and not e["screened_out"] and e.get(crit) is not None
                    and e[crit] >= low and key in smallest and e["target_n"] < smallest[key]):
                extra[(e["target_n"], *key)] = {
                    "esw_per_locality": e["esw_per_locality"], "esws": e["esws"],
                    "allocation_ratio": e["allocation_ratio"],
                    "target_n": e["target_n"], crit: e[crit],
                    f"{crit}_mc_se": e[f"{crit}_mc_se"]}
        if not extra:
            return list(rows)
        found = self.sites(sorted({k[0] for k in extra}))
        more = self.designs(list(extra.values()), found)
        return list(rows) + more

    def run(self) -> dict[str, Any]:
        d, s = self.d, self.settings
        front = self.frontier()
        search = self._cost_search if self.by_cost else self._smallest_n_search
        found, rows, recommended, check, attempts = search(front)
        rule = self._rule_design(rows) if self.by_cost and rows else None
        points = self._frontier_rows(front, rows) if self.by_cost and rows else list(rows)
        ns = sorted({f["target_n"] for f in front if f["target_n"] is not None})
        rec_n = recommended["target_n"] if recommended else (ns[0] if ns else None)
        curves = self._recruitment_curves(rec_n) if rec_n is not None and found else []
        return {
            "mode": "design", "scenario": s.scenario, "replications": s.replications,
            "screen_replications": self.ev.screen, "seed": s.seed,
            "criterion": d.criterion, "site_kind": d.site_kind, "localities": self.localities,
            "scenario_sites": self.scenario_sites, "scenario_esw_per_locality": self.scenario_esw,
            "goals": {"criterion": d.criterion, "target_power": d.target_power,
                      "prob_target": d.prob_target, "max_wait_days": d.max_wait_days,
                      "wait_statistic": d.wait_statistic, "confidence_z": d.z,
                      "min_utilisation": d.min_utilisation},
            "objective": d.objective,
            "rule": RULE_COST if self.by_cost else RULE,
            "n_grid": list(d.n_grid), "esw_grid": list(d.esw_grid),
            "recruitable_n": self.recruitable_n,
            "esw_fte": list(d.esw_fte), "allocation_ratios": list(d.allocation_ratios),
            "pick_n": d.pick_n,
            "unit_costs": dataclasses.asdict(self.unit),
            "target_n": rec_n,
            "frontier": front,
            "sites_by_months": [{"target_n": n, "months": m, "sites": v,
                                 **(self._fitted_sites(n, m) if v is not None else {})}
                                for (n, m), v in found.items()],
            "designs": rows,
            "recommended": recommended,
            "smallest_n_design": rule,
            "cost_frontier": cost_frontier(points, d.criterion, FRONTIER_LEVELS, d.z),
            "check": check,
            "check_attempts": attempts,
            "binding": self.binding(front, found, rows) if recommended is None else None,
            "recruitment_curves": curves,
            "guess": {"variance_factor": math.exp(self.guess.log_c), "a": self.guess.a,
                      "b": self.guess.b},
            "guesses": {r: {"variance_factor": math.exp(g.log_c), "a": g.a, "b": g.b}
                        for r, g in self.guesses.items()},
            "work": self.ev.total_work(),
            "evaluations": self.log,
        }

    def _fitted_sites(self, n: int, months: float) -> dict[str, Any]:
        """The fitted P(target) curve's sites for N = n within `months`, with its interval
        (`fitted_sites.py`), through every number of sites simulated; {} if none fits."""
        d = self.d
        reached = {s: self.ev.reached(runs, n, months)
                   for s, runs in self.ev.recruitment_cached(d.uncertain).items()}
        fit = fitted_sites(reached, d.sites_grid, self._expected(n, months), d.prob_target,
                           d.z)
        return fit.record() if fit is not None else {}

    def _recruitment_curves(self, n: int) -> list[dict[str, Any]]:
        """P(target N within each window) against every number of sites simulated."""
        out = []
        for sites, runs in self.ev.recruitment_cached(self.d.uncertain).items():
            for m in self.d.months_grid:
                p, se = share(self.ev.reached(runs, n, m))
                out.append({"target_n": n, "sites": sites, "months": m, "prob_target": p,
                            "prob_target_mc_se": se, "replications": len(runs)})
        return out


# --- the terminal's answer ------------------------------------------------------------

def _sensitivity_shares(cols: dict[str, np.ndarray], crit: str) -> dict[str, Any]:
    """The criterion among the trials that reached N (None below FEW_TRIALS of them) and
    P(target), each with its MC SE."""
    reached = cols["target_reached"] == 1
    q, q_se = share(cols["primary_reject"][reached]) if reached.sum() >= FEW_TRIALS \
        else (None, None)
    pt, pt_se = share(cols["target_reached"])
    return {crit: q, f"{crit}_mc_se": q_se, "reached": int(reached.sum()),
            "prob_target": pt, "prob_target_mc_se": pt_se}


def _paired_change(cols: dict[str, np.ndarray], base: dict[str, np.ndarray],
                   crit: str) -> dict[str, Any]:
    """The change from the unchanged trials on the same seeds: in P(target), and in the
    criterion among the trials that reach N in both (the same trials unless the change
    moves recruitment), each with the MC SE of the paired differences."""
    def paired(a: np.ndarray, b: np.ndarray) -> tuple[float | None, float | None]:
        return (None, None) if len(a) < FEW_TRIALS else mean_se(a.astype(float) - b)

    both = (cols["target_reached"] == 1) & (base["target_reached"] == 1)
    q, q_se = paired(cols["primary_reject"][both], base["primary_reject"][both])
    pt, pt_se = paired(cols["target_reached"], base["target_reached"])
    return {f"{crit}_change": q, f"{crit}_change_mc_se": q_se,
            "prob_target_change": pt, "prob_target_change_mc_se": pt_se}


def run_design(cfg: DictConfig, out_dir: Path | None, *,
               answer: Callable[[dict[str, Any]], None] | None = None,
               charts: bool | None = None) -> dict[str, Any]:
    """The search; `answer(result)` before the figures and report are drawn, `charts`
    (when given) in place of output.charts (trialsim.app.run)."""
    n_jobs = build_run_settings(cfg).n_jobs
    with workers(n_jobs):  # forked once for the search's ~70 maps
        result = run_variants(cfg, lambda c: DesignSearch(c).run(), with_changes, SITE_KINDS)
    told = None if answer is None else (lambda: answer(result))
    if out_dir is None:
        if told is not None:
            told()
    else:
        charts = bool(cfg.output.charts) if charts is None else charts

        def files(d: Path) -> None:
            write_json_atomic(d / DESIGN, result)
            if charts and result.get("objective") == "cost":
                from trialsim.reporting.figures.cost import cost_figure  # matplotlib

                cost_figure(result, d)

        publish_files(out_dir, files, charts=charts, report=bool(cfg.output.report),
                      answer=told, processes=n_jobs)
    return result
