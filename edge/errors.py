"""The edge package's exception tree."""


class EdgeError(Exception):
    """Root of every error the edge agent raises on purpose."""


class OutboxError(EdgeError):
    """The disk outbox cannot be opened or written (disk full, permissions)."""
