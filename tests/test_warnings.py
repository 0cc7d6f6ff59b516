"""Legal but likely mistaken settings are warned about, each in one line."""

from __future__ import annotations

import pytest
from conftest import make_cfg

from trialsim.app import warnings_for


@pytest.mark.parametrize(("overrides", "names"), [
    (["trial.recruitment_months=1", "sites.pain_services.opening.first_month=3"],
     "trial.recruitment_months=1"),
    (["trial.allocation=pilot_capacity"], "trial.allocation=pilot_capacity"),
    (["trial.localities=20"], "trial.localities=20"),
    (["trial.target_n=3000"], "trial.target_n=3000"),
])
def test_a_mistaken_combination_is_warned(overrides, names):
    found = warnings_for(make_cfg(*overrides))
    assert any(names in w for w in found), found
    assert all("\n" not in w for w in found)


@pytest.mark.parametrize("scenario", ["pilot", "pain_services", "mixed", "primary_care"])
def test_the_shipped_scenarios_warn_only_where_meant(scenario):
    found = warnings_for(make_cfg(f"scenario={scenario}"))
    # primary care is the route the pilot found infeasible: its target is far off
    assert found == [] or (scenario == "primary_care" and "trial.target_n" in found[0]), found
