"""Scenario files are data: a hostile one is refused before anything runs or is written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import CONF_DIR, ROOT

from trialsim.cli import preflight
from trialsim.inputs.scenario_files import check_scenario_file

HEADER = "# @package _global_\n"
HOSTILE = {
    "hydra_block": ("hydra:\n  run:\n    dir: /tmp/elsewhere\n", "key hydra"),
    "callback": ("trial:\n  target_n: 50\ncb:\n  _target_: builtins.open\n  file: {out}\n"
                 "  mode: w\n", "key cb._target_"),
    "yaml_tag": ("trial:\n  target_n: !!python/object/apply:os.system ['touch {out}']\n",
                 "key trial.target_n carries the YAML tag"),
    "other_defaults": ("defaults:\n  - override /hydra/launcher: joblib\n", "defaults[0]"),
    "other_package": ("trial:\n  target_n: 50\n", "@package hydra"),
}


def _write(folder, name, out):
    body, _ = HOSTILE[name]
    header = "# @package hydra\n" if name == "other_package" else HEADER
    path = folder / f"{name}.yaml"
    path.write_text(header + body.format(out=out))
    return path


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_scenario_is_refused_naming_file_and_key(tmp_path, name):
    path = _write(tmp_path, name, tmp_path / "pwned")
    error = check_scenario_file(path)
    assert error is not None and str(path) in error and HOSTILE[name][1] in error
    assert "\n" not in error


def test_the_shipped_scenarios_are_plain_data():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        assert check_scenario_file(path) is None, path


def test_a_scenario_may_include_one_of_its_own_group(tmp_path):
    (tmp_path / "base.yaml").write_text(HEADER + "trial:\n  target_n: 50\n")
    (tmp_path / "child.yaml").write_text(HEADER + "defaults:\n  - base\n  - _self_\n")
    assert check_scenario_file(tmp_path / "child.yaml") is None
    _write(tmp_path, "callback", tmp_path / "pwned")
    (tmp_path / "bad.yaml").write_text(HEADER + "defaults:\n  - callback\n")
    assert "callback.yaml" in check_scenario_file(tmp_path / "bad.yaml")


def test_the_cli_runs_nothing_and_writes_nothing(tmp_path):
    """A copy of the project's entry point and config with hostile scenarios added."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "conf", project / "conf", symlinks=False,
                    ignore=shutil.ignore_patterns("scenario"))
    shutil.copytree(ROOT / "scenarios", project / "conf" / "scenario")
    shutil.copy(ROOT / "simulate.py", project / "simulate.py")
    pwned = tmp_path / "pwned"
    for name in ("hydra_block", "callback", "yaml_tag"):
        _write(project / "conf" / "scenario", name, pwned)
        lines = preflight([f"scenario={name}"], project / "conf")
        assert len(lines) == 1 and name in lines[0]
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([sys.executable, str(project / "simulate.py"), "scenario=callback"],
                          cwd=work, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "callback.yaml" in lines[0] and "_target_" in lines[0]
    assert not pwned.exists() and not list(work.iterdir())
    assert CONF_DIR != project / "conf"
