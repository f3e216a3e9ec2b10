"""What the scheduled jobs need from the rest of the system, as Protocols.

:class:`rag.ledger.query_ledger.QueryLedger` implements :class:`JobLedger`; ``bot.publisher.SlackPublisher`` implements
:class:`SlackPublisher` (the composition root wires both in).
The jobs only go through these methods, so tests seed the real ledger through its public API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from rag.ledger.change_notices import Notice
from rag.ledger.doc_reviews import DocReviewLog
from rag.ledger.stats import LedgerStats
from rag.models import RefreshResult

if TYPE_CHECKING:
    from jobs.digest import Digest
    from jobs.watchdog import OwnerNudge

Clock = Callable[[], datetime]


class JobLedger(Protocol):
    """The query ledger as the jobs see it."""

    reviews: DocReviewLog  # verifications and flags of docs

    def record_refresh(self, result: RefreshResult, *, started_at: datetime, error: str | None = None) -> None: ...

    def record_job_failure(self, job: str, error: str, at: datetime) -> None: ...

    def record_digest_post(self, week: str, channel: str, ts: str | None) -> None: ...

    def digest_posted(self, week: str) -> bool: ...

    def citations_by_doc(self, since: datetime, until: datetime | None = None) -> dict[str, int]: ...

    def stats(self, since: datetime, until: datetime | None = None) -> LedgerStats: ...

    def refresh_runs_between(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Rows with ``source, started_at, ok, error, result`` (``RefreshResult.to_json()``)."""

    def job_failures_between(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Rows with ``job, started_at, error``."""


class SlackPublisher(Protocol):
    """Slack as the jobs see it: they hand over data; the bot's ``bot.publisher.SlackPublisher`` formats and posts."""

    def post_digest(self, channel: str, digest: Digest) -> tuple[str, str]:
        """Post the digest; ``(channel id, ts)`` of the message."""

    def attach_chart(self, channel: str, thread_ts: str, png: bytes, *, week: str) -> None:
        """Upload the week's chart into the digest's thread."""

    def nudge_owner(self, nudge: OwnerNudge) -> bool:
        """DM the owner; False when the owner names no Slack user (Slack errors raise)."""

    def post_change_notice(self, channel: str, thread_ts: str, notices: Sequence[Notice]) -> str:
        """One reply in the thread naming every change in ``notices`` (their keys in its metadata); its ts."""

    def find_change_notice(self, channel: str, thread_ts: str, keys: Sequence[str]) -> str | None:
        """The ts of a reply already in the thread carrying any of ``keys`` (a run that died after posting)."""
