"""MQTT topic namespace (the only place topic strings are spelled).

Layout, after Eclipse Sparkplug B but readable::

    cw/v1/{site}/node/{node}/{birth|death|heartbeat}         node  -> server
    cw/v1/{site}/node/{node}/dev/{device}/{birth|data|event|lost}  node -> server
    cw/v1/{site}/node/{node}/{result|receipt}                node  -> server
    cw/v1/{site}/node/{node}/{cmd|ack}                       server -> node
    cw/v1/{site}/server/state                                server (retained)

Everything a node may publish or receive lies under ``cw/v1/{site}/node/{node}/``, so a
broker ACL can confine a node to its own prefix (see docs/protocol.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from protocol.errors import ProtocolError
from protocol.version import TOPIC_ROOT

# Ids are short, lowercase-ish tokens that are safe as one MQTT topic level.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}"
_ID = re.compile(rf"^{ID_PATTERN}$")


class NodeMessage(StrEnum):
    BIRTH = "birth"
    DEATH = "death"
    HEARTBEAT = "heartbeat"
    RESULT = "result"  # command result, node -> server
    CMD = "cmd"  # command, server -> node
    ACK = "ack"  # event confirmation, server -> node


class DeviceMessage(StrEnum):
    BIRTH = "birth"
    DATA = "data"
    EVENT = "event"
    LOST = "lost"


UPLINK_NODE_MESSAGES = frozenset({NodeMessage.BIRTH, NodeMessage.DEATH, NodeMessage.HEARTBEAT,
                                  NodeMessage.RESULT})


def check_id(value: str, what: str = "id") -> str:
    if not _ID.match(value):
        raise ProtocolError("topic", f"invalid {what} {value!r}")
    return value


def site_prefix(site: str) -> str:
    return f"{TOPIC_ROOT}/{site}"


def node_topic(site: str, node: str, message: NodeMessage) -> str:
    return f"{TOPIC_ROOT}/{site}/node/{node}/{message.value}"


def device_topic(site: str, node: str, device: str, message: DeviceMessage) -> str:
    return f"{TOPIC_ROOT}/{site}/node/{node}/dev/{device}/{message.value}"


def server_state_topic(site: str) -> str:
    return f"{TOPIC_ROOT}/{site}/server/state"


def guard_alert_topic(site: str, guard: str) -> str:
    return f"{TOPIC_ROOT}/{site}/guard/{guard}/alert"


def guard_receipt_topic(site: str, guard: str) -> str:
    """A guard terminal's delivery receipts and steps (GuardReceipt), terminal -> server."""
    return f"{TOPIC_ROOT}/{site}/guard/{guard}/receipt"


def guard_receipt_filter(site: str) -> str:
    """What the server subscribes to for every guard terminal's receipts."""
    return f"{TOPIC_ROOT}/{site}/guard/+/receipt"


def parse_guard_topic(topic: str) -> tuple[str, str, str]:
    """(site, guard, "alert"|"receipt") of a guard topic; ProtocolError('topic') otherwise.
    A broker ACL confines a terminal to ``cw/v1/{site}/guard/{guard}/#``, so the guard
    named in the topic is who sent a receipt."""
    parts = topic.split("/")
    if (len(parts) != 6 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT or parts[3] != "guard"
            or parts[5] not in ("alert", "receipt")):
        raise ProtocolError("topic", f"not a guard topic: {topic[:120]!r}")
    return check_id(parts[2], "site id"), check_id(parts[4], "guard id"), parts[5]


def node_filter(site: str, node: str) -> str:
    """Everything addressed to or sent by one node (its ACL prefix)."""
    return f"{TOPIC_ROOT}/{site}/node/{node}/#"


def uplink_filters(site: str) -> list[str]:
    """What the server subscribes to: every node's and device's uplink messages."""
    base = f"{TOPIC_ROOT}/{site}/node/+"
    return [f"{base}/{m.value}" for m in sorted(UPLINK_NODE_MESSAGES)] + [f"{base}/dev/+/+"]


def downlink_filters(site: str, node: str) -> list[str]:
    """What a node subscribes to: its commands, its event acks and the server's state."""
    return [
        node_topic(site, node, NodeMessage.CMD),
        node_topic(site, node, NodeMessage.ACK),
        server_state_topic(site),
    ]


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic.  ``device`` is None for node-level messages and server state."""

    site: str
    node: str | None
    device: str | None
    message: str  # a NodeMessage / DeviceMessage value, or "state"

    @property
    def is_server_state(self) -> bool:
        return self.node is None and self.message == "state"


def parse_topic(topic: str) -> Topic:
    """Parse any CustodyWatch topic; raise ProtocolError('topic') for anything else."""
    parts = topic.split("/")
    if len(parts) < 5 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        raise ProtocolError("topic", f"not a CustodyWatch topic: {topic[:120]!r}")
    site = check_id(parts[2], "site id")
    if parts[3] == "server" and len(parts) == 5 and parts[4] == "state":
        return Topic(site, None, None, "state")
    if parts[3] != "node":
        raise ProtocolError("topic", f"unknown topic class {parts[3][:32]!r}")
    node = check_id(parts[4], "node id")
    if len(parts) == 6:
        try:
            return Topic(site, node, None, NodeMessage(parts[5]).value)
        except ValueError:
            raise ProtocolError("topic", f"unknown node message {parts[5][:32]!r}") from None
    if len(parts) == 8 and parts[5] == "dev":
        device = check_id(parts[6], "device id")
        try:
            return Topic(site, node, device, DeviceMessage(parts[7]).value)
        except ValueError:
            raise ProtocolError("topic", f"unknown device message {parts[7][:32]!r}") from None
    raise ProtocolError("topic", f"malformed topic {topic[:120]!r}")
