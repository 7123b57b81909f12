"""Fixtures of the edge tests: a site, drivers of one node, a watcher on the broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from edge.agent import AgentOptions
from edge.drivers.simulated import SimulatedDriver, make_simulated_driver
from protocol.codec import decode_for_topic, encode
from protocol.messages import Message
from protocol.profiles import ProfileSet, load_profiles
from protocol.site import SiteConfig, load_site
from protocol.topics import Topic, parse_topic

KEY = b"test-command-key"


@pytest.fixture(scope="session")
def profiles() -> ProfileSet:
    return load_profiles()


@pytest.fixture(scope="session")
def site(profiles: ProfileSet) -> SiteConfig:
    return load_site("reference", profiles)


def node_drivers(site: SiteConfig, profiles: ProfileSet, node: str) -> list[SimulatedDriver]:
    return [make_simulated_driver(d, profiles[d.profile]) for d in site.devices_of(node)]


def agent_options(broker_url: str, state_dir: Path, node: str = "edge-intake",
                  **overrides: object) -> AgentOptions:
    values: dict[str, object] = dict(site="reference", node=node, broker=broker_url,
                                     state_dir=state_dir, command_key=KEY, backoff_min_s=0.05,
                                     backoff_max_s=0.3, keepalive_s=5)
    values.update(overrides)
    return AgentOptions(**values)  # type: ignore[arg-type]


@dataclass
class Seen:
    topic: Topic
    message: Message


class Watcher:
    """Everything published under the site, decoded, awaitable by predicate."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._changed = asyncio.Condition()

    async def feed(self, client: aiomqtt.Client) -> None:
        async for m in client.messages:
            topic = parse_topic(str(m.topic))
            assert isinstance(m.payload, bytes)
            item = Seen(topic, decode_for_topic(topic, m.payload))
            async with self._changed:
                self.seen.append(item)
                self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[Seen], bool], after: int = 0,
                       within_s: float = 10.0) -> Seen:
        """The first message (from index ``after``) matching ``predicate``."""
        async def scan() -> Seen:
            async with self._changed:
                while True:
                    for item in self.seen[after:]:
                        if predicate(item):
                            return item
                    await self._changed.wait()
        return await asyncio.wait_for(scan(), within_s)


@asynccontextmanager
async def watching(port: int) -> AsyncIterator[Watcher]:
    """A Watcher subscribed to the whole site on the broker at ``port``."""
    w = Watcher()
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe("cw/v1/reference/#", qos=1)
        task = asyncio.create_task(w.feed(client))
        try:
            yield w
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


async def publish(port: int, topic: str, message: Message, retain: bool = False) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.publish(topic, encode(message), qos=1, retain=retain)
