"""The rule engine: reads the twin at a given time and says which violations hold.

Pure: no I/O, no clock of its own.  `evaluate(twin, now)` is called after every change
and whenever `Evaluation.next_due` arrives; it keeps the on-delay bookkeeping (when each
raw condition started) between calls.

(Interface fixed here; implementation in progress.)
"""

from __future__ import annotations

from protocol.site import SiteConfig
from server.rules.types import Evaluation
from server.twin import Twin


class RuleEngine:
    def __init__(self, site: SiteConfig, speed: float = 1.0) -> None:
        """``site.rules`` carries parameter overrides; durations are site seconds and are
        divided by ``speed`` to become real seconds."""
        self.site = site
        self.speed = speed

    def evaluate(self, twin: Twin, now: float) -> Evaluation:
        raise NotImplementedError
