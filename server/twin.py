"""The live state ("digital twin") of one centre: zones, devices, nodes and people.

The twin is pure state: ingest hands it decoded messages, the custody API hands it intakes
and releases, and it answers what changed.  It does no I/O and reads no clock: every call
takes ``now`` (seconds since the epoch, real time), so tests drive it with a virtual clock.

Rules read the twin; they never change it (server/rules/engine.py).

The twin lives in three modules by responsibility: the state records (twin_state.py),
people and custody (twin_people.py) and uplink messages (twin_messages.py); this one puts
them together and is where everything is imported from.
"""

from __future__ import annotations

from collections import Counter, deque

from protocol.profiles import ProfileSet
from protocol.site import SiteConfig
from protocol.timing import scaled_interval
from server.twin_messages import MessageOps
from server.twin_state import (
    DEVICE_STALE_FACTOR,
    NODE_SILENCE_FACTOR,
    SEEN_EVENTS_KEPT,
    STAFF_ROLES,
    Changes,
    DeviceState,
    DeviceStatus,
    NodeState,
    PersonState,
    Role,
    ZoneState,
    scaled_floor,
)

__all__ = [
    "DEVICE_STALE_FACTOR", "NODE_SILENCE_FACTOR", "SEEN_EVENTS_KEPT", "STAFF_ROLES",
    "Changes", "DeviceState", "DeviceStatus", "NodeState", "PersonState", "Role", "Twin",
    "ZoneState", "scaled_floor",
]


class Twin(MessageOps):
    """One centre's live state; its operations are PeopleOps' and MessageOps'."""

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
        # Optional fields of accepted messages ignored as malformed (a DeviceLost's info),
        # by field; the message itself still applies.
        self.bad_fields: Counter[str] = Counter()
        self._bad_logged: set[tuple[str, str]] = set()
