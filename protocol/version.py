"""Protocol version: the `v1` in every topic and the `v` field of every payload."""

PROTOCOL_VERSION = 1
TOPIC_ROOT = "cw/v1"
