"""Edge agent configuration (one YAML file per agent), validated once at load.

Example::

    site: reference                  # bundled site name or a path (relative to this file)
    node: edge-intake                # must be a node of the site
    broker: mqtt://127.0.0.1:1883
    state_dir: ./var/edge-intake     # bdseq counter and the disk outbox
    speed: 1
    simulated: true                  # false: real drivers for cameras and recorders
    simulated_profiles: [reader]     # with simulated: false, profiles kept simulated
    devices:                         # with simulated: false, every camera and recorder
      camera-interrogation-1: {url: "rtsp://user:pass@10.0.0.21/sub"}
      camera-interrogation-2:          # any camera threshold, for this camera only
        url: "rtsp://user:pass@10.0.0.22/sub"
        thresholds: {dark_luma: 30, frozen_after_s: 8}
      recorder-interrogation-1: {url: "http://10.0.0.31"}
    command_key_file: ./command.key  # or env CUSTODYWATCH_COMMAND_KEY
    keepalive_s: 10
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from edge.video.diagnostics import DiagnosticThresholds
from edge.video.stream import redact
from protocol.config import (
    ConfigError,
    StrictModel,
    format_validation_error,
    load_yaml_model,
    read_yaml,
)
from protocol.profiles import DeviceProfile, ProfileSet, load_profiles
from protocol.site import SiteConfig, load_site

COMMAND_KEY_ENV = "CUSTODYWATCH_COMMAND_KEY"
REAL_DRIVERS = ("camera", "recorder")  # profiles with a real driver (edge/drivers/)
CAMERA_SCHEMES = ("rtsp", "rtsps", "http", "https")
RECORDER_SCHEMES = ("http", "https")
# Camera-only keys of a device entry, kept as shorthand for the same keys of ``thresholds:``.
CAMERA_OVERRIDES = ("sample_fps", "analysis_width", "connect_timeout_s", "read_timeout_s")


class DeviceSettings(StrictModel):
    """One real device of the node (``devices:`` entry).

    ``url``: a camera's stream (``rtsp://``, ``http(s)://`` MJPEG, a file path, or a device
    index like ``0``) or a recorder's status API (``http(s)://host[:port]``).  Credentials
    may be in the URL; they are never logged nor published (edge.video.stream.redact).

    ``thresholds``: for a camera, any of the camera profile's diagnostic thresholds
    (protocol/camera.py DiagnosticThresholds) for this camera only — an IR camera in a dark
    cell its own ``dark_luma``, a corridor camera its own ``frozen_after_s``.  Each key is
    checked here against its field (unknown name, type, range; ``…thresholds.<key>`` at its
    line); the orderings between thresholds once merged into the profile's (check_devices).
    The four top-level keys of CAMERA_OVERRIDES are shorthand for the same keys of
    ``thresholds`` (one or the other for a key, not both)."""

    url: str = Field(min_length=1, max_length=2048)
    sample_fps: float | None = Field(default=None, gt=0, le=30)
    analysis_width: int | None = Field(default=None, ge=64, le=1920)
    connect_timeout_s: float | None = Field(default=None, gt=0, le=120)
    read_timeout_s: float | None = Field(default=None, gt=0, le=120)
    thresholds: dict[str, float] = Field(default_factory=dict)  # after the shorthand keys

    @field_validator("url", mode="before")
    @classmethod
    def _device_index(cls, value: object) -> object:
        # ``url: 0`` in YAML is an int: a local capture device's index.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("thresholds", mode="before")
    @classmethod
    def _thresholds_are_camera_thresholds(cls, value: object, info: ValidationInfo) -> object:
        # Before the dict[str, float] check, so every bad key is named in one go.  A
        # ValidationError raised here is reported by pydantic under thresholds.<key>.
        if not isinstance(value, dict):
            return value  # not a mapping: the field's type says so
        checked, errors = DiagnosticThresholds.override_errors(value)
        errors += [{"type": PydanticCustomError(
                       "given_twice", "given twice: here and as the entry's shorthand {key}; "
                       "keep one", {"key": key}), "loc": (key,), "input": value[key]}
                   for key in CAMERA_OVERRIDES if key in value and info.data.get(key) is not None]
        if errors:
            raise ValidationError.from_exception_data("thresholds", errors)
        return checked

    def overrides(self) -> dict[str, float]:
        """This camera's thresholds over its profile's: the shorthand keys and
        ``thresholds``."""
        values = {k: getattr(self, k) for k in CAMERA_OVERRIDES}
        shorthand = {k: float(v) for k, v in values.items() if v is not None}
        return {**shorthand, **self.thresholds}

    def camera_profile(self, profile: DeviceProfile) -> DeviceProfile:
        """The camera profile with this camera's overrides applied."""
        if not self.overrides():
            return profile
        return profile.model_copy(update={"thresholds": {**profile.thresholds,
                                                         **self.overrides()}})


