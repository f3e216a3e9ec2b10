from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rag.answer.staleness import StalenessPolicy, stale_sources, staleness_warning
from rag.config import StalenessConfig
from rag.durations import human_age, human_span, parse_duration
from rag.models import DateOrigin, DocMeta, SourceRef

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def meta(path: str, days_old: int, source: str = "handbook", title: str = "Doc") -> DocMeta:
    return DocMeta(
        doc_id=f"{source}:{path}", source=source, path=path, title=title, source_hash="h",
        updated_at=NOW - timedelta(days=days_old), date_origin=DateOrigin.FRONT_MATTER,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "days"),
    [("90d", 90), ("18mo", 547.9), ("2y", 730.5), ("12w", 84), (30, 30), ("1.5y", 547.9)],
)
def test_parse_duration(text: str, days: float) -> None:
    assert parse_duration(text).total_seconds() / 86400 == pytest.approx(days, abs=0.1)


@pytest.mark.parametrize("bad", ["90", "ninety days", "3m", "", "-2d"])
def test_parse_duration_rejects_unclear_text(bad: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_human_wording() -> None:
    assert human_age(timedelta(days=548)) == "18 months ago"
    assert human_age(timedelta(days=3)) == "3 days ago"
    assert human_age(timedelta(hours=5)) == "today"
    assert human_span(timedelta(days=365)) == "12 months"
    assert human_span(timedelta(days=730)) == "2 years"
    assert human_span(timedelta(days=1)) == "1 day"


def test_most_specific_glob_wins_then_source_then_default() -> None:
    policy = StalenessPolicy.from_config(
        StalenessConfig(
            default="1y",
            sources={"wiki": "30d"},
            paths={"handbook/policies/**": "180d", "handbook/policies/travel*": "12mo", "runbooks/*": "90d"},
        )
    )
    assert policy.threshold_for("handbook", "policies/travel-policy.md").days == 365
    assert policy.threshold_for("handbook", "policies/vacation.md") == timedelta(days=180)
    assert policy.threshold_for("ops", "runbooks/deploy.md") == timedelta(days=90)
    assert policy.threshold_for("wiki", "anything.md") == timedelta(days=30)
    assert policy.threshold_for("handbook", "faq.md").days == 365


def test_no_configuration_means_365_days() -> None:
    policy = StalenessPolicy.from_config(StalenessConfig())
    assert policy.threshold_for("x", "y.md") == timedelta(days=365)
    assert policy.check(meta("y.md", 364), NOW) is None
    assert policy.check(meta("y.md", 366), NOW) is not None


def test_stale_sources_oldest_first() -> None:
    policy = StalenessPolicy(default=timedelta(days=100))
    found = stale_sources(policy, [meta("a.md", 150), meta("b.md", 50), meta("c.md", 400)], NOW)
    assert [s.meta.path for s in found] == ["c.md", "a.md"]
    assert found[0].overdue == timedelta(days=300)


def test_channel_overlay_wins() -> None:
    base = StalenessPolicy(default=timedelta(days=365), by_source=(("handbook", timedelta(days=200)),))
    channel = StalenessPolicy(default=timedelta(days=30), by_source=(("handbook", timedelta(days=60)),))
    merged = base.overlay(channel)
    assert merged.threshold_for("handbook", "a.md") == timedelta(days=60)
    assert merged.threshold_for("other", "a.md") == timedelta(days=30)
    assert base.overlay(None) is base


def ref(title: str, age: int, threshold: int, *, cited: bool) -> SourceRef:
    return SourceRef(
        doc_id=title, title=title, url=None, updated_at=NOW - timedelta(days=age), age_days=age,
        stale=age > threshold, threshold_days=threshold, cited=cited,
    )  # fmt: skip


def test_warning_names_only_cited_stale_docs() -> None:
    sources = [ref("Travel policy", 548, 365, cited=True), ref("Old FAQ", 900, 365, cited=False)]
    warning = staleness_warning(sources)
    assert warning == (
        "Based on *Travel policy*, last updated 18 months ago (limit 12 months) — it may be out of date."
    )
    assert staleness_warning([ref("Fresh", 10, 365, cited=True), ref("Old", 900, 365, cited=False)]) is None


def test_warning_lists_every_stale_cited_doc() -> None:
    warning = staleness_warning([ref("A", 400, 365, cited=True), ref("B", 200, 90, cited=True)])
    assert warning is not None
    assert "*A*" in warning and "*B*" in warning and "they may be out of date" in warning


def test_a_verification_vouches_for_the_whole_page_under_the_passage_basis() -> None:
    """#13 × #14: "still accurate" on this content restarts the clock even when an old passage made the page stale;
    a verification of earlier content (another hash) does not."""
    from dataclasses import replace

    from rag.reviews import Verification, review_of

    policy = StalenessPolicy(default=timedelta(days=365), basis="passage")
    page = replace(meta("leave.md", 10), date_origin=DateOrigin.GIT, source_hash="now")
    passage = NOW - timedelta(days=400)
    before = policy.source_ref(page, NOW, cited=True, passage_at=passage)
    assert before.stale and before.stale_by_passage and before.verified_at is None
    assert policy.check(page, NOW, passage) is not None
    said = [Verification(page.doc_id, "alice", NOW - timedelta(days=2), "now")]
    verified = policy.source_ref(page, NOW, cited=True, passage_at=passage, review=review_of("now", said, []))
    assert not verified.stale and not verified.stale_by_passage and verified.verified_at == said[0].at
    assert stale_sources(policy, [page], NOW, {page.doc_id: passage}, {page.doc_id: review_of("now", said, [])}) == []
    old = review_of("now", [replace(said[0], source_hash="before")], [])
    assert policy.source_ref(page, NOW, cited=True, passage_at=passage, review=old).stale_by_passage
