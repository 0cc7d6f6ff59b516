"""The missing-data analyses as a run uses them: multiple imputation on its own random
stream (the simulated trials do not move), the delta = 0 row of the sensitivity
analysis is the primary analysis, the new keys refuse bad input in one line, and small
versions of the missing-data validation cases run."""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.analysis.delta import rejects_at
from trialsim.errors import ConfigError
from trialsim.experiments.runner import run_replications
from trialsim.experiments.validation import missing_data
from trialsim.experiments.validation.core import Context
from trialsim.inputs.compose import compose_config
from trialsim.inputs.params import build_params
from trialsim.reporting.missing_data_summary import missing_data_summary

REPS = 6


def _reps(*overrides):
    params = build_params(compose_config(["scenario=pain_services", *overrides]))
    return params, run_replications(params, REPS, 7, figures=False).replications


def test_imputation_draws_from_its_own_stream():
    _, cc = _reps()
    _, mi = _reps("analysis.missing_data=multiple_imputation", "analysis.imputations=5")
    _, mi2 = _reps("analysis.missing_data=multiple_imputation", "analysis.imputations=5")
    same = [c for c in cc.columns if not c.startswith(("primary_", "sensitivity_"))
            and not c.startswith("secondary_")]
    assert cc[same].equals(mi[same])  # the simulated trials did not move
    assert mi.equals(mi2)  # and the imputations are reproducible
    assert (mi["primary_estimable"] == 1).all()
    assert (mi["primary_n_ips"] == mi["ips"]).all()  # everyone randomised is analysed
    # the employment secondary does not depend on the RTW-SE analysis
    assert cc["secondary_estimate"].equals(mi["secondary_estimate"])


@pytest.mark.parametrize("missing", ["complete_case", "repeated_measures"])
def test_delta_zero_is_the_primary_analysis(missing):
    params, reps = _reps(f"analysis.missing_data={missing}", "analysis.compare_missing_data="
                         + ("true" if missing == "repeated_measures" else "false"))
    s = missing_data_summary(reps, params)["missing_data"]["sensitivity"]
    row0 = next(g for g in s["grid"] if g["delta"] == 0)
    assert row0["power"] == reps["primary_reject"].mean()
    assert row0["mean_estimate"] == pytest.approx(reps["primary_estimate"].mean(), abs=1e-12)
    again = rejects_at(reps["primary_estimate"], reps["primary_se"], reps["primary_df"],
                       reps["sensitivity_delta_slope"], 0.0, params.analysis.alpha)
    assert (again == reps["primary_reject"].astype(bool)).all()
    # a worse outcome for the IPS non-returners never raises power
    powers = [g["power"] for g in s["grid"]]
    assert powers == sorted(powers)
    if missing == "repeated_measures":
        comp = missing_data_summary(reps, params)["missing_data"]["comparison"]
        assert set(comp) == {"complete_case", "repeated_measures", "multiple_imputation"}
        assert comp["repeated_measures"]["power"] == reps["primary_reject"].mean()


@pytest.mark.parametrize("override, key", [
    ("analysis.missing_data=mice", "analysis.missing_data"),
    ("analysis.imputations=1", "analysis.imputations"),
    ("analysis.sensitivity.arm=control", "analysis.sensitivity.arm"),
    ("analysis.sensitivity.delta_grid=[0,9]", "analysis.sensitivity.delta_grid[1]"),
    ("analysis.sensitivity.delta_grid=[]", "analysis.sensitivity.delta_grid"),
    ("analysis.compare_missing_data=2", "analysis.compare_missing_data"),
])
def test_new_keys_refuse_bad_input_naming_the_key(override, key):
    with pytest.raises(ConfigError) as err:
        build_params(compose_config([override]))
    assert key in str(err.value) and "\n" not in str(err.value).strip()


class _Tiny(Context):
    def reps(self, full: int, fast: int) -> int:
        return 12


def test_validation_cases_run_small():
    ctx = _Tiny(fast=True, seed=3)
    for case in (missing_data.mar_analysis, missing_data.mcar_analysis):
        results = case(ctx)
        assert len(results) == 3 and all(np.isfinite(r.simulated) for r in results)
    a = missing_data.analyse(np.random.default_rng(1), "mar", 40)
    assert a[:, 4].mean() > a[:, 0].mean()  # complete cases favour IPS under this MAR
    results = missing_data.type_one_repeated_measures(ctx)
    assert len(results) == 1 and 0 <= results[0].simulated <= 1

