"""The alarm desk: alarm management around the alarm book, wired into the coordinator.

It holds the pure parts (server/alarms/: conditioning, shelf, maintenance, roster,
escalation board) and is the coordinator's :class:`~server.alarms.lifecycle.Gate`.  The
coordinator calls it at three points, always under its lock (server/service.py):

* :meth:`evaluate` instead of a bare ``book.sync``: timers (shelves, maintenance, shifts
  that ran out) first, then the conditioned violations into the book;
* :meth:`stage` before every store write: escalations react to the alarm changes in the
  batch, and what changed of the desk's own state (``alarm_state`` rows) and its audit
  entries join the same transaction;
* :meth:`after_commit` once it is stored: alerts go out to the guards (WebSocket pages and
  MQTT terminals), delivery updates to the duty desk.

Operator actions (server/alerts/actions.py) run through ``Coordinator.operate`` and return
an :class:`Outcome`.  Receipts from pages and terminals are queued here and applied by the
desk's task (:meth:`run`), through the same path.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from protocol.codec import now_ms
from protocol.messages import GuardReceipt
from protocol.profiles import ProfileSet
from protocol.site import SiteConfig
from server.alarms.analog import analog_limits
from server.alarms.conditioning import AlarmConditioner
from server.alarms.escalation import Delivery, Dispatch, Escalation, EscalationBoard
from server.alarms.lifecycle import AlarmBook, AlarmChange, ShelfMark
from server.alarms.maintenance import Maintenance, MaintenanceEntry
from server.alarms.roster import Roster, Shift
from server.alarms.settings import AlarmSettings
from server.alarms.shelving import Shelf, ShelfEntry
from server.alerts.channels import GuardChannels
from server.alerts.views import delivery_json, guard_alert_json, guard_alert_message
from server.hub import Hub
from server.rules.types import AlarmKey, Violation
from server.store.records import AuditEntry, StateRow, WriteBatch
from server.store.sqlite import SqliteStore
from server.twin import Changes, Twin

if TYPE_CHECKING:
    from server.alerts.mqtt import GuardMqtt
    from server.service import Coordinator

log = logging.getLogger(__name__)

T = TypeVar("T")
KEEP_CLOSED_S = 3600.0  # closed alarms' deliveries stay in memory this long (guard history)
CLEANUP_EVERY_S = 600.0
RETRY_S = 1.0
SYSTEM = "system"


@dataclass(slots=True)
class Outcome(Generic[T]):
    """What an operator action did: its answer, alarm transitions, audit entries and the
    devices whose state changed (maintenance)."""

    value: T
    changes: list[AlarmChange] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    twin: Changes = field(default_factory=Changes)


def shelf_key(key: AlarmKey) -> str:
    return f"{key[0]}|{key[1]}"


class AlarmDesk:
    def __init__(self, *, site: SiteConfig, profiles: ProfileSet | None, twin: Twin,
                 book: AlarmBook, settings: AlarmSettings, speed: float,
                 hub: Hub | None = None) -> None:
        self.site = site
        self.twin = twin
        self.book = book
        self.speed = speed
        self.hub = hub
        self.settings = settings
        device_zone = {d.id: d.zone for d in site.devices()}
        self.shelf = Shelf(settings.shelving, speed)
        self.maintenance = Maintenance(device_zone, [z.id for z in site.zones],
                                       settings.never_suppress)
        self.roster = Roster()
        self.board = EscalationBoard(settings.escalation, speed)
        self.conditioner = AlarmConditioner(
            settings.conditioning, speed,
            limits=analog_limits(site, profiles) if profiles is not None else None,
            reading=self._reading)
        self.channels = GuardChannels()
        self.mqtt: GuardMqtt | None = None
        self.receipts: asyncio.Queue[tuple[str, GuardReceipt, str]] = asyncio.Queue(4096)
        self._rows: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._audit: list[AuditEntry] = []
        self._dispatches: list[Dispatch] = []
        self._updates: list[AlarmChange] = []
        self._delivery_updates: list[Delivery] = []
        self._last_cleanup = 0.0
        self._evaluated_at = 0.0
        self.file_digest = ""  # of the config file's alarm settings (load_desk)

    # ------------------------------------------------------------------ restore

    def restore(self, rows: Mapping[str, list[tuple[str, dict[str, Any]]]], now: float) -> None:
        """Put stored state back (``rows``: kind → (key, data)); adopt active alarms."""
        self.shelf = Shelf(self.settings.shelving, self.speed,
                           [ShelfEntry.from_json(d) for _, d in rows.get("shelf", [])])
        self.maintenance = Maintenance(self.maintenance.device_zone, self.maintenance.zones,
                                       self.settings.never_suppress,
                                       [MaintenanceEntry.from_json(d)
                                        for _, d in rows.get("maintenance", [])])
        self.roster = Roster(Shift.from_json(d) for _, d in rows.get("shift", []))
        open_ids = {a.id for a in self.book.open()}
        self.board = EscalationBoard(
            self.settings.escalation, self.speed,
            [e for e in (Escalation.from_json(d) for _, d in rows.get("escalation", []))
             if e.alarm_id in open_ids],
            [d for d in (Delivery.from_json(x) for _, x in rows.get("delivery", []))
             if d.alarm_id in open_ids])
        self._apply_maintenance_flags()
        self.conditioner.adopt([Violation(a.rule, a.subject, a.zone, a.severity, a.message_zh,
                                          a.message_en, since=a.raised_at)
                                for a in self.book.active()], now)
        log.info("alarm desk restored: %d shelved, %d in maintenance, %d on shift, "
                 "%d escalations running", len(self.shelf.entries()),
                 len(self.maintenance.entries()), len(self.roster.shifts()),
                 sum(1 for e in self.board.escalations.values() if e.running))

    def apply_settings(self, settings: AlarmSettings) -> None:
        self.settings = settings
        self.shelf.settings = settings.shelving
        self.board.set_settings(settings.escalation)
        self.conditioner.settings = settings.conditioning
        self.maintenance.never_suppress = frozenset(settings.never_suppress)

    # ------------------------------------------------------------------ Gate

    def shelf_mark(self, key: AlarmKey) -> ShelfMark | None:
        return self.shelf.mark(key)

    def suppression(self, rule: str, subject: str, zone: str | None) -> str | None:
        return self.maintenance.suppression(rule, subject, zone)

    # ------------------------------------------------------------------ coordinator hooks

    def evaluate(self, active: Mapping[AlarmKey, Violation],
                 pending: Callable[[], Mapping[AlarmKey, float]],
                 now: float) -> list[AlarmChange]:
        """The book's sync with conditioning and the timed parts of the desk."""
        self._evaluated_at = now
        changes = self.expire(now)
        changes.extend(self.book.sync(self.conditioner.condition(active, pending, now), now,
                                      gate=self))
        return changes

    def expire(self, now: float) -> list[AlarmChange]:
        """Shelves, maintenance and shifts whose time is up (automatic, audited)."""
        changes: list[AlarmChange] = []
        shelves, works = self.shelf.expire(now), self.maintenance.expire(now)
        for e in shelves:
            self.delete("shelf", shelf_key(e.key))
            self.audit(now, SYSTEM, "alarm_unshelve_auto", rule=e.rule, subject=e.subject,
                       shelved_by=e.by, reason=e.reason)
        for m in works:
            self.delete("maintenance", m.key)
            self.audit(now, SYSTEM, "maintenance_end_auto", kind=m.kind, target=m.target)
        if works:
            self._apply_maintenance_flags()
        if shelves or works:
            changes.extend(self.book.regate(self, now, by=SYSTEM))
        for s in self.roster.expire(now):
            self.delete("shift", s.user)
            self.audit(now, SYSTEM, "shift_end_auto", user=s.user)
        return changes

    def next_due(self) -> float | None:
        times = [t for t in (self.conditioner.next_due(), self.shelf.next_due(),
                             self.maintenance.next_due(), self.roster.next_due(),
                             self.board.next_due()) if t is not None]
        due = min(times, default=None)
        if due is not None and due <= self._evaluated_at:
            # Due at the last evaluation and still pending (it failed): retry in a while
            # rather than spin the coordinator's timer.
            return self._evaluated_at + RETRY_S
        return due

    def stage(self, batch: WriteBatch, now: float) -> None:
        """Escalation reacts to the batch's alarm changes; the desk's rows and audit
        entries join the batch (one transaction)."""
        for change in batch.alarm_changes:
            self._dispatches.extend(self.board.observe(change, self.roster, now))
            if self.board.deliveries(change.alarm.id):
                self._updates.append(change)
        due = self.board.next_due()
        if due is not None and due <= now:
            self._dispatches.extend(self.board.due(self.roster, now))
        escalations, deliveries = self.board.take_dirty()
        for e in escalations:
            self.put("escalation", str(e.alarm_id), e.to_json())
        for d in deliveries:
            self.put("delivery", d.key, d.to_json())
        self._delivery_updates.extend(deliveries)
        batch.state.extend(StateRow(kind, key, data) for (kind, key), data in self._rows.items())
        batch.audit.extend(self._audit)
        self._rows.clear()
        self._audit.clear()
        if now - self._last_cleanup > CLEANUP_EVERY_S:
            self._cleanup(now)

    def after_commit(self) -> None:
        """Send what the stored batch decided: alerts, alarm and delivery updates."""
        dispatches, self._dispatches = self._dispatches, []
        updates, self._updates = self._updates, []
        delivered, self._delivery_updates = self._delivery_updates, []
        sent_ms = now_ms()
        for dispatch in dispatches:
            self._send_alert(dispatch, sent_ms)
        for change in updates:
            for d in self.board.deliveries(change.alarm.id):
                self.channels.send(d.recipient, {"type": "update",
                                                 "alert": guard_alert_json(change.alarm, d)})
        for d in delivered:
            if self.hub is not None:
                self.hub.broadcast({"type": "delivery", "delivery": delivery_json(d)})
            if d.level >= 0 or d.acknowledged_at is not None:
                self.channels.send(d.recipient, {"type": "delivery",
                                                 "delivery": delivery_json(d)})

    def _send_alert(self, dispatch: Dispatch, sent_ms: int) -> None:
        try:
            alarm = self.book.get(dispatch.alarm_id)
        except LookupError:
            return
        d = self.board.delivery(dispatch.alarm_id, dispatch.recipient)
        if d is None:
            return
        pages = self.channels.send(d.recipient, {"type": "alert", "resend": dispatch.resend,
                                                 "alert": guard_alert_json(alarm, d)})
        if self.mqtt is not None:
            self.mqtt.publish(d.recipient, guard_alert_message(alarm, d, sent_ms,
                                                               dispatch.resend))
        log.info("alarm %d %s to %s (level %d, %d pages%s)", alarm.id,
                 "resent" if dispatch.resend else "sent", d.recipient, dispatch.level, pages,
                 ", mqtt" if self.mqtt is not None else "")

    def queue_dispatches(self, dispatches: Iterable[Dispatch]) -> None:
        self._dispatches.extend(dispatches)

    # ------------------------------------------------------------------ state rows, audit

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        self._rows[(kind, key)] = data

    def delete(self, kind: str, key: str) -> None:
        self._rows[(kind, key)] = None

    def audit(self, now: float, who: str, action: str, **detail: Any) -> None:
        self._audit.append(AuditEntry(now, who, action, detail))

    def _cleanup(self, now: float) -> None:
        self._last_cleanup = now
        open_ids = {a.id for a in self.book.open()}
        old = []
        for alarm_id, esc in self.board.escalations.items():
            if alarm_id in open_ids:
                continue
            stopped = esc.stopped_at if esc.stopped_at is not None else esc.started
            if now - stopped > KEEP_CLOSED_S:
                old.append(alarm_id)
        self.board.forget(old)

    # ------------------------------------------------------------------ maintenance flags

    def _apply_maintenance_flags(self) -> Changes:
        """The twin's devices show ``maintenance`` while they (or their zone) are in it."""
        changes = Changes()
        for device in self.twin.devices.values():
            flag = self.maintenance.device_in_maintenance(device.id)
            if device.maintenance != flag:
                device.maintenance = flag
                changes.devices.add(device.id)
                if device.zone:
                    changes.zones.add(device.zone)
        return changes

    def maintenance_changed(self) -> Changes:
        return self._apply_maintenance_flags()

    def _reading(self, device: str, metric: str) -> float | None:
        state = self.twin.devices.get(device)
        if state is None or state.status != "online":
            return None
        value = state.metrics.get(metric)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    # ------------------------------------------------------------------ receipts

    def on_receipt(self, guard: str, receipt: GuardReceipt, channel: str = "mqtt") -> None:
        """From the MQTT link (on the loop) or a guard page: queue for :meth:`run`."""
        try:
            self.receipts.put_nowait((guard, receipt, channel))
        except asyncio.QueueFull:
            log.warning("receipt queue full; dropping a receipt from %s", guard)

    async def run(self, coordinator: Coordinator) -> None:
        """Apply queued receipts (each through the coordinator, like an operator action)."""
        from server.alerts.actions import guard_step
        from server.errors import ServerError

        while True:
            guard, receipt, channel = await self.receipts.get()

            def act(now: float, g: str = guard, r: GuardReceipt = receipt,
                    c: str = channel) -> Outcome[Delivery]:
                return guard_step(self, r.alarm, g, r.step, now, note=r.note, channel=c)

            try:
                await coordinator.operate(
                    act, user=guard, action=f"guard_{receipt.step}",
                    detail={"alarm": receipt.alarm, "channel": channel},
                    audit_refusal=receipt.step not in ("delivered", "seen"))
            except ServerError as err:
                log.info("receipt from %s refused: %s", guard, err)
            except Exception:
                log.exception("receipt from %s failed", guard)


