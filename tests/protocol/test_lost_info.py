"""DeviceLost's optional ``info`` (protocol/messages.py, protocol/reasons.py): a loss's why
as a code and parameters, rendered in Chinese and English by the one table of texts;
built by nodes without ever raising, checked by receivers without ever trusting it, and
compatible on the wire with servers and nodes that predate it."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.codec import decode, encode
from protocol.messages import DeviceLost, Message, Seq, Text
from protocol.reasons import (
    DETAIL_TEXT,
    MAX_LOST_PARAMS,
    MAX_LOST_TEXT,
    decode_lost_info,
    detail_text,
    lost_detail,
    lost_info,
)

# Every loss code a node may send, with its parameters, and its words in zh / en.
LOSSES: dict[str, tuple[dict[str, Any], str, str]] = {
    "no_signal": ({"cause": "connection_refused"}, "无信号: 连接被拒绝",
                  "no signal: connection refused"),
    "timeout": ({"ms": 300, "request": "read holding 0..9"},
                "300 毫秒内无应答 (read holding 0..9)",
                "no answer within 300 ms (read holding 0..9)"),
    "unreachable": ({"host": "192.0.2.31", "port": 502}, "无法连接 192.0.2.31:502",
                    "cannot connect to 192.0.2.31:502"),
    "port_unavailable": ({"port": "/dev/ttyUSB0"}, "串口 /dev/ttyUSB0 不可用",
                         "serial port /dev/ttyUSB0 unavailable"),
    "http_error": ({"status": 503}, "设备接口返回 HTTP 503", "device API answered HTTP 503"),
    "bad_answer": ({"error": "expected object"}, "设备接口应答无效",
                   "bad answer from the device API"),
    "exception": ({"exception_code": 2, "request": "read coil 0..3"},
                  "设备拒绝请求, Modbus 异常码 2 (read coil 0..3)",
                  "Modbus exception 2 on read coil 0..3"),
    "bad_frame": ({}, "应答帧无效或不完整", "bad or short answer frame"),
    "internal": ({}, "网关内部错误", "gateway internal error"),
    "not_polled": ({}, "尚未轮询", "not polled yet"),
    "fault_injected": ({"kind": "offline"}, "模拟故障 (offline)", "fault injected: offline"),
}
_PARAM = re.compile(r"\{(\w+)")


def _latin(text: str, *allowed: str) -> list[str]:
    """Latin words in a Chinese text beyond the parameters' own values (and HTTP/Modbus)."""
    for value in allowed:
        text = text.replace(value, "")
    return [w for w in re.findall(r"[A-Za-z]+", text) if w not in ("HTTP", "Modbus")]


@pytest.mark.parametrize("code", sorted(LOSSES))
def test_every_loss_code_renders_in_both_languages(code: str) -> None:
    """Each loss code, built with lost_info as a node builds it, reads in Chinese with no
    English words but its parameters' values, and in English; it survives the receiver's
    check unchanged."""
    params, zh, en = LOSSES[code]
    info = lost_info(code, **params)
    assert decode_lost_info(info) == info
    assert detail_text(info, "zh") == zh
    assert detail_text(info, "en") == en
    assert _latin(zh, *(str(v) for k, v in params.items() if k != "cause")) == [], zh
    assert lost_detail(info, "some English reason") == (zh, en)


def test_table_templates_name_only_the_parameters_the_examples_give() -> None:
    """Every loss code's templates (zh and en) ask for the same parameters, all of which
    the example gives: a template asking for more would show the info raw."""
    for code, (params, _, _) in LOSSES.items():
        zh, en = DETAIL_TEXT[code]
        assert set(_PARAM.findall(zh)) == set(_PARAM.findall(en)) <= set(params), code


def test_missing_parameter_or_unknown_code_shows_the_info_raw() -> None:
    """A newer node's code, or a known code without its parameter: the code and parameters
    as they are (nothing is lost, nothing raises)."""
    assert detail_text({"code": "fog", "level": 3}, "zh") == "fog (level 3)"
    assert detail_text({"code": "timeout", "ms": 300}, "en") == "timeout (ms 300)"


