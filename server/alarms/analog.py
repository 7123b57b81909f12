"""The limits analog rules compare readings with, for the deadband (conditioning.py).

Worked out from the same sources the rule reads: the zone kind's parameters in
``site.rules`` (server/rules/params.py), else the device profile's default thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping

from protocol.profiles import ProfileSet
from protocol.site import SiteConfig
from server.alarms.conditioning import LimitsFn
from server.rules.params import EnvironmentParams, RuleConfigError, resolve_params
from server.rules.types import Violation

ENVIRONMENT_RULE = "environment_out_of_range"
_QUANTITIES = {"temperature": ("temperature_min", "temperature_max"),
               "humidity": ("humidity_min", "humidity_max")}

Limits = Mapping[str, tuple[float | None, float | None]]


def analog_limits(site: SiteConfig, profiles: ProfileSet) -> LimitsFn:
    """A LimitsFn for the site's analog rules (today: environment_out_of_range)."""
    overrides = {k: v for k, v in site.rules.items() if k == ENVIRONMENT_RULE}
    try:
        params = resolve_params(overrides, {ENVIRONMENT_RULE: EnvironmentParams})[
            ENVIRONMENT_RULE]
    except RuleConfigError:  # the rule engine reports it, with the whole list
        params = resolve_params({}, {ENVIRONMENT_RULE: EnvironmentParams})[ENVIRONMENT_RULE]
    zone_kind = {z.id: z.kind for z in site.zones}
    device_profile = {d.id: d.profile for d in site.devices()}
    cache: dict[tuple[str, str | None], Limits] = {}

    def limits(v: Violation) -> Limits:
        if v.rule != ENVIRONMENT_RULE:
            return {}
        profile_id = device_profile.get(v.subject, "env")
        kind = zone_kind.get(v.zone) if v.zone else None
        found = cache.get((profile_id, kind))
        if found is None:
            p = params.for_kind(kind)
            profile = profiles.get(profile_id)
            thresholds = profile.thresholds if profile is not None else {}
            out: dict[str, tuple[float | None, float | None]] = {}
            for metric, (lo_name, hi_name) in _QUANTITIES.items():
                lo = getattr(p, lo_name)
                hi = getattr(p, hi_name)
                out[metric] = (lo if lo is not None else thresholds.get(lo_name),
                               hi if hi is not None else thresholds.get(hi_name))
            found = cache[(profile_id, kind)] = out
        return found

    return limits
