"""The query ledger's tables (SQLAlchemy Core) and its named, append-only migrations.

A migration is applied once, in order, and recorded by name in ``migrations``. Never edit or reorder a
migration that has shipped: add a new one at the end of ``MIGRATIONS``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.engine import Connection

from rag.errors import StoreError

metadata = MetaData()

migrations = Table(
    "migrations",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

answers = Table(
    "answers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("surface", String(20), nullable=False),
    Column("user_id", String(100)),
    Column("channel", String(100)),
    Column("thread", String(100)),
    Column("question", Text),
    Column("answer", Text),
    Column("refused", Boolean, nullable=False),
    Column("stale", Boolean, nullable=False),
    Column("zero_hit", Boolean, nullable=False),
    Column("error", Text),
    Column("sources", JSON, nullable=False),  # [{doc_id, age_days, stale, cited}]
    Column("hits", JSON, nullable=False),  # [{chunk_id, doc_id, score, bm25, vector, rerank}]
    Column("timings", JSON, nullable=False),  # stage -> ms (all stages, as recorded)
    Column("t_cache", Float),
    Column("t_embed", Float),
    Column("t_retrieve", Float),
    Column("t_rerank", Float),
    Column("t_generate", Float),
    Column("t_total", Float),
    Column("models", JSON, nullable=False),  # ["provider/model", ...]
    Column("cache_hits", Integer, nullable=False),
    Column("cache_misses", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
)

provider_calls = Table(
    "provider_calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("answer_id", String(64), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("provider", String(50), nullable=False),
    Column("model", String(100), nullable=False),
    Column("operation", String(20), nullable=False),
    Column("units", JSON, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("priced", Boolean, nullable=False),
)

answer_messages = Table(
    "answer_messages",
    metadata,
    Column("channel", String(100), primary_key=True),
    Column("message_ts", String(50), primary_key=True),
    Column("answer_id", String(64), nullable=False, index=True),
)

votes = Table(
    "votes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("answer_id", String(64), nullable=False, index=True),
    Column("user_id", String(100), nullable=False),
    Column("value", Integer, nullable=False),  # +1 / -1: the last vote cast (kept when retracted)
    Column("at", DateTime(timezone=True), nullable=False),
    Column("retracted", Boolean, nullable=False),
    UniqueConstraint("answer_id", "user_id", name="uq_votes_answer_user"),
)

refresh_runs = Table(
    "refresh_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Column("result", JSON, nullable=False),
)

digest_posts = Table(
    "digest_posts",
    metadata,
    Column("week", String(20), primary_key=True),
    Column("channel", String(100), nullable=False),
    Column("message_ts", String(50)),
    Column("posted_at", DateTime(timezone=True), nullable=False),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(100), nullable=False, index=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Column("detail", JSON, nullable=False),
)


doc_verifications = Table(
    "doc_verifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("doc_id", String(500), nullable=False, index=True),
    Column("user_id", String(100), nullable=False),
    Column("verified_at", DateTime(timezone=True), nullable=False),
    Column("source_hash", String(64), nullable=False),  # the content that was verified
)

doc_flags = Table(
    "doc_flags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("doc_id", String(500), nullable=False, index=True),
    Column("user_id", String(100), nullable=False),
    Column("flagged_at", DateTime(timezone=True), nullable=False),
    Column("source_hash", String(64), nullable=False),  # the content that was reported outdated
    Column("reason", Text),
)

owner_notices = Table(
    "owner_notices",
    metadata,
    Column("doc_id", String(500), primary_key=True),
    Column("kind", String(20), primary_key=True),  # "flag" | "verify_request"
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD (UTC): the owner hears once per doc per day
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

greetings = Table(
    "greetings",
    metadata,
    Column("user_id", String(100), primary_key=True),  # the agent greeted this person (once, ever)
    Column("greeted_at", DateTime(timezone=True), nullable=False),
)

owner_nudges = Table(  # which owner nudges were sent: one row per (doc, threshold crossing)
    "owner_nudges",
    metadata,
    Column("doc_id", String(500), primary_key=True),
    Column("crossing", String(64), primary_key=True),
    Column("owner", String(320), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)


change_notices = Table(  # answers told that a doc they cited changed: one row per (thread, doc, new version)
    "change_notices",
    metadata,
    Column("channel", String(100), primary_key=True),
    Column("thread", String(100), primary_key=True),
    Column("doc_id", String(500), primary_key=True),
    Column("version", String(64), primary_key=True),  # the new source_hash, or "removed"
    Column("answer_id", String(64), nullable=False),  # the thread's latest answer citing the doc
    Column("source", String(200), nullable=False),
    Column("title", Text, nullable=False),
    Column("url", Text),
    Column("removed", Boolean, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False, index=True),
    Column("state", String(20), nullable=False, index=True),  # pending | posting | posted | deferred
    Column("claimed_at", DateTime(timezone=True)),
    Column("posted_at", DateTime(timezone=True)),
    Column("message_ts", String(50)),
)


def _create(*tables: Table) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        for table in tables:
            table.create(conn, checkfirst=True)

    return apply


Migration = tuple[str, Callable[[Connection], None]]

# Append only. Each name is applied once, in this order.
MIGRATIONS: list[Migration] = [
    (
        "001_answers_feedback_refresh_digest",
        _create(answers, provider_calls, answer_messages, votes, refresh_runs, digest_posts),
    ),  # fmt: skip
    ("002_job_runs", _create(job_runs)),
    ("003_owner_nudges", _create(owner_nudges)),  # checkfirst: adopts the table older versions made on their own
    ("004_change_notices", _create(change_notices)),
    ("005_doc_verifications_flags", _create(doc_verifications, doc_flags, owner_notices, greetings)),
]


def migrate(conn: Connection, plan: list[Migration] = MIGRATIONS) -> list[str]:
    """Apply the migrations ``conn``'s database has not seen yet; returns their names.

    Refuses a database that has migrations this code does not know (written by a newer bestbefore).
    """
    migrations.create(conn, checkfirst=True)
    done = list(conn.execute(select(migrations.c.name).order_by(migrations.c.applied_at, migrations.c.name)).scalars())
    known = [name for name, _ in plan]
    unknown = [name for name in done if name not in known]
    if unknown:
        raise StoreError(
            f"The ledger has migrations this bestbefore does not know ({', '.join(unknown)}); "
            "it was written by a newer version. Upgrade bestbefore."
        )
    applied: list[str] = []
    for name, apply in plan:
        if name in done:
            continue
        apply(conn)
        conn.execute(migrations.insert().values(name=name, applied_at=datetime.now(UTC)))
        applied.append(name)
    return applied
