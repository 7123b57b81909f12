"""Device health rules (node_offline, device_offline, device_stale) on a virtual clock."""

from __future__ import annotations

from server.twin import DEVICE_STALE_FACTOR
from tests.server.test_rules_support import SITE, Floor, t

EPS = 1e-6
ALL_NODES = {n.id for n in SITE.nodes}


def test_node_never_seen_only_after_startup_grace() -> None:
    """Nodes never seen since the engine's first evaluation: nothing at 60 s - ε, every
    silent node at 60 s + ε; a node born meanwhile raises nothing."""
    floor = Floor()
    assert floor.evaluate().next_due == t(60)
    floor.at(30).birth_node("edge-intake")
    assert floor.at(60 - EPS).keys("node_offline") == set()
    ev = floor.at(60 + EPS).evaluate()
    assert {k[1] for k in ev.active if k[0] == "node_offline"} == ALL_NODES - {"edge-intake"}
    v = ev.active[("node_offline", "gw-1")]
    assert (v.zone, v.severity, v.details["reason"]) == (None, "major", "never_seen")


def test_startup_grace_has_a_real_time_floor_at_high_speed() -> None:
    """At speed 60 the 60 s start-up grace would be 1 s real, too short for processes to
    connect; it is floored at 10 s real.  Ordinary graces are not floored."""
    floor = Floor(speed=60)
    assert floor.evaluate().next_due == t(10)
    assert floor.at(10 - EPS).keys("node_offline") == set()
    assert len(floor.at(10 + EPS).keys("node_offline")) == len(ALL_NODES)


def test_node_death_is_immediate_and_covers_its_devices() -> None:
    """A node's death raises node_offline at once; its devices (now offline) raise no
    device alarms; the rebirth clears everything."""
    floor = Floor()
    floor.birth_everything()
    floor.at(100).kill_node("edge-interview")
    ev = floor.evaluate()
    assert set(ev.active) == {("node_offline", "edge-interview")}
    assert ev.active[("node_offline", "edge-interview")].message_en == \
        "node edge-interview offline"
    floor.at(200).birth_node("edge-interview")
    assert floor.keys() == set()


def test_devices_get_the_birth_grace_after_a_node_rebirth() -> None:
    """After a death and rebirth, a device left offline by the death is not 'lost': it gets
    the birth grace to re-announce itself, then raises device_offline (reason not_born)."""
    floor = Floor()
    floor.birth_everything()
    floor.at(100).kill_node("edge-common")
    floor.at(110).birth_node("edge-common", devices=False)
    floor.birth_device("reader-corridor-a")
    assert floor.keys() == set()
    assert floor.at(170 - EPS).keys() == set()
    keys = floor.at(170 + EPS).keys()
    expected = {d.id for d in SITE.devices_of("edge-common")} - {"reader-corridor-a"}
    assert keys == {("device_offline", d) for d in expected}


def test_device_lost_raises_device_offline_at_once_and_recovers() -> None:
    """A DeviceLost from a live node: device_offline now, zone set, reason in the message;
    the device's next report clears it."""
    floor = Floor()
    floor.birth_everything()
    floor.at(50).lose("camera-holding-3", reason="rtsp timeout")
    v = floor.evaluate().active[("device_offline", "camera-holding-3")]
    assert (v.zone, v.severity) == ("holding-3", "major")
    assert v.message_zh == "候问室3: 设备 camera-holding-3 失联 (rtsp timeout)"
    floor.at(60).set("camera-holding-3", fps=25)
    assert floor.keys() == set()


def test_device_never_born_while_node_online() -> None:
    """A device its node never reported: device_offline after the birth grace."""
    floor = Floor()
    for node in ALL_NODES:
        floor.birth_node(node, devices=node != "gw-1")
    assert floor.at(60 - EPS).keys() == set()
    keys = floor.at(60 + EPS).keys()
    assert keys == {("device_offline", d.id) for d in SITE.devices_of("gw-1")}


def test_device_stale_is_minor_and_only_on_live_nodes() -> None:
    """A device silent past its heartbeat is marked stale by the twin's sweep:
    device_stale (minor); when its node dies the node alarm replaces it."""
    floor = Floor()
    floor.birth_everything()
    # Keep every other device and node talking; let one camera fall silent.
    silent = "camera-duty-desk"
    hb = floor.twin.devices[silent].heartbeat_s
    floor.at(DEVICE_STALE_FACTOR * hb + 1)
    for d in SITE.devices():
        if d.id != silent:
            floor.twin.devices[d.id].last_seen = floor.now
    for n in floor.twin.nodes.values():
        n.last_seen = floor.now
    floor.sweep()
    ev = floor.evaluate()
    assert set(ev.active) == {("device_stale", silent)}
    assert ev.active[("device_stale", silent)].severity == "minor"
    floor.kill_node("edge-common")
    assert floor.keys() == {("node_offline", "edge-common")}
