"""Ambient life for a demo: a few people walking through the centre by the book, forever.

Each round a new suspect is taken in, searched, has belongings stored, waits in holding with
a guard, is questioned by two officers with the recorder running, gets belongings back and is
released.  Durations are site seconds (scaled by ``speed``).  With no API client the tags
still move (the server sees unknown tags), which is enough to watch the floor plan.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from edge.drivers.simulated import SimulatedLockers, SimulatedRecorder, SimulatedSearchTerminal
from simulators.api_client import ApiClient
from simulators.centre import SimulatedCentre
from simulators.errors import SimulatorError
from simulators.people import Crowd

log = logging.getLogger(__name__)

OFFICERS = ("AO1", "AO2")
GUARD = "AG1"


async def ambient(centre: SimulatedCentre, api: ApiClient | None, speed: float,
                  pause_s: float = 60.0) -> None:
    """Run rounds until cancelled.  ``pause_s``: site seconds between two moves."""
    crowd = Crowd(centre)
    for person, role, sex in ((OFFICERS[0], "officer", "male"), (OFFICERS[1], "officer",
                                                                  "female"),
                              (GUARD, "guard", "male")):
        crowd.add(person, role)
        if api is not None:
            await api.register_person(person, role, sex, crowd.tag(person))
    crowd.move([*OFFICERS, GUARD], "duty-desk")

    async def wait(site_s: float = pause_s) -> None:
        await asyncio.sleep(site_s / speed)

    for n in itertools.count(1):
        suspect = f"A{n}"
        crowd.add(suspect, "suspect")
        try:
            if api is not None:
                await api.intake(suspect, sex="male", age=30 + n % 20, case=f"C-A{n}",
                                 custody="administrative_questioning",
                                 wristband=crowd.tag(suspect))
            log.info("ambient: round %d with %s", n, suspect)
            o1, o2 = OFFICERS
            crowd.move([suspect, o1, o2], "entrance")
            await wait()
            crowd.move([suspect, o1, o2], "body-check-1")
            await wait()
            terminal = centre.driver("search-body-check-1", SimulatedSearchTerminal)
            terminal.start(suspect, o1)
            await wait(pause_s / 2)
            terminal.complete(suspect, o1)
            crowd.move([suspect, o1], "lockers-1")
            lockers = centre.driver("lockers-lockers-1", SimulatedLockers)
            lockers.store(suspect)
            await wait()
            crowd.move([suspect, GUARD], "holding-5")
            crowd.move([o1, o2], "interrogation-1")
            await wait(pause_s * 3)
            recorder = centre.driver("recorder-interrogation-1", SimulatedRecorder)
            recorder.set(recording=True)
            crowd.move([suspect], "interrogation-1")
            crowd.move([GUARD], "duty-desk")
            await wait(pause_s * 5)
            crowd.move([suspect, o1, o2], "lockers-1")
            recorder.set(recording=False)
            lockers.empty(suspect)
            await wait()
            if api is not None:
                await api.release(suspect)
            crowd.move([suspect, o1, o2], "exit")
            await wait(pause_s / 2)
            crowd.move([suspect], None)
            crowd.move([o1, o2], "duty-desk")
            await wait()
        except SimulatorError as err:  # e.g. the server restarted: keep the demo alive
            log.warning("ambient round %d: %s", n, err)
            await wait()
