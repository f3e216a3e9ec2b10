"""Turns ledger rows and :class:`rag.ledger.stats.LedgerStats` into what the digest and its chart show. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rag.ledger.stats import LedgerStats


@dataclass(frozen=True)
class SkippedLine:
    """A file a refresh could not index, with the reason from its latest run."""

    source: str
    path: str
    reason: str


@dataclass(frozen=True)
class RefreshFigures:
    runs: int = 0
    docs_changed: int = 0  # new + changed + removed
    chunks_embedded: int = 0
    failures: int = 0
    skipped: tuple[SkippedLine, ...] = ()  # distinct files skipped by the window's runs, by source and path

    @classmethod
    def of(cls, rows: Iterable[Mapping[str, Any]]) -> RefreshFigures:
        runs = changed = embedded = failures = 0
        skipped: dict[tuple[str, str], str] = {}
        for row in rows:  # oldest first: a later run's reason wins
            result = row.get("result") or {}
            runs += 1
            failures += not row.get("ok", True)
            changed += sum(int(result.get(k, 0)) for k in ("docs_new", "docs_changed", "docs_removed"))
            embedded += int(result.get("chunks_embedded", 0))
            for item in result.get("skipped") or ():
                skipped[(str(item.get("source", "")), str(item.get("path", "")))] = str(item.get("reason", ""))
        lines = tuple(SkippedLine(source, path, reason) for (source, path), reason in sorted(skipped.items()))
        return cls(runs, changed, embedded, failures, lines)


@dataclass(frozen=True)
class JobFailure:
    job: str
    error: str
    at: datetime

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> JobFailure:
        return cls(job=str(row["job"]), error=str(row.get("error") or "failed"), at=row["started_at"])


@dataclass(frozen=True)
class DayPoint:
    day: date
    questions: int
    thumbs_up_rate: float | None
    latency_p95_ms: float | None


def daily_points(stats: LedgerStats, since: datetime, until: datetime) -> list[DayPoint]:
    """One point per (UTC) day of the window, days without answers included as zeros."""
    first = since.astimezone(UTC).date()
    last = (until - timedelta(microseconds=1)).astimezone(UTC).date()
    points: list[DayPoint] = []
    day = first
    while day <= last:
        key = day.isoformat()
        quality = stats.quality_by_day.get(key)
        latency = stats.latency_by_day.get(key, {}).get("total")
        points.append(
            DayPoint(
                day=day,
                questions=quality.answers if quality else 0,
                thumbs_up_rate=quality.thumbs_up_rate if quality else None,
                latency_p95_ms=latency.p95_ms if latency else None,
            )
        )
        day += timedelta(days=1)
    return points
