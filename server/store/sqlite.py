"""The embedded store: SQLite in WAL mode under the data directory.

Every statement runs on one dedicated thread (a single-worker executor), so the event loop
never blocks on disk and SQLite sees exactly one writer.  A coordinator step's writes
(events, telemetry samples, alarm transitions, people, audit) are one transaction, its rows
inserted with ``executemany``.

Events are keyed by the edge's event id: a replayed event (the edge did not get our ack)
is ignored on insert and acknowledged again, which makes replay idempotent.  The audit
table is append-only and hash-chained (sha256 over the previous hash and the entry).

Telemetry (DeviceData, and the values a device announces in its birth) is kept as the
recent time series: one ``samples`` row per report, its metrics as JSON, read back by
device and time (``GET /api/devices/{id}/samples``).  Old rows are deleted in small
chunks (:meth:`SqliteStore.prune_samples`, driven by the coordinator) so that retention
never holds the writer for long; long-term series belong in InfluxDB (DESIGN.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from server.alarms.lifecycle import Alarm
from server.errors import ServerError
from server.store.records import (
    AuditEntry,
    EventRecord,
    SampleRecord,
    UserRecord,
    WriteBatch,
    alarm_from_json,
    alarm_to_json,
    dumps,
    person_from_json,
    person_to_json,
    to_json,
)
from server.twin import PersonState

log = logging.getLogger(__name__)

T = TypeVar("T")
DB_NAME = "custodywatch.db"
GENESIS_HASH = "0" * 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY, rule TEXT NOT NULL, subject TEXT NOT NULL, zone TEXT,
    severity TEXT NOT NULL, state TEXT NOT NULL, raised_at REAL NOT NULL,
    updated_at REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alarms_state ON alarms(state);
CREATE TABLE IF NOT EXISTS alarm_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, alarm_id INTEGER NOT NULL, action TEXT NOT NULL,
    at REAL NOT NULL, by TEXT, state TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alarm_history_alarm ON alarm_history(alarm_id);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, node TEXT NOT NULL, device TEXT NOT NULL, kind TEXT NOT NULL,
    data TEXT NOT NULL, ts INTEGER NOT NULL, received REAL NOT NULL, hist INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS events_device_ts ON events(device, ts);
CREATE TABLE IF NOT EXISTS people (
    id TEXT PRIMARY KEY, in_custody INTEGER NOT NULL, updated REAL NOT NULL,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, user TEXT NOT NULL,
    action TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_person ON audit(json_extract(detail, '$.person'));
CREATE TABLE IF NOT EXISTS alarm_state (
    kind TEXT NOT NULL, key TEXT NOT NULL, updated REAL NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (kind, key));
CREATE INDEX IF NOT EXISTS alarm_history_at ON alarm_history(at);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY, device TEXT NOT NULL, ts INTEGER NOT NULL,
    received REAL NOT NULL, hist INTEGER NOT NULL, metrics TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS samples_device_ts ON samples(device, ts);
"""


class StoreError(ServerError):
    pass


def audit_hash(prev_hash: str, entry: AuditEntry) -> str:
    body = dumps([prev_hash, entry.ts, entry.user, entry.action, entry.detail])
    return hashlib.sha256(body.encode()).hexdigest()


