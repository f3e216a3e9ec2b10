"""The weekly digest for #rag-ops: figures for a week and the week before, as data, text and JSON. Pure.

Its Block Kit is the bot's (``bot/publisher.py``), posted through ``jobs.ports.SlackPublisher``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from jobs.weekly_figures import JobFailure, RefreshFigures, SkippedLine
from rag.ledger.stats import LedgerStats

Kind = Literal["count", "rate", "ms", "usd"]
MAX_REFUSED = 5
MAX_STALE = 5
MAX_FAILURES = 5
MAX_SKIPPED = 5


@dataclass(frozen=True)
class Figure:
    """One digest figure with last week's value. ``better``: which direction is good (None = neither)."""

    key: str
    label: str
    kind: Kind
    value: float | None
    previous: float | None
    better: Literal["up", "down"] | None = None
    note: str = ""

    def shown(self) -> str:
        return format_value(self.value, self.kind)

    def change(self) -> str:
        """Week-over-week: percentage points for rates, percent for the rest."""
        if self.value is None or self.previous is None:
            return "no data last week" if self.previous is None and self.value is not None else "–"
        diff = self.value - self.previous
        if self.kind == "rate":
            text = f"{diff * 100:+.1f} pp"
        elif self.previous == 0:
            return "new" if self.value else "±0"
        else:
            text = f"{diff / self.previous * 100:+.0f}%"
        if abs(diff) < 1e-12:
            return "±0"
        arrow = "▲" if diff > 0 else "▼"
        return f"{arrow} {text}"

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "value": self.value, "previous": self.previous, "change": self.change()}


@dataclass(frozen=True)
class StaleDocLine:
    title: str
    url: str | None
    age_days: int
    threshold_days: int
    citations: int
    open_flags: int = 0


@dataclass(frozen=True)
class ReviewLine:
    """A verification ("still accurate") or a flag ("reported outdated") during the week."""

    kind: Literal["verified", "flagged"]
    title: str
    url: str | None
    user: str
    at: datetime
    reason: str | None = None

    def text(self) -> str:
        what = "still accurate, says" if self.kind == "verified" else "reported outdated by"
        reason = f": {self.reason}" if self.reason else ""
        return f"{self.title} {what} {self.user}{reason}"


@dataclass(frozen=True)
class Digest:
    week: str
    since: datetime
    until: datetime
    figures: list[Figure]
    top_stale: list[StaleDocLine] = field(default_factory=list)
    refused_questions: list[str] = field(default_factory=list)
    failures: list[JobFailure] = field(default_factory=list)
    reviews: list[ReviewLine] = field(default_factory=list)
    skipped_files: list[SkippedLine] = field(default_factory=list)  # every one; the digest shows MAX_SKIPPED

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)

    def text(self) -> str:
        """The plain-text fallback (notifications, screen readers, ``bestbefore digest``)."""
        lines = [f"bestbefore weekly digest, {self.week}"]
        lines += [f"{f.label}: {f.shown()}{f' ({f.note})' if f.note else ''} [{f.change()}]" for f in self.figures]
        if self.top_stale:
            lines.append("Top stale docs by citations:")
            lines += [
                f"  {d.title}: {d.citations} citations, {d.age_days} days old"
                + (f", reported outdated {d.open_flags}x" if d.open_flags else "")
                for d in self.top_stale
            ]
        if self.reviews:
            lines.append("Doc reviews:")
            lines += [f"  {r.text()}" for r in self.reviews]
        if self.refused_questions:
            lines.append("Refused questions:")
            lines += [f"  {q}" for q in self.refused_questions]
        if self.failures:
            lines.append("Job failures:")
            lines += [f"  {f.job} at {f.at:%Y-%m-%d %H:%M}: {f.error}" for f in self.failures]
        if self.skipped_files:
            lines.append("Files refresh skipped:")
            lines += [f"  {s.source}:{s.path}: {s.reason}" for s in self.skipped_files[:MAX_SKIPPED]]
            lines += [self._more_skipped()] if len(self.skipped_files) > MAX_SKIPPED else []
        return "\n".join(lines)

    def _more_skipped(self) -> str:
        return f"  … and {len(self.skipped_files) - MAX_SKIPPED} more (`bestbefore refresh` lists them all)"

    @property
    def skipped_shown(self) -> list[SkippedLine]:
        """The skipped files the digest lists (the first ``MAX_SKIPPED``)."""
        return self.skipped_files[:MAX_SKIPPED]

    def skipped_note(self) -> str:
        """ "… and N more …" when more files were skipped than the digest lists, else ""."""
        return self._more_skipped().strip() if len(self.skipped_files) > MAX_SKIPPED else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "week": self.week,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "figures": {f.key: f.to_json() for f in self.figures},
            "top_stale": [d.__dict__ for d in self.top_stale],
            "refused_questions": self.refused_questions,
            "reviews": [
                {"kind": r.kind, "title": r.title, "user": r.user, "at": r.at.isoformat(), "reason": r.reason}
                for r in self.reviews
            ],
            "failures": [{"job": f.job, "error": f.error, "at": f.at.isoformat()} for f in self.failures],
            "skipped_files": [s.__dict__ for s in self.skipped_files],
        }


