"""What the scheduled jobs need from the rest of the system, as Protocols.

:class:`rag.ledger.query_ledger.QueryLedger` implements :class:`JobLedger`; Slack calls go through ``slack_sdk.WebClient``.
The jobs only go through these methods, so tests seed the real ledger through its public API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from slack_sdk import WebClient

from rag.index.refresh import RefreshResult
from rag.ledger.doc_reviews import DocReviewLog
from rag.ledger.stats import LedgerStats

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


SlackWeb = WebClient  # the real ``slack_sdk.WebClient`` (pointed at a fake Slack in tests via ``base_url``)
