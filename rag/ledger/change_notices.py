"""The record of change notices: which Slack threads were (or are about to be) told that a doc their answer cited
changed. One row per (channel, thread, doc, new version), so a thread hears about one change once.

A notice goes through ``pending`` (intent recorded before anything is posted) -> ``posting`` (claimed by one run,
with ``claimed_at``) -> ``posted`` (with the reply's ``message_ts``); or ``deferred`` when a run's cap is reached (it
is counted in the weekly digest instead). Claims are a conditional UPDATE, so two replicas never both post a row; a
``posting`` row whose claim is older than the lease belongs to a run that died, and is checked in Slack before it
is posted again. The table is the query ledger's (migration ``004_change_notices``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from rag.ledger.schema import answers, change_notices
from rag.ledger.stats import utc

PENDING, POSTING, POSTED, DEFERRED = "pending", "posting", "posted", "deferred"


@dataclass(frozen=True)
class CitingAnswer:
    """A Slack answer and the docs it cited."""

    answer_id: str
    channel: str
    thread: str
    created_at: datetime
    cited: frozenset[str]


@dataclass(frozen=True)
class Notice:
    """One (thread, doc, version) a thread is to be told about."""

    channel: str
    thread: str
    doc_id: str
    version: str
    answer_id: str
    source: str
    title: str
    url: str | None
    removed: bool
    changed_at: datetime
    detected_at: datetime
    state: str = PENDING

    @property
    def key(self) -> str:
        """Names the change in the reply's metadata (how a restarted run finds a reply it already posted)."""
        return f"{self.doc_id}@{self.version}"


def slack_answers_citing(
    conn: Connection, doc_ids: Sequence[str], since: datetime, until: datetime
) -> list[CitingAnswer]:
    """Answers given in a Slack thread in ``[since, until)`` that cited any of ``doc_ids``, oldest first."""
    wanted = set(doc_ids)
    if not wanted:
        return []
    query = (
        select(answers.c.id, answers.c.channel, answers.c.thread, answers.c.created_at, answers.c.sources)
        .where(
            answers.c.surface == "slack",
            answers.c.channel.is_not(None),
            answers.c.thread.is_not(None),
            answers.c.created_at >= utc(since),
            answers.c.created_at < utc(until),
        )
        .order_by(answers.c.created_at, answers.c.id)
    )
    found = []
    for answer_id, channel, thread, created_at, sources in conn.execute(query):
        cited = frozenset(s["doc_id"] for s in sources if s.get("cited")) & wanted
        if cited:
            found.append(CitingAnswer(answer_id, channel, thread, utc(created_at), cited))
    return found


class ChangeNoticeLog:
    """On the ledger's ``Engine`` (its owner disposes of it)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, notices: Sequence[Notice]) -> int:
        """Record the intent to post each notice; a (thread, doc, version) already recorded is left alone.
        Returns how many were new."""
        added = 0
        for notice in notices:
            try:
                with self._engine.begin() as conn:
                    conn.execute(insert(change_notices).values(**_row(notice)))
                added += 1
            except IntegrityError:
                continue
        return added

    def due(self, now: datetime, lease: timedelta) -> list[Notice]:
        """Pending notices and claimed ones whose run died (claim older than ``lease``), oldest change first."""
        query = (
            select(change_notices)
            .where(_claimable(now, lease))
            .order_by(change_notices.c.detected_at, change_notices.c.channel, change_notices.c.thread)
        )
        with self._engine.connect() as conn:
            return [_notice(dict(row)) for row in conn.execute(query).mappings()]

    def claim(self, notice: Notice, now: datetime, lease: timedelta) -> bool:
        """True if this run now owns the notice (it was pending, or its previous claim expired)."""
        with self._engine.begin() as conn:
            claimed = conn.execute(
                update(change_notices)
                .where(_key(notice), _claimable(now, lease))
                .values(state=POSTING, claimed_at=utc(now))
            )
            return claimed.rowcount == 1

    def mark_posted(self, notices: Sequence[Notice], message_ts: str, now: datetime) -> None:
        with self._engine.begin() as conn:
            for notice in notices:
                conn.execute(
                    update(change_notices)
                    .where(_key(notice))
                    .values(state=POSTED, posted_at=utc(now), message_ts=message_ts)
                )

    def set_state(self, notices: Sequence[Notice], state: str) -> None:
        """``deferred`` (over a cap: the digest counts it) or back to ``pending`` (a post failed: retried later)."""
        with self._engine.begin() as conn:
            for notice in notices:
                conn.execute(update(change_notices).where(_key(notice)).values(state=state, claimed_at=None))

    def counts_between(self, since: datetime, until: datetime) -> dict[str, int]:
        """Notices detected in ``[since, until)`` by state (the digest's "answers affected by changes")."""
        query = select(change_notices.c.state).where(
            change_notices.c.detected_at >= utc(since), change_notices.c.detected_at < utc(until)
        )
        with self._engine.connect() as conn:
            return dict(Counter(state for (state,) in conn.execute(query)))

    def all(self) -> list[Notice]:
        with self._engine.connect() as conn:
            return [_notice(dict(row)) for row in conn.execute(select(change_notices)).mappings()]


def _claimable(now: datetime, lease: timedelta) -> Any:
    return or_(
        change_notices.c.state == PENDING,
        and_(change_notices.c.state == POSTING, change_notices.c.claimed_at < utc(now - lease)),
    )


def _key(notice: Notice) -> Any:
    return and_(
        change_notices.c.channel == notice.channel,
        change_notices.c.thread == notice.thread,
        change_notices.c.doc_id == notice.doc_id,
        change_notices.c.version == notice.version,
    )


def _row(notice: Notice) -> dict[str, Any]:
    return {
        "channel": notice.channel, "thread": notice.thread, "doc_id": notice.doc_id, "version": notice.version,
        "answer_id": notice.answer_id, "source": notice.source, "title": notice.title, "url": notice.url,
        "removed": notice.removed, "changed_at": utc(notice.changed_at), "detected_at": utc(notice.detected_at),
        "state": notice.state,
    }  # fmt: skip


def _notice(row: dict[str, Any]) -> Notice:
    return Notice(
        channel=row["channel"], thread=row["thread"], doc_id=row["doc_id"], version=row["version"],
        answer_id=row["answer_id"], source=row["source"], title=row["title"], url=row["url"],
        removed=bool(row["removed"]), changed_at=utc(row["changed_at"]), detected_at=utc(row["detected_at"]),
        state=row["state"],
    )  # fmt: skip