class AgentConfig(StrictModel):
    """What every agent config has, an edge node's and a gateway's (gateway/config.py):
    who it is, its broker, where its state lives, its command key, its timing."""

    site: str = "reference"
    node: str = Field(pattern=r"^[a-z][a-z0-9\-]{0,47}$")
    broker: str = "mqtt://127.0.0.1:1883"
    state_dir: str = "./var/edge"
    speed: float = Field(default=1.0, gt=0, le=10_000)
    command_key_file: str | None = None
    keepalive_s: int = Field(default=10, ge=1, le=3600)
    profiles_dir: str | None = None

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parse_broker_url(value)
        return value


class EdgeConfig(AgentConfig):
    simulated: bool = True
    # With simulated false: profiles of the node whose devices stay simulated (readers and
    # search stations have no real driver yet), and the real devices by id.
    simulated_profiles: list[str] = Field(default_factory=list)
    devices: dict[str, DeviceSettings] = Field(default_factory=dict)

    @field_validator("node")
    @classmethod
    def _node_in_site(cls, value: str, info: ValidationInfo) -> str:
        site: SiteConfig | None = (info.context or {}).get("site")
        if site is not None and value not in {n.id for n in site.nodes}:
            raise ValueError(f"no node {value!r} in site {site.id!r}; "
                             f"known: {sorted(n.id for n in site.nodes)}")
        return value


def parse_broker_url(url: str) -> tuple[str, int]:
    """``mqtt://host:port`` (or ``tcp://``, or bare ``host:port``) -> (host, port)."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"broker must look like mqtt://host:port, got {url!r}")
    try:
        port = parts.port or 1883
    except ValueError as err:
        raise ValueError(f"bad broker port in {url!r}") from err
    return parts.hostname, port


def read_command_key(key_file: str | Path | None) -> bytes | None:
    """The site-wide HMAC key for signed commands.

    Env ``CUSTODYWATCH_COMMAND_KEY`` wins; otherwise the key file's content.  Either way the
    key is the text with surrounding whitespace stripped, taken as UTF-8 bytes (the server's
    generated key file holds hex text, which is used as is, not hex-decoded)."""
    env = os.environ.get(COMMAND_KEY_ENV, "").strip()
    if env:
        return env.encode()
    if key_file is None:
        return None
    try:
        key = Path(key_file).read_bytes().strip()
    except OSError as err:
        raise ConfigError(key_file, [f"0: cannot read command key: {err.strerror or err}"]) from err
    if not key:
        raise ConfigError(key_file, ["0: command key file is empty"])
    return key


@dataclass(frozen=True, slots=True)
class EdgeSetup:
    """Everything an agent needs, loaded and cross-checked."""

    config: EdgeConfig
    site: SiteConfig
    profiles: ProfileSet
    command_key: bytes | None
    state_dir: Path


def relative_to(base: Path, value: str) -> str:
    """A path in a config is relative to the config file's folder when it exists there."""
    candidate = base / value
    return str(candidate) if not Path(value).is_absolute() and candidate.exists() else value


def load_site_of(path: Path) -> tuple[SiteConfig | None, ProfileSet]:
    """The profiles and the site an agent config file names (``profiles_dir``, ``site``).
    The site is None when its value is not a string: validating the config says so, with
    the line."""
    data, _ = read_yaml(path)
    raw_site = data.get("site", "reference") if isinstance(data, dict) else "reference"
    raw_profiles = data.get("profiles_dir") if isinstance(data, dict) else None
    profiles = load_profiles(relative_to(path.parent, raw_profiles)
                             if isinstance(raw_profiles, str) else None)
    if not isinstance(raw_site, str):
        return None, profiles
    return load_site(relative_to(path.parent, raw_site), profiles), profiles


def key_and_state_dir(path: Path, config: AgentConfig) -> tuple[bytes | None, Path]:
    """An agent config's command key and state directory (both relative to its file)."""
    base = path.parent
    key_file = relative_to(base, config.command_key_file) if config.command_key_file else None
    state_dir = Path(config.state_dir)
    if not state_dir.is_absolute():
        state_dir = base / state_dir
    return read_command_key(key_file), state_dir


def load_edge_config(path: str | Path) -> EdgeSetup:
    """Load an edge config, its site and profiles; raise ConfigError naming file and line."""
    path = Path(path)
    site, profiles = load_site_of(path)
    config = load_yaml_model(path, EdgeConfig, site=site)
    assert site is not None  # a non-string site failed validation above
    _check_against_site(path, config, site, profiles)
    command_key, state_dir = key_and_state_dir(path, config)
    return EdgeSetup(config=config, site=site, profiles=profiles, command_key=command_key,
                     state_dir=state_dir)


def url_problem(url: str, schemes: tuple[str, ...], paths: bool) -> str | None:
    """What is wrong with a device URL, syntactically (no I/O: check-config runs offline).
    ``paths``: a scheme-less value (file path, device index) is allowed too."""
    if "://" not in url:
        return None if paths and url.strip() else (
            f"expected a URL {'/'.join(s + '://' for s in schemes)}host…")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as err:
        return f"not a valid URL: {err}"
    if parts.scheme.lower() not in schemes:
        return f"unsupported scheme {parts.scheme!r}; expected one of {list(schemes)}"
    if not parts.hostname:
        return "the URL has no host"
    return None


