"""The FastAPI application: lifespan wiring of store, MQTT link, coordinator and hub,
the API routers, and the static dashboards.

The path of one event (DESIGN.md): ingest (server/ingest.py) → coordinator
(server/service.py: decode, twin, rules, alarms) → store (server/store/) + hub
(server/hub.py) → dashboards.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from protocol.profiles import ProfileSet, load_profiles
from protocol.site import SiteConfig, load_site
from protocol.version import PROTOCOL_VERSION
from server.alarms.lifecycle import AlarmBook
from server.alerts.desk import load_desk
from server.alerts.mqtt import GuardMqtt
from server.api import (
    alarm_actions,
    alarms,
    auth,
    guards,
    health,
    kpis,
    live,
    live_view,
    maintenance,
    pages,
    people,
    samples,
    users,
    ws,
)
from server.api.limits import BodySizeLimit
from server.auth import Authenticator
from server.config import ServerConfig, command_key, read_or_create_secret
from server.hub import Hub
from server.ingest import MqttLink
from server.metrics import ServerMetrics
from server.rules.engine import RuleEngine
from server.service import Coordinator, restore_people
from server.store.sqlite import SqliteStore
from server.twin import Twin

log = logging.getLogger(__name__)

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"


def create_app(config: ServerConfig, ready: asyncio.Event | None = None) -> FastAPI:
    """Build the application.  Loads and validates the site and profiles now (raising
    protocol.config.ConfigError), so a bad config fails before anything starts."""
    profiles = load_profiles(config.profiles_dir)
    site = load_site(config.site, profiles)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            context = running(app, config, site, profiles)
            await context.__aenter__()
        except Exception as err:
            app.state.startup_error = err  # for server.main.serve to raise
            raise
        try:
            if ready is not None:
                ready.set()
            yield
        finally:
            await context.__aexit__(None, None, None)

    app = FastAPI(title="CustodyWatch", version=f"protocol v{PROTOCOL_VERSION}",
                  description="Monitoring of police case-handling centres (执法办案管理中心)",
                  lifespan=lifespan)
    app.state.config = config
    app.state.site = site
    app.add_middleware(BodySizeLimit, max_bytes=config.http.max_body_bytes)
    for router in (auth.router, alarms.router, live.router, people.router, ws.router,
                   health.router):
        app.include_router(router)
    for router in (alarm_actions.router, guards.router, maintenance.router, kpis.router,
                   users.router, pages.router):  # alarm management (docs/alarms.md)
        app.include_router(router)
    app.include_router(live_view.router)  # live camera view over WebRTC (docs/video.md)
    app.include_router(samples.router)  # recent telemetry from the store (issue #7)
    _mount_dashboards(app)
    return app


@asynccontextmanager
async def running(app: FastAPI, config: ServerConfig, site: SiteConfig,
                  profiles: ProfileSet) -> AsyncIterator[Coordinator]:
    """Start every long-lived part; stop them in reverse order (MQTT offline state is
    published before the link closes)."""
    data_dir = Path(config.data_dir)
    metrics = ServerMetrics()
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(SqliteStore(data_dir))
        jwt_secret = await asyncio.to_thread(read_or_create_secret, data_dir / "jwt.key")
        authenticator = Authenticator(store, jwt_secret, config.auth.token_ttl_s)
        await authenticator.ensure_admin()
        twin = Twin(site, profiles, config.speed)
        metrics.count_bad_fields(twin.bad_fields)
        restore_people(twin, await store.load_people(), time.time())
        ids = itertools.count(await store.max_alarm_id() + 1)
        book = AlarmBook(await store.load_alarms(), next_id=ids.__next__)
        hub = Hub(metrics)
        key = await asyncio.to_thread(command_key, config)
        link = await stack.enter_async_context(MqttLink(config.mqtt, site.id, key))
        link.register_metrics(metrics.registry)  # receiver process restarts
        desk = await load_desk(store, site=site, profiles=profiles, twin=twin, book=book,
                               settings=config.alarms, speed=config.speed, hub=hub,
                               config_sections=_config_sections(config, site))
        desk.mqtt = await stack.enter_async_context(GuardMqtt(config.mqtt, site.id,
                                                              desk.on_receipt))
        coordinator = Coordinator(site=site, speed=config.speed, twin=twin,
                                  engine=RuleEngine(site, config.speed), book=book,
                                  store=store, link=link, hub=hub, metrics=metrics,
                                  desk=desk, storage=config.storage)
        for name, value in (("coordinator", coordinator), ("auth", authenticator),
                            ("hub", hub), ("link", link), ("metrics", metrics),
                            ("store", store)):
            setattr(app.state, name, value)
        task = asyncio.create_task(coordinator.run(), name="coordinator")
        task.add_done_callback(_report_crash)
        desk_task = asyncio.create_task(desk.run(coordinator), name="alarm-desk")
        desk_task.add_done_callback(_report_crash)
        log.info("server for site %s running (speed %s, data %s)", site.id, config.speed,
                 data_dir)
        try:
            yield coordinator
        finally:
            task.cancel()
            desk_task.cancel()
            await asyncio.gather(task, desk_task, return_exceptions=True)


def _config_sections(config: ServerConfig, site: SiteConfig) -> dict[str, object]:
    """What the audit's ``config_change`` compares between starts (no secrets)."""
    server = config.model_dump(mode="json", exclude={"alarms"})
    server.get("mqtt", {}).pop("password", None)
    return {"server": server, "site": site.model_dump(mode="json")}


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.critical("coordinator stopped", exc_info=task.exception())


def _mount_dashboards(app: FastAPI) -> None:
    index = DASHBOARDS / "wall" / "index.html"
    if DASHBOARDS.is_dir():
        app.mount("/static", StaticFiles(directory=DASHBOARDS), name="static")

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        if index.is_file():
            return FileResponse(index)
        return PlainTextResponse("CustodyWatch server: the dashboards are not installed; "
                                 "the API is at /docs.\n")
