"""The command line as a user meets it: one-line errors, exit 2, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

BAD_INPUT = [
    ("scenario=nope", "scenario='nope'"),
    ("sites.pain_services.clinics.consent=1.5", "sites.pain_services.clinics.consent=1.5"),
    ("sites.gp_practices.mailshot.reply.k=2000", "sites.gp_practices.mailshot.reply="),
    ("sites.pain_services.clinics.rate=-0.5", "sites.pain_services.clinics.rate=-0.5"),
    ("sites.pain_services.count=0", "sites.pain_services.count=0"),
    ("trial.target_n=1", "trial.target_n=1"),
    ("replications=0", "replications=0"),
    ("trial.allocation=minimisation", "trial.allocation='minimisation'"),
    ("trial.target_n=many", "trial.target_n=many"),
    ("delivery.esw.caseload=0", "delivery.esw.caseload=0"),
    ("outcome.esw_icc=1.0", "outcome.esw_icc=1.0"),
    ("outcome.esw_icc=-0.1", "outcome.esw_icc=-0.1"),
    ("trial.setup_months=-1", "trial.setup_months=-1"),
    ("trial.closeout_months=500", "trial.closeout_months=500"),
    ("employment.job_loss_per_month=-0.1", "employment.job_loss_per_month=-0.1"),
    ("follow_up.returns.ips.first=1.2", "follow_up.returns.ips.first=1.2"),
    ("follow_up.months=[3,6]", "follow_up.months="),
    ("follow_up.linkage=-1", "follow_up.linkage=-1"),
    ("employment.ips_relative_risk_m12=9", "employment.ips_relative_risk_m12=9"),
    ("outcome.effect_if_not_received=2", "outcome.effect_if_not_received=2"),
    ("outcome.max_wait_weeks=-3", "outcome.max_wait_weeks=-3"),
    ("outcome.work_effect_centring=site", "outcome.work_effect_centring='site'"),
    ("participants.years_out_of_work.pain_service_ratio=0",
     "participants.years_out_of_work.pain_service_ratio=0"),
    # issue #19: each new key, bad values told on one line with what is allowed
    ("sites.pain_services.rate_discount=0", "sites.pain_services.rate_discount=0"),
    ("sites.gp_practices.rate_discount=2.5", "sites.gp_practices.rate_discount=2.5"),
    ("sites.pain_services.rate_discount=high", "sites.pain_services.rate_discount=high"),
    ("sites.pain_services.opening.ramp_up_months=-1",
     "sites.pain_services.opening.ramp_up_months=-1"),
    ("sites.gp_practices.opening.ramp_up_months=2000",
     "sites.gp_practices.opening.ramp_up_months=2000"),
]


def simulate(tmp_path, *args):
    return subprocess.run(
        [sys.executable, str(ROOT / "simulate.py"), f"hydra.run.dir={tmp_path / 'run'}", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.parametrize(("override", "names"), BAD_INPUT)
def test_bad_input_is_one_line_naming_key_and_value(tmp_path, override, names):
    proc = simulate(tmp_path, override)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("trialsim: error: ") and names in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not list(tmp_path.rglob("summary.json"))


def test_a_small_run_writes_its_results(tmp_path):
    proc = simulate(tmp_path, "scenario=pilot", "replications=20")
    assert proc.returncode == 0, proc.stderr
    assert "P(target reached)" in proc.stdout
    out = tmp_path / "run"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "pilot" and summary["replications"] == 20
    rec = summary["recruitment"]
    assert set(rec["months_to_target"]) == {"mean", "p10", "p50", "p90"}
    assert set(rec["by_channel"]) == {"mailshot", "hand_search", "gp_opportunistic",
                                      "posters", "pain_clinics"}
    assert list(rec["funnel"]) == ["approached", "responded", "contacted", "eligible",
                                   "consented", "randomised"]
    assert 0.0 <= rec["prob_target_by_end"] <= 1.0
    assert summary["allocation"]["ips"] + summary["allocation"]["tau"] == pytest.approx(
        rec["randomised"]["mean"])
    assert (out / "replications.csv").read_text().count("\n") == 21
    assert (out / "recruitment.png").stat().st_size > 0
