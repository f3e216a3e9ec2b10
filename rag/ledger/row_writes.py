"""How each kind of queued ledger write (:class:`rag.ledger.writer.LedgerWrite`) becomes rows.

A batch is retried when the database went away before confirming its commit. Links and votes are upserts, and
answers and digest posts have primary keys (the repeated insert is refused and the writer skips it), so those are
never doubled; a refresh or job run in a batch whose commit did land but was not confirmed is recorded twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, and_, select
from sqlalchemy.engine import Connection

from rag.ledger.schema import answer_messages, answers, digest_posts, job_runs, provider_calls, refresh_runs, votes
from rag.ledger.writer import LedgerWrite


def _insert_answers(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    conn.execute(answers.insert(), [row["answer"] for row in rows])
    calls = [call for row in rows for call in row["calls"]]
    if calls:
        conn.execute(provider_calls.insert(), calls)


def _upsert_link(conn: Connection, row: dict[str, Any]) -> None:
    key = and_(answer_messages.c.channel == row["channel"], answer_messages.c.message_ts == row["message_ts"])
    if conn.execute(select(answer_messages.c.answer_id).where(key)).first() is None:
        conn.execute(answer_messages.insert().values(**row))
    else:
        conn.execute(answer_messages.update().where(key).values(answer_id=row["answer_id"]))


def _upsert_vote(conn: Connection, row: dict[str, Any]) -> None:
    key = and_(votes.c.answer_id == row["answer_id"], votes.c.user_id == row["user_id"])
    existing = conn.execute(select(votes.c.value).where(key)).first()
    if existing is None:
        if row["value"] != 0:
            conn.execute(votes.insert().values(**row, retracted=False))
    elif row["value"] == 0:
        conn.execute(votes.update().where(key).values(retracted=True, at=row["at"]))
    else:
        conn.execute(votes.update().where(key).values(value=row["value"], retracted=False, at=row["at"]))


def _inserter(table: Table) -> Callable[[Connection, dict[str, Any]], None]:
    def insert(conn: Connection, row: dict[str, Any]) -> None:
        conn.execute(table.insert().values(**row))

    return insert


ROW_WRITERS: dict[str, Callable[[Connection, dict[str, Any]], None]] = {
    "link": _upsert_link,
    "vote": _upsert_vote,
    "refresh": _inserter(refresh_runs),
    "job_run": _inserter(job_runs),
    "digest_post": _inserter(digest_posts),
}


def apply_writes(conn: Connection, writes: Sequence[LedgerWrite]) -> None:
    """Apply queued writes in order; consecutive answers go in as one multi-row insert."""
    run: list[dict[str, Any]] = []
    for write in writes:
        if write.kind == "answer":
            run.append(write.row)
            continue
        if run:
            _insert_answers(conn, run)
            run = []
        ROW_WRITERS[write.kind](conn, write.row)
    if run:
        _insert_answers(conn, run)
