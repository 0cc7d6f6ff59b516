"""outcome.sd_scale: every outcome SD times one factor, for sizing (or checking) at the
pilot SDs' upper confidence limit rather than at their point estimates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_cfg
from scipy.stats import chi2

from trialsim.app import warnings_for
from trialsim.experiments.runner import run_replications
from trialsim.inputs.design_settings import build_design
from trialsim.inputs.params import build_params
from trialsim.reporting.report_blocks import sd_words


def test_every_sd_of_both_arms_is_scaled_and_nothing_else():
    base = build_params(make_cfg()).outcome
    scaled = build_params(make_cfg("outcome.sd_scale=1.15")).outcome
    assert base.sd_scale == 1.0 and scaled.sd_scale == 1.15
    assert scaled.control_sds == pytest.approx([1.15 * s for s in base.control_sds])
    assert scaled.ips_sds == pytest.approx([1.15 * s for s in base.ips_sds])
    assert scaled.control_means == base.control_means
    assert scaled.effect_m12 == base.effect_m12


def test_the_check_runs_value_is_the_80_percent_upper_confidence_limit():
    """1.15 in the default check_sensitivity is Browne's 80% UCL of an SD on the df the
    assurance gives Table 10's SDs (uncertainty.outcome_sd_df)."""
    cfg = make_cfg("mode=design")
    df = float(cfg.uncertainty.outcome_sd_df)
    assert df == 24  # 26 complete cases at 12 months, two arm means
    ucl = math.sqrt(df / chi2.ppf(0.2, df))
    pairs = dict(build_design(cfg).check_sensitivity)
    assert pairs["outcome.sd_scale"] == round(ucl, 2) == 1.15


def test_a_larger_sd_never_raises_power():
    """Common random numbers: the same trials with every SD x 1.3; power must fall by
    more than 4 MC SE of the paired difference."""
    def rejects(scale: float) -> np.ndarray:
        cfg = make_cfg("scenario=pain_services", f"outcome.sd_scale={scale}",
                       "trial.recruitment_months=36", "outcome.effect_m12=1.5")
        rows = run_replications(build_params(cfg), 120, 17, figures=False).replications
        return rows["primary_reject"].to_numpy(dtype=float)

    d = rejects(1.3) - rejects(1.0)
    assert d.mean() < -4 * d.std(ddof=1) / math.sqrt(len(d)), d.mean()


def test_scaling_with_assurance_is_warned_once_counted():
    found = warnings_for(make_cfg("uncertainty.mode=pilot", "outcome.sd_scale=1.15"))
    assert [w for w in found if "outcome.sd_scale=1.15" in w and "twice" in w], found
    assert not [w for w in warnings_for(make_cfg("uncertainty.mode=pilot"))
                if "sd_scale" in w]
    assert not [w for w in warnings_for(make_cfg("outcome.sd_scale=1.15")) if "sd_scale" in w]


def test_the_report_gives_the_scaled_sds():
    def c(overrides):
        cfg = make_cfg(*overrides)

        def get(key, default=None):
            from omegaconf import OmegaConf
            v = OmegaConf.select(cfg, key, default=default)
            return OmegaConf.to_container(v) if hasattr(v, "_metadata") else v
        return get

    assert sd_words(c([])) == "SD 2.2 TAU, 2.7 IPS"
    assert sd_words(c(["outcome.sd_scale=1.15"])) == (
        "SD 2.53 TAU, 3.10 IPS: the configured SDs x 1.15, outcome.sd_scale")


@pytest.mark.parametrize("value", ["0", "-1", "4"])
def test_a_bad_scale_is_refused_naming_the_key(value):
    from trialsim.errors import ConfigError

    with pytest.raises(ConfigError, match="outcome.sd_scale"):
        build_params(make_cfg(f"outcome.sd_scale={value}"))
