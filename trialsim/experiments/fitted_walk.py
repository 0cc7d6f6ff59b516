"""The power frontier's walk when each ESW count's N is read off the fitted curve
(`design.pick_n=fitted`): candidates are simulated where the curve places the answer.

Why: the grid rule's walk (`search.first_passing`) brackets each count's first grid N
whose own Monte Carlo bound clears the goal, galloping and bisecting, and some of those
candidates only find a boundary the fitted curve then overrides. Read off the curve
(`fitted_n.py`: one slope in log N, an intercept per count, through every N simulated for
the count and those with more ESWs, on common random numbers), a count's answer needs
the curve to be right near it. So each
count is probed where the curve places its N (before the count has a point of its own,
or while no curve fits, where the design-effect guess does), the curve is refitted after
each probe, and the count is settled once the N the curve places it at and the grid N
below it (which the curve says falls short) have both been decided: the answer rests on
points of its own on both sides of the goal, and on every other point through the common
slope. The N below is not probed where the count above's N is the floor (fewer ESWs
never need less N), and after PROBES new candidates the curve's N stands as it then is.
The settled N is then decided with every replication if its screen had dropped it
(DesignSearch._power, full). One point at the answer alone was tried: with its power
well above the goal, the curve's bound through it stayed wide and kept the count there.
Where the curve places a count beyond the grid, the grid's largest N is simulated and
decides: none if it fails, else the grid rule's search finds the count's N; where no
curve places it when the probes end, the grid rule's search too. The count's final N
is then settled at once (DesignSearch._settle): its curve goes through the points of
counts with at least its ESWs, which the counts walked after it do not change.
"""

from __future__ import annotations

from collections.abc import Callable

PROBES = 4  # new candidates a count may add before the curve's N then stands


def walk_count(n: int, lo: int, propose: Callable[[], tuple[int, bool]],
               simulated: Callable[[int], bool], passes: Callable[[int], bool],
               grid_rule: Callable[[], int | None],
               probes: int = PROBES) -> tuple[int | None, bool]:
    """One ESW count's grid index (None: no N in the grid of `n` does) and whether the
    grid rule found it.

    `propose()`: the index the curve places the count's N at now (`n`: not within the
    grid) and True, or the design-effect guess's and False while no curve places the
    count; `simulated(i)`: whether index i has been decided for this count; `passes(i)`:
    decides index i (simulating it once; the curve then refits) and says whether its own
    bound clears the goal; `grid_rule()`: the grid rule's index from `lo` (simulating what
    it needs). Indices below `lo` (the count above's N) are not proposed. After `probes`
    new candidates the curve's N stands as it then is (simulated)."""
    top = n - 1
    for probe in range(probes + 1):  # the curve refitted once after each new candidate
        i, by_curve = propose()
        i = max(i, lo)
        todo = [j for j in ((i, i - 1) if i <= top else (top,))
                if j >= lo and not simulated(j)]
        if not todo or probe == probes:
            break
        passes(todo[0])
    if not by_curve:  # no curve places the count: the grid rule's N
        return grid_rule(), True
    if i > top:  # not within the grid: its largest N decides whether any does
        return (grid_rule(), True) if passes(top) else (None, False)
    passes(i)  # decided already, unless the probes ran out first
    return i, False
