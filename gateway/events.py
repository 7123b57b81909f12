"""Report by exception: what two successive polls of a device mean (pure).

Given the metrics of the previous and the current poll (and the change counters the map
declares), :func:`derive` returns the profile events to raise, each carrying the metric
value it sets, and the other changed metrics as plain data.  A door that opened and closed
between two polls leaves its state unchanged but its change counter +2: the counter
replays both transitions (door_opened, door_closed), so a short opening is never lost to
the poll period.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from protocol.modbus_map import EventRule, ModbusMap

MetricValue = bool | int | float | str | list[str] | None
COUNTER_MODULO = 1 << 16
MAX_REPLAYED = 16
"""More counted changes than this between two polls is not a door being used (a device
restart, a replaced controller): trust the observed state instead of replaying them."""


@dataclass(frozen=True, slots=True)
class Derived:
    kind: str
    data: dict[str, MetricValue] = field(default_factory=dict)
    metrics: dict[str, MetricValue] = field(default_factory=dict)


def counter_delta(before: int, after: int) -> int:
    """Changes counted by a 16-bit counter that may have wrapped."""
    return (after - before) % COUNTER_MODULO


def expand_transitions(before: bool, after: bool, changes: int | None) -> list[bool]:
    """The values a bool metric took, in order, between two polls.

    ``changes`` is its counter's delta (None without a counter).  If the count disagrees
    with the observed states (odd count but same state, or a count too large), the observed
    change alone is reported."""
    observed = [after] if after != before else []
    if changes is None or changes > MAX_REPLAYED or (changes % 2 == 1) != (after != before):
        return observed
    return [(i % 2 == 0) != before for i in range(changes)]


def _split(entry: str, names: list[str]) -> dict[str, MetricValue]:
    index, _, label = entry.partition(":")
    parts: list[MetricValue] = [int(index) if index.isdigit() else index, label]
    return dict(zip(names, parts, strict=False))


def rules_by_metric(m: ModbusMap) -> dict[str, list[EventRule]]:
    """The map's event rules grouped by the metric they watch (for :func:`derive`)."""
    grouped: dict[str, list[EventRule]] = {}
    for rule in m.events:
        grouped.setdefault(rule.metric, []).append(rule)
    return grouped


def derive(m: ModbusMap, before: Mapping[str, MetricValue], after: Mapping[str, MetricValue],
           counter_changes: Mapping[str, int] | None = None,
           rules: Mapping[str, list[EventRule]] | None = None,
           ) -> tuple[list[Derived], dict[str, MetricValue]]:
    """(events in order, changed metrics no event carries).  ``rules``: the map's
    :func:`rules_by_metric`, when the caller keeps it from poll to poll."""
    counter_changes = counter_changes or {}
    by_metric = rules_by_metric(m) if rules is None else rules
    events: list[Derived] = []
    carried: set[str] = set()
    for metric in after if by_metric else ():  # in the metrics' order: events keep it
        rules_of = by_metric.get(metric)
        if not rules_of:
            continue
        old, new = before.get(metric), after[metric]
        if isinstance(new, bool) and isinstance(old, bool):
            for value in expand_transitions(old, new, counter_changes.get(metric)):
                for rule in rules_of:
                    if rule.becomes is value:
                        events.append(Derived(rule.kind, {}, {metric: value}))
                        carried.add(metric)
        elif isinstance(new, list) and isinstance(old, list):
            added = [e for e in new if e not in old]
            removed = [e for e in old if e not in new]
            for rule in rules_of:
                for entry in added if rule.when == "added" else removed:
                    events.append(Derived(rule.kind, _split(entry, rule.data), {metric: new}))
                    carried.add(metric)
    data = {k: v for k, v in after.items() if before.get(k) != v and k not in carried}
    return events, data
