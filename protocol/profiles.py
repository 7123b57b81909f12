"""Device profiles: one YAML file per device type in device_profiles/ (data, not code).

A profile names the metrics a device reports (type, unit, range), the events it emits,
the commands it accepts, its heartbeat expectation and default thresholds.  A Modbus
device adds its register map (``modbus:``, :class:`protocol.modbus_map.ModbusMap`), which is
checked against the profile's metrics, events and commands at load.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from protocol.camera import DiagnosticThresholds
from protocol.config import ConfigError, StrictModel, load_yaml_model
from protocol.messages import EVENT_KINDS
from protocol.modbus_map import ModbusMap

NAME = r"^[a-z][a-z0-9_]{0,47}$"

# Profiles whose ``thresholds`` have a schema of their own, checked when the profile loads
# so a bad value is named by file:line: thresholds.<name> (check-config, every start).
THRESHOLD_MODELS: dict[str, type[StrictModel]] = {"camera": DiagnosticThresholds}


class Label(StrictModel):
    zh: str
    en: str


class MetricSpec(StrictModel):
    type: Literal["bool", "int", "float", "str", "tags"]
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    description: str = ""

    @model_validator(mode="after")
    def _range(self) -> MetricSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} > max {self.max}")
        if (self.min is not None or self.max is not None) and self.type not in ("int", "float"):
            raise ValueError(f"a {self.type} metric has no range")
        return self


class ParamSpec(StrictModel):
    type: Literal["bool", "int", "float", "str"]
    min: float | None = None
    max: float | None = None
    required: bool = False


class CommandSpec(StrictModel):
    description: str = ""
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    dangerous: bool = False  # opens a door or locker: needs a privileged role

    def problems(self, params: Mapping[str, object]) -> list[str]:
        """What is wrong with ``params`` for this command: unknown or missing ones, wrong
        types, values out of range (empty: nothing)."""
        out = [f"unknown parameter {p!r} (it takes: {', '.join(self.params) or 'none'})"
               for p in sorted(set(params) - set(self.params))]
        for name, spec in self.params.items():
            if name not in params:
                if spec.required:
                    out.append(f"{name}: required")
                continue
            value = params[name]
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            fits = {"bool": isinstance(value, bool), "str": isinstance(value, str),
                    "int": numeric and isinstance(value, int), "float": numeric}[spec.type]
            if not fits:
                out.append(f"{name}: expected {spec.type}, got {value!r}")
            elif numeric and ((spec.min is not None and value < spec.min)  # type: ignore[operator]
                              or (spec.max is not None and value > spec.max)):  # type: ignore[operator]
                low = "" if spec.min is None else f"{spec.min:g}"
                high = "" if spec.max is None else f"{spec.max:g}"
                out.append(f"{name}: {value!r} is outside {low}..{high}")
        return out


class DeviceProfile(StrictModel):
    id: str = Field(pattern=NAME)
    name: Label
    transport: Literal["native", "modbus", "simulated"] = "native"
    heartbeat_s: float = Field(gt=0, le=3600, description="full report at least this often")
    metrics: dict[str, MetricSpec]
    events: list[str] = Field(default_factory=list)
    commands: dict[str, CommandSpec] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    modbus: ModbusMap | None = Field(default=None, description="register map (transport modbus)")

    @model_validator(mode="after")
    def _names(self) -> DeviceProfile:
        import re

        for group, names in (("metrics", self.metrics), ("commands", self.commands)):
            for n in names:
                if not re.match(NAME, n):
                    raise ValueError(f"{group}: bad name {n!r} (lowercase, digits, _)")
        unknown = [e for e in self.events if e not in EVENT_KINDS]
        if unknown:
            raise ValueError(f"events: unknown kinds {unknown}; known: {sorted(EVENT_KINDS)}")
        if (self.transport == "modbus") != (self.modbus is not None):
            raise ValueError("modbus: a register map is required with transport modbus, "
                             "and only then")
        return self

    @field_validator("thresholds")
    @classmethod
    def _thresholds_fit_profile(cls, value: dict[str, float], info: ValidationInfo,
                                ) -> dict[str, float]:
        model = THRESHOLD_MODELS.get(info.data.get("id", ""))
        if model is not None:
            # pydantic reports a ValidationError raised here under thresholds.<name>.
            model.model_validate(value)
        return value

    @field_validator("modbus")
    @classmethod
    def _map_fits_profile(cls, value: ModbusMap | None, info: ValidationInfo,
                          ) -> ModbusMap | None:
        """Checked here rather than in _names so an error points at the modbus: line."""
        metrics, commands = info.data.get("metrics"), info.data.get("commands")
        if value is None or metrics is None or commands is None:
            return value  # the missing field is already reported
        value.check_against(
            {n: m.type for n, m in metrics.items()}, set(info.data.get("events") or []),
            {n: {p: s.type for p, s in c.params.items()} for n, c in commands.items()})
        return value


class ProfileSet(Mapping[str, DeviceProfile]):
    """All device profiles by id, loaded and validated once."""

    def __init__(self, profiles: dict[str, DeviceProfile]) -> None:
        self._profiles = dict(profiles)

    def __getitem__(self, key: str) -> DeviceProfile:
        return self._profiles[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._profiles)

    def __len__(self) -> int:
        return len(self._profiles)


def bundled_profiles_dir() -> Path:
    """device_profiles/ of the source tree or the installed distribution."""
    here = Path(__file__).resolve().parent.parent / "device_profiles"
    if here.is_dir():
        return here
    return Path(str(resources.files("device_profiles")))  # pragma: no cover


def load_profile(path: str | Path) -> DeviceProfile:
    profile = load_yaml_model(path, DeviceProfile)
    if profile.id != Path(path).stem:
        stem = Path(path).stem
        raise ConfigError(path, [f"1: id: {profile.id!r} must match the file name {stem!r}"])
    return profile


def load_profiles(directory: str | Path | None = None) -> ProfileSet:
    directory = Path(directory) if directory else bundled_profiles_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(directory, ["0: no device profiles (*.yaml) found"])
    errors: list[ConfigError] = []
    profiles: dict[str, DeviceProfile] = {}
    for f in files:
        try:
            p = load_profile(f)
            profiles[p.id] = p
        except ConfigError as err:
            errors.append(err)
    if errors:
        raise ConfigError.combine(errors)
    return ProfileSet(profiles)
