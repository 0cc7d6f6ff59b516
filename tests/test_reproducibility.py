"""Same config and seed, same results: whatever n_jobs is; and common random numbers."""

from __future__ import annotations

from conftest import make_cfg

from trialsim.app import run
from trialsim.experiments import runner
from trialsim.inputs.params import build_params
from trialsim.model.sites import build_sites
from trialsim.model.streams import Streams

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
    """With workers (the in-process rule for small runs lifted) and without."""
    run(make_cfg(*SMALL, "n_jobs=1"), tmp_path / "seq")
    with monkeypatch.context() as m:
        m.setattr(runner, "PARALLEL_FROM", 1)
        assert runner.jobs_for(12, 2) == 2
        run(make_cfg(*SMALL, "n_jobs=2"), tmp_path / "par")
    run(make_cfg(*SMALL, "n_jobs=2"), tmp_path / "small")  # in-process: the rule
    assert _files(tmp_path / "seq") == _files(tmp_path / "par") == _files(tmp_path / "small")


def test_small_runs_run_in_process():
    assert runner.jobs_for(runner.PARALLEL_FROM - 1, 2) == 1
    assert runner.jobs_for(runner.PARALLEL_FROM, 2) == 2


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
