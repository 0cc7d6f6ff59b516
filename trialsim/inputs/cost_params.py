"""Unit costs (`costs:`), checked: what each counted resource costs, in pounds.

They never change a simulated trial; trialsim.analysis.costs multiplies them with the
resources a replication counts (trialsim.model.resources). Every default and its source
is in conf/config.yaml and docs/guide/costs.md.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from trialsim.inputs.checks import number

if TYPE_CHECKING:
    from omegaconf import DictConfig

MAX_UNIT_COST = 10_000_000.0  # pounds per unit: beyond any trial's budget line


@dataclass(frozen=True)
class UnitCosts:
    esw_month: float = 0.0  # one full-time ESW post for a month
    nurse_day: float = 0.0  # a research nurse's day hand-searching records
    coordinator_hour: float = 0.0  # screening calls and booklet appointments
    ot_appointment: float = 0.0  # the OT's part of one joint ESW + OT appointment
    management_month: float = 0.0  # trial management for each month of the trial
    statistician_month: float = 0.0  # trial statistician for each month of the trial
    data_management_month: float = 0.0  # data management for each month of the trial
    health_economics_month: float = 0.0  # health economist for each month of the trial
    pack: float = 0.0  # one mailshot pack printed and posted
    questionnaire: float = 0.0  # one postal follow-up questionnaire sent
    reminder: float = 0.0  # a reminder letter with a second copy
    voucher: float = 0.0  # one per returned questionnaire
    text: float = 0.0  # a text / e-mail questionnaire (retention strategy)
    esw_completion: float = 0.0  # a questionnaire completed with the ESW (strategy)
    interim_contact: float = 0.0  # an interim contact (a wave other than 3/6/12 months)
    site_setup: float = 0.0  # opening one site
    site_month: float = 0.0  # a site open for recruitment for a month
    placement_month: float = 0.0  # a work placement's wage subsidy for a month


KEYS = tuple(f.name for f in fields(UnitCosts))
PER_TRIAL_MONTH = ("management_month", "statistician_month", "data_management_month",
                   "health_economics_month")  # the staff paid from month 0 to the last return


def per_trial_month(unit: UnitCosts) -> float:
    """The staff cost of one month of the trial, whatever it recruits."""
    return sum(getattr(unit, k) for k in PER_TRIAL_MONTH)


def build_costs(c: DictConfig | None) -> UnitCosts:
    """Each unit cost a number in [0, MAX_UNIT_COST]; a bad one names its key."""
    if c is None:
        return UnitCosts()
    return UnitCosts(**{k: number(f"costs.{k}", c[k], lo=0, hi=MAX_UNIT_COST) for k in KEYS})
