"""Alarm management (ISA-18.2 / IEC 62682), the pure parts: the lifecycle state machine,
conditioning, shelving, maintenance suppression, the roster, escalation and KPIs.  No I/O;
time is an argument.  The shell around them is server/alerts/ (docs/alarms.md)."""
