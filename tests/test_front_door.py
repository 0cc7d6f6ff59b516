"""What a new user meets first (issue 23): `--help` that helps, one-line errors that say
how to fix them, `make run KEY=VALUE`, and a capped `replications=auto` that says so."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import CONF_DIR, ROOT

import trialsim.cli as cli
from trialsim.cli import did_you_mean, preflight
from trialsim.inputs.validation import MODES


def simulate(cwd, *args, timeout=300):
    return subprocess.run([sys.executable, str(ROOT / "simulate.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def test_help_names_every_mode_the_questions_and_the_guide(tmp_path):
    proc = simulate(tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for mode in MODES:
        assert f"\n  {mode} " in text, mode
    for needle in ("mode=design", "replications=auto", "uncertainty.mode=pilot", " -m ",
                   "trial.target_n", "delivery.esw.per_locality", "docs/guide", "--cfg job",
                   "pain_services", "primary_care"):
        assert needle in text, needle
    assert len(text.splitlines()) < 80  # no config dump
    assert "replications: 200" not in text and not list(tmp_path.rglob("*.yaml"))


@pytest.mark.parametrize(("override", "suggestion"), [
    ("trial.targt_n=400", "did you mean trial.target_n?"),
    ("targt_n=400", "did you mean trial.target_n?"),  # the block left out
    ("delivery.esw.per_localty=3", "did you mean delivery.esw.per_locality?"),
])
def test_an_unknown_key_is_one_line_with_the_closest_keys(override, suggestion):
    errors = preflight([override, "replications=2"], CONF_DIR)
    assert len(errors) == 1
    assert errors[0].startswith(override.partition("=")[0] + " is not a trialsim key")
    assert suggestion in errors[0] and "TrialConfig" not in errors[0]


def test_no_close_key_points_to_the_list_of_keys():
    assert "--cfg job" in did_you_mean("zzzz.qqqq", ["trial.target_n", "seed"])


def test_a_comma_list_without_m_keeps_hydras_multirun_hint():
    errors = preflight(["trial.target_n=100,200"], CONF_DIR)
    assert len(errors) == 1 and "\n" not in errors[0]
    assert "Ambiguous value" in errors[0] and "add --multirun" in errors[0]
    assert "key=[value1,value2]" in errors[0]


def test_a_run_directory_under_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("")
    for key in ("hydra.run.dir", "hydra.sweep.dir"):
        where = tmp_path / "afile" / "run"
        args = [f"{key}={where}"] if key == "hydra.run.dir" else \
            ["-m", f"{key}={where}", "seed=1,2"]
        errors = preflight(args, CONF_DIR)
        assert len(errors) == 1 and errors[0].startswith(f"{key}=")
        assert "is a file, not a directory" in errors[0]


def test_bad_input_composes_the_config_once(monkeypatch):
    """Refused in about the time Hydra takes to start: one composition whatever is wrong
    (it was one for the whole, then one per override, then one for the rest)."""
    calls = []
    real = cli._compose
    monkeypatch.setattr(cli, "_compose", lambda o: calls.append(o) or real(o))
    errors = preflight(["scenario=pilot", "trial.targt_n=4", "trial.target_n=abc",
                        "outcome.esw_icc=0.1"], CONF_DIR)
    assert len(errors) == 2 and len(calls) == 1
    calls.clear()
    assert preflight(["scenario=pilot", "outcome.esw_icc=0.1"], CONF_DIR) == []
    assert len(calls) == 1


def test_a_refused_run_exits_2_and_writes_nothing(tmp_path):
    proc = simulate(tmp_path, "trial.targt_n=400", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "trialsim: error: trial.targt_n is not a trialsim key: did you mean trial.target_n? "
        "(python simulate.py --help lists the main keys)"]
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_passes_key_value_settings_on():
    # --no-print-directory: under `make test` the nested make would add "Leaving directory"
    proc = subprocess.run(["make", "--no-print-directory", "-n", "run", "scenario=pilot",
                           "replications=1000", "ARGS=n_jobs=2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    line = proc.stdout.strip().splitlines()[-1]
    assert "simulate.py" in line and "'scenario=pilot'" in line
    assert "'replications=1000'" in line and line.endswith("n_jobs=2")


def test_a_capped_auto_run_says_so_on_the_terminal_and_in_the_warnings(tmp_path):
    out = tmp_path / "run"
    proc = simulate(tmp_path, "replications=auto", "precision.max_replications=20",
                    "output.charts=false", "output.report=false", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["precision"]["stopped_by"] == "max_replications"
    cap = [w for w in summary["warnings"] if w.startswith("replications=auto stopped at its cap")]
    assert len(cap) == 1 and "precision.max_replications=20" in cap[0]
    assert f"trialsim: warning: {cap[0]}" in proc.stderr.splitlines()
