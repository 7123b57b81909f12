"""``custodywatch bench camera``: what picture diagnostics cost on the edge.

1. **ms per frame**: :func:`~edge.video.diagnostics.analyse` on synthetic room frames at
   640×360 and 1920×1080 (median of many runs; the frame is decoded already).
2. **CPU per camera**: ``cameras`` simulated cameras serve MJPEG (640×360 at the simulated
   centre's rate) from a *child process*; this process runs that many real CameraDrivers at
   the profile's default sampling rate for ``seconds`` and measures its own CPU time
   (all threads: FFmpeg decoding, analysis, the event loop) — the edge's cost alone.

Goals (issue #6): ≤ 5 ms per 640×360 frame, ≤ 5 % of one core per camera.  Numbers to read,
not pass/fail; ``--json`` prints one object on the last line.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import resource
import statistics
import time
from contextlib import AsyncExitStack
from typing import Any

from edge.drivers.camera import CameraDriver
from edge.video.diagnostics import DiagnosticThresholds, analyse
from protocol.profiles import load_profiles
from protocol.site import DeviceRef


def _ms_per_frame(width: int, height: int, th: DiagnosticThresholds, runs: int) -> float:
    from simulators.devices.scene import SceneRenderer

    renderer = SceneRenderer("bench", width, height)
    frames = [renderer.render(k * 0.5, 2) for k in range(4)]
    analyse(frames[0], th)  # warm up (OpenCV initialises lazily)
    times = []
    for k in range(runs):
        start = time.perf_counter()
        analyse(frames[k % len(frames)], th)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _serve_cameras(count: int, fps: float, urls: Any, stop: Any) -> None:
    """Child process: ``count`` simulated cameras until ``stop`` is set."""
    from simulators.devices.cameras import CameraServer

    async def main() -> None:
        async with AsyncExitStack() as stack:
            servers = [await stack.enter_async_context(CameraServer(f"bench {i}", fps=fps,
                                                                    seed=i))
                       for i in range(count)]
            urls.put([s.url for s in servers])
            # ``stop`` is a multiprocessing Event: wait for it in a thread, not a loop.
            await asyncio.to_thread(stop.wait)

    asyncio.run(main())


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _drive(urls: list[str], seconds: float) -> tuple[float, float, list[float]]:
    profile = load_profiles()["camera"]
    drivers = [CameraDriver(DeviceRef(f"camera-bench-{i}", "camera", "bench", "bench"),
                            profile, url) for i, url in enumerate(urls)]
    async with AsyncExitStack() as stack:
        for d in drivers:
            await stack.enter_async_context(d)
        await asyncio.sleep(2.0)  # connect, first frames
        cpu0, wall0 = _cpu_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, wall = _cpu_seconds() - cpu0, time.monotonic() - wall0
        fps = [float(d.metrics()["fps"] or 0) for d in drivers]  # type: ignore[arg-type]
    return cpu, wall, fps


def bench_camera(cameras: int = 4, seconds: float = 10.0, runs: int = 200) -> dict[str, Any]:
    from simulators.devices.video import CAMERA_FPS

    th = DiagnosticThresholds.from_profile(load_profiles()["camera"].thresholds)
    result: dict[str, Any] = {
        "ms_per_frame_360p": round(_ms_per_frame(640, 360, th, runs), 3),
        "ms_per_frame_1080p": round(_ms_per_frame(1920, 1080, th, max(20, runs // 4)), 3),
    }
    ctx = multiprocessing.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=_serve_cameras, args=(cameras, CAMERA_FPS, urls, stop),
                        daemon=True)
    child.start()
    try:
        cpu, wall, fps = asyncio.run(_drive(urls.get(timeout=30), seconds))
    finally:
        stop.set()
        child.join(10)
        if child.is_alive():
            child.kill()
    result.update({
        "cpu_pct_per_camera": round(100 * cpu / wall / cameras, 2),
        "cameras": cameras, "seconds": round(wall, 1), "stream": "MJPEG 640x360",
        "stream_fps": CAMERA_FPS, "sample_fps": th.sample_fps,
        "measured_fps": round(statistics.mean(fps), 1) if fps else 0.0,
    })
    return result


def run_bench_camera(cameras: int = 4, seconds: float = 10.0, as_json: bool = False) -> int:
    r = bench_camera(cameras, seconds)
    print(f"picture diagnostics: {r['ms_per_frame_360p']:.2f} ms per 640x360 frame, "
          f"{r['ms_per_frame_1080p']:.2f} ms per 1920x1080 frame (goal <= 5 ms at 360p)")
    print(f"edge CPU: {r['cpu_pct_per_camera']:.2f} % of one core per camera "
          f"({r['cameras']} cameras, {r['stream']} at {r['stream_fps']:g} fps, "
          f"{r['sample_fps']:g} analysed/s, {r['seconds']:g} s; goal <= 5 %)")
    if as_json:
        print(json.dumps(r))
    return 0
