"""A person walking between readers (in no zone for a moment) does not clear and re-raise
the alarms about them: one violation, one alarm (server/rules/custody_presence.py).

Every step is also put through an AlarmBook, the way the server does, and the test counts
the "raised" and "cleared" changes the operator would see.
"""

from __future__ import annotations

from server.alarms.lifecycle import AlarmBook
from server.rules.types import AlarmKey, Evaluation
from tests.server.test_rules_support import Floor, t

EPS = 1e-6


class Watched(Floor):
    """A Floor whose every evaluation also goes through an alarm book."""

    def __init__(self) -> None:
        super().__init__()
        self.book = AlarmBook()
        self.log: list[tuple[str, AlarmKey, float]] = []

    def evaluate(self) -> Evaluation:
        ev = super().evaluate()
        for change in self.book.sync(ev.active, self.now):
            self.log.append((change.action, change.alarm.key, self.now))
        return ev

    def leave(self, zone: str, *pids: str) -> None:
        """Each person's tag seen leaving the zone (tag_exit): in no zone until the next."""
        for pid in pids:
            self.event(f"reader-{zone}", "tag_exit", tag=self.twin.people[pid].tag)

    def actions(self, key: AlarmKey) -> list[str]:
        """The alarm's raised and cleared changes (an "updated" one, the alarm following
        the person into the next room, is neither)."""
        return [action for action, k, _ in self.log
                if k == key and action in ("raised", "cleared")]


def test_unsearched_person_walking_between_readers_is_one_alarm() -> None:
    """S1, not searched, is escorted from the entrance through two corridors to an
    interrogation room, in no zone between readers: search_skipped is raised once (10 s
    after entering the first corridor, since unchanged), never cleared on the way, and
    cleared once when S1 is back in a body-check room."""
    floor = Watched().escorted("entrance")
    floor.at(5).move("corridor-a", "S1", "O1")
    floor.at(20).evaluate()
    key = ("search_skipped", "S1")
    assert floor.actions(key) == ["raised"]
    for at, (left, entered) in ((30, ("corridor-a", "corridor-b")),
                                (45, ("corridor-b", "interrogation-1"))):
        floor.at(at).leave(left, "S1", "O1")
        floor.at(at + 4).evaluate()  # 4 s between the readers
        assert key in floor.evaluate().active
        floor.move(entered, "S1", "O1")
        v = floor.at(at + 10).evaluate().active[key]
        assert (v.zone, v.since) == (entered, t(5))
    assert floor.actions(key) == ["raised"]
    floor.at(70).leave("interrogation-1", "S1", "O1")
    floor.at(75).move("body-check-1", "S1", "O1")
    assert key not in floor.evaluate().active
    assert floor.actions(key) == ["raised", "cleared"]


def test_searched_in_transit_clears_at_once() -> None:
    """The search recorded while the person is between readers clears the alarm then."""
    floor = Watched().escorted("corridor-a")
    floor.at(11).leave("corridor-a", "S1", "O1")
    assert ("search_skipped", "S1") in floor.evaluate().active
    floor.at(12).search("S1")
    assert floor.evaluate().active == {}
    assert floor.actions(("search_skipped", "S1")) == ["raised", "cleared"]


def test_unsearched_person_never_past_body_check_is_not_a_violation() -> None:
    """Between the entrance and the body check (in no zone for a moment) nothing holds:
    the last zone known is an allowed one."""
    floor = Watched().escorted("entrance")
    floor.at(5).leave("entrance", "S1", "O1")
    assert floor.at(30).evaluate().active == {}
    floor.move("body-check-1", "S1", "O1")
    assert floor.at(60).evaluate().active == {}
    assert floor.log == []


def test_unattended_person_walking_alone_between_rooms_is_one_alarm() -> None:
    """S1 (searched) left alone in holding-1 is unattended after 30 s; walking alone to
    holding-2 through a corridor, in no zone between readers, keeps that one alarm (same
    since); an officer arriving clears it once."""
    floor = Watched().alone("holding-1")
    floor.at(31).evaluate()
    key = ("unattended_person", "S1")
    assert floor.actions(key) == ["raised"]
    floor.at(40).leave("holding-1", "S1")
    floor.at(43).move("corridor-a", "S1")
    floor.at(50).leave("corridor-a", "S1")
    floor.at(53).move("holding-2", "S1")
    v = floor.at(60).evaluate().active[key]
    assert (v.zone, v.since) == ("holding-2", t(0))
    assert floor.actions(key) == ["raised"]
    floor.person("O1", role="officer")
    floor.at(61).move("holding-2", "O1")
    assert key not in floor.evaluate().active
    assert floor.actions(key) == ["raised", "cleared"]


def test_escort_walking_together_between_readers_raises_nothing() -> None:
    """S1 and an officer walk from holding-1 to interrogation-1, 40 s between readers, the
    officer's badge seen first on leaving and last on arriving: the moments S1 is alone
    are not a violation (only a violation is kept in transit, not a grace period)."""
    floor = Watched().escorted("holding-1", searched=True)
    floor.set("recorder-interrogation-1", recording=True)
    floor.at(10).leave("holding-1", "O1", "S1")  # the officer's badge first
    floor.at(50).move("interrogation-1", "S1", "O1")
    assert floor.at(100).evaluate().active == {}
    assert floor.log == []


def test_person_released_in_transit_is_not_unattended() -> None:
    """A person released while between readers is no longer in custody: the alarm clears."""
    floor = Watched().alone("holding-1")
    floor.at(31).evaluate()
    floor.at(32).leave("holding-1", "S1")
    assert ("unattended_person", "S1") in floor.evaluate().active
    floor.at(33).release("S1")
    assert floor.evaluate().active == {}
