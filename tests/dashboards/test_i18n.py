"""The dashboards' label tables (dashboards/shared/i18n.js) are complete in both languages:
every rule id of DESIGN.md and of the server's rule catalogue has a Chinese and an English
name, and every label a page or script asks for exists."""

from __future__ import annotations

import re

import pytest

from server.rules import RULES
from tests.conftest import REPO, SHARED

DASHBOARDS = REPO / "dashboards"
I18N = (DASHBOARDS / "shared" / "i18n.js").read_text(encoding="utf-8")
ENTRY = re.compile(  # key: { zh: "…", en: "…" }, possibly over several lines
    r'^\s*"?([a-z_][a-z0-9_.]*)"?\s*:\s*\{\s*zh:\s*"([^"]+)",\s*en:\s*"([^"]+)",?\s*\}',
    re.MULTILINE)


def _table(name: str) -> dict[str, tuple[str, str]]:
    start = I18N.index(f"const {name} = {{")
    body = I18N[start:I18N.index("\n};", start)]
    return {key: (zh, en) for key, zh, en in ENTRY.findall(body)}


RULE_NAMES = _table("RULE_NAMES")
LABELS = _table("LABELS")


def _design_rule_ids() -> set[str]:
    design = SHARED / "DESIGN.md"
    if not design.exists():
        pytest.skip("DESIGN.md is not next to the repository")
    text = design.read_text(encoding="utf-8")
    table = text[text.index("## Zone safety rules"):text.index("## Alarms")]
    ids: set[str] = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            ids.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return ids


def test_every_design_rule_has_both_names() -> None:
    """Each rule id of DESIGN.md's rule table has a zh and an en name on the wall."""
    ids = _design_rule_ids()
    assert len(ids) >= 25
    missing = sorted(ids - RULE_NAMES.keys())
    assert not missing, f"rule ids without names in i18n.js: {missing}"


def test_every_catalogued_rule_has_both_names() -> None:
    """Rules the server can raise (server.rules.RULES) are all translated."""
    missing = sorted(set(RULES) - RULE_NAMES.keys())
    assert not missing, f"rule ids without names in i18n.js: {missing}"


def test_names_differ_by_language() -> None:
    """A zh name is Chinese and an en name is not (a copy-paste slip shows here)."""
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for key, (zh, en) in {**RULE_NAMES, **LABELS}.items():
        if key.startswith("lang."):
            continue  # language names are shown in their own language
        assert cjk.search(zh), f"{key}: zh label {zh!r} has no Chinese"
        assert not cjk.search(en), f"{key}: en label {en!r} has Chinese"


def test_every_label_used_exists() -> None:
    """data-i18n attributes and literal t("…") calls name labels that exist."""
    used: set[str] = set()
    for path in DASHBOARDS.rglob("*.html"):
        used.update(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', path.read_text("utf-8")))
    for path in DASHBOARDS.rglob("*.js"):
        used.update(re.findall(r'\bt\("([^"]+)"', path.read_text("utf-8")))
    missing = sorted(used - LABELS.keys())
    assert not missing, f"labels used but not defined: {missing}"


def test_table_parse_sees_whole_tables() -> None:
    """Guard for the parser above: it must see every entry of the tables, not a prefix."""
    for name, table in (("LABELS", LABELS), ("RULE_NAMES", RULE_NAMES)):
        start = I18N.index(f"const {name} = {{")
        body = I18N[start:I18N.index("\n};", start)]
        assert body.count(" zh: ") == len(table), name
