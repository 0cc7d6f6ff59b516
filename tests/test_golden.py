"""Golden-output back-test: a small seeded run whose key results are pinned.

A refactor that claims no change of behaviour (a faster queue, other tables, another
parallel back end) must keep every number below. A change of the model (another law,
another order of random draws, a recalibrated default) will move them: re-derive the
pins by running this file's `summary()` and say in the commit why they moved. (Last
moved by issue 20: the missingness model's fitted defaults, return odds ratios for men
and single people (Table 7) and RTW-SE item non-response (Tables 9 and 10), move who
returns and who is analysed; recruitment, delivery, employment and the true scores
stayed identical, and the neutral setting gives the pins before it exactly:
tests/test_missingness.py.) The
tolerance is a relative 1e-9 (the same arithmetic on another platform may differ in
the last bits), and 1e-6 on the REML estimate (its optimiser's stopping point); counts
and the number of trials that reject are exact. 20 replications of the pilot scenario
(every channel, the coordinator's queue, ESW places and the OT): about a second.
"""

from __future__ import annotations

import pytest
from conftest import make_cfg

from trialsim.app import run

PINNED = {
    ("recruitment", "prob_target_by_end"): 0.0,
    ("recruitment", "randomised", "mean"): 47.3,
    ("recruitment", "funnel", "approached"): 1042.8,
    ("recruitment", "funnel", "responded"): 83.25,
    ("recruitment", "funnel", "contacted"): 78.8,
    ("recruitment", "funnel", "eligible"): 47.3,
    ("recruitment", "by_channel", "mailshot"): 23.05,
    ("recruitment", "by_channel", "hand_search"): 4.5,
    ("recruitment", "by_channel", "gp_opportunistic"): 6.4,
    ("recruitment", "by_channel", "pain_clinics"): 13.35,
    ("allocation", "ips"): 25.65,
    ("allocation", "tau"): 21.65,
    ("delivery", "mean_wait_days"): 0.3104238988634324,
    ("delivery", "ot_wait_days"): 1.0847366429300718,
    ("delivery", "booklet_wait_days"): 0.006120970508775617,
    ("delivery", "max_caseload"): 11.2,
    ("delivery", "disengaged"): 2.5,
    ("employment", "m12", "ips"): 0.25536321489398117,
    ("employment", "m12", "tau"): 0.3323310943147495,
    ("retention", "ips", "m12"): 0.5492895291800085,
    ("retention", "tau", "m12"): 0.7395154590569979,
    ("outcome", "complete_m12", "ips"): 12.75,
    ("outcome", "complete_m12", "tau"): 15.9,
    ("outcome", "rtw_se_m12", "ips"): 4.270708396025292,
    ("outcome", "rtw_se_m12", "tau"): 3.3080267523738707,
    ("power", "primary"): 0.05,  # 1 of 20 trials rejects (repeated measures): exact
}
REML_ESTIMATE = 0.628244734491362  # mean primary estimate (repeated measures, ESW intercept)


def summary() -> dict:
    return run(make_cfg("scenario=pilot", "replications=20", "seed=20171101",
                        "output.charts=false", "output.report=false"), None)


def _at(data: dict, path: tuple[str, ...]):
    for key in path:
        data = data[key]
    return data


def test_a_small_seeded_run_gives_the_pinned_results():
    s = summary()
    got = {path: _at(s, path) for path in PINNED}
    assert got == pytest.approx(PINNED, rel=1e-9, abs=0.0)
    assert s["estimate"]["mean"] == pytest.approx(REML_ESTIMATE, abs=1e-6)
