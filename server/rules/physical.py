"""Physical security rules: doors and distress buttons (the gateway's Modbus devices).

Unknown state: a *measured* condition (a door open for a while) is only timed on live
values; if the door controller goes offline, device_offline / device_stale / node_offline
report it and door_held_open's on-delay starts over when it is back.  A *latched* signal
(door forced, panic pressed) keeps its last known value while the device is unreachable:
the alarm does not clear because we stopped hearing from the device, only when an online
device reports the latch reset (its event or metric).
"""

from __future__ import annotations

from collections.abc import Iterator

from server.rules.context import RuleContext
from server.rules.params import DoorHeldOpenParams, ParamSet, PlainParams
from server.rules.spec import Condition, RuleSpec
from server.twin import DeviceState

DOOR_PROFILE = "door"
PANIC_PROFILE = "panic"
DEFAULT_HELD_OPEN_S = 60.0


def last_known(device: DeviceState) -> tuple[str, str]:
    """Message suffix for a latched value read from a device we cannot hear now."""
    if device.status == "online":
        return "", ""
    return f" (设备{device.status}, 最后状态)", f" (device {device.status}, last known)"


DOOR_POLL_LATENCY_REAL_S = 1.0


def door_held_open(ctx: RuleContext, params: ParamSet[DoorHeldOpenParams],
                   now: float) -> Iterator[Condition]:
    for door in ctx.devices(DOOR_PROFILE):
        if door.status != "online" or door.metrics.get("open") is not True:
            continue
        p = params.for_kind(ctx.kind(door.zone))
        held = p.held_open_s or ctx.threshold(door, "held_open_s") or DEFAULT_HELD_OPEN_S
        zh, en = ctx.names(door.zone)
        yield Condition(
            subject=door.id, zone=door.zone,
            message_zh=f"{zh}: 门 {door.id} 开启超过 {held:g} 秒",
            message_en=f"{en}: door {door.id} held open over {held:g} s",
            details={"held_open_s": held},
            grace_s=held,
            # Door state is polled (the gateway: every 200 ms real): at high --speed the
            # time a door is seen open is quantised to polls, so never less than this.
            min_real_s=DOOR_POLL_LATENCY_REAL_S,
        )


def door_forced(ctx: RuleContext, params: ParamSet[PlainParams],
                now: float) -> Iterator[Condition]:
    for door in ctx.devices(DOOR_PROFILE):
        if door.metrics.get("forced") is not True:
            continue
        zh, en = ctx.names(door.zone)
        szh, sen = last_known(door)
        yield Condition(
            subject=door.id, zone=door.zone,
            message_zh=f"{zh}: 门 {door.id} 被强行打开{szh}",
            message_en=f"{en}: door {door.id} forced open{sen}",
            details={"device_status": door.status},
        )


def panic_button(ctx: RuleContext, params: ParamSet[PlainParams],
                 now: float) -> Iterator[Condition]:
    for button in ctx.devices(PANIC_PROFILE):
        if button.metrics.get("pressed") is not True:
            continue
        zh, en = ctx.names(button.zone)
        szh, sen = last_known(button)
        yield Condition(
            subject=button.id, zone=button.zone,
            message_zh=f"{zh}: 紧急报警按钮 {button.id} 被按下{szh}",
            message_en=f"{en}: panic button {button.id} pressed{sen}",
            details={"device_status": button.status},
        )


DOOR_HELD_OPEN = RuleSpec(
    id="door_held_open",
    severity="minor",
    title_zh="门长时间未关",
    title_en="Door held open",
    basis_zh="物理安全: 受控门不得长时间敞开",
    basis_en="Physical security: a controlled door is not left open",
    params=DoorHeldOpenParams,
    conditions=door_held_open,
    scope="device",
    profiles=frozenset({DOOR_PROFILE}),
)

DOOR_FORCED = RuleSpec(
    id="door_forced",
    severity="critical",
    title_zh="门被强行打开",
    title_en="Door forced",
    basis_zh="物理安全: 门在锁闭状态下被打开",
    basis_en="Physical security: a door opened while locked",
    params=PlainParams,
    conditions=door_forced,
    scope="device",
    profiles=frozenset({DOOR_PROFILE}),
)

PANIC_BUTTON = RuleSpec(
    id="panic_button",
    severity="critical",
    title_zh="紧急报警",
    title_en="Panic button",
    basis_zh="民警安全: 紧急报警按钮被按下",
    basis_en="Officer safety: a distress button pressed",
    params=PlainParams,
    conditions=panic_button,
    scope="device",
    profiles=frozenset({PANIC_PROFILE}),
)
