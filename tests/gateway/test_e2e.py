"""End to end through the real gateway: ``custodywatch server`` and ``custodywatch
simulate`` on a private Mosquitto, the centre's Modbus devices served by pymodbus and
polled by the gateway.  A panic button pressed on its Modbus device raises panic_button,
a forced door door_forced (and, shut again within the minute, no door_held_open), a
powered-off smoke detector device_offline (cleared when it is back); a door passed through
normally raises nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.support import server_process, simulate

pytestmark = pytest.mark.e2e

SCENARIO = """\
name: modbus-gateway
site: reference
speed: 60
people:
  G1: {role: guard, sex: male}
steps:
  - {at: 0s,   move: [G1], to: holding-1}
  - {at: 30s,  press: panic-holding-1}
  - {at: 30s,  door: door-interrogation-2, state: forced}
  - {at: 45s,  door: door-interrogation-2, state: closed}
  - {at: 60s,  move: [G1], to: corridor-a}
  - {at: 70s,  fault: smoke-corridor-b, kind: offline}
  - {at: 200s, fault: smoke-corridor-b, kind: restore}
expect:
  - {alarm: panic_button, zone: holding-1, subject: panic-holding-1, between: [30s, 50s],
     severity: critical}
  - {alarm: door_forced, zone: interrogation-2, subject: door-interrogation-2,
     between: [30s, 50s], severity: critical}
  - {no_alarm: door_forced, zone: holding-1}
  - {no_alarm: door_held_open}
  - {alarm: device_offline, subject: smoke-corridor-b, between: [70s, 160s]}
  - {cleared: device_offline, subject: smoke-corridor-b, by: 320s}
  - {no_alarm: node_offline}
"""


def test_panic_and_forced_door_through_the_gateway(mqtt_broker, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The scenario's expectations all hold and simulate exits 0."""
    monkeypatch.setenv("CUSTODYWATCH_SIM_VIDEO", "0")  # cameras are not what this is about
    scenario = tmp_path / "modbus-gateway.yaml"
    scenario.write_text(SCENARIO)
    with server_process(tmp_path, mqtt_broker.url, 60) as server:
        run = simulate(tmp_path, mqtt_broker.url, server, scenario, 60)
        assert run.report["passed"], run.explain(server)
        assert run.status == 0
        raised = {(a["rule"], a["subject"]) for a in run.report["alarms"]}
        assert ("panic_button", "panic-holding-1") in raised
        assert ("door_forced", "door-interrogation-2") in raised, json.dumps(
            run.report["alarms"], ensure_ascii=False)[:2000]
