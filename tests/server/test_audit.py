"""The tamper-evident audit trail: ``custodywatch audit verify --data-dir DIR`` exits 0 on
an intact chain and 1 naming the first bad record after an edit or a deletion."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from server.audit import verify_chain
from server.store.records import AuditEntry, WriteBatch
from server.store.sqlite import DB_NAME, GENESIS_HASH, SqliteStore, audit_hash


async def _fill(data_dir: Path, n: int = 6) -> None:
    async with SqliteStore(data_dir) as store:
        for i in range(n):
            await store.write(WriteBatch(audit=[AuditEntry(
                1_750_000_000.0 + i, f"user{i}", "alarm_ack", {"alarm": i, "comment": "好"})]))


def _cli(action: str, data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", "audit", action,
                           "--data-dir", str(data_dir), *extra],
                          capture_output=True, text=True, timeout=60)


def _verify(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _cli("verify", data_dir, *extra)


def _sql(data_dir: Path, statement: str) -> None:
    db = sqlite3.connect(data_dir / DB_NAME)
    db.execute(statement)
    db.commit()
    db.close()


async def test_intact_chain_verifies(tmp_path: Path) -> None:
    """An untouched chain: exit 0 and the number of records and the head on stdout."""
    await _fill(tmp_path)
    result = _verify(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "intact: 6 records" in result.stdout


async def test_edited_record_is_named(tmp_path: Path) -> None:
    """Changing one row's detail (or its time, or who) makes verify exit 1 naming it."""
    await _fill(tmp_path)
    _sql(tmp_path, """UPDATE audit SET detail = '{"alarm":3,"comment":"nothing"}'
                      WHERE seq = 4""")
    result = _verify(tmp_path)
    assert result.returncode == 1
    assert "BROKEN at record 4" in result.stderr and "hash mismatch" in result.stderr
    await _fill(tmp_path / "b")
    _sql(tmp_path / "b", "UPDATE audit SET user = 'someone' WHERE seq = 2")
    assert "record 2" in _verify(tmp_path / "b").stderr


async def test_deleted_records_are_named(tmp_path: Path) -> None:
    """A row deleted in the middle, or rows deleted from the end, are named too."""
    await _fill(tmp_path)
    _sql(tmp_path, "DELETE FROM audit WHERE seq = 3")
    result = _verify(tmp_path)
    assert result.returncode == 1 and "record 3 deleted" in result.stderr
    await _fill(tmp_path / "tail")
    _sql(tmp_path / "tail", "DELETE FROM audit WHERE seq >= 5")
    result = _verify(tmp_path / "tail")
    assert result.returncode == 1 and "records 5-6 deleted from the end" in result.stderr


async def test_rewritten_chain_is_caught_against_a_noted_head(tmp_path: Path) -> None:
    """Someone who edits a record and recomputes every later hash defeats the chain alone;
    a head noted earlier (``audit head``) still catches it."""
    await _fill(tmp_path)
    head = _cli("head", tmp_path)
    assert head.returncode == 0
    noted = head.stdout.strip()
    assert noted.startswith("6:")
    # Rewrite: edit record 2, then recompute the chain like a careful forger would.
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("""UPDATE audit SET detail = '{"alarm":1,"comment":"forged"}' WHERE seq = 2""")
    last = GENESIS_HASH
    for seq, ts, user, action, detail in db.execute(
            "SELECT seq, ts, user, action, detail FROM audit ORDER BY seq").fetchall():
        digest = audit_hash(last, AuditEntry(ts, user, action, json.loads(detail)))
        db.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?",
                   (last, digest, seq))
        last = digest
    db.commit()
    db.close()
    assert _verify(tmp_path).returncode == 0  # the chain alone is consistent again
    result = _verify(tmp_path, "--expect-head", noted)
    assert result.returncode == 1 and "record 6" in result.stderr


def test_unreadable_store_exits_2(tmp_path: Path) -> None:
    """No database: exit 2 with a message (not a traceback)."""
    result = _verify(tmp_path)
    assert result.returncode == 2 and "no database" in result.stderr


async def test_verify_chain_api(tmp_path: Path) -> None:
    """verify_chain returns the head and the first problem as data (for the API)."""
    await _fill(tmp_path, 3)
    report = verify_chain(tmp_path / DB_NAME)
    assert report.ok and report.entries == 3 and report.head_seq == 3
    _sql(tmp_path, "UPDATE audit SET action = 'nothing' WHERE seq = 1")
    report = verify_chain(tmp_path / DB_NAME)
    assert not report.ok and report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (1, "edited")
