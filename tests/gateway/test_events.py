"""Report by exception: events from transitions, change counters replaying what happened
between two polls, data for the rest."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from gateway.events import counter_delta, derive, expand_transitions
from protocol.profiles import load_profiles

PROFILES = load_profiles()
DOOR = PROFILES["door"].modbus
LOCKERS = PROFILES["lockers"].modbus
assert DOOR is not None and LOCKERS is not None


def test_a_door_opening_between_polls_is_replayed_from_its_counter() -> None:
    """Closed before and after, counter +2: door_opened then door_closed, in order."""
    closed = {"open": False, "locked": True, "forced": False}
    events, data = derive(DOOR, closed, closed, {"open": 2})
    assert [(e.kind, e.metrics) for e in events] == [("door_opened", {"open": True}),
                                                     ("door_closed", {"open": False})]
    assert data == {}


def test_forced_door_raises_both_events_and_the_rest_is_data() -> None:
    """open+forced rise: door_opened and door_forced carry their metric; locked (no
    event) goes as data."""
    before = {"open": False, "locked": True, "forced": False}
    after = {"open": True, "locked": False, "forced": True}
    events, data = derive(DOOR, before, after, {"open": 1})
    assert [e.kind for e in events] == ["door_opened", "door_forced"]
    assert data == {"locked": False}


def test_lockers_stored_and_emptied_carry_locker_and_person() -> None:
    """An entry added is locker_stored, one removed locker_emptied, data split from it."""
    events, data = derive(LOCKERS, {"occupied": ["1:S1"], "open": []},
                          {"occupied": ["2:S2"], "open": ["2"]})
    assert [(e.kind, e.data) for e in events] == [
        ("locker_stored", {"locker": 2, "person": "S2"}),
        ("locker_emptied", {"locker": 1, "person": "S1"})]
    assert all(e.metrics == {"occupied": ["2:S2"]} for e in events)
    assert data == {"open": ["2"]}


@given(st.booleans(), st.integers(0, 16))
def test_replayed_transitions_alternate_and_end_in_the_observed_state(before: bool,
                                                                      changes: int) -> None:
    """Counted changes consistent with the states replay as alternating values ending
    where the device now is; inconsistent counts fall back to the observed change."""
    after = before if changes % 2 == 0 else not before
    seq = expand_transitions(before, after, changes)
    assert len(seq) == changes
    values = [before, *seq]
    assert all(x != y for x, y in itertools.pairwise(values))
    assert values[-1] == after
    flipped = not after  # a count that disagrees with the observed states
    assert expand_transitions(before, flipped, changes) == ([flipped] if flipped != before
                                                            else [])


def test_counter_wraps_and_absurd_counts_are_not_replayed() -> None:
    """65535 -> 1 is 2 changes; a jump of thousands (device restart) is not replayed."""
    assert counter_delta(65535, 1) == 2
    assert expand_transitions(False, False, 4000) == []
    assert expand_transitions(False, True, None) == [True]
