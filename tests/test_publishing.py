"""A run directory is claimed before Hydra writes in it, published all or nothing, and a
damaged one is never rebuilt: each case sets up its own directories."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ROOT, make_cfg

from trialsim.app import run
from trialsim.cli import write_failure
from trialsim.experiments.sweep import completed_hash, job_row
from trialsim.provenance import config_hash, write_provenance
from trialsim.reporting import report, sources
from trialsim.reporting.manifest import MANIFEST
from trialsim.reporting.staging import PREFIX

CLI = [sys.executable, str(ROOT / "simulate.py"), "scenario=pilot", "replications=2",
       "output.print_table=false"]


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One complete run made by the command line."""
    work = tmp_path_factory.mktemp("finished")
    proc = subprocess.run([*CLI, f"hydra.run.dir={work / 'run'}"], cwd=work,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return work / "run"


def test_a_second_run_on_the_same_directory_changes_none_of_the_first(finished, tmp_path):
    """Hydra's own entry point, past the preflight (as a run started at the same moment
    would be): the claim comes before Hydra writes .hydra/."""
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    before = snapshot(run_dir)
    code = ("import runpy, sys, trialsim.cli; trialsim.cli.preflight = lambda *_: []; "
            "sys.argv = [sys.argv[1] + '/simulate.py', *sys.argv[2:]]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT), "scenario=pilot",
                           "replications=3", f"hydra.run.dir={run_dir}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "hydra.run.dir" in proc.stderr
    assert snapshot(run_dir) == before


class Killed(BaseException):
    """A SIGKILL stand-in: no handler in trialsim catches it."""


def _sweep_job(cfg, out_dir):
    sys.path.insert(0, str(ROOT))
    try:
        import simulate
    finally:
        sys.path.remove(str(ROOT))
    hc = SimpleNamespace(job=SimpleNamespace(num=0), sweep=SimpleNamespace(dir=str(out_dir)))
    simulate._sweep_job(cfg, out_dir, hc)


def test_a_job_killed_between_its_summary_and_its_report_is_rerun(tmp_path, monkeypatch):
    cfg = make_cfg("scenario=pilot", "replications=2", "output.print_table=false",
                   "resume=true")
    job = tmp_path / "0"

    def killed(*_args, **_kwargs):
        raise Killed

    with monkeypatch.context() as m:
        m.setattr(report, "write_report", killed)
        with pytest.raises(Killed):
            _sweep_job(cfg, job)
    (job / f"{PREFIX}left-by-a-kill").mkdir()  # a real kill leaves its staging behind
    assert not (job / "summary.json").exists() and completed_hash(job) is None
    assert job_row(job, 0, ["replications=2"])["status"] != "ok"
    _sweep_job(cfg, job)  # resume=true: rerun, not skipped
    assert completed_hash(job) == config_hash(cfg)
    assert (job / "report.md").is_file() and not list(job.glob(f"{PREFIX}*"))


def test_a_full_disk_leaves_no_partial_file(tmp_path, monkeypatch):
    cfg = make_cfg("scenario=pilot", "replications=2")
    write_provenance(tmp_path, cfg)
    before = snapshot(tmp_path)

    def full(out_dir, *_args):
        path = Path(out_dir) / "parameter_sources.csv"
        path.write_bytes(b"key,value,sou")  # what a full disk leaves
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(sources, "write_parameter_sources", full)
    with pytest.raises(OSError) as err:
        run(cfg, tmp_path)
    assert snapshot(tmp_path) == before  # no result file, whole or partial; no staging
    line = write_failure(err.value)
    assert "\n" not in line and str(tmp_path) in line and "No space left" in line


def test_a_full_disk_is_one_line_from_the_cli(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        proc = subprocess.run([*CLI, f"hydra.run.dir={disk / 'run'}"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines() == [
            f"trialsim: error: cannot write {disk / 'run'}: No space left on device; "
            "no result file was published"]
        left = {p.name for p in (disk / "run").iterdir()}
        assert left <= {".hydra", ".trialsim_claim", "simulate.log", "provenance.json",
                        "config_resolved.yaml"}
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def _edit(name, old, new):
    def damage(d: Path) -> None:
        path = d / name
        path.write_text(path.read_text().replace(old, new, 1))
    return damage


def _write(name, text):
    return lambda d: (d / name).write_text(text)


def _remove(name):
    return lambda d: (d / name).unlink()


DAMAGES = {
    "summary NaN": _edit("summary.json", '"seed": ', '"seed": NaN, "was": '),
    "summary truncated": lambda d: (d / "summary.json").write_text(
        (d / "summary.json").read_text()[:200]),
    "summary a list": _write("summary.json", "[]"),
    "summary empty": _write("summary.json", ""),
    "summary other hash": _edit("summary.json", '"config_hash": "', '"config_hash": "0'),
    "replications empty": _write("replications.csv", ""),
    "replications binary": lambda d: (d / "replications.csv").write_bytes(b"\x00\xff" * 99),
    "caseload 0 bytes": _write("caseload_by_month.csv", ""),
    "flow edited": _edit("flow.csv", "1", "7"),
    "config edited": _edit(".hydra/config.yaml", "replications: 2", "replications: 9"),
    "config garbage": _write(".hydra/config.yaml", "{[: not yaml"),
    "config missing": _remove(".hydra/config.yaml"),
    "overrides garbage": _write(".hydra/overrides.yaml", "\x00"),
    "provenance garbage": _write("provenance.json", "{"),
    "bands missing": _remove("recruitment_bands.csv"),
    "manifest garbage": _write(MANIFEST, "nonsense"),
    "manifest a list": _write(MANIFEST, "[]"),
    "no manifest, summary NaN": lambda d: (_remove(MANIFEST)(d), DAMAGES["summary NaN"](d)),
    "no manifest, csv binary": lambda d: (_remove(MANIFEST)(d),
                                          DAMAGES["replications binary"](d)),
}


@pytest.mark.parametrize("name", sorted(DAMAGES))
def test_a_damaged_run_directory_is_refused_and_left_as_it_was(finished, tmp_path, capsys,
                                                               name):
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    DAMAGES[name](run_dir)
    before = snapshot(run_dir)
    assert report.main([str(run_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("trialsim: error: ")
    assert snapshot(run_dir) == before


def test_an_intact_run_directory_is_rebuilt_byte_for_byte(finished, tmp_path):
    """As a user rebuilds it, `python -m trialsim.reporting.report DIR`, a fresh process
    like the run that made it: in the test worker's process, after other tests have drawn
    figures, Agg's rasterised text could differ in the last bits (the SVGs did not)."""
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    before = snapshot(run_dir)
    proc = subprocess.run([sys.executable, "-m", "trialsim.reporting.report", str(run_dir)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(run_dir) == before
    assert json.loads((run_dir / MANIFEST).read_text())["sha256"]
