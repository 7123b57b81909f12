"""The gateway package's exception tree.  pymodbus' exceptions are mapped to these at the
bus boundary (gateway/bus.py), so nothing above it imports pymodbus' error classes."""

from __future__ import annotations

from collections.abc import Mapping

from protocol.reasons import InfoValue, lost_info


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""


class ConvertError(GatewayError, ValueError):
    """A value does not fit its point (out of the type's range, a string too long)."""


class DeviceError(GatewayError):
    """One request to a device failed; ``kind`` names the failure for counters and logs,
    ``detail`` says it in English, ``info`` as data (protocol/reasons.py: the DeviceLost
    info the server words in Chinese or English)."""

    kind = "error"

    def __init__(self, device: str, detail: str,
                 info: Mapping[str, InfoValue] | None = None) -> None:
        self.device = device
        self.detail = detail
        self.info = dict(info) if info else lost_info("internal")
        super().__init__(f"{device}: {detail}")


class DeviceTimeout(DeviceError):
    """No (valid) answer within the device's timeout: dead, slow, or garbage on the line."""

    kind = "timeout"


class DeviceUnreachable(DeviceError):
    """The bus cannot reach the device (TCP connection refused, serial port gone)."""

    kind = "unreachable"


class ModbusRefused(DeviceError):
    """The device answered with a Modbus exception response (e.g. 2, illegal address)."""

    kind = "exception"

    def __init__(self, device: str, detail: str, code: int,
                 info: Mapping[str, InfoValue] | None = None) -> None:
        super().__init__(device, detail, info)
        self.code = code


class BadResponse(DeviceError):
    """An answer of the wrong shape (short read)."""

    kind = "bad_response"


class CommandRefused(GatewayError):
    """A command's params do not make valid writes (missing, out of range)."""
