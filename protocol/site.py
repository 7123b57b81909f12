"""The site: a centre's zones (with floor-plan geometry), its edge nodes and gateways, and
the devices they host.  Device ids are ``<profile>-<zone>`` (CONTRACT.md)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, model_validator

from protocol.config import ConfigError, StrictModel, load_yaml_model
from protocol.profiles import Label, ProfileSet

ZONE_ID = r"^[a-z][a-z0-9\-]{0,47}$"

ZoneKind = Literal[
    "entrance", "body_check", "info_collection", "locker_bank", "holding", "interrogation",
    "inquiry", "juvenile", "lawyer_meeting", "corridor", "duty_desk", "exit",
]
SECURE_KINDS_BEFORE_SEARCH = frozenset({"entrance", "body_check"})


class Rect(StrictModel):
    """Floor-plan rectangle in plan units (the page scales the plan to fit)."""

    x: float = Field(ge=0)
    y: float = Field(ge=0)
    w: float = Field(gt=0)
    h: float = Field(gt=0)


class ZoneConfig(StrictModel):
    id: str = Field(pattern=ZONE_ID)
    kind: ZoneKind
    name: Label
    capacity: int | None = Field(default=None, ge=1, le=500)
    rect: Rect
    devices: list[str] = Field(description="profile ids; each makes device <profile>-<zone>")


class NodeConfig(StrictModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9\-]{0,47}$")
    kind: Literal["edge", "gateway"]
    zones: list[str] | Literal["*"]
    profiles: list[str]
    # 4 s: the server declares a node silent after 3 heartbeats (12 s), inside the
    # 1.5 × keepalive (15 s) goal even when the broker's Will comes late (docs/protocol.md).
    heartbeat_s: float = Field(default=4.0, gt=0, le=3600)


class FloorConfig(StrictModel):
    width: float = Field(gt=0)
    height: float = Field(gt=0)


class SiteConfig(StrictModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9\-]{0,47}$")
    name: Label
    timezone: str = "Asia/Shanghai"
    floor: FloorConfig
    zones: list[ZoneConfig]
    nodes: list[NodeConfig]
    rules: dict[str, Any] = Field(default_factory=dict,
                                  description="per-rule parameter overrides (docs/rules.md)")

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> SiteConfig:
        ids = [z.id for z in self.zones]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"zones: duplicate ids {dupes}")
        profiles: ProfileSet | None = (info.context or {}).get("profiles")
        zone_ids = set(ids)
        for n in self.nodes:
            if n.zones != "*":
                unknown = sorted(set(n.zones) - zone_ids)
                if unknown:
                    raise ValueError(f"nodes.{n.id}.zones: unknown zones {unknown}")
            if profiles is not None:
                unknown = sorted(set(n.profiles) - set(profiles))
                if unknown:
                    raise ValueError(f"nodes.{n.id}.profiles: unknown profiles {unknown}")
        for z in self.zones:
            if profiles is not None:
                unknown = sorted(set(z.devices) - set(profiles))
                if unknown:
                    raise ValueError(f"zones.{z.id}.devices: unknown profiles {unknown}")
            for p in z.devices:
                hosts = [n.id for n in self.nodes
                         if p in n.profiles and (n.zones == "*" or z.id in n.zones)]
                if len(hosts) != 1:
                    raise ValueError(f"device {p}-{z.id}: must be hosted by exactly one node, "
                                     f"found {hosts or 'none'}")
        return self

    # -------------------------------------------------------------- derived views

    def zone(self, zone_id: str) -> ZoneConfig:
        for z in self.zones:
            if z.id == zone_id:
                return z
        raise KeyError(zone_id)

    def devices(self) -> list[DeviceRef]:
        out = []
        for z in self.zones:
            for p in z.devices:
                node = next(n.id for n in self.nodes
                            if p in n.profiles and (n.zones == "*" or z.id in n.zones))
                out.append(DeviceRef(id=f"{p}-{z.id}", profile=p, zone=z.id, node=node))
        return out

    def devices_of(self, node_id: str) -> list[DeviceRef]:
        return [d for d in self.devices() if d.node == node_id]


@dataclass(frozen=True, slots=True)
class DeviceRef:
    id: str
    profile: str
    zone: str
    node: str


def bundled_sites_dir() -> Path:
    here = Path(__file__).resolve().parent.parent / "simulators" / "sites"
    if here.is_dir():
        return here
    return Path(str(resources.files("simulators") / "sites"))  # pragma: no cover


def resolve_site_path(name_or_path: str) -> Path:
    """A bundled site name (``reference``) or a path to a site YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    bundled = bundled_sites_dir() / f"{name_or_path}.yaml"
    if not bundled.exists():
        raise ConfigError(name_or_path, ["0: no such site file or bundled site"])
    return bundled


def load_site(name_or_path: str | Path, profiles: ProfileSet) -> SiteConfig:
    return load_yaml_model(resolve_site_path(str(name_or_path)), SiteConfig, profiles=profiles)
