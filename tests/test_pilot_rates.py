"""P(target) at the pilot's rates beside the headline's (trialsim.experiments.pilot_rates):
the second pass is the same replications with every rate discount 1, recruitment alone."""

from __future__ import annotations

import numpy as np
from conftest import make_cfg

from trialsim.experiments.pilot_rates import at_pilot_rates, pilot_rates_summary
from trialsim.inputs.params import build_params
from trialsim.model.trial import simulate_replication

SHORT = ("trial.target_n=120", "trial.recruitment_months=12")
PILOT = ("sites.gp_practices.rate_discount=1", "sites.pain_services.rate_discount=1")


def test_the_pilot_rates_pass_is_the_discount_1_run():
    params = build_params(make_cfg(*SHORT))
    assert {st.rate_discount for st in params.site_types} == {0.7}
    out = pilot_rates_summary(params, 30, 5, 1, headline=0.0)
    pilot = build_params(make_cfg(*SHORT, *PILOT))
    assert at_pilot_rates(params).site_types == pilot.site_types
    assert out["prob_target_at_pilot_rates"] == np.mean(
        [simulate_replication(pilot, 5, rep).close_reason == "target" for rep in range(30)])
    assert out["rate_discount"] == {"pain_services": 0.7}
    # every discount 1: the headline's own value, nothing run again
    assert pilot_rates_summary(pilot, 30, 5, 1, headline=0.25)[
        "prob_target_at_pilot_rates"] == 0.25




def test_a_run_reports_both_side_by_side():
    from trialsim.app import run
    from trialsim.reporting.report import rates_sentence
    from trialsim.reporting.terminal import result_table

    summary = run(make_cfg(*SHORT, "replications=20", "output.charts=false",
                           "output.report=false"), None)
    rec = summary["recruitment"]
    assert rec["rate_discount"] == {"pain_services": 0.7}
    assert rec["prob_target_at_pilot_rates"] >= rec["prob_target_by_end"]
    table = result_table(summary)
    assert "0.7 x the pilot's rate" in table and "at the pilot's rates" in table
    # the pain clinics' evidence loses no one at screening (13 of 13 at every stage): said
    assert rec["unscreened_channels"] == ["pain_clinics"]
    assert "no one lost at screening in pain_clinics" in table
    words = rates_sentence(lambda name: {"rate_discount": rec["rate_discount"],
                                         "target_n": 120,
                                         "prob_target_at_pilot_rates": 0.5}.get(name))
    assert "not at the pilot's own rates, because" in words and "50%" in words
    assert "Walters et al. 2017" in words


def test_a_channel_that_loses_people_at_screening_is_not_named():
    from trialsim.reporting.summary import unscreened

    # the pilot lost no one screening in clinics (13 of 13), hand searches (6 of 6) or GP
    # consultations (5 of 5); mailshot repliers were lost (57 of 62 contacted, 26 eligible)
    got = unscreened(build_params(make_cfg("scenario=mixed")))
    assert got == ["hand_search", "gp_opportunistic", "pain_clinics"]
