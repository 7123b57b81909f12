"""Edge agent configuration (one YAML file per agent), validated once at load.

Example::

    site: reference                  # bundled site name or a path (relative to this file)
    node: edge-intake                # must be a node of the site
    broker: mqtt://127.0.0.1:1883
    state_dir: ./var/edge-intake     # bdseq counter and the disk outbox
    speed: 1
    simulated: true                  # real drivers arrive in later issues
    command_key_file: ./command.key  # or env CUSTODYWATCH_COMMAND_KEY
    keepalive_s: 10
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator

from protocol.config import ConfigError, StrictModel, load_yaml_model, read_yaml
from protocol.profiles import ProfileSet, load_profiles
from protocol.site import SiteConfig, load_site

COMMAND_KEY_ENV = "CUSTODYWATCH_COMMAND_KEY"


class EdgeConfig(StrictModel):
    site: str = "reference"
    node: str = Field(pattern=r"^[a-z][a-z0-9\-]{0,47}$")
    broker: str = "mqtt://127.0.0.1:1883"
    state_dir: str = "./var/edge"
    speed: float = Field(default=1.0, gt=0, le=10_000)
    simulated: bool = True
    command_key_file: str | None = None
    keepalive_s: int = Field(default=10, ge=1, le=3600)
    profiles_dir: str | None = None

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parse_broker_url(value)
        return value

    @field_validator("node")
    @classmethod
    def _node_in_site(cls, value: str, info: ValidationInfo) -> str:
        site: SiteConfig | None = (info.context or {}).get("site")
        if site is not None and value not in {n.id for n in site.nodes}:
            raise ValueError(f"no node {value!r} in site {site.id!r}; "
                             f"known: {sorted(n.id for n in site.nodes)}")
        return value

    @field_validator("simulated")
    @classmethod
    def _simulated_only(cls, value: bool) -> bool:
        if not value:
            raise ValueError("real device drivers arrive in a later issue; use simulated: true")
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


def _relative_to(base: Path, value: str) -> str:
    candidate = base / value
    return str(candidate) if not Path(value).is_absolute() and candidate.exists() else value


def load_edge_config(path: str | Path) -> EdgeSetup:
    """Load an edge config, its site and profiles; raise ConfigError naming file and line."""
    path = Path(path)
    data, _ = read_yaml(path)
    base = path.parent
    raw_site = data.get("site", "reference") if isinstance(data, dict) else "reference"
    raw_profiles = data.get("profiles_dir") if isinstance(data, dict) else None
    profiles = load_profiles(_relative_to(base, raw_profiles) if isinstance(raw_profiles, str)
                             else None)
    site = load_site(_relative_to(base, raw_site), profiles) if isinstance(raw_site, str) else None
    config = load_yaml_model(path, EdgeConfig, site=site)
    assert site is not None  # a non-string site failed validation above
    key_file = _relative_to(base, config.command_key_file) if config.command_key_file else None
    state_dir = Path(config.state_dir)
    if not state_dir.is_absolute():
        state_dir = base / state_dir
    return EdgeSetup(config=config, site=site, profiles=profiles,
                     command_key=read_command_key(key_file), state_dir=state_dir)
