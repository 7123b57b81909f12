"""Alarm lifecycle (ISA-18.2 / IEC 62682): pure state machine, no I/O."""
