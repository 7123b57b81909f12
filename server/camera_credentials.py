"""The cameras' logins for the server's live-view relay (docs/video.md "Live view").

The edges publish each camera's stream URL *without* its user:password (credentials are
never published nor logged), but the server opens the stream itself to relay it, so a
camera that needs a login needs one on the server too.  They live in a file the operator
keeps beside the database, ``<data_dir>/camera-credentials.yaml`` (or the server config's
``camera_credentials_file``), readable by the server's user only (mode 0600)::

    default: {username: viewer, password: "…"}      # every camera without its own entry
    cameras:
      camera-interrogation-1: {username: viewer, password: "…"}     # put into its URL
      camera-lawyer-1: {url: "rtsp://viewer:…@192.0.2.28:554/Streaming/Channels/102"}

``username``/``password`` go into the stream URL the camera's edge reported; a ``url``
replaces it (another address, another stream).  Not in the server config on purpose: that
one is copied into the audit's configuration digest and is shown around; this file is read
by the relay only, never served by any API, never logged.  Errors about it name
``file:line: field`` and never a value.  It is re-read when it changes (a new password
needs no restart); a file that turns invalid is reported in the log and the last good one
is kept.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from protocol.config import ConfigError, StrictModel, _line_of, read_yaml
from server.config import ServerConfig

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "camera-credentials.yaml"
STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")


class CameraLogin(StrictModel):
    """How the relay logs in to one camera: a username and password put into the reported
    stream URL, or a whole ``url`` of its own."""

    username: str | None = Field(default=None, min_length=1, max_length=128)
    password: SecretStr | None = Field(default=None, max_length=256)
    url: SecretStr | None = Field(default=None, max_length=2048)

    @field_validator("username", "password", "url", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):
            # YAML reads 123456 as a number and 0123 as 83: never guess a password.
            raise ValueError("must be text: put it in quotes")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> CameraLogin:
        if (self.url is None) == (self.username is None):
            raise ValueError("give either username (and password) or url")
        if self.password is not None and self.username is None:
            raise ValueError("a password needs a username")
        if self.url is not None:
            parts = urlsplit(self.url.get_secret_value())
            if parts.scheme not in STREAM_SCHEMES or not parts.hostname:
                raise ValueError(f"url must be an {'/'.join(STREAM_SCHEMES)} stream URL "
                                 "with a host")
        return self

    def source(self, reported: str) -> str:
        """The URL to open: our own, or the reported one with our login in it."""
        if self.url is not None:
            return self.url.get_secret_value()
        assert self.username is not None  # _one_way
        password = self.password.get_secret_value() if self.password is not None else None
        return with_login(reported, self.username, password)


class CredentialsFile(StrictModel):
    default: CameraLogin | None = None
    cameras: dict[str, CameraLogin] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_has_no_url(self) -> CredentialsFile:
        if self.default is not None and self.default.url is not None:
            raise ValueError("default: takes username and password only (a url belongs "
                             "to one camera)")
        return self


def with_login(url: str, username: str, password: str | None) -> str:
    """``url`` with ``username:password@`` (percent-encoded, FFmpeg decodes it) in place of
    any login it had."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6
    login = quote(username, safe="")
    if password is not None:
        login += ":" + quote(password, safe="")
    netloc = f"{login}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def load_credentials(path: str | Path) -> CredentialsFile:
    """Read and validate the file; ConfigError (file:line: field: message, no values)."""
    data, root = read_yaml(path)
    if data is None:
        return CredentialsFile()
    try:
        return CredentialsFile.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors(include_input=False):
            loc = tuple(e["loc"])
            field = ".".join(str(p) for p in loc) or "(top)"
            problems.append(f"{_line_of(root, loc) or '?'}: {field}: {e['msg']}")
        raise ConfigError(path, problems) from None  # the error's inputs are secrets


@dataclass(frozen=True, slots=True)
class Source:
    """What the relay opens for a camera.  ``url`` may hold a password: never log it."""

    url: str
    with_login: bool  # the server had credentials for this camera

    def __repr__(self) -> str:  # keeps the URL out of tracebacks and debug output
        return f"Source(with_login={self.with_login})"


class CameraCredentials:
    """The credentials file, re-read when it changes.  ``source(camera, reported_url)``."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.file = CredentialsFile()
        self.problem = ""  # the file's errors, if it is invalid (no secrets in them)
        self._version: tuple[int, int] | None = None

    def load(self) -> None:
        """Read the file now (at start, so a problem is in the log before anyone watches)."""
        self._reload_if_changed()

    def source(self, camera: str, reported: str) -> Source:
        self._reload_if_changed()
        login = self.file.cameras.get(camera) or self.file.default
        if login is None:
            return Source(reported, False)
        return Source(login.source(reported), True)

    def _reload_if_changed(self) -> None:
        if self.path is None:
            return
        try:
            st = self.path.stat()
        except FileNotFoundError:
            if self._version is not None:
                log.info("camera credentials %s removed", self.path)
            self.file, self.problem, self._version = CredentialsFile(), "", None
            return
        except OSError as err:
            log.error("camera credentials %s: %s", self.path, err.strerror or err)
            return
        version = (st.st_mtime_ns, st.st_size)
        if version == self._version:
            return
        self._version = version
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("camera credentials %s can be read by other users (mode %o); "
                        "chmod 600 it", self.path, stat.S_IMODE(st.st_mode))
        try:
            self.file = load_credentials(self.path)
        except ConfigError as err:
            self.problem = "; ".join(err.lines)
            log.error("camera credentials file invalid, keeping the previous one: %s",
                      self.problem)
            return
        self.problem = ""
        log.info("camera credentials %s: %d camera(s)%s", self.path, len(self.file.cameras),
                 " and a default login" if self.file.default else "")


def credentials_path(config: ServerConfig) -> Path:
    """The server config's ``camera_credentials_file``, else ``<data_dir>/<CREDENTIALS_FILE>``."""
    configured = config.camera_credentials_file
    return Path(configured) if configured else Path(config.data_dir) / CREDENTIALS_FILE


def write_credentials(path: Path, text: str) -> None:
    """Write the file readable by its owner only (tests, tools)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
