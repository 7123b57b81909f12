"""Device health rules: nodes and devices that stopped reporting.

A rule that watches rooms through devices is only as good as the devices; a silent node or
device is an alarm of its own (DESIGN.md).  One alarm per cause: while a node is offline its
devices raise nothing here (the node alarm covers them).  Why a device was lost is worded in
each language from its DeviceLost's info (protocol/reasons.py), else the node's reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from protocol.camera import fault_detail
from protocol.reasons import lost_detail
from server.rules.context import RuleContext
from server.rules.params import DeviceOfflineParams, DeviceStaleParams, NodeOfflineParams, ParamSet
from server.rules.spec import Condition, RuleSpec
from server.rules.video import CAMERA_PROFILE
from server.twin import DeviceState, NodeState


def node_offline(ctx: RuleContext, params: ParamSet[NodeOfflineParams],
                 now: float) -> Iterator[Condition]:
    """A node that died or fell silent; one never seen only after the start-up grace."""
    p = params.default
    for node in ctx.nodes():
        if node.online:
            continue
        if node.ever_seen:
            yield Condition(
                subject=node.id, zone=None,
                message_zh=f"边缘节点 {node.id} 离线",
                message_en=f"node {node.id} offline",
                details={"reason": "offline", "last_seen": node.last_seen},
            )
        else:
            yield Condition(
                subject=node.id, zone=None,
                message_zh=f"边缘节点 {node.id} 自服务器启动以来未上线",
                message_en=f"node {node.id} has not come online since the server started",
                details={"reason": "never_seen"},
                grace_s=p.startup_grace_s, min_real_s=p.startup_min_real_s,
            )


def _lost_this_session(device: DeviceState, node: NodeState) -> bool:
    """Offline by the node's own DeviceLost in its current session (not left over from the
    node's death, which only says we have not heard from the device since)."""
    return (device.last_seen is not None and node.born_at is not None
            and device.last_seen >= node.born_at)


def lost_texts(device: DeviceState) -> tuple[str, str]:
    """(zh, en) of why a lost device was lost: its DeviceLost's info in each language; from a
    node without info, a camera's last no_signal diagnosis info (which such a node reported
    just before), else the node's English reason."""
    if device.profile == CAMERA_PROFILE:
        m = device.metrics
        return fault_detail("offline", m.get("diagnosis"), m.get("diagnosis_info"),
                            device.lost_reason, device.lost_info)
    return lost_detail(device.lost_info, device.lost_reason)


def device_offline(ctx: RuleContext, params: ParamSet[DeviceOfflineParams],
                   now: float) -> Iterator[Condition]:
    """A device its (online) node declared lost, or has not reported since the node's birth."""
    nodes = ctx.twin.nodes
    for device in ctx.devices():
        if device.status not in ("offline", "unknown"):
            continue
        node = nodes.get(device.node)
        if node is None or not node.online:
            continue
        zh, en = ctx.names(device.zone)
        if device.status == "offline" and _lost_this_session(device, node):
            why_zh, why_en = lost_texts(device)
            yield Condition(
                subject=device.id, zone=device.zone,
                message_zh=f"{zh}: 设备 {device.id} 失联{f' ({why_zh})' if why_zh else ''}",
                message_en=f"{en}: device {device.id} lost{f' ({why_en})' if why_en else ''}",
                details={"reason": "lost", "lost_reason": device.lost_reason,
                         "lost_info": device.lost_info, "node": node.id},
            )
        else:
            p = params.for_kind(ctx.kind(device.zone))
            yield Condition(
                subject=device.id, zone=device.zone,
                message_zh=f"{zh}: 设备 {device.id} 自节点 {node.id} 上线以来未报告",
                message_en=f"{en}: device {device.id} not reported since node {node.id} "
                           f"came online",
                details={"reason": "not_born", "node": node.id},
                grace_s=p.birth_grace_s, min_real_s=p.birth_min_real_s,
            )


def device_stale(ctx: RuleContext, params: ParamSet[DeviceStaleParams],
                 now: float) -> Iterator[Condition]:
    """A device silent past its heartbeat (the twin's sweep marks it stale) on a live node."""
    nodes = ctx.twin.nodes
    for device in ctx.devices():
        if device.status != "stale":
            continue
        node = nodes.get(device.node)
        if node is None or not node.online:
            continue
        zh, en = ctx.names(device.zone)
        yield Condition(
            subject=device.id, zone=device.zone,
            message_zh=f"{zh}: 设备 {device.id} 心跳超时",
            message_en=f"{en}: device {device.id} silent past its heartbeat",
            details={"reason": "stale", "last_seen": device.last_seen, "node": node.id},
        )


NODE_OFFLINE = RuleSpec(
    id="node_offline",
    severity="major",
    title_zh="边缘节点离线",
    title_en="Edge node offline",
    basis_zh="设备健康: 节点断开或心跳超时",
    basis_en="Device health: an edge node's death or silence",
    params=NodeOfflineParams,
    conditions=node_offline,
    scope="node",
    applies=lambda node: not node.online,
)

DEVICE_OFFLINE = RuleSpec(
    id="device_offline",
    severity="major",
    title_zh="设备离线",
    title_en="Device offline",
    basis_zh="设备健康: 设备失联",
    basis_en="Device health: a device lost by its node",
    params=DeviceOfflineParams,
    conditions=device_offline,
    scope="device",
    applies=lambda device: device.status in ("offline", "unknown"),
)

DEVICE_STALE = RuleSpec(
    id="device_stale",
    severity="minor",
    title_zh="设备数据超时",
    title_en="Device stale",
    basis_zh="设备健康: 设备超过心跳周期未报告",
    basis_en="Device health: a device silent past its heartbeat",
    params=DeviceStaleParams,
    conditions=device_stale,
    scope="device",
    applies=lambda device: device.status == "stale",
)
