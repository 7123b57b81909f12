"""Prometheus metrics of one server instance (served at GET /metrics).

Each server gets its own registry so that several servers in one process (tests, the
demo) do not share counters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "ServerMetrics"]


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages = Counter("custodywatch_messages_ingested", "Uplink messages applied, "
                                "by message type", ["type"], registry=r)
        self.bad_messages = Counter("custodywatch_bad_messages", "Messages refused, by reason",
                                    ["reason"], registry=r)
        self.events_stored = Counter("custodywatch_events_stored", "Device events stored "
                                     "(replays included)", registry=r)
        self.samples_stored = Counter("custodywatch_samples_stored", "Telemetry samples "
                                      "stored (the recent time series)", registry=r)
        self.samples_pruned = Counter("custodywatch_samples_pruned", "Telemetry samples "
                                      "deleted after the retention", registry=r)
        self.rebirths = Counter("custodywatch_rebirth_requests", "Rebirth commands sent",
                                registry=r)
        self.alarm_changes = Counter("custodywatch_alarm_changes", "Alarm transitions",
                                     ["action"], registry=r)
        self.alarms_active = Gauge("custodywatch_alarms_active", "Active alarms", registry=r)
        self.queue_depth = Gauge("custodywatch_ingest_queue_depth", "Batches waiting for the "
                                 "coordinator", registry=r)
        self.ws_clients = Gauge("custodywatch_ws_clients", "Connected WebSocket clients",
                                registry=r)
        self.ws_dropped = Counter("custodywatch_ws_slow_clients_dropped", "WebSocket clients "
                                  "disconnected because they could not keep up", registry=r)
        self.mqtt_connected = Gauge("custodywatch_mqtt_connected", "1 while the MQTT link is "
                                    "up", registry=r)

    def count_bad_fields(self, counts: Mapping[str, int]) -> None:
        """Serve ``counts`` (the twin's ``bad_fields``: optional fields of accepted messages
        ignored as malformed, by field) as ``custodywatch_bad_fields_total{field}``."""
        self.registry.register(_BadFields(counts))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _BadFields(Collector):
    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "custodywatch_bad_fields", "Optional fields of accepted messages ignored as "
            "malformed (the message itself applied), by field", labels=["field"])
        for field, n in sorted(self.counts.items()):
            family.add_metric([field], n)
        yield family
