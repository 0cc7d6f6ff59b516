"""trialsim's submitit launchers (see trialsim.experiments.cluster)."""
