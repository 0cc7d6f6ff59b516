"""A hostile scenario is refused by every route Hydra has for bringing in a config:
exit 2, one line, no callback run, no file written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT

from trialsim.cli import preflight
from trialsim.inputs.scenario_files import MAX_BYTES, MAX_NODES, check_scenario_file

HEADER = "# @package _global_\n"
BOMB = HEADER + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi",
                                                                strict=True))


@pytest.fixture
def project(tmp_path):
    """A copy of the entry point and config, with hostile scenarios beside the real ones."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("scenario"))
    shutil.copytree(ROOT / "scenarios", root / "conf" / "scenario")
    shutil.copy(ROOT / "simulate.py", root / "simulate.py")
    pwned = tmp_path / "pwned"
    scen = root / "conf" / "scenario"
    (scen / "callback.yaml").write_text(
        HEADER + f"trial:\n  target_n: 50\nhydra:\n  callbacks:\n    x:\n"
        f"      _target_: os.makedirs\n      name: {pwned}\n")
    (scen / "envs.yaml").write_text(HEADER + "description: ${oc.env:HOME}\n")
    (scen / "hydras.yaml").write_text(HEADER + "description: ${hydra:runtime.cwd}\n")
    (scen / "bomb.yaml").write_text(BOMB)
    (scen / "huge.yaml").write_text(HEADER + "description: " + "x" * (MAX_BYTES + 10) + "\n")
    return root


ROUTES = [
    (["scenario=callback"], "callback.yaml"),
    (["+scenario@_global_=callback"], "callback.yaml"),
    (["scenario@_global_=callback"], "callback.yaml"),
    (["-r", "scenario=callback"], "callback.yaml"),
    (["--run", "+scenario@_global_=callback"], "callback.yaml"),
    (["-m", "scenario=pilot,callback"], "callback.yaml"),
    (["scenario=[pilot,callback]"], "callback.yaml"),
    (["--cfg", "job", "scenario=callback"], "callback.yaml"),
    (["--config-d", "{conf}", "scenario=pilot"], "--config-dir"),
    (["--config-dir={conf}", "scenario=pilot"], "--config-dir"),
    (["-cd", "{conf}"], "--config-dir"),
    (["--config-p", "{conf}"], "--config-path"),
    (["--config-n", "other"], "--config-name"),
    (["--experimental-rerun", "config.pickle"], "--experimental-rerun"),
    (["scenario@hydra=pilot"], "scenario@hydra"),
    (["hydra.callbacks.x._target_=os.makedirs"], "hydra.callbacks"),
    (["~hydra.callbacks.claim_run_dir"], "hydra.callbacks"),
    (["hydra.searchpath=[file:///tmp]"], "hydra.searchpath"),
    (["+other/group=x"], "other/group"),
    (["description=${oc.env:HOME}"], "oc.env"),
    (["hydra.run.dir=${hydra:runtime.cwd}/x"], "hydra:"),
    (["scenario=envs"], "oc.env"),
    (["scenario=hydras"], "hydra:"),
    (["scenario=bomb"], f"{MAX_NODES:,} nodes"),
    (["scenario=huge"], "bytes is not allowed"),
    (["scenario=../callback"], "scenario='../callback'"),
    (["scenario_name=../../escaped"], "scenario_name"),
]


@pytest.mark.parametrize(("args", "named"), ROUTES, ids=[" ".join(a) for a, _ in ROUTES])
def test_every_route_is_checked(project, args, named):
    args = [a.replace("{conf}", str(project / "conf")) for a in args]
    start = time.perf_counter()
    lines = preflight(args, project / "conf")
    assert time.perf_counter() - start < 10
    assert len(lines) == 1 and named in lines[0], lines


def test_the_shipped_scenarios_and_plain_routes_pass(project):
    assert preflight(["-r", "scenario=pilot", "replications=2"], project / "conf") == []
    assert preflight(["+scenario@_global_=pilot"], project / "conf") == []


def test_an_alias_bomb_is_refused_at_once(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    start = time.perf_counter()
    assert "nodes" in check_scenario_file(path)
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize("args", [["-r", "scenario=callback"],
                                  ["--config-d", "{conf}", "scenario=callback"]])
def test_the_cli_runs_no_callback_and_writes_nothing(project, tmp_path, args):
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([sys.executable, str(project / "simulate.py"),
                           *[a.replace("{conf}", str(project / "conf")) for a in args]],
                          cwd=work, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "pwned").exists() and not list(work.iterdir())
