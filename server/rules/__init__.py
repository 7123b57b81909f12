"""Zone safety rules: a pure engine (twin + clock in, violations out) and the rule catalogue."""
