"""Ad-hoc probe (until `custodywatch bench latency`, issue #7): time from a simulated reader
seeing a tag to the zone update on a WebSocket client, through a private Mosquitto, a
`custodywatch server` process and the real edge agents.

    .venv/bin/python scripts/latency_probe.py [MOVES]
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from protocol.profiles import load_profiles
from protocol.site import load_site
from simulators.centre import SimulatedCentre
from simulators.people import Crowd
from tests.conftest import free_port, start_mosquitto, wait_for_port

EXE = Path(sys.executable).parent / "custodywatch"


async def main(moves: int) -> None:
    d = Path(tempfile.mkdtemp(prefix="cw-latency-"))
    broker = start_mosquitto(d)
    port = free_port()
    (d / "server.yaml").write_text(f"site: reference\ndata_dir: {d / 'data'}\nspeed: 1\n"
                                   f"mqtt: {{url: '{broker.url}'}}\nhttp: {{port: {port}}}\n")
    env = {**os.environ, "CUSTODYWATCH_ADMIN_PASSWORD": "probe", "CUSTODYWATCH_SIM_VIDEO": "0"}
    server = subprocess.Popen(  # noqa: ASYNC220 - a probe script, started once
        [str(EXE), "server", "--config", str(d / "server.yaml")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 30)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as c:
            login = await c.post("/api/auth/login", json={"username": "admin", "password": "probe"})
            token = login.json()["access_token"]
            for i in range(4):
                await c.post("/api/people", headers={"Authorization": f"Bearer {token}"},
                             json={"id": f"O{i}", "role": "officer", "sex": "male",
                                   "badge": f"badge-O{i}"})
        profiles = load_profiles()
        site = load_site("reference", profiles)
        key = (d / "data" / "command.key").read_bytes().strip()
        os.environ["CUSTODYWATCH_SIM_VIDEO"] = "0"
        async with SimulatedCentre(site, profiles, broker.url, 1.0, key, d / "edge") as centre:
            await centre.wait_connected()
            crowd = Crowd(centre)
            for i in range(4):
                crowd.add(f"O{i}", "officer")
            await asyncio.sleep(2)
            async with websockets.connect(f"ws://127.0.0.1:{port}/api/ws?token={token}",
                                          max_size=None) as ws:
                await ws.recv()  # snapshot
                samples = []
                zones = ["info-1", "lockers-1", "entrance", "body-check-1"]
                for k in range(moves):
                    person, zone = f"O{k % 4}", zones[(k + k // 4) % 4]  # always a new zone
                    t0 = time.perf_counter()
                    crowd.move([person], zone)
                    while True:
                        m = json.loads(await ws.recv())
                        if m.get("type") == "zone" and m["zone"]["id"] == zone \
                                and person in m["zone"]["occupants"]:
                            break
                    samples.append((time.perf_counter() - t0) * 1000)
                    await asyncio.sleep(0.02)
        print("per move (ms):", [round(s) for s in samples])
        samples.sort()
        n = len(samples)
        print(json.dumps({"samples": n, "p50_ms": round(samples[n // 2], 1),
                          "p90_ms": round(samples[int(n * 0.9)], 1),
                          "max_ms": round(samples[-1], 1)}))
    finally:
        server.terminate()
        server.wait(10)
        broker.stop()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 60))
