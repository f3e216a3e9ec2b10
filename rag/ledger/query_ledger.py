"""The query ledger: the local source of truth for every answer, vote, refresh run, job run and digest post.

SQLite file in the data dir by default; PostgreSQL (``postgresql+psycopg://…``) when several bot replicas share
it. Answers are queued and written by a background thread in batches (reads flush the queue first, close()
writes what is left), so the answer path never waits for the database. It is an :class:`rag.observers.AnswerObserver`
and implements :class:`rag.ledger.feedback.FeedbackStore`; stored votes go on to the process's
:class:`rag.observers.Observers` (metrics, Langfuse). Linking a Slack message to its answer is queued as well.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, create_engine, event, func, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from rag.clock import utcnow
from rag.errors import StoreError
from rag.ledger.change_notices import CitingAnswer, slack_answers_citing
from rag.ledger.schema import (
    answer_messages,
    answers,
    digest_posts,
    job_runs,
    migrate,
    provider_calls,
    refresh_runs,
    votes,
)
from rag.ledger.stats import LedgerStats, compute_stats, utc
from rag.models import Answer, AskContext, RefreshResult, Vote
from rag.observability.costs import PriceTable
from rag.observability.privacy import Privacy, protect, scrub_secrets
from rag.observers import Observers

log = logging.getLogger(__name__)

STAGES = ("cache", "embed", "retrieve", "rerank", "generate", "total")


def open_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, WAL mode and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def open_ledger_engine(url: str) -> tuple[Engine, list[str]]:
    """The ledger's engine with every migration applied (one replica at a time on PostgreSQL); the names applied."""
    try:
        engine = open_engine(url)
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # replicas starting together migrate one at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
            applied = migrate(conn)
    except SQLAlchemyError as exc:
        raise StoreError(f"Cannot open the query ledger at {make_url(url).render_as_string()}: {exc}") from exc
    return engine, applied


@dataclass(frozen=True)
class MessageLink:
    """The Slack message ``(channel, message_ts)`` carries answer ``answer_id`` (queued like answers)."""

    answer_id: str
    channel: str
    message_ts: str


