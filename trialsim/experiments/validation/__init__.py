"""Fixed, seeded validation cases: analytic laws, closed-form power, the selection formula
of job-linked non-return, and the pilot replay (`python -m trialsim.validate`)."""

from trialsim.experiments.validation import (
    allocation,
    engines,
    missing_data,
    missingness,
    pilot,
    power,
    progression,
    recruitment,
)
from trialsim.experiments.validation.core import Case

CASES: list[Case] = [*recruitment.CASES, *power.CASES, *allocation.CASES, *missingness.CASES,
                     *missing_data.CASES, *pilot.CASES, *progression.CASES,
                     *engines.CASES]
