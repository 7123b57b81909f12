"""Alarm management settings (the ``alarms:`` section of the server config).

Durations are *site* seconds, like the rules' grace periods: at ``--speed N`` they last
``N`` times less real time (protocol/timing.py).  The defaults follow ISA-18.2 / IEC 62682
practice and EEMUA 191's benchmarks (a flood is more than 10 alarms in 10 minutes for one
operator; an alarm active for more than 24 h is "standing"; three activations of one source
within a minute is "chattering").

The supervisor may change them at run time (PUT /api/alarm-settings); that change is
audited and stored, and survives a restart until the config file's ``alarms:`` section
itself changes (server/alerts/desk.py load_desk).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field, field_validator

from protocol.config import StrictModel
from server.rules.types import SEVERITY_ORDER

SEVERITIES = tuple(SEVERITY_ORDER)


def _refuse_unknown(keys: Iterable[str], known: Iterable[str], what: str) -> None:
    """A ValueError naming the ``keys`` that are not ``known`` (and what is), if any."""
    known = tuple(known)
    unknown = sorted(set(keys) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} {unknown} (known: {', '.join(known)})")


class EscalationTimes(StrictModel):
    """When an unacknowledged alarm goes wider (site seconds after it was raised)."""

    all_guards_after_s: float = Field(default=60.0, ge=0, le=86400)
    supervisor_after_s: float = Field(default=180.0, ge=0, le=86400)

    @field_validator("supervisor_after_s")
    @classmethod
    def _order(cls, value: float, info: object) -> float:
        data = getattr(info, "data", {})
        first = data.get("all_guards_after_s")
        if first is not None and value < first:
            raise ValueError("must not be earlier than all_guards_after_s")
        return value


class EscalationSettings(StrictModel):
    default: EscalationTimes = Field(default_factory=EscalationTimes)
    by_severity: dict[str, EscalationTimes] = Field(
        default_factory=lambda: {"critical": EscalationTimes(all_guards_after_s=30,
                                                             supervisor_after_s=90)})
    redeliver_s: float = Field(default=15.0, gt=0, le=3600,
                               description="REAL seconds: resend an alert to a guard "
                                           "terminal that has not confirmed delivery")

    @field_validator("by_severity")
    @classmethod
    def _severities(cls, value: dict[str, EscalationTimes]) -> dict[str, EscalationTimes]:
        _refuse_unknown(value, SEVERITIES, "severities")
        return value

    def for_severity(self, severity: str) -> EscalationTimes:
        return self.by_severity.get(severity, self.default)


class ShelvingSettings(StrictModel):
    """Who may shelve and for how long at most (site seconds); rules never shelved."""

    max_s_by_role: dict[str, float] = Field(
        default_factory=lambda: {"duty": 3600.0, "supervisor": 8 * 3600.0,
                                 "admin": 8 * 3600.0})
    never_shelve: list[str] = Field(default_factory=lambda: ["panic_button", "smoke_detected"],
                                    description="rule ids an operator may never shelve")
    min_reason_chars: int = Field(default=3, ge=1, le=200)

    @field_validator("max_s_by_role")
    @classmethod
    def _roles(cls, value: dict[str, float]) -> dict[str, float]:
        from server.auth import ROLES  # late: auth imports the store, which imports us

        _refuse_unknown(value, ROLES, "roles")
        if any(v <= 0 or v > 7 * 86400 for v in value.values()):
            raise ValueError("durations must be in (0, 604800] seconds")
        return value


class ConditioningSettings(StrictModel):
    """Against chattering (ISA-18.2 §10 "alarm philosophy": on/off delays, deadbands).

    The on-delay is each rule's ``grace_s`` (site.rules).  ``off_delay_s``: an alarm clears
    only after its condition has been gone this long (per rule, or the default).
    ``deadband``: an analog alarm clears only once the reading is this far back inside the
    limit it crossed (rule → metric → amount in the metric's unit).
    """

    default_off_delay_s: float = Field(default=0.0, ge=0, le=3600)
    off_delay_s: dict[str, float] = Field(
        default_factory=lambda: {"door_held_open": 5.0, "environment_out_of_range": 30.0,
                                 "device_stale": 10.0})
    deadband: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {"environment_out_of_range": {"temperature": 0.5,
                                                              "humidity": 2.0}})
    restart_hold_s: float = Field(default=60.0, ge=0, le=3600,
                                  description="after a restart, stored active alarms stay "
                                              "active this long while the site reports in")


class KpiSettings(StrictModel):
    flood_per_10min: int = Field(default=10, ge=1, le=10_000)
    standing_after_s: float = Field(default=24 * 3600.0, gt=0)
    chatter_count: int = Field(default=3, ge=2, le=100)
    chatter_window_s: float = Field(default=60.0, gt=0, le=3600)
    shift_starts: list[str] = Field(default_factory=lambda: ["08:00", "20:00"],
                                    description="local times (site time zone) shifts start")
    consoles: dict[str, list[str]] = Field(
        default_factory=lambda: {"duty-desk": ["*"]},
        description="console → the zones it watches ('*' every zone)")

    @field_validator("shift_starts")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one shift start")
        for text in value:
            hh, _, mm = text.partition(":")
            if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
                raise ValueError(f"{text!r} is not HH:MM")
        return sorted(value)


class AlarmSettings(StrictModel):
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    shelving: ShelvingSettings = Field(default_factory=ShelvingSettings)
    conditioning: ConditioningSettings = Field(default_factory=ConditioningSettings)
    kpis: KpiSettings = Field(default_factory=KpiSettings)
    never_suppress: list[str] = Field(
        default_factory=lambda: ["panic_button", "smoke_detected"],
        description="rule ids that maintenance never suppresses (a person's distress, fire)")
