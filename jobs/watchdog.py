"""The staleness watchdog: stale docs ranked by how often answers cited them, and optional owner nudges by DM."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jobs.digest import StaleDocLine
from jobs.nudges import NudgeLog, crossing_of
from jobs.ports import SlackPublisher
from rag.answer.staleness import StalenessPolicy, StaleSource, stale_sources
from rag.models import DocMeta

log = logging.getLogger(__name__)

CITATION_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class RankedStale:
    stale: StaleSource
    citations: int  # answers citing the doc in the last 30 days

    def line(self) -> StaleDocLine:
        return StaleDocLine(
            title=self.stale.meta.title,
            url=self.stale.meta.url,
            age_days=self.stale.age.days,
            threshold_days=self.stale.threshold.days,
            citations=self.citations,
        )


@dataclass
class WatchdogReport:
    ranked: list[RankedStale]
    nudged: list[str] = field(default_factory=list)  # doc ids whose owner got a DM in this run
    unreachable: list[str] = field(default_factory=list)  # "doc_id: why" for owners we could not reach


def rank_stale(
    docs: Iterable[DocMeta], policy: StalenessPolicy, citations: dict[str, int], now: datetime
) -> list[RankedStale]:
    """Stale docs, most cited first (ties: the most overdue first). A stale doc nobody reads sinks to the bottom."""
    ranked = [RankedStale(s, citations.get(s.meta.doc_id, 0)) for s in stale_sources(policy, list(docs), now)]
    return sorted(ranked, key=lambda r: (-r.citations, -r.stale.overdue.total_seconds(), r.stale.meta.doc_id))


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
