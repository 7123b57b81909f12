"""Alerts to dedicated guard terminals over MQTT, and their receipts.

The server publishes a GuardAlert on ``guard_alert_topic(site, guard)`` (QoS 1) and listens
on ``guard_receipt_filter(site)`` for GuardReceipt messages (``delivered``, ``seen``, and the
guard's steps).  The guard is the one named in the receipt's topic: a broker ACL confines a
terminal to ``cw/v1/{site}/guard/{guard}/#`` (docs/alarms.md).

Its own paho connection, separate from the ingest link (server/ingest.py), so the hot ingest
path is untouched and a flood of receipts cannot delay device messages.  Payloads are
hostile input: a bad one is counted and logged once per (reason, guard), never fatal.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt

from protocol import topics
from protocol.codec import decode, encode
from protocol.errors import ProtocolError
from protocol.messages import GuardAlert, GuardReceipt
from protocol.transport import paho_client
from server.config import MqttSettings

log = logging.getLogger(__name__)

ReceiptHandler = Callable[[str, GuardReceipt], None]  # (guard, receipt), on the event loop


class GuardMqtt:
    """``async with GuardMqtt(settings, site, on_receipt) as link: link.publish(...)``"""

    def __init__(self, settings: MqttSettings, site_id: str, on_receipt: ReceiptHandler) -> None:
        self.settings = settings
        self.site_id = site_id
        self.on_receipt = on_receipt
        self.refused = 0
        self._logged: set[tuple[str, str]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connected = False
        client_id = f"custodywatch-alerts-{site_id}-{uuid.uuid4().hex[:8]}"
        self._client = paho_client(client_id, settings.username, settings.password,
                                   queued=10_000)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    async def __aenter__(self) -> GuardMqtt:
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self.settings.host, self.settings.port,
                                   keepalive=self.settings.keepalive_s)
        self._client.loop_start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        self.connected = False
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, guard: str, alert: GuardAlert) -> None:
        """Queue an alert (paho keeps it while the link is down)."""
        try:
            topic = topics.guard_alert_topic(self.site_id, topics.check_id(guard, "guard id"))
        except ProtocolError:
            log.warning("user %r cannot have an MQTT guard topic; alert not published", guard)
            return
        self._client.publish(topic, encode(alert), qos=1)

    # ------------------------------------------------------------------ paho thread

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            log.error("MQTT broker refused the guard-alert link: %s", reason_code)
            return
        self.connected = True
        client.subscribe(topics.guard_receipt_filter(self.site_id), qos=1)
        log.info("guard-alert MQTT link up")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        if self.connected:
            log.warning("guard-alert MQTT link down: %s (reconnecting)", reason_code)
        self.connected = False

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        guard = "?"
        try:
            site, guard, kind = topics.parse_guard_topic(message.topic)
            if site != self.site_id or kind != "receipt":
                raise ProtocolError("topic", f"not a receipt topic of this site: "
                                    f"{message.topic[:120]}")
            receipt = decode(bytes(message.payload), GuardReceipt)
        except ProtocolError as err:
            self.refused += 1
            if (err.reason, guard) not in self._logged:
                self._logged.add((err.reason, guard))
                log.warning("refused guard receipt from %s (%s): %s; further ones are only "
                            "counted", guard, err.reason, err.detail[:200])
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.on_receipt, guard, receipt)
            except RuntimeError:
                pass
