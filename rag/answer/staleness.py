"""The staleness policy: which threshold applies to a document, whether it is stale, and the human wording. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from rag.config import StalenessConfig
from rag.durations import add_period, human_age, human_span, parse_duration
from rag.models import DateOrigin, DocMeta, SourceRef
from rag.reviews import DocReview, reviewed_meta

DEFAULT_THRESHOLD = timedelta(days=365)


@dataclass(frozen=True)
class StaleSource:
    """A document past its threshold."""

    meta: DocMeta
    age: timedelta
    threshold: timedelta

    @property
    def overdue(self) -> timedelta:
        return self.age - self.threshold


@dataclass(frozen=True)
class StalenessPolicy:
    """Thresholds by path glob (most specific wins), then by source, then the default."""

    default: timedelta = DEFAULT_THRESHOLD
    by_source: tuple[tuple[str, timedelta], ...] = ()
    by_glob: tuple[tuple[str, timedelta], ...] = ()  # globs over "<source>/<path>" or "<path>"
    basis: str = "page"  # "page" | "passage": which age triggers the warning

    @classmethod
    def from_config(cls, config: StalenessConfig, *, source_defaults: dict[str, str] | None = None) -> StalenessPolicy:
        by_source = dict(source_defaults or {})
        by_source.update(config.sources)
        return cls(
            default=parse_duration(config.default),
            by_source=tuple((name, parse_duration(d)) for name, d in by_source.items()),
            by_glob=tuple((glob, parse_duration(d)) for glob, d in config.paths.items()),
            basis=config.basis,
        )

    def overlay(self, other: StalenessPolicy | None) -> StalenessPolicy:
        """A per-channel policy on top of this one: its rules win, ours fill in."""
        if other is None:
            return self
        return StalenessPolicy(
            default=other.default,
            by_source=other.by_source + tuple(r for r in self.by_source if r[0] not in dict(other.by_source)),
            by_glob=other.by_glob + tuple(r for r in self.by_glob if r[0] not in dict(other.by_glob)),
            basis=self.basis,
        )

    def threshold_for(self, source: str, path: str) -> timedelta:
        matches = [
            (glob, threshold)
            for glob, threshold in self.by_glob
            if fnmatchcase(f"{source}/{path}", glob) or fnmatchcase(path, glob)
        ]
        if matches:
            return max(matches, key=lambda m: _specificity(m[0]))[1]
        for name, threshold in self.by_source:
            if name == source:
                return threshold
        return self.default

    def threshold_of(self, meta: DocMeta) -> timedelta:
        """The page's own rule first (front matter ``review_by`` / ``review_in``, GOV.UK page expiry), then the
        path and source thresholds."""
        if meta.review_by is not None:
            return max(meta.review_by - meta.updated_at, timedelta(0))
        if meta.review_in:
            try:
                return add_period(meta.updated_at, meta.review_in) - meta.updated_at
            except (ValueError, OverflowError):
                pass  # validated at ingest; an index written by another version may hold anything
        return self.threshold_for(meta.source, meta.path)

    def check(
        self, meta: DocMeta, now: datetime, passage_at: datetime | None = None, review: DocReview | None = None
    ) -> StaleSource | None:
        """``meta`` past its threshold; a verification of its current content (``review``) restarts its clock."""
        threshold = self.threshold_of(meta)
        age = now - self.judged_date(meta, passage_at, review)
        return StaleSource(reviewed_meta(meta, review), age, threshold) if age > threshold else None

    def judged_date(self, meta: DocMeta, passage_at: datetime | None, review: DocReview | None = None) -> datetime:
        """The date staleness is judged by: the page's, or with ``basis = "passage"`` the (older) passage's —
        unless the page carries a front-matter date or review rule (GOV.UK ``last_reviewed_on``, ``review_by``,
        ``review_in``), or someone verified its current content (``review``): a review vouches for the whole page,
        and a verification restarts the page's clock."""
        clock = reviewed_meta(meta, review)
        if clock is not meta:
            return clock.updated_at
        reviewed = meta.date_origin == DateOrigin.FRONT_MATTER or meta.review_by is not None or bool(meta.review_in)
        verified = review is not None and review.verified_at is not None
        if self.basis != "passage" or passage_at is None or reviewed or verified:
            return meta.updated_at
        return min(passage_at, meta.updated_at)

    def source_ref(
        self,
        meta: DocMeta,
        now: datetime,
        *,
        cited: bool,
        passage_at: datetime | None = None,
        review: DocReview | None = None,
    ) -> SourceRef:
        """The doc as an answer lists it; a verification of its current content restarts its clock."""
        clock = reviewed_meta(meta, review)
        threshold = self.threshold_of(meta)
        age = now - clock.updated_at
        judged = now - self.judged_date(meta, passage_at, review)
        return SourceRef(
            doc_id=meta.doc_id,
            title=meta.title,
            url=meta.url,
            updated_at=meta.updated_at,
            age_days=max(0, age.days),
            stale=judged > threshold,
            threshold_days=threshold.days,
            cited=cited,
            owner=meta.owner,
            source=meta.source,
            verified_at=clock.updated_at if clock is not meta else None,
            open_flags=len(review.open_flags) if review else 0,
            passage_at=passage_at,
            stale_by_passage=judged > threshold >= age,
        )


