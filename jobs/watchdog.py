"""The staleness watchdog: stale docs ranked by how often answers cited them, and optional owner nudges by DM."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jobs.digest import StaleDocLine
from jobs.nudges import NudgeLog, crossing_of
from jobs.ports import SlackPublisher
from rag.answer.staleness import StalenessPolicy, StaleSource
from rag.models import DocMeta
from rag.reviews import DocReview, reviewed_meta

log = logging.getLogger(__name__)

CITATION_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class RankedStale:
    stale: StaleSource
    citations: int  # answers citing the doc in the last 30 days
    open_flags: int = 0  # people reported the current content outdated

    @property
    def score(self) -> float:
        """citations × days overdue × open flags, each counted from 1 so an unread or unflagged doc still ranks."""
        overdue_days = max(self.stale.overdue.total_seconds() / 86400, 1.0)
        return (self.citations + 1) * overdue_days * (self.open_flags + 1)

    def line(self) -> StaleDocLine:
        return StaleDocLine(
            title=self.stale.meta.title,
            url=self.stale.meta.url,
            age_days=self.stale.age.days,
            threshold_days=self.stale.threshold.days,
            citations=self.citations,
            open_flags=self.open_flags,
        )


@dataclass
class WatchdogReport:
    ranked: list[RankedStale]
    nudged: list[str] = field(default_factory=list)  # doc ids whose owner got a DM in this run
    unreachable: list[str] = field(default_factory=list)  # "doc_id: why" for owners we could not reach


def rank_stale(
    docs: Iterable[DocMeta],
    policy: StalenessPolicy,
    citations: dict[str, int],
    now: datetime,
    reviews: Mapping[str, DocReview] | None = None,
) -> list[RankedStale]:
    """Stale or flagged docs by citations × days overdue × open flags (ties: the most cited first).

    A verification ("still accurate") restarts a doc's clock for its current content; a doc people reported outdated
    is listed even before its threshold passes.
    """
    reviews = reviews or {}
    ranked: list[RankedStale] = []
    for meta in docs:
        review = reviews.get(meta.doc_id)
        flags = len(review.open_flags) if review else 0
        clock = reviewed_meta(meta, review)
        stale = policy.check(clock, now)
        if stale is None and flags:
            threshold = policy.threshold_for(meta.source, meta.path)
            stale = StaleSource(clock, min(now - clock.updated_at, threshold), threshold)
        if stale is not None:
            ranked.append(RankedStale(stale, citations.get(meta.doc_id, 0), flags))
    return sorted(ranked, key=lambda r: (-r.score, -r.citations, r.stale.meta.doc_id))


@dataclass(frozen=True)
class OwnerNudge:
    """What an owner is told about one stale doc (the bot words it: ``bot.publisher.nudge_text``)."""

    owner: str
    title: str
    url: str | None
    path: str
    age: timedelta
    threshold: timedelta
    citations: int

    @classmethod
    def of(cls, item: RankedStale, owner: str) -> OwnerNudge:
        meta = item.stale.meta
        return cls(owner, meta.title, meta.url, meta.path, item.stale.age, item.stale.threshold, item.citations)


def nudge_owners(
    ranked: Iterable[RankedStale],
    *,
    slack: SlackPublisher,
    log_book: NudgeLog,
    now: datetime,
    report: WatchdogReport,
) -> None:
    """DM each stale doc's owner, at most once per doc per threshold crossing (a failed DM is retried next run)."""
    for item in ranked:
        meta = item.stale.meta
        if not meta.owner:
            continue
        crossing = crossing_of(meta.updated_at)
        if not log_book.claim(meta.doc_id, crossing, meta.owner, now):
            continue
        try:
            if not slack.nudge_owner(OwnerNudge.of(item, meta.owner)):
                report.unreachable.append(
                    f"{meta.doc_id}: owner {meta.owner!r} is neither a Slack id, a #channel nor an e-mail"
                )
                continue  # keep the claim: retrying cannot help until the front matter changes
            report.nudged.append(meta.doc_id)
        except Exception as exc:  # Slack down, unknown e-mail, ...: try again at the next run
            log_book.release(meta.doc_id, crossing)
            report.unreachable.append(f"{meta.doc_id}: {type(exc).__name__}: {exc}")
            log.warning("could not nudge the owner of %s: %s", meta.doc_id, exc)
