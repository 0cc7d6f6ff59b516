"""`hand_search.start_month`: the research nurse starts hand-searching no earlier than
that month (the pilot's hand-search yielded "the final 6 recruited patients", Table 3)."""

from __future__ import annotations

import pytest
from conftest import make_cfg

from trialsim.errors import ConfigError
from trialsim.inputs.params import build_params
from trialsim.model.trial import simulate_replication
from trialsim.units import months_to_days


def test_no_hand_search_recruit_before_the_start_month():
    params = build_params(make_cfg("scenario=pilot", "trial.target_n=10000",
                                   "sites.gp_practices.hand_search.start_month=9"))
    found = 0
    for rep in range(30):
        for p in simulate_replication(params, 5, rep).participants:
            if p.channel == "hand_search":
                found += 1
                assert p.randomised_day >= months_to_days(9)
    assert found > 0


def test_a_negative_start_month_is_refused():
    with pytest.raises(ConfigError, match="hand_search.start_month"):
        build_params(make_cfg("sites.gp_practices.hand_search.start_month=-1"))