def build_digest(
    week: str,
    since: datetime,
    until: datetime,
    *,
    current: LedgerStats,
    previous: LedgerStats,
    refresh: RefreshFigures,
    refresh_before: RefreshFigures,
    top_stale: Sequence[StaleDocLine] = (),
    failures: Sequence[JobFailure] = (),
    failures_before: int = 0,
    daily_spend_cap: float | None = None,
    reviews: Sequence[ReviewLine] = (),
    change_notices: Mapping[str, int] | None = None,
    change_notices_before: Mapping[str, int] | None = None,
) -> Digest:
    """Every figure the issue asks for, with last week's value beside it."""
    cur, prev = current, previous

    def pick(stats: LedgerStats, name: str) -> float | None:
        total = stats.latency.get("total")
        return getattr(total, name) if total else None

    def per_answer(stats: LedgerStats) -> float | None:
        return stats.cost_usd / stats.questions if stats.questions else None

    def votes(stats: LedgerStats) -> int:
        return stats.quality.votes_up + stats.quality.votes_down

    q, pq = cur.quality, prev.quality
    figures = [
        Figure(  # first: the share of answers that rested on fresh docs (#14)
            "fresh_source_rate",
            "Fresh-source rate",
            "rate",
            q.fresh_source_rate,
            pq.fresh_source_rate,
            "up",
            note=f"of {q.with_sources} answers citing docs",
        ),  # fmt: skip
        Figure("questions", "Questions", "count", cur.questions, prev.questions, "up"),
        Figure("unique_askers", "Unique askers", "count", cur.unique_askers, prev.unique_askers, "up"),
        Figure("latency_p50_ms", "Latency p50", "ms", pick(cur, "p50_ms"), pick(prev, "p50_ms"), "down"),
        Figure("latency_p95_ms", "Latency p95", "ms", pick(cur, "p95_ms"), pick(prev, "p95_ms"), "down"),
        Figure("cost_usd", "Total cost", "usd", cur.cost_usd, prev.cost_usd, "down"),
        Figure("cost_per_answer_usd", "Cost per answer", "usd", per_answer(cur), per_answer(prev), "down"),
        Figure("refusal_rate", "Refusal rate", "rate", q.refusal_rate, pq.refusal_rate, "down"),
        Figure(
            "thumbs_up_rate",
            "👍 rate",
            "rate",
            q.thumbs_up_rate,
            pq.thumbs_up_rate,
            "up",
            note=f"{votes(cur)} vote{'s' if votes(cur) != 1 else ''}",
        ),  # fmt: skip
        Figure("stale_answer_rate", "Stale-answer rate", "rate", q.stale_rate, pq.stale_rate, "down"),
        Figure("zero_hit_retrievals", "Zero-hit retrievals", "count", q.zero_hit, pq.zero_hit, "down"),
        Figure("cache_hit_rate", "Cache hit rate", "rate", cur.cache_hit_rate, prev.cache_hit_rate, "up"),
        Figure("refresh_runs", "Refresh runs", "count", refresh.runs, refresh_before.runs),
        Figure("docs_changed", "Docs changed", "count", refresh.docs_changed, refresh_before.docs_changed),
        Figure("chunks_embedded", "Chunks embedded", "count", refresh.chunks_embedded, refresh_before.chunks_embedded),
        Figure("refresh_failures", "Refresh failures", "count", refresh.failures, refresh_before.failures, "down"),
        Figure("job_failures", "Job failures", "count", len(failures), failures_before, "down"),
        Figure("files_skipped", "Files skipped", "count", len(refresh.skipped), len(refresh_before.skipped), "down"),
    ]
    if change_notices is not None:  # answers whose cited doc changed: told in their thread, or over the caps
        told, over = change_notices.get("posted", 0), change_notices.get("deferred", 0)
        figures.append(
            Figure(
                "answers_affected_by_changes",
                "Answers affected by changes",
                "count",
                sum(change_notices.values()),
                sum((change_notices_before or {}).values()),
                note=f"{told} told in their thread, {over} over the cap",
            )
        )
    if daily_spend_cap:  # [limits] daily_spend_usd: days on which answers fell back to the embedded pipeline
        figures.append(
            Figure(
                "spend_cap_days",
                "Days at the spend cap",
                "count",
                days_at(cur, daily_spend_cap),
                days_at(prev, daily_spend_cap),
                "down",
                note=f"extractive answers after {format_value(daily_spend_cap, 'usd')}/day",
            )
        )
    return Digest(
        week=week,
        since=since,
        until=until,
        figures=figures,
        top_stale=list(top_stale)[:MAX_STALE],
        refused_questions=list(cur.refused_sample)[:MAX_REFUSED],
        failures=list(failures)[-MAX_FAILURES:],
        reviews=sorted(reviews, key=lambda r: r.at)[-MAX_REVIEWS:],
        skipped_files=list(refresh.skipped),
    )


MAX_REVIEWS = 15


def days_at(stats: LedgerStats, cap: float) -> int:
    return sum(1 for usd in stats.cost_by_day.values() if usd >= cap)


def format_value(value: float | None, kind: Kind) -> str:
    if value is None:
        return "–"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "ms":
        return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"
    if kind == "usd":
        return f"${value:.4f}" if 0 < value < 1 else f"${value:,.2f}"
    return f"{int(value):,}"
