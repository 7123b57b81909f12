"""The twin's devices and nodes: uplink messages applied, and silence noticed (Twin's
message half; server/twin.py).

Sparkplug-style session bookkeeping (births, deaths, sequence numbers, rebirth requests),
device metrics and events, and the events that move people (tag readers) or fill their
custody file (search stations, lockers, wristband alerts).
"""

from __future__ import annotations

import logging
from collections import Counter, deque

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
from protocol.reasons import InfoValue, decode_lost_info
from protocol.topics import Topic
from server.errors import UnknownIdentity
from server.twin_people import PeopleOps
from server.twin_state import (
    DEVICE_STALE_FACTOR,
    NODE_SILENCE_FACTOR,
    SEEN_EVENTS_KEPT,
    Changes,
    DeviceState,
    NodeState,
    scaled_floor,
)

log = logging.getLogger("server.twin")

SKEW_STEP_S = 0.05
"""A node's clock skew is kept (NodeState.clock_skew_s) when it moved this much: transit
jitter of a few ms is no news for the clock_skew rule, and a message that changes nothing
the rules read of its node re-runs no node rule."""


class MessageOps(PeopleOps):
    """Message application and the silence sweep; the state is declared and built by Twin."""

    devices: dict[str, DeviceState]
    nodes: dict[str, NodeState]
    _seen_events: set[str]  # recent event ids, against replays
    _seen_order: deque[str]
    bad_fields: Counter[str]  # optional fields ignored as malformed, by field
    _bad_logged: set[tuple[str, str]]  # (field, node) already logged

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
        # The node itself changed for the rules only when what they read of it did: its
        # clock skew (kept to SKEW_STEP_S), or anything while it is offline (node_offline
        # shows its last_seen).  Most messages change nothing of it: no re-run then.
        changes = Changes()
        if not getattr(msg, "hist", False):
            skew = msg.ts / 1000.0 - now
            node.clock_skew_at = now
            if node.clock_skew_s is None or abs(skew - node.clock_skew_s) >= SKEW_STEP_S:
                node.clock_skew_s = skew
                changes.nodes.add(node.id)
        seq = getattr(msg, "seq", None)
        if not node.online or node.bdseq is None:
            # Data from a node we hold no birth for (we restarted, or its birth was lost).
            changes.rebirth = True
            changes.nodes.add(node.id)
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
        return self._device_message(device, msg, now, changes)

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

    def _device_message(self, device: DeviceState, msg: Message, now: float,
                        changes: Changes) -> Changes:
        """Apply a device's message; what changed is added to ``changes`` (the node's)."""
        device.last_seen = now
        if isinstance(msg, DeviceEvent) and msg.id in self._seen_events:
            # Replayed after a reconnect (or re-sent before our ack arrived): already
            # applied; the caller still acks it.  Only its last_seen moved, which the
            # health rules read of a device that is not online.
            if device.status != "online":
                changes.devices.add(device.id)
                changes.zones.add(device.zone)
            return changes
        changes.devices.add(device.id)
        changes.zones.add(device.zone)
        if isinstance(msg, DeviceLost):
            device.status, device.lost_reason = "offline", msg.reason
            device.lost_info = self._lost_info(device, msg)
            log.warning("device %s lost: %s", device.id, msg.reason)
            return changes
        if isinstance(msg, DeviceBirth):
            device.born = True
            device.metrics = dict(msg.metrics)
            device.metrics_ts = msg.ts
        elif isinstance(msg, DeviceData | DeviceEvent):
            if isinstance(msg, DeviceEvent):
                self._remember_event(msg.id)
            # Replayed (hist) data older than what a birth or live message already told
            # us must not roll the live state back.
            if not msg.hist or msg.ts >= device.metrics_ts:
                device.metrics.update(msg.metrics)
                device.metrics_ts = max(device.metrics_ts, msg.ts)
            if isinstance(msg, DeviceEvent):
                self._event(device, msg, now, changes)
        if device.status != "online":
            log.info("device %s online", device.id)
            device.lost_reason, device.lost_info = "", None  # no longer lost
        device.status = "online"
        return changes

    def _lost_info(self, device: DeviceState, msg: DeviceLost) -> dict[str, InfoValue] | None:
        """The DeviceLost's info if well-formed; a malformed one is counted (bad_fields) and
        logged once per node, and the loss is worded by its reason instead."""
        if msg.info is None:
            return None
        info = decode_lost_info(msg.info)
        if info is None:
            self.bad_fields["lost_info"] += 1
            if ("lost_info", device.node) not in self._bad_logged:
                self._bad_logged.add(("lost_info", device.node))
                log.warning("node %s: malformed DeviceLost info for %s ignored (the reason "
                            "is shown instead): %.200r; further ones are only counted",
                            device.node, device.id, msg.info)
        return info

    def _event(self, device: DeviceState, msg: DeviceEvent, now: float,
               changes: Changes) -> None:
        """Apply what an event means beyond its metrics, into ``changes``."""
        tag = msg.data.get("tag")
        if msg.kind in ("tag_enter", "tag_exit") and isinstance(tag, str):
            person_id = self.tags.get(tag)
            if person_id is None:
                if msg.kind == "tag_enter":
                    self.unknown_tags[tag] = device.zone
                elif self.unknown_tags.get(tag) == device.zone:
                    del self.unknown_tags[tag]
                return
            person = self.people[person_id]
            if msg.hist and person.zone_since is not None and msg.ts / 1000 < person.zone_since:
                return  # a replayed sighting older than what we know since
            if msg.kind == "tag_enter":
                self._move(person, device.zone, now, changes)
            elif person.zone == device.zone:  # an exit seen after the next zone's enter is moot
                self._move(person, None, now, changes)
            return
        if msg.kind == "search_completed":
            person_ref = msg.data.get("person")
            if isinstance(person_ref, str):
                pid = self.tags.get(person_ref, person_ref)
                if pid in self.people:
                    changes.merge(self.mark_searched(pid, now))
                    return
        if msg.kind in ("tag_tamper", "tag_battery_low") and isinstance(tag, str):
            changes.merge(self._tag_alert(device, msg, tag, now))
            return
        if msg.kind in _LATCH_EVENTS:
            # The event alone says what happened; metrics it carries take precedence.
            metric, value = _LATCH_EVENTS[msg.kind]
            if metric not in msg.metrics:
                device.metrics[metric] = value
        elif msg.kind in ("locker_stored", "locker_emptied"):
            if "occupied" not in msg.metrics:
                self._locker_event(device, msg)
            changes.merge(self._belongings(device, msg, now))

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
        return Changes(people={person_id}, zones=self.whereabouts(person))

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
