"""Zone safety rules: a pure engine (twin + clock in, violations out) and the rule catalogue."""

from server.rules.catalogue import CATALOGUE, RULES, resolve_site_rules
from server.rules.engine import RuleEngine
from server.rules.params import RuleConfigError
from server.rules.spec import Condition, RuleSpec
from server.rules.types import Evaluation, Violation

__all__ = ["CATALOGUE", "RULES", "Condition", "Evaluation", "RuleConfigError", "RuleEngine",
           "RuleSpec", "Violation", "resolve_site_rules"]
