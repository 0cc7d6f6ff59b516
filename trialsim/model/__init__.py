"""One simulated trial: SimPy processes for recruitment and delivery, the pathway drawn
after them, and the small records they leave."""
