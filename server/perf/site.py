"""A synthetic site for the benchmarks: N zones of the reference centre's kinds, their
devices, the edge agents and Modbus gateways that host them.

The server only accepts messages from nodes and devices its site declares, so the load
generators publish for exactly the devices written here.  Layout:

* zone kinds cycle through a 20-zone pattern with the reference centre's proportions
  (mostly holding and interview rooms);
* every zone has a reader, a camera and a panic button; doors, climate sensors, smoke
  detectors, recorders, search terminals and lockers as in the reference centre;
* ``devices_per_zone`` pads each zone with second cameras, climate sensors and smoke
  detectors (profile aliases such as ``camera2``: a site has one device per profile and
  zone, CONTRACT.md) — how ``bench scale`` reaches 2,000 devices in 200 zones;
* one edge agent per 10 zones (readers, cameras, recorders, search terminals), one
  gateway per 20 zones (doors, climate, smoke, lockers), and ``gw-panic`` hosting every
  panic button, so the latency probe owns the panic buttons' node (its sequence numbers)
  alone;
* optionally ``probe-death``, a node without devices whose death ``bench scale`` times.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from protocol.profiles import bundled_profiles_dir, load_profiles
from protocol.site import SiteConfig, load_site

SITE_ID = "perf"
PANIC_NODE = "gw-panic"
DEATH_NODE = "probe-death"
ZONES_PER_EDGE = 10
ZONES_PER_GATEWAY = 20

_PATTERN = ("holding", "interrogation", "holding", "inquiry", "holding", "corridor",
            "interrogation", "holding", "body_check", "juvenile", "holding", "interrogation",
            "info_collection", "holding", "inquiry", "locker_bank", "interrogation",
            "entrance", "corridor", "exit")
_EDGE_EXTRA = {"interrogation": ("recorder",), "inquiry": ("recorder",),
               "juvenile": ("recorder",), "body_check": ("search",)}
_FIELD = {"entrance": ("door",), "exit": ("door",), "holding": ("door", "env", "smoke"),
          "interrogation": ("door", "env"), "inquiry": ("door", "env"),
          "juvenile": ("door", "env"), "locker_bank": ("lockers",), "corridor": ("smoke",)}
EDGE_PROFILES = ("reader", "camera", "recorder", "search")
GATEWAY_PROFILES = ("door", "env", "smoke", "lockers")
# (alias, profile it copies, hosted by an edge?) in the order zones are padded with them.
ALIASES: tuple[tuple[str, str, bool], ...] = (
    ("camera2", "camera", True), ("env2", "env", False), ("camera3", "camera", True),
    ("smoke2", "smoke", False), ("env3", "env", False), ("camera4", "camera", True),
    ("door2", "door", False), ("env4", "env", False),
)
BASE_PROFILE = {alias: base for alias, base, _ in ALIASES}


@dataclass(frozen=True, slots=True)
class DevicePlan:
    id: str
    profile: str  # as declared in the site (may be an alias)
    base: str  # the bundled profile it behaves like
    zone: str


@dataclass(frozen=True, slots=True)
class NodePlan:
    """One node the load generators (or a probe) publish for."""

    id: str
    kind: str  # "edge" | "gateway"
    devices: tuple[DevicePlan, ...]
    heartbeat_s: float = 4.0  # the site default (protocol/site.py NodeConfig)


@dataclass(frozen=True, slots=True)
class BenchSite:
    site_file: Path
    profiles_dir: Path
    config: SiteConfig
    nodes: dict[str, NodePlan]

    @property
    def device_count(self) -> int:
        return sum(len(n.devices) for n in self.nodes.values())

    def load_nodes(self) -> list[NodePlan]:
        """The nodes that carry background load (not the probes' nodes)."""
        return [n for nid, n in self.nodes.items() if nid not in (PANIC_NODE, DEATH_NODE)]


def _zone_devices(kind: str, devices_per_zone: int | None) -> list[str]:
    devices = ["reader", "camera", *_EDGE_EXTRA.get(kind, ()), "panic", *_FIELD.get(kind, ())]
    if devices_per_zone is not None:
        for alias, _, _ in ALIASES:
            if len(devices) >= devices_per_zone:
                break
            devices.append(alias)
        if len(devices) < devices_per_zone:
            raise ValueError(f"at most {len(devices)} devices per zone")
    return devices


def site_dict(zones: int, devices_per_zone: int | None = None,
              death_probe: bool = False) -> dict[str, Any]:
    """The site as a plain dict (what the YAML file holds)."""
    if zones < 1:
        raise ValueError("zones must be >= 1")
    zone_list: list[dict[str, Any]] = []
    for i in range(zones):
        kind = _PATTERN[i % len(_PATTERN)]
        zone_list.append({
            "id": f"{kind.replace('_', '-')}-{i + 1}", "kind": kind,
            "name": {"zh": f"房间{i + 1}", "en": f"{kind} {i + 1}"},
            **({"capacity": 2} if kind == "holding" else {}),
            "rect": {"x": (i % 20) * 100, "y": (i // 20) * 100, "w": 90, "h": 90},
            "devices": _zone_devices(kind, devices_per_zone),
        })
    used = {p for z in zone_list for p in z["devices"]}
    edge_aliases = [a for a, _, edge in ALIASES if edge and a in used]
    gw_aliases = [a for a, _, edge in ALIASES if not edge and a in used]
    nodes: list[dict[str, Any]] = []
    for j in range(0, zones, ZONES_PER_EDGE):
        nodes.append({"id": f"edge-{j // ZONES_PER_EDGE + 1}", "kind": "edge",
                      "zones": [z["id"] for z in zone_list[j:j + ZONES_PER_EDGE]],
                      "profiles": [*EDGE_PROFILES, *edge_aliases]})
    for j in range(0, zones, ZONES_PER_GATEWAY):
        nodes.append({"id": f"gw-{j // ZONES_PER_GATEWAY + 1}", "kind": "gateway",
                      "zones": [z["id"] for z in zone_list[j:j + ZONES_PER_GATEWAY]],
                      "profiles": [*GATEWAY_PROFILES, *gw_aliases]})
    nodes.append({"id": PANIC_NODE, "kind": "gateway", "zones": "*", "profiles": ["panic"]})
    if death_probe:
        nodes.append({"id": DEATH_NODE, "kind": "edge", "zones": [], "profiles": []})
    return {"id": SITE_ID, "name": {"zh": "基准中心", "en": "Benchmark centre"},
            "floor": {"width": 2000, "height": 100 * ((zones + 19) // 20)},
            "zones": zone_list, "nodes": nodes}


def write_profiles(directory: Path, aliases: set[str]) -> Path:
    """The bundled device profiles plus the aliases the site uses (copies under a new id)."""
    directory.mkdir(parents=True, exist_ok=True)
    bundled = bundled_profiles_dir()
    for f in sorted(bundled.glob("*.yaml")):
        (directory / f.name).write_bytes(f.read_bytes())
    for alias in sorted(aliases):
        data = yaml.safe_load((bundled / f"{BASE_PROFILE[alias]}.yaml").read_text("utf-8"))
        data["id"] = alias
        data["name"] = {"zh": f"{data['name']['zh']} ({alias})",
                        "en": f"{data['name']['en']} ({alias})"}
        (directory / f"{alias}.yaml").write_text(
            yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return directory


def make_site(directory: Path, zones: int, devices_per_zone: int | None = None,
              death_probe: bool = False) -> BenchSite:
    """Write ``site.yaml`` and ``profiles/`` under ``directory``; validate them as the
    server will, and return the node plans."""
    data = site_dict(zones, devices_per_zone, death_probe)
    used = {p for z in data["zones"] for p in z["devices"]}
    profiles_dir = write_profiles(directory / "profiles", used & set(BASE_PROFILE))
    site_file = directory / "site.yaml"
    site_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    config = load_site(site_file, load_profiles(profiles_dir))
    nodes = {}
    for n in config.nodes:
        devices = tuple(DevicePlan(d.id, d.profile, BASE_PROFILE.get(d.profile, d.profile),
                                   d.zone) for d in config.devices_of(n.id))
        nodes[n.id] = NodePlan(n.id, n.kind, devices, n.heartbeat_s)
    return BenchSite(site_file, profiles_dir, config, nodes)
