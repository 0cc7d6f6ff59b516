"""From replications to answers: tidy tables, summary.json, charts, the terminal table."""
