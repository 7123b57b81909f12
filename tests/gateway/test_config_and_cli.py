"""Gateway config files: validated at load with file:line:field errors, accepted by
``check-config``; ``custodywatch gateway --config FILE`` runs the reference centre's gw-1
against real pymodbus servers and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import yaml

from gateway.config import load_gateway_config
from protocol.config import ConfigError
from protocol.messages import DeviceEvent, NodeBirth, NodeDeath
from protocol.profiles import ProfileSet, load_profiles
from protocol.site import load_site
from server.checkconfig import check_config
from simulators.devices.models import PanicModel, make_model
from simulators.devices.server import FieldDevice
from tests.edge.conftest import watching

EXE = Path(sys.executable).parent / "custodywatch"
GW1 = [d for d in load_site("reference", load_profiles()).devices_of("gw-1")]


def config_text(ports: dict[str, int] | None = None, **changes: object) -> str:
    """A gw-1 config: every device on its own TCP bus (ports default to 1..n)."""
    ports = ports or {d.id: 1000 + i for i, d in enumerate(GW1)}
    data: dict[str, object] = {
        "site": "reference", "node": "gw-1", "broker": "mqtt://127.0.0.1:1883",
        "state_dir": "state", "buses": [{"id": d, "kind": "tcp", "host": "127.0.0.1",
                                         "port": p} for d, p in ports.items()],
        "devices": [{"id": d, "bus": d, "unit": 1} for d in ports],
        "health": {"lost_after": 2, "backoff_min_s": 0.1, "backoff_max_s": 0.5},
    }
    data.update(changes)
    return yaml.safe_dump(data, sort_keys=False)


def test_a_complete_config_loads_and_checks(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Every gw-1 device configured: the setup resolves refs and profiles, check-config
    says OK."""
    path = tmp_path / "gw-1.yaml"
    path.write_text(config_text())
    setup = load_gateway_config(path)
    specs = setup.devices()
    assert len(specs) == len(GW1) and all(s.profile.modbus for s in specs)
    assert setup.state_dir == tmp_path / "state"
    assert check_config([str(path)]) == 0
    assert f"OK {path}" in capsys.readouterr().out


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["devices"][0].update(bus="nowhere"), "devices.0.bus: no bus 'nowhere'"),
    (lambda d: d["devices"][1].update(bus=d["devices"][0]["bus"]),
     "is already " + GW1[0].id),
    (lambda d: d["devices"].pop(), "devices: the site puts ['" + GW1[-1].id),
    (lambda d: d["devices"][0].update(id="reader-entrance"),
     "devices.0.id: 'reader-entrance' is not a device of node gw-1"),
    (lambda d: d.update(node="edge-intake"), "node: 'edge-intake' is not a gateway node"),
    (lambda d: d["devices"][0].update(unit=0), "devices.0.unit: Input should be greater"),
    (lambda d: d["buses"][0].update(kind="rtu"),
     "buses.0.rtu.host: Extra inputs are not permitted"),
    (lambda d: d["devices"][0].update(poll_ms=1), "devices.0.poll_ms: Input should be"),
])
def test_bad_configs_name_file_line_and_field(tmp_path: Path, mutate, expected: str) -> None:  # type: ignore[no-untyped-def]
    """Unknown bus, two devices at one address, a site device left out, a device of
    another node, a node that is no gateway, unit 0, an RTU bus without a port, a poll
    period below 10 ms: each a ConfigError naming the file, a line and the field."""
    data = yaml.safe_load(config_text())
    mutate(data)
    path = tmp_path / "gw.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError) as caught:
        load_gateway_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:") and expected in message, message


async def test_custodywatch_gateway_serves_gw1(mqtt_broker, tmp_path: Path,
                                               profiles: ProfileSet) -> None:
    """The console script polls the 52 field devices of gw-1, births them all, reports a
    press as an event, and publishes its death on SIGTERM (exit 0)."""
    async with AsyncExitStack() as stack:
        fields = {d.id: await stack.enter_async_context(
            FieldDevice(make_model(profiles[d.profile]), device_id=d.id)) for d in GW1}
        config = tmp_path / "gw-1.yaml"
        config.write_text(config_text({d: f.port for d, f in fields.items()},
                                      broker=mqtt_broker.url))
        async with watching(mqtt_broker.port) as w:
            process = await asyncio.create_subprocess_exec(
                str(EXE), "gateway", "--config", str(config), env={
                    **os.environ, "CUSTODYWATCH_COMMAND_KEY": "test-key"},
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                birth = await w.wait_for(lambda s: isinstance(s.message, NodeBirth),
                                         within_s=20)
                assert isinstance(birth.message, NodeBirth)
                assert birth.message.kind == "gateway" and len(birth.message.devices) == 52
                panic = fields["panic-holding-3"].model
                assert isinstance(panic, PanicModel)
                panic.press()
                await w.wait_for(lambda s: isinstance(s.message, DeviceEvent)
                                 and s.topic.device == "panic-holding-3"
                                 and s.message.kind == "panic_pressed")
            finally:
                process.send_signal(signal.SIGTERM)
                _, stderr = await asyncio.wait_for(process.communicate(), 20)
            assert process.returncode == 0, stderr.decode()[-2000:]
            await w.wait_for(lambda s: isinstance(s.message, NodeDeath))
