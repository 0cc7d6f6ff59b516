"""One simulated trial: recruitment's queue and the ESW places in order of time (exact
event recursions, no clock), the pathway drawn after them, and the small records they
leave."""
