"""trialsim: discrete-event simulation for planning a definitive RCT of IPS for people
unemployed with chronic pain.

The package is laid out as the flow of a run: `inputs` (config schema, checked frozen
parameters, pilot evidence) -> `model` (the simulation and its records) -> `analysis`
(the trial's estimators) -> `experiments` (replication runner, design search, sweeps) ->
`reporting` (tables, summary, charts, report). `app.run(cfg)` walks it once.
"""

__version__ = "0.2.0"
