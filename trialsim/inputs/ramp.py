"""A site's ramp-up: its rates rise linearly from 0 at opening to full `ramp` days later.

The ramp is a change of time. By `s` days after opening a ramped site has recruited as
much as a site at full rate would in G(s) days: G(s) = s^2 / (2 ramp) while s < ramp,
s - ramp / 2 after. Poisson arrivals are drawn exactly as without a ramp (unit-rate
gaps, in full-rate days from opening) and mapped back to the calendar through G^-1, so
the k-th responder of a site keeps its row of uniforms whatever the ramp, and a ramp of
0 draws every arrival as before, to the last bit (callers skip the map for it).
"""

from __future__ import annotations

import numpy as np


def full_rate_days(s, ramp):
    """G: full-rate days by `s` days after opening (0 before it); numpy arrays or floats,
    `ramp` > 0 or, elementwise, 0 (then G(s) = s)."""
    s = np.maximum(s, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s < ramp, s * s / (2.0 * np.asarray(ramp, dtype=float)),
                        s - np.asarray(ramp, dtype=float) / 2.0)


def calendar_days(y, ramp: float):
    """G^-1: days after opening by which a site ramping over `ramp` > 0 days has
    recruited for `y` full-rate days."""
    y = np.maximum(y, 0.0)
    return np.where(y < ramp / 2.0, np.sqrt(2.0 * ramp * y), y + ramp / 2.0)


def expected_days(span: float, ramp: float) -> float:
    """Full-rate days of a site open `span` days: `span` itself without a ramp."""
    return span if ramp <= 0 else float(full_rate_days(span, ramp))
