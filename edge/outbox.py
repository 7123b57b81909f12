"""The disk outbox: events kept on disk until the server confirms it stored them.

DESIGN.md: "events (door, tag, panic, recording changes) are confirmed by the server once
stored (an application-level ack, not the MQTT PUBACK); an edge removes an event from its
disk outbox only then".  An event is written here *before* it is published, so a crash
between the two loses nothing; on reconnect every unacked event is re-published with
``hist=True`` and its original timestamp (:meth:`Outbox.pending`).

SQLite in WAL mode with ``synchronous=NORMAL``: a committed event survives a process crash
(the case that matters at the edge); an OS crash may lose the last few, which the periodic
full reports then cover.  Calls are short but may touch the disk, so the agent runs them in
a thread (``asyncio.to_thread``); a lock keeps the one connection to one thread at a time.
The agent writes the events of a batch of driver updates together (:meth:`Outbox.add_many`,
one transaction), so a burst of events costs one commit, not one per event.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from edge.errors import OutboxError
from protocol.messages import MetricValue

MAX_EVENTS = 100_000
"""Oldest events are dropped beyond this (a node cut off for days must not fill the disk)."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: str
    device: str
    ts: int
    kind: str
    data: dict[str, MetricValue]
    metrics: dict[str, MetricValue]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    rowid   INTEGER PRIMARY KEY AUTOINCREMENT,
    id      TEXT NOT NULL UNIQUE,
    device  TEXT NOT NULL,
    ts      INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    data    BLOB NOT NULL,
    metrics BLOB NOT NULL
)
"""


class Outbox:
    def __init__(self, path: str | Path, max_events: int = MAX_EVENTS) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise OutboxError(f"cannot open outbox {self.path}: {err}") from err

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, event: StoredEvent) -> None:
        self.add_many([event])

    def add_many(self, events: Sequence[StoredEvent]) -> None:
        """Store a batch of events in one transaction (one disk sync for all of them)."""
        if not events:
            return
        rows = [(e.id, e.device, e.ts, e.kind, msgspec.json.encode(e.data),
                 msgspec.json.encode(e.metrics)) for e in events]
        try:
            with self._lock:
                self._db.execute("BEGIN")
                try:
                    self._db.executemany(
                        "INSERT OR IGNORE INTO events (id, device, ts, kind, data, metrics) "
                        "VALUES (?, ?, ?, ?, ?, ?)", rows)
                    self._db.execute(
                        "DELETE FROM events WHERE rowid <= "
                        "(SELECT MAX(rowid) FROM events) - ?", (self.max_events,))
                    self._db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as err:
            raise OutboxError(f"cannot store {len(events)} events "
                              f"({events[0].id}…): {err}") from err

    def remove(self, ids: Iterable[str]) -> int:
        """Forget acknowledged events; returns how many were still pending."""
        ids = list(ids)
        if not ids:
            return 0
        with self._lock:
            cur = self._db.executemany("DELETE FROM events WHERE id = ?", [(i,) for i in ids])
            return cur.rowcount

    def pending(self) -> list[StoredEvent]:
        """Every unacknowledged event, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, device, ts, kind, data, metrics FROM events ORDER BY rowid").fetchall()
        return [StoredEvent(id=r[0], device=r[1], ts=r[2], kind=r[3],
                            data=msgspec.json.decode(r[4]), metrics=msgspec.json.decode(r[5]))
                for r in rows]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
