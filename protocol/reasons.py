"""Why, as data: a code and its parameters, rendered in Chinese or English by one table.

An edge says *why* in two places, both as an **info** — ``{"code": "timeout", "ms": 300,
"request": "read holding 0..9"}`` — beside an English text that older servers read:

* a camera's ``diagnosis_info`` metric (protocol/camera.py): why its picture is what it is;
* a ``DeviceLost``'s ``info`` (protocol/messages.py): why a node declared a device lost.

:func:`detail_text` renders an info from :data:`DETAIL_TEXT`, so a Chinese alarm message is
Chinese throughout.  An info may carry a ``cause`` (another code of the table, rendered from
the same parameters): ``{"code": "no_signal", "cause": "connection_refused"}`` reads
"无信号: 连接被拒绝" / "no signal: connection refused".

Senders build a loss's info with :func:`lost_info` (never raises: a parameter that is not a
scalar is left out, long texts are cut); receivers take one from the wire with
:func:`decode_lost_info` (None for anything malformed: the caller falls back to the English
reason) and word it with :func:`lost_detail`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Literal

Lang = Literal["zh", "en"]
InfoValue = str | int | float | bool
Info = Mapping[str, InfoValue]

# code -> (zh, en); templates take the info's parameters (str.format_map), every parameter
# a template names is required (a missing one shows the info raw, see _render).
DETAIL_TEXT: dict[str, tuple[str, str]] = {
    # ---- a camera's picture (diagnosis_info)
    "starting": ("启动中, 尚未收到画面", "starting, no picture yet"),
    "measures": ("亮度 {luma}, 反差 {spread}, 无纹理 {blank:.0%}, 清晰度 {sharpness}, "
                 "偏色 {cast}",
                 "luma {luma}, spread {spread}, blank {blank:.0%}, sharpness {sharpness}, "
                 "cast {cast}"),
    "frozen": ("{seconds} 秒画面无变化", "no change for {seconds}s"),
    "no_frame": ("{seconds} 秒无新画面", "no new frame for {seconds}s"),
    # ---- a camera stream's loss codes (edge/video/stream.py; also a no_frame's cause)
    "connection_refused": ("连接被拒绝", "connection refused"),
    "connection_timeout": ("连接超时", "connection timed out"),
    "network_error": ("网络错误: {error}", "{error}"),
    "not_network": ("不是网络视频流", "not a network stream"),
    "bad_port": ("地址中的端口无效", "bad port in URL"),
    "cannot_open": ("无法打开视频流", "cannot open stream"),
    "stream_ended": ("视频流中断或读取超时", "stream ended or no frame within the read timeout"),
    "corrupt_frame": ("画面数据损坏", "corrupt frame"),
    "reader_error": ("读取出错: {error}", "reader error: {error}"),
    # ---- why a device was lost (DeviceLost.info): cameras, recorders, Modbus devices
    "no_signal": ("无信号", "no signal"),  # a camera; its cause is a stream loss code
    "timeout": ("{ms} 毫秒内无应答 ({request})", "no answer within {ms} ms ({request})"),
    "unreachable": ("无法连接 {host}:{port}", "cannot connect to {host}:{port}"),
    "port_unavailable": ("串口 {port} 不可用", "serial port {port} unavailable"),
    "http_error": ("设备接口返回 HTTP {status}", "device API answered HTTP {status}"),
    "bad_answer": ("设备接口应答无效", "bad answer from the device API"),
    "exception": ("设备拒绝请求, Modbus 异常码 {exception_code} ({request})",
                  "Modbus exception {exception_code} on {request}"),
    "bad_frame": ("应答帧无效或不完整", "bad or short answer frame"),
    "internal": ("网关内部错误", "gateway internal error"),
    "not_polled": ("尚未轮询", "not polled yet"),  # a gateway's device before its first poll
    "fault_injected": ("模拟故障 ({kind})", "fault injected: {kind}"),  # simulators, scenarios
}
# Codes whose cause reads as the explanation after a colon ("no signal: connection
# refused"); any other cause goes in parentheses ("no new frame for 8s (stream ended …)").
COLON_CAUSE: frozenset[str] = frozenset({"no_signal"})
MAX_INFO_CHARS = 300  # a camera's diagnosis_info metric (JSON); error texts are cut to fit

# What a receiver accepts as a loss's info (decode_lost_info); lost_info keeps within it.
CODE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
MAX_LOST_PARAMS = 16
MAX_LOST_TEXT = 200


def detail_text(info: Info, lang: Lang) -> str:
    """The info in ``lang``: its code's text, then its cause's (after a colon or in
    parentheses).  An unknown code or a parameter that does not fit shows the code and
    parameters as they are."""
    code = str(info.get("code", ""))
    text = _render(info, code, lang)
    cause = info.get("cause")
    if isinstance(cause, str) and cause:
        cause_text = _render(info, cause, lang)
        text = f"{text}: {cause_text}" if code in COLON_CAUSE else f"{text} ({cause_text})"
    return text


def _render(info: Info, code: str, lang: Lang) -> str:
    texts = DETAIL_TEXT.get(code)
    if texts is not None:
        try:
            return texts[0 if lang == "zh" else 1].format_map(dict(info))
        except (KeyError, ValueError, TypeError, IndexError):
            pass  # a newer edge's parameters, or bad ones: show them raw below
    params = ", ".join(f"{k} {v}" for k, v in info.items() if k not in ("code", "cause"))
    return f"{code} ({params})" if params else code


# ---------------------------------------------------------------------- camera metric


def encode_info(info: Info) -> str:
    """A ``diagnosis_info`` metric value: compact JSON, kept under MAX_INFO_CHARS by cutting
    text values."""
    text = json.dumps(dict(info), ensure_ascii=False, separators=(",", ":"))
    if len(text) <= MAX_INFO_CHARS:
        return text
    cut = {k: v[:80] if isinstance(v, str) and k not in ("code", "cause") else v
           for k, v in info.items()}
    return json.dumps(cut, ensure_ascii=False, separators=(",", ":"))[:MAX_INFO_CHARS]


def decode_info(value: object) -> dict[str, InfoValue] | None:
    """A ``diagnosis_info`` metric's info, or None if absent or not an object with a string
    ``code`` (an older edge, or bad input: callers fall back to ``diagnosis_detail``)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        info = json.loads(value)
    except ValueError:
        return None
    if not isinstance(info, dict) or not isinstance(info.get("code"), str):
        return None
    return {k: v for k, v in info.items()
            if isinstance(k, str) and isinstance(v, str | int | float | bool)}


