"""Typed payloads of the wire contract (JSON on the wire, msgspec structs in code).

Conventions (docs/protocol.md):

* ``v`` is the protocol version; ``ts`` is milliseconds since the Unix epoch, UTC, taken
  where the fact was observed (an edge's clock for uplink messages).
* ``seq`` is the per-session sequence number of the publishing node: 0 on its birth, then
  +1 on every message it publishes (node and device messages alike).  A gap makes the
  server ask for a rebirth.
* ``bdseq`` numbers a node's MQTT sessions: the death (MQTT Will) registered with a
  session carries that session's bdseq, so a late Will of an old session is ignored.
* ``hist`` marks data replayed from an edge's outbox; it keeps its original ``ts``.
* Metric values are JSON scalars or lists of strings (a reader's tags present).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from protocol.version import PROTOCOL_VERSION

Id = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
Millis = Annotated[int, msgspec.Meta(ge=0, le=32503680000000)]  # up to year 3000
Seq = Annotated[int, msgspec.Meta(ge=0)]
Text = Annotated[str, msgspec.Meta(max_length=512)]
MetricName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
MetricValue = bool | int | float | str | list[str] | None
Metrics = Annotated[dict[MetricName, MetricValue], msgspec.Meta(max_length=256)]


class Message(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """Base of every payload."""

    v: int = PROTOCOL_VERSION
    ts: Millis


# ---------------------------------------------------------------------------- node -> server


class DeviceDescriptor(msgspec.Struct, frozen=True, omit_defaults=True):
    """One device a node will report, as announced in the node's birth."""

    id: Id
    profile: Id
    zone: Id | None = None


class NodeBirth(Message, frozen=True, kw_only=True):
    """First message of a session, and the answer to a rebirth request."""

    seq: Seq
    bdseq: Seq
    kind: Literal["edge", "gateway"]
    devices: Annotated[list[DeviceDescriptor], msgspec.Meta(max_length=2048)]
    heartbeat_s: Annotated[float, msgspec.Meta(gt=0, le=3600)]
    software: Text = ""


class NodeDeath(Message, frozen=True, kw_only=True):
    """The MQTT Will of a session (or published explicitly on a clean shutdown)."""

    bdseq: Seq


class NodeHeartbeat(Message, frozen=True, kw_only=True):
    seq: Seq
    uptime_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    outbox: Annotated[int, msgspec.Meta(ge=0)] = 0  # messages waiting in the disk outbox


class DeviceBirth(Message, frozen=True, kw_only=True):
    """A device's announcement with every metric it reports and its current value."""

    seq: Seq
    profile: Id
    zone: Id | None = None
    metrics: Metrics = {}


class DeviceData(Message, frozen=True, kw_only=True):
    """Metrics that changed (report by exception) or a periodic full report."""

    seq: Seq
    metrics: Metrics
    hist: bool = False


EventKind = Literal[
    "tag_enter",  # data: tag   — a tag seen by a zone reader
    "tag_exit",  # data: tag   — a tag no longer seen
    "tag_tamper",  # data: tag   — wristband strap cut or removed
    "tag_battery_low",  # data: tag, level
    "search_started",  # data: person, officer
    "search_completed",  # data: person, officer
    "door_opened",
    "door_closed",
    "door_forced",
    "panic_pressed",
    "panic_reset",
    "recording_started",
    "recording_stopped",
    "locker_stored",  # data: locker, person
    "locker_emptied",  # data: locker, person
]
EVENT_KINDS: frozenset[str] = frozenset(EventKind.__args__)  # type: ignore[attr-defined]


class DeviceEvent(Message, frozen=True, kw_only=True):
    """A discrete occurrence.  Kept in the edge's outbox until the server acks ``id``.

    ``metrics`` optionally carries the device metrics the event changed, so one message
    both records the event and updates the live state.
    """

    seq: Seq
    id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-]{8,64}$")]
    kind: EventKind
    data: Annotated[dict[MetricName, MetricValue], msgspec.Meta(max_length=32)] = {}
    metrics: Metrics = {}
    hist: bool = False


class DeviceLost(Message, frozen=True, kw_only=True):
    """A live node declares that one of its devices stopped answering.

    ``reason`` says why in English (what servers before ``info`` show).  ``info``, optional,
    says it as data: a code and its parameters, ``{"code": "timeout", "ms": 300, "request":
    "read holding 0..9"}`` (protocol/reasons.py: the codes, and their texts in Chinese and
    English).  It is typed loosely on purpose: a malformed info must not cost the loss
    itself, so the schema accepts any JSON here and the receiver checks it on its own
    (protocol.reasons.decode_lost_info), falling back to ``reason``.  Older servers ignore
    the field (unknown fields are allowed), older nodes do not send it."""

    seq: Seq
    reason: Text = ""
    info: Any = None


CommandStatus = Literal["done", "refused", "failed", "timeout", "expired", "unknown_command"]


class CommandResult(Message, frozen=True, kw_only=True):
    seq: Seq
    id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-]{8,64}$")]
    status: CommandStatus
    detail: Text = ""


# ---------------------------------------------------------------------------- server -> node


class Command(Message, frozen=True, kw_only=True):
    """A signed order.  ``sig`` is HMAC-SHA256 (hex) over the canonical encoding of every
    other field with the node's key; a node refuses a bad signature, an expired command and
    an id it has already executed (see protocol.codec.sign_command)."""

    id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-]{8,64}$")]
    name: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
    device: Id | None = None
    params: Annotated[dict[MetricName, MetricValue], msgspec.Meta(max_length=32)] = {}
    expires: Millis
    sig: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")] = "0" * 64


class EventAck(Message, frozen=True, kw_only=True):
    """The server stored these events; the node may drop them from its outbox."""

    ids: Annotated[list[str], msgspec.Meta(max_length=4096)]


class ServerState(Message, frozen=True, kw_only=True):
    """Retained.  Nodes (re)send their birth when it turns online and buffer while offline."""

    online: bool
    session: Annotated[str, msgspec.Meta(max_length=64)] = ""


UplinkMessage = NodeBirth | NodeDeath | NodeHeartbeat | DeviceBirth | DeviceData | DeviceEvent \
    | DeviceLost | CommandResult


# ---------------------------------------------------------------------------- guard terminals
# Alerts for dedicated guard terminals (server/alerts/mqtt.py; docs/alarms.md): the server
# publishes a GuardAlert on guard_alert_topic(site, guard) (QoS 1, again every redeliver_s
# until delivered); the terminal answers on guard_receipt_topic(site, guard).

AlertStep = Literal["delivered", "seen", "acknowledged", "arrived", "resolved"]


class GuardAlert(Message, frozen=True, kw_only=True):
    """An alarm for one guard: where, what happened and what to do."""

    alarm: Annotated[int, msgspec.Meta(ge=1)]
    rule: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    severity: Literal["critical", "major", "minor", "warning"]
    state: Literal["active_unacked", "active_acked", "cleared_unacked", "cleared"]
    zone: Id | None = None
    subject: Text = ""
    level: Annotated[int, msgspec.Meta(ge=-1, le=2)] = 0  # 0 zone, 1 all guards, 2 supervisor
    raised: Millis
    message_zh: Text = ""
    message_en: Text = ""
    todo_zh: Text = ""
    todo_en: Text = ""
    resend: bool = False


class GuardReceipt(Message, frozen=True, kw_only=True):
    """A terminal's receipt (``delivered``, ``seen``) or a guard's step on it."""

    alarm: Annotated[int, msgspec.Meta(ge=1)]
    step: AlertStep
    note: Text = ""
