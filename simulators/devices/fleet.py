"""A fleet of simulated Modbus devices in a process of its own (the gateway benchmark).

``python -m simulators.devices.fleet --devices 100 --registers 10`` serves that many
devices, each a pymodbus TCP server on its own free localhost port with ``registers``
holding registers (the first one counts seconds, so report by exception has something to
report).  It prints one JSON line ``{"ports": [...]}`` once every server listens, then
obeys lines on stdin: ``kill I…`` (power devices off: connection refused), ``hang I…``
(keep the socket, never answer), ``quit``.  Running the devices in another process keeps
their CPU out of the gateway's measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from contextlib import AsyncExitStack

from protocol.profiles import DeviceProfile
from simulators.devices.models import DeviceModel
from simulators.devices.server import FieldDevice


def bench_profile(registers: int = 10, poll_ms: int = 1000) -> DeviceProfile:
    """A device of ``registers`` holding registers, polled every ``poll_ms``."""
    names = [f"r{i}" for i in range(registers)]
    return DeviceProfile.model_validate({
        "id": "bench", "name": {"zh": "基准设备", "en": "Benchmark device"},
        "transport": "modbus", "heartbeat_s": 60,
        "metrics": {n: {"type": "int"} for n in names},
        "modbus": {"poll_ms": poll_ms, "timeout_ms": 300, "retries": 1,
                   "points": {n: {"table": "holding", "address": i, "type": "uint16"}
                              for i, n in enumerate(names)}},
    })


class CountingModel(DeviceModel):
    def tick(self, rng: object) -> None:
        self.put("r0", (int(self.get("r0")) + 1) % 65536)


async def serve(devices: int, registers: int) -> None:
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    profile = bench_profile(registers)
    async with AsyncExitStack() as stack:
        fleet = [await stack.enter_async_context(
            FieldDevice(CountingModel(profile), device_id=f"bench-{i}")) for i in range(devices)]
        for field in fleet:  # one register changes every second on every device
            field.tick_s = 1.0
        print(json.dumps({"ports": [f.port for f in fleet]}), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode().split():
            verb, targets = line[0], [fleet[int(i)] for i in line[1:]]
            if verb == "quit":
                break
            for field in targets:
                if verb == "kill":
                    await field.stop()
                elif verb == "hang":
                    field.hang()
            print(json.dumps({"done": verb}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--registers", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(serve(args.devices, args.registers))


if __name__ == "__main__":
    main()