def settings_digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


async def load_desk(store: SqliteStore, *, site: SiteConfig, profiles: ProfileSet | None,
                    twin: Twin, book: AlarmBook, settings: AlarmSettings, speed: float,
                    hub: Hub | None, config_sections: Mapping[str, Any],
                    now: Callable[[], float] = time.time) -> AlarmDesk:
    """A desk with its stored state, the effective settings and an audited start:
    ``server_start`` always, ``config_change`` naming the sections whose digest differs
    from the last start.

    Settings: a supervisor's run-time change (PUT /api/alarm-settings) wins over the config
    file it was made against; once the file's ``alarms:`` section itself changes, the file
    wins again (the newer decision)."""
    rows = {kind: await store.load_state(kind) for kind in
            ("shelf", "maintenance", "shift", "escalation", "delivery", "settings", "meta")}
    file_digest = settings_digest(settings.model_dump(mode="json"))
    stored = dict(rows["settings"]).get("alarms")
    if stored is not None and stored.get("file") == file_digest:
        try:
            settings = AlarmSettings.model_validate(stored.get("settings"))
        except ValueError as err:
            log.error("stored alarm settings are invalid (%s); using the config file's", err)
    elif stored is not None:
        log.warning("the config file's alarm settings changed since the run-time change of "
                    "%s; using the file's", stored.get("at", "?"))
    desk = AlarmDesk(site=site, profiles=profiles, twin=twin, book=book, settings=settings,
                     speed=speed, hub=hub)
    desk.file_digest = file_digest
    t = now()
    desk.restore(rows, t)
    digests = {name: settings_digest(value) for name, value in config_sections.items()}
    digests["alarms"] = settings_digest(settings.model_dump(mode="json"))
    before = dict(rows["meta"]).get("config", {})
    changed = sorted(k for k, v in digests.items() if before.get(k) != v)
    batch = WriteBatch(state=[StateRow("meta", "config", digests)], audit=[
        AuditEntry(t, SYSTEM, "server_start", {"config": digests})])
    if before and changed:
        batch.audit.append(AuditEntry(t, SYSTEM, "config_change", {
            "sections": changed, "before": {k: before.get(k) for k in changed},
            "after": {k: digests[k] for k in changed}}))
    await store.write(batch)
    return desk

