"""The dashboard's Freshness panel as data (#14): the fresh-source rate per day, stale docs over time and the stale
docs that matter most (citations × days overdue). Pure, from the ledger's figures and the index's documents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jobs.watchdog import rank_stale
from rag.answer.staleness import StalenessPolicy, stale_sources
from rag.ledger.stats import LedgerStats
from rag.models import DocMeta
from rag.reviews import DocReview

TOP_STALE = 10


@dataclass(frozen=True)
class StaleImpact:
    doc_id: str
    title: str
    url: str | None
    citations: int
    days_overdue: int

    @property
    def score(self) -> int:
        return self.citations * self.days_overdue


def stale_over_time(
    docs: Sequence[DocMeta],
    policy: StalenessPolicy,
    days: Sequence[datetime],
    reviews: Mapping[str, DocReview] | None = None,
) -> list[int]:
    """How many docs were past their threshold at the end of each day, by the dates the index holds now (a doc
    changed since counts from its present date on; its earlier version is no longer known). A verification of a
    doc's current content restarts its clock from the day it was made."""
    reviews = reviews or {}

    def made_by(end: datetime) -> dict[str, DocReview]:
        return {d: r for d, r in reviews.items() if r.verified_at is not None and r.verified_at <= end}

    return [
        len(stale_sources(policy, [d for d in docs if d.updated_at <= end], end, reviews=made_by(end))) for end in days
    ]


def top_stale_by_impact(
    docs: Sequence[DocMeta],
    policy: StalenessPolicy,
    citations: Mapping[str, int],
    now: datetime,
    reviews: Mapping[str, DocReview] | None = None,
) -> list[StaleImpact]:
    """Stale docs ranked by citations × days overdue (a stale doc nobody reads scores 0; a verified one is fresh)."""
    ranked = [
        StaleImpact(r.stale.meta.doc_id, r.stale.meta.title, r.stale.meta.url, r.citations, r.stale.overdue.days)
        for r in rank_stale(docs, policy, dict(citations), now, reviews)
        if r.stale.overdue.days > 0 or not r.open_flags  # flagged-but-in-date docs are the reviews panel's
    ]
    return sorted(ranked, key=lambda s: (-s.score, -s.days_overdue, s.doc_id))[:TOP_STALE]


def freshness_panel(
    stats: LedgerStats,
    docs: Sequence[DocMeta],
    policy: StalenessPolicy,
    citations: Mapping[str, int],
    now: datetime,
    reviews: Mapping[str, DocReview] | None = None,
) -> dict[str, Any]:
    """The panel's JSON: ``days``, ``fresh_source_rate`` and ``stale_docs`` per day, ``top_stale``."""
    first = stats.since.date()
    count = max(1, (now.date() - first).days + 1)
    days = [first + timedelta(days=i) for i in range(count)]
    ends = [min(now, datetime.combine(d + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)) for d in days]
    names = [d.isoformat() for d in days]
    quality = stats.quality_by_day
    return {
        "days": names,
        "fresh_source_rate": [quality[n].fresh_source_rate if n in quality else None for n in names],
        "answers_citing": [quality[n].with_sources if n in quality else 0 for n in names],
        "stale_docs": stale_over_time(docs, policy, ends, reviews),
        "fresh_source_rate_window": stats.quality.fresh_source_rate,
        "top_stale": [
            {**s.__dict__, "score": s.score} for s in top_stale_by_impact(docs, policy, citations, now, reviews)
        ],
    }
