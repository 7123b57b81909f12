"""The simulated centre on a real broker: every node born, people moving by readers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from protocol.messages import DeviceEvent, NodeBirth
from protocol.profiles import load_profiles
from protocol.site import DeviceRef, load_site
from simulators.centre import SimulatedCentre
from simulators.devices.cameras import CameraDevice
from simulators.devices.video import NetworkVideo
from simulators.people import Crowd
from tests.edge.conftest import Seen, watching


async def test_every_node_is_born_and_a_move_is_seen_by_readers(mqtt_broker,
                                                                tmp_path: Path) -> None:
    """All nodes publish births; moving a suspect from the entrance to holding-1 makes the
    entrance reader emit tag_exit, holding-1's reader tag_enter, and holding-1's door open
    and close."""
    profiles = load_profiles()
    site = load_site("reference", profiles)
    async with watching(mqtt_broker.port) as w:
        async with SimulatedCentre(site, profiles, mqtt_broker.url, 60, b"k", tmp_path) as c:
            await c.wait_connected()
            # Every simulated camera shows its room before anyone moves (the demo waits
            # for this before it says it is running).
            assert await c.wait_pictures(60) == []
            crowd = Crowd(c)
            crowd.add("S1", "suspect")
            crowd.move(["S1"], "entrance")
            crowd.move(["S1"], "holding-1")

            def event(kind: str, device: str) -> Callable[[Seen], bool]:
                return lambda s: (isinstance(s.message, DeviceEvent)
                                  and s.message.kind == kind and s.topic.device == device)
            await w.wait_for(event("tag_exit", "reader-entrance"))
            enter = await w.wait_for(event("tag_enter", "reader-holding-1"))
            await w.wait_for(event("door_opened", "door-holding-1"))
            await w.wait_for(event("door_closed", "door-holding-1"))
    assert isinstance(enter.message, DeviceEvent) and enter.message.data == {"tag": "wb-S1"}
    assert enter.message.metrics == {"tags": ["wb-S1"], "tag_count": 1}
    born = {s.topic.node for s in w.seen if isinstance(s.message, NodeBirth)}
    assert born == {n.id for n in site.nodes}
    assert crowd.zone_of("S1") == "holding-1"


async def test_wait_pictures_names_the_cameras_without_one() -> None:
    """A camera that answers but never sends a frame is still "starting" when the wait
    ends: wait_pictures names it (and only it) after the given time."""
    profile = load_profiles()["camera"]
    video = NetworkVideo(speed=1.0)
    refs = [DeviceRef(f"camera-{z}", "camera", z, "edge-x") for z in ("room-a", "room-b")]
    handles = [video.handle(ref, profile) for ref in refs]
    silent = handles[1]
    assert isinstance(silent, CameraDevice)
    await silent.server.inject("stale")
    async with video:
        assert await video.wait_pictures(20) == ["camera-room-b"]
