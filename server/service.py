"""The coordinator: where a message becomes state, decisions, records and pushes.

One coordinator per server, running on the event loop.  For each batch handed over by the
MQTT link (server/ingest.py) it:

1. parses the topic and decodes the payload (hostile input: every refusal is counted in
   ``custodywatch_bad_messages_total{reason}`` and logged once per (reason, node));
2. applies it to the twin (server/twin.py), which answers what changed;
3. evaluates the rules (server/rules/engine.py) once for the whole batch and syncs the
   alarm book (server/alarms/lifecycle.py);
4. stores events, telemetry samples, alarm transitions and people in one transaction,
   then acknowledges the stored events to their nodes (one EventAck per node), asks
   out-of-step nodes for a rebirth;
5. pushes changed alarms, zones and devices to the WebSocket hub, once each per batch.

The per-message part (1-2) is the hot path at 10,000 msg/s (issue #7; measured with
scripts/profile_ingest.py): parsed topics are cached, counters are counted per batch, and
a backlog is taken at most ``MAX_BATCH`` messages per step so the event loop stays
responsive.  Expired samples are pruned by a separate task (server/store/retention.py).

A timer task wakes when the engine's ``next_due`` or the twin's next heartbeat deadline
arrives and runs the same evaluation path.  Custody and alarm operations of the API come
through here too, under the same lock, so every change takes one path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from protocol.codec import decode, type_for
from protocol.errors import ProtocolError
from protocol.messages import CommandResult, DeviceBirth, DeviceData, DeviceEvent, Message
from protocol.site import SiteConfig
from protocol.topics import Topic, parse_topic
from server.alarms.lifecycle import Alarm, AlarmBook, AlarmChange
from server.alarms.settings import AlarmSettings
from server.alerts.desk import AlarmDesk, Outcome
from server.api.views import (
    alarm_json,
    device_json,
    iso,
    site_json,
    zone_json,
    zone_severities,
)
from server.config import StorageSettings
from server.custody import CustodyLimits
from server.custody_desk import CustodyDesk
from server.errors import Conflict, NotFound, ServerError, UnknownIdentity
from server.hub import Hub
from server.ingest import Inbound, MqttLink
from server.metrics import ServerMetrics
from server.rules.engine import RuleEngine
from server.store.people import restore_people as restore_people  # app.py imports it here
from server.store.records import AuditEntry, EventRecord, SampleRecord, WriteBatch
from server.store.retention import prune_samples_forever
from server.store.sqlite import SqliteStore
from server.twin import Changes, Twin

log = logging.getLogger(__name__)

MAX_TIMER_SLEEP_S = 1.0  # safety net only: the timer normally wakes exactly when due
REBIRTH_MIN_INTERVAL_S = 5.0  # per node, so a chattering node is not flooded
MAX_ACK_IDS = 4096  # EventAck.ids limit
MAX_BATCH = 2000  # messages per coordinator step (one transaction) when a backlog built up
TOPIC_CACHE_SIZE = 20_000  # parsed uplink topics (a centre has a few thousand)
T = TypeVar("T")


class Coordinator:
    def __init__(self, *, site: SiteConfig, speed: float, twin: Twin, engine: RuleEngine,
                 book: AlarmBook, store: SqliteStore, link: MqttLink, hub: Hub,
                 metrics: ServerMetrics, desk: AlarmDesk | None = None,
                 storage: StorageSettings | None = None) -> None:
        self.site = site
        self.speed = speed
        self.twin = twin
        self.engine = engine
        self.book = book
        self.store = store
        self.link = link
        self.hub = hub
        self.metrics = metrics
        self.storage = storage or StorageSettings()
        self._topics: dict[str, tuple[Topic, type[Message]]] = {}
        self._last_zone: dict[str, dict[str, Any]] = {}  # as last pushed
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._next_due: float | None = None
        self._sleeping_until: float | None = None
        self._logged: set[tuple[str, str]] = set()
        self._last_rebirth: dict[str, float] = {}
        self._engine_failing = False
        self.custody_limits = CustodyLimits.from_site(site)  # the API's custody clocks
        self.custody = CustodyDesk(self)  # intake, release, transfer, outings, tags
        # Alarm management (server/alerts/desk.py): conditioning, shelving, maintenance,
        # escalation to guards; app.py passes one restored from the store.
        self.desk = desk or AlarmDesk(site=site, profiles=twin.profiles, twin=twin, book=book,
                                      settings=AlarmSettings(), speed=speed, hub=hub)

    # ------------------------------------------------------------------ tasks

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._ingest_loop(), name="coordinator-ingest")
            tg.create_task(self._timer_loop(), name="coordinator-timer")
            tg.create_task(self._retention_loop(), name="coordinator-retention")

    async def _ingest_loop(self) -> None:
        queue = self.link.batches
        while True:
            batch = await queue.get()
            # Whatever piled up meanwhile is handled as one batch (one transaction).
            while not queue.empty():
                batch.extend(queue.get_nowait())
            self.metrics.queue_depth.set(queue.qsize())
            # A backlog goes in steps: each one transaction, the loop free in between.
            for i in range(0, len(batch), MAX_BATCH):
                step = batch[i:i + MAX_BATCH]
                try:
                    await self.handle_batch(step)
                except Exception:  # a bug must not stop ingest; the edges replay events
                    log.exception("coordinator failed on a batch of %d messages", len(step))
                finally:
                    self.link.handled(len(step))

    async def _timer_loop(self) -> None:
        while True:
            due = self._due()
            now = time.time()
            if due is not None and due <= now:
                try:
                    await self.tick(now)
                except Exception:
                    log.exception("coordinator failed on a timer tick")
                continue
            timeout = MAX_TIMER_SLEEP_S if due is None else min(due - now, MAX_TIMER_SLEEP_S)
            self._sleeping_until = now + timeout
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _retention_loop(self) -> None:
        await prune_samples_forever(self.store, self.storage, self.metrics.samples_pruned)

    def _due(self) -> float | None:
        candidates = [t for t in (self._next_due, self.twin.next_sweep_due(),
                                  self.desk.next_due()) if t is not None]
        return min(candidates) if candidates else None

    # ------------------------------------------------------------------ MQTT path

    async def handle_batch(self, batch: list[Inbound]) -> None:
        async with self._lock:
            now = time.time()
            changes = Changes()
            step = WriteBatch()
            rebirth: set[str] = set()
            counted: dict[str, int] = defaultdict(int)
            for item in batch:
                self._apply(item, now, changes, step, rebirth, counted)
            for name, n in counted.items():
                self.metrics.messages.labels(name).inc(n)
            step.alarm_changes = self._evaluate(now, changes)
            step.people = [self.twin.people[p] for p in changes.people
                           if p in self.twin.people]
            await self._write(step, now)
            self._ack(step.events)
            self.metrics.samples_stored.inc(len(step.samples))
            for node in rebirth:
                self._request_rebirth(node, now)
            self._push(changes, step.alarm_changes)

    def _parse(self, text: str) -> tuple[Topic, type[Message]]:
        """The uplink topic and its payload type, cached by the topic's text."""
        known = self._topics.get(text)
        if known is not None:
            return known
        topic = parse_topic(text)
        if topic.site != self.site.id or topic.node is None:
            raise ProtocolError("topic", f"not an uplink topic of this site: {text[:200]}")
        known = (topic, type_for(topic))
        if len(self._topics) >= TOPIC_CACHE_SIZE:  # only a hostile sender gets here
            self._topics.clear()
        self._topics[text] = known
        return known

    def _apply(self, item: Inbound, now: float, changes: Changes, step: WriteBatch,
               rebirth: set[str], counted: dict[str, int]) -> None:
        topic: Topic | None = None
        try:
            topic, message_type = self._parse(item.topic)
            msg = decode(item.payload, message_type)
            applied = self.twin.apply(topic, msg, now)
        except ProtocolError as err:
            self._refuse(err.reason, item.topic, err.detail)
            return
        except UnknownIdentity as err:
            self._refuse(err.reason, item.topic, err.detail)
            if topic is not None and topic.node in self.twin.nodes:  # clock, seq read
                changes.nodes.add(topic.node)
            return
        assert topic.node is not None  # _parse refuses anything else
        counted[message_type.__name__] += 1
        changes.merge(applied)
        if applied.rebirth:
            rebirth.add(topic.node)
        if isinstance(msg, CommandResult):
            self._command_result(topic.node, msg, now, step)
            return
        if topic.device is None:
            return
        if isinstance(msg, DeviceEvent):
            step.events.append(EventRecord(msg.id, topic.node, topic.device, msg.kind,
                                           dict(msg.data), msg.ts, item.received, msg.hist))
        elif isinstance(msg, DeviceData) or (isinstance(msg, DeviceBirth) and msg.metrics):
            # The recent time series: every telemetry report as it came (replayed ones
            # with their own time), and the values a device announces at birth.
            step.samples.append(SampleRecord(topic.device, msg.ts, item.received,
                                             dict(msg.metrics),
                                             isinstance(msg, DeviceData) and msg.hist))

    def _command_result(self, node: str, msg: CommandResult, now: float,
                        step: WriteBatch) -> None:
        """A node's answer to a command (POST /api/devices/{id}/commands): audited next to
        the command, and pushed to the dashboards, where the page that sent the command
        (it holds the id from the 202 answer) shows it."""
        log.info("command %s on node %s: %s %s", msg.id, node, msg.status, msg.detail[:200])
        result = {"id": msg.id, "node": node, "status": msg.status, "detail": msg.detail}
        step.audit.append(AuditEntry(now, f"node:{node}", "command_result", dict(result)))
        self.hub.broadcast({"type": "command_result", "result": {**result, "at": iso(now)}})

    def _refuse(self, reason: str, topic: str, detail: str) -> None:
        self.metrics.bad_messages.labels(reason).inc()
        parts = topic.split("/")
        node = parts[4][:64] if len(parts) > 4 else "?"
        if (reason, node) not in self._logged:
            # Once per (reason, node): a broken or hostile sender must not flood the log.
            self._logged.add((reason, node))
            log.warning("refused message from %s (%s): %s [%s]; further ones are only "
                        "counted", node, reason, detail[:300], topic[:200])

    def _ack(self, events: list[EventRecord]) -> None:
        by_node: dict[str, list[str]] = defaultdict(list)
        for e in events:
            by_node[e.node].append(e.id)
        for node, ids in by_node.items():
            for i in range(0, len(ids), MAX_ACK_IDS):
                self.link.send_ack(node, ids[i:i + MAX_ACK_IDS])
        self.metrics.events_stored.inc(len(events))

    def _request_rebirth(self, node: str, now: float) -> None:
        last = self._last_rebirth.get(node)
        if last is not None and now - last < REBIRTH_MIN_INTERVAL_S:
            return
        self._last_rebirth[node] = now
        log.info("asking node %s for a rebirth", node)
        self.link.send_command(node, "rebirth")
        self.metrics.rebirths.inc()

    # ------------------------------------------------------------------ timer path

    async def tick(self, now: float) -> None:
        async with self._lock:
            changes = self.twin.sweep(now)
            alarm_changes = self._evaluate(now, changes)
            await self._write(WriteBatch(alarm_changes=alarm_changes), now)
            self._push(changes, alarm_changes)

    # ------------------------------------------------------------------ rules + alarms

    def _evaluate(self, now: float, changes: Changes | None = None) -> list[AlarmChange]:
        """Rules, then alarms.  ``changes``: everything the twin reported since the last
        evaluation, for the engine's incremental pass (None: a full one)."""
        try:
            evaluation = self.engine.evaluate(self.twin, now, changes)
            alarm_changes = self.desk.evaluate(evaluation.active, lambda: self.engine.pending,
                                               now)
        except Exception:
            if not self._engine_failing:
                log.exception("rule evaluation failed; alarms are not updated until it works")
                self._engine_failing = True
            self._next_due = None
            return []
        if self._engine_failing:
            log.info("rule evaluation works again")
            self._engine_failing = False
        self._next_due = evaluation.next_due
        if evaluation.next_due is not None and (self._sleeping_until is None
                                                or evaluation.next_due < self._sleeping_until):
            self._wake.set()
        for change in alarm_changes:
            self.metrics.alarm_changes.labels(change.action).inc()
        self.metrics.alarms_active.set(sum(1 for a in self.book.all() if a.active))
        return alarm_changes

    def _push(self, changes: Changes, alarm_changes: list[AlarmChange]) -> None:
        if not self.hub.clients:  # nobody to tell; a new client starts from a snapshot
            self._last_zone.clear()
            return
        for change in alarm_changes:
            self.hub.broadcast({"type": "alarm", "alarm": alarm_json(change.alarm)})
        zones = set(changes.zones) | {c.alarm.zone for c in alarm_changes if c.alarm.zone}
        if zones:
            severities = zone_severities(self.book.all())
            for z in sorted(zones):
                if z in self.twin.zones:
                    view = zone_json(self.twin, self.twin.zones[z], severities.get(z))
                    # A device's telemetry marks its zone changed; what the zone shows
                    # (occupants, status) mostly did not: push only what is news.
                    if self._last_zone.get(z) != view:
                        self._last_zone[z] = view
                        self.hub.broadcast({"type": "zone", "zone": view})
        for d in sorted(changes.devices):
            if d in self.twin.devices:
                self.hub.broadcast({"type": "device", "device": device_json(self.twin.devices[d])})

    async def change(self, mutate: Callable[[float], Changes], audit: AuditEntry) -> None:
        """Apply an operator's change to the twin, then the same path as a message.
        ``mutate(now)`` raises (Conflict, NotFound) before changing anything, or changes
        the twin and returns what changed; ``audit`` (its ``detail`` may be filled in by
        ``mutate``) is written in the same transaction."""
        async with self._lock:
            now = time.time()
            changes = mutate(now)
            alarm_changes = self._evaluate(now, changes)
            people = [self.twin.people[p] for p in changes.people if p in self.twin.people]
            await self._write(WriteBatch(alarm_changes=alarm_changes, people=people,
                                         audit=[AuditEntry(now, audit.user, audit.action,
                                                           audit.detail)]), now)
            self._push(changes, alarm_changes)

    # ------------------------------------------------------------------ operator actions

    async def ack_alarm(self, alarm_id: int, user: str, comment: str = "") -> Alarm:
        async with self._lock:
            self.get_alarm(alarm_id)
            now = time.time()
            try:
                change = self.book.ack(alarm_id, user, now, comment)
            except (KeyError, LookupError) as err:
                raise NotFound(f"no alarm {alarm_id}") from err
            except ValueError as err:
                raise Conflict(str(err)) from err
            self.metrics.alarm_changes.labels(change.action).inc()
            self.metrics.alarms_active.set(sum(1 for a in self.book.all() if a.active))
            await self._write(WriteBatch(alarm_changes=[change], audit=[AuditEntry(
                now, user, "alarm_ack", {"alarm": alarm_id, "comment": comment})]), now)
            self._push(Changes(), [change])
            return change.alarm

    async def _write(self, batch: WriteBatch, now: float) -> None:
        """Store one step with the alarm desk's state and audit in the same transaction,
        then let the desk send what it decided (alerts to guards)."""
        self.desk.stage(batch, now)
        await self.store.write(batch)
        self.desk.after_commit()

    async def operate(self, act: Callable[[float], Outcome[T]], *, user: str, action: str,
                      detail: dict[str, Any], audit_refusal: bool = True) -> T:
        """An alarm-management action (server/alerts/actions.py) under the lock: ``act(now)``
        raises before changing anything, or returns an Outcome written in one transaction
        and pushed.  A refusal (a ServerError) is audited as ``<action>_refused``."""
        async with self._lock:
            now = time.time()
            try:
                outcome = act(now)
            except ServerError as err:
                if audit_refusal:
                    await self._write(WriteBatch(audit=[AuditEntry(
                        now, user, f"{action}_refused", {**detail, "error": str(err)})]), now)
                raise
            for change in outcome.changes:
                self.metrics.alarm_changes.labels(change.action).inc()
            await self._write(WriteBatch(alarm_changes=outcome.changes, audit=outcome.audit),
                              now)
            self._push(outcome.twin, outcome.changes)
            return outcome.value

    # ------------------------------------------------------------------ reads

    def get_alarm(self, alarm_id: int) -> Alarm:
        try:
            return self.book.get(alarm_id)
        except (KeyError, LookupError) as err:
            raise NotFound(f"no alarm {alarm_id}") from err

    def alarms(self, active_only: bool = False) -> list[Alarm]:
        alarms = [a for a in self.book.all() if a.active or not active_only]
        return sorted(alarms, key=lambda a: (a.raised_at, a.id), reverse=True)

    def zones(self) -> list[dict[str, Any]]:
        severities = zone_severities(self.book.all())
        return [zone_json(self.twin, z, severities.get(z.id)) for z in self.twin.zones.values()]

    def devices(self) -> list[dict[str, Any]]:
        return [device_json(d) for d in self.twin.devices.values()]

    def site_view(self) -> dict[str, Any]:
        return site_json(self.site, self.speed, self.zones())

    def snapshot(self) -> dict[str, Any]:
        """The WebSocket's first message.  Built without awaiting, so no change can slip
        between it and the client's registration with the hub."""
        return {"type": "snapshot", "site": self.site_view(), "zones": self.zones(),
                "alarms": [alarm_json(a) for a in self.alarms() if a.state != "cleared"],
                "devices": self.devices()}

