"""The validation command (`python -m trialsim.validate`): its fast subset passes, a
deliberately broken parameter makes it fail, and it writes its document and figures.

The fast subset is the cases the rest of the suite does not already check at an equal
or larger size (staggered-opening recruitment laws, the selection formula of job-linked
non-return, Table 8's returns, the pilot replay, the engines' rows to the last bit);
each case's own rule (4 Monte Carlo SE, the simulated 90% interval for a pilot count,
equality for the engines) is the tolerance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialsim import validate
from trialsim.experiments.validation import CASES
from trialsim.experiments.validation.core import FAIL, LISTED, PASS, Context
from trialsim.experiments.validation.engines import differing_cells
from trialsim.experiments.validation.missingness import selected_share
from trialsim.experiments.validation.power import size_result

# the pilot replay (1000 replications, the fast subset's longest case) passes where its
# document is written: main exits 0 only when no case fails
FAST = [c for c in CASES if c.fast and c.id != "replay_counts"]
CTX = Context(fast=True, seed=validate.SEED)


@pytest.mark.parametrize("case", FAST, ids=[c.id for c in FAST])
def test_fast_case_passes(case):
    results = case.run(CTX)
    assert results
    assert not [r for r in results if r.status == FAIL], [r for r in results if r.status == FAIL]


def test_a_halved_12_month_return_makes_validation_fail(capsys):
    """IPS returns 12 months after a 6-month return: 5 of 14 instead of Table 8's 10 of 14."""
    code = validate.main(["--fast", "--case", "table8_returns",
                          "--set", "follow_up.returns.ips.m12_after_return={k:5,n:14}"])
    assert code == 1
    out = capsys.readouterr().out
    assert "FAIL table8_returns: IPS 12-month return" in out


def test_the_engines_case_counts_a_cell_an_ulp_apart():
    """engines_agree fails on one value moved by its last bit, 0.0 against -0.0, integers
    beyond a double's precision, a column's dtype or order; NaN equals NaN."""
    a = pd.DataFrame({"x": [1.0, np.nan, 0.0], "y": [1, 2, 2**53], "s": ["a", "b", "c"]})
    assert differing_cells(a, a.copy()) == 0
    b = a.copy()
    b.loc[0, "x"] = np.nextafter(1.0, 2.0)
    b.loc[2, "x"] = -0.0
    b.loc[2, "y"] = 2**53 + 1
    b.loc[1, "s"] = "B"
    assert differing_cells(a, b) == 4
    assert differing_cells(a, a.astype({"y": float})) == a.size
    assert differing_cells(a, a[["y", "x", "s"]]) == a.size


def test_selection_formula():
    assert selected_share(0.5, 1.0) == pytest.approx(0.5)
    assert selected_share(0.5, 0.5) == pytest.approx(1 / 3)
    assert selected_share(0.0, 0.3) == 0.0


def test_document_and_figures_are_written(tmp_path):
    out = tmp_path / "docs" / "validation.md"
    code = validate.main(["--fast", "--case", "table8_returns", "--case", "replay_counts",
                          "--out", str(out)])
    assert code == 0
    text = out.read_text()
    assert "### table8_returns" in text and "### replay_counts" in text
    assert "python -m trialsim.validate --fast" in text
    for name in ("checks", "pilot_replay"):
        png = out.parent / "validation" / f"{name}.png"
        assert png.stat().st_size > 20_000
        assert f"validation/{name}.png" in text


def test_type_one_rule_fails_liberal_and_lists_only_few_esw_conservatism():
    """3000 trials: band 0.05 +- 3 x 0.0040 = [0.038, 0.062]."""
    assert size_result(8, 0.2, 150, 3000, "").status == PASS  # 0.050
    assert size_result(4, 0.2, 200, 3000, "").status == FAIL  # 0.067: liberal
    assert size_result(4, 0.0, 54, 3000, "").status == LISTED  # 0.018: 4 ESWs, conservative
    assert size_result(8, 0.0, 54, 3000, "").status == FAIL  # conservative with 8 ESWs


def test_an_analysis_ignoring_the_esws_fails_the_type_one_case(capsys):
    """ANCOVA with 4 ESWs at ICC 0.2 rejects about 0.34 of null trials (README
    'Validation of the analysis'); the band's top at 200 trials is 0.096."""
    code = validate.main(["--fast", "--case", "type_one_error", "--set", "analysis.method=ancova"])
    assert code == 1
    assert "FAIL type_one_error: 4 ESWs, ICC 0.2" in capsys.readouterr().out
