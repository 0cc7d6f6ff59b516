"""Runs never share or overwrite a directory; results are never half written; a run
that randomises nobody still completes; provenance is complete."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT, make_cfg

from trialsim.app import run
from trialsim.errors import ConfigError
from trialsim.provenance import RESOLVED_CONFIG, config_hash, write_provenance
from trialsim.reporting import outputs
from trialsim.run_dirs import claim


def test_two_runs_started_together_keep_their_own_results(tmp_path):
    cmd = [sys.executable, str(ROOT / "simulate.py"), "scenario=pilot", "replications=3",
           "output.charts=false", "output.print_table=false"]
    procs = [subprocess.Popen([*cmd, f"seed={seed}"], cwd=tmp_path, stderr=subprocess.PIPE,
                              text=True) for seed in (1, 2)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    dirs = sorted((tmp_path / "outputs" / "pilot").iterdir())
    assert len(dirs) == 2
    seeds = set()
    for d in dirs:
        summary = json.loads((d / "summary.json").read_text())
        prov = json.loads((d / "provenance.json").read_text())
        assert summary["seed"] == prov["seed"] and summary["config_hash"] == prov["config_hash"]
        assert f"seed={summary['seed']}" in " ".join(prov["command_line"])
        seeds.add(summary["seed"])
        assert len(pd.read_csv(d / "replications.csv")) == 3
    assert seeds == {1, 2}


def test_a_claimed_directory_is_refused(tmp_path):
    claim(tmp_path, "hydra.run.dir")
    with pytest.raises(ConfigError, match="hydra.run.dir"):
        claim(tmp_path, "hydra.run.dir")
    other = tmp_path / "other"
    other.mkdir()
    (other / "summary.json").write_text("{}")
    with pytest.raises(ConfigError, match="holds no other run's results"):
        claim(other, "hydra.run.dir")


def test_summary_never_beside_a_partial_table(tmp_path, monkeypatch):
    cfg = make_cfg("scenario=pilot", "replications=2", "output.charts=false")
    run(cfg, tmp_path)  # a complete run first: its files must not survive a failed rerun
    real = pd.DataFrame.to_csv

    def half_then_fail(self, path, *args, **kwargs):
        real(self.head(1), path, *args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    with pytest.raises(OSError):
        run(cfg, tmp_path)
    assert not (tmp_path / outputs.SUMMARY).exists()
    assert not list(tmp_path.glob(".*.tmp*"))  # no temporary left behind
    assert len(pd.read_csv(tmp_path / "replications.csv")) == 2  # the old whole table


@pytest.mark.parametrize("overrides", [
    ["sites.pain_services.clinics.uptake=0"],
    ["trial.recruitment_months=1", "sites.pain_services.opening.first_month=3"],
])
def test_a_run_that_randomises_nobody_completes(tmp_path, overrides):
    run(make_cfg("replications=3", "output.charts=true", *overrides), tmp_path)
    text = (tmp_path / "summary.json").read_text()
    summary = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in summary.json"))
    assert summary["recruitment"]["randomised"]["mean"] == 0
    assert any("nobody was randomised" in w for w in summary["warnings"])


def test_provenance_is_complete(tmp_path):
    cfg = make_cfg("scenario=pilot")
    info = write_provenance(tmp_path, cfg)
    assert info["seed"] == cfg.seed and info["config_hash"] == config_hash(cfg)
    assert info["trialsim_version"] and set(info["packages"]) >= {"simpy", "numpy",
                                                                 "hydra-core"}
    assert info["git"]["commit"] == "not a git checkout" or len(info["git"]["commit"]) == 40
    assert "${" not in (tmp_path / RESOLVED_CONFIG).read_text()


def test_the_config_hash_ignores_only_what_leaves_results_unchanged():
    base = config_hash(make_cfg())
    assert config_hash(make_cfg("n_jobs=2", "resume=true")) == base
    assert config_hash(make_cfg("seed=5")) != base
