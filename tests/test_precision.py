"""`replications=auto`: replications in batches until the primary power's Monte Carlo SE
is below `precision.power_se`, or `precision.max_replications`; reported in
summary.json, identical for any n_jobs; its keys are checked and the run-size check
counts the cap."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import CONF_DIR, ROOT, make_cfg

from trialsim.app import run, validate
from trialsim.cli import preflight
from trialsim.errors import ConfigError
from trialsim.experiments.runner import (
    AUTO_BATCH,
    run_replications,
    run_until_precise,
    stopping_se,
)
from trialsim.inputs.params import Precision, build_params

# small and cheap: 4 services, 40 randomised, ANCOVA (a few ms per replication)
SMALL = ("sites.pain_services.count=4", "trial.target_n=40", "analysis.method=ancova",
         "output.charts=false", "output.report=false")


def test_auto_stops_at_the_first_batch_whose_power_is_precise_enough():
    params = build_params(make_cfg(*SMALL))
    result = run_until_precise(params, Precision(power_se=0.03, max_replications=2000), 5)
    rejects = result.replications["primary_reject"].to_numpy()
    used = len(rejects)
    assert used % AUTO_BATCH == 0 and used < 2000
    assert result.precision["stopped_by"] == "power_se" and result.precision["used"] == used
    assert stopping_se(int(rejects.sum()), used) < 0.03
    for n in range(AUTO_BATCH, used, AUTO_BATCH):  # no earlier batch was precise enough
        assert stopping_se(int(rejects[:n].sum()), n) >= 0.03
    # replication r is seeded by (seed, r): the same as in a fixed run
    fixed = run_replications(params, AUTO_BATCH, 5).replications
    assert fixed.equals(result.replications.iloc[:AUTO_BATCH])


def test_auto_stops_at_the_cap_and_says_so():
    summary = run(make_cfg(*SMALL, "replications=auto", "precision.power_se=0.001",
                           "precision.max_replications=150"), None)
    assert summary["replications"] == 150
    assert summary["precision"]["stopped_by"] == "max_replications"
    assert summary["precision"]["used"] == 150
    assert run(make_cfg(*SMALL, "replications=7"), None)["precision"] == {
        "replications": "fixed", "used": 7}


def test_an_auto_run_is_identical_for_any_n_jobs(tmp_path):
    auto = (*SMALL, "replications=auto", "precision.power_se=0.04")
    run(make_cfg(*auto, "n_jobs=1"), tmp_path / "seq")
    run(make_cfg(*auto, "n_jobs=2"), tmp_path / "par")
    for name in ("replications.csv", "summary.json"):
        assert (tmp_path / "seq" / name).read_bytes() == (tmp_path / "par" / name).read_bytes()
    summary = json.loads((tmp_path / "seq" / "summary.json").read_text())
    assert summary["precision"]["stopped_by"] == "power_se"
    assert summary["power"]["primary_mc_se"] < 0.04


@pytest.mark.parametrize(("overrides", "key"), [
    (["precision.power_se=0"], "precision.power_se"),
    (["precision.power_se=-0.01"], "precision.power_se"),
    (["precision.power_se=0.6"], "precision.power_se"),
    (["precision.max_replications=0"], "precision.max_replications"),
    (["precision.max_replications=2.5"], "precision.max_replications"),
    (["precision.max_replications=100000000"], "precision.max_replications"),
    (["precision.power_se=abc"], "precision.power_se"),
    (["replications=many"], "replications"),
    (["replications=-3"], "replications"),
    (["replications=auto", "mode=design"], "replications"),  # a design needs a fixed count
])
def test_bad_precision_values_are_refused_naming_the_key(overrides, key):
    """Through the command line's checks (Hydra refuses a word or a fraction for a
    number at composition; the rest are ours): one line, naming the key."""
    lines = preflight(overrides, CONF_DIR)  # checked whether replications is auto or not
    assert len(lines) == 1 and key in lines[0], lines


def test_a_bad_precision_value_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "simulate.py"),
                           f"hydra.run.dir={tmp_path / 'run'}", "replications=auto",
                           "precision.power_se=0"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "precision.power_se=0" in lines[0], proc.stderr
    assert not list(tmp_path.rglob("summary.json"))


def test_the_run_size_check_counts_the_cap():
    validate(make_cfg("replications=auto", "precision.max_replications=10000"))
    with pytest.raises(ConfigError) as info:
        validate(make_cfg("replications=auto", "precision.max_replications=1000000"))
    assert "limits.max_participant_replications=" in str(info.value)
    assert "precision.max_replications=1000000" in str(info.value)
