"""The twin under replays: an edge's outbox replays after a reconnect must not roll the live
state back or apply an event twice."""

from __future__ import annotations

from protocol.messages import DeviceData, DeviceEvent
from protocol.topics import DeviceMessage, device_topic, parse_topic
from tests.server.test_rules_support import Floor


def _apply(floor: Floor, device: str, kind: DeviceMessage, msg: object) -> None:
    node = next(d.node for d in floor.site.devices() if d.id == device)
    floor.twin.apply(parse_topic(device_topic(floor.site.id, node, device, kind)), msg,
                     floor.now)


def test_replayed_data_older_than_live_state_is_not_applied() -> None:
    """A recorder said recording=true live; a buffered recording=false from before arrives
    flagged hist: the live value stays."""
    floor = Floor()
    floor.birth_everything()
    floor.at(10).set("recorder-interrogation-1", recording=True)
    old = DeviceData(ts=int(floor.now * 1000) - 5000, seq=floor._next_seq("edge-interview"),
                     metrics={"recording": False}, hist=True)
    _apply(floor, "recorder-interrogation-1", DeviceMessage.DATA, old)
    assert floor.twin.devices["recorder-interrogation-1"].metrics["recording"] is True


def test_replayed_data_newer_than_live_state_is_applied() -> None:
    """Buffered data newer than anything the server knows is the freshest truth: applied."""
    floor = Floor()
    floor.birth_everything()
    newer = DeviceData(ts=int(floor.now * 1000) + 1000, seq=floor._next_seq("edge-interview"),
                       metrics={"recording": True}, hist=True)
    _apply(floor, "recorder-interrogation-1", DeviceMessage.DATA, newer)
    assert floor.twin.devices["recorder-interrogation-1"].metrics["recording"] is True


def test_an_event_applied_twice_moves_nobody_back() -> None:
    """S1 enters interrogation-1, then corridor-a; the first tag_enter is re-sent (no ack
    yet): S1 stays in corridor-a."""
    floor = Floor()
    floor.birth_everything()
    floor.intake("S1")
    first = DeviceEvent(ts=int(floor.now * 1000), seq=floor._next_seq("edge-interview"),
                        id="replayed-event-0001", kind="tag_enter", data={"tag": "wb-S1"})
    _apply(floor, "reader-interrogation-1", DeviceMessage.EVENT, first)
    assert floor.twin.people["S1"].zone == "interrogation-1"
    floor.at(5).move("corridor-a", "S1")
    assert floor.twin.people["S1"].zone == "corridor-a"
    again = DeviceEvent(ts=first.ts, seq=floor._next_seq("edge-interview"), id=first.id,
                        kind="tag_enter", data={"tag": "wb-S1"}, hist=True)
    _apply(floor, "reader-interrogation-1", DeviceMessage.EVENT, again)
    assert floor.twin.people["S1"].zone == "corridor-a"


def test_replayed_sighting_older_than_the_current_zone_is_ignored() -> None:
    """A buffered tag_enter from before the person's latest move (new id, hist) is history,
    not a move."""
    floor = Floor()
    floor.birth_everything()
    floor.intake("S1")
    floor.at(10).move("holding-1", "S1")
    stale = DeviceEvent(ts=int((floor.now - 8) * 1000), seq=floor._next_seq("edge-intake"),
                        id="buffered-event-01", kind="tag_enter", data={"tag": "wb-S1"},
                        hist=True)
    _apply(floor, "reader-entrance", DeviceMessage.EVENT, stale)
    assert floor.twin.people["S1"].zone == "holding-1"


def test_a_person_in_transit_is_reported_with_the_zone_last_seen() -> None:
    """Between two readers (in no zone) a person's changes carry the zone they were last
    seen in (Twin.whereabouts), and so does their arrival in the next zone: the rules that
    keep a condition there while they walk (RuleSpec.hold_in_transit) look again."""
    floor = Floor()
    floor.birth_everything()
    floor.intake("S1")
    twin = floor.twin
    person = twin.people["S1"]
    assert twin.whereabouts(person) == set()  # never seen
    assert twin._move(person, "holding-1", floor.now).zones == {"holding-1"}
    left = twin._move(person, None, floor.now + 1)
    assert (left.zones, left.people, person.zone) == ({"holding-1"}, {"S1"}, None)
    assert twin.mark_searched("S1", floor.now + 2).zones == {"holding-1"}
    arrived = twin._move(person, "corridor-a", floor.now + 3)
    assert arrived.zones == {"holding-1", "corridor-a"}
    twin._move(person, None, floor.now + 4)
    assert twin.release("S1", floor.now + 5).zones == {"corridor-a"}


def test_the_twin_modules_are_one_import() -> None:
    """server.twin re-exports the state records kept in twin_state.py: the rest of the
    server imports them from server.twin."""
    import server.twin as twin
    import server.twin_state as state
    from server.twin_messages import MessageOps
    from server.twin_people import PeopleOps

    for name in ("Changes", "PersonState", "DeviceState", "NodeState", "ZoneState",
                 "STAFF_ROLES", "DEVICE_STALE_FACTOR"):
        assert getattr(twin, name) is getattr(state, name)
    assert issubclass(twin.Twin, MessageOps) and issubclass(twin.Twin, PeopleOps)
