"""Regenerate the numbers the README and the user guide quote (`make doc-numbers`).

Runs each planning question's command as the README gives it (`simulate.py`, seeded, so
the same code gives the same numbers), and reads the committed analysis validation
(docs/validation/validate_analysis_grid.txt, written by scripts/validate_analysis.py),
then writes docs/guide/numbers.json. A number quoted in a page is followed by a marker
naming its path in that file, `0.140<!--default.power.primary-->`: invisible on GitHub
and in the site, and checked by tests/test_doc_numbers.py (it fails when a quoted number
differs from the file, or names a path the file does not have).

    nice -n 10 .venv/bin/python scripts/doc_numbers.py            # every run (minutes)
    .venv/bin/python scripts/doc_numbers.py --only validation     # just re-read the grid
    .venv/bin/python scripts/doc_numbers.py --only primary_care   # one run
    .venv/bin/python scripts/doc_numbers.py --only draws          # the assurance draws
    .venv/bin/python scripts/doc_numbers.py --only sds            # the simulated outcome SDs
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "guide" / "numbers.json"
GRID = ROOT / "docs" / "validation" / "validate_analysis_grid.txt"
QUIET = ["output.charts=false", "output.report=false", "output.print_table=false"]
RUNS = {  # name in numbers.json: simulate.py arguments (the README's commands)
    "default": [],
    "auto": ["replications=auto"],
    "assurance": ["uncertainty.mode=pilot", "replications=400", "n_jobs=2"],
    "design": ["mode=design", "n_jobs=2"],
    "design_grid": ["mode=design", "n_jobs=2", "design.pick_n=grid"],  # the bracketing walk
    "design_strategies": ["mode=design", "n_jobs=2",
                          "design.retention_strategies=[[],[text_followup],"
                          "[text_followup,interim_contact]]"],
    "complete_case": ["analysis.missing_data=complete_case"],  # the old primary analysis
    "pilot_rates": ["sites.pain_services.rate_discount=1"],  # new services at the pilot's rate
    "primary_care": ["scenario=primary_care"],
    "strategies": ["follow_up.compare_strategies=true"],
    "missing_data": ["analysis.compare_missing_data=true", "replications=1000", "n_jobs=2"],
    "strategies_no_mode_effect": ["follow_up.compare_strategies=true",
                                  "follow_up.esw_completion.mode_effect=0"],
    "mnar_minus1": ["follow_up.mnar_gamma=-1"],
    "mnar_plus1": ["follow_up.mnar_gamma=1"],
    "progression": ["trial.target_n=160", "replications=400", "uncertainty.mode=pilot",
                    "progression.amber_action.extra_sites=4", "n_jobs=2"],
    "allocation_2_3": ["trial.allocation_ratio=2:3", "trial.block_sizes=auto"],
    "allocation_1_2": ["trial.allocation_ratio=1:2", "trial.block_sizes=auto"],
}
DESIGN_KEYS = ("goals", "recommended", "check", "frontier", "recruitable_n", "work", "binding",
               "objective",
               "rule", "smallest_n_design", "cost_frontier", "allocation_ratios", "esw_fte",
               "variants", "retention_strategies")
SWEEP = ["-m", "sites.pain_services.count=16,24,32", "trial.recruitment_months=24,36"]
SUMMARY_DROP = ("curve",)  # long arrays nobody quotes


def simulate(args: list[str], where: Path) -> float:
    key = "hydra.sweep.dir" if args[:1] == ["-m"] else "hydra.run.dir"
    start = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "simulate.py"), *args, *QUIET,
                    f"{key}={where}"], cwd=ROOT, check=True)
    return round(time.perf_counter() - start, 1)


def _trim(summary: dict) -> dict:
    rec = summary.get("recruitment", {})
    for k in SUMMARY_DROP:
        rec.pop(k, None)
    for outcomes in summary.get("progression", {}).get("proposal", {}).values():
        for proposal in outcomes.values() if isinstance(outcomes, dict) else ():
            if isinstance(proposal, dict):
                proposal.pop("curve", None)  # the trade-off curve: the figure's, not quoted
    return summary


def run_numbers(tmp: Path, only: str | None = None) -> dict:
    numbers: dict = {}
    for name, args in RUNS.items():
        if only not in (None, name):
            continue
        where = tmp / name
        seconds = simulate(args, where)
        if name.startswith("design"):
            design = json.loads((where / "design.json").read_text())
            numbers[name] = {k: design[k] for k in DESIGN_KEYS if k in design}
        else:
            numbers[name] = _trim(json.loads((where / "summary.json").read_text()))
        numbers[name]["command"] = " ".join(["python simulate.py", *args])
        numbers[name]["wall_seconds"] = seconds
    if only not in (None, "sweep"):
        return numbers
    where = tmp / "sweep"
    seconds = simulate(SWEEP, where)
    with (where / "sweep_summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    numbers["sweep"] = {
        "command": " ".join(["python simulate.py", *SWEEP]), "wall_seconds": seconds,
        "cells": {f"s{r['sites.pain_services.count']}_m{r['trial.recruitment_months']}":
                  {k: _number(v) for k, v in r.items()} for r in rows}}
    return numbers


def draw_numbers(draws: int = 400, seed: int = 20171101) -> dict:
    """What the assurance guide quotes of the pilot draws of the employment fit (no
    simulation): the fit's correlations (pathway_fit.json), and over `draws` draws of
    `uncertainty.mode=pilot` the spread of the TAU share in work at 12 months, drawn
    jointly (as assurance does) and independently, and how often the planner's relative
    risk is beyond what the drawn rates can reach."""
    import numpy as np
    from hydra import compose, initialize_config_dir

    from trialsim.inputs.compose import prepare_omegaconf, with_changes
    from trialsim.inputs.params import build_params
    from trialsim.inputs.schema import register_configs
    from trialsim.inputs.uncertainty import STREAM, sample_params
    from trialsim.streams import Streams

    register_configs()
    prepare_omegaconf()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["uncertainty.mode=pilot"])
    fit = json.loads((ROOT / "docs" / "calibration" / "pathway_fit.json").read_text())
    c = fit["tau_fit"]["correlation"]
    r = dict(zip(c["names"], c["matrix"], strict=True))
    out: dict = {"draws": draws, "seed": seed, "correlation": {
        "entry_loss": r["self_entry"][1], "entry_exponent": r["self_entry"][2],
        "loss_exponent": r["job_loss"][2],
        "work_return_max": max(abs(x) for x in r["work_return_ratio"][:3])}}
    independent = {f"employment.fit_correlation.{k}": 0.0
                   for k in ("entry_loss", "entry_exponent", "loss_exponent")}
    for label, changes in (("joint", {}), ("independent", independent)):
        params = build_params(with_changes(cfg, changes))
        drawn = [sample_params(params, Streams(seed, rep)[STREAM]).employment
                 for rep in range(draws)]
        tau = np.array([e.expected_m12_tau for e in drawn])
        rr_max = np.array([e.relative_risk_max for e in drawn])
        out[label] = {"tau_m12_sd": float(tau.std(ddof=1)),
                      "tau_m12_p5": float(np.quantile(tau, 0.05)),
                      "tau_m12_p95": float(np.quantile(tau, 0.95)),
                      "beyond_reach": int((rr_max < params.employment.ips_relative_risk_m12
                                           ).sum()),
                      "rr_max_min": float(rr_max.min())}
    return out


def sd_numbers(replications: int = 200, seed: int = 20171101) -> dict:
    """What the guides quote of the simulated 12-month outcome SDs: within each arm, the
    SD of the true scores (clipped to the scale's 0-10) averaged over `replications`
    default trials, with outcome.sd_scale 1 and 1.15 on the same seeds: clipping keeps
    them below the configured SDs and raises them by less than the scale."""
    import numpy as np
    from hydra import compose, initialize_config_dir

    from trialsim.inputs.compose import prepare_omegaconf
    from trialsim.inputs.params import build_params
    from trialsim.inputs.schema import register_configs
    from trialsim.model.trial import simulate_replication

    register_configs()
    prepare_omegaconf()
    out: dict = {"replications": replications, "seed": seed}
    for label, scale in (("scale_1", "1.0"), ("scale_1_15", "1.15")):
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            params = build_params(compose("config", overrides=[f"outcome.sd_scale={scale}"]))
        sds: dict[str, list[float]] = {"ips": [], "tau": []}
        for rep in range(replications):
            r = simulate_replication(params, seed, rep)
            y = r.rtw_se[:, 1 + r.waves.months.index(12.0)]
            for arm, mask in (("ips", r.cohort.ips), ("tau", ~r.cohort.ips)):
                sds[arm].append(float(y[mask].std(ddof=1)))
        o = params.outcome
        k = o.control_months.index(12.0)
        out[label] = {"configured": {"ips": o.ips_sds[k], "tau": o.control_sds[k]},
                      "simulated": {arm: float(np.mean(v)) for arm, v in sds.items()}}
    out["ratio"] = {arm: out["scale_1_15"]["simulated"][arm] / out["scale_1"]["simulated"][arm]
                    for arm in ("ips", "tau")}
    return out


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def grid_numbers(text: str) -> dict:
    """The committed validation grid as numbers: per block (type I on null datasets,
    power, full trials), per ESW count (and ICC), per analysis, the rejection rate."""
    blocks = {"Type I error": "null", "Power at ICC 0": "power", "Full simulated": "full"}
    out: dict = {}
    block, names = None, []
    for line in text.splitlines():
        hit = next((v for k, v in blocks.items() if line.startswith(k)), None)
        if hit:
            block = hit
            out[block] = {}
            continue
        if line.startswith("ESWs"):
            names = [w for w in line.split() if w not in ("ESWs", "ICC")]
            continue
        if block is None or not names or not line.strip() or not line.lstrip()[0].isdigit():
            continue
        words = line.split()
        esws = words[0]
        icc = words[1] if block != "power" else None
        # rates have 3-4 decimals; the ICC (2), MC SE distances and losses (signed) do not
        rates = [float(w) for w in re.findall(r"(?<![(+\-\d.])(\d\.\d{3,4})(?=\s)", line + " ")]
        cell = out[block].setdefault(f"esw{esws}", {})
        if icc is not None:
            cell = cell.setdefault(f"icc{icc.replace('.', '')}", {})  # icc020: no dot
        cell.update(dict(zip(names, rates[:len(names)], strict=False)))
    return out


MARKED = re.compile(r"([-+]?\d[\d,]*(?:\.\d+)?)<!--([\w.]+)-->")  # NUMBER<!--path-->
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def lookup(tree, path: str):
    """numbers.json's value at a dotted path (list items by index); KeyError if none."""
    for part in path.split("."):
        if isinstance(tree, list):
            tree = tree[int(part)]
        elif isinstance(tree, dict) and part in tree:
            tree = tree[part]
        else:
            raise KeyError(path)
    return tree


def quoted_as(value, text: str) -> str:
    """`value` written as `text` writes its number: the same decimals, thousands commas."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    sign = "+" if text.startswith("+") else ""
    comma = "," if "," in text else ""
    return f"{float(value):{sign}{comma}.{decimals}f}"


def rewrite(numbers: dict) -> list[str]:
    """Every marked number in the README and docs set to its regenerated value, at the
    precision quoted; returns what changed (read the sentences around them after)."""
    changed = []
    for page in PAGES:
        text = page.read_text()

        def sub(m: re.Match, page=page) -> str:
            try:
                value = lookup(numbers, m.group(2))
            except (KeyError, IndexError, ValueError):
                return m.group(0)
            if value is None:
                return m.group(0)
            new = quoted_as(value, m.group(1))
            if new != m.group(1):
                changed.append(f"{page.relative_to(ROOT)}: {m.group(2)} {m.group(1)} -> {new}")
            return new + f"<!--{m.group(2)}-->"

        new_text = MARKED.sub(sub, text)
        if new_text != text:
            page.write_text(new_text)
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["validation", "draws", "sds", *RUNS, "sweep"],
                        help="re-read the grid, or regenerate one run, only")
    parser.add_argument("--rewrite", action="store_true",
                        help="no run: set every marked number in the pages to numbers.json's")
    args = parser.parse_args()
    if args.rewrite:
        print("\n".join(rewrite(json.loads(OUT.read_text()))) or "nothing to change")
        return
    numbers = json.loads(OUT.read_text()) if OUT.exists() else {}
    numbers = {k: _trim(v) if k in RUNS else v for k, v in numbers.items()
               if k in (*RUNS, "sweep", "draws", "sds")}  # runs renamed away are dropped
    numbers["validation"] = grid_numbers(GRID.read_text())
    if args.only in (None, "draws"):
        numbers["draws"] = draw_numbers()
    if args.only in (None, "sds"):
        numbers["sds"] = sd_numbers()
    if args.only not in ("validation", "draws", "sds"):
        with tempfile.TemporaryDirectory() as tmp:
            numbers.update(run_numbers(Path(tmp), args.only))
    OUT.write_text(json.dumps(numbers, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