# ---------------------------------------------------------------------- DeviceLost.info


def lost_info(code: str, /, **params: object) -> dict[str, InfoValue]:
    """A loss's info for ``DeviceLost``, as a node sends it: ``lost_info("timeout", ms=300,
    request="read holding 0..9")``.  Never raises (it runs where a device just failed):
    parameters that are not scalars (or NaN/infinite) are left out, texts cut to
    MAX_LOST_TEXT characters, at most MAX_LOST_PARAMS kept — what decode_lost_info accepts.
    tests/protocol/test_lost_info.py renders every loss code of DETAIL_TEXT from its
    parameters in both languages."""
    info: dict[str, InfoValue] = {"code": code[:48]}
    for key, value in params.items():
        if len(info) > MAX_LOST_PARAMS or key == "code" or not CODE.match(key):
            continue
        if isinstance(value, str):
            info[key] = value[:MAX_LOST_TEXT]
        elif isinstance(value, bool | int) or (isinstance(value, float)
                                                and math.isfinite(value)):
            info[key] = value
    return info


def decode_lost_info(value: object) -> dict[str, InfoValue] | None:
    """A ``DeviceLost.info`` from the wire, or None if it is absent or malformed (not an
    object; no ``code`` matching ``[a-z][a-z0-9_]*``; more than MAX_LOST_PARAMS parameters;
    a key that is not a name; a value that is not a string of at most MAX_LOST_TEXT
    characters, a finite number or a bool; a ``cause`` that is not a code).  A malformed info
    is never half-used: the caller falls back to the reason text."""
    if not isinstance(value, dict) or len(value) > MAX_LOST_PARAMS + 1:
        return None
    code, cause = value.get("code"), value.get("cause")
    if not isinstance(code, str) or not CODE.match(code):
        return None
    if cause is not None and not (isinstance(cause, str) and CODE.match(cause)):
        return None
    for key, item in value.items():
        if not isinstance(key, str) or not CODE.match(key):
            return None
        if isinstance(item, str):
            if len(item) > MAX_LOST_TEXT:
                return None
        elif isinstance(item, float):
            if not math.isfinite(item):
                return None
        elif not isinstance(item, bool | int):
            return None
    return dict(value)


def lost_detail(info: Info | None, reason: str) -> tuple[str, str]:
    """(zh, en) of why a device was lost: its info rendered in each language, else (an
    older node, or an info that was malformed) the node's English ``reason`` for both."""
    if info is None:
        return reason, reason
    return detail_text(info, "zh"), detail_text(info, "en")
