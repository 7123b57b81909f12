"""The driver interface: what the agent needs from one device, whatever speaks to it.

A driver knows its device (id, profile, zone), answers :meth:`Driver.metrics` with every
current value (for births and periodic full reports), pushes what happens as
:data:`DriverUpdate` items to the sink the agent attached (report by exception, events,
availability), and executes commands.  The agent never polls a driver for changes: a driver
with a polling loop (Modbus, camera streams) runs it itself and emits what changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from protocol.codec import now_ms
from protocol.messages import CommandStatus, MetricValue
from protocol.profiles import DeviceProfile
from protocol.reasons import Info, InfoValue, detail_text
from protocol.site import DeviceRef

log = logging.getLogger(__name__)

Metrics = dict[str, MetricValue]
Params = Mapping[str, MetricValue]
CommandReply = tuple[CommandStatus, str]  # (status, detail)


@dataclass(frozen=True, slots=True)
class MetricsChanged:
    """Some metrics changed (report by exception)."""

    metrics: Metrics
    ts: int = field(default_factory=now_ms)


@dataclass(frozen=True, slots=True)
class DriverEvent:
    """A discrete occurrence (protocol.messages.EventKind); kept in the outbox until acked."""

    kind: str
    data: Metrics = field(default_factory=dict)
    metrics: Metrics = field(default_factory=dict)
    ts: int = field(default_factory=now_ms)


@dataclass(frozen=True, slots=True)
class Availability:
    """The device stopped answering (DeviceLost) or answers again (a new DeviceBirth)."""

    online: bool
    reason: str = ""
    ts: int = field(default_factory=now_ms)


DriverUpdate = MetricsChanged | DriverEvent | Availability
UpdateSink = Callable[["Driver", DriverUpdate], None]


class Driver:
    """Base of every driver.  Subclasses keep their state and call :meth:`emit`."""

    def __init__(self, device: DeviceRef, profile: DeviceProfile) -> None:
        self.device = device
        self.profile = profile
        self.online = True
        self.offline_reason = ""
        # Why, as data, with the reason it explains (set_lost): paired, so that a subclass's
        # own set_available, which knows nothing of it, never sends a stale info.
        self._lost_info: tuple[str, dict[str, InfoValue]] | None = None
        self._sink: UpdateSink | None = None

    @property
    def id(self) -> str:
        return self.device.id

    @property
    def zone(self) -> str:
        return self.device.zone

    def attach(self, sink: UpdateSink) -> None:
        """The agent's intake of updates (called once, before the agent connects)."""
        self._sink = sink

    def emit(self, update: DriverUpdate) -> None:
        if self._sink is not None:
            self._sink(self, update)

    def metrics(self) -> Metrics:
        """Every metric of the profile with its current value."""
        raise NotImplementedError

    @property
    def offline_info(self) -> dict[str, InfoValue] | None:
        """The info of the current loss (DeviceLost.info), if set_lost gave one for the
        current ``offline_reason``."""
        if self.online or self._lost_info is None or self._lost_info[0] != self.offline_reason:
            return None
        return self._lost_info[1]

    def set_available(self, online: bool, reason: str = "") -> None:
        if online == self.online:
            return
        self.online, self.offline_reason = online, "" if online else reason
        log.info("device %s %s%s", self.id, "answers again" if online else "stopped answering",
                 f" ({reason})" if reason else "")
        self.emit(Availability(online, reason))

    def set_lost(self, info: Info, reason: str = "") -> None:
        """Declare the device lost, saying why as data: ``info`` (protocol.reasons.lost_info:
        a code and its parameters, rendered by the server in Chinese or English) rides in
        the DeviceLost beside ``reason`` (English; by default the info rendered in English).
        While the device is already lost, only what the next birth announces is updated."""
        reason = (reason or detail_text(info, "en"))[:200]
        self._lost_info = (reason, dict(info))
        if self.online:
            self.set_available(False, reason)  # a subclass's own, if it has one
        else:
            self.offline_reason = reason

    async def command(self, name: str, params: Params) -> CommandReply:
        """Execute one admitted command; return (status, detail)."""
        if name not in self.profile.commands:
            return "unknown_command", f"{self.profile.id} has no command {name!r}"
        return "failed", f"{type(self).__name__} does not implement {name!r}"
