"""Frozen model parameters, built and checked from the Hydra config.

The config speaks the planner's language (months, counts from the pilot); these
parameters speak the model's (days, probabilities), and are checked once here so that
the model itself can trust them. Every check names the full config key.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit, ndtr, ndtri

from trialsim.errors import ConfigError
from trialsim.inputs.allocation_ratio import AllocationRatio, build_block_sizes, parse_ratio
from trialsim.inputs.checks import (
    MAX_BATCHES,
    MAX_LIST_SIZE,
    MAX_SEED,
    MAX_SITE_COUNT,
    MAX_STAFF,
    choice,
    max_jobs,
    number,
    reject,
)
from trialsim.inputs.cost_params import UnitCosts, build_costs
from trialsim.inputs.employment_law import LawInputs, solve_supported_entry
from trialsim.inputs.evidence import Proportion, Rate, parse_proportion, parse_rate
from trialsim.inputs.pathway_params import (
    Analysis,
    BaselineShares,
    Delivery,
    Employment,
    FollowUp,
    Outcome,
    build_analysis,
    build_baseline_shares,
    build_delivery,
    build_employment,
    build_follow_up,
    build_outcome,
)
from trialsim.inputs.priors import Uncertainty, build_uncertainty
from trialsim.inputs.progression import Progression, build_progression
from trialsim.inputs.ramp import expected_days
from trialsim.units import (
    CALENDAR_PER_WORKING_DAY,
    DAYS_PER_MONTH,
    months_to_days,
)

if TYPE_CHECKING:  # configs are read, not built, here: workers need no omegaconf
    from omegaconf import DictConfig

ALLOCATIONS = ("blocks", "pilot_capacity", "fixed_counts")
PRIMARY_CARE, PAIN_SERVICE = "primary_care", "pain_service"
SETTINGS = (PRIMARY_CARE, PAIN_SERVICE)
MAX_DELAY_DAYS = 365.0  # a mean delay longer than a year is a typo, not a plan
MAX_MONTHS = 1200.0  # 100 years: the longest window, opening month or set-up delay
MIN_PER_DAY = 0.1  # capacities (calls a day, OT sessions a week) below this block for ever


@dataclass(frozen=True)
class Stages:
    """Screening after a person responds: reached by phone, eligible, consents."""

    contact: Proportion
    eligible: Proportion
    consent: Proportion


@dataclass(frozen=True)
class PoissonChannel:
    """People come forward at a rate per site-month while the site recruits."""

    name: str
    uptake: float
    stages: Stages
    rate: Rate  # per site-month


@dataclass(frozen=True)
class MailshotChannel:
    """Read-code search: packs mailed in batches, replies thinned in bulk."""

    name: str
    uptake: float
    stages: Stages
    packs_per_1000: float
    batches: int
    batch_interval_days: float
    reply: Proportion
    reply_delay_mean_days: float


@dataclass(frozen=True)
class HandSearchChannel:
    """Research-nurse hand-searching: recruits per nurse-day from a shared nurse budget."""

    name: str
    uptake: float
    stages: Stages
    yield_per_nurse_day: Rate
    nurse_days_per_practice: float
    nurses: int
    nurse_day_budget: float
    start_day: float = 0.0  # the nurse starts at a practice no earlier than this

    @property
    def calendar_days_per_nurse_day(self) -> float:
        return CALENDAR_PER_WORKING_DAY


Channel = PoissonChannel | MailshotChannel | HandSearchChannel


@dataclass(frozen=True)
class Opening:
    """When each site of a type opens (days) and for how long it recruits."""

    days: tuple[float, ...] | None  # explicit, one per site
    first_day: float
    interval_days: float
    setup_delay_mean_days: float
    setup_delay_shape: float
    active_days: float  # math.inf: until recruitment closes
    ramp_up_days: float = 0.0  # Poisson rates rise linearly to full over it (inputs.ramp)


@dataclass(frozen=True)
class SiteType:
    name: str
    setting: str
    count: int
    list_size: int
    frailty_shape: float  # math.inf: identical sites
    opening: Opening
    channels: tuple[Channel, ...]
    rate_discount: float = 1.0  # a new site's rates relative to the pilot's

    def new_site(self, value: float) -> float:
        """A new site's mean rate, mailshot reply or hand-search yield from the pilot's
        `value`: times `rate_discount` (1: exactly the pilot's). The one place the
        discount is applied: recruitment, setting_mix and the workload all call it."""
        return value * self.rate_discount


@dataclass(frozen=True)
class Screening:
    delay_mean_days: float
    coordinators: int | None  # None: unlimited, no queue
    call_days: float  # coordinator time per screening call


# the largest long-term share with which the rest can still have Table 4's quartiles above
# the 3-month minimum: beyond about 0.14 the lower quartile (1.3 years) needs a log-normal
# spread without bound and the fixed point below has no solution (it used to settle on a
# wrong one, for about a quarter of assurance draws)
MAX_LONG_TERM = 0.14
LAW_NODES = (4, 2)  # quadrature nodes per half of the log-normal part, and long-term
PILOT_PAIN_SHARE = 13 / 50  # Table 3: 13 of the pilot's 50 recruits came from pain services
MAX_PAIN_SERVICE_RATIO = 10.0  # years out of work ten times primary care's: beyond any plan


def brent_root(f: Callable[[float], float], a: float, b: float, xtol: float = 1e-14,
               rtol: float = 4 * 2.220446049250313e-16, maxiter: int = 100) -> float:
    """The root of f on [a, b] (a sign change) by Brent's method, step for step the
    arithmetic of scipy.optimize.brentq (its C loop, same defaults), so the root is brentq's
    to the last bit (tested): scipy.optimize costs 0.13 s of imports on every command's way
    to its answer, for this one root, and a root one bit off moves the seeded draws."""
    xpre, xcur = a, b
    fpre, fcur = f(xpre), f(xcur)
    if fpre == 0.0:
        return xpre
    if fcur == 0.0:
        return xcur
    if math.copysign(1.0, fpre) == math.copysign(1.0, fcur):
        raise ValueError("f(a) and f(b) must have different signs")
    xblk = fblk = spre = scur = 0.0
    for _ in range(maxiter):
        if fpre != 0.0 and fcur != 0.0 and \
                math.copysign(1.0, fpre) != math.copysign(1.0, fcur):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0.0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:  # interpolate
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:  # extrapolate
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            bound = 3 * abs(sbis) - delta
            if 2 * abs(stry) < (abs(spre) if abs(spre) < bound else bound):
                spre, scur = scur, stry  # a good short step
            else:
                spre = scur = sbis
        else:
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        xcur += scur if abs(scur) > delta else (delta if sbis > 0 else -delta)
        fcur = f(xcur)
    raise ValueError(f"no root to {xtol} in {maxiter} iterations")


@dataclass(frozen=True)
class YearsOutOfWork:
    """Years since last paid work: a long-term group (share `long_term`, uniform from
    `long_term_from` to the maximum) and the rest, a split log-normal (one log-scale
    spread below its median, another above) truncated to [minimum, maximum], whose
    three parameters are solved so that the mixture's quartiles are q25, median, q75
    exactly (Table 4). A drawn share above MAX_LONG_TERM is taken as that."""

    q25: float
    median: float
    q75: float
    minimum: float
    maximum: float
    long_term: Proportion
    long_term_from: float
    pain_service_ratio: float = 1.0  # pain-service recruits' years relative to primary care's

    @cached_property
    def scales(self) -> dict[str, float]:
        """Each setting's multiplier of a draw: pain services `pain_service_ratio` times
        primary care's, both scaled by the c that keeps the median of Table 4 (the 39
        known of the pilot's 50) at the pilot's mix of settings (PILOT_PAIN_SHARE):
        (1 - s) F(m / c) + s F(m / (c r)) = 1/2, F this law's CDF. 1 for both when the
        ratio is 1 (one distribution, the draws unchanged)."""
        r = self.pain_service_ratio
        if r == 1.0:
            return {PRIMARY_CARE: 1.0, PAIN_SERVICE: 1.0}
        m, s = self.median, PILOT_PAIN_SHARE

        def excess(log_c: float) -> float:
            c = math.exp(log_c)
            return (1 - s) * self.cdf(m / c) + s * self.cdf(m / (c * r)) - 0.5

        c = math.exp(brent_root(excess, -math.log(r) - 1.0, 1.0, xtol=1e-14))
        return {PRIMARY_CARE: c, PAIN_SERVICE: c * r}

    def in_setting(self, setting: str, years: float) -> float:
        """A draw of this law (`draw`) as years for a recruit of `setting`: scaled by the
        setting's multiplier and kept within [minimum, maximum]."""
        scale = self.scales[setting]
        if scale == 1.0:
            return years
        return min(max(years * scale, self.minimum), self.maximum)

    def in_setting_many(self, setting: str, years: np.ndarray) -> np.ndarray:
        """in_setting of each draw in `years` (one setting), to the last bit."""
        scale = self.scales[setting]
        if scale == 1.0:
            return years
        return np.minimum(np.maximum(years * scale, self.minimum), self.maximum)

    @cached_property
    def share(self) -> float:
        return min(self.long_term.value, MAX_LONG_TERM)

    @cached_property
    def body(self) -> tuple[float, float, float, float, float]:
        """(mu, sigma below, sigma above, floor, ceiling) of the log-normal part: the
        levels of the quartiles within it, floor + (ceiling - floor) p / (1 - share),
        depend on its own truncation, so they are iterated to a fixed point."""
        floor, ceiling = 0.0, 1.0
        logs = [math.log(v) for v in (self.q25, self.median, self.q75)]
        for _ in range(100):
            z = [float(ndtri(floor + (ceiling - floor) * p / (1 - self.share)))
                 for p in (0.25, 0.5, 0.75)]
            above = (logs[2] - logs[1]) / (z[2] - z[1])
            mu = logs[1] - above * z[1]
            below = (logs[0] - mu) / z[0]
            new = (float(ndtr((math.log(self.minimum) - mu) / below))
                   if self.minimum > 0 else 0.0,
                   float(ndtr((math.log(self.maximum) - mu) / above)))
            done = abs(new[0] - floor) + abs(new[1] - ceiling) < 1e-15
            floor, ceiling = new
            if done:
                break
        return mu, below, above, floor, ceiling

    def _body_at(self, v: float) -> float:
        """The log-normal part's quantile at v in [0, 1] of its truncated range."""
        mu, below, above, floor, ceiling = self.body
        z = float(ndtri(floor + (ceiling - floor) * v))
        return math.exp(mu + (below if z < 0 else above) * z)

    def cdf(self, years: float) -> float:
        mu, below, above, floor, ceiling = self.body
        if years <= self.minimum:
            return 0.0
        z = math.log(min(years, self.maximum)) - mu
        part = (float(ndtr(z / (below if z < 0 else above))) - floor) / (ceiling - floor)
        span = self.maximum - self.long_term_from
        long = min(max((years - self.long_term_from) / span, 0.0), 1.0)
        return (1 - self.share) * part + self.share * long

    def draw(self, u: float) -> float:
        """One draw from a uniform u: the top `share` of u is the long-term group."""
        if u >= 1 - self.share:
            v = (u - (1 - self.share)) / self.share
            return self.long_term_from + (self.maximum - self.long_term_from) * v
        return self._body_at(u / (1 - self.share))

    def draws(self, u: np.ndarray) -> list[float]:
        """draw() of each uniform in `u`, to the last bit, with one call of ndtri for the
        block rather than one a participant (the model draws them in blocks)."""
        z, (cut, share, mu, below, above, low, span) = self.quantiles(u)
        exp = math.exp
        return [low + span * ((v - cut) / share) if v >= cut
                else exp(mu + (below if zv < 0 else above) * zv)
                for v, zv in zip(u.tolist(), z.tolist(), strict=True)]

    def quantiles(self, u: np.ndarray) -> tuple[np.ndarray, tuple[float, ...]]:
        """What `draws` turns into years: the normal quantiles of the log-normal part of
        each uniform in `u`, and the law's (cut, share, mu, sigma below, sigma above,
        long-term from, long-term span); trialsim.model.recruitment_pass.years_of is
        `draws` compiled on them."""
        cut, share = 1 - self.share, self.share
        mu, below, above, floor, ceiling = self.body
        with np.errstate(invalid="ignore"):  # u >= cut: not the log-normal part
            z = ndtri(floor + (ceiling - floor) * (u / cut))
        return z, (cut, share, mu, below, above, self.long_term_from,
                   self.maximum - self.long_term_from)

    def nodes(self, per_half: int, long_term: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Gauss-Legendre quadrature: (years, weights), `per_half` nodes on each side of
        the log-normal part's median (its spread changes there) and `long_term` on the
        long-term group."""
        _, _, _, floor, ceiling = self.body
        mid = (0.5 - floor) / (ceiling - floor)
        years, weights = [], []
        for lo, hi, n in ((0.0, mid, per_half), (mid, 1.0, per_half)):
            x, w = np.polynomial.legendre.leggauss(n)
            years += [self._body_at(lo + (hi - lo) * (v + 1) / 2) for v in x]
            weights += list((1 - self.share) * (hi - lo) / 2 * w)
        x, w = np.polynomial.legendre.leggauss(long_term)
        span = self.maximum - self.long_term_from
        years += list(self.long_term_from + span * (x + 1) / 2)
        weights += list(self.share * w / 2)
        return tuple(float(v) for v in years), tuple(float(v) for v in weights)

    @cached_property
    def law_nodes(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The nodes the employment law mixes over (trialsim.inputs.employment_law)."""
        return self.nodes(*LAW_NODES)


@dataclass(frozen=True)
class FixedCounts:
    """allocation=fixed_counts: the counts each setting allocates to each arm. The
    allocation carries them because Recruitment makes every allocator from
    `params.allocation` and the pilot_capacity fields alone."""

    counts: tuple[tuple[str, int, int], ...]  # (setting, IPS, TAU)

    def total(self, setting: str) -> int:
        return sum(ips + tau for s, ips, tau in self.counts if s == setting)


@dataclass(frozen=True)
class TrialDesign:
    target_n: int
    window_days: float
    allocation: str | FixedCounts  # fixed_counts comes with its counts
    block_sizes: tuple[int, ...]  # each a multiple of allocation_ratio.total
    allocation_ratio: AllocationRatio  # IPS:TAU in each block (1:1 by default)
    localities: int
    setup_days: float  # the trial team's months before month 0 (budget only)
    closeout_days: float  # and after the last follow-up return (budget only)
    random_until_day: float
    ips_until_day: float
    ips_places: int | None


@dataclass(frozen=True)
class ModelParams(TrialDesign):
    """The trial's design (recruitment target, window, allocation) and everything else."""

    screening: Screening
    years_out_of_work: YearsOutOfWork
    site_types: tuple[SiteType, ...]
    delivery: Delivery
    employment: Employment
    follow_up: FollowUp
    outcome: Outcome
    analysis: Analysis
    uncertainty: Uncertainty | None = None  # None: parameters fixed at their estimates
    baseline: BaselineShares = BaselineShares()  # sex and being single
    progression: Progression | None = None  # the internal pilot's review (None: none)
    costs: UnitCosts = UnitCosts()  # what each counted resource costs (never the model)

    def channel_names(self) -> tuple[str, ...]:
        return tuple(ch.name for st in self.site_types for ch in st.channels)


@dataclass(frozen=True)
class Precision:
    """`replications=auto`: replications in batches until the Monte Carlo SE of the
    primary power is below `power_se`, or `max_replications` have run."""

    power_se: float
    max_replications: int


@dataclass(frozen=True)
class RunSettings:
    scenario: str
    replications: int  # with `precision`: the most an auto run may use (the cap)
    seed: int
    n_jobs: int
    precision: Precision | None = None  # replications=auto


# --- building from the config ---------------------------------------------------------

def _stages(key: str, c: DictConfig) -> Stages:
    return Stages(
        contact=parse_proportion(f"{key}.contact", c.contact),
        eligible=parse_proportion(f"{key}.eligible", c.eligible),
        consent=parse_proportion(f"{key}.consent", c.consent),
    )


def _uptake(key: str, c: DictConfig) -> float:
    return number(f"{key}.uptake", c.uptake, lo=0, hi=1)


def _poisson(name: str, key: str, c: DictConfig) -> PoissonChannel:
    return PoissonChannel(name, _uptake(key, c), _stages(key, c),
                          parse_rate(f"{key}.rate", c.rate, per_site=True))


def _mailshot(key: str, c: DictConfig) -> MailshotChannel:
    return MailshotChannel(
        name="mailshot",
        uptake=_uptake(key, c),
        stages=_stages(key, c),
        packs_per_1000=number(f"{key}.packs_per_1000", c.packs_per_1000, lo=0, hi=1000),
        batches=number(f"{key}.batches", c.batches, lo=1, hi=MAX_BATCHES, integer=True),
        batch_interval_days=months_to_days(
            number(f"{key}.batch_interval_months", c.batch_interval_months, lo=0,
                   hi=MAX_MONTHS)),
        reply=parse_proportion(f"{key}.reply", c.reply, per_site=True),
        reply_delay_mean_days=number(f"{key}.reply_delay_mean_days", c.reply_delay_mean_days, lo=0,
                                     hi=MAX_DELAY_DAYS),
    )


def _hand_search(key: str, c: DictConfig) -> HandSearchChannel:
    return HandSearchChannel(
        name="hand_search",
        uptake=_uptake(key, c),
        stages=_stages(key, c),
        yield_per_nurse_day=parse_rate(f"{key}.yield_per_nurse_day", c.yield_per_nurse_day,
                                       per_site=True),
        nurse_days_per_practice=number(f"{key}.nurse_days_per_practice",
                                     c.nurse_days_per_practice, lo=0),
        nurses=number(f"{key}.nurses", c.nurses, lo=1, hi=MAX_STAFF, integer=True),
        nurse_day_budget=number(f"{key}.nurse_day_budget", c.nurse_day_budget, lo=0),
        start_day=0.0 if c.start_month is None else months_to_days(
            number(f"{key}.start_month", c.start_month, lo=0, hi=MAX_MONTHS)),
    )


def _opening(key: str, c: DictConfig, count: int) -> Opening:
    days = None
    if c.months is not None:
        months = list(c.months)
        if len(months) != count:
            reject(ConfigError(f"{key}.months", months,
                               f"a list of {count} opening months, one per site (or null)"),
                   None)
        days = tuple(months_to_days(number(f"{key}.months[{i}]", m, lo=0, hi=MAX_MONTHS))
                     for i, m in enumerate(months))
    active = c.active_months
    return Opening(
        days=days,
        first_day=months_to_days(number(f"{key}.first_month", c.first_month, lo=0,
                                        hi=MAX_MONTHS)),
        interval_days=months_to_days(number(f"{key}.interval_months", c.interval_months, lo=0,
                                            hi=MAX_MONTHS)),
        setup_delay_mean_days=months_to_days(
            number(f"{key}.setup_delay_mean_months", c.setup_delay_mean_months, lo=0,
                   hi=MAX_MONTHS)),
        setup_delay_shape=number(f"{key}.setup_delay_shape", c.setup_delay_shape, lo=0,
                               lo_open=True),
        active_days=math.inf if active is None else months_to_days(
            number(f"{key}.active_months", active, lo=0, lo_open=True, hi=MAX_MONTHS)),
        ramp_up_days=months_to_days(number(f"{key}.ramp_up_months", c.ramp_up_months, lo=0,
                                           hi=MAX_MONTHS)),
    )


MAX_DISCOUNT = 2.0  # new sites may beat the pilot's rates, up to twice them: more is a typo


def _site_common(key: str, c: DictConfig) -> tuple[int, float]:
    count = number(f"{key}.count", c.count, lo=0, hi=MAX_SITE_COUNT, integer=True)
    shape = number(f"{key}.frailty_shape", c.frailty_shape, lo=0, lo_open=True, allow_inf=True)
    return count, shape


def _discount(key: str, c: DictConfig) -> float:
    return number(f"{key}.rate_discount", c.rate_discount, lo=0, lo_open=True,
                  hi=MAX_DISCOUNT)


def _gp_practices(c: DictConfig) -> SiteType:
    key = "sites.gp_practices"
    count, shape = _site_common(key, c)
    return SiteType(
        name="gp_practices", setting=PRIMARY_CARE, count=count,
        list_size=number(f"{key}.list_size", c.list_size, lo=1, hi=MAX_LIST_SIZE, integer=True),
        frailty_shape=shape, opening=_opening(f"{key}.opening", c.opening, count),
        channels=(
            _mailshot(f"{key}.mailshot", c.mailshot),
            _hand_search(f"{key}.hand_search", c.hand_search),
            _poisson("gp_opportunistic", f"{key}.opportunistic", c.opportunistic),
            _poisson("posters", f"{key}.posters", c.posters),
        ),
        rate_discount=_discount(key, c),
    )


def _pain_services(c: DictConfig) -> SiteType:
    key = "sites.pain_services"
    count, shape = _site_common(key, c)
    return SiteType(
        name="pain_services", setting=PAIN_SERVICE, count=count, list_size=0,
        frailty_shape=shape, opening=_opening(f"{key}.opening", c.opening, count),
        channels=(_poisson("pain_clinics", f"{key}.clinics", c.clinics),),
        rate_discount=_discount(key, c),
    )


YEARS_ORDER = ("minimum", "q25", "median", "q75", "long_term_from", "maximum")  # increasing
MAX_YEARS = 80.0
BLAMED_BELOW = ("minimum", "long_term_from")  # named when out of order with the next one


def _years_out_of_work(c: DictConfig) -> YearsOutOfWork:
    """Each value alone, then their order (only when each alone is sound, so that a bad
    one is named once, not through its neighbours)."""
    key = "participants.years_out_of_work"
    v = {n: number(f"{key}.{n}", c[n], lo=0, lo_open=n != "minimum", hi=MAX_YEARS)
         for n in YEARS_ORDER}
    sound = all(v[n] == c[n] for n in YEARS_ORDER)
    for below, above in zip(YEARS_ORDER, YEARS_ORDER[1:], strict=False):
        if sound and not v[below] < v[above]:
            at, other = (below, above) if below in BLAMED_BELOW else (above, below)
            side = "below" if at == below else "above"
            sound = reject(ConfigError(f"{key}.{at}", v[at],
                                       f"a number {side} {key}.{other}={v[other]:g} (minimum "
                                       "< q25 < median < q75 < long_term_from < maximum)"),
                           False)
    if not sound:
        v = {"minimum": 0.25, "q25": 1.0, "median": 2.0, "q75": 3.0, "long_term_from": 20.0,
             "maximum": 30.0}  # placeholders in order: building goes on
    minimum, q25, median, q75 = v["minimum"], v["q25"], v["median"], v["q75"]
    maximum, start = v["maximum"], v["long_term_from"]
    share = parse_proportion(f"{key}.long_term_share", c.long_term_share)
    if share.value > MAX_LONG_TERM:
        share = reject(ConfigError(f"{key}.long_term_share", c.long_term_share,
                                   f"a share at most {MAX_LONG_TERM:g} (with more, the rest "
                                   "cannot have Table 4's quartiles above the minimum)"),
                           Proportion(0.0))
    ratio = number(f"{key}.pain_service_ratio", c.pain_service_ratio, lo=0.1,
                   hi=MAX_PAIN_SERVICE_RATIO)
    return YearsOutOfWork(q25=q25, median=median, q75=q75, minimum=minimum, maximum=maximum,
                          long_term=share, long_term_from=start, pain_service_ratio=ratio)


def build_trial(t: DictConfig) -> TrialDesign:
    target_n = number("trial.target_n", t.target_n, lo=4, integer=True)
    window = months_to_days(number("trial.recruitment_months", t.recruitment_months, lo=0,
                                   lo_open=True, hi=1200))
    allocation: str | FixedCounts = choice("trial.allocation", t.allocation, ALLOCATIONS)
    if allocation == "fixed_counts":
        allocation = _fixed_counts(t.fixed_counts)
    ratio = parse_ratio(t.allocation_ratio)
    blocks = build_block_sizes(t.block_sizes, ratio)
    pc = t.pilot_capacity
    random_until = number("trial.pilot_capacity.random_until_month", pc.random_until_month,
                          lo=0, hi=1200)
    ips_until = number("trial.pilot_capacity.ips_until_month", pc.ips_until_month,
                       lo=random_until, hi=1200)
    ips_places = pc.ips_places
    if ips_places is not None:
        ips_places = number("trial.pilot_capacity.ips_places", ips_places, lo=0, integer=True)
    return TrialDesign(
        target_n=target_n, window_days=window, allocation=allocation,
        block_sizes=blocks, allocation_ratio=ratio,
        localities=number("trial.localities", t.localities, lo=1, hi=MAX_STAFF, integer=True),
        setup_days=months_to_days(number("trial.setup_months", t.setup_months, lo=0, hi=120)),
        closeout_days=months_to_days(number("trial.closeout_months", t.closeout_months, lo=0,
                                            hi=120)),
        random_until_day=months_to_days(random_until), ips_until_day=months_to_days(ips_until),
        ips_places=ips_places,
    )


def _fixed_counts(c: DictConfig | None) -> FixedCounts:
    key, arms = "trial.fixed_counts", ("ips", "tau")
    allowed = ("a count >= 0 of each arm (ips, tau) per setting (primary_care, pain_service), "
               "as allocation=fixed_counts needs")
    if not isinstance(c, Mapping) or not c:
        return reject(ConfigError(key, c, allowed), FixedCounts(()))
    counts = []
    for setting, given in c.items():
        if setting not in SETTINGS or not isinstance(given, Mapping) or set(given) != set(arms):
            reject(ConfigError(f"{key}.{setting}", given, allowed), None)
            continue
        counts.append((setting, *(number(f"{key}.{setting}.{arm}", given[arm], lo=0,
                                         integer=True) for arm in arms)))
    return FixedCounts(tuple(counts))


def build_screening(s: DictConfig) -> Screening:
    coordinators = s.coordinators
    if coordinators is not None:
        coordinators = number("screening.coordinators", coordinators, lo=1, hi=MAX_STAFF,
                              integer=True)
    return Screening(
        delay_mean_days=number("screening.delay_mean_days", s.delay_mean_days, lo=0,
                               hi=MAX_DELAY_DAYS),
        coordinators=coordinators,
        # a floor on capacity: a near-zero rate would hold the coordinator for ever
        call_days=CALENDAR_PER_WORKING_DAY / number("screening.calls_per_day", s.calls_per_day,
                                                    lo=MIN_PER_DAY, hi=1000),
    )


def build_sites(c: DictConfig) -> tuple[SiteType, ...]:
    site_types = (_gp_practices(c.gp_practices), _pain_services(c.pain_services))
    if sum(st.count for st in site_types) == 0:
        counts = ", ".join(f"sites.{st.name}.count=0" for st in site_types)
        reject(ConfigError("sites", counts, "at least one site of some kind (a count >= 1)"),
               None)
    return site_types


def build_params(cfg: DictConfig) -> ModelParams:
    """Check the config and return the frozen parameters the model runs on."""
    trial = build_trial(cfg.trial)
    outcome = build_outcome(cfg.outcome)
    params = ModelParams(
        **{f.name: getattr(trial, f.name) for f in dataclasses.fields(TrialDesign)},
        screening=build_screening(cfg.screening),
        years_out_of_work=_years_out_of_work(cfg.participants.years_out_of_work),
        site_types=build_sites(cfg.sites),
        delivery=build_delivery(cfg.delivery),
        employment=build_employment(cfg.employment),
        follow_up=build_follow_up(cfg.follow_up),
        outcome=outcome,
        analysis=build_analysis(cfg.analysis),
        uncertainty=build_uncertainty(cfg.uncertainty, cfg.outcome),
        baseline=build_baseline_shares(cfg.participants),
        progression=build_progression(cfg.progression, cfg.follow_up),
        costs=build_costs(cfg.get("costs")),
    )
    return with_supported_entry(params)


# --- the IPS employment effect, solved from the planner's relative risk -----------------

def _stage_yield(st: Stages) -> float:
    return st.contact.value * st.eligible.value * st.consent.value


def setting_mix(params: ModelParams) -> dict[str, float]:
    """Expected share of recruits by setting: each site's channels at their mean yields
    (a new site's: the kind's rate discount applied) over the months it is open within
    the window, ramp-up counted (mean set-up delay, mean frailty 1, no stop at the
    target; the allocation rule is ignored)."""
    totals = dict.fromkeys(SETTINGS, 0.0)
    for st in params.site_types:
        o = st.opening
        for i in range(st.count):
            start = o.days[i] if o.days is not None else (
                o.first_day + i * o.interval_days + o.setup_delay_mean_days)
            months = expected_days(
                max(0.0, min(params.window_days, start + o.active_days) - start),
                o.ramp_up_days) / DAYS_PER_MONTH
            for ch in st.channels:
                if isinstance(ch, PoissonChannel):
                    per_site = st.new_site(ch.rate.value) * months
                elif isinstance(ch, MailshotChannel):
                    per_site = ch.packs_per_1000 * st.list_size / 1000 * min(
                        1.0, st.new_site(ch.reply.value))
                else:
                    searching = max(1.0, round(ch.uptake * st.count))
                    per_site = st.new_site(ch.yield_per_nurse_day.value) * min(
                        ch.nurse_days_per_practice, ch.nurse_day_budget / searching)
                totals[st.setting] += ch.uptake * per_site * _stage_yield(ch.stages)
    total = sum(totals.values())
    if total <= 0:
        return {s: 1.0 / len(SETTINGS) for s in SETTINGS}
    return {s: v / total for s, v in totals.items()}


def ready_share(params: ModelParams, setting: str, years: float) -> float:
    """P(ready at the ESW assessment) for a recruit of `setting` `years` out of work
    (the same odds shift as trialsim.model.delivery.p_ready)."""
    e = params.employment
    p = (e.ready_primary_care if setting == PRIMARY_CARE else e.ready_pain_service).value
    if e.ready_odds_ratio_per_year != 1.0 and 0.0 < p < 1.0:
        shift = (years - 3.0) * math.log(e.ready_odds_ratio_per_year)
        p = float(expit(math.log(p / (1 - p)) + shift))
    return p


def law_inputs(params: ModelParams, mix: dict[str, float] | None = None,
               nodes: tuple[int, int] | None = None) -> LawInputs:
    """The employment law's inputs: for each setting of the mix (by default the
    scenario's expected `setting_mix`), the years-out distribution's quadrature nodes
    in that setting (`nodes`: per half of the log-normal part and long-term; by default
    LAW_NODES), each with its self-directed entry rate, ready share and weight."""
    e, d = params.employment, params.delivery
    law = params.years_out_of_work
    base, node_weights = law.law_nodes if nodes is None else law.nodes(*nodes)
    mix = setting_mix(params) if mix is None else mix
    years, ready, weights = [], [], []
    for setting, share in mix.items():
        if share <= 0:
            continue
        for y, w in zip(base, node_weights, strict=True):
            y = law.in_setting(setting, y)
            years.append(y)
            ready.append(ready_share(params, setting, y))
            weights.append(share * w)
    return LawInputs(
        horizon=months_to_days(12.0),
        self_entry=tuple(e.self_entry_at(y) for y in years),
        ready_share=tuple(ready),
        weights=tuple(weights),
        readiness=e.readiness_per_day.value, loss=e.loss_per_day.value,
        disengage=d.disengage_after_assessment.value, first_mean=d.first_appointment_mean_days,
        support=d.support_days, in_work=d.in_work_support_days,
        withdraw=e.withdraw_on_job_ips.value)


LAW_KEYS = ("employment.self_job_entry_per_month", "employment.readiness_per_month",
            "employment.job_loss_per_month", "employment.withdraw_on_job.ips",
            "delivery.esw.support_months", "delivery.esw.in_work_support_months",
            "delivery.esw.disengage_after_assessment")  # what bounds the reachable effect


def with_supported_entry(params: ModelParams, strict: bool = True) -> ModelParams:
    """Solve the ESW-supported entry rate from `employment.ips_relative_risk_m12`.

    `strict`: a relative risk beyond what the model can reach is a ConfigError; in an
    assurance draw (not strict) the rate is capped at the most the model can do."""
    e = params.employment
    solved = solve_supported_entry(law_inputs(params), e.ips_relative_risk_m12)
    if strict and e.ips_relative_risk_m12 > 1.0 and not math.isfinite(solved.rr_max):
        raise ConfigError("employment.ips_relative_risk_m12", e.ips_relative_risk_m12,
                          "1: no one in TAU is in work at 12 months with these rates "
                          f"({', '.join(LAW_KEYS[:3])}), so no relative risk is defined")
    if strict and e.ips_relative_risk_m12 > 1.0 and not (
            e.ips_relative_risk_m12 < solved.rr_max):
        raise ConfigError("employment.ips_relative_risk_m12", e.ips_relative_risk_m12,
                          f"a number >= 1 and below {solved.rr_max:.3g}, the most IPS can "
                          f"reach with these rates ({', '.join(LAW_KEYS)})")
    employment = dataclasses.replace(
        e, supported_entry_per_day=solved.supported_entry, expected_m12_ips=solved.p_ips,
        expected_m12_tau=solved.p_tau, relative_risk_max=solved.rr_max)
    return dataclasses.replace(params, employment=employment)


AUTO = "auto"
MAX_REPLICATIONS = 10**7  # a cap beyond any run the limits allow; keeps the number sane


def build_precision(c: DictConfig) -> Precision:
    return Precision(
        power_se=number("precision.power_se", c.power_se, lo=0, lo_open=True, hi=0.5),
        max_replications=number("precision.max_replications", c.max_replications, lo=1,
                                hi=MAX_REPLICATIONS, integer=True))


def build_run_settings(cfg: DictConfig) -> RunSettings:
    n_jobs = cfg.n_jobs
    if n_jobs != -1:
        n_jobs = number("n_jobs", n_jobs, lo=1, hi=max_jobs(), integer=True)
    precision = None
    if cfg.replications == AUTO and cfg.mode == "run":
        precision = build_precision(cfg.precision)
        replications = precision.max_replications
    elif isinstance(cfg.replications, str):
        replications = reject(ConfigError(
            "replications", cfg.replications,
            "an integer >= 1, or auto (mode=run only: a design search needs a fixed count)"
            if cfg.replications == AUTO else "an integer >= 1, or auto"), 1)
    else:
        replications = number("replications", cfg.replications, lo=1, hi=MAX_REPLICATIONS,
                              integer=True)
    return RunSettings(
        scenario=str(cfg.scenario_name),
        replications=replications,
        seed=number("seed", cfg.seed, lo=0, hi=MAX_SEED, integer=True),
        n_jobs=int(n_jobs),
        precision=precision,
    )
