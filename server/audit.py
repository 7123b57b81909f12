"""The audit trail: verification of the hash chain, and the ``custodywatch audit`` command.

Every operator action (login, acknowledge, shelve, comment, command, configuration change)
is appended to the store's ``audit`` table in the transaction that makes the change
(server/store/sqlite.py).  Each entry carries ``prev_hash`` and
``hash = sha256(prev_hash, ts, user, action, detail)``; the first entry links to 64 zeros.

:func:`verify_chain` reads the table (read-only) and names the *first* bad record:

* an edited record: its stored hash no longer matches its contents;
* a deleted record in the middle: a gap in the sequence numbers (and a broken link);
* deleted records at the end: SQLite's AUTOINCREMENT counter (``sqlite_sequence``) remembers
  the highest number ever written, so a truncated tail shows;
* a re-linked record: ``prev_hash`` is not the previous record's hash.

Someone able to rewrite the whole chain after an edit (recomputing every later hash and the
counter) is caught only against a head noted elsewhere: ``custodywatch audit head`` prints
the latest (seq, hash); the supervisor keeps it with the daily report (日清), and
``audit verify --expect-head SEQ:HASH`` checks the chain still contains it.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class AuditProblem:
    seq: int
    kind: str  # "edited", "missing", "relinked", "truncated", "head_mismatch"
    message: str


@dataclass(frozen=True, slots=True)
class AuditReport:
    path: str
    entries: int
    head_seq: int
    head_hash: str
    problem: AuditProblem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        if self.problem is None:
            return (f"audit trail intact: {self.entries} records, head {self.head_seq}:"
                    f"{self.head_hash} ({self.path})")
        return f"audit trail BROKEN at record {self.problem.seq}: {self.problem.message}"


class AuditError(Exception):
    """The audit table cannot be read at all (no database, not a CustodyWatch store)."""


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def verify_chain(db_path: Path, expect_head: tuple[int, str] | None = None) -> AuditReport:
    """Check the chain of the database at ``db_path``; raise AuditError if unreadable."""
    if not db_path.is_file():
        raise AuditError(f"no database at {db_path}")
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise AuditError(f"cannot open {db_path}: {err}") from err
    try:
        return _verify(db, str(db_path), expect_head)
    except sqlite3.Error as err:
        raise AuditError(f"cannot read the audit table of {db_path}: {err}") from err
    finally:
        db.close()


def _verify(db: sqlite3.Connection, path: str,
            expect_head: tuple[int, str] | None) -> AuditReport:
    from server.store.records import AuditEntry
    from server.store.sqlite import GENESIS_HASH, audit_hash

    last_hash, last_seq, n = GENESIS_HASH, 0, 0
    seen_expected = False
    problem: AuditProblem | None = None
    rows = db.execute("SELECT seq, ts, user, action, detail, prev_hash, hash FROM audit"
                      " ORDER BY seq")
    for seq, ts, user, action, detail, prev, digest in rows:
        what = f"{action} by {user} at {_when(ts) if isinstance(ts, float | int) else ts}"
        if seq != last_seq + 1:
            missing = (f"record {last_seq + 1}" if seq == last_seq + 2
                       else f"records {last_seq + 1}-{seq - 1}")
            problem = AuditProblem(last_seq + 1, "missing",
                                   f"{missing} deleted (the next one is {seq}: {what})")
            break
        try:
            entry = AuditEntry(ts, user, action, json.loads(detail))
        except (TypeError, ValueError):
            problem = AuditProblem(seq, "edited", f"record {seq} ({what}): detail is not "
                                   "valid JSON (edited)")
            break
        if prev != last_hash:
            problem = AuditProblem(seq, "relinked", f"record {seq} ({what}) does not link to "
                                   "the record before it (edited or re-ordered)")
            break
        if audit_hash(last_hash, entry) != digest:
            problem = AuditProblem(seq, "edited", f"record {seq} ({what}) was changed after "
                                   "it was written (hash mismatch)")
            break
        if expect_head is not None and seq == expect_head[0]:
            seen_expected = digest == expect_head[1]
        last_hash, last_seq, n = digest, seq, n + 1
    if problem is None:
        counter = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
        written = int(counter[0]) if counter else 0
        if written > last_seq:
            problem = AuditProblem(last_seq + 1, "truncated",
                                   f"records {last_seq + 1}-{written} deleted from the end "
                                   f"({written} were written, {last_seq} remain)")
    if problem is None and expect_head is not None and not seen_expected:
        problem = AuditProblem(expect_head[0], "head_mismatch",
                               f"record {expect_head[0]} does not have the noted hash "
                               f"{expect_head[1][:16]}… (the chain was rewritten)")
    return AuditReport(path, n, last_seq, last_hash, problem)


def parse_head(text: str) -> tuple[int, str]:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise ValueError(f"expected SEQ:HASH (64 hex digits), got {text!r}")
    return int(seq), digest.lower()


def add_audit_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                     ) -> argparse.ArgumentParser:
    audit = sub.add_parser("audit", help="verify the tamper-evident audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", help="check the hash chain; exit 1 naming the "
                                  "first bad record")
    verify.add_argument("--data-dir", default="./var")
    verify.add_argument("--expect-head", default=None, metavar="SEQ:HASH",
                        help="a head noted earlier (custodywatch audit head) that must "
                             "still be in the chain")
    head = audit_sub.add_parser("head", help="print the latest record's SEQ:HASH")
    head.add_argument("--data-dir", default="./var")
    return audit


def run_audit(args: argparse.Namespace) -> int:
    """Exit status: 0 intact, 1 broken (first bad record on stderr), 2 unreadable."""
    from server.store.sqlite import DB_NAME

    path = Path(args.data_dir) / DB_NAME
    try:
        expect = parse_head(args.expect_head) if getattr(args, "expect_head", None) else None
        report = verify_chain(path, expect)
    except (AuditError, ValueError) as err:
        print(f"custodywatch audit: {err}", file=sys.stderr)
        return 2
    if args.audit_command == "head":
        print(f"{report.head_seq}:{report.head_hash}")
        if not report.ok:
            print(report.describe(), file=sys.stderr)
        return 0 if report.ok else 1
    if report.ok:
        print(report.describe())
        return 0
    print(report.describe(), file=sys.stderr)
    return 1