class SqliteStore:
    """``async with SqliteStore(data_dir) as store:``"""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / DB_NAME
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None
        self._last_hash = GENESIS_HASH

    async def __aenter__(self) -> SqliteStore:
        await self._run(self._open)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._run(self._close)
        self._executor.shutdown(wait=True)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    # ------------------------------------------------------------------ writer thread

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("store is not open")
        return self._db

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(SCHEMA)
        except sqlite3.Error as err:
            raise StoreError(f"cannot open {self.path}: {err}") from err
        self._db = db
        row = db.execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        self._last_hash = row[0] if row else GENESIS_HASH
        log.info("store open: %s", self.path)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _write(self, batch: WriteBatch) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR IGNORE INTO events (id, node, device, kind, data, ts, received, hist)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.id, e.node, e.device, e.kind, to_json(e.data), e.ts, e.received,
                  int(e.hist)) for e in batch.events])
            db.executemany(
                "INSERT INTO samples (device, ts, received, hist, metrics)"
                " VALUES (?, ?, ?, ?, ?)",
                [(m.device, m.ts, m.received, int(m.hist), to_json(m.metrics))
                 for m in batch.samples])
            for change in batch.alarm_changes:
                a = change.alarm
                data = alarm_to_json(a)
                db.execute(
                    "INSERT INTO alarms (id, rule, subject, zone, severity, state, raised_at,"
                    " updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(id) DO UPDATE SET zone=excluded.zone,"
                    " severity=excluded.severity, state=excluded.state,"
                    " updated_at=excluded.updated_at, data=excluded.data",
                    (a.id, a.rule, a.subject, a.zone, a.severity, a.state, a.raised_at,
                     a.updated_at, data))
                db.execute("INSERT INTO alarm_history (alarm_id, action, at, by, state, data)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           (a.id, change.action, change.at, change.by, a.state, data))
            db.executemany(
                "INSERT INTO people (id, in_custody, updated, data) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET in_custody=excluded.in_custody,"
                " updated=excluded.updated, data=excluded.data",
                [(p.id, int(p.in_custody), time.time(), person_to_json(p)) for p in batch.people])
            for row in batch.state:
                if row.data is None:
                    db.execute("DELETE FROM alarm_state WHERE kind = ? AND key = ?",
                               (row.kind, row.key))
                else:
                    db.execute("INSERT INTO alarm_state (kind, key, updated, data)"
                               " VALUES (?, ?, ?, ?) ON CONFLICT(kind, key) DO UPDATE SET"
                               " updated=excluded.updated, data=excluded.data",
                               (row.kind, row.key, time.time(), dumps(row.data)))
            last = self._last_hash
            for entry in batch.audit:
                digest = audit_hash(last, entry)
                db.execute("INSERT INTO audit (ts, user, action, detail, prev_hash, hash)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           (entry.ts, entry.user, entry.action, dumps(entry.detail), last, digest))
                last = digest
            db.execute("COMMIT")
            self._last_hash = last
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ async API

    async def write(self, batch: WriteBatch) -> None:
        if batch:
            await self._run(self._write, batch)

    async def audit(self, user: str, action: str, **detail: Any) -> None:
        await self.write(WriteBatch(audit=[AuditEntry(time.time(), user, action, detail)]))

    async def get_user(self, username: str) -> UserRecord | None:
        def query() -> UserRecord | None:
            row = self.db.execute("SELECT username, password_hash, role, created FROM users"
                                  " WHERE username = ?", (username,)).fetchone()
            return UserRecord(*row) if row else None
        return await self._run(query)

    async def count_users(self) -> int:
        return await self._run(lambda: int(self.db.execute(
            "SELECT count(*) FROM users").fetchone()[0]))

    async def add_user(self, user: UserRecord) -> None:
        def insert() -> None:
            try:
                self.db.execute("INSERT INTO users (username, password_hash, role, created)"
                                " VALUES (?, ?, ?, ?)",
                                (user.username, user.password_hash, user.role, user.created))
            except sqlite3.IntegrityError as err:
                raise StoreError(f"user {user.username!r} exists") from err
        await self._run(insert)

    async def load_alarms(self, include_cleared: bool = False) -> list[Alarm]:
        sql = "SELECT data FROM alarms" + ("" if include_cleared else " WHERE state != 'cleared'")
        rows = await self._run(lambda: self.db.execute(sql + " ORDER BY id").fetchall())
        return [alarm_from_json(r[0]) for r in rows]

    async def max_alarm_id(self) -> int:
        return await self._run(lambda: int(self.db.execute(
            "SELECT coalesce(max(id), 0) FROM alarms").fetchone()[0]))

    async def load_people(self) -> list[PersonState]:
        rows = await self._run(lambda: self.db.execute(
            "SELECT data FROM people ORDER BY id").fetchall())
        return [person_from_json(r[0]) for r in rows]

    async def recent_events(self, device: str | None = None,
                            limit: int = 100) -> list[EventRecord]:
        def query() -> list[EventRecord]:
            sql = "SELECT id, node, device, kind, data, ts, received, hist FROM events"
            args: tuple[Any, ...] = ()
            if device is not None:
                sql, args = sql + " WHERE device = ?", (device,)
            rows = self.db.execute(sql + " ORDER BY ts DESC LIMIT ?", (*args, limit)).fetchall()
            return [EventRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], bool(r[7]))
                    for r in rows]
        return await self._run(query)

    async def samples(self, device: str, since_ms: int = 0, until_ms: int | None = None,
                      limit: int = 1000) -> list[SampleRecord]:
        """A device's samples with ``since_ms <= ts < until_ms``: the latest ``limit``
        of them, oldest first."""
        def query() -> list[SampleRecord]:
            rows = self.db.execute(
                "SELECT * FROM (SELECT id, ts, received, hist, metrics FROM samples"
                " WHERE device = ? AND ts >= ? AND ts < ? ORDER BY ts DESC, id DESC LIMIT ?)"
                " ORDER BY ts, id",
                (device, since_ms, until_ms if until_ms is not None else 2**62,
                 limit)).fetchall()
            return [SampleRecord(device, r[1], r[2], json.loads(r[4]), bool(r[3]))
                    for r in rows]
        return await self._run(query)

    async def prune_samples(self, received_before: float, chunk: int = 2000) -> int:
        """Delete up to ``chunk`` of the oldest samples received before
        ``received_before``; return how many went (``chunk``: call again).

        Only the first ``chunk`` rows in insertion order are looked at, which the primary
        key finds without a scan; rows arrive in ``received`` order, so the expired ones
        are that prefix.  One short transaction per chunk: ingest's writes queue behind
        at most one of them."""
        def delete() -> int:
            cur = self.db.execute(
                "DELETE FROM samples WHERE id IN (SELECT id FROM samples ORDER BY id LIMIT ?)"
                " AND received < ?", (chunk, received_before))
            return cur.rowcount
        return await self._run(delete)

    async def audit_entries(self, person: str | None = None,
                            limit: int = 1000) -> list[AuditEntry]:
        """Audit entries, oldest first: all of them, or those about one person (their
        ``detail.person``; the custody file's list of actions)."""
        def query() -> list[AuditEntry]:
            sql = "SELECT seq, ts, user, action, detail FROM audit"
            args: tuple[Any, ...] = ()
            if person is not None:
                sql, args = sql + " WHERE json_extract(detail, '$.person') = ?", (person,)
            rows = self.db.execute(f"SELECT * FROM ({sql} ORDER BY seq DESC LIMIT ?)"
                                   " ORDER BY seq", (*args, limit)).fetchall()
            return [AuditEntry(r[1], r[2], r[3], json.loads(r[4])) for r in rows]
        return await self._run(query)

    async def load_state(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """Alarm-management state rows of one kind: (key, data), by key."""
        rows = await self._run(lambda: self.db.execute(
            "SELECT key, data FROM alarm_state WHERE kind = ? ORDER BY key",
            (kind,)).fetchall())
        return [(r[0], json.loads(r[1])) for r in rows]

    async def alarm_history(self, since: float, until: float | None = None,
                            limit: int = 200_000) -> list[tuple[Alarm, str, float, str | None]]:
        """Alarm transitions (alarm as it was, action, at, by) with ``since <= at < until``,
        oldest first (the KPI report's input)."""
        def query() -> list[tuple[Alarm, str, float, str | None]]:
            rows = self.db.execute(
                "SELECT data, action, at, by FROM alarm_history WHERE at >= ? AND at < ?"
                " ORDER BY seq LIMIT ?",
                (since, until if until is not None else 1e18, limit)).fetchall()
            return [(alarm_from_json(r[0]), r[1], r[2], r[3]) for r in rows]
        return await self._run(query)

    async def list_users(self) -> list[UserRecord]:
        rows = await self._run(lambda: self.db.execute(
            "SELECT username, password_hash, role, created FROM users"
            " ORDER BY username").fetchall())
        return [UserRecord(*r) for r in rows]

    async def update_user(self, username: str, *, password_hash: str | None = None,
                          role: str | None = None) -> bool:
        """Change a user's password hash and/or role; False if there is no such user."""
        def update() -> bool:
            cur = self.db.execute(
                "UPDATE users SET password_hash = coalesce(?, password_hash),"
                " role = coalesce(?, role) WHERE username = ?",
                (password_hash, role, username))
            return cur.rowcount > 0
        return await self._run(update)

    async def verify_audit(self) -> int:
        """Check the audit hash chain; return the number of entries, raise StoreError on a
        broken link (an entry edited or removed)."""
        def check() -> int:
            last, n = GENESIS_HASH, 0
            for seq, ts, user, action, detail, prev, digest in self.db.execute(
                    "SELECT seq, ts, user, action, detail, prev_hash, hash FROM audit"
                    " ORDER BY seq"):
                entry = AuditEntry(ts, user, action, json.loads(detail))
                if prev != last or audit_hash(last, entry) != digest:
                    raise StoreError(f"audit chain broken at entry {seq}")
                last, n = digest, n + 1
            return n
        return await self._run(check)
