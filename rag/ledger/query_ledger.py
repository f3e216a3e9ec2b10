"""The query ledger: the local source of truth for every answer, vote, refresh run, job run and digest post.

SQLite file in the data dir by default; PostgreSQL (``postgresql+psycopg://…``) when several bot replicas share
it. Every write (answers, message links, votes, refresh and job runs) goes through the
:class:`rag.ledger.writer.LedgerWriter` queue and is written by its background thread, so the answer path never
waits for the database and a database outage loses nothing: writes wait in a bounded buffer (then a spill file)
and are written when it is back. Reads flush the queue first; while the database is unreachable they raise
:class:`rag.errors.LedgerUnavailableError`, except that the message links and votes this process wrote recently are
still found (so reactions on recent answers count). It is an :class:`rag.observers.AnswerObserver` and implements
:class:`rag.ledger.feedback.FeedbackStore`; votes go on to the process's :class:`rag.observers.Observers` (metrics,
Langfuse) once they are queued.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, and_, create_engine, event, func, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from rag.clock import utcnow
from rag.errors import LedgerUnavailableError, StoreError
from rag.ledger.change_notices import CitingAnswer, slack_answers_citing
from rag.ledger.doc_reviews import DocReviewLog
from rag.ledger.row_writes import apply_writes
from rag.ledger.schema import (
    answer_messages,
    answers,
    digest_posts,
    greetings,
    job_runs,
    migrate,
    provider_calls,
    refresh_runs,
    votes,
)
from rag.ledger.stats import LedgerStats, compute_stats, utc
from rag.ledger.writer import LedgerWrite, LedgerWriter, is_unreachable, short_reason
from rag.models import Answer, AskContext, RefreshResult, Vote
from rag.observability.costs import PriceTable
from rag.observability.privacy import Privacy, protect, scrub_secrets
from rag.observers import Observers

log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")

STAGES = ("cache", "embed", "retrieve", "rerank", "generate", "total")
RECENT_ENTRIES = 10_000  # message links and votes kept in memory per process
# PostgreSQL connections: an unreachable host costs a read 5 s, not minutes, and a connection to a host that went
# silent is found dead by TCP keepalives in about 25 s (so the writer retries instead of hanging).
POSTGRES_CONNECT_ARGS = {
    "connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
}  # fmt: skip
READ_FLUSH_TIMEOUT = 10.0  # seconds a read waits for earlier writes before it reads anyway


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
    given: Mapping[str, Any] = parsed.query or {}
    connect_args = {key: value for key, value in POSTGRES_CONNECT_ARGS.items() if key not in given}
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args)


def open_ledger_engine(url: str) -> tuple[Engine, list[str]]:
    """The ledger's engine with every migration applied (one replica at a time on PostgreSQL); the names applied.

    Shared by the ledger and the owner-nudge log (its table is a ledger migration)."""
    where = make_url(url).render_as_string()  # password masked
    try:
        engine = open_engine(url)
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # replicas starting together migrate one at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
            applied = migrate(conn)
    except SQLAlchemyError as exc:
        if is_unreachable(exc):
            raise LedgerUnavailableError(
                f"Cannot open the query ledger at {where} — ledger unavailable ({short_reason(exc)}). "
                "Start the database or fix DATABASE_URL."
            ) from exc
        raise StoreError(f"Cannot open the query ledger at {where}: {short_reason(exc)}") from exc
    return engine, applied


class QueryLedger:
    def __init__(
        self,
        url: str,
        *,
        prices: PriceTable | None = None,
        privacy: Privacy | str = Privacy.FULL,
        listeners: Sequence[object] = (),
        clock: Callable[[], datetime] = utcnow,
        spill_path: Path | None = None,
        buffer_size: int = 10_000,
        retry_interval: float = 1.0,
    ) -> None:
        """``spill_path``: where writes go when the database is away and ``buffer_size`` writes already wait."""
        self.url = url
        self.where = make_url(url).render_as_string()  # password masked
        self.prices = prices or PriceTable()
        self.privacy = Privacy.parse(privacy) if isinstance(privacy, str) else privacy
        self.listeners = Observers.of(listeners)  # told about each vote (the process's one Observers list)
        self.clock = clock
        # What this process wrote last, so reactions still resolve to answers (and votes) while the database is away.
        self._recent_links: RecentEntries[tuple[str, str], str] = RecentEntries(RECENT_ENTRIES)
        self._recent_votes: RecentEntries[tuple[str, str], int] = RecentEntries(RECENT_ENTRIES)
        self.engine, self.applied_migrations = open_ledger_engine(url)
        self.reviews = DocReviewLog(self.engine)  # verifications and flags of docs (#13)
        self.writer = LedgerWriter(
            self.engine,
            apply_writes,
            where=self.where,
            spill_path=spill_path,
            capacity=buffer_size,
            retry_interval=retry_interval,
        )

    @property
    def available(self) -> bool:
        """False while the database is unreachable (writes wait; reads raise LedgerUnavailableError)."""
        return self.writer.available

    @property
    def write_errors(self) -> int:
        """Writes the database refused for their content, or dropped for want of a spill file."""
        return self.writer.rejected + self.writer.dropped

    # -- answers -------------------------------------------------------------------------------------------------

    def record_answer(self, answer: Answer, context: AskContext) -> None:
        """Queue the answer's rows; the writer thread writes them (the answer path never waits)."""
        row, calls = self._rows(answer, context)
        self.writer.submit(LedgerWrite("answer", {"answer": row, "calls": calls}))

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
        with self._reading() as conn:
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
        """Queue the link. The most recent links are also kept in memory, so a vote on a recent answer counts even
        while the database is away (and before the link is written)."""
        self._recent_links.put((channel, message_ts), answer_id)
        self.writer.submit(LedgerWrite("link", {"channel": channel, "message_ts": message_ts, "answer_id": answer_id}))

    def answer_for_message(self, channel: str, message_ts: str) -> str | None:
        recent = self._recent_links.get((channel, message_ts))
        if recent is not None:
            return recent
        key = and_(answer_messages.c.channel == channel, answer_messages.c.message_ts == message_ts)
        with self._reading() as conn:
            found: str | None = conn.execute(select(answer_messages.c.answer_id).where(key)).scalar()
            return found

    def record_vote(self, vote: Vote) -> None:
        """Queue the vote (one row per (answer, user): the latest wins; value 0 retracts), then tell the listeners."""
        if vote.value not in (-1, 0, 1):
            raise ValueError(f"a vote is +1, -1 or 0 (retract), not {vote.value!r}")
        self.writer.submit(
            LedgerWrite(
                "vote", {"answer_id": vote.answer_id, "user_id": vote.user, "value": vote.value, "at": utc(vote.at)}
            )
        )
        self._recent_votes.put((vote.answer_id, vote.user), vote.value)
        self.listeners.vote(vote)  # a failing observer never loses a queued vote

    def votes(self, answer_id: str) -> dict[str, int]:
        """user -> current vote. While the database is away: the votes this process recorded recently, if any."""
        query = select(votes.c.user_id, votes.c.value).where(
            votes.c.answer_id == answer_id, votes.c.retracted.is_(False)
        )
        try:
            with self._reading() as conn:
                return {user: int(value) for user, value in conn.execute(query)}
        except LedgerUnavailableError:
            known = {user: value for (answer, user), value in self._recent_votes.items() if answer == answer_id}
            if not known:
                raise
            return {user: value for user, value in known.items() if value != 0}

    # -- refresh runs, job runs, digests -------------------------------------------------------------------------

    def record_refresh(self, result: RefreshResult, *, started_at: datetime, error: str | None = None) -> None:
        self.writer.submit(
            LedgerWrite(
                "refresh",
                {
                    "source": result.source,
                    "started_at": utc(started_at),
                    "finished_at": self.clock(),
                    "ok": error is None,
                    "error": scrub_secrets(error) if error else None,
                    "result": result.to_json(),
                },
            )
        )

    def refresh_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        query = select(refresh_runs).order_by(refresh_runs.c.started_at.desc(), refresh_runs.c.id.desc()).limit(limit)
        with self._reading() as conn:
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
        self.writer.submit(
            LedgerWrite(
                "job_run",
                {
                    "job": job,
                    "started_at": utc(started_at),
                    "finished_at": utc(finished_at) if finished_at else None,
                    "ok": ok,
                    "error": scrub_secrets(error) if error else None,
                    "detail": detail or {},
                },
            )
        )

    def record_job_failure(self, job: str, error: str, at: datetime) -> None:
        self.record_job_run(job, started_at=at, finished_at=at, ok=False, error=error)

    def job_runs(self, job: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        query = select(job_runs).order_by(job_runs.c.started_at.desc(), job_runs.c.id.desc()).limit(limit)
        if job is not None:
            query = query.where(job_runs.c.job == job)
        with self._reading() as conn:
            return [_with_utc(dict(row)) for row in conn.execute(query).mappings()]

    def refresh_runs_between(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Refresh runs started in ``[since, until)``, oldest first (the weekly digest's refresh figures)."""
        query = (
            select(refresh_runs)
            .where(refresh_runs.c.started_at >= utc(since), refresh_runs.c.started_at < utc(until))
            .order_by(refresh_runs.c.started_at, refresh_runs.c.id)
        )
        with self._reading() as conn:
            return [{**row, "started_at": utc(row["started_at"])} for row in conn.execute(query).mappings()]

    def job_failures_between(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Failed job runs started in ``[since, until)``, oldest first (listed in the weekly digest)."""
        query = (
            select(job_runs)
            .where(job_runs.c.ok.is_(False), job_runs.c.started_at >= utc(since), job_runs.c.started_at < utc(until))
            .order_by(job_runs.c.started_at, job_runs.c.id)
        )
        with self._reading() as conn:
            return [{**row, "started_at": utc(row["started_at"])} for row in conn.execute(query).mappings()]

    def record_digest_post(self, week: str, channel: str, ts: str | None) -> None:
        """Remember that the digest for ``week`` (e.g. ``2025-W07``) was posted; a second post is refused.

        Written at once (the refusal needs the database); queued like every other write when it is unreachable.
        """
        row = {"week": week, "channel": channel, "message_ts": ts, "posted_at": self.clock()}
        self.writer.flush(READ_FLUSH_TIMEOUT)
        try:
            with self.engine.begin() as conn:
                conn.execute(digest_posts.insert().values(**row))
        except IntegrityError as exc:
            raise StoreError(f"The digest for {week} was already posted") from exc
        except SQLAlchemyError as exc:
            if not is_unreachable(exc):
                raise
            self.writer.submit(LedgerWrite("digest_post", row))

    def digest_posted(self, week: str) -> bool:
        with self._reading() as conn:
            return conn.execute(select(func.count()).where(digest_posts.c.week == week)).scalar_one() > 0

    # -- queries ---------------------------------------------------------------------------------------------------

    def citations_by_doc(self, since: datetime, until: datetime | None = None) -> dict[str, int]:
        """doc_id -> how many answers in the window cited it."""
        counts: Counter[str] = Counter()
        with self._reading() as conn:
            for (sources,) in conn.execute(select(answers.c.sources).where(*self._window(since, until))):
                counts.update({s["doc_id"] for s in sources if s.get("cited")})
        return dict(counts.most_common())

    def most_asked(self, since: datetime, *, limit: int = 4, min_askers: int = 2) -> list[str]:
        """The questions answered (not refused) most often since ``since``, each asked by ``min_askers`` people or
        more (so one person's question is never shown to others). None when the ledger keeps no wording."""
        if self.privacy is not Privacy.FULL:
            return []
        askers: dict[str, set[str]] = {}
        wording: dict[str, str] = {}
        query = select(answers.c.question, answers.c.user_id).where(
            *self._window(since, None), answers.c.refused.is_(False), answers.c.question.is_not(None)
        )
        with self._reading() as conn:
            for question, user in conn.execute(query):
                key = " ".join(str(question).lower().split()).rstrip("?")
                askers.setdefault(key, set()).add(str(user))
                wording.setdefault(key, str(question).strip())
        ranked = sorted((k for k, users in askers.items() if len(users) >= min_askers), key=lambda k: -len(askers[k]))
        return [wording[k] for k in ranked[:limit]]

    def claim_greeting(self, user: str, at: datetime) -> bool:
        """True the first time ever for ``user`` (the agent's greeting is sent once per person)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(greetings.insert().values(user_id=user, greeted_at=utc(at)))
        except IntegrityError:
            return False
        return True

    def slack_answers_citing(self, doc_ids: Sequence[str], since: datetime, until: datetime) -> list[CitingAnswer]:
        """Answers given in a Slack thread in ``[since, until)`` that cited any of ``doc_ids`` (change notices)."""
        with self._reading() as conn:
            return slack_answers_citing(conn, doc_ids, since, until)

    def stats(self, since: datetime, until: datetime | None = None) -> LedgerStats:
        with self._reading() as conn:
            return compute_stats(conn, utc(since), utc(until or self.clock()))

    def _window(self, since: datetime, until: datetime | None) -> list[Any]:
        clauses = [answers.c.created_at >= utc(since)]
        if until is not None:
            clauses.append(answers.c.created_at < utc(until))
        return clauses

    # -- reading and closing --------------------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every write so far is in the database (False at once while it is unreachable)."""
        return self.writer.flush(timeout)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection that sees every earlier write; LedgerUnavailableError while the database is unreachable."""
        self.writer.flush(READ_FLUSH_TIMEOUT)
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            if is_unreachable(exc):
                raise LedgerUnavailableError(
                    f"Ledger unavailable: cannot read the query ledger at {self.where} ({short_reason(exc)}). "
                    "Answers still go out; their records are written when the database is back."
                ) from exc
            raise

    def close(self) -> None:
        """Write what is queued (or spill it when the database is away), then release the connections."""
        self.writer.close()
        self.engine.dispose()


class RecentEntries(Generic[K, V]):
    """The ``size`` most recently put entries (thread-safe)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._entries.get(key)

    def items(self) -> list[tuple[K, V]]:
        with self._lock:
            return list(self._entries.items())


def _with_utc(row: dict[str, Any]) -> dict[str, Any]:
    return {key: utc(value) if isinstance(value, datetime) else value for key, value in row.items()}


def table_counts(conn: Connection) -> dict[str, int]:
    """Rows per ledger table (diagnostics)."""
    tables = (answers, provider_calls, answer_messages, votes, refresh_runs, digest_posts, job_runs)
    return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}