class QueryLedger:
    def __init__(
        self,
        url: str,
        *,
        prices: PriceTable | None = None,
        privacy: Privacy | str = Privacy.FULL,
        listeners: Sequence[object] = (),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.url = url
        self.prices = prices or PriceTable()
        self.privacy = Privacy.parse(privacy) if isinstance(privacy, str) else privacy
        self.listeners = Observers.of(listeners)  # told about each stored vote (the process's one Observers list)
        self.clock = clock
        self._lock = threading.Lock()
        self.write_errors = 0
        self._pending: queue.Queue[tuple[Answer, AskContext] | MessageLink | None] = queue.Queue()
        self.engine, self.applied_migrations = open_ledger_engine(url)
        self._writer = threading.Thread(target=self._write_answers, name="ledger-writer", daemon=True)
        self._writer.start()

    # -- answers -------------------------------------------------------------------------------------------------

    def record_answer(self, answer: Answer, context: AskContext) -> None:
        """Queue the answer; the writer thread turns it into rows and writes it (the answer path never waits)."""
        self._pending.put((answer, context))

    def _rows(self, answer: Answer, context: AskContext) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        at = utc(answer.created_at or self.clock())
        costs = [self.prices.cost(call) for call in answer.provider_calls]
        timings = answer.timings_ms
        row = {
            "id": answer.answer_id,
            "created_at": at,
            "surface": context.surface,
            "user_id": context.user,
            "channel": context.channel,
            "thread": context.thread,
            "question": protect(answer.question, self.privacy),
            "answer": protect(answer.text, self.privacy),
            "refused": answer.refused,
            "stale": answer.stale_warning is not None,
            "zero_hit": not answer.hits,
            "error": scrub_secrets(answer.error) if answer.error else None,
            "sources": [
                {
                    "doc_id": s.doc_id,
                    "age_days": s.age_days,
                    "stale": s.stale,
                    "cited": s.cited,
                    "threshold_days": s.threshold_days,
                }
                for s in answer.sources
            ],  # fmt: skip
            "hits": [
                {
                    "chunk_id": h.chunk.chunk_id,
                    "doc_id": h.doc.doc_id,
                    "score": h.score,
                    "bm25": h.bm25_score,
                    "vector": h.vector_score,
                    "rerank": h.rerank_score,
                }
                for h in answer.hits
            ],  # fmt: skip
            "timings": dict(timings),
            **{f"t_{stage}": timings.get(stage) for stage in STAGES},
            "models": sorted({f"{c.provider}/{c.model}" for c in answer.provider_calls}),
            "cache_hits": int(answer.cache.get("hits", 0)),
            "cache_misses": int(answer.cache.get("misses", 0)),
            "cost_usd": sum(c.usd for c in costs),
        }
        calls = [
            {"answer_id": answer.answer_id, "created_at": at, "provider": c.call.provider, "model": c.call.model,
             "operation": c.call.operation, "units": dict(c.call.units), "cost_usd": c.usd, "priced": c.priced}
            for c in costs
        ]  # fmt: skip
        return row, calls

    def answer(self, answer_id: str) -> dict[str, Any] | None:
        """The stored row of one answer (for tests, the dashboard and support)."""
        with self._connect() as conn:
            row = conn.execute(select(answers).where(answers.c.id == answer_id)).mappings().first()
            if row is None:
                return None
            found = dict(row)
            found["created_at"] = utc(found["created_at"])
            found["provider_calls"] = [
                dict(r)
                for r in conn.execute(
                    select(provider_calls).where(provider_calls.c.answer_id == answer_id).order_by(provider_calls.c.id)
                ).mappings()
            ]
            return found

    # -- feedback (FeedbackStore) ----------------------------------------------------------------------------------

    def add_listener(self, listener: object) -> None:
        self.listeners.append(listener)

    def link_message(self, answer_id: str, channel: str, message_ts: str) -> None:
        """Queue the link (written after the answer it names, by the writer thread): the reply never waits on it."""
        self._pending.put(MessageLink(answer_id, channel, message_ts))

    @staticmethod
    def _write_link(conn: Connection, link: MessageLink) -> None:
        key = and_(answer_messages.c.channel == link.channel, answer_messages.c.message_ts == link.message_ts)
        if conn.execute(select(answer_messages.c.answer_id).where(key)).first() is None:
            conn.execute(
                answer_messages.insert().values(
                    channel=link.channel, message_ts=link.message_ts, answer_id=link.answer_id
                )
            )
        else:
            conn.execute(answer_messages.update().where(key).values(answer_id=link.answer_id))

    def answer_for_message(self, channel: str, message_ts: str) -> str | None:
        key = and_(answer_messages.c.channel == channel, answer_messages.c.message_ts == message_ts)
        with self._connect() as conn:
            found: str | None = conn.execute(select(answer_messages.c.answer_id).where(key)).scalar()
            return found

    def record_vote(self, vote: Vote) -> None:
        """One row per (answer, user): the latest vote wins; value 0 marks the row retracted."""
        if vote.value not in (-1, 0, 1):
            raise ValueError(f"a vote is +1, -1 or 0 (retract), not {vote.value!r}")
        for attempt in range(2):
            try:
                self._upsert_vote(vote)
                break
            except IntegrityError:  # another replica inserted the same (answer, user) first: update instead
                if attempt:
                    raise
        self.listeners.vote(vote)  # a failing observer never loses a stored vote

    def _upsert_vote(self, vote: Vote) -> None:
        key = and_(votes.c.answer_id == vote.answer_id, votes.c.user_id == vote.user)
        with self._begin() as conn:
            existing = conn.execute(select(votes.c.value).where(key)).first()
            if existing is None:
                if vote.value == 0:
                    return
                conn.execute(
                    votes.insert().values(
                        answer_id=vote.answer_id, user_id=vote.user, value=vote.value, at=utc(vote.at), retracted=False
                    )
                )
            elif vote.value == 0:
                conn.execute(votes.update().where(key).values(retracted=True, at=utc(vote.at)))
            else:
                conn.execute(votes.update().where(key).values(value=vote.value, retracted=False, at=utc(vote.at)))

    def votes(self, answer_id: str) -> dict[str, int]:
        query = select(votes.c.user_id, votes.c.value).where(
            votes.c.answer_id == answer_id, votes.c.retracted.is_(False)
        )
        with self._connect() as conn:
            return {user: int(value) for user, value in conn.execute(query)}

    # -- refresh runs, job runs, digests -------------------------------------------------------------------------

    def record_refresh(self, result: RefreshResult, *, started_at: datetime, error: str | None = None) -> None:
        with self._begin() as conn:
            conn.execute(
                refresh_runs.insert().values(
                    source=result.source,
                    started_at=utc(started_at),
                    finished_at=self.clock(),
                    ok=error is None,
                    error=scrub_secrets(error) if error else None,
                    result=result.to_json(),
                )  # fmt: skip
            )

    def refresh_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        query = select(refresh_runs).order_by(refresh_runs.c.started_at.desc(), refresh_runs.c.id.desc()).limit(limit)
        with self._connect() as conn:
            return [_with_utc(dict(row)) for row in conn.execute(query).mappings()]

    def record_job_run(
        self,
        job: str,
        *,
        started_at: datetime,
        finished_at: datetime | None,
        ok: bool,
        error: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self._begin() as conn:
            conn.execute(
                job_runs.insert().values(
                    job=job,
                    started_at=utc(started_at),
                    finished_at=utc(finished_at) if finished_at else None,
                    ok=ok,
                    error=scrub_secrets(error) if error else None,
                    detail=detail or {},
                )  # fmt: skip
            )

    def record_job_failure(self, job: str, error: str, at: datetime) -> None:
        self.record_job_run(job, started_at=at, finished_at=at, ok=False, error=error)

    def job_runs(self, job: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        query = select(job_runs).order_by(job_runs.c.started_at.desc(), job_runs.c.id.desc()).limit(limit)
        if job is not None:
            query = query.where(job_runs.c.job == job)
        with self._connect() as conn:
            return [_with_utc(dict(row)) for row in conn.execute(query).mappings()]

    def refresh_runs_between(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Refresh runs started in ``[since, until)``, oldest first (the weekly digest's refresh figures)."""
        query = (
            select(refresh_runs)
            .where(refresh_runs.c.started_at >= utc(since), refresh_runs.c.started_at < utc(until))
            .order_by(refresh_runs.c.started_at, refresh_runs.c.id)
        )
        with self._connect() as conn:
            return [{**row, "started_at": utc(row["started_at"])} for row in conn.execute(query).mappings()]

    def job_failures_between(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Failed job runs started in ``[since, until)``, oldest first (listed in the weekly digest)."""
        query = (
            select(job_runs)
            .where(job_runs.c.ok.is_(False), job_runs.c.started_at >= utc(since), job_runs.c.started_at < utc(until))
            .order_by(job_runs.c.started_at, job_runs.c.id)
        )
        with self._connect() as conn:
            return [{**row, "started_at": utc(row["started_at"])} for row in conn.execute(query).mappings()]

    def record_digest_post(self, week: str, channel: str, ts: str | None) -> None:
        """Remember that the digest for ``week`` (e.g. ``2025-W07``) was posted; a second post is refused."""
        try:
            with self._begin() as conn:
                conn.execute(digest_posts.insert().values(week=week, channel=channel, message_ts=ts,
                                                          posted_at=self.clock()))  # fmt: skip
        except IntegrityError as exc:
            raise StoreError(f"The digest for {week} was already posted") from exc

    def digest_posted(self, week: str) -> bool:
        with self._connect() as conn:
            return conn.execute(select(func.count()).where(digest_posts.c.week == week)).scalar_one() > 0

    # -- queries ---------------------------------------------------------------------------------------------------

    def citations_by_doc(self, since: datetime, until: datetime | None = None) -> dict[str, int]:
        """doc_id -> how many answers in the window cited it."""
        counts: Counter[str] = Counter()
        with self._connect() as conn:
            for (sources,) in conn.execute(select(answers.c.sources).where(*self._window(since, until))):
                counts.update({s["doc_id"] for s in sources if s.get("cited")})
        return dict(counts.most_common())

    def slack_answers_citing(self, doc_ids: Sequence[str], since: datetime, until: datetime) -> list[CitingAnswer]:
        """Answers given in a Slack thread in ``[since, until)`` that cited any of ``doc_ids`` (change notices)."""
        with self._connect() as conn:
            return slack_answers_citing(conn, doc_ids, since, until)

    def stats(self, since: datetime, until: datetime | None = None) -> LedgerStats:
        with self._connect() as conn:
            return compute_stats(conn, utc(since), utc(until or self.clock()))

    def _window(self, since: datetime, until: datetime | None) -> list[Any]:
        clauses = [answers.c.created_at >= utc(since)]
        if until is not None:
            clauses.append(answers.c.created_at < utc(until))
        return clauses

    # -- the writer ------------------------------------------------------------------------------------------------

    def _write_answers(self) -> None:
        """Write queued answers and message links in batches (one transaction per batch; a batch's answers before its
        links, so a link never precedes its answer) until close() sends the stop marker."""
        while True:
            batch = [self._pending.get()]
            while len(batch) < 200:
                try:
                    batch.append(self._pending.get_nowait())
                except queue.Empty:
                    break
            items = [item for item in batch if item is not None]
            links = [item for item in items if isinstance(item, MessageLink)]
            try:
                rows = [self._rows(*item) for item in items if not isinstance(item, MessageLink)]
                if rows or links:
                    with self.engine.begin() as conn:
                        if rows:
                            conn.execute(answers.insert(), [row for row, _ in rows])
                        calls = [call for _, row_calls in rows for call in row_calls]
                        if calls:
                            conn.execute(provider_calls.insert(), calls)
                        for link in links:
                            self._write_link(conn, link)
            except Exception:
                self.write_errors += len(items)
                log.exception("query ledger: %d answers could not be written", len(items))
            finally:
                for _ in batch:
                    self._pending.task_done()
            if len(items) < len(batch):
                return

    def flush(self) -> None:
        """Wait until every answer recorded so far is in the database (reads do this first)."""
        self._pending.join()

    def _begin(self) -> Any:
        self.flush()
        return self.engine.begin()

    def _connect(self) -> Any:
        self.flush()
        return self.engine.connect()

    def close(self) -> None:
        if self._writer.is_alive():
            self._pending.put(None)
            self._writer.join(timeout=30)
        self.engine.dispose()


def _with_utc(row: dict[str, Any]) -> dict[str, Any]:
    return {key: utc(value) if isinstance(value, datetime) else value for key, value in row.items()}
