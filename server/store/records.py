"""Plain records the store reads and writes, and their JSON forms in SQLite."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import msgspec

from server.alarms.lifecycle import Alarm, AlarmChange
from server.twin import PersonState


@dataclass(frozen=True, slots=True)
class UserRecord:
    username: str
    password_hash: str
    role: str
    created: float


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A device event as received (``ts`` in wire milliseconds, ``received`` epoch s)."""

    id: str
    node: str
    device: str
    kind: str
    data: dict[str, Any]
    ts: int
    received: float
    hist: bool = False


@dataclass(frozen=True, slots=True)
class SampleRecord:
    """One telemetry report of a device (DeviceData, or the values of its birth): the
    recent time series.  ``ts`` in wire milliseconds, ``received`` epoch seconds."""

    device: str
    ts: int
    received: float
    metrics: dict[str, Any]
    hist: bool = False


@dataclass(frozen=True, slots=True)
class AuditEntry:
    ts: float
    user: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StateRow:
    """One row of alarm-management state (shelf, maintenance, shifts, escalations,
    deliveries, settings: server/alerts/desk.py); ``data`` None deletes the row."""

    kind: str
    key: str
    data: dict[str, Any] | None


@dataclass(slots=True)
class WriteBatch:
    """Everything one coordinator step writes, committed in one transaction."""

    events: list[EventRecord] = field(default_factory=list)
    samples: list[SampleRecord] = field(default_factory=list)
    alarm_changes: list[AlarmChange] = field(default_factory=list)
    people: list[PersonState] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    state: list[StateRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.samples or self.alarm_changes or self.people or self.audit
                    or self.state)


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys, compact): the audit chain hashes this exact text, so
    it must not change."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                      default=str)


_encoder = msgspec.json.Encoder(order="sorted", enc_hook=str)


def to_json(value: Any) -> str:
    """The same JSON as :func:`dumps` for rows nobody hashes, by msgspec, which encodes
    dataclasses directly: a person with a long timeline costs microseconds here and
    milliseconds through ``dataclasses.asdict`` + ``json.dumps``, and the coordinator
    writes every person who moved in each step."""
    return _encoder.encode(value).decode()


def _known_fields(cls: type[Any], text: str, tuples: str) -> dict[str, Any]:
    """A stored row's fields that ``cls`` still has (a field dropped since the row was
    written is ignored), its list field ``tuples`` turned back from JSON arrays into the
    tuples it holds."""
    data = json.loads(text)
    known = {f.name for f in dataclasses.fields(cls)}
    data = {k: v for k, v in data.items() if k in known}
    data[tuples] = [tuple(item) for item in data.get(tuples, [])]
    return data


def alarm_to_json(alarm: Alarm) -> str:
    return to_json(alarm)


def alarm_from_json(text: str) -> Alarm:
    return Alarm(**_known_fields(Alarm, text, tuples="comments"))


def person_to_json(person: PersonState) -> str:
    return to_json(person)


def person_from_json(text: str) -> PersonState:
    return PersonState(**_known_fields(PersonState, text, tuples="timeline"))
