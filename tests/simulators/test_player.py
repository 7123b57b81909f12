"""The player against a fake server at the HTTP transport seam (the real one is in
test_play_e2e.py): registration order, terminal search, speed check, judging."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from simulators.api_client import ApiClient
from simulators.centre import SimulatedCentre
from simulators.errors import SimulatorError
from simulators.player import Player
from simulators.scenario import load_scenario
from tests.simulators.test_scenario import SHARED


def _fake_server(speed: float, calls: list[tuple[str, str]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.path))
        if request.url.path == "/api/auth/login":
            return httpx.Response(200, json={"access_token": "t", "token_type": "bearer"})
        if request.url.path == "/api/site":
            return httpx.Response(200, json={"speed": speed})
        if request.url.path == "/api/alarms":
            return httpx.Response(200, json=[])
        return httpx.Response(201, json={})
    return httpx.MockTransport(handle)


async def test_player_registers_then_plays_and_judges(mqtt_broker, tmp_path: Path) -> None:
    """Staff are registered before the suspect's intake; the body check goes through the
    terminal (no API call); with no alarm on the server the alarm expectations fail and the
    no_alarm ones hold."""
    plan = load_scenario(SHARED / "unattended-person.yaml")
    calls: list[tuple[str, str]] = []
    async with ApiClient("http://fake", transport=_fake_server(600, calls)) as api:
        await api.login()
        async with SimulatedCentre(plan.site, plan.profiles, mqtt_broker.url, 600, b"k",
                                   tmp_path) as centre:
            outcome = await Player(plan, centre, api, 600).play()
    assert calls[1:] == [("GET", "/api/site"), ("POST", "/api/people"),
                         ("POST", "/api/people"), ("POST", "/api/custody"),
                         ("GET", "/api/alarms")]
    assert [v.passed for v in outcome.verdicts] == [False, False, True, True]
    assert not outcome.passed and outcome.as_json()["alarms"] == []


async def test_speed_mismatch_is_refused_before_playing(tmp_path: Path) -> None:
    """A server running at another speed stops the run with a message saying both speeds."""
    plan = load_scenario(SHARED / "unattended-person.yaml")
    calls: list[tuple[str, str]] = []
    async with ApiClient("http://fake", transport=_fake_server(1, calls)) as api:
        centre = SimulatedCentre(plan.site, plan.profiles, "mqtt://127.0.0.1:1", 60, None,
                                 tmp_path)
        with pytest.raises(SimulatorError, match="speed 1 but this run needs 60"):
            await Player(plan, centre, api, 60).check_speed()


async def test_custody_verbs_call_the_api(mqtt_broker, tmp_path: Path) -> None:
    """outing, outing_end, transfer and tag_check are the duty desk's API calls, in the
    scenario's order; a node stopped and started again comes back as a new agent."""
    scenario = tmp_path / "verbs.yaml"
    scenario.write_text(
        "name: verbs\nspeed: 600\npeople:\n"
        "  S1: {role: suspect, sex: male, age: 30, case: C-1, custody: criminal_summons}\n"
        "steps:\n"
        "  - {at: 0s, intake: S1}\n"
        "  - {at: 1s, outing: S1, minutes: 30, reason: hospital}\n"
        "  - {at: 2s, outing_end: S1}\n"
        "  - {at: 3s, tag_check: S1}\n"
        "  - {at: 4s, stop_node: edge-common}\n"
        "  - {at: 5s, start_node: edge-common}\n"
        "  - {at: 6s, transfer: S1}\n")
    plan = load_scenario(scenario)
    calls: list[tuple[str, str]] = []
    async with ApiClient("http://fake", transport=_fake_server(600, calls)) as api:
        await api.login()
        async with SimulatedCentre(plan.site, plan.profiles, mqtt_broker.url, 600, b"k",
                                   tmp_path) as centre:
            before = centre.agents["edge-common"]
            outcome = await Player(plan, centre, api, 600).play()
            assert centre.agents["edge-common"] is not before
    assert outcome.errors == []
    assert [path for method, path in calls if method == "POST"][1:] == [
        "/api/custody", "/api/custody/S1/outing", "/api/custody/S1/outing/end",
        "/api/people/S1/tag-check", "/api/custody/S1/transfer"]
