"""A reference centre on a virtual clock, driven by the messages edges would send.

Shared by the rule and alarm tests (no tests here).  Everything goes through Twin.apply
with real protocol payloads, so the rules see exactly what ingest would give them.  The
scenes many tests start from (an escorted person, a person alone, an interview under way)
are Floor methods.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, Self

from protocol.messages import (
    DeviceBirth,
    DeviceData,
    DeviceDescriptor,
    DeviceEvent,
    DeviceLost,
    NodeBirth,
    NodeDeath,
)
from protocol.profiles import load_profiles
from protocol.site import SiteConfig, load_site
from protocol.topics import DeviceMessage, NodeMessage, device_topic, node_topic, parse_topic
from server.rules.engine import RuleEngine
from server.rules.types import AlarmKey, Evaluation
from server.twin import PersonState, Twin

PROFILES = load_profiles()
SITE = load_site("reference", PROFILES)
T0 = 1_750_000_000.0  # a fixed epoch second: the virtual clock's start


def site_with_rules(rules: Mapping[str, Any]) -> SiteConfig:
    return SITE.model_copy(update={"rules": dict(rules)})


def t(seconds: float) -> float:
    """The virtual clock's reading ``seconds`` after the start."""
    return T0 + seconds


class Floor:
    """Twin + engine + virtual clock.  ``now`` only moves when a test moves it.

    Like the server, it evaluates the rules after every message it applies, so a condition
    starts when the message that caused it arrives.
    """

    def __init__(self, site: SiteConfig = SITE, speed: float = 1.0) -> None:
        self.site = site
        self.speed = speed
        self.now = T0
        self.twin = Twin(site, PROFILES, speed)
        self.engine = RuleEngine(site, speed)
        self._seq: dict[str, int] = {}
        self._bdseq: dict[str, int] = {}
        self._event_ids = itertools.count(1)
        self._devices = {d.id: d for d in site.devices()}

    # ------------------------------------------------------------------ clock

    def at(self, seconds: float) -> Self:
        """Jump to T0 + ``seconds`` of real time."""
        self.now = T0 + seconds
        return self

    def evaluate(self) -> Evaluation:
        return self.engine.evaluate(self.twin, self.now)

    def keys(self, rule: str | None = None) -> set[AlarmKey]:
        return {k for k in self.evaluate().active if rule is None or k[0] == rule}

    # ------------------------------------------------------------------ nodes, devices

    def _ts(self) -> int:
        return int(self.now * 1000)

    def _next_seq(self, node: str) -> int:
        seq = self._seq[node] = self._seq.get(node, -1) + 1
        return seq

    def birth_node(self, node: str, devices: bool = True) -> None:
        """A node's birth, then (unless ``devices`` is False) every device's birth."""
        self._bdseq[node] = self._bdseq.get(node, -1) + 1
        self._seq[node] = 0
        refs = self.site.devices_of(node)
        msg = NodeBirth(ts=self._ts(), seq=0, bdseq=self._bdseq[node],
                        kind="gateway" if node.startswith("gw") else "edge",
                        devices=[DeviceDescriptor(d.id, d.profile, d.zone) for d in refs],
                        heartbeat_s=10.0)
        self.twin.apply(parse_topic(node_topic(self.site.id, node, NodeMessage.BIRTH)),
                        msg, self.now)
        self.evaluate()
        if devices:
            for d in refs:
                self.birth_device(d.id)

    def birth_everything(self) -> None:
        for node in self.site.nodes:
            self.birth_node(node.id)

    def kill_node(self, node: str) -> None:
        msg = NodeDeath(ts=self._ts(), bdseq=self._bdseq[node])
        self.twin.apply(parse_topic(node_topic(self.site.id, node, NodeMessage.DEATH)),
                        msg, self.now)
        self.evaluate()

    def _device_apply(self, device_id: str, kind: DeviceMessage, msg: Any) -> None:
        node = self._devices[device_id].node
        topic = parse_topic(device_topic(self.site.id, node, device_id, kind))
        self.twin.apply(topic, msg, self.now)
        self.evaluate()

    def birth_device(self, device_id: str, **metrics: Any) -> None:
        ref = self._devices[device_id]
        if ref.profile == "recorder":
            metrics.setdefault("recording", False)
        msg = DeviceBirth(ts=self._ts(), seq=self._next_seq(ref.node), profile=ref.profile,
                          zone=ref.zone, metrics=metrics)
        self._device_apply(device_id, DeviceMessage.BIRTH, msg)

    def set(self, device_id: str, **metrics: Any) -> None:
        msg = DeviceData(ts=self._ts(), seq=self._next_seq(self._devices[device_id].node),
                         metrics=metrics)
        self._device_apply(device_id, DeviceMessage.DATA, msg)

    def lose(self, device_id: str, reason: str = "no answer") -> None:
        msg = DeviceLost(ts=self._ts(), seq=self._next_seq(self._devices[device_id].node),
                         reason=reason)
        self._device_apply(device_id, DeviceMessage.LOST, msg)

    def event(self, device_id: str, kind: str, **data: Any) -> None:
        msg = DeviceEvent(ts=self._ts(), seq=self._next_seq(self._devices[device_id].node),
                          id=f"ev-{next(self._event_ids):08d}", kind=kind,  # type: ignore[arg-type]
                          data=data)
        self._device_apply(device_id, DeviceMessage.EVENT, msg)

    # ------------------------------------------------------------------ people

    def person(self, pid: str, role: str = "suspect", **kw: Any) -> PersonState:
        custody = role == "suspect"
        tag = f"wb-{pid}" if custody else f"badge-{pid}"
        person = PersonState(id=pid, role=role, tag=tag, in_custody=custody,  # type: ignore[arg-type]
                             custody_start=self.now if custody else None, **kw)
        self.twin.register(person, self.now)
        self.evaluate()
        return person

    def intake(self, pid: str, **kw: Any) -> None:
        self.person(pid, "suspect", **kw)

    def release(self, pid: str) -> None:
        self.twin.release(pid, self.now)
        self.evaluate()

    def sweep(self) -> None:
        """The server's timer: nodes and devices silent past their heartbeat."""
        self.twin.sweep(self.now)
        self.evaluate()

    def move(self, zone: str, *pids: str) -> None:
        """Each person's tag seen by the zone's reader (tag_enter)."""
        for pid in pids:
            tag = self.twin.people[pid].tag
            self.event(f"reader-{zone}", "tag_enter", tag=tag)

    def search(self, pid: str, station: str = "search-body-check-1") -> None:
        self.event(station, "search_completed", person=pid)

    # ------------------------------------------------------------------ scenes

    def escorted(self, zone: str, **suspect: Any) -> Self:
        """Everything born; S1 in custody (``suspect`` fields, e.g. searched=True) and
        officer O1 enter ``zone`` together now."""
        self.birth_everything()
        self.person("S1", **suspect)
        self.person("O1", role="officer")
        self.move(zone, "S1", "O1")
        return self

    def alone(self, zone: str) -> Self:
        """Everything born; S1 in custody, searched, enters ``zone`` alone now."""
        self.birth_everything()
        self.person("S1", searched=True)
        self.move(zone, "S1")
        return self

    def in_interview(self) -> Self:
        """Everything born; S1 (male) is taken to body-check-1 by officers O1 and O2,
        searched there, and the three go on to interrogation-1, all now."""
        self.birth_everything()
        self.person("S1", sex="male")
        self.person("O1", role="officer")
        self.person("O2", role="officer")
        self.move("body-check-1", "S1", "O1", "O2")
        self.search("S1")
        self.move("interrogation-1", "S1", "O1", "O2")
        return self
