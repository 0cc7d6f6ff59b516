"""Same config and seed, same results: whatever n_jobs is; and common random numbers."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import pytest
from conftest import ROOT, make_cfg

from trialsim.app import run
from trialsim.experiments import runner
from trialsim.inputs.checks import cores
from trialsim.inputs.params import build_params
from trialsim.model.sites import build_sites
from trialsim.streams import Streams

SMALL = ("scenario=mixed", "replications=12", "output.charts=false",
         "output.participants_csv=true")


def _files(out):
    return {name: (out / name).read_bytes()
            for name in ("replications.csv", "participants.csv", "summary.json",
                         "recruitment_curve.csv")}


def test_same_seed_twice_gives_identical_files(tmp_path):
    run(make_cfg(*SMALL), tmp_path / "a")
    run(make_cfg(*SMALL), tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_parallel_equals_sequential(tmp_path, monkeypatch):
    """Forked workers, joblib's (the in-process rule for small runs lifted) and none give
    the same files; 30 replications are two blocks, so two workers share them."""
    two_blocks = (*SMALL, "replications=30")
    run(make_cfg(*two_blocks, "n_jobs=1"), tmp_path / "seq")
    assert runner.jobs_for(30, 2) == (2 if runner.FORKS else 1)
    run(make_cfg(*two_blocks, "n_jobs=2"), tmp_path / "forked")
    with monkeypatch.context() as m:
        m.setattr(runner, "FORKS", False)
        m.setattr(runner, "PARALLEL_FROM", 1)
        assert runner.jobs_for(30, 2) == 2
        run(make_cfg(*two_blocks, "n_jobs=2"), tmp_path / "joblib")
    assert _files(tmp_path / "seq") == _files(tmp_path / "forked") == _files(tmp_path / "joblib")


def test_the_workers_a_run_uses(monkeypatch):
    """Forked workers: no more than the run's blocks (-1: one per core); joblib's
    (no fork): none below PARALLEL_FROM replications, whose start-up costs more."""
    blocks = len(runner.block_ranges(0, 1000))
    with monkeypatch.context() as m:
        m.setattr(runner, "FORKS", True)
        assert runner.jobs_for(runner.BLOCK, 4) == 1
        assert runner.jobs_for(runner.BLOCK + 1, 4) == 2
        assert runner.jobs_for(1000, -1) == min(cores(), blocks)
        assert runner.jobs_for(1000, 2 * blocks) == blocks
    with monkeypatch.context() as m:
        m.setattr(runner, "FORKS", False)
        assert runner.jobs_for(runner.PARALLEL_FROM - 1, 2) == 1
        assert runner.jobs_for(runner.PARALLEL_FROM, 2) == 2


def _pids(reps):
    return [os.getpid() for _ in reps]


@pytest.mark.skipif(not runner.FORKS, reason="workers are forked only where the platform forks")
def test_the_workers_of_a_run_are_forked_once_for_all_its_maps():
    """Inside `workers`, every map uses the same forked pool (a design search makes about
    70 maps); outside it, each map forks its own."""
    with runner.workers(2):
        first = set(runner.map_blocks(_pids, 4 * runner.BLOCK, 2))
        second = set(runner.map_blocks(_pids, 4 * runner.BLOCK, 2))
    # the same two workers serve both maps (a fresh pool would bring new ones); a map of
    # quick tasks may be served by one of them alone, so the sets need not be equal
    assert os.getpid() not in first | second and len(first | second) <= 2
    third = set(runner.map_blocks(_pids, 4 * runner.BLOCK, 2))
    assert not third & first
    with runner.workers(1):  # in-process
        assert set(runner.map_blocks(_pids, 2 * runner.BLOCK, 1)) == {os.getpid()}


def test_a_sweep_job_runs_in_process_unless_n_jobs_is_asked(tmp_path, monkeypatch):
    """A sweep's jobs share the machine (joblib launcher) or their allocation: one core
    each unless the command line sets n_jobs."""
    sys.path.insert(0, str(ROOT))
    try:
        import simulate
    finally:
        sys.path.remove(str(ROOT))
    seen = []
    monkeypatch.setattr(simulate, "_simulate", lambda cfg, *_a, **_k: seen.append(cfg.n_jobs))
    # the config's default (-1: every core) is not the command line's
    for num, (task, expected) in enumerate((((), 1), (("n_jobs=2",), 2))):
        hc = SimpleNamespace(job=SimpleNamespace(num=num), sweep=SimpleNamespace(dir=str(tmp_path)),
                             overrides=SimpleNamespace(task=list(task)))
        simulate._sweep_job(make_cfg(*(task or ("n_jobs=-1",))), tmp_path / str(num), hc)
        assert seen.pop() == expected


def test_another_seed_gives_other_results(tmp_path):
    run(make_cfg(*SMALL), tmp_path / "a")
    run(make_cfg(*SMALL, "seed=99"), tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a["replications.csv"] != b["replications.csv"]


def test_adding_sites_leaves_the_draws_of_existing_sites_unchanged():
    """Common random numbers: site i opens when, and is as keen as, in any scenario."""
    few = build_params(make_cfg("sites.pain_services.count=4"))
    many = build_params(make_cfg("sites.pain_services.count=12"))
    for rep in range(5):
        a = build_sites(few, Streams(7, rep))
        b = build_sites(many, Streams(7, rep))[:4]
        assert [(s.open_day, s.frailty) for s in a] == [(s.open_day, s.frailty) for s in b]
