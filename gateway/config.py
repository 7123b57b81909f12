"""Gateway configuration (one YAML file per gateway), validated once at load.

Example::

    site: reference
    node: gw-1                        # a node of kind gateway in the site
    broker: mqtt://127.0.0.1:1883
    state_dir: ./var/gw-1             # bdseq counter and the disk outbox
    command_key_file: ./command.key   # or env CUSTODYWATCH_COMMAND_KEY
    buses:
      - {id: lan, kind: tcp, host: 10.0.5.20, port: 502}
      - {id: rs485-a, kind: rtu, port: /dev/ttyUSB0, baudrate: 19200, parity: E}
    devices:                          # every Modbus device the site puts on this node
      - {id: door-holding-1, bus: rs485-a, unit: 3}
      - {id: env-holding-1, bus: lan, unit: 1, poll_ms: 2000}
    health: {lost_after: 2, backoff_min_s: 0.5, backoff_max_s: 10}

The register map, poll period, timeout and retries of a device come from its profile's
``modbus:`` section; ``poll_ms``, ``timeout_ms`` and ``retries`` here override them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, model_validator

from edge.config import AgentConfig, key_and_state_dir, load_site_of
from protocol.config import ConfigError, StrictModel, load_yaml_model
from protocol.profiles import DeviceProfile, ProfileSet
from protocol.site import DeviceRef, SiteConfig

BUS_ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class TcpBusConfig(StrictModel):
    id: str = Field(pattern=BUS_ID)
    kind: Literal["tcp"] = "tcp"
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535)


class RtuBusConfig(StrictModel):
    id: str = Field(pattern=BUS_ID)
    kind: Literal["rtu"]
    port: str = Field(min_length=1, description="serial device, e.g. /dev/ttyUSB0")
    baudrate: int = Field(default=19_200, ge=300, le=921_600)
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "E"  # Modbus over serial line 2.5.1: even by default
    stopbits: Literal[1, 2] = 1
    gap_ms: float | None = Field(default=None, ge=0, le=1000,
                                 description="silence between frames; default 3.5 chars")


BusConfig = Annotated[TcpBusConfig | RtuBusConfig, Field(discriminator="kind")]


class DeviceConfig(StrictModel):
    id: str
    bus: str
    unit: int = Field(default=1, ge=1, le=247)  # 0 is broadcast, 248..255 reserved
    poll_ms: int | None = Field(default=None, ge=10, le=3_600_000)
    timeout_ms: int | None = Field(default=None, ge=5, le=60_000)
    retries: int | None = Field(default=None, ge=0, le=5)


class HealthConfig(StrictModel):
    lost_after: int = Field(default=2, ge=1, le=100, description="failed polls before lost")
    backoff_min_s: float = Field(default=0.5, gt=0, le=3600)
    backoff_max_s: float = Field(default=10.0, gt=0, le=3600)


class GatewayConfig(AgentConfig):
    """The agent config (site, node, broker, state_dir, command key, timing) plus the
    buses, the devices on them and the health policy."""

    state_dir: str = "./var/gateway"
    buses: list[BusConfig] = Field(min_length=1)
    devices: list[DeviceConfig] = Field(min_length=1)
    health: HealthConfig = HealthConfig()

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> GatewayConfig:
        bus_ids = [b.id for b in self.buses]
        dupes = sorted({b for b in bus_ids if bus_ids.count(b) > 1})
        if dupes:
            raise ValueError(f"buses: duplicate ids {dupes}")
        seen: dict[tuple[str, int], str] = {}
        for i, d in enumerate(self.devices):
            if d.bus not in bus_ids:
                raise ValueError(f"devices.{i}.bus: no bus {d.bus!r}; known: {bus_ids}")
            if (d.bus, d.unit) in seen:
                raise ValueError(f"devices.{i}.unit: unit {d.unit} on bus {d.bus} is already "
                                 f"{seen[(d.bus, d.unit)]}")
            seen[(d.bus, d.unit)] = d.id
        if self.health.backoff_min_s > self.health.backoff_max_s:
            raise ValueError("health: backoff_min_s > backoff_max_s")
        site: SiteConfig | None = (info.context or {}).get("site")
        profiles: ProfileSet | None = (info.context or {}).get("profiles")
        if site is not None and profiles is not None:
            check_against_site(self, site, profiles)
        return self


def check_against_site(config: GatewayConfig, site: SiteConfig, profiles: ProfileSet) -> None:
    node = next((n for n in site.nodes if n.id == config.node), None)
    if node is None or node.kind != "gateway":
        raise ValueError(f"node: {config.node!r} is not a gateway node of site {site.id!r}; "
                         f"known: {sorted(n.id for n in site.nodes if n.kind == 'gateway')}")
    hosted = {d.id: d for d in site.devices_of(config.node)}
    for i, d in enumerate(config.devices):
        if d.id not in hosted:
            raise ValueError(f"devices.{i}.id: {d.id!r} is not a device of node {config.node}")
        if profiles[hosted[d.id].profile].modbus is None:
            raise ValueError(f"devices.{i}.id: profile {hosted[d.id].profile!r} has no "
                             f"Modbus register map")
    missing = sorted(set(hosted) - {d.id for d in config.devices})
    if missing:
        raise ValueError(f"devices: the site puts {missing} on {config.node}; configure them")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One Modbus device to poll: who it is, its profile (with the map), where it is."""

    ref: DeviceRef
    profile: DeviceProfile
    bus: str
    unit: int
    poll_ms: int | None = None
    timeout_ms: int | None = None
    retries: int | None = None


@dataclass(frozen=True, slots=True)
class GatewaySetup:
    config: GatewayConfig
    site: SiteConfig
    profiles: ProfileSet
    command_key: bytes | None
    state_dir: Path

    def devices(self) -> list[DeviceSpec]:
        hosted = {d.id: d for d in self.site.devices_of(self.config.node)}
        return [DeviceSpec(hosted[d.id], self.profiles[hosted[d.id].profile], d.bus, d.unit,
                           d.poll_ms, d.timeout_ms, d.retries) for d in self.config.devices]


def setup_from(config: GatewayConfig, site: SiteConfig, profiles: ProfileSet,
               command_key: bytes | None, state_dir: Path) -> GatewaySetup:
    """A setup from a config built in code (the simulated centre, tests)."""
    check_against_site(config, site, profiles)
    return GatewaySetup(config, site, profiles, command_key, state_dir)


def load_gateway_config(path: str | Path) -> GatewaySetup:
    """Load a gateway config, its site and profiles; raise ConfigError naming file and line."""
    path = Path(path)
    site, profiles = load_site_of(path)
    if site is None:
        raise ConfigError(path, ["1: site: must be a bundled site name or a path"])
    config = load_yaml_model(path, GatewayConfig, site=site, profiles=profiles)
    command_key, state_dir = key_and_state_dir(path, config)
    return GatewaySetup(config=config, site=site, profiles=profiles, command_key=command_key,
                        state_dir=state_dir)
