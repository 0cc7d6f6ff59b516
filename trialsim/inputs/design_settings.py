"""The `design:` block, checked: the goals and grids of `mode=design` and `mode=curve`.

Built in every mode by the one-pass validation (a bad design key is refused even in a
plain run), and by the design search, the power curve and the work estimate. Light on
imports on purpose: validation and the work estimate need it before anything runs. The
design levers' own keys are checked here too (`design.retention_strategies`,
`design.site_kind`; trialsim.experiments.design_variants runs them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from omegaconf import DictConfig, ListConfig

from trialsim.errors import ConfigError
from trialsim.inputs import check_sensitivity
from trialsim.inputs.allocation_ratio import ratio_candidates, ratio_texts
from trialsim.inputs.checks import choice, number, reject
from trialsim.inputs.params import build_params
from trialsim.inputs.pathway_params import RETENTION_STRATEGIES
from trialsim.units import DAYS_PER_MONTH

SITE_KINDS = ("gp_practices", "pain_services")
WAIT_STATISTICS = ("mean", "p90")
CRITERIA = ("power", "assurance")
SEARCH_MODES = ("design", "curve")
OBJECTIVES = ("cost", "smallest_n")  # cost: the cheapest design meeting every goal;
# smallest_n: the rule before costs (smallest N, then ESW-months, then service-months)
FRONTIER_LEVELS = (0.8, 0.85, 0.9, 0.95)  # power levels of the cost-power frontier
PICK_N = ("fitted", "grid")  # fitted: each ESW count's N from the probit curve through every
# simulated N (trialsim/analysis/power_curve.py), the walk probing where it places the N
# (fitted_walk.py); grid: the first grid N whose own Monte Carlo bound clears the goal
# (the rule before the fitted curve)
MAX_ESW_PER_LOCALITY = 1000  # as delivery.esw.per_locality
UNCONSTRAINED_MONTHS = 1200  # "window unconstrained": every trial reaches its N


STRATEGIES_KEY = "design.retention_strategies"


def strategy_sets(cfg: DictConfig) -> tuple[tuple[str, ...], ...] | None:
    """The checked `design.retention_strategies` (None: the scenario's own follow-up)."""
    value = cfg.design.get("retention_strategies")
    if value is None:
        return None
    if not isinstance(value, (list, tuple, ListConfig)) or not len(value):
        return reject(ConfigError(STRATEGIES_KEY, value, "null or a non-empty list of strategy "
                                  "sets, e.g. [[], [text_followup], [text_followup, "
                                  "interim_contact]]"), None)
    out: list[tuple[str, ...]] = []
    for i, one in enumerate(value):
        if not isinstance(one, (list, tuple, ListConfig)):
            reject(ConfigError(f"{STRATEGIES_KEY}[{i}]", one, "a list of strategies (may be "
                               "empty): " + ", ".join(RETENTION_STRATEGIES)), None)
            continue
        names = tuple(sorted({choice(f"{STRATEGIES_KEY}[{i}][{j}]", s, RETENTION_STRATEGIES,
                                     "linkage") for j, s in enumerate(one)}))
        mode = float(cfg.follow_up.esw_completion.mode_effect)
        if "esw_completion" in names and mode != 0:
            reject(ConfigError(f"{STRATEGIES_KEY}[{i}]", list(one),
                               "sets without esw_completion while follow_up.esw_completion."
                               f"mode_effect is {mode:g}: a questionnaire completed with the "
                               "ESW biases the primary estimate, so its power is not power "
                               "(allowed with mode_effect 0)"), None)
        if names not in out:
            out.append(names)
    return tuple(out)


def site_kinds(cfg: DictConfig, kinds: tuple[str, ...]) -> tuple[str, ...]:
    """`design.site_kind` as a tuple of kinds (a single kind stays valid)."""
    value = cfg.design.site_kind
    if isinstance(value, (list, tuple, ListConfig)):
        if not len(value):
            return reject(ConfigError("design.site_kind", [], "a kind or a non-empty list of "
                                      + ", ".join(kinds)), (kinds[-1],))
        out = []
        for i, k in enumerate(value):
            k = choice(f"design.site_kind[{i}]", k, kinds, kinds[-1])
            if k not in out:
                out.append(k)
        return tuple(out)
    return (choice("design.site_kind", value, kinds, kinds[-1]),)


@dataclass(frozen=True)
class DesignSettings:
    criterion: str  # power | assurance: the probability the N x ESW goal is set on
    target_power: float  # the goal of the criterion
    prob_target: float  # P(target N randomised within the window)
    z: float  # one-sided Monte Carlo bound a candidate must clear
    n_grid: tuple[int, ...]
    site_kind: str
    sites_grid: tuple[int, ...]
    months_grid: tuple[float, ...]
    esw_grid: tuple[int, ...]
    max_wait_days: float
    wait_statistic: str
    screen_replications: int  # 0: no screening
    check_replications: int  # the check run's: the confirmation estimate of the recommendation
    curve_esw: tuple[int, ...] | None  # mode=curve: ESWs per locality (None: the scenario's)
    objective: str = "cost"  # cost | smallest_n
    min_utilisation: float = 0.0  # floor on the ESW caseload utilisation (0: none)
    esw_fte: tuple[float, ...] = (1.0,)  # FTE of each ESW post, tried at the designs step
    allocation_ratios: tuple[str, ...] = ("1:1",)  # IPS:TAU ratios tried, lowest terms
    pick_n: str = "fitted"  # fitted | grid: how each ESW count's smallest N is read
    check_sensitivity: tuple[tuple[str, float], ...] = ()  # the check again, one input changed

    @property
    def uncertain(self) -> bool:
        """The search's goals are probabilities with the parameters drawn (assurance)."""
        return self.criterion == "assurance"


def _int_list(key: str, value, lo: int, hi: int) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple, ListConfig)) or len(value) == 0:
        return reject(ConfigError(key, _plain(value), "a non-empty list of integers"), (lo,))
    return tuple(sorted({number(f"{key}[{i}]", v, lo=lo, hi=hi, integer=True)
                         for i, v in enumerate(value)}))