@dataclass(frozen=True, slots=True)
class SiteProblem:
    loc: tuple[str | int, ...]
    message: str
    shown: object = None  # the offending value as the error shows it (never a password)


def check_devices(config: EdgeConfig, site: SiteConfig,
                  profiles: ProfileSet) -> list[SiteProblem]:
    """``devices`` and ``simulated_profiles`` against the site (pure; empty list: fine)."""
    node = config.node
    refs = {d.id: d for d in site.devices()}
    mine = [d for d in refs.values() if d.node == node]
    node_profiles = sorted({d.profile for d in mine})
    problems: list[SiteProblem] = []
    for i, name in enumerate(config.simulated_profiles):
        if name not in node_profiles:
            problems.append(SiteProblem(("simulated_profiles", i),
                                        f"node {node} has no {name} devices; its profiles: "
                                        f"{node_profiles}", name))
    for device_id, entry in config.devices.items():
        loc: tuple[str | int, ...] = ("devices", device_id)
        ref = refs.get(device_id)
        if ref is None:
            problems.append(SiteProblem(loc, f"no device {device_id!r} in site {site.id!r}",
                                        device_id))
            continue
        if ref.node != node:
            problems.append(SiteProblem(loc, f"{device_id} belongs to node {ref.node}, not "
                                        f"{node}", device_id))
            continue
        if ref.profile not in REAL_DRIVERS:
            takes = " and ".join(p + "s" for p in REAL_DRIVERS)
            problems.append(SiteProblem(loc, f"{device_id} is a {ref.profile}; devices: takes "
                                        f"{takes} only", device_id))
            continue
        camera = ref.profile == "camera"
        problem = url_problem(entry.url, CAMERA_SCHEMES if camera else RECORDER_SCHEMES,
                              paths=camera)
        if problem:
            problems.append(SiteProblem((*loc, "url"), problem, redact(entry.url)))
        if not camera:
            problems += [SiteProblem((*loc, k), "only for cameras")
                         for k in entry.overrides() if k not in entry.thresholds]
            if entry.thresholds:
                problems.append(SiteProblem((*loc, "thresholds"), "only for cameras"))
        else:
            problems += _merged_threshold_problems(loc, entry, profiles["camera"])
    if config.simulated:
        return problems
    kept = set(config.simulated_profiles)
    missing = [d.id for d in mine if d.profile in REAL_DRIVERS and d.profile not in kept
               and d.id not in config.devices]
    if missing:
        problems.append(SiteProblem(
            ("devices",), f"simulated: false needs an entry (url) for every camera and "
            f"recorder of {node} not in simulated_profiles; missing: {missing}"))
    no_driver = sorted({d.profile for d in mine} - set(REAL_DRIVERS) - kept)
    if no_driver:
        where = "simulated_profiles" if "simulated_profiles" in config.model_fields_set \
            else "simulated"
        problems.append(SiteProblem(
            (where,), f"real drivers for {no_driver} are not available yet (they come from "
            f"the vendors' SDKs); list them in simulated_profiles to keep them simulated"))
    return problems


def _merged_threshold_problems(loc: tuple[str | int, ...], entry: DeviceSettings,
                               profile: DeviceProfile) -> list[SiteProblem]:
    """A camera's overrides merged into its profile's thresholds, checked whole (the
    orderings: dark_luma above black_luma, …), each problem at the key the entry gave:
    ``thresholds.<key>``, the shorthand ``<key>``, else ``thresholds`` (the clash is with a
    profile value the entry did not change)."""
    try:
        DiagnosticThresholds.model_validate({**profile.thresholds, **entry.overrides()})
    except ValidationError as err:
        problems = []
        for e in err.errors():
            key = str(e["loc"][0]) if e["loc"] else ""
            if key in entry.thresholds:
                where: tuple[str | int, ...] = (*loc, "thresholds", key)
            elif key in entry.overrides():
                where = (*loc, key)
            else:
                where = (*loc, "thresholds") if entry.thresholds else loc
            problems.append(SiteProblem(where, f"with the camera profile's thresholds: "
                                               f"{key}: {e['msg']}", e.get("input")))
        return problems
    return []


def _check_against_site(path: Path, config: EdgeConfig, site: SiteConfig,
                        profiles: ProfileSet) -> None:
    """``devices`` / ``simulated_profiles`` against the site; ConfigError with file:line."""
    problems = check_devices(config, site, profiles)
    if not problems:
        return
    # A value of {} is not echoed as "(got …)" by format_validation_error.
    details: list[Any] = [{"type": PydanticCustomError("edge_site", p.message), "loc": p.loc,
                           "input": {} if p.shown is None else p.shown} for p in problems]
    err = ValidationError.from_exception_data("EdgeConfig", details)
    _, root = read_yaml(path)
    raise ConfigError(path, format_validation_error(err, root))
