"""The twin's state records: a person, a device, a node, a zone, and what a call changed.

Plain dataclasses (server/twin.py re-exports them): the twin's operations change them
(twin_people.py, twin_messages.py), the rules, the store and the API read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from protocol.reasons import InfoValue
from protocol.site import ZoneConfig

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
    # Why its node declared it lost (DeviceLost): the English reason, and the info (a code
    # and its parameters, protocol/reasons.py; None from an older node or when malformed)
    # that the rules word in either language.  Both cleared when it reports again.
    lost_reason: str = ""
    lost_info: dict[str, InfoValue] | None = None
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


def scaled_floor(real_seconds: float) -> float:
    return max(real_seconds, 0.05)
