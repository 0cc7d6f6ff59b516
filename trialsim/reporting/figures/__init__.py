"""Planning figures, each drawn from a run directory's files (see reporting/rundir.py)."""
