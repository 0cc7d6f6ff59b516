"""Issue 8's crash, replayed: replication 675 of `simulate.py sites.pain_services.count=4
trial.recruitment_months=18` (default seed) once ended the run in LinAlgError.

    .venv/bin/python scripts/replication_675.py
"""

from pathlib import Path

from hydra import compose, initialize_config_dir

from trialsim.analysis.trial_analysis import analysis_columns
from trialsim.inputs.params import build_params, build_run_settings
from trialsim.inputs.schema import register_configs
from trialsim.model.trial import simulate_replication

register_configs()
with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "conf"),
                           version_base="1.3"):
    cfg = compose("config", overrides=["sites.pain_services.count=4",
                                       "trial.recruitment_months=18"])
params, seed = build_params(cfg), build_run_settings(cfg).seed
cols = analysis_columns(simulate_replication(params, seed, 675), params.analysis)
for k in ("primary_n_ips", "primary_n_tau", "primary_estimable", "primary_not_converged",
          "primary_estimate", "primary_p", "secondary_estimable", "secondary_p"):
    print(f"{k:24s} {cols[k]}")
