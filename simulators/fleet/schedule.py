"""When each trailer loses coverage: a seeded schedule of dead zones, as one sorted event list.

One loop in the fleet walks the list (no timer per trailer). Every dead zone ends before
``until`` so that the whole fleet is back in coverage when the run winds down.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulators.fleet.config import DeadZones


@dataclass(frozen=True, slots=True, order=True)
class LinkEvent:
    """At ``at`` seconds into the run, trailer ``trailer`` goes offline (``online`` False) or back."""

    at: float
    trailer: int
    online: bool


def dead_zone_events(plan: DeadZones, trailers: int, until: float, *, seed: int = 0,
                     start: float = 0.0) -> list[LinkEvent]:
    """Pick ``plan.fraction`` of the trailers; each gets dead zones of random length, separated by
    coverage at least as long as the shortest dead zone, all between ``start`` and ``until``."""
    rng = random.Random(seed)
    chosen = rng.sample(range(trailers), round(trailers * plan.fraction))
    events: list[LinkEvent] = []
    for trailer in chosen:
        t = start + rng.uniform(0.0, plan.longest)
        while True:
            length = rng.uniform(plan.shortest, plan.longest)
            if t + length > until:
                break
            events += [LinkEvent(t, trailer, False), LinkEvent(t + length, trailer, True)]
            t += length + rng.uniform(plan.shortest, 3 * plan.longest)
    return sorted(events)
