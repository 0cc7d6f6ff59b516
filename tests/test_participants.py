"""Participant characteristics drawn to match the pilot (Table 4)."""

from __future__ import annotations

import numpy as np
from conftest import make_cfg, z_share

from trialsim.inputs.params import build_params


def test_years_out_of_work_match_table_4_quartiles():
    years_law = build_params(make_cfg()).years_out_of_work
    rng = np.random.default_rng(4)
    years = np.array([years_law.draw(u) for u in rng.random(4000)])
    assert years.min() >= 0.25  # eligibility: out of work more than 3 months
    assert years.max() <= 40.0  # a working life
    floor, ceiling = years_law.floor, years_law.ceiling  # the mass cut away at each end
    for q, level in ((1.3, 0.25), (3.0, 0.5), (5.5, 0.75)):  # Table 4: median 3.0 (1.3-5.5)
        expected = (level - floor) / (ceiling - floor)
        assert abs(z_share(int((years <= q).sum()), len(years), expected)) <= 4
    assert floor < 0.03  # lower quartile 1.3 years: little mass below 3 months
    assert ceiling > 0.995
