"""Environment rules: room climate while people are in the room, and smoke anywhere.

Unknown state: temperature and humidity are measured values, so only a live (online)
sensor is read; an offline or stale sensor is device_offline / device_stale, and this rule
starts its on-delay over when the sensor is back.  Smoke is treated like a latched signal:
a detector that reported smoke and then fell silent keeps the alarm (a fire can take a
detector's wiring with it); it clears when an online detector reports no smoke.
A detector's ``fault`` metric is not smoke and raises nothing here.
"""

from __future__ import annotations

from collections.abc import Iterator

from server.rules.context import RuleContext
from server.rules.params import EnvironmentParams, ParamSet, PlainParams
from server.rules.physical import last_known
from server.rules.spec import Condition, RuleSpec
from server.twin import DeviceState

ENV_PROFILE = "env"
SMOKE_PROFILE = "smoke"
# (metric, its low and high limit parameters/thresholds, zh, en, unit)
_QUANTITIES = (("temperature", "temperature_min", "temperature_max", "温度", "temperature", "°C"),
               ("humidity", "humidity_min", "humidity_max", "湿度", "humidity", "%RH"))


def _limits(ctx: RuleContext, sensor: DeviceState, p: EnvironmentParams,
            kind: str) -> tuple[tuple[float | None, float | None], ...]:
    """(low, high) per quantity: the zone kind's parameter, else the profile's threshold.
    Both are fixed while the server runs, so they are worked out once per profile and kind."""
    key = ("env_limits", sensor.profile, kind)
    limits: tuple[tuple[float | None, float | None], ...] | None = ctx.memo.get(key)
    if limits is None:
        limits = ctx.memo[key] = tuple(
            (_limit(ctx, sensor, getattr(p, lo_name), lo_name),
             _limit(ctx, sensor, getattr(p, hi_name), hi_name))
            for _metric, lo_name, hi_name, *_ in _QUANTITIES)
    return limits


def _limit(ctx: RuleContext, device: DeviceState, override: float | None,
           name: str) -> float | None:
    return override if override is not None else ctx.threshold(device, name)


def environment_out_of_range(ctx: RuleContext, params: ParamSet[EnvironmentParams],
                             now: float) -> Iterator[Condition]:
    zones = ctx.twin.zones
    for sensor in ctx.devices(ENV_PROFILE):
        zone = zones.get(sensor.zone)
        if sensor.status != "online" or zone is None or not zone.occupants:
            continue
        limits = _limits(ctx, sensor, params.for_kind(zone.kind), zone.kind)
        out_zh: list[str] = []
        out_en: list[str] = []
        details: dict[str, object] = {}
        for (metric, _lo, _hi, zh_name, en_name, unit), (lo, hi) in zip(
                _QUANTITIES, limits, strict=True):
            value = sensor.metrics.get(metric)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if lo is not None and value < lo:
                bound_zh, bound_en, bound = "低于", "below", lo
            elif hi is not None and value > hi:
                bound_zh, bound_en, bound = "高于", "above", hi
            else:
                continue
            out_zh.append(f"{zh_name} {value:g}{unit} {bound_zh} {bound:g}{unit}")
            out_en.append(f"{en_name} {value:g}{unit} {bound_en} {bound:g}{unit}")
            details[metric] = value
        if not out_zh:
            continue
        zh, en = ctx.names(sensor.zone)
        yield Condition(
            subject=sensor.id, zone=sensor.zone,
            message_zh=f"{zh}: 环境异常, {', '.join(out_zh)}",
            message_en=f"{en}: environment out of range, {', '.join(out_en)}",
            details=details,
        )


def smoke_detected(ctx: RuleContext, params: ParamSet[PlainParams],
                   now: float) -> Iterator[Condition]:
    for detector in ctx.devices(SMOKE_PROFILE):
        if detector.metrics.get("smoke") is not True:
            continue
        zh, en = ctx.names(detector.zone)
        szh, sen = last_known(detector)
        yield Condition(
            subject=detector.id, zone=detector.zone,
            message_zh=f"{zh}: 烟雾探测器 {detector.id} 报警{szh}",
            message_en=f"{en}: smoke detected by {detector.id}{sen}",
            details={"device_status": detector.status},
        )


ENVIRONMENT_OUT_OF_RANGE = RuleSpec(
    id="environment_out_of_range",
    severity="minor",
    title_zh="环境温湿度异常",
    title_en="Environment out of range",
    basis_zh="健康与安全: 有人房间的温湿度应在适宜范围",
    basis_en="Health and safety: temperature and humidity of an occupied room in range",
    params=EnvironmentParams,
    conditions=environment_out_of_range,
    scope="zone",  # the sensors of the zones that changed: readings and occupancy
    reads=frozenset({"occupied", "devices"}),  # only whether anyone is in the room
    reads_profiles=frozenset({ENV_PROFILE}),
    profiles=frozenset({ENV_PROFILE}),
)

SMOKE_DETECTED = RuleSpec(
    id="smoke_detected",
    severity="critical",
    title_zh="烟雾报警",
    title_en="Smoke detected",
    basis_zh="消防安全: 任何区域探测到烟雾",
    basis_en="Fire safety: smoke anywhere",
    params=PlainParams,
    conditions=smoke_detected,
    scope="device",
    profiles=frozenset({SMOKE_PROFILE}),
)
