"""Benchmark of the rule path: Twin.apply + RuleEngine.evaluate per message.

A synthetic centre of 100 zones (kinds and devices as in the reference centre) and 300
people (120 in custody, each escorted by one or two officers or a guard, guardians with the
juveniles, spare officers), everything born; then a realistic mix of messages (escort
teams moving, climate readings, doors, recorders, heartbeats, the odd panic, locker and
tag battery event) on a virtual clock at 20 messages per second, each stamped by its node
2-20 ms before it arrives (as a node stamps a message when it sends it).  The rules are
evaluated exactly once per message with that message's Changes (incremental evaluation,
server/rules/engine.py).  Messages are built before the clock starts, so the figure is the
twin and the rules alone.

    custodywatch bench rules [--json] [--events N]
"""

from __future__ import annotations

import gc
import json
import logging
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from protocol.messages import (
    DeviceBirth,
    DeviceData,
    DeviceDescriptor,
    DeviceEvent,
    Message,
    NodeBirth,
    NodeHeartbeat,
)
from protocol.profiles import ProfileSet, load_profiles
from protocol.site import SiteConfig
from protocol.topics import DeviceMessage, NodeMessage, Topic, device_topic, node_topic, parse_topic
from server.alarms.lifecycle import AlarmBook
from server.rules.engine import RuleEngine
from server.twin import Changes, PersonState, Twin

SITE_ID = "bench"
T0 = 1_750_000_000.0
RATE = 20.0  # messages per second of virtual time

# (kind, count, field devices on the gateway); every zone also has a reader and a camera.
_LAYOUT: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("entrance", 2, ("door",)), ("exit", 2, ("door",)), ("body_check", 6, ("panic",)),
    ("info_collection", 4, ()), ("locker_bank", 2, ("lockers",)),
    ("holding", 34, ("door", "panic", "env", "smoke")),
    ("interrogation", 20, ("door", "panic", "env")), ("inquiry", 10, ("door", "panic", "env")),
    ("juvenile", 4, ("door", "panic", "env")), ("lawyer_meeting", 4, ()),
    ("corridor", 10, ("smoke",)), ("duty_desk", 2, ()),
)
_EDGE_EXTRA = {"interrogation": ("recorder",), "inquiry": ("recorder",),
               "juvenile": ("recorder",), "body_check": ("search",)}
ZONES_PER_EDGE = 10


