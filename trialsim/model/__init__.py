"""One simulated trial: recruitment's queue and the ESW places in order of time (SimPy's
clock for the places), the pathway drawn after them, and the small records they leave."""
