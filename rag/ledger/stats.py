"""Figures over a window of the query ledger: latency percentiles, cost, quality rates. Read-only.

Percentiles are computed in Python over the window's rows, so SQLite and PostgreSQL give the same figures.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from rag.ledger.schema import answers, provider_calls, votes

LATENCY_STAGES = ("cache", "embed", "retrieve", "rerank", "generate", "total")
REFUSED_SAMPLE = 10
TOP_CITED = 10


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Latency:
    count: int
    p50_ms: float
    p95_ms: float

    @classmethod
    def of(cls, values: list[float]) -> Latency:
        return cls(len(values), round(percentile(values, 50), 3), round(percentile(values, 95), 3))


@dataclass(frozen=True)
class Quality:
    answers: int = 0
    refusals: int = 0
    stale: int = 0
    zero_hit: int = 0
    errors: int = 0
    votes_up: int = 0
    votes_down: int = 0
    with_sources: int = 0  # answers that cited at least one doc
    fresh_sources: int = 0  # ... all of them within their threshold

    @property
    def thumbs_up_rate(self) -> float | None:
        """Share of 👍 among the current votes on the window's answers."""
        return _rate(self.votes_up, self.votes_up + self.votes_down)

    @property
    def refusal_rate(self) -> float | None:
        return _rate(self.refusals, self.answers)

    @property
    def stale_rate(self) -> float | None:
        return _rate(self.stale, self.answers)

    @property
    def zero_hit_rate(self) -> float | None:
        return _rate(self.zero_hit, self.answers)

    @property
    def fresh_source_rate(self) -> float | None:
        """Share of answers citing docs whose cited docs were all within their threshold (#14)."""
        return _rate(self.fresh_sources, self.with_sources)

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "thumbs_up_rate": self.thumbs_up_rate,
            "refusal_rate": self.refusal_rate,
            "stale_rate": self.stale_rate,
            "zero_hit_rate": self.zero_hit_rate,
            "fresh_source_rate": self.fresh_source_rate,
        }


@dataclass(frozen=True)
class LedgerStats:
    since: datetime
    until: datetime
    questions: int
    unique_askers: int
    latency: dict[str, Latency]  # stage -> percentiles over the window
    latency_by_day: dict[str, dict[str, Latency]]  # "YYYY-MM-DD" -> stage -> percentiles
    cost_usd: float
    cost_by_day: dict[str, float]
    cost_by_model: dict[str, float]  # "provider/model" -> USD
    cost_by_day_model: dict[str, dict[str, float]]
    unpriced_calls: int
    quality: Quality
    quality_by_day: dict[str, Quality]
    cache_hit_rate: float | None
    top_cited: list[tuple[str, int]]
    refused_sample: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "questions": self.questions,
            "unique_askers": self.unique_askers,
            "latency": {stage: asdict(lat) for stage, lat in self.latency.items()},
            "latency_by_day": {
                day: {stage: asdict(lat) for stage, lat in stages.items()}
                for day, stages in self.latency_by_day.items()
            },
            "cost_usd": self.cost_usd,
            "cost_by_day": self.cost_by_day,
            "cost_by_model": self.cost_by_model,
            "cost_by_day_model": self.cost_by_day_model,
            "unpriced_calls": self.unpriced_calls,
            "quality": self.quality.to_json(),
            "quality_by_day": {day: q.to_json() for day, q in self.quality_by_day.items()},
            "cache_hit_rate": self.cache_hit_rate,
            "top_cited": [{"doc_id": doc, "answers": n} for doc, n in self.top_cited],
            "refused_sample": self.refused_sample,
        }


