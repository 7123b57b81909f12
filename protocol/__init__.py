"""The CustodyWatch wire contract: MQTT topics and typed payloads shared by every component.

Nothing outside this package spells a topic string or a payload field; edge agents, the
gateway, the server and the simulators all import from here.  See docs/protocol.md.
"""

from protocol.errors import ProtocolError
from protocol.version import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION", "ProtocolError"]
