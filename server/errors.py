"""The server package's exception tree."""


class ServerError(Exception):
    """Root of every error the server raises on purpose."""


class UnknownIdentity(ServerError):
    """A message from a node or device the site does not declare (or not born yet).

    ``reason`` labels the counter: ``unknown_node``, ``unknown_device``, ``wrong_node``.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class NotFound(ServerError):
    pass


class Conflict(ServerError):
    pass


class Invalid(ServerError):
    """A request that cannot be carried out as asked (HTTP 422): e.g. a command the
    device's profile does not have, or parameters outside its spec."""
