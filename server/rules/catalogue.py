"""The implemented rules, in evaluation order (DESIGN.md lists the full set).

Adding a rule: write its conditions function and RuleSpec in the module of its family, add
its parameter model to params.py, list it here, describe it in docs/rules.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from server.rules.custody_presence import SEARCH_SKIPPED, UNATTENDED_PERSON
from server.rules.health import DEVICE_OFFLINE, DEVICE_STALE, NODE_OFFLINE
from server.rules.params import ParamSet, resolve_params
from server.rules.recording import RECORDING_NOT_RUNNING
from server.rules.spec import RuleSpec

CATALOGUE: tuple[RuleSpec, ...] = (
    UNATTENDED_PERSON,
    SEARCH_SKIPPED,
    RECORDING_NOT_RUNNING,
    NODE_OFFLINE,
    DEVICE_OFFLINE,
    DEVICE_STALE,
)

RULES: Mapping[str, RuleSpec] = MappingProxyType({r.id: r for r in CATALOGUE})


def resolve_site_rules(overrides: Mapping[str, Any]) -> dict[str, ParamSet[Any]]:
    """Validate a site's ``rules:`` section against the catalogue (for check-config and
    the server's start-up).  Raises RuleConfigError naming every bad rule/parameter."""
    return resolve_params(overrides, {r.id: r.params for r in CATALOGUE})
