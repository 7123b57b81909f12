"""Signed commands: admission (signature, expiry, replay; DESIGN.md: "a door or locker is
never opened by a replayed or forged command") and execution.

:class:`CommandGate` is pure (no I/O): it decides whether a decoded :class:`Command` may
run.  :func:`execute` runs an admitted command (a node ``rebirth`` or a driver's command)
and turns every outcome into the (status, detail) the agent answers in a CommandResult.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from edge.drivers.base import CommandReply, Driver
from protocol.codec import now_ms, verify_command
from protocol.errors import ProtocolError
from protocol.messages import Command, CommandStatus

log = logging.getLogger(__name__)

RECENT_IDS = 4096
"""Ids remembered against replay.  A command expires within minutes, so a replay older than
the window is refused as expired anyway; this only needs to cover the command rate times the
longest expiry."""


@dataclass(frozen=True, slots=True)
class Refusal:
    status: CommandStatus
    detail: str


class CommandGate:
    def __init__(self, key: bytes | None, recent: int = RECENT_IDS) -> None:
        self._key = key
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._max = recent

    def admit(self, command: Command, now: int | None = None) -> Refusal | None:
        """None if the command may run (and remember its id), else why not."""
        if self._key is None:
            log.warning("command %s refused: this node has no command key", command.id)
            return Refusal("refused", "no command key configured")
        try:
            verify_command(command, self._key, now if now is not None else now_ms())
        except ProtocolError as err:
            log.warning("command %s (%s) refused: %s", command.id, command.name, err.detail)
            status: CommandStatus = "expired" if err.reason == "expired" else "refused"
            return Refusal(status, err.reason)
        if command.id in self._recent:
            log.warning("command %s (%s) refused: replayed id", command.id, command.name)
            return Refusal("refused", "replay")
        self._recent[command.id] = None
        while len(self._recent) > self._max:
            self._recent.popitem(last=False)
        return None


async def execute(gate: CommandGate, drivers: Mapping[str, Driver], command: Command,
                  rebirth: Callable[[], Awaitable[None]]) -> CommandReply:
    """Admit one command and run it: ``rebirth`` on the node, anything else on its device.
    Always returns a (status, detail) for the CommandResult; a driver bug is ``failed``."""
    refusal = gate.admit(command)
    if refusal is not None:
        return refusal.status, refusal.detail
    if command.name == "rebirth":
        await rebirth()
        return "done", ""
    if command.device is None or command.device not in drivers:
        return "refused", f"no device {command.device!r} on this node"
    try:
        return await drivers[command.device].command(command.name, command.params)
    except Exception as err:  # a driver bug must not take the node down
        log.exception("command %s (%s) on %s failed", command.id, command.name,
                      command.device)
        return "failed", str(err)[:500]
