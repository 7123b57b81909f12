"""Incremental evaluation finds exactly what a full evaluation finds (server/rules/engine.py).

Three twins of the reference centre live the same random story: people taken into custody,
escorted, searched, released; officers and guardians coming and going; readings, door and
panic signals, recorders, cameras, lockers, wristband alerts; devices lost and born, nodes
dying and coming back; replayed events; the server's sweep; and the clock jumping by
seconds or hours.  One engine evaluates with the story's merged ``Changes`` since its last
evaluation, one fully (``changes=None``), and a third is the engine as it was before
incremental evaluation: a plain loop of every rule over everything (``Reference`` below).
After every evaluation all three agree on every violation and on ``next_due``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from protocol.messages import (
    DeviceBirth,
    DeviceData,
    DeviceDescriptor,
    DeviceEvent,
    DeviceLost,
    Message,
    NodeBirth,
    NodeDeath,
    NodeHeartbeat,
)
from protocol.topics import DeviceMessage, NodeMessage, Topic, device_topic, node_topic, parse_topic
from server.rules.context import RuleContext
from server.rules.engine import RuleEngine
from server.rules.types import AlarmKey, Evaluation, Violation
from server.twin import Changes, PersonState, Twin
from tests.server.test_rules_support import PROFILES, SITE, T0

DEVICES = {d.id: d for d in SITE.devices()}
BY_PROFILE: dict[str, list[str]] = {}
for _d in SITE.devices():
    BY_PROFILE.setdefault(_d.profile, []).append(_d.id)
ZONES = [z.id for z in SITE.zones]
# Stories mostly happen in a few rooms, so people meet there and rules have work.
HOT = ["interrogation-1", "holding-1", "body-check-1", "juvenile-1", "exit", "entrance"]
WHERE = st.sampled_from(HOT * 4 + ZONES)
NODES = [n.id for n in SITE.nodes]
SUSPECTS = ["S1", "S2", "S3", "S4", "S5"]
STAFF = {"O1": "officer", "O2": "officer", "O3": "guard", "G1": "guardian", "L1": "lawyer"}
PEOPLE = SUSPECTS + list(STAFF)
BASES = ["criminal_summons", "administrative_questioning", "continued_questioning", None]
WAITS = [0.0, 0.5, 5.0, 9.5, 10.5, 29.0, 31.0, 59.0, 61.0, 299.0, 301.0, 601.0, 1799.0,
         1801.0, 3600.0, 4 * 3600.0, 7 * 3600.0, 12 * 3600.0]


class Reference:
    """The engine before incremental evaluation, kept as the oracle: every rule over the
    whole twin on every call (every RuleContext iterator yields everything in "site" scope).

    One difference by construction: a time-driven rule's wake-up that is already due is
    ignored alone here, where the old engine dropped every wake-up of that call with it.
    Added since: RuleSpec.hold_in_transit (a violation about a person in custody in no
    zone, last seen where it held, is kept as it was)."""

    def __init__(self, speed: float) -> None:
        self.engine = RuleEngine(SITE, speed)  # parameters, site index, grace_real
        self.since: dict[AlarmKey, float] = {}
        self.active: dict[AlarmKey, Violation] = {}
        self.memo: dict[Any, Any] = {}
        self.started_at: float | None = None

    def evaluate(self, twin: Twin, now: float) -> Evaluation:
        e = self.engine
        if self.started_at is None:
            self.started_at = now
        ctx = RuleContext(twin, e.index, self.started_at, speed=e.speed, params=e.params,
                          memo=self.memo, now=now)
        holding: dict[AlarmKey, float] = {}
        active: dict[AlarmKey, Violation] = {}
        next_due: float | None = None
        for spec in e.rules:
            params = e.params[spec.id]
            if not params.any_enabled:
                continue
            for cond in spec.conditions(ctx, params, now):
                key = (spec.id, cond.subject)
                if key in holding:
                    continue
                zone_params = params.for_kind(ctx.kind(cond.zone))
                if not zone_params.enabled:
                    continue
                since = cond.since if cond.since is not None else self.since.get(key, now)
                holding[key] = since
                due = since + e.grace_real(cond, zone_params)
                if now >= due:
                    details = dict(cond.details)
                    device = twin.devices.get(cond.subject)
                    if device is not None and device.maintenance:
                        details["maintenance"] = True
                    active[key] = Violation(
                        rule=spec.id, subject=cond.subject, zone=cond.zone,
                        severity=zone_params.severity or spec.severity,
                        message_zh=cond.message_zh, message_en=cond.message_en,
                        since=since, details=details)
                elif next_due is None or due < next_due:
                    next_due = due
            if spec.hold_in_transit:  # a violation about a person walking between readers
                for key, was in self.active.items():
                    person = twin.people.get(was.subject)
                    if key[0] == spec.id and key not in holding and person is not None \
                            and person.in_custody and person.zone is None \
                            and person.timeline and person.timeline[-1][0] == was.zone:
                        holding[key], active[key] = self.since[key], was
        self.since, self.active = holding, active
        for wake in ctx.wakes.values():
            if next_due is None or wake < next_due:
                next_due = wake
        return Evaluation(active=active, next_due=next_due)


class Story(RuleBasedStateMachine):
    """The story; every step may end with an evaluation of all three engines."""

    @initialize(speed=st.sampled_from([1.0, 1.0, 30.0]),
                born=st.lists(st.sampled_from(NODES), unique=True, min_size=3),
                cast=st.sampled_from([(), PEOPLE, PEOPLE]), data=st.data())
    def start(self, speed: float, born: list[str], cast: list[str],
              data: st.DataObject) -> None:
        self.now = T0
        self.twins = [Twin(SITE, PROFILES, speed) for _ in range(3)]
        self.incremental = RuleEngine(SITE, speed)
        self.full = RuleEngine(SITE, speed)
        self.reference = Reference(speed)
        self.pending = Changes()
        self.seq: dict[str, int] = {}
        self.bdseq: dict[str, int] = {}
        self.ids = itertools.count(1)
        self.last_event: tuple[Topic, Message] | None = None
        self.check()
        for node in born:
            self._birth(node, devices=True)
        self.check()
        for pid in cast:  # most stories start with everyone known, so rules have work
            if pid in STAFF:
                self.staff(pid, data.draw(st.sampled_from(["male", "female"])), False)
            else:
                self.intake(pid, data.draw(st.sampled_from(["male", "female"])),
                            data.draw(st.sampled_from([15, 30])),
                            data.draw(st.sampled_from(["C1", "C2"])),
                            data.draw(st.sampled_from(BASES)), False)

    # ------------------------------------------------------------------ plumbing

    def check(self) -> None:
        """Evaluate all three and compare."""
        a = self.incremental.evaluate(self.twins[0], self.now, self.pending)
        self.pending = Changes()
        b = self.full.evaluate(self.twins[1], self.now)
        c = self.reference.evaluate(self.twins[2], self.now)
        assert a.active == b.active, _diff(a, b)
        assert b.active == c.active, _diff(b, c)
        assert a.next_due == b.next_due == c.next_due, (a.next_due, b.next_due, c.next_due)
        assert self.incremental.pending == self.full.pending

    def _step(self, evaluate: bool) -> None:
        if evaluate:
            self.check()

    def _apply(self, topic: Topic, msg: Message) -> None:
        for i, twin in enumerate(self.twins):
            changes = twin.apply(topic, msg, self.now)
            if i == 0:
                self.pending.merge(changes)

    def _call(self, act: Callable[[Twin], Changes]) -> None:
        for i, twin in enumerate(self.twins):
            changes = act(twin)
            if i == 0:
                self.pending.merge(changes)

    def _ts(self) -> int:
        return int(self.now * 1000)

    def _next_seq(self, node: str) -> int:
        self.seq[node] = self.seq.get(node, -1) + 1
        return self.seq[node]

    def _birth(self, node: str, devices: bool) -> None:
        self.bdseq[node] = self.bdseq.get(node, -1) + 1
        self.seq[node] = 0
        refs = SITE.devices_of(node)
        msg = NodeBirth(ts=self._ts(), seq=0, bdseq=self.bdseq[node],
                        kind="gateway" if node.startswith("gw") else "edge",
                        devices=[DeviceDescriptor(d.id, d.profile, d.zone) for d in refs],
                        heartbeat_s=10.0)
        self._apply(parse_topic(node_topic(SITE.id, node, NodeMessage.BIRTH)), msg)
        if devices:
            for d in refs:
                metrics = {"recording": True} if d.profile == "recorder" else {}
                self._device(d.id, DeviceMessage.BIRTH, profile=d.profile, zone=d.zone,
                             metrics=metrics)

    def _device(self, device: str, message: DeviceMessage, /, **fields: Any) -> None:
        node = DEVICES[device].node
        ts, seq = self._ts(), self._next_seq(node)
        msg: Message
        if message is DeviceMessage.BIRTH:
            msg = DeviceBirth(ts=ts, seq=seq, **fields)
        elif message is DeviceMessage.DATA:
            msg = DeviceData(ts=ts, seq=seq, **fields)
        elif message is DeviceMessage.LOST:
            msg = DeviceLost(ts=ts, seq=seq, **fields)
        else:
            msg = DeviceEvent(ts=ts, seq=seq, id=f"ev-{next(self.ids):08d}", **fields)
        topic = parse_topic(device_topic(SITE.id, node, device, message))
        if isinstance(msg, DeviceEvent):
            self.last_event = (topic, msg)
        self._apply(topic, msg)

    def _person(self, pid: str) -> PersonState | None:
        return self.twins[0].people.get(pid)

    # ------------------------------------------------------------------ people

    @rule(pid=st.sampled_from(SUSPECTS), sex=st.sampled_from(["male", "female", None]),
          age=st.sampled_from([15, 17, 18, 30, None]), case=st.sampled_from(["C1", "C2", None]),
          basis=st.sampled_from(BASES), evaluate=st.booleans())
    def intake(self, pid: str, sex: Any, age: int | None, case: str | None,
               basis: str | None, evaluate: bool) -> None:
        old = self._person(pid)
        if old is not None and old.in_custody:
            return  # the custody desk refuses it
        self._call(lambda twin: twin.register(PersonState(
            id=pid, role="suspect", sex=sex, age=age, case=case, custody_basis=basis,
            custody_start=self.now, in_custody=True, tag=f"wb-{pid}"), self.now))
        self._step(evaluate)

    @rule(pid=st.sampled_from(list(STAFF)), sex=st.sampled_from(["male", "female", None]),
          evaluate=st.booleans())
    def staff(self, pid: str, sex: Any, evaluate: bool) -> None:
        self._call(lambda twin: twin.register(PersonState(
            id=pid, role=STAFF[pid], sex=sex, tag=f"badge-{pid}"), self.now))  # type: ignore[arg-type]
        self._step(evaluate)

    @rule(pids=st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=3, unique=True),
          zone=WHERE, evaluate=st.booleans())
    def move(self, pids: list[str], zone: str, evaluate: bool) -> None:
        prefix = {p: ("wb-" if p in SUSPECTS else "badge-") for p in pids}
        for pid in pids:  # strangers' tags too: the twin remembers where it saw them
            self._device(f"reader-{zone}", DeviceMessage.EVENT, kind="tag_enter",
                         data={"tag": prefix[pid] + pid})
        self._step(evaluate)

    @rule(pids=st.lists(st.sampled_from(PEOPLE), min_size=2, max_size=4, unique=True),
          zone=st.sampled_from(HOT), seconds=st.sampled_from([31.0, 61.0, 301.0]))
    def scene(self, pids: list[str], zone: str, seconds: float) -> None:
        """A group meets in a room and stays past the usual grace periods."""
        self.move(pids, zone, True)
        self.wait(seconds, False)

    @rule(pid=st.sampled_from(PEOPLE), evaluate=st.booleans())
    def leave(self, pid: str, evaluate: bool) -> None:
        person = self._person(pid)
        if person is None or person.zone is None or person.tag is None:
            return
        self._device(f"reader-{person.zone}", DeviceMessage.EVENT, kind="tag_exit",
                     data={"tag": person.tag})
        self._step(evaluate)

    @rule(pids=st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=3, unique=True),
          zone=WHERE, seconds=st.sampled_from([0.5, 4.0, 40.0]), evaluate=st.booleans())
    def walk(self, pids: list[str], zone: str, seconds: float, evaluate: bool) -> None:
        """People leave their rooms, are in no zone (between two readers) for ``seconds``,
        then seen in ``zone``: what is kept about them in transit (RuleSpec
        .hold_in_transit), and what the next room decides."""
        for pid in pids:
            self.leave(pid, evaluate)
        self.wait(seconds, False)
        self.move(pids, zone, evaluate)

    @rule(pid=st.sampled_from(SUSPECTS), zone=st.sampled_from(HOT), to=WHERE,
          evaluate=st.booleans())
    def alone(self, pid: str, zone: str, to: str, evaluate: bool) -> None:
        """A person in custody left alone long enough to be unattended, who then walks."""
        self.move([pid], zone, evaluate)
        self.wait(31.0, False)
        self.walk([pid], to, 4.0, evaluate)

    @rule(pid=st.sampled_from(SUSPECTS), evaluate=st.booleans())
    def release(self, pid: str, evaluate: bool) -> None:
        person = self._person(pid)
        if person is None or not person.in_custody:
            return
        self._call(lambda twin: twin.release(pid, self.now))
        self._step(evaluate)

    @rule(pid=st.sampled_from(SUSPECTS), by_event=st.booleans(), evaluate=st.booleans())
    def search(self, pid: str, by_event: bool, evaluate: bool) -> None:
        if self._person(pid) is None:
            return
        if by_event:
            self._device("search-body-check-1", DeviceMessage.EVENT, kind="search_completed",
                         data={"person": f"wb-{pid}"})
        else:
            self._call(lambda twin: twin.mark_searched(pid, self.now))
        self._step(evaluate)

    @rule(pid=st.sampled_from(SUSPECTS), minutes=st.sampled_from([None, 1, 30, 240]),
          evaluate=st.booleans())
    def outing(self, pid: str, minutes: int | None, evaluate: bool) -> None:
        if self._person(pid) is None:
            return
        until = None if minutes is None else self.now + minutes * 60
        self._call(lambda twin: twin.approve_outing(pid, until, self.now))
        self._step(evaluate)

    @rule(pid=st.sampled_from(PEOPLE), kind=st.sampled_from(["tag_tamper", "tag_battery_low"]),
          zone=st.sampled_from(ZONES), evaluate=st.booleans())
    def tag_alert(self, pid: str, kind: str, zone: str, evaluate: bool) -> None:
        tag = ("wb-" if pid in SUSPECTS else "badge-") + pid
        self._device(f"reader-{zone}", DeviceMessage.EVENT, kind=kind,
                     data={"tag": tag, "level": 12})
        self._step(evaluate)

    @rule(pid=st.sampled_from(PEOPLE), evaluate=st.booleans())
    def clear_alerts(self, pid: str, evaluate: bool) -> None:
        if self._person(pid) is None:
            return
        self._call(lambda twin: twin.clear_tag_alerts(pid, self.now))
        self._step(evaluate)

    # ------------------------------------------------------------------ devices, nodes

    @rule(data=st.data(), evaluate=st.booleans())
    def reading(self, data: st.DataObject, evaluate: bool) -> None:
        profile = data.draw(st.sampled_from(["env", "door", "panic", "smoke", "recorder",
                                             "camera"]))
        device = data.draw(st.sampled_from(BY_PROFILE[profile]))
        metrics: dict[str, Any] = {
            "env": lambda: {"temperature": data.draw(st.sampled_from([10.0, 22.0, 35.0])),
                            "humidity": data.draw(st.sampled_from([10.0, 50.0, 95.0]))},
            "door": lambda: {"open": data.draw(st.booleans()),
                             "forced": data.draw(st.booleans())},
            "panic": lambda: {"pressed": data.draw(st.booleans())},
            "smoke": lambda: {"smoke": data.draw(st.booleans())},
            "recorder": lambda: {"recording": data.draw(st.booleans()),
                                 "segment": data.draw(st.sampled_from(["a", "b"])),
                                 "bytes_written": data.draw(st.sampled_from([0, 100, 200]))},
            "camera": lambda: {"diagnosis": data.draw(st.sampled_from(
                ["ok", "black", "frozen", "colour_cast"]))},
        }[profile]()
        self._device(device, DeviceMessage.DATA, metrics=metrics)
        self._step(evaluate)

    @rule(kind=st.sampled_from(["locker_stored", "locker_emptied"]),
          locker=st.integers(1, 3), pid=st.sampled_from(SUSPECTS), evaluate=st.booleans())
    def locker(self, kind: str, locker: int, pid: str, evaluate: bool) -> None:
        self._device(BY_PROFILE["lockers"][0], DeviceMessage.EVENT, kind=kind,
                     data={"locker": locker, "person": pid})
        self._step(evaluate)

    @rule(device=st.sampled_from(sorted(DEVICES)), evaluate=st.booleans())
    def lose(self, device: str, evaluate: bool) -> None:
        self._device(device, DeviceMessage.LOST, reason="no answer")
        self._step(evaluate)

    @rule(device=st.sampled_from(sorted(DEVICES)), evaluate=st.booleans())
    def device_birth(self, device: str, evaluate: bool) -> None:
        ref = DEVICES[device]
        self._device(device, DeviceMessage.BIRTH, profile=ref.profile, zone=ref.zone)
        self._step(evaluate)

    @rule(node=st.sampled_from(NODES), devices=st.booleans(), evaluate=st.booleans())
    def node_birth(self, node: str, devices: bool, evaluate: bool) -> None:
        self._birth(node, devices)
        self._step(evaluate)

    @rule(node=st.sampled_from(NODES), evaluate=st.booleans())
    def node_death(self, node: str, evaluate: bool) -> None:
        if node not in self.bdseq:
            return
        self._apply(parse_topic(node_topic(SITE.id, node, NodeMessage.DEATH)),
                    NodeDeath(ts=self._ts(), bdseq=self.bdseq[node]))
        self._step(evaluate)

    @rule(node=st.sampled_from(NODES), skew_s=st.sampled_from([0, 2, 30]),
          evaluate=st.booleans())
    def heartbeat(self, node: str, skew_s: int, evaluate: bool) -> None:
        msg = NodeHeartbeat(ts=self._ts() + skew_s * 1000, seq=self._next_seq(node))
        self._apply(parse_topic(node_topic(SITE.id, node, NodeMessage.HEARTBEAT)), msg)
        self._step(evaluate)

    @rule(evaluate=st.booleans())
    def replay(self, evaluate: bool) -> None:
        """The last event again (an edge's outbox after a reconnect): applied once."""
        if self.last_event is not None:
            self._apply(*self.last_event)
        self._step(evaluate)

    # ------------------------------------------------------------------ time

    @rule(seconds=st.sampled_from(WAITS) | st.floats(0, 7200), sweep=st.booleans())
    def wait(self, seconds: float, sweep: bool) -> None:
        """The clock moves; the server's timer evaluates (after its sweep, sometimes)."""
        self.now += seconds
        if sweep:
            self._call(lambda twin: twin.sweep(self.now))
        self.check()


def _diff(a: Evaluation, b: Evaluation) -> str:
    keys = set(a.active) | set(b.active)
    return "; ".join(f"{k}: {a.active.get(k)} != {b.active.get(k)}"
                     for k in sorted(keys) if a.active.get(k) != b.active.get(k))


Story.TestCase.settings = settings(
    max_examples=int(os.environ.get("CW_INCREMENTAL_EXAMPLES", "15")),
    stateful_step_count=50, deadline=None, derandomize=True,
    # Not Phase.explain: tracing every line of a failing story takes minutes.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
test_incremental_evaluation_equals_full_evaluation = Story.TestCase
test_incremental_evaluation_equals_full_evaluation.__doc__ = (
    "A random story through three twins: the incremental engine, the full one and the "
    "pre-incremental reference agree on every violation and next_due after every evaluation.")


def _story(*cast: str) -> Story:
    """A story of everything born and ``cast`` known, without hypothesis at the wheel."""
    story = Story()
    story.start(1.0, NODES, [], None)  # type: ignore[arg-type]
    for pid in cast:
        if pid in STAFF:
            story.staff(pid, "male", False)
        else:
            story.intake(pid, "female", 30, "C1", "administrative_questioning", False)
    story.check()
    return story


def test_countdown_messages_follow_the_clock() -> None:
    """Conditions whose message counts with the clock (a recorder "not grown for N s", the
    custody warning's time left) are re-run on every evaluation, nothing else changing."""
    story = _story("O1", "O2", "S1")
    story.search("S1", False, False)
    story.move(["S1", "O1", "O2"], "interrogation-1", True)
    story._device("recorder-interrogation-1", DeviceMessage.DATA,
                  metrics={"recording": True, "segment": "a", "bytes_written": 100})
    for seconds in (30.0, 30.0, 7 * 3600.0, 600.0, 600.0):
        story.wait(seconds, False)  # each wait compares the three engines
    active = story.full.evaluate(story.twins[1], story.now).active
    assert {"recording_not_running", "custody_time_warning"} <= {k[0] for k in active}


def test_a_watched_device_alone_reruns_its_rule() -> None:
    """belongings_left watches the locker banks: a locker bank's birth (no person changed)
    that empties it clears the released person's alarm."""
    story = _story("S1")
    story.locker("locker_stored", 1, "S1", True)
    story.release("S1", True)
    story.wait(601.0, False)
    assert ("belongings_left", "S1") in story.full.evaluate(story.twins[1], story.now).active
    story.device_birth(BY_PROFILE["lockers"][0], True)
    assert ("belongings_left", "S1") not in story.full.evaluate(story.twins[1], story.now).active
