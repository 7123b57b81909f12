"""One Modbus bus (a TCP endpoint or a serial line) shared by the devices on it.

* one pymodbus async client per bus, used under an :class:`asyncio.Lock`: a bus carries
  one request at a time (RS-485 is half duplex; a TCP-to-RTU converter is too);
* a minimum silence between frames on serial lines (Modbus over serial line v1.02, 2.5.1.1:
  3.5 character times, 1.75 ms fixed above 19,200 baud), so a slow device's late answer and
  the next request never run together;
* a per-request timeout chosen by the device (its map or the gateway config), around the
  whole exchange including a reconnect; pymodbus' own retries are off (retries are the
  device's policy) and so is its background reconnect (the device's circuit breaker decides
  when to try again);
* pymodbus' exceptions become gateway.errors at this boundary, and every failure is counted
  by kind in :attr:`Bus.errors`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from gateway.config import BusConfig, RtuBusConfig
from gateway.errors import (
    BadResponse,
    DeviceError,
    DeviceTimeout,
    DeviceUnreachable,
    ModbusRefused,
)
from gateway.plan import Read
from protocol.modbus_map import BIT_TABLES
from protocol.reasons import InfoValue, lost_info

log = logging.getLogger(__name__)

READERS = {"coil": "read_coils", "discrete_input": "read_discrete_inputs",
           "holding": "read_holding_registers", "input": "read_input_registers"}
EXCEPTION_NAMES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "server device failure", 5: "acknowledge", 6: "server device busy",
                   10: "gateway path unavailable", 11: "gateway target failed to respond"}


def quiet_pymodbus() -> None:
    """pymodbus logs every failed connect and unanswered request at WARNING/ERROR; for a
    gateway those are device states, which it logs once per change (lost, back again)
    and counts (:attr:`Bus.errors`)."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


def frame_gap_s(config: RtuBusConfig) -> float:
    if config.gap_ms is not None:
        return config.gap_ms / 1000
    if config.baudrate > 19_200:
        return 0.00175
    bits_per_char = 1 + config.bytesize + (0 if config.parity == "N" else 1) + config.stopbits
    return 3.5 * bits_per_char / config.baudrate


class Bus:
    def __init__(self, config: BusConfig, timeout_s: float = 1.0) -> None:
        self.config = config
        self.id = config.id
        self.errors: Counter[str] = Counter()
        self.requests = 0
        self._lock = asyncio.Lock()
        self._last_frame = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.client: AsyncModbusTcpClient | AsyncModbusSerialClient
        if isinstance(config, RtuBusConfig):
            self.gap_s = frame_gap_s(config)
            self.client = AsyncModbusSerialClient(
                config.port, baudrate=config.baudrate, bytesize=config.bytesize,
                parity=config.parity, stopbits=config.stopbits, timeout=timeout_s, retries=0,
                reconnect_delay=0, name=config.id)
        else:
            self.gap_s = 0.0
            self.client = AsyncModbusTcpClient(config.host, port=config.port, timeout=timeout_s,
                                               retries=0, reconnect_delay=0, name=config.id)

    @property
    def endpoint(self) -> str:
        c = self.config
        where = c.port if isinstance(c, RtuBusConfig) else f"{c.host}:{c.port}"
        return f"bus {self.id} ({where})"

    def _unreachable_info(self) -> dict[str, InfoValue]:
        """Why the bus cannot reach a device, as data (protocol/reasons.py)."""
        c = self.config
        if isinstance(c, RtuBusConfig):
            return lost_info("port_unavailable", port=c.port)
        return lost_info("unreachable", host=c.host, port=c.port)

    def __repr__(self) -> str:
        return f"Bus({self.id})"

    def close(self) -> None:
        self.client.close()

    async def _request(self, device: str, op: Read | str, timeout_s: float,
                       call: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)`` under the bus lock and the device's timeout.  ``op``
        names the request in errors (a read is only formatted when one happens)."""
        loop = self._loop or asyncio.get_running_loop()  # each lookup is a getpid() call
        self._loop = loop
        async with self._lock:
            if self.gap_s:
                wait = self._last_frame + self.gap_s - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            self.requests += 1
            try:
                async with asyncio.timeout_at(loop.time() + timeout_s):
                    if not self.client.connected and not await self.client.connect():
                        raise DeviceUnreachable(device, f"cannot connect to {self.endpoint}",
                                                self._unreachable_info())
                    pdu = await call(*args, **kwargs)
            except DeviceError as err:
                self.errors[err.kind] += 1
                raise
            except (TimeoutError, ModbusIOException) as err:
                self.errors["timeout"] += 1
                ms, what = round(timeout_s * 1000), _describe(op)
                raise DeviceTimeout(device, f"no answer within {ms} ms ({what})",
                                    lost_info("timeout", ms=ms, request=what)) from err
            except (ConnectionException, OSError) as err:
                self.errors["unreachable"] += 1
                raise DeviceUnreachable(device, f"{self.endpoint}: {err}",
                                        self._unreachable_info()) from err
            except ModbusException as err:  # a frame pymodbus could not make sense of
                self.errors["bad_response"] += 1
                raise BadResponse(device, f"{_describe(op)}: {err}",
                                  lost_info("bad_frame", request=_describe(op))) from err
            finally:
                if self.gap_s:
                    self._last_frame = loop.time()
        if pdu is None:
            self.errors["bad_response"] += 1
            raise BadResponse(device, f"{_describe(op)}: no response object",
                              lost_info("bad_frame", request=_describe(op)))
        if pdu.isError():
            code = int(getattr(pdu, "exception_code", 0) or 0)
            self.errors["exception"] += 1
            what = _describe(op)
            raise ModbusRefused(device, f"exception {code} ({EXCEPTION_NAMES.get(code, '?')}) "
                                        f"on {what}", code,
                                lost_info("exception", exception_code=code, request=what))
        return pdu

    async def read(self, device: str, unit: int, read: Read,
                   timeout_s: float) -> list[int] | list[bool]:
        method = getattr(self.client, READERS[read.table])
        pdu = await self._request(device, read, timeout_s, method, read.address,
                                  count=read.count, device_id=unit)
        values: list[int] | list[bool] = pdu.bits if read.table in BIT_TABLES \
            else pdu.registers
        if len(values) < read.count:
            self.errors["bad_response"] += 1
            raise BadResponse(device, f"{_describe(read)}: {len(values)} values for "
                                      f"{read.count}",
                              lost_info("bad_frame", request=_describe(read)))
        return values[:read.count]

    async def write(self, device: str, unit: int, table: str, address: int,
                    values: Sequence[int] | Sequence[bool], timeout_s: float) -> None:
        what = f"write {table} {address}..{address + len(values) - 1}"
        c = self.client
        if table == "coil":
            bits = [bool(v) for v in values]
            call: Callable[[], Awaitable[Any]] = (
                (lambda: c.write_coil(address, bits[0], device_id=unit)) if len(bits) == 1
                else (lambda: c.write_coils(address, bits, device_id=unit)))
        elif table == "holding":
            regs = [int(v) for v in values]
            call = ((lambda: c.write_register(address, regs[0], device_id=unit))
                    if len(regs) == 1 else
                    (lambda: c.write_registers(address, regs, device_id=unit)))
        else:
            raise ValueError(f"a {table} cannot be written")
        await self._request(device, what, timeout_s, call)


def _describe(op: Read | str) -> str:
    return f"read {op.table} {op.address}..{op.end}" if isinstance(op, Read) else op
