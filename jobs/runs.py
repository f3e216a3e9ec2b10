"""The job bodies: refresh every source, run the staleness watchdog, compose and post the weekly digest.

Each takes its dependencies in :class:`JobDeps` and the time as ``now`` (an injectable clock; nothing here sleeps or
reads the wall clock), so tests drive them directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from jobs.chart import digest_chart
from jobs.digest import Digest, ReviewLine, build_digest
from jobs.nudges import NudgeLog
from jobs.ports import JobLedger, SlackPublisher
from jobs.watchdog import CITATION_WINDOW, WatchdogReport, nudge_owners, rank_stale
from jobs.weekly_figures import JobFailure, RefreshFigures, daily_points
from jobs.weeks import shift_week, week_bounds
from rag.answer.staleness import StalenessPolicy
from rag.config import Settings
from rag.errors import ConfigError
from rag.index.indexing import Indexer
from rag.index.refresh import RefreshResult
from rag.index.store import VectorStore
from rag.ledger.change_notices import ChangeNoticeLog
from rag.ledger.doc_reviews import DocReviewLog
from rag.models import DocMeta

log = logging.getLogger(__name__)


class IndexServices(Protocol):
    """What the jobs use of :class:`bestbefore.services.Services` (built lazily there)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> VectorStore: ...

    @property
    def indexer(self) -> Indexer: ...

    @property
    def policy(self) -> StalenessPolicy: ...


@dataclass
class JobDeps:
    index: IndexServices
    ledger: JobLedger
    slack: SlackPublisher | None = None  # the bot's publisher (None without SLACK_BOT_TOKEN)
    nudges: NudgeLog | None = None
    change_notices: ChangeNoticeLog | None = None  # the digest counts answers affected by doc changes

    @property
    def settings(self) -> Settings:
        return self.index.settings

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.app.schedules.timezone)


def refresh_all(deps: JobDeps, now: datetime) -> list[RefreshResult]:
    """The scheduled refresh: every source in turn; one failing source does not stop the others (raises after)."""
    report = deps.index.indexer.refresh(deps.settings.app.sources, now=now)
    report.raise_for_failures()
    return report.results


def watchdog(deps: JobDeps, now: datetime) -> WatchdogReport:
    """Stale docs ranked by citations in the last 30 days; DMs their owners when ``digest.nudge_owners`` is on."""
    docs = [d.meta for d in deps.index.store.stored_docs().values()]
    citations = deps.ledger.citations_by_doc(now - CITATION_WINDOW)
    reviews = deps.ledger.reviews.reviews({d.doc_id: d.source_hash for d in docs})
    report = WatchdogReport(ranked=rank_stale(docs, deps.index.policy, citations, now, reviews))
    if deps.settings.app.digest.nudge_owners and deps.slack is not None and deps.nudges is not None:
        nudge_owners(report.ranked, slack=deps.slack, log_book=deps.nudges, now=now, report=report)
    log.info("watchdog: %d stale docs, %d owners nudged", len(report.ranked), len(report.nudged))
    return report


def compose_digest(deps: JobDeps, week: str, now: datetime) -> Digest:
    """The digest of one ISO week (figures beside the week before it), from the ledger and the index."""
    tz = deps.timezone
    since, until = week_bounds(week, tz)
    before_since, before_until = week_bounds(shift_week(week, -1, tz), tz)
    ledger = deps.ledger
    as_of = min(now, until)
    docs = [d.meta for d in deps.index.store.stored_docs().values()]
    reviews = ledger.reviews.reviews({d.doc_id: d.source_hash for d in docs})
    citations = ledger.citations_by_doc(as_of - CITATION_WINDOW, as_of)
    ranked = rank_stale(docs, deps.index.policy, citations, as_of, reviews)
    return build_digest(
        week,
        since,
        until - timedelta(microseconds=1),
        current=ledger.stats(since, until),
        previous=ledger.stats(before_since, before_until),
        refresh=RefreshFigures.of(ledger.refresh_runs_between(since, until)),
        refresh_before=RefreshFigures.of(ledger.refresh_runs_between(before_since, before_until)),
        top_stale=[r.line() for r in ranked if r.citations or r.open_flags] or [r.line() for r in ranked],
        failures=[JobFailure.of(row) for row in ledger.job_failures_between(since, until)],
        failures_before=len(ledger.job_failures_between(before_since, before_until)),
        daily_spend_cap=deps.settings.app.limits.daily_spend_usd,
        reviews=review_lines(ledger.reviews, {d.doc_id: d for d in docs}, since, until),
        change_notices=deps.change_notices.counts_between(since, until) if deps.change_notices else None,
        change_notices_before=(
            deps.change_notices.counts_between(before_since, before_until) if deps.change_notices else None
        ),
    )


def review_lines(log: DocReviewLog, docs: dict[str, DocMeta], since: datetime, until: datetime) -> list[ReviewLine]:
    """The week's verifications and flags, of docs still indexed."""
    lines = [
        ReviewLine("verified", docs[v.doc_id].title, docs[v.doc_id].url, v.user, v.at)
        for v in log.verifications()
        if v.doc_id in docs and since <= v.at < until
    ]
    lines += [
        ReviewLine("flagged", docs[f.doc_id].title, docs[f.doc_id].url, f.user, f.at, f.reason)
        for f in log.flags()
        if f.doc_id in docs and since <= f.at < until
    ]
    return lines


def chart_of(deps: JobDeps, week: str) -> bytes:
    since, until = week_bounds(week, deps.timezone)
    return digest_chart(daily_points(deps.ledger.stats(since, until), since, until), title=f"bestbefore {week}")


def post_digest(deps: JobDeps, week: str, now: datetime, *, force: bool = False) -> str | None:
    """Post the week's digest and its chart in the thread (the bot's publisher words them); record it. None if
    already posted."""
    if not force and deps.ledger.digest_posted(week):
        log.info("digest for %s was already posted", week)
        return None
    if deps.slack is None:
        raise ConfigError("Posting the digest needs SLACK_BOT_TOKEN")
    channel = deps.settings.app.digest.channel
    digest = compose_digest(deps, week, now)
    posted_in, ts = deps.slack.post_digest(channel, digest)
    deps.ledger.record_digest_post(week, channel, ts)
    try:
        deps.slack.attach_chart(posted_in, ts, chart_of(deps, week), week=week)
    except Exception as exc:  # the digest is out; a missing chart is reported, not retried as a second post
        log.warning("digest chart upload for %s failed: %s", week, exc)
        deps.ledger.record_job_failure("digest-chart", f"{type(exc).__name__}: {exc}", at=now)
    return ts
