"""The report reads as an application's text: no raw config key as a label in a figure or
a main table of the default run's report, each source once, only what the run uses in
the assumptions table (the rest in the appendix), no blank values; and the power-curve
report draws and reads N from the fitted curve."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from scipy.special import ndtr

from trialsim.reporting import labels, report
from trialsim.reporting.figures.assurance import assurance_figure
from trialsim.reporting.rundir import RunDir
from trialsim.reporting.sources import SECTIONS

ROOT = Path(__file__).resolve().parents[1]
# a dotted config key (trial.target_n, follow_up.returns.tau.first, outcome.sd_scale) or a
# name_with_underscores (prob_target_by_end, sd_scale)
DOTTED = re.compile(r"\b(?:" + "|".join(SECTIONS) + r"|design|output)\.[a-z_][a-z0-9_.]*")
SNAKE = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")


def raw_keys(text: str, allowed: set[str] = frozenset()) -> list[str]:
    found = DOTTED.findall(text) + SNAKE.findall(text)
    return [k for k in found if k not in allowed]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> Path:
    """The default scenario, small, by the command line."""
    out = tmp_path_factory.mktemp("default") / "run"
    subprocess.run([sys.executable, "simulate.py", "replications=4", "output.charts=false",
                    "output.report=false", "output.print_table=false",
                    f"hydra.run.dir={out}"], cwd=ROOT, check=True,
                   env={**os.environ, "CI": "1"}, capture_output=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def figure_texts(default_run) -> dict[str, list[str]]:
    """Every matplotlib text of every figure the report builds, by file."""
    texts: dict[str, list[str]] = {}
    original = Figure.savefig

    def spy(fig, fname, *args, **kwargs):
        texts[Path(str(fname)).name] = [t.get_text() for t in fig.findobj(Text)]
        return original(fig, fname, *args, **kwargs)

    Figure.savefig = spy
    try:
        made = report.build(default_run, processes=1)  # the spy sees this process only
    finally:
        Figure.savefig = original
    assert {p.name for p in made} >= {"report.md", "report.html", "flow.png"}
    return texts


def test_no_raw_key_in_any_figure(default_run, figure_texts):
    scenario = RunDir(default_run).cfg("scenario_name")
    # the four run figures, the tipping point and the internal pilot's two
    assert len([f for f in figure_texts if f.endswith(".png")]) == 7
    for name, texts in figure_texts.items():
        bad = [k for t in texts for k in raw_keys(t, {scenario})]
        assert not bad, (name, bad)


def _main_part(html: str) -> str:
    return html.split("<h2>Appendix A", 1)[0]


def test_no_raw_key_in_any_main_table(default_run, figure_texts):
    html = (default_run / "report.html").read_text()
    main = _main_part(html)
    cells = re.findall(r"<t[dh]>(.*?)</t[dh]>", "".join(re.findall(r"<table>.*?</table>",
                                                                    main, re.S)), re.S)
    assert len(cells) > 150  # key answers and the assumptions table
    bad = [k for c in cells for k in raw_keys(c)]
    assert not bad, bad
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", main, re.S)
    assert len(captions) == 7 and not [k for c in captions for k in raw_keys(c)]


def test_each_source_once_and_only_what_the_run_uses(default_run, figure_texts):
    md = (default_run / "report.md").read_text()
    notes = re.findall(r"^\d+\. (.+)$", md, re.M)
    assert len(notes) == len(set(notes)) > 20
    rest = re.sub(r"^\d+\. .+$", "", md, flags=re.M)  # the report without its notes
    for note in notes:
        assert len(note) < 40 or note not in rest, note  # no long source quoted elsewhere
    table = md.split("## Assumptions and their sources", 1)[1].split("### Sources", 1)[0]
    rows = [r.split(" | ") for r in table.splitlines() if r.startswith("| ")][1:]
    assert all(len(r) == 3 and r[1].strip() for r in rows)  # no blank value
    shown = " ".join(r[0] for r in rows)
    # the default scenario recruits through pain services only
    assert "Pain services taking part" in shown
    assert "GP" not in shown and "practice" not in shown.lower()
    assert "Pilot allocation" not in shown
    assert "Prior SD of the effect" not in shown  # no uncertainty in this run
    appendix = md.split("## Appendix B", 1)[1]
    assert "| sites.gp_practices.count | 0 | no |" in appendix
    assert "| trial.target_n | 300 participants | yes |" in appendix


def test_the_table_of_sources_is_repeated_nowhere(default_run, figure_texts):
    md = (default_run / "report.md").read_text()
    table10 = [ln for ln in md.splitlines() if "Table 10 reports two 0-10 scales" in ln]
    assert len(table10) == 1


def test_every_label_is_words():
    for key, (text, _unit) in labels.LABELS.items():
        assert not raw_keys(text), (key, text)
    assert labels.label("outcome.sd_scale") == "Scale of the outcome SDs"
    assert labels.label("employment.job_loss_per_month") == "Job loss"
    assert "_" not in labels.label("sites.pain_services.clinics.conversion")
    assert labels.label("follow_up.some_new_key") == "Follow up some new key"


def test_tornado_and_effect_axis_in_words(tmp_path):
    rng = np.random.default_rng(3)
    n = 300
    table = pd.DataFrame({"outcome.effect_m12": rng.normal(1, 0.5, n),
                          "outcome.sd_scale": rng.uniform(0.8, 1.2, n),
                          "follow_up.returns.tau.first": rng.uniform(0.8, 1, n)})
    table["success"] = (table["outcome.effect_m12"] > 0.8).astype(int)
    table["target_reached"] = (rng.uniform(size=n) < 0.5).astype(int)
    table.to_csv(tmp_path / "assurance_parameters.csv", index=False)
    texts: list[str] = []
    original = Figure.savefig

    def spy(fig, fname, *args, **kwargs):
        texts.extend(t.get_text() for t in fig.findobj(Text))
        return original(fig, fname, *args, **kwargs)

    Figure.savefig = spy
    try:
        assurance_figure(RunDir(tmp_path), tmp_path)
    finally:
        Figure.savefig = original
    assert not [k for t in texts for k in raw_keys(t)]
    joint = (table["success"] & table["target_reached"]).mean()
    title = next(t for t in texts if t.startswith("Assurance "))
    assert title.startswith(f"Assurance {joint:.2f}: P(target reached in time and")


def _curve_design(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    evaluations = []
    for e, a in ((1, -8.8), (2, -8.4)):  # power 0.9 at N about 1,050 and 790
        for n in range(300, 1101, 100):
            p = float(ndtr(a + 1.45 * np.log(n)))
            k = int(rng.binomial(200, p))
            evaluations.append({"step": "curve", "target_n": n, "esw_per_locality": e,
                                "esws": 4 * e, "replications": 200, "power": k / 200,
                                "power_mc_se": float(np.sqrt(p * (1 - p) / 200)),
                                "prob_target": 0.5, "prob_target_mc_se": 0.03})
    design = {"mode": "curve", "scenario": "pain_services", "replications": 200, "seed": 1,
              "criterion": "power", "site_kind": "pain_services", "localities": 4,
              "scenario_sites": 16, "scenario_months": 24.0,
              "goals": {"criterion": "power", "target_power": 0.9, "prob_target": 0.8,
                        "confidence_z": 1.6448536269514722},
              "smallest_n": [{"esw_per_locality": 1, "esws": 4, "target_n": None},
                             {"esw_per_locality": 2, "esws": 8, "target_n": 900}],
              "target_n": 900, "work": {"replications": 3600, "runs": 18,
                                        "participants": 1e6},
              "evaluations": evaluations}
    (tmp_path / "design.json").write_text(json.dumps(design))
    return tmp_path


def test_curve_report_reads_n_from_the_fitted_curve(tmp_path):
    path = _curve_design(tmp_path)
    made = report.build(path)
    assert {p.name for p in made} == {"power_curve.png", "power_curve.svg", "report.md",
                                      "report.html"}
    md = (path / "report.md").read_text()
    assert "From the fitted curve" in md
    section = md.split("From the fitted curve", 1)[1].split("\n## ", 1)[0]
    rows = [r.split(" | ") for r in section.splitlines() if r.startswith("| ")][1:]
    assert [r[0].strip("| ") for r in rows] == ["1", "2"]
    n1, n2 = (float(r[1].replace(",", "")) for r in rows)
    assert n2 < n1  # more ESWs, fewer participants
