"""What one edge agent session needs to know: who it is, where the broker is, its timings.

Built from an edge config (:meth:`AgentOptions.from_setup`), by the gateway from its own
config, or in code by the simulated centre and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edge.config import EdgeSetup
from edge.intake import MAX_QUEUED

SOFTWARE = "custodywatch-edge/0.1"


@dataclass(frozen=True, slots=True)
class AgentOptions:
    site: str
    node: str
    broker: str = "mqtt://127.0.0.1:1883"
    state_dir: Path = Path("./var/edge")
    kind: Literal["edge", "gateway"] = "edge"
    heartbeat_s: float = 4.0  # the node's heartbeat in site seconds (scaled by speed)
    speed: float = 1.0
    keepalive_s: int = 10
    command_key: bytes | None = field(default=None, repr=False)
    backoff_min_s: float = 0.5  # reconnect back-off, doubling up to backoff_max_s
    backoff_max_s: float = 30.0
    max_queued: int = MAX_QUEUED  # driver updates waiting before data is coalesced
    # Data waits up to this long (site seconds: divided by speed) to be published together
    # with other data (edge/intake.py); events and availability changes never wait.
    linger_s: float = 0.05
    software: str = SOFTWARE

    @classmethod
    def from_setup(cls, setup: EdgeSetup) -> AgentOptions:
        cfg = setup.config
        node = next(n for n in setup.site.nodes if n.id == cfg.node)
        return cls(site=setup.site.id, node=node.id, broker=cfg.broker,
                   state_dir=setup.state_dir, kind=node.kind, heartbeat_s=node.heartbeat_s,
                   speed=cfg.speed, keepalive_s=cfg.keepalive_s, command_key=setup.command_key)


def next_bdseq(state_dir: Path) -> int:
    """This session's number (``bdseq``), persisted +1 in ``state_dir/bdseq`` so that a
    late Will of an earlier session is recognisable after a restart too."""
    path = state_dir / "bdseq"
    try:
        current = int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        current = 0
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(current + 1))
    tmp.replace(path)
    return current
