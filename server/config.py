"""The server's configuration (YAML, validated once at load; see protocol.config).

Secrets never live in the YAML: the command HMAC key comes from the environment
(``CUSTODYWATCH_COMMAND_KEY``) or a key file generated on first start, and the JWT
secret from ``<data_dir>/jwt.key`` (server/auth.py).
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from protocol.config import StrictModel, load_yaml_model
from server.alarms.settings import AlarmSettings

log = logging.getLogger(__name__)

COMMAND_KEY_ENV = "CUSTODYWATCH_COMMAND_KEY"


class MqttSettings(StrictModel):
    url: str = "mqtt://127.0.0.1:1883"
    client_id: str = Field(default="", max_length=64,
                           description="empty: custodywatch-server-<site>")
    keepalive_s: int = Field(default=10, ge=2, le=3600)
    username: str | None = None
    password: str | None = None
    receiver: Literal["process", "thread"] = Field(
        default="process",
        description="process: paho receives in a child process, in parallel with the "
                    "coordinator (faster on 2+ cores); thread: in a thread of the server "
                    "(server/ingest.py)")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ValueError("must look like mqtt://host:port")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as err:
            raise ValueError(f"bad port: {err}") from None
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 1883


class HttpSettings(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)


class AuthSettings(StrictModel):
    token_ttl_s: int = Field(default=12 * 3600, ge=60, le=30 * 24 * 3600)


class StorageSettings(StrictModel):
    """The embedded store's recent time series (server/store/sqlite.py ``samples``)."""

    samples_retention_days: float = Field(default=7.0, gt=0, le=3650,
                                          description="telemetry samples kept this long")
    prune_interval_s: float = Field(default=60.0, ge=1, le=86400,
                                    description="how often expired samples are deleted")

    @property
    def samples_retention_s(self) -> float:
        return self.samples_retention_days * 86400


class ServerConfig(StrictModel):
    site: str = Field(default="reference", description="bundled site name or path")
    profiles_dir: Path | None = None
    data_dir: Path = Path("./var")
    speed: float = Field(default=1.0, gt=0, le=10_000)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    command_key_file: Path | None = Field(default=None,
                                          description="default <data_dir>/command.key")
    auth: AuthSettings = Field(default_factory=AuthSettings)
    camera_credentials_file: Path | None = Field(
        default=None, description="the live view's camera logins (server/camera_credentials.py); "
                                  "default <data_dir>/camera-credentials.yaml")
    alarms: AlarmSettings = Field(default_factory=AlarmSettings)  # docs/alarms.md
    storage: StorageSettings = Field(default_factory=StorageSettings)


def load_server_config(path: str | Path) -> ServerConfig:
    """Raise protocol.config.ConfigError (file:line: field: message) on any problem."""
    return load_yaml_model(path, ServerConfig)


def build_server_config(**fields: Any) -> ServerConfig:
    """A config made in code (demo, tests): ``build_server_config(data_dir=d,
    mqtt={"url": url}, http={"port": 0}, speed=60)``; validated like a file."""
    return ServerConfig.model_validate(fields)


def read_or_create_secret(path: Path, size: int = 32) -> bytes:
    """A random secret kept in ``path`` (mode 0600) as hex text, created on first use.

    The key is the file's text with surrounding whitespace stripped, as bytes (not
    hex-decoded): the edge agents read a shared command key file the same way
    (edge/config.py read_command_key)."""
    if path.exists():
        data = path.read_bytes().strip()
        if data:
            return data
    path.parent.mkdir(parents=True, exist_ok=True)
    data = secrets.token_hex(size).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data + b"\n")
    log.info("generated secret %s", path)
    return data


def command_key(config: ServerConfig) -> bytes:
    """The site-wide HMAC key for signed commands (env wins over the key file)."""
    env = os.environ.get(COMMAND_KEY_ENV, "").strip()
    if env:
        return env.encode()
    path = config.command_key_file or config.data_dir / "command.key"
    return read_or_create_secret(Path(path))
