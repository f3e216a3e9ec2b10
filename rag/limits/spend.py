"""The daily spend cap: once today's (UTC) recorded cost of paid providers reaches ``[limits] daily_spend_usd``,
answers use the embedded pipeline — extractive answers, no rerank — while retrieval stays as it is (a Cohere index
can only be searched with Cohere query vectors, so the embedder is kept).

Today's spend comes from the ledger's recorded costs, re-read at most every ``refresh_seconds``; a ledger that
cannot be read keeps the last known figure (the cap never blocks an answer).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from rag.models import SearchHit, Turn
from rag.providers.generation import Generation, Generator, Reranked, Reranker

log = logging.getLogger(__name__)

SpentBetween = Callable[[datetime, datetime], float]


def start_of_day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class DailySpend:
    """Whether today's spend has reached the cap (read from ``spent_between``, cached for ``refresh_seconds``)."""

    def __init__(
        self,
        spent_between: SpentBetween,
        cap_usd: float,
        *,
        refresh_seconds: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cap_usd = cap_usd
        self._spent_between = spent_between
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._spent = 0.0
        self._day: datetime | None = None
        self._read_at = float("-inf")
        self._announced: datetime | None = None

    def spent_today(self) -> float:
        now = self._clock()
        day = start_of_day(now)
        with self._lock:
            if day != self._day or time.monotonic() - self._read_at >= self.refresh_seconds:
                try:
                    self._spent = self._spent_between(day, now)
                except Exception as exc:  # the ledger may be down: keep the last figure
                    log.warning("could not read today's spend from the ledger (%s); keeping %.4g USD", exc, self._spent)
                    if day != self._day:
                        self._spent = 0.0
                self._day = day
                self._read_at = time.monotonic()
            return self._spent

    def reached(self) -> bool:
        spent = self.spent_today()
        if spent < self.cap_usd:
            return False
        if self._announced != self._day:
            self._announced = self._day
            log.warning(
                "daily spend cap reached (%.4g of %.4g USD): extractive answers without rerank until midnight UTC",
                spent,
                self.cap_usd,
            )
        return True


class CappedGenerator:
    """The paid generator until the cap is reached, then ``fallback`` (extractive)."""

    def __init__(self, paid: Generator, fallback: Generator, spend: DailySpend) -> None:
        self.paid, self.fallback, self.spend = paid, fallback, spend
        self.id = paid.id

    def generate(self, question: str, evidence: Sequence[SearchHit], *, history: Sequence[Turn] = ()) -> Generation:
        chosen = self.fallback if self.spend.reached() else self.paid
        return chosen.generate(question, evidence, history=history)


class CappedReranker:
    """The paid reranker until the cap is reached, then the retrieval order as it is."""

    def __init__(self, paid: Reranker, spend: DailySpend) -> None:
        self.paid, self.spend = paid, spend
        self.id = paid.id

    def rerank(self, query: str, hits: Sequence[SearchHit], *, top_n: int) -> Reranked:
        if self.spend.reached():
            return Reranked(list(hits[:top_n]))
        return self.paid.rerank(query, hits, top_n=top_n)


def with_spend_cap(
    generator: Generator, reranker: Reranker | None, spend: DailySpend | None
) -> tuple[Generator, Reranker | None]:
    """The generator and reranker, switched to extractive / no rerank once ``spend`` reaches its cap."""
    if spend is None:
        return generator, reranker
    from rag.answer.extractive import ExtractiveGenerator

    capped_generator = (
        generator
        if generator.id == ExtractiveGenerator.id
        else CappedGenerator(generator, ExtractiveGenerator(), spend)
    )
    return capped_generator, CappedReranker(reranker, spend) if reranker is not None else None