def _plain(value):
    return list(value) if isinstance(value, ListConfig) else value


def _z(confidence: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(confidence))


def build_design(cfg: DictConfig, check_values: bool = False) -> DesignSettings:
    """The checked `design:` block; every bad key is a ConfigError naming it.
    `check_values`: also check each `design.check_sensitivity` value as the model checks
    its key (a composition and parameters per pair: done once, when the config is
    validated, in mode=design)."""
    d, k = cfg.design, "design"
    criterion = choice(f"{k}.criterion", d.criterion, CRITERIA, "power")
    if (criterion == "assurance" and cfg.uncertainty.mode == "none"
            and cfg.mode in SEARCH_MODES):
        criterion = reject(ConfigError(
            f"{k}.criterion", criterion,
            "power, or assurance together with uncertainty.mode=pilot (assurance draws the "
            "parameters from their pilot evidence; uncertainty.mode is none)"), "power")
    target_power = number(f"{k}.target_power", d.target_power, lo=0, hi=1, lo_open=True,
                          hi_open=True)
    prob_target = number(f"{k}.prob_target", d.prob_target, lo=0, hi=1, lo_open=True,
                         hi_open=True)
    z = _z(number(f"{k}.confidence", d.confidence, lo=0.5, hi=1, hi_open=True))
    n_start = number(f"{k}.n_start", d.n_start, lo=4, hi=1_000_000, integer=True)
    n_step = number(f"{k}.n_step", d.n_step, lo=2, hi=1_000_000, integer=True)
    n_stop = number(f"{k}.n_stop", d.n_stop, lo=n_start, hi=1_000_000, integer=True)
    kinds = tuple(site_kinds(cfg, SITE_KINDS))
    site_kind = kinds[0]  # a list: each searched (design_variants)
    strategy_sets(cfg)  # checked here, in every mode
    if cfg.mode == "design" and cfg.sites[site_kind].opening.months is not None:
        reject(ConfigError(f"{k}.site_kind", site_kind,
                           f"a kind whose sites open at first_month + i x interval_months: "
                           f"sites.{site_kind}.opening.months lists one month per site, so "
                           "the search cannot add sites (set it to null, or search the other "
                           "kind)"), None)
    max_sites = number(f"{k}.max_sites", d.max_sites, lo=1, hi=10_000, integer=True)
    if not isinstance(d.months, (list, tuple, ListConfig)) or len(d.months) == 0:
        months: tuple[float, ...] = (24.0,)
        reject(ConfigError(f"{k}.months", _plain(d.months), "a non-empty list of months"), None)
    else:
        months = tuple(sorted({number(f"{k}.months[{i}]", m, lo=0, lo_open=True, hi=1200)
                               for i, m in enumerate(d.months)}))
    max_esw = number(f"{k}.max_esw_per_locality", d.max_esw_per_locality, lo=1,
                     hi=MAX_ESW_PER_LOCALITY, integer=True)
    max_wait = number(f"{k}.max_wait_days", d.max_wait_days, lo=0, hi=36525)
    wait_statistic = choice(f"{k}.wait_statistic", d.wait_statistic, WAIT_STATISTICS)
    screen = number(f"{k}.screen_replications", d.screen_replications, lo=0, hi=10**7,
                    integer=True)
    check_reps = number(f"{k}.check_replications", d.check_replications, lo=100, hi=10**6,
                        integer=True)
    objective = choice(f"{k}.objective", d.get("objective", "cost"), OBJECTIVES)
    min_util = number(f"{k}.min_utilisation", d.get("min_utilisation", 0.0), lo=0, hi=1)
    fte = _fte_list(f"{k}.esw_fte", d.get("esw_fte", [1.0]))
    ratios = tuple(ratio_texts(ratio_candidates(f"{k}.allocation_ratios",
                                                _plain(d.get("allocation_ratios", ["1:1"])))))
    pick_n = choice(f"{k}.pick_n", d.get("pick_n", "fitted"), PICK_N)
    sensitivity = check_sensitivity.parse(
        cfg, kinds, criterion == "assurance",
        build_params if check_values and cfg.mode == "design" else None)
    curve_esw = None
    if d.curve_esw_per_locality is not None:
        curve_esw = _int_list(f"{k}.curve_esw_per_locality", d.curve_esw_per_locality, 1,
                              MAX_ESW_PER_LOCALITY)
    return DesignSettings(
        criterion=criterion, target_power=target_power, prob_target=prob_target, z=z,
        n_grid=tuple(range(n_start, n_stop + 1, n_step)), site_kind=site_kind,
        sites_grid=tuple(range(1, max_sites + 1)), months_grid=months,
        esw_grid=tuple(range(1, max_esw + 1)), max_wait_days=max_wait,
        wait_statistic=wait_statistic,
        screen_replications=screen, check_replications=check_reps, curve_esw=curve_esw,
        objective=objective, min_utilisation=min_util, esw_fte=fte, allocation_ratios=ratios,
        pick_n=pick_n, check_sensitivity=sensitivity)


