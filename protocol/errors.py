"""The one exception type of the wire contract.

Every reason a message is refused (bad topic, too large, not JSON, wrong schema) raises
:class:`ProtocolError` with a short machine-readable ``reason`` used as a metrics label.
"""


class ProtocolError(ValueError):
    """A topic or payload that does not follow the contract.

    ``reason`` is one of: ``topic``, ``too_large``, ``json``, ``schema``, ``signature``,
    ``expired``.  It is stable and used to label counters.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
