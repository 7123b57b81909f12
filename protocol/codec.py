"""Encoding, decoding and signing of payloads.

Decoding treats every payload as hostile: a size limit first, then JSON and schema
validation in one pass (msgspec), each failure raised as :class:`ProtocolError`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, TypeVar

import msgspec

from protocol.errors import ProtocolError
from protocol.messages import (
    Command,
    CommandResult,
    DeviceBirth,
    DeviceData,
    DeviceEvent,
    DeviceLost,
    EventAck,
    GuardAlert,
    GuardReceipt,
    Message,
    NodeBirth,
    NodeDeath,
    NodeHeartbeat,
    ServerState,
)
from protocol.topics import DeviceMessage, NodeMessage, Topic

MAX_PAYLOAD_BYTES = 64 * 1024
"""Largest payload accepted from the network (a birth of ~1,000 devices fits)."""

M = TypeVar("M", bound=Message)

NODE_TYPES: dict[str, type[Message]] = {
    NodeMessage.BIRTH: NodeBirth,
    NodeMessage.DEATH: NodeDeath,
    NodeMessage.HEARTBEAT: NodeHeartbeat,
    NodeMessage.RESULT: CommandResult,
    NodeMessage.CMD: Command,
    NodeMessage.ACK: EventAck,
}
DEVICE_TYPES: dict[str, type[Message]] = {
    DeviceMessage.BIRTH: DeviceBirth,
    DeviceMessage.DATA: DeviceData,
    DeviceMessage.EVENT: DeviceEvent,
    DeviceMessage.LOST: DeviceLost,
}

_encoder = msgspec.json.Encoder()
_MESSAGE_TYPES: list[type[Message]] = [*NODE_TYPES.values(), *DEVICE_TYPES.values(), ServerState,
                                      GuardAlert, GuardReceipt]
_decoders: dict[type[Message], msgspec.json.Decoder[Any]] = {
    t: msgspec.json.Decoder(t) for t in _MESSAGE_TYPES
}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def encode(message: Message) -> bytes:
    return _encoder.encode(message)


def decode(payload: bytes, message_type: type[M]) -> M:
    """Decode one payload of a known type, enforcing the size limit and the schema."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError("too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        result: M = _decoders[message_type].decode(payload)
        return result
    except msgspec.ValidationError as err:
        raise ProtocolError("schema", f"{message_type.__name__}: {err}") from err
    except msgspec.DecodeError as err:
        raise ProtocolError("json", str(err)) from err


def type_for(topic: Topic) -> type[Message]:
    if topic.is_server_state:
        return ServerState
    table = NODE_TYPES if topic.device is None else DEVICE_TYPES
    try:
        return table[topic.message]
    except KeyError:
        raise ProtocolError("topic", f"no payload type for {topic.message!r}") from None


def decode_for_topic(topic: Topic, payload: bytes) -> Message:
    return decode(payload, type_for(topic))


# ---------------------------------------------------------------------------- command signing


def _signing_bytes(command: Command) -> bytes:
    fields = msgspec.structs.asdict(command)
    fields.pop("sig", None)
    # Canonical form: sorted keys, no whitespace; identical on every node.
    return msgspec.json.encode(dict(sorted(fields.items())))


def sign_command(command: Command, key: bytes) -> Command:
    digest = hmac.new(key, _signing_bytes(command), hashlib.sha256).hexdigest()
    return msgspec.structs.replace(command, sig=digest)


def verify_command(command: Command, key: bytes, now: int | None = None) -> None:
    """Raise ProtocolError('signature' | 'expired') unless the command may be executed.

    Replay of an id already executed is the receiver's to refuse (it keeps the ids)."""
    expected = hmac.new(key, _signing_bytes(command), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, command.sig):
        raise ProtocolError("signature", f"command {command.id}: bad signature")
    if (now if now is not None else now_ms()) > command.expires:
        raise ProtocolError("expired", f"command {command.id}: expired")
