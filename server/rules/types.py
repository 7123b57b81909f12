"""Values the rule engine hands to the alarm lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["critical", "major", "minor", "warning"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "major": 1, "minor": 2, "warning": 3}

AlarmKey = tuple[str, str]  # (rule id, subject id)

# What a rule's conditions depend on (RuleSpec.scope): the unit the engine re-evaluates.
Scope = Literal["zone", "person", "device", "node", "site"]
SITE_UNIT = "*"  # the one unit of a site-scoped rule


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule's condition that holds now (its on-delay / grace period already served).

    ``subject`` is the person, device, node or zone id the alarm is about; one alarm exists
    per (rule, subject) while the condition holds.
    """

    rule: str
    subject: str
    zone: str | None
    severity: Severity
    message_zh: str
    message_en: str
    since: float  # when the raw condition started to hold (before the grace period)
    details: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> AlarmKey:
        return (self.rule, self.subject)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The result of one evaluation: every violation that holds, and when to look again.

    ``next_due`` is the earliest time at which a pending condition's grace period ends (or
    another time-driven condition changes): the caller must evaluate again by then even if
    no message arrives.
    """

    active: dict[AlarmKey, Violation]
    next_due: float | None