def test_no_info_falls_back_to_the_reason_for_both_languages() -> None:
    assert lost_detail(None, "cannot connect ([Errno 111])") == (
        "cannot connect ([Errno 111])", "cannot connect ([Errno 111])")


def test_lost_info_drops_what_a_receiver_would_refuse() -> None:
    """Non-scalars, NaN and infinities, bad names and a ``code`` parameter are left out;
    long texts cut; at most MAX_LOST_PARAMS parameters."""
    info = lost_info("timeout", ms=float("nan"), request="x" * 500, nested={"a": 1},
                     items=[1], none=None, inf=float("inf"), ok=1.5, flag=True)
    assert info == {"code": "timeout", "request": "x" * MAX_LOST_TEXT, "ok": 1.5, "flag": True}
    many = lost_info("internal", **{f"p{i}": i for i in range(40)})
    assert len(many) == MAX_LOST_PARAMS + 1 and decode_lost_info(many) == many


_json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300)
_json = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


@given(code=st.sampled_from(sorted(LOSSES)),
       params=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), _json,
                              max_size=20))
def test_whatever_a_node_passes_lost_info_gives_an_info_receivers_accept(
        code: str, params: dict[str, Any]) -> None:
    """lost_info never raises, and its result always passes decode_lost_info and renders
    in both languages without raising."""
    info = lost_info(code, **params)
    assert decode_lost_info(info) == info
    assert detail_text(info, "zh") and detail_text(info, "en")


@pytest.mark.parametrize("bad", [
    "timeout", 7, None, [], ["timeout"], {}, {"ms": 300}, {"code": 7}, {"code": ""},
    {"code": "Timeout"}, {"code": "time out"}, {"code": "x" * 49},
    {"code": "timeout", "ms": None}, {"code": "timeout", "ms": [300]},
    {"code": "timeout", "ms": {"v": 300}}, {"code": "timeout", "ms": float("nan")},
    {"code": "timeout", "request": "x" * (MAX_LOST_TEXT + 1)},
    {"code": "timeout", "Bad-Key": 1}, {"code": "timeout", 3: 1},
    {"code": "no_signal", "cause": 5}, {"code": "no_signal", "cause": "No Such"},
    {"code": "internal", **{f"p{i}": i for i in range(MAX_LOST_PARAMS + 1)}},
], ids=repr)
def test_malformed_info_is_refused_whole(bad: object) -> None:
    """Anything but an object with a code and scalar parameters within the limits is
    refused (None), never half-used: the receiver then shows the reason."""
    assert decode_lost_info(bad) is None


class OldDeviceLost(Message, frozen=True, kw_only=True):
    """DeviceLost as servers before ``info`` decode it."""

    seq: Seq
    reason: Text = ""


def test_wire_compatibility_both_ways() -> None:
    """A new node's DeviceLost with info decodes on an old server (the field is ignored);
    without info nothing changes on the wire; an old node's decodes with info None; and an
    info of any JSON shape does not make the message itself a schema error."""
    new = DeviceLost(ts=1, seq=2, reason="no answer within 300 ms (read holding 0..9)",
                     info=lost_info("timeout", ms=300, request="read holding 0..9"))
    payload = encode(new)
    old = msgspec.json.decode(payload, type=OldDeviceLost)
    assert (old.seq, old.reason) == (2, new.reason)
    assert encode(DeviceLost(ts=1, seq=2, reason="x")) == encode(OldDeviceLost(ts=1, seq=2,
                                                                                reason="x"))
    assert decode(encode(OldDeviceLost(ts=1, seq=2, reason="x")), DeviceLost).info is None
    assert decode(payload, DeviceLost).info == {"code": "timeout", "ms": 300,
                                                "request": "read holding 0..9"}
    for junk in (b'"timeout"', b"[1,{\"a\":null}]", b"7", b"{\"code\":{\"x\":[]}}"):
        lost = decode(b'{"ts":1,"seq":2,"reason":"r","info":' + junk + b"}", DeviceLost)
        assert lost.reason == "r" and decode_lost_info(lost.info) is None
