"""``custodywatch check-config FILE…``: validate any config file of the project.

The kind of each file is detected from its top-level keys: a device profile (``id`` and
``metrics``), a site (``zones`` and ``nodes``), a gateway config (``node`` and ``buses``), an
edge agent config (``node``), a scenario (``steps``), the live view's camera credentials
(only ``cameras`` and/or ``default``; problems are named without the secret values),
otherwise a server config.  A camera profile's diagnostic thresholds are checked with it
(ranges, fractions, orderings: protocol/camera.py).  Sites,
edge and gateway configs and scenarios are checked against the bundled device profiles.
Prints ``OK <file>`` or the problems as ``file:line: field: message (got value)``; exit
status 1 if any file is bad.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from protocol.config import ConfigError, read_yaml
from protocol.profiles import ProfileSet, load_profile, load_profiles
from protocol.site import load_site
from server.camera_credentials import load_credentials
from server.config import load_server_config


def detect_kind(data: Any) -> str:
    if not isinstance(data, dict):
        return "unknown"
    keys = set(data)
    if {"id", "metrics"} <= keys:
        return "profile"
    if {"zones", "nodes"} <= keys:
        return "site"
    if "steps" in keys:
        return "scenario"
    if keys and keys <= {"cameras", "default"}:
        return "camera-credentials"
    if "node" in keys and "buses" in keys:
        return "gateway"
    if "node" in keys:
        return "edge"
    return "server"


def _optional(module: str, function: str) -> Callable[..., Any] | None:
    """A loader written in another package, if it exists yet."""
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError):
        return None


def check_file(path: Path, profiles: Callable[[], ProfileSet]) -> str:
    """Validate one file; return its kind (or "SKIP (why)"), raise ConfigError."""
    data, _ = read_yaml(path)
    kind = detect_kind(data)
    if kind == "unknown":
        raise ConfigError(path, ["1: (top): expected a mapping of settings"])
    if kind == "profile":
        load_profile(path)
    elif kind == "camera-credentials":
        load_credentials(path)
    elif kind == "site":
        load_site(path, profiles())
    elif kind == "server":
        config = load_server_config(path)
        # The site and profiles it names must load too (paths relative to the cwd, as at
        # server start).
        load_site(config.site, load_profiles(config.profiles_dir) if config.profiles_dir
                  else profiles())
    elif kind == "edge":
        loader = _optional("edge.config", "load_edge_config")
        if loader is None:
            return "SKIP (edge agent not installed)"
        loader(path)
    elif kind == "gateway":
        loader = _optional("gateway.config", "load_gateway_config")
        if loader is None:
            return "SKIP (gateway not installed)"
        loader(path)
    elif kind == "scenario":
        loader = _optional("simulators.scenario", "load_scenario")
        if loader is None:
            return "SKIP (simulators not installed)"
        loader(path, profiles())
    return kind


def check_config(files: list[str]) -> int:
    cache: dict[str, ProfileSet] = {}

    def profiles() -> ProfileSet:
        if "bundled" not in cache:
            cache["bundled"] = load_profiles()
        return cache["bundled"]

    failed = False
    for name in files:
        try:
            kind = check_file(Path(name), profiles)
        except ConfigError as err:
            failed = True
            for line in err.lines:
                print(line, file=sys.stderr)
        else:
            print(f"SKIP {name}: {kind[5:]}" if kind.startswith("SKIP") else f"OK {name}")
    return 1 if failed else 0
