"""Regenerate the figure gallery in docs/figures/ (`make figures`, a few minutes on 2 cores).

Runs, with modest replications: the default scenario with assurance, the pilot replay,
a services x months sweep, the default design search and a power curve, each through
`simulate.py` as a planner would, and copies their PNG figures here with the run's name in front.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "figures"
RUNS = {  # gallery prefix: simulate.py arguments
    "default": ["replications=200", "uncertainty.mode=pilot"],
    "pilot": ["scenario=pilot", "replications=300"],
    "design": ["mode=design", "replications=100", "n_jobs=2"],  # the default search
    "curve": ["mode=curve", "replications=100", "n_jobs=2",  # power against N by ESWs
              "design.curve_esw_per_locality=[1,2,4]"],
}
SWEEP = ["-m", "scenario=pain_services", "sites.pain_services.count=8,12,16",
         "trial.recruitment_months=18,24,30", "replications=100", "output.charts=false",
         "output.report=false", "output.print_table=false"]


def simulate(args: list[str], key: str, where: Path) -> None:
    print(f"gallery: {key}: simulate.py {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, str(ROOT / "simulate.py"), *args, key], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, args in RUNS.items():
            simulate(args, f"hydra.run.dir={tmp / name}", tmp)
            for png in sorted((tmp / name).glob("*.png")):
                shutil.copyfile(png, OUT / f"{name}_{png.name}")
        simulate(SWEEP, f"hydra.sweep.dir={tmp / 'sweep'}", tmp)
        for png in sorted((tmp / "sweep").glob("*.png")):
            shutil.copyfile(png, OUT / f"sweep_{png.name}")
    for png in sorted(OUT.glob("*.png")):
        print(png.relative_to(ROOT))


if __name__ == "__main__":
    main()