def synthetic_site(profiles: ProfileSet) -> SiteConfig:
    zones: list[dict[str, Any]] = []
    for kind, count, field_devices in _LAYOUT:
        for i in range(1, count + 1):
            n = len(zones)
            zones.append({
                "id": f"{kind.replace('_', '-')}-{i}", "kind": kind,
                "name": {"zh": f"{kind}{i}", "en": f"{kind} {i}"},
                "capacity": 2 if kind == "holding" else None,
                "rect": {"x": (n % 10) * 100, "y": (n // 10) * 100, "w": 90, "h": 90},
                "devices": ["reader", "camera", *_EDGE_EXTRA.get(kind, ()), *field_devices],
            })
    nodes: list[dict[str, Any]] = [
        {"id": f"edge-{j}", "kind": "edge",
         "zones": [z["id"] for z in zones[j * ZONES_PER_EDGE:(j + 1) * ZONES_PER_EDGE]],
         "profiles": ["reader", "camera", "recorder", "search"]}
        for j in range((len(zones) + ZONES_PER_EDGE - 1) // ZONES_PER_EDGE)
    ]
    nodes.append({"id": "gw-1", "kind": "gateway", "zones": "*",
                  "profiles": ["door", "panic", "env", "smoke", "lockers"]})
    return SiteConfig.model_validate(
        {"id": SITE_ID, "name": {"zh": "基准中心", "en": "Benchmark centre"},
         "floor": {"width": 1000, "height": 1000}, "zones": zones, "nodes": nodes},
        context={"profiles": profiles})


class _Feed:
    """Builds protocol messages with per-node sequence numbers."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.seq: dict[str, int] = {}
        self.node_of = {d.id: d.node for d in site.devices()}
        self.events = 0

    def _seq(self, node: str) -> int:
        self.seq[node] = self.seq.get(node, -1) + 1
        return self.seq[node]

    def node(self, node: str, kind: NodeMessage, msg: Message) -> tuple[Topic, Message]:
        return parse_topic(node_topic(self.site.id, node, kind)), msg

    def birth(self, node: str, now: float) -> tuple[Topic, Message]:
        self.seq[node] = 0
        refs = self.site.devices_of(node)
        msg = NodeBirth(ts=int(now * 1000), seq=0, bdseq=0,
                        kind="gateway" if node.startswith("gw") else "edge",
                        devices=[DeviceDescriptor(d.id, d.profile, d.zone) for d in refs],
                        heartbeat_s=10.0)
        return self.node(node, NodeMessage.BIRTH, msg)

    def heartbeat(self, node: str, now: float) -> tuple[Topic, Message]:
        return self.node(node, NodeMessage.HEARTBEAT,
                         NodeHeartbeat(ts=int(now * 1000), seq=self._seq(node)))

    def device(self, device: str, message: DeviceMessage, now: float, /,
               **fields: Any) -> tuple[Topic, Message]:
        node = self.node_of[device]
        ts, seq = int(now * 1000), self._seq(node)
        msg: Message
        if message is DeviceMessage.BIRTH:
            msg = DeviceBirth(ts=ts, seq=seq, **fields)
        elif message is DeviceMessage.DATA:
            msg = DeviceData(ts=ts, seq=seq, **fields)
        else:
            self.events += 1
            msg = DeviceEvent(ts=ts, seq=seq, id=f"ev-{self.events:08d}", **fields)
        return parse_topic(device_topic(self.site.id, node, device, message)), msg


def _people() -> list[list[PersonState]]:
    """Escort teams: 120 persons in custody, each with one or two officers or a guard, a
    guardian with the juveniles; 300 people in all."""
    rng = random.Random(7)
    teams: list[list[PersonState]] = []
    staff = 0

    def member(role: str) -> PersonState:
        nonlocal staff
        staff += 1
        return PersonState(id=f"P{staff:03d}", role=role,  # type: ignore[arg-type]
                           sex=rng.choice(("male", "female")), tag=f"badge-P{staff:03d}")

    for i in range(120):
        age = rng.choice((15, 22, 35, 48, 61))
        suspect = PersonState(
            id=f"S{i:03d}", role="suspect", sex=rng.choice(("male", "female")), age=age,
            case=f"C-{i // 3:03d}",
            custody_basis=rng.choice(("criminal_summons", "administrative_questioning",
                                      "continued_questioning")),
            custody_start=T0 - rng.uniform(0, 6 * 3600), in_custody=True,
            searched=rng.random() < 0.95, tag=f"wb-S{i:03d}")
        team = [suspect, member(rng.choice(("officer", "guard")))]
        if i < 50:
            team.append(member("officer"))
        if age < 18 and staff < 180:
            team.append(member("guardian"))
        teams.append(team)
    while staff < 180:
        teams.append([member("officer")])
    return teams


def _mix(site: SiteConfig, feed: _Feed, teams: list[list[PersonState]], events: int,
         rng: random.Random) -> list[tuple[Topic, Message, float]]:
    by_profile: dict[str, list[str]] = {}
    for d in site.devices():
        by_profile.setdefault(d.profile, []).append(d.id)
    zones = [z.id for z in site.zones]
    kind_of = {z.id: z.kind for z in site.zones}
    custody_zones = [z for z in zones if kind_of[z] in (
        "holding", "interrogation", "inquiry", "juvenile", "corridor", "info_collection")]
    people = [p for team in teams for p in team]
    nodes = [n.id for n in site.nodes]
    transit = random.Random(11)  # apart from ``rng``: the mix stays what it was
    out: list[tuple[Topic, Message, float]] = []
    i = 0

    def stamp() -> float:
        """The node's clock when it sends the next message: what the server's clock will
        say when it arrives, less a transit of 2-20 ms."""
        return T0 + (i + 1) / RATE - transit.uniform(0.002, 0.02)

    def add(tm: tuple[Topic, Message]) -> None:
        nonlocal i
        i += 1
        out.append((*tm, T0 + i / RATE))

    while i < events:
        r = rng.random()
        if r < 0.55:  # an escort team moves, one wristband/badge after the other
            team = rng.choice(teams)
            zone = rng.choice(custody_zones if team[0].in_custody else zones)
            for person in team:
                add(feed.device(f"reader-{zone}", DeviceMessage.EVENT, stamp(),
                                kind="tag_enter", data={"tag": person.tag}))
        elif r < 0.70:
            add(feed.device(rng.choice(by_profile["env"]), DeviceMessage.DATA, stamp(),
                            metrics={"temperature": round(rng.gauss(23, 2.5), 1),
                                     "humidity": round(rng.gauss(50, 10), 1)}))
        elif r < 0.80:
            add(feed.device(rng.choice(by_profile["door"]), DeviceMessage.DATA, stamp(),
                            metrics={"open": rng.random() < 0.3}))
        elif r < 0.85:
            add(feed.device(rng.choice(by_profile["recorder"]), DeviceMessage.DATA, stamp(),
                            metrics={"recording": rng.random() < 0.9}))
        elif r < 0.97:
            add(feed.heartbeat(rng.choice(nodes), stamp()))
        elif r < 0.98:
            add(feed.device(rng.choice(by_profile["panic"]), DeviceMessage.EVENT, stamp(),
                            kind=rng.choice(("panic_pressed", "panic_reset"))))
        elif r < 0.995:
            add(feed.device(rng.choice(by_profile["lockers"]), DeviceMessage.EVENT, stamp(),
                            kind=rng.choice(("locker_stored", "locker_emptied")),
                            data={"locker": rng.randint(1, 24),
                                  "person": rng.choice(teams[:120])[0].id}))
        else:
            person = rng.choice(people)
            add(feed.device(f"reader-{person.zone or zones[0]}", DeviceMessage.EVENT, stamp(),
                            kind="tag_battery_low", data={"tag": person.tag, "level": 15}))
    return out[:events]


@dataclass(slots=True)
class _Centre:
    """The synthetic centre, everyone in place and the rules evaluated once, plus the
    messages to feed it (built before any clock starts)."""

    site: SiteConfig
    twin: Twin
    engine: RuleEngine
    messages: list[tuple[Topic, Message, float]]


def _centre(events: int) -> _Centre:
    """Deterministic: two calls give equal centres and equal messages."""
    profiles = load_profiles()
    site = synthetic_site(profiles)
    twin = Twin(site, profiles)
    engine = RuleEngine(site)
    feed = _Feed(site)
    rng = random.Random(42)
    now = T0
    for node in site.nodes:
        twin.apply(*feed.birth(node.id, now), now)
        for d in site.devices_of(node.id):
            twin.apply(*feed.device(d.id, DeviceMessage.BIRTH, now, profile=d.profile,
                                    zone=d.zone), now)
    teams = _people()
    for team in teams:
        zone = rng.choice(site.zones).id
        for person in team:  # every team somewhere before the clock starts
            twin.register(person, now)
            twin.apply(*feed.device(f"reader-{zone}", DeviceMessage.EVENT, now,
                                    kind="tag_enter", data={"tag": person.tag}), now)
    engine.evaluate(twin, now)
    return _Centre(site, twin, engine, _mix(site, feed, teams, events, rng))


def _timed(run: Callable[[], None]) -> float:
    """Seconds ``run`` takes.  The pre-built messages are frozen out of the garbage
    collector's way first: scanning them is the benchmark's cost, not the server's."""
    gc.collect()
    gc.freeze()
    try:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    finally:
        gc.unfreeze()


def _per_message(centre: _Centre, incremental: bool) -> float:
    twin, engine = centre.twin, centre.engine

    def run() -> None:
        for topic, msg, at in centre.messages:
            changes = twin.apply(topic, msg, at)
            engine.evaluate(twin, at, changes if incremental else None)

    return _timed(run)


def _batched(centre: _Centre, batch: int) -> float:
    """The server's path without its I/O: a batch of messages applied, one incremental
    evaluation with their merged Changes, and the alarm book brought up to date."""
    twin, engine, book = centre.twin, centre.engine, AlarmBook()
    messages = centre.messages

    def run() -> None:
        for i in range(0, len(messages), batch):
            changes = Changes()
            for topic, msg, at in messages[i:i + batch]:
                changes.merge(twin.apply(topic, msg, at))
            book.sync(engine.evaluate(twin, at, changes).active, at)

    return _timed(run)


def bench_rules(events: int = 20000, *, baseline_events: int = 0,
                batch: int = 0) -> dict[str, float | int]:
    """Feed ``events`` messages through Twin.apply + RuleEngine.evaluate (once each, with
    the message's Changes, as the server does) and return {"events": n, "us_per_event":
    mean microseconds per message}.

    ``baseline_events`` > 0 adds "baseline_full_us_per_event": the first that many
    messages through a full evaluation per message (the engine before incremental
    evaluation; slow, so a shorter run).  ``batch`` > 0 adds "batch_size" and
    "batched_us_per_event": messages applied ``batch`` at a time, one evaluation and one
    AlarmBook.sync per batch (the server's ingest path without MQTT and SQLite).
    """
    result: dict[str, float | int] = {
        "events": events,
        "us_per_event": _per_message(_centre(events), True) / max(events, 1) * 1e6,
    }
    if baseline_events > 0:
        n = min(baseline_events, max(events, 1))
        result["baseline_full_us_per_event"] = _per_message(_centre(n), False) / n * 1e6
    if batch > 0:
        result["batch_size"] = batch
        result["batched_us_per_event"] = _batched(_centre(events), batch) / max(events, 1) * 1e6
    return result


def run_bench_rules(events: int, *, as_json: bool = False, baseline_events: int = 500,
                    batch: int = 100) -> int:
    """``custodywatch bench rules``: a human table, or with ``as_json`` one JSON object on
    the last line ({"events", "us_per_event", ...}).  Returns the exit status."""
    if events < 1 or baseline_events < 0 or batch < 0:
        print("custodywatch bench rules: --events must be >= 1, --baseline-events and "
              "--batch >= 0", file=sys.stderr)
        return 2
    # The synthetic centre's births and alarms are not news: keep the twin's and the alarm
    # book's INFO lines out of the figures' way.
    chatty = logging.getLogger("server")
    level = chatty.level
    chatty.setLevel(max(logging.WARNING, chatty.getEffectiveLevel()))
    try:
        result = bench_rules(events, baseline_events=baseline_events, batch=batch)
    finally:
        chatty.setLevel(level)
    if as_json:
        print(json.dumps(result))
        return 0
    us = result["us_per_event"]
    print(f"rule engine: {len(_LAYOUT)} zone kinds, 100 zones, 300 people, "
          f"Twin.apply + RuleEngine.evaluate")
    print(f"  {'incremental, one evaluation per message':46s} {us:9.1f} µs/message "
          f"({events} messages)")
    if "baseline_full_us_per_event" in result:
        full = result["baseline_full_us_per_event"]
        print(f"  {'full evaluation per message (before)':46s} {full:9.1f} µs/message "
              f"({min(baseline_events, events)} messages, x{full / us:.0f})")
    if "batched_us_per_event" in result:
        label = f"batches of {batch}, one evaluation + AlarmBook.sync"
        print(f"  {label:46s} {result['batched_us_per_event']:9.1f} µs/message")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_bench_rules(20000))
