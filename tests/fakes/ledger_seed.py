"""Answers built by hand for ledger, stats, metrics and dashboard tests (real records, chosen figures)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rag.answer.pipeline import AskContext
from rag.ledger.query_ledger import QueryLedger
from rag.models import Answer, Chunk, DateOrigin, DocMeta, ProviderCall, SearchHit, SourceRef

BASE = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday


def doc(doc_id: str, age_days: int = 10) -> DocMeta:
    return DocMeta(
        doc_id=doc_id, source="hb", path=doc_id.split(":")[-1], title=doc_id.title(), source_hash="h" + doc_id,
        updated_at=BASE - timedelta(days=age_days), date_origin=DateOrigin.GIT,
    )  # fmt: skip


def make_answer(
    answer_id: str,
    at: datetime,
    *,
    total_ms: float = 100.0,
    refused: bool = False,
    stale: bool = False,
    cited: tuple[str, ...] = ("hb:pto.md",),
    hits: int = 2,
    calls: tuple[ProviderCall, ...] = (),
    question: str = "How many PTO days do I get?",
    text: str = "You get 25 days [1].",
    error: str | None = None,
    cache: dict[str, int] | None = None,
) -> Answer:
    docs = [doc(d) for d in cited] or [doc("hb:other.md")]
    found = tuple(
        SearchHit(Chunk(f"{docs[i % len(docs)].doc_id}#{i}", docs[i % len(docs)].doc_id, i, "text", "c"),
                  docs[i % len(docs)], score=1.0 - i / 10, bm25_score=2.0, vector_score=0.5)
        for i in range(hits)
    )  # fmt: skip
    sources = tuple(
        SourceRef(d.doc_id, d.title, None, d.updated_at, 400 if stale else 10, stale, 365, cited=not refused)
        for d in docs
    )
    return Answer(
        answer_id=answer_id,
        question=question,
        text="I couldn't find this in the docs." if refused else text,
        refused=refused,
        sources=sources if hits else (),
        stale_warning="Heads up: old" if stale else None,
        timings_ms={"embed": total_ms * 0.1, "retrieve": total_ms * 0.2, "generate": total_ms * 0.6, "total": total_ms},
        hits=found,
        provider_calls=calls,
        cache=cache if cache is not None else {"hits": 0, "misses": 1},
        error=error,
        created_at=at,
    )


COHERE_CALLS = (
    ProviderCall("cohere", "embed-v4.0", "embed", {"input_tokens": 10}),
    ProviderCall("cohere", "rerank-v3.5", "rerank", {"search_units": 1}),
    ProviderCall("cohere", "command-a-03-2025", "chat", {"input_tokens": 1000, "output_tokens": 200}),
)
# With the default price table: 10*0.12e-6 + 1*2e-3 + 1000*2.5e-6 + 200*10e-6 = 0.0065012 USD
COHERE_CALLS_USD = 10 * 0.12e-6 + 2.0e-3 + 1000 * 2.5e-6 + 200 * 10.0e-6


def seed_week(ledger: QueryLedger, base: datetime = BASE) -> list[Answer]:
    """Seven days of answers with known latencies, refusals, stale answers, costs and a zero-hit retrieval."""
    seeded: list[Answer] = []
    for day in range(7):
        for n in range(4):
            at = base + timedelta(days=day, hours=n)
            answer = make_answer(
                f"d{day}n{n}",
                at,
                total_ms=100.0 * (n + 1) + 10 * day,
                refused=n == 3,
                stale=n in (1, 2),
                cited=("hb:pto.md", "hb:travel.md") if n == 0 else ("hb:pto.md",),
                hits=0 if (day == 6 and n == 3) else 2,
                calls=COHERE_CALLS if n < 2 else (),
                cache={"hits": 1, "misses": 1},
            )
            ledger.record_answer(answer, AskContext(surface="slack", user=f"U{n}", channel="C1", thread=f"{day}.{n}"))
            seeded.append(answer)
    ledger.flush()  # answers are written by the ledger's writer thread; other processes read the database
    return seeded
