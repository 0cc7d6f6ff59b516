"""What the InSTEP pilot observed, as data the figures overlay on the simulation.

Source: the feasibility report (NIHR HTA 15/108/02), WP4 "Follow-up", Table 8: postal
questionnaire returns "from baseline" among participants not withdrawn (IPS n = 20 after
two withdrawals, TAU n = 28): IPS 75% / 70% / 50%, TAU 93% / 86% / 71% at 3 / 6 / 12
months. Counts are kept so that an interval can be drawn. The report gives recruitment
only as totals by channel (Table 3: 50 randomised, 37 primary care and 13 pain
services), not by month, so the recruitment figure shows the pilot's total only.
"""

from __future__ import annotations

RETENTION_TABLE8 = {  # arm: {wave label: (returned, sent)}
    "ips": {"m3": (15, 20), "m6": (14, 20), "m12": (10, 20)},
    "tau": {"m3": (26, 28), "m6": (24, 28), "m12": (20, 28)},
}
RETENTION_SOURCE = "InSTEP pilot, Table 8 (returns among those not withdrawn)"

RANDOMISED_TOTAL = 50  # Table 3: all channels, by the close of recruitment
RANDOMISED_SOURCE = "InSTEP pilot total, Table 3 (monthly counts not reported)"
