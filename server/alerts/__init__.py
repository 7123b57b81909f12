"""Alarm management around the alarm book: the alarm desk (conditioning, shelving,
maintenance, escalation) and delivery of alerts to guards (WebSocket pages, MQTT
terminals).  See docs/alarms.md."""