def utc(moment: datetime) -> datetime:
    """Aware UTC (naive values, as SQLite returns them, are UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _day(moment: datetime) -> str:
    return utc(moment).date().isoformat()


def compute_stats(conn: Connection, since: datetime, until: datetime) -> LedgerStats:
    window = (answers.c.created_at >= since, answers.c.created_at < until)
    timing_cols = [answers.c[f"t_{stage}"] for stage in LATENCY_STAGES]
    rows = conn.execute(
        select(
            answers.c.id, answers.c.created_at, answers.c.user_id, answers.c.surface, answers.c.question,
            answers.c.refused, answers.c.stale, answers.c.zero_hit, answers.c.error, answers.c.sources,
            answers.c.cache_hits, answers.c.cache_misses, *timing_cols,
        ).where(*window).order_by(answers.c.created_at)
    ).mappings().all()  # fmt: skip
    day_of = {row["id"]: _day(row["created_at"]) for row in rows}

    latencies: dict[str, list[float]] = defaultdict(list)
    by_day: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    cited: Counter[str] = Counter()
    askers: set[tuple[str, str]] = set()
    hits = misses = 0
    refused: list[str] = []
    for row in rows:
        day = day_of[row["id"]]
        for stage in LATENCY_STAGES:
            value = row[f"t_{stage}"]
            if value is not None:
                latencies[stage].append(value)
                by_day[day][stage].append(value)
        for key in ("refused", "stale", "zero_hit"):
            counts[day][key] += bool(row[key])
        counts[day]["answers"] += 1
        counts[day]["errors"] += row["error"] is not None
        cited.update({s["doc_id"] for s in row["sources"] if s.get("cited")})
        citing = [s for s in row["sources"] if s.get("cited")]
        if citing:
            counts[day]["with_sources"] += 1
            counts[day]["fresh_sources"] += not any(s.get("stale") for s in citing)
        if row["user_id"]:
            askers.add((row["surface"], row["user_id"]))
        hits += row["cache_hits"]
        misses += row["cache_misses"]
        if row["refused"] and row["question"]:
            refused.append(row["question"])

    vote_rows = conn.execute(
        select(votes.c.value, answers.c.created_at)
        .join(answers, answers.c.id == votes.c.answer_id)
        .where(*window, votes.c.retracted.is_(False))
    ).all()
    for value, created in vote_rows:
        counts[_day(created)]["up" if value > 0 else "down"] += 1

    cost_rows = conn.execute(
        select(provider_calls.c.provider, provider_calls.c.model, provider_calls.c.cost_usd, provider_calls.c.priced,
               provider_calls.c.created_at)
        .where(provider_calls.c.created_at >= since, provider_calls.c.created_at < until)
    ).all()  # fmt: skip
    cost_by_day: dict[str, float] = defaultdict(float)
    cost_by_model: dict[str, float] = defaultdict(float)
    cost_by_day_model: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    unpriced = 0
    for provider, model, usd, priced, created in cost_rows:
        key, day = f"{provider}/{model}", _day(created)
        cost_by_day[day] += usd
        cost_by_model[key] += usd
        cost_by_day_model[day][key] += usd
        unpriced += not priced

    def quality(c: Counter[str]) -> Quality:
        return Quality(
            answers=c["answers"], refusals=c["refused"], stale=c["stale"], zero_hit=c["zero_hit"],
            errors=c["errors"], votes_up=c["up"], votes_down=c["down"], with_sources=c["with_sources"],
            fresh_sources=c["fresh_sources"],
        )  # fmt: skip

    total: Counter[str] = Counter()
    for c in counts.values():
        total.update(c)
    days = sorted(counts)
    return LedgerStats(
        since=since,
        until=until,
        questions=len(rows),
        unique_askers=len(askers),
        latency={stage: Latency.of(v) for stage, v in latencies.items()},
        latency_by_day={day: {s: Latency.of(v) for s, v in by_day[day].items()} for day in sorted(by_day)},
        cost_usd=sum(cost_by_day.values()),
        cost_by_day={day: cost_by_day.get(day, 0.0) for day in sorted(set(days) | set(cost_by_day))},
        cost_by_model=dict(sorted(cost_by_model.items(), key=lambda kv: -kv[1])),
        cost_by_day_model={day: dict(models) for day, models in sorted(cost_by_day_model.items())},
        unpriced_calls=unpriced,
        quality=quality(total),
        quality_by_day={day: quality(counts[day]) for day in days},
        cache_hit_rate=_rate(hits, hits + misses),
        top_cited=cited.most_common(TOP_CITED),
        refused_sample=refused[-REFUSED_SAMPLE:][::-1],
    )
