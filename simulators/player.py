"""Playing a scenario against a running server, then judging it.

Scenario t=0 is a real instant T0; a step at ``at`` runs at ``T0 + at / speed``.  Staff are
registered before T0 (POST /api/people with their badge), suspects on their ``intake`` step
(POST /api/custody with their wristband).  After the last step and the latest expectation
bound (plus the judge's margin) the player reads every alarm and judges (simulators/judge.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import msgspec

import edge.agent as edge_agent
from edge.agent import EdgeAgent
from edge.drivers.base import DriverEvent
from edge.drivers.simulated import (
    SimulatedDoor,
    SimulatedDriver,
    SimulatedLockers,
    SimulatedPanic,
    SimulatedReader,
    SimulatedSearchTerminal,
)
from protocol.codec import encode
from protocol.messages import Message
from protocol.reasons import lost_info
from simulators.api_client import ApiClient
from simulators.centre import SimulatedCentre
from simulators.devices.video import FaultInjectable
from simulators.errors import SimulatorError
from simulators.judge import Verdict, judge, margin_s
from simulators.people import Crowd
from simulators.scenario import ScenarioPlan, Step

log = logging.getLogger(__name__)

LOCKER_BANK = "lockers-lockers-1"  # CONTRACT.md: belongings go to a locker in lockers-1
STAFF = ("officer", "guard")
LOW_BATTERY_LEVEL = 0.08
# Real seconds between a person in custody stepping out of a room and their escort arriving
# in the next one (simulators/people.py Crowd.walk): the old room's node publishes first.
# At --speed 600 it is 12 site seconds of walking between readers.
MOVE_GAP_S = 0.02


def skew_edge_clock(seconds: float) -> None:
    """Set the clock of every simulated node ``seconds`` off (they share this host, and
    its clock): every live message a node sends carries the skewed time, which the
    server's clock_skew rule measures.  A simulation seam: the agent has no clock option,
    so its encoder is wrapped (replayed ``hist`` messages keep the time they were made)."""
    offset_ms = round(seconds * 1000)

    def skewed(message: Message) -> bytes:
        if not getattr(message, "hist", False):
            message = msgspec.structs.replace(message, ts=message.ts + offset_ms)
        return encode(message)
    edge_agent.encode = skewed if offset_ms else encode


@dataclass
class PlayOutcome:
    scenario: str
    speed: float
    t0: float
    verdicts: list[Verdict]
    alarms: list[dict[str, Any]]
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.errors and all(v.passed for v in self.verdicts)

    def as_json(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "speed": self.speed, "passed": self.passed,
                "expectations": [v.as_json() for v in self.verdicts],
                "alarms": self.alarms, "errors": self.errors}

    def summary(self) -> str:
        lines = [f"scenario {self.scenario} at speed {self.speed:g}: "
                 f"{'PASSED' if self.passed else 'FAILED'}"]
        for v in self.verdicts:
            e = v.expectation
            what = " ".join(f"{k}={val}" for k, val in e.model_dump(exclude_none=True).items())
            lines.append(f"  [{'ok' if v.passed else 'FAIL'}] {what}: {v.detail}")
        lines += [f"  [ERROR] {err}" for err in self.errors]
        lines.append(f"  {len(self.alarms)} alarm(s) seen")
        return "\n".join(lines)


class Player:
    def __init__(self, plan: ScenarioPlan, centre: SimulatedCentre, api: ApiClient,
                 speed: float) -> None:
        self.plan = plan
        self.scenario = plan.scenario
        self.centre = centre
        self.api = api
        self.speed = speed
        self.crowd = Crowd(centre)
        for person, p in self.scenario.people.items():
            self.crowd.add(person, p.role)
        self._restarted = AsyncExitStack()  # agents of nodes restarted by start_node

    async def check_speed(self) -> None:
        site = await self.api.site()
        server_speed = float(site.get("speed", 1.0))
        if abs(server_speed - self.speed) > 1e-9:
            raise SimulatorError(
                f"the server runs at speed {server_speed:g} but this run needs {self.speed:g}: "
                f"start the server with --speed {self.speed:g}, or pass --speed "
                f"{server_speed:g} (scenario times would then be judged at that speed)")

    async def register_staff(self) -> None:
        for person, p in self.scenario.people.items():
            if p.role != "suspect":
                await self.api.register_person(person, p.role, p.sex, self.crowd.tag(person),
                                               p.name)

    async def play(self) -> PlayOutcome:
        try:
            return await self._play()
        finally:
            await self.close()

    async def _play(self) -> PlayOutcome:
        await self.check_speed()
        await self.register_staff()
        await self.centre.wait_connected()
        loop = asyncio.get_running_loop()
        t0, start = time.time(), loop.time()
        errors: list[str] = []
        log.info("scenario %s: T0 = %.3f, speed %g, %d steps", self.scenario.name, t0,
                 self.speed, len(self.scenario.steps))
        for i, step in sorted(enumerate(self.scenario.steps), key=lambda s: s[1].at):
            await asyncio.sleep(max(0.0, start + step.at / self.speed - loop.time()))
            try:
                await self.run_step(step)
            except (SimulatorError, ValueError) as err:
                log.error("step %d (at %gs, %s) failed: %s", i + 1, step.at, step.verb, err)
                errors.append(f"step {i + 1} (at {step.at:g}s {step.verb}): {err}")
        # Judge once everything expected could have happened, plus the judge's margin.
        settle = margin_s(self.speed) / self.speed + 0.3
        await asyncio.sleep(max(0.0, start + self.scenario.end_s / self.speed + settle
                                - loop.time()))
        alarms = await self.api.alarms()
        verdicts = judge(self.scenario.expect, alarms, t0, self.speed)
        return PlayOutcome(self.scenario.name, self.speed, t0, verdicts, alarms, errors)

    async def close(self) -> None:
        """Stop what the scenario started (restarted nodes) and undo a clock skew."""
        skew_edge_clock(0.0)
        await self._restarted.aclose()

    async def run_step(self, step: Step) -> None:
        log.info("t=%gs %s %s", step.at, step.verb, step.people or step.device or step.fault
                 or step.press or step.door or "")
        people = self.scenario.people
        if step.intake is not None:
            p = people[step.intake]
            assert p.age is not None and p.custody is not None  # checked at parse
            await self.api.intake(step.intake, sex=p.sex, age=p.age,
                                  case=p.case or f"C-{step.intake}", custody=p.custody,
                                  wristband=self.crowd.tag(step.intake), name=p.name)
        elif step.release is not None:
            await self.api.release(step.release)
        elif step.move is not None:
            assert step.to is not None
            await self.crowd.walk(step.people, step.to, MOVE_GAP_S)
        elif step.search is not None:
            await self.search(step.search)
        elif step.device is not None:
            self.centre.drivers[step.device].set(**(step.set or {}))
        elif step.fault is not None:
            driver = self.centre.drivers[step.fault]
            if isinstance(driver, FaultInjectable):  # cameras, recorders: on the device
                await driver.inject_fault(str(step.kind))
            elif step.kind == "restore":
                driver.set_available(True)
            else:  # lost as a real node loses one: saying why, in data
                driver.set_lost(lost_info("fault_injected", kind=str(step.kind)))
        elif step.press is not None:
            self.centre.driver(step.press, SimulatedPanic).press()
        elif step.door is not None:
            assert step.state is not None
            self.centre.driver(step.door, SimulatedDoor).set_state(step.state)
        elif step.tamper is not None:
            self._reader_of(step.tamper).tamper(self.crowd.tag(step.tamper))
        elif step.store_belongings is not None:
            self.centre.driver(LOCKER_BANK, SimulatedLockers).store(step.store_belongings)
        elif step.return_belongings is not None:
            self.centre.driver(LOCKER_BANK, SimulatedLockers).empty(step.return_belongings)
        else:
            await self.run_added_step(step)

    async def run_added_step(self, step: Step) -> None:
        """The verbs added to CONTRACT.md's (docs/scenarios.md "Verbs")."""
        if step.outing is not None:
            assert step.minutes is not None
            await self.api.start_outing(step.outing, step.minutes,
                                        step.reason or "approved outing")
        elif step.outing_end is not None:
            await self.api.end_outing(step.outing_end)
        elif step.transfer is not None:
            await self.api.transfer(step.transfer, step.destination or "看守所",
                                    step.reason or "transfer")
        elif step.tag_check is not None:
            await self.api.tag_check(step.tag_check)
        elif step.battery_low is not None:
            self._reader_of(step.battery_low).emit(DriverEvent(
                "tag_battery_low", {"tag": self.crowd.tag(step.battery_low),
                                    "level": LOW_BATTERY_LEVEL}))
        elif step.leave is not None:
            await self.crowd.walk(step.people, None, MOVE_GAP_S)
        elif step.silence is not None:
            # A hung device: it stops reporting and its node does not notice (no
            # DeviceLost), which only the server's heartbeat sweep can find (device_stale).
            # ``fault: ID, kind: restore`` brings it back with a fresh birth.
            driver = self.centre.drivers[step.silence]
            if type(driver).__module__ != SimulatedDriver.__module__:
                raise SimulatorError(f"{step.silence} is not an in-process simulated device "
                                     f"(a Modbus or network device goes silent by "
                                     f"fault: offline)")
            driver.online = False
        elif step.stop_node is not None:
            await self._agent(step.stop_node).stop()
        elif step.start_node is not None:
            await self._restart_node(step.start_node)
        elif step.skew_clock is not None:
            skew_edge_clock(step.skew_clock)

    def _reader_of(self, person: str) -> SimulatedReader:
        zone = self.crowd.zone_of(person)
        if zone is None:
            raise SimulatorError(f"{person} is in no zone: no reader sees their tag")
        return self.centre.driver(f"reader-{zone}", SimulatedReader)

    def _agent(self, node: str) -> EdgeAgent:
        agent = self.centre.agents.get(node)
        if agent is None:
            raise SimulatorError(f"{node} is not an edge agent of the simulated centre "
                                 f"(stop_node and start_node work on edge nodes)")
        return agent

    async def _restart_node(self, node: str) -> None:
        """A node stopped by ``stop_node`` comes back: a new agent session (bdseq + 1) with
        the same drivers and state directory, as after a power cycle."""
        old = self._agent(node)
        agent = EdgeAgent(old.options, list(old.drivers.values()))
        await self._restarted.enter_async_context(agent)
        self.centre.agents[node] = agent

    async def search(self, person: str) -> None:
        """By the zone's body-check terminal if there is one, else recorded through the API."""
        zone = self.crowd.zone_of(person)
        terminal = self.centre.device_in("search", zone) if zone else None
        if isinstance(terminal, SimulatedSearchTerminal):
            officer = next((p for p in self.crowd.in_zone(zone or "")
                            if self.scenario.people[p].role in STAFF), None)
            terminal.start(person, officer)
            terminal.complete(person, officer)
        else:
            await self.api.record_search(person)
