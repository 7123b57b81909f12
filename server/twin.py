"""The live state ("digital twin") of one centre: zones, devices, nodes and people.

The twin is pure state: ingest hands it decoded messages, the custody API hands it intakes
and releases, and it answers what changed.  It does no I/O and reads no clock: every call
takes ``now`` (seconds since the epoch, real time), so tests drive it with a virtual clock.

Rules read the twin; they never change it (server/rules/engine.py).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from protocol.messages import (
    DeviceBirth,
    DeviceData,
    DeviceEvent,
    DeviceLost,
    Message,
    NodeBirth,
    NodeDeath,
    NodeHeartbeat,
)
from protocol.profiles import ProfileSet
from protocol.site import SiteConfig, ZoneConfig
from protocol.timing import scaled_interval
from protocol.topics import Topic
from server.errors import UnknownIdentity

log = logging.getLogger(__name__)

Role = Literal["suspect", "officer", "guard", "guardian", "lawyer", "visitor"]
STAFF_ROLES: frozenset[str] = frozenset({"officer", "guard"})
DeviceStatus = Literal["unknown", "online", "offline", "stale", "maintenance"]

# A node or device is declared silent after this many heartbeat intervals without a word.
NODE_SILENCE_FACTOR = 3.0
SEEN_EVENTS_KEPT = 50_000  # event ids remembered against replays (an edge outbox's worth)
DEVICE_STALE_FACTOR = 2.5


@dataclass(slots=True)
class PersonState:
    id: str
    role: Role
    sex: Literal["male", "female"] | None = None
    age: int | None = None
    case: str | None = None
    custody_basis: str | None = None  # legal basis of the custody clock
    custody_start: float | None = None
    in_custody: bool = False
    released_at: float | None = None
    searched: bool = False
    searched_at: float | None = None
    tag: str | None = None  # wristband or badge id
    name: str = ""
    zone: str | None = None
    zone_since: float | None = None
    timeline: list[tuple[str, float, float | None]] = field(default_factory=list)
    # Approved outing (hospital, scene visit): until when leaving through the exit is
    # allowed.  Set by the custody API; None = no outing.
    outing_until: float | None = None
    # Wristband/badge alerts from the readers.  They stay set until an operator clears them
    # (Twin.clear_tag_alerts) or a new intake/registration replaces this record.
    tag_tampered: bool = False
    tag_tampered_at: float | None = None
    tag_tamper_zone: str | None = None
    tag_battery_low: bool = False
    tag_battery_low_at: float | None = None
    tag_battery_level: float | None = None
    # The custody file (一人一档) beyond presence: identity document, how custody ended, the
    # outings and belongings of this custody, and earlier custodies of the same person.
    id_number: str | None = None
    release_kind: Literal["release", "transfer"] | None = None
    release_reason: str = ""
    transferred_to: str | None = None
    outing_started_at: float | None = None
    outing_reason: str = ""
    outings: list[dict[str, Any]] = field(default_factory=list)  # start, until, ended, reason
    belongings: list[dict[str, Any]] = field(default_factory=list)  # locker, stored, returned
    past_custody: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_juvenile(self) -> bool:
        return self.age is not None and self.age < 18


@dataclass(slots=True)
class DeviceState:
    id: str
    profile: str
    zone: str
    node: str
    heartbeat_s: float  # the profile's interval, already scaled by the site speed
    status: DeviceStatus = "unknown"
    born: bool = False
    last_seen: float | None = None
    metrics: dict[str, object] = field(default_factory=dict)
    maintenance: bool = False
    lost_reason: str = ""
    metrics_ts: int = 0  # edge time (ms) of the newest metrics applied


@dataclass(slots=True)
class NodeState:
    id: str
    kind: str
    heartbeat_s: float
    online: bool = False
    ever_seen: bool = False
    bdseq: int | None = None
    next_seq: int = 0
    last_seen: float | None = None
    born_at: float | None = None
    died_at: float | None = None
    outbox: int = 0
    # The node's clock against ours: message ts minus receive time (s), from its latest live
    # message (replayed outbox data keeps its old ts and is not a measure).
    clock_skew_s: float | None = None
    clock_skew_at: float | None = None


@dataclass(slots=True)
class ZoneState:
    config: ZoneConfig
    occupants: set[str] = field(default_factory=set)  # person ids

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def kind(self) -> str:
        return self.config.kind


@dataclass(slots=True)
class Changes:
    """What one call changed: the rules re-evaluate these, the hub pushes them."""

    zones: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)
    nodes: set[str] = field(default_factory=set)
    people: set[str] = field(default_factory=set)
    rebirth: bool = False  # the node's session is out of step: ask it for a rebirth
    stale: bool = False  # the message belongs to an old session and was ignored

    def merge(self, other: Changes) -> Changes:
        self.zones |= other.zones
        self.devices |= other.devices
        self.nodes |= other.nodes
        self.people |= other.people
        self.rebirth |= other.rebirth
        return self

    def __bool__(self) -> bool:
        return bool(self.zones or self.devices or self.nodes or self.people)


class Twin:
    def __init__(self, site: SiteConfig, profiles: ProfileSet, speed: float = 1.0) -> None:
        self.site = site
        self.profiles = profiles  # the rules read profile thresholds (held_open_s, env limits)
        self.speed = speed
        self.started_at: float | None = None
        self.zones: dict[str, ZoneState] = {z.id: ZoneState(z) for z in site.zones}
        self.devices: dict[str, DeviceState] = {
            d.id: DeviceState(d.id, d.profile, d.zone, d.node,
                              heartbeat_s=scaled_interval(profiles[d.profile].heartbeat_s, speed))
            for d in site.devices()
        }
        self.nodes: dict[str, NodeState] = {
            n.id: NodeState(n.id, n.kind, heartbeat_s=scaled_interval(n.heartbeat_s, speed))
            for n in site.nodes
        }
        self.people: dict[str, PersonState] = {}
        self.tags: dict[str, str] = {}  # tag id -> person id
        self.unknown_tags: dict[str, str] = {}  # tag id -> zone last seen
        self._seen_events: set[str] = set()  # recent event ids, against replays
        self._seen_order: deque[str] = deque()

    # ------------------------------------------------------------------ people

    def register(self, person: PersonState, now: float) -> Changes:
        """Add or replace a person (staff badge or custody intake); binds their tag."""
        old = self.people.get(person.id)
        if old is not None:
            person.zone, person.zone_since, person.timeline = old.zone, old.zone_since, old.timeline
            if old.tag and old.tag != person.tag:
                self.tags.pop(old.tag, None)
        self.people[person.id] = person
        changes = Changes(people={person.id})
        if person.tag:
            self.tags[person.tag] = person.id
            pending_zone = self.unknown_tags.pop(person.tag, None)
            if pending_zone and person.zone is None:
                changes.merge(self._move(person, pending_zone, now))
        if person.zone:
            changes.zones.add(person.zone)
        return changes

    def release(self, person_id: str, now: float, *,
                kind: Literal["release", "transfer"] = "release", reason: str = "",
                to: str | None = None) -> Changes:
        """End custody: a release, or a transfer (to a detention house, another unit),
        which ends custody here the same way but is recorded as such."""
        person = self.people[person_id]
        if person.outing_until is not None:
            self.end_outing(person_id, now)
        person.in_custody = False
        person.released_at = now
        person.release_kind, person.release_reason, person.transferred_to = kind, reason, to
        changes = Changes(people={person_id})
        if person.zone:
            changes.zones.add(person.zone)
        return changes

    def approve_outing(self, person_id: str, until: float | None, now: float) -> Changes:
        """Allow a person in custody out of the area until ``until`` (None ends the outing)."""
        person = self.people[person_id]
        person.outing_until = until
        return Changes(people={person_id}, zones={person.zone} if person.zone else set())

    def start_outing(self, person_id: str, until: float, reason: str, now: float) -> Changes:
        """An approved outing (hospital, scene visit) until ``until``, kept in the file."""
        person = self.people[person_id]
        person.outing_started_at, person.outing_reason = now, reason
        person.outings.append({"start": now, "until": until, "ended": None, "reason": reason})
        return self.approve_outing(person_id, until, now)

    def end_outing(self, person_id: str, now: float) -> Changes:
        """The outing is over (the person is back, or it is called off)."""
        person = self.people[person_id]
        if person.outings and person.outings[-1].get("ended") is None:
            person.outings[-1]["ended"] = min(now, person.outing_until or now)
        person.outing_started_at, person.outing_reason = None, ""
        return self.approve_outing(person_id, None, now)

    def bind_tag(self, person_id: str, tag: str, now: float) -> Changes:
        """Give a person a new wristband or badge (the old one is unbound)."""
        person = self.people[person_id]
        if person.tag is not None and self.tags.get(person.tag) == person_id:
            del self.tags[person.tag]
        person.tag = tag
        self.tags[tag] = person_id
        changes = Changes(people={person_id})
        pending_zone = self.unknown_tags.pop(tag, None)
        if pending_zone is not None:
            changes.merge(self._move(person, pending_zone, now))
        return changes

    def unbind_tag(self, tag: str, now: float) -> Changes:
        """A tag handed back (a released person's wristband re-issued): its former holder is
        no longer located by it, so they leave their zone."""
        holder = self.tags.pop(tag, None)
        if holder is None or holder not in self.people:
            return Changes()
        person = self.people[holder]
        person.tag = None
        return self._move(person, None, now)

    def clear_tag_alerts(self, person_id: str, now: float, *, tamper: bool = True,
                         battery: bool = True) -> Changes:
        """An operator's acknowledgement that a wristband was checked (or replaced)."""
        person = self.people[person_id]
        if tamper:
            person.tag_tampered, person.tag_tampered_at, person.tag_tamper_zone = False, None, None
        if battery:
            person.tag_battery_low, person.tag_battery_low_at = False, None
            person.tag_battery_level = None
        return Changes(people={person_id}, zones={person.zone} if person.zone else set())

    def mark_searched(self, person_id: str, now: float) -> Changes:
        person = self.people[person_id]
        person.searched, person.searched_at = True, now
        return Changes(people={person_id}, zones={person.zone} if person.zone else set())

    def _move(self, person: PersonState, zone: str | None, now: float) -> Changes:
        changes = Changes(people={person.id})
        if person.zone == zone:
            return changes
        if person.zone is not None:
            self.zones[person.zone].occupants.discard(person.id)
            changes.zones.add(person.zone)
            if person.timeline and person.timeline[-1][2] is None:
                z, since, _ = person.timeline[-1]
                person.timeline[-1] = (z, since, now)
        person.zone, person.zone_since = zone, now
        if zone is not None:
            self.zones[zone].occupants.add(person.id)
            changes.zones.add(zone)
            person.timeline.append((zone, now, None))
        return changes

    def occupants(self, zone_id: str) -> Iterable[PersonState]:
        return (self.people[p] for p in self.zones[zone_id].occupants)

    # ------------------------------------------------------------------ messages

    def apply(self, topic: Topic, msg: Message, now: float) -> Changes:
        """Apply one decoded uplink message.  Raises UnknownIdentity for strangers."""
        assert topic.node is not None
        node = self.nodes.get(topic.node)
        if node is None:
            raise UnknownIdentity("unknown_node", topic.node)
        if isinstance(msg, NodeDeath):
            return self._node_death(node, msg, now)
        if isinstance(msg, NodeBirth):
            return self._node_birth(node, msg, now)
        changes = Changes(nodes={node.id})
        if not getattr(msg, "hist", False):
            node.clock_skew_s, node.clock_skew_at = msg.ts / 1000.0 - now, now
        seq = getattr(msg, "seq", None)
        if not node.online or node.bdseq is None:
            # Data from a node we hold no birth for (we restarted, or its birth was lost).
            changes.rebirth = True
        elif seq is not None:
            if seq != node.next_seq:
                log.info("node %s: sequence gap (expected %d, got %d); asking for rebirth",
                         node.id, node.next_seq, seq)
                changes.rebirth = True
            node.next_seq = seq + 1
        node.last_seen = now
        if isinstance(msg, NodeHeartbeat):
            node.outbox = msg.outbox
            return changes
        if topic.device is None:
            return changes
        device = self.devices.get(topic.device)
        if device is None:
            raise UnknownIdentity("unknown_device", topic.device)
        if device.node != node.id:
            raise UnknownIdentity("wrong_node", f"{topic.device} belongs to {device.node}")
        return changes.merge(self._device_message(device, msg, now))

    def _node_birth(self, node: NodeState, msg: NodeBirth, now: float) -> Changes:
        if not node.online:
            log.info("node %s online (bdseq %d)", node.id, msg.bdseq)
        node.online, node.ever_seen = True, True
        node.bdseq, node.next_seq = msg.bdseq, msg.seq + 1
        node.born_at = node.last_seen = now
        node.heartbeat_s = scaled_floor(msg.heartbeat_s)
        node.clock_skew_s, node.clock_skew_at = msg.ts / 1000.0 - now, now
        changes = Changes(nodes={node.id})
        # Devices announced now must follow with their own births; until then unknown.
        for d in self.devices.values():
            if d.node == node.id and d.born:
                d.born = False
        return changes

    def _node_death(self, node: NodeState, msg: NodeDeath, now: float) -> Changes:
        if node.bdseq is not None and msg.bdseq != node.bdseq:
            log.info("node %s: ignoring death of old session %d (current %d)",
                     node.id, msg.bdseq, node.bdseq)
            return Changes(stale=True)
        return self._node_lost(node, now)

    def _node_lost(self, node: NodeState, now: float) -> Changes:
        if node.online:
            log.warning("node %s offline", node.id)
        node.online, node.died_at = False, now
        changes = Changes(nodes={node.id})
        for d in self.devices.values():
            if d.node == node.id and d.status not in ("offline", "unknown"):
                d.status = "offline"
                changes.devices.add(d.id)
                changes.zones.add(d.zone)
        return changes

    def _device_message(self, device: DeviceState, msg: Message, now: float) -> Changes:
        changes = Changes(devices={device.id}, zones={device.zone})
        device.last_seen = now
        if isinstance(msg, DeviceLost):
            device.status, device.lost_reason = "offline", msg.reason
            log.warning("device %s lost: %s", device.id, msg.reason)
            return changes
        if isinstance(msg, DeviceBirth):
            device.born = True
            device.metrics = dict(msg.metrics)
            device.metrics_ts = msg.ts
        elif isinstance(msg, DeviceData | DeviceEvent):
            if isinstance(msg, DeviceEvent):
                if msg.id in self._seen_events:
                    # Replayed after a reconnect (or re-sent before our ack arrived):
                    # already applied; the caller still acks it.
                    return Changes()
                self._remember_event(msg.id)
            # Replayed (hist) data older than what a birth or live message already told
            # us must not roll the live state back.
            if not msg.hist or msg.ts >= device.metrics_ts:
                device.metrics.update(msg.metrics)
                device.metrics_ts = max(device.metrics_ts, msg.ts)
            if isinstance(msg, DeviceEvent):
                changes.merge(self._event(device, msg, now))
        if device.status != "online":
            log.info("device %s online", device.id)
        device.status = "online"
        return changes

    def _event(self, device: DeviceState, msg: DeviceEvent, now: float) -> Changes:
        tag = msg.data.get("tag")
        if msg.kind in ("tag_enter", "tag_exit") and isinstance(tag, str):
            person_id = self.tags.get(tag)
            if person_id is None:
                if msg.kind == "tag_enter":
                    self.unknown_tags[tag] = device.zone
                elif self.unknown_tags.get(tag) == device.zone:
                    del self.unknown_tags[tag]
                return Changes()
            person = self.people[person_id]
            if msg.hist and person.zone_since is not None and msg.ts / 1000 < person.zone_since:
                return Changes()  # a replayed sighting older than what we know since
            if msg.kind == "tag_enter":
                return self._move(person, device.zone, now)
            if person.zone == device.zone:  # an exit seen after the next zone's enter is moot
                return self._move(person, None, now)
            return Changes()
        if msg.kind == "search_completed":
            person_ref = msg.data.get("person")
            if isinstance(person_ref, str):
                pid = self.tags.get(person_ref, person_ref)
                if pid in self.people:
                    return self.mark_searched(pid, now)
        if msg.kind in ("tag_tamper", "tag_battery_low") and isinstance(tag, str):
            return self._tag_alert(device, msg, tag, now)
        if msg.kind in _LATCH_EVENTS:
            # The event alone says what happened; metrics it carries take precedence.
            metric, value = _LATCH_EVENTS[msg.kind]
            if metric not in msg.metrics:
                device.metrics[metric] = value
        elif msg.kind in ("locker_stored", "locker_emptied"):
            if "occupied" not in msg.metrics:
                self._locker_event(device, msg)
            return self._belongings(device, msg, now)
        return Changes()

    def _belongings(self, device: DeviceState, msg: DeviceEvent, now: float) -> Changes:
        """Keep the person's file of lockers (stored / returned) from the locker events."""
        locker, ref = msg.data.get("locker"), msg.data.get("person")
        if locker is None or not isinstance(ref, str):
            return Changes()
        person = self.people.get(self.tags.get(ref, ref))
        if person is None:
            return Changes()
        locker_id = str(locker)
        if msg.kind == "locker_stored":
            if not any(b["locker"] == locker_id and b.get("returned") is None
                       for b in person.belongings):
                person.belongings.append({"locker": locker_id, "device": device.id,
                                          "stored": now, "returned": None})
        else:
            for b in person.belongings:
                if b["locker"] == locker_id and b.get("returned") is None:
                    b["returned"] = now
        return Changes(people={person.id})

    def _tag_alert(self, device: DeviceState, msg: DeviceEvent, tag: str, now: float) -> Changes:
        person_id = self.tags.get(tag)
        if person_id is None:
            log.info("%s from unbound tag %s in %s ignored", msg.kind, tag, device.zone)
            return Changes()
        person = self.people[person_id]
        if msg.kind == "tag_tamper":
            if not person.tag_tampered:
                log.warning("tag %s of %s tampered in %s", tag, person_id, device.zone)
            person.tag_tampered, person.tag_tampered_at = True, now
            person.tag_tamper_zone = device.zone
        else:
            level = msg.data.get("level")
            person.tag_battery_low, person.tag_battery_low_at = True, now
            person.tag_battery_level = float(level) if isinstance(level, int | float) else None
        return Changes(people={person_id}, zones={person.zone} if person.zone else set())

    @staticmethod
    def _locker_event(device: DeviceState, msg: DeviceEvent) -> None:
        locker, person = msg.data.get("locker"), msg.data.get("person")
        if locker is None or not isinstance(person, str):
            return
        entry = f"{locker}:{person}"
        current = device.metrics.get("occupied")
        occupied = [e for e in current if e != entry] if isinstance(current, list) else []
        if msg.kind == "locker_stored":
            occupied.append(entry)
        device.metrics["occupied"] = occupied

    def _remember_event(self, event_id: str) -> None:
        self._seen_events.add(event_id)
        self._seen_order.append(event_id)
        if len(self._seen_order) > SEEN_EVENTS_KEPT:
            self._seen_events.discard(self._seen_order.popleft())

    # ------------------------------------------------------------------ time

    def sweep(self, now: float) -> Changes:
        """Declare nodes and devices silent past their heartbeat (no message needed)."""
        changes = Changes()
        for node in self.nodes.values():
            if node.online and node.last_seen is not None \
                    and now - node.last_seen > NODE_SILENCE_FACTOR * node.heartbeat_s:
                changes.merge(self._node_lost(node, now))
        for d in self.devices.values():
            if d.status == "online" and d.last_seen is not None \
                    and now - d.last_seen > DEVICE_STALE_FACTOR * d.heartbeat_s:
                log.warning("device %s stale (silent %.1fs)", d.id, now - d.last_seen)
                d.status = "stale"
                changes.devices.add(d.id)
                changes.zones.add(d.zone)
        return changes

    def next_sweep_due(self) -> float | None:
        due = [n.last_seen + NODE_SILENCE_FACTOR * n.heartbeat_s
               for n in self.nodes.values() if n.online and n.last_seen is not None]
        due += [d.last_seen + DEVICE_STALE_FACTOR * d.heartbeat_s
                for d in self.devices.values() if d.status == "online" and d.last_seen is not None]
        return min(due) if due else None


# Events that set a latched device metric when they arrive without it.
_LATCH_EVENTS: dict[str, tuple[str, bool]] = {
    "door_forced": ("forced", True),
    "panic_pressed": ("pressed", True),
    "panic_reset": ("pressed", False),
}


def scaled_floor(real_seconds: float) -> float:
    return max(real_seconds, 0.05)
