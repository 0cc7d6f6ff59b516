"""Many trials: replications in sequence or parallel, the design search, sweeps."""
