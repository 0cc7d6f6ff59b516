"""Every IPS participant seen by an ESW has the joint ESW + pain OT appointment, even
one who disengages after the assessment: "all 22 IPS participants attended an
appointment held jointly with the pain specialist ... and their ESW" (WP4 "IPS Arm")."""

from __future__ import annotations

import math

from conftest import make_cfg

from trialsim.inputs.params import build_params
from trialsim.model.records import IPS
from trialsim.model.trial import simulate_replication


def test_disengaged_after_assessment_still_attend_the_joint_appointment():
    params = build_params(make_cfg(
        "scenario=pain_services", "sites.pain_services.count=6", "trial.target_n=120",
        "delivery.esw.disengage_after_assessment=0.5",
        # half disengaged caps what IPS can add to employment (at most 1.4 here)
        "employment.ips_relative_risk_m12=1.2"))
    seen = disengaged = 0
    for rep in range(5):
        for p in simulate_replication(params, 3, rep).participants:
            if p.arm == IPS and p.esw >= 0:
                seen += 1
                disengaged += p.disengaged
                assert not math.isnan(p.ot_wait_days), p
            elif p.arm != IPS:
                assert math.isnan(p.ot_wait_days)
    assert disengaged > 0 and seen > disengaged  # both kinds were checked