def passage_note(ref: SourceRef) -> str | None:
    """ "the cited passage is from March 2022" when the cited passage is older than the page's month, else None."""
    passage = ref.passage_at
    if passage is None or (passage.year, passage.month) >= (ref.updated_at.year, ref.updated_at.month):
        return None
    return f"the cited passage is from {passage:%B %Y}"


def _specificity(glob: str) -> tuple[int, int]:
    """More literal characters = more specific; ties broken by fewer wildcards."""
    wildcards = sum(glob.count(c) for c in "*?[")
    return (len(glob) - wildcards, -wildcards)


def stale_sources(
    policy: StalenessPolicy,
    docs: Sequence[DocMeta],
    now: datetime,
    content_dates: Mapping[str, datetime] | None = None,
    reviews: Mapping[str, DocReview] | None = None,
) -> list[StaleSource]:
    """Docs past their threshold, oldest first. ``content_dates`` (doc_id -> :func:`content_date`) are judged when the
    policy's basis is "passage"; ``reviews`` (doc_id -> verifications of the current content) restart clocks."""
    dates, found_reviews = content_dates or {}, reviews or {}
    found = [
        s
        for meta in docs
        if (s := policy.check(meta, now, dates.get(meta.doc_id), found_reviews.get(meta.doc_id))) is not None
    ]
    return sorted(found, key=lambda s: now - s.age)


def content_date(passages: Sequence[tuple[datetime | None, int]]) -> datetime | None:
    """The date by which most of a page's text (by length) had its present form: the length-weighted median of its
    passages' dates. A page "mostly older than the threshold" has this date past it."""
    dated = sorted((when, length) for when, length in passages if when is not None)
    total = sum(length for _, length in dated)
    running = 0
    for when, length in dated:
        running += length
        if running * 2 >= total:
            return when
    return None


def oldest_passage(passages: Sequence[tuple[datetime | None, int]]) -> datetime | None:
    return min((when for when, _ in passages if when is not None), default=None)


def staleness_warning(sources: Sequence[SourceRef]) -> str | None:
    """The warning for the *cited* sources past their threshold, or None."""
    stale = [s for s in sources if s.cited and s.stale]
    if not stale:
        return None
    parts = [
        f"*{s.title}*, "
        + (f"whose cited passage is from {s.passage_at:%B %Y}" if s.stale_by_passage and s.passage_at else
           f"last updated {human_age(timedelta(days=s.age_days))}")
        + f" (limit {human_span(timedelta(days=s.threshold_days))})"
        for s in stale
    ]  # fmt: skip
    verb = "it may be" if len(stale) == 1 else "they may be"
    return f"Based on {'; '.join(parts)} — {verb} out of date."
