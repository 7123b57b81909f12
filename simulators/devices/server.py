"""A simulated field device: a behaviour model served by a real pymodbus server.

The server's memory is laid out from the profile's register map (one block per table,
from its lowest to its highest mapped address, so the gaps a grouped read spans answer
zeros and anything beyond answers exception 2, illegal data address).  pymodbus calls
:meth:`FieldDevice._action` on every request: a read first refreshes the block from the
model (encoded with the gateway's converters: the simulator and the gateway agree on the
map by construction, not by a second implementation); a write is decoded back to point
values and offered to the model, which may refuse it (exception 3, illegal data value).

Faults: :meth:`stop` closes the server (connection refused, as a powered-off device on its
own TCP endpoint); :meth:`hang` keeps the socket but never answers (a dead slave behind a
live converter: the gateway's timeouts and circuit breaker are what handle it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from types import TracebackType

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from gateway.convert import decode, encode
from protocol.modbus_map import BIT_TABLES
from simulators.devices.models import DeviceModel

log = logging.getLogger(__name__)

TABLE_OF_FUNCTION = {1: "coil", 5: "coil", 15: "coil", 2: "discrete_input", 4: "input",
                     3: "holding", 6: "holding", 16: "holding", 22: "holding", 23: "holding"}
TABLES = ("coil", "discrete_input", "holding", "input")  # SimDevice's tuple order
TICK_S = 5.0


class FieldDevice:
    """``async with FieldDevice(model, port=0):`` serves ``model`` on 127.0.0.1 over TCP
    (``port`` 0: a free one, kept across stop/start), or over RTU on ``serial``."""

    def __init__(self, model: DeviceModel, *, unit: int = 1, host: str = "127.0.0.1",
                 port: int = 0, serial: str | None = None, baudrate: int = 19_200,
                 parity: str = "E", device_id: str = "") -> None:
        self.model = model
        self.map = model.map
        self.unit = unit
        self.host, self.port = host, port
        self.serial, self.baudrate, self.parity = serial, baudrate, parity
        self.id = device_id or model.profile.id
        self.requests = 0
        self.tick_s = TICK_S  # how often the model's slow drift runs while served
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._hung: asyncio.Event | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._spans = {t: self._span(t) for t in TABLES}

    # ------------------------------------------------------------------ layout

    def _span(self, table: str) -> tuple[int, int] | None:
        ends = [(p.address, p.end) for _, p in self.map.points_in(table)]
        if not ends:
            return None
        return min(a for a, _ in ends), max(e for _, e in ends)

    def _simdata(self, table: str) -> list[SimData]:
        span = self._spans[table]
        if table in BIT_TABLES:
            lo, hi = span or (0, 15)  # an unused table still needs a block; _action refuses it
            return [SimData(lo, values=[False] * (hi - lo + 1), datatype=DataType.BITS)]
        if span is None:
            return [SimData(0, datatype=DataType.INVALID)]
        lo, hi = span
        return [SimData(lo, count=hi - lo + 1, values=0, datatype=DataType.REGISTERS)]

    def image(self, table: str) -> dict[int, int | bool]:
        """Address -> register (or bit) for every mapped address of ``table``."""
        out: dict[int, int | bool] = {}
        for name, p in self.map.points_in(table):
            for i in range(p.repeat):
                address = p.element_address(i)
                value = self.model.get(name, i if p.repeat > 1 else None)
                current = int(out.get(address, 0))
                words = encode(p, value, self.map.byte_order, self.map.word_order, current)
                for k, w in enumerate(words):
                    out[address + k] = w
        return out

    # ------------------------------------------------------------------ pymodbus hook

    async def _action(self, function_code: int, start: int, address: int, count: int,
                      registers: list[int], values: list[int] | list[bool] | None,
                      ) -> ExcCodes | None:
        self.requests += 1
        if self._hung is not None:
            await self._hung.wait()  # never answers while hung (released on stop)
            return ExcCodes.DEVICE_BUSY
        table = TABLE_OF_FUNCTION.get(function_code)
        if table is None or self._spans[table] is None:
            return ExcCodes.ILLEGAL_ADDRESS
        if values is not None:
            refused = self._offer(table, address, list(values))
            if refused is not None:
                return refused
        self._refresh(table, start, registers)
        return None

    def _refresh(self, table: str, start: int, registers: list[int]) -> None:
        image = self.image(table)
        if table in BIT_TABLES:  # 16 bits per stored register, bit 0 first
            for address, bit in image.items():
                index, shift = address // 16 - start, address % 16
                if 0 <= index < len(registers):
                    if bit:
                        registers[index] |= 1 << shift
                    else:
                        registers[index] &= ~(1 << shift) & 0xFFFF
        else:
            for address, word in image.items():
                if 0 <= address - start < len(registers):
                    registers[address - start] = int(word)

    def _offer(self, table: str, address: int, values: list[int] | list[bool],
               ) -> ExcCodes | None:
        """Decode a write into point values and let the model accept or refuse each."""
        image = self.image(table)
        written = set(range(address, address + len(values)))
        for k, v in enumerate(values):
            image[address + k] = v
        covered: set[int] = set()
        for name, p in self.map.points_in(table):
            for i in range(p.repeat):
                first = p.element_address(i)
                span = set(range(first, first + p.width))
                if not span & written:
                    continue
                if not p.writable:
                    return ExcCodes.ILLEGAL_ADDRESS
                covered |= span
                raw = [image[a] for a in sorted(span)]
                value = decode(p, raw, self.map.byte_order, self.map.word_order)
                index = i if p.repeat > 1 else None
                if value != self.model.get(name, index) and not self.model.write(name, i, value):
                    return ExcCodes.ILLEGAL_VALUE
        if written - covered:
            return ExcCodes.ILLEGAL_ADDRESS
        return None

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        device = SimDevice(self.unit, simdata=tuple(self._simdata(t) for t in TABLES),  # type: ignore[arg-type]
                           action=self._action)
        server: ModbusTcpServer | ModbusSerialServer
        if self.serial is not None:
            server = ModbusSerialServer(device, framer=FramerType.RTU, port=self.serial,
                                        baudrate=self.baudrate, parity=self.parity)
        else:
            server = ModbusTcpServer(device, address=(self.host, self.port))
        await server.serve_forever(background=True)
        if self.serial is None and self.port == 0:
            self.port = _bound_port(server)
        self._server = server
        self._ticker = asyncio.create_task(self._tick(), name=f"sim:{self.id}:tick")
        log.debug("simulated %s serving on %s", self.id, self.serial or f"port {self.port}")

    async def stop(self) -> None:
        """Power off: the server closes; the model keeps its state for a restart."""
        server, self._server = self._server, None
        self.unhang()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if server is not None:
            await server.shutdown()

    def hang(self) -> None:
        """Keep the line but never answer (a dead slave behind a live converter)."""
        if self._hung is None:
            self._hung = asyncio.Event()

    def unhang(self) -> None:
        hung, self._hung = self._hung, None
        if hung is not None:
            hung.set()

    async def _tick(self) -> None:
        rng = random.Random(self.id)
        while True:
            await asyncio.sleep(self.tick_s)
            self.model.tick(rng)

    async def __aenter__(self) -> FieldDevice:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.model.cancel_timers()
        await self.stop()


def _bound_port(server: ModbusTcpServer | ModbusSerialServer) -> int:
    listener = server.transport
    sockets = getattr(listener, "sockets", None) or []
    for sock in sockets:
        return int(sock.getsockname()[1])
    raise RuntimeError("the simulated Modbus server has no listening socket")
