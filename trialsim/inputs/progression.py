"""The internal pilot's progression review: when, on what, with which traffic lights,
and what the trial does at amber (config section `progression`).

Each criterion has a green line (at or above: go) and a red line (below: stop), amber
between (Avery et al. 2017, BMJ Open 7:e013537: the traffic-light form). The values are
checked here so that bad input is one line naming the key; the review itself is
trialsim.model.review.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from omegaconf import DictConfig

from trialsim.errors import ConfigError
from trialsim.inputs.checks import MAX_SITE_COUNT, choice, number, reject
from trialsim.inputs.evidence import parse_proportion
from trialsim.units import DAYS_PER_WEEK

CRITERIA = ("recruitment", "sites", "retention", "adherence")
OVERALL_RULES = ("any_red", "all_red")  # red if any criterion is red | only if all are
NO_DATA = ("amber", "ignore")  # a criterion with nobody to judge yet: amber | left out
RETENTION_REFERENCES = ("planned", "absolute")  # retention judged as a share of the planned
# return at the wave seen | as the returned share itself
SITE_KINDS = ("gp_practices", "pain_services")
RETENTION_ACTIONS = ("esw_completion", "text_followup")
MAX_RATIO = 10.0  # a share of the plan above 10x is a typo


@dataclass(frozen=True)
class Thresholds:
    green: float  # at or above: green
    red: float  # below: red; amber between


@dataclass(frozen=True)
class AmberAction:
    """What the trial does at amber, from the review day on."""

    extra_sites: int  # sites of `site_kind` approved at the review (0: none)
    site_kind: str | None  # None: the scenario's most numerous kind
    retention: str | None  # a retention strategy switched on at the review (None: none)
    retention_value: float  # its return probability / response share

    @property
    def any(self) -> bool:
        return self.extra_sites > 0 or self.retention is not None


@dataclass(frozen=True)
class Progression:
    review_month: float | None  # None: a third of the recruitment window
    criteria: tuple[str, ...]  # the criteria the rule reads, in CRITERIA order
    thresholds: dict[str, Thresholds]
    overall_rule: str
    no_data: str  # a criterion with no data at the review: "amber" or "ignore"d
    adherence_allow_days: float  # IPS randomised this long before the review are judged
    propose_max_stop_success: float | None  # proposal: allowed P(stop | would succeed)
    amber_action: AmberAction
    retention_relative_to: str = "planned"  # RETENTION_REFERENCES

    def review_day(self, window_days: float) -> float:
        from trialsim.units import months_to_days

        if self.review_month is None:
            return window_days / 3.0
        return months_to_days(self.review_month)


def _thresholds(key: str, c: DictConfig) -> Thresholds:
    green = number(f"{key}.green", c.green, lo=0, hi=MAX_RATIO)
    red = number(f"{key}.red", c.red, lo=0, hi=MAX_RATIO)
    if red > green:
        red = reject(ConfigError(f"{key}.red", c.red,
                                 f"a number <= {key}.green ({green:g}): amber lies between"),
                     green)
    return Thresholds(green=green, red=red)


def build_progression(c: DictConfig, follow_up: DictConfig | None = None) -> Progression:
    """`follow_up`: the config's follow_up section, for the retention strategy's value."""
    k = "progression"
    month = c.review_month
    if month is not None:
        month = number(f"{k}.review_month", month, lo=0, lo_open=True, hi=1200)
    raw = list(c.criteria) if c.criteria is not None else []
    criteria = []
    for i, name in enumerate(raw):
        criteria.append(choice(f"{k}.criteria[{i}]", name, CRITERIA))
    if not raw:
        reject(ConfigError(f"{k}.criteria", raw, f"a non-empty list of {', '.join(CRITERIA)}"),
               None)
    thresholds = {name: _thresholds(f"{k}.{name}", c[name]) for name in CRITERIA}
    rule = choice(f"{k}.overall_rule", c.overall_rule, OVERALL_RULES)
    no_data = choice(f"{k}.no_data", c.no_data, NO_DATA)
    allow = number(f"{k}.adherence_allow_weeks", c.adherence_allow_weeks, lo=0, hi=520)
    propose = c.propose_max_stop_success
    if propose is not None:
        propose = number(f"{k}.propose_max_stop_success", propose, lo=0, hi=1, hi_open=True)
    a = c.amber_action
    extra = number(f"{k}.amber_action.extra_sites", a.extra_sites, lo=0, hi=MAX_SITE_COUNT,
                   integer=True)
    kind = a.site_kind
    if kind is not None:
        kind = choice(f"{k}.amber_action.site_kind", kind, SITE_KINDS)
    retention = a.retention
    value = math.nan
    if retention is not None:
        retention = choice(f"{k}.amber_action.retention", retention, RETENTION_ACTIONS)
        if follow_up is not None:
            raw_value = (follow_up.esw_completion.return_prob if retention == "esw_completion"
                         else follow_up.text_followup.response)
            key = ("follow_up.esw_completion.return_prob" if retention == "esw_completion"
                   else "follow_up.text_followup.response")
            value = parse_proportion(key, raw_value).value
    relative_to = choice(f"{k}.retention.relative_to", c.retention.relative_to,
                         RETENTION_REFERENCES)
    return Progression(
        review_month=month,
        criteria=tuple(n for n in CRITERIA if n in criteria),
        thresholds=thresholds,
        overall_rule=rule,
        no_data=no_data,
        adherence_allow_days=allow * DAYS_PER_WEEK,
        propose_max_stop_success=propose,
        amber_action=AmberAction(extra_sites=int(extra), site_kind=kind, retention=retention,
                                 retention_value=value),
        retention_relative_to=relative_to,
    )
