"""What people said about a doc's current content: verifications ("✅ Still accurate") and flags ("🚩 Report
outdated"). Pure; the ledger keeps them (:mod:`rag.ledger.doc_reviews`).

A verification is for one version of a doc (its ``source_hash``): it resets the doc's staleness clock to the
verification time until the content changes (another hash) or the threshold passes again. A flag is *open* while
the doc's content is the one that was flagged and no later verification closed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from rag.models import DocMeta


@dataclass(frozen=True)
class Verification:
    doc_id: str
    user: str
    at: datetime
    source_hash: str


@dataclass(frozen=True)
class Flag:
    doc_id: str
    user: str
    at: datetime
    source_hash: str
    reason: str | None = None


@dataclass(frozen=True)
class DocReview:
    """What people said about the current version of a doc."""

    verification: Verification | None = None  # the latest one for this content
    open_flags: tuple[Flag, ...] = ()

    @property
    def verified_at(self) -> datetime | None:
        return self.verification.at if self.verification else None

    def to_json(self) -> dict[str, object]:
        return {
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "verified_by": self.verification.user if self.verification else None,
            "open_flags": len(self.open_flags),
            "flag_reasons": [f.reason for f in self.open_flags if f.reason],
        }


NO_REVIEW = DocReview()


def review_of(source_hash: str, verifications: Iterable[Verification], flags: Iterable[Flag]) -> DocReview:
    """The review state of the content ``source_hash`` from all of a doc's verifications and flags."""
    mine = [v for v in verifications if v.source_hash == source_hash]
    latest = max(mine, key=lambda v: v.at) if mine else None
    open_flags = tuple(
        sorted(
            (f for f in flags if f.source_hash == source_hash and (latest is None or f.at > latest.at)),
            key=lambda f: f.at,
        )
    )
    return DocReview(verification=latest, open_flags=open_flags)


def reviewed_meta(meta: DocMeta, review: DocReview | None) -> DocMeta:
    """The doc as the staleness check sees it: a verification of this content restarts its clock."""
    if review is None or review.verified_at is None or review.verified_at <= meta.updated_at:
        return meta
    return replace(meta, updated_at=review.verified_at)
