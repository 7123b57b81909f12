"""The implemented rules, in evaluation order (DESIGN.md lists the full set).

Adding a rule: write its conditions function and RuleSpec in the module of its family, add
its parameter model to params.py, list it here, describe it in docs/rules.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from server.rules.custody_presence import SEARCH_SKIPPED, UNATTENDED_PERSON
from server.rules.custody_time import CUSTODY_TIME_EXCEEDED, CUSTODY_TIME_WARNING
from server.rules.environment import ENVIRONMENT_OUT_OF_RANGE, SMOKE_DETECTED
from server.rules.health import DEVICE_OFFLINE, DEVICE_STALE, NODE_OFFLINE
from server.rules.holding import SEPARATION_VIOLATION, ZONE_OVER_CAPACITY
from server.rules.integrity import CLOCK_SKEW, TAG_LOW_BATTERY, TAG_TAMPER
from server.rules.params import ParamSet, resolve_params
from server.rules.physical import DOOR_FORCED, DOOR_HELD_OPEN, PANIC_BUTTON
from server.rules.questioning import (
    FEMALE_SEARCH_WITHOUT_FEMALE_OFFICER,
    JUVENILE_WITHOUT_GUARDIAN,
    NO_REST_BREAK,
    SINGLE_OFFICER_QUESTIONING,
)
from server.rules.recording import RECORDING_NOT_RUNNING
from server.rules.release import BELONGINGS_LEFT, UNAUTHORIZED_EXIT
from server.rules.spec import RuleSpec
from server.rules.video import CAMERA_FAULT

CATALOGUE: tuple[RuleSpec, ...] = (
    UNATTENDED_PERSON,
    SEARCH_SKIPPED,
    RECORDING_NOT_RUNNING,
    CAMERA_FAULT,
    SINGLE_OFFICER_QUESTIONING,
    FEMALE_SEARCH_WITHOUT_FEMALE_OFFICER,
    SEPARATION_VIOLATION,
    JUVENILE_WITHOUT_GUARDIAN,
    CUSTODY_TIME_WARNING,
    CUSTODY_TIME_EXCEEDED,
    NO_REST_BREAK,
    UNAUTHORIZED_EXIT,
    DOOR_HELD_OPEN,
    DOOR_FORCED,
    PANIC_BUTTON,
    ENVIRONMENT_OUT_OF_RANGE,
    SMOKE_DETECTED,
    ZONE_OVER_CAPACITY,
    BELONGINGS_LEFT,
    TAG_TAMPER,
    TAG_LOW_BATTERY,
    NODE_OFFLINE,
    DEVICE_OFFLINE,
    DEVICE_STALE,
    CLOCK_SKEW,
)

RULES: Mapping[str, RuleSpec] = MappingProxyType({r.id: r for r in CATALOGUE})


def resolve_site_rules(overrides: Mapping[str, Any]) -> dict[str, ParamSet[Any]]:
    """Validate a site's ``rules:`` section against the catalogue (for check-config and
    the server's start-up).  Raises RuleConfigError naming every bad rule/parameter."""
    return resolve_params(overrides, {r.id: r.params for r in CATALOGUE})
