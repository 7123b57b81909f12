"""The simulators package's exception tree."""


class SimulatorError(Exception):
    """Root of every error the simulators raise on purpose; ``str()`` is for the user."""


class ApiError(SimulatorError):
    """The server refused or failed an API call the player needed."""

    def __init__(self, method: str, path: str, status: int | None, detail: str) -> None:
        where = f"{method} {path}"
        super().__init__(f"{where}: {status} {detail}" if status else f"{where}: {detail}")
        self.status = status