def _fte_list(key: str, value) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple, ListConfig)) or len(value) == 0:
        return reject(ConfigError(key, _plain(value), "a non-empty list of FTEs in [0.05, 1]"),
                      (1.0,))
    return tuple(sorted({number(f"{key}[{i}]", v, lo=0.05, hi=1.0)
                         for i, v in enumerate(value)}, reverse=True))


def months_days(months: float | None) -> float:
    return (UNCONSTRAINED_MONTHS if months is None else months) * DAYS_PER_MONTH


def bisection_steps(n: int) -> int:
    return math.ceil(math.log2(max(n, 1))) + 1


def participant_replications(cfg: DictConfig, per_rep: float) -> float:
    """About how many participant-replications `mode=design` or `mode=curve` simulates
    (the bounded-work check): the candidates a search typically needs, not the worst
    case (every N x ESW x sites), each at the grid's mean or largest N."""
    d = build_design(cfg)
    reps = int(cfg.replications)
    mean_n = max(per_rep, (d.n_grid[0] + d.n_grid[-1]) / 2)
    top_n = max(per_rep, d.n_grid[-1])
    both = 2 if cfg.uncertainty.mode != "none" else 1  # power and assurance side by side
    if cfg.mode == "curve":
        esws = len(d.curve_esw) if d.curve_esw else 1
        return esws * len(d.n_grid) * mean_n * reps * both
    e, n = len(d.esw_grid), len(d.n_grid)
    ratios = len(d.allocation_ratios)  # a frontier walk per ratio
    frontier = 2 * (e + bisection_steps(n)) * mean_n * reps * both * ratios
    sites = min(len(d.sites_grid), 2 * bisection_steps(len(d.sites_grid))
                + len(d.months_grid)) * top_n * reps
    screen = d.screen_replications if 0 < d.screen_replications < reps else reps
    designs = e * ratios * len(d.months_grid) * mean_n * screen + mean_n * reps  # waits
    designs += mean_n * d.check_replications  # the check run
    designs += mean_n * len(d.check_sensitivity) * check_sensitivity.replications(
        d.check_replications)  # the check again, one input changed
    return frontier + sites + designs
