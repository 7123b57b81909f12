"""``custodywatch edge --config``: config errors, and the MQTT Will of a killed agent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import load_edge_config
from edge.main import run_edge
from protocol.config import ConfigError
from protocol.messages import NodeBirth, NodeDeath
from tests.edge.conftest import watching

EXE = Path(sys.executable).parent / "custodywatch"


def _write_config(tmp_path: Path, broker_url: str, node: str = "edge-common") -> Path:
    config = tmp_path / "edge.yaml"
    config.write_text(f"site: reference\nnode: {node}\nbroker: {broker_url}\n"
                      f"state_dir: {tmp_path / 'state'}\nspeed: 1\nkeepalive_s: 5\n")
    return config


def test_unknown_node_is_reported_with_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A node that is not in the site fails the load naming the file, line 2 and the field."""
    config = _write_config(tmp_path, "mqtt://127.0.0.1:1", node="edge-nowhere")
    try:
        load_edge_config(config)
    except ConfigError as err:
        assert err.lines[0].startswith(f"{config}:2: node: ")
        assert "edge-nowhere" in err.lines[0]
    else:
        raise AssertionError("no ConfigError")
    assert run_edge(config) == 1
    assert "edge-nowhere" in capsys.readouterr().err


def _agent_process(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(EXE), "edge", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "CUSTODYWATCH_COMMAND_KEY": "k"})


async def test_killed_agent_dies_by_its_will(mqtt_broker, tmp_path: Path) -> None:
    """kill -9 of an agent process makes the broker publish its Will: NodeDeath carrying the
    bdseq of the session's birth."""
    config = _write_config(tmp_path, mqtt_broker.url)
    async with watching(mqtt_broker.port) as w:
        process = _agent_process(config)
        try:
            birth = await w.wait_for(lambda s: isinstance(s.message, NodeBirth))
            process.send_signal(signal.SIGKILL)
            death = await w.wait_for(lambda s: isinstance(s.message, NodeDeath))
        finally:
            process.kill()
            await asyncio.to_thread(process.wait)
    assert isinstance(birth.message, NodeBirth) and isinstance(death.message, NodeDeath)
    assert death.topic.node == "edge-common"
    assert death.message.bdseq == birth.message.bdseq


async def test_sigterm_shuts_down_cleanly(mqtt_broker, tmp_path: Path) -> None:
    """SIGTERM: the agent publishes its own NodeDeath and exits with status 0."""
    config = _write_config(tmp_path, mqtt_broker.url)
    async with watching(mqtt_broker.port) as w:
        process = _agent_process(config)
        try:
            await w.wait_for(lambda s: isinstance(s.message, NodeBirth))
            process.send_signal(signal.SIGTERM)
            await w.wait_for(lambda s: isinstance(s.message, NodeDeath))
            assert await asyncio.to_thread(process.wait, 10) == 0
        finally:
            process.kill()
