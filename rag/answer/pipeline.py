"""``answer_question``: retrieve, (rerank), pick evidence, generate or refuse, and attach sources with ages.

The pipeline never raises for a provider outage: the answer says what happened and still lists the closest
sources (found by keyword search alone when the query could not be embedded). ``deadline`` bounds all provider
calls of one answer together (embed, rerank and chat share it), so an unreachable or silent provider costs at most
that long. Its observers (the ledger, metrics, Langfuse: one :class:`rag.observers.Observers` list) see every answer; a
failing observer never fails an answer. ``AskContext`` and ``utcnow`` are re-exported here for callers.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, cast

import numpy as np

from rag.answer.staleness import StalenessPolicy, staleness_warning
from rag.answer.terms import terms
from rag.clock import utcnow as utcnow  # re-exported
from rag.config import IndexConfig
from rag.errors import ProviderError
from rag.index.store import VectorStore
from rag.models import Answer, DocMeta, ProviderCall, SearchFilter, SearchHit, SourceRef, Turn
from rag.models import AskContext as AskContext  # re-exported
from rag.observers import Observers
from rag.providers.deadline import answer_budget
from rag.providers.embedding import Embedder
from rag.providers.generation import Generation, Generator, Reranker, StreamingGenerator, TextSink, can_stream
from rag.reviews import DocReview

log = logging.getLogger(__name__)

REFUSAL = "I couldn't find this in the docs."
UNAVAILABLE = "The language model is unavailable right now — here are the most relevant sources."
MAX_SOURCES = 5
MAX_REFUSAL_SOURCES = 3


class DocReviews(Protocol):
    """Verifications and flags of docs (the ledger's :class:`rag.ledger.doc_reviews.DocReviewLog`)."""

    def reviews(self, current: Mapping[str, str], *, only: Iterable[str] | None = None) -> dict[str, DocReview]: ...


@dataclass
class RagPipeline:
    store: VectorStore
    embedder: Embedder
    generator: Generator
    policy: StalenessPolicy = field(default_factory=StalenessPolicy)
    reranker: Reranker | None = None
    recorders: Sequence[object] = field(
        default_factory=list
    )  # its Observers: ledger, metrics, Langfuse (rag.observers)
    alpha: float = 0.5
    candidates: int = 40
    evidence: int = 6
    min_relevance: float = 0.3
    clock: Callable[[], datetime] = utcnow
    reviews: DocReviews | None = None  # "still accurate" restarts a doc's clock; flags are shown
    deadline: float | None = None  # seconds for all provider calls of one answer ([cohere] deadline); None: no bound


def extractive_pipeline(store: VectorStore, embedder: Embedder, index: IndexConfig) -> RagPipeline:
    """The embedded default's pipeline (extractive answers, no reranker) with the ``[index]`` settings."""
    from rag.answer.extractive import ExtractiveGenerator

    return RagPipeline(
        store=store,
        embedder=embedder,
        generator=ExtractiveGenerator(),
        alpha=index.alpha,
        candidates=index.candidates,
        evidence=index.evidence,
        min_relevance=index.min_relevance,
    )


def retrieval_query(question: str, history: Sequence[Turn]) -> str:
    """A follow-up ("and for contractors?") is searched together with the thread's earlier questions."""
    earlier = [turn.text for turn in history if turn.role == "user"][-2:]
    return " ".join([*earlier, question]) if earlier else question


def term_coverage(question: str, hit: SearchHit) -> float:
    """The share of the question's terms that the hit's text and title contain."""
    wanted = set(terms(question))
    found = set(terms(hit.chunk.text + " " + hit.doc.title))
    return len(wanted & found) / len(wanted) if wanted else 0.0


def close_to(question: str, hits: Sequence[SearchHit]) -> list[SearchHit]:
    """The hits worth listing beside a refusal: those holding at least half of the question's terms (at most
    MAX_REFUSAL_SOURCES) — never five unrelated "closest" sources."""
    return [hit for hit in hits if term_coverage(question, hit) >= 0.5][:MAX_REFUSAL_SOURCES]


def evidence_strength(question: str, hit: SearchHit) -> float:
    """How well the best hit supports the question: its cosine and the share of question terms it contains."""
    coverage = term_coverage(question, hit)
    cosine = hit.vector_score if hit.vector_score is not None else 0.0
    if hit.rerank_score is not None:
        return hit.rerank_score
    return 0.5 * max(cosine, 0.0) + 0.5 * coverage


def answer_question(
    question: str, pipeline: RagPipeline, *, context: AskContext | None = None, on_text: TextSink | None = None
) -> Answer:
    """The answer to ``question``; with ``on_text``, a generator that can stream hands it the text as it comes."""
    context = context or AskContext()
    started = time.perf_counter()
    answer_id = uuid.uuid4().hex
    now = pipeline.clock()
    timings: dict[str, float] = {}
    calls: list[ProviderCall] = []
    cache = {"hits": 0, "misses": 0}
    hits: list[SearchHit] = []
    error: str | None = None
    generation: Generation | None = None
    query = retrieval_query(question, context.history)
    with answer_budget(pipeline.deadline):
        try:
            mark = time.perf_counter()
            embedded = pipeline.embedder.embed_query(query)
            timings["embed"] = _ms(mark)
            calls.extend(embedded.calls)
            cache = {"hits": embedded.cache_hits, "misses": embedded.cache_misses}
            if embedded.cache_outages:
                cache["outages"] = embedded.cache_outages
            mark = time.perf_counter()
            where = SearchFilter(sources=context.sources) if context.sources is not None else None
            hits = pipeline.store.hybrid_search(
                query, embedded.vectors[0], limit=pipeline.candidates, alpha=pipeline.alpha, where=where
            )
            timings["retrieve"] = _ms(mark)
            if pipeline.reranker is not None and hits:
                mark = time.perf_counter()
                reranked = pipeline.reranker.rerank(query, hits, top_n=pipeline.evidence)
                hits = reranked.hits
                calls.extend(reranked.calls)
                timings["rerank"] = _ms(mark)
            evidence = hits[: pipeline.evidence]
            strong = bool(evidence) and max(evidence_strength(query, h) for h in evidence) >= pipeline.min_relevance
            mark = time.perf_counter()
            if strong and on_text is not None and can_stream(pipeline.generator):
                streaming = cast(StreamingGenerator, pipeline.generator)
                generation = streaming.generate_streaming(question, evidence, history=context.history, on_text=on_text)
                calls.extend(generation.calls)
            elif strong:
                generation = pipeline.generator.generate(question, evidence, history=context.history)
                calls.extend(generation.calls)
            timings["generate"] = _ms(mark)
        except ProviderError as exc:
            log.warning("answer %s: provider failed: %s", answer_id, exc)
            error = f"{type(exc).__name__}: {exc}"
            if not hits:  # the embedder failed: keyword search alone still finds the most relevant sources
                hits = _keyword_hits(query, pipeline, context)
    policy = pipeline.policy.overlay(context.policy)
    refused = generation is None or generation.refused
    if error is not None:
        text = UNAVAILABLE
    elif refused or generation is None:
        text = REFUSAL
    else:
        text = generation.text
    cited = () if refused or generation is None else generation.cited_doc_ids
    listed = close_to(query, hits[: pipeline.evidence]) if refused and error is None else hits
    sources = _sources(listed, cited, policy, now, pipeline.reviews)
    timings["total"] = _ms(started)
    answer = Answer(
        answer_id=answer_id,
        question=question,
        text=text,
        refused=refused,
        sources=tuple(sources),
        stale_warning=staleness_warning(sources),
        timings_ms=timings,
        hits=tuple(hits),
        provider_calls=tuple(calls),
        cache=cache,
        error=error,
        created_at=now,
    )
    Observers.of(pipeline.recorders).answer(answer, context)  # a failing observer never fails an answer
    return answer


def _keyword_hits(query: str, pipeline: RagPipeline, context: AskContext) -> list[SearchHit]:
    """BM25-only retrieval (alpha 0) for when no query vector can be had; never raises."""
    where = SearchFilter(sources=context.sources) if context.sources is not None else None
    try:
        no_vector = np.zeros(pipeline.embedder.dimension, dtype=np.float32)
        return pipeline.store.hybrid_search(query, no_vector, limit=pipeline.evidence, alpha=0.0, where=where)
    except Exception:
        log.exception("keyword fallback search failed")
        return []


def _sources(
    hits: Sequence[SearchHit],
    cited: Sequence[str],
    policy: StalenessPolicy,
    now: datetime,
    reviews: DocReviews | None = None,
) -> list[SourceRef]:
    """Cited docs first (in citation order), then the closest others; one entry per doc, at most MAX_SOURCES."""
    metas: dict[str, DocMeta] = {}
    passages: dict[str, datetime] = {}  # doc -> its oldest retrieved passage
    for hit in hits:
        metas.setdefault(hit.doc.doc_id, hit.doc)
        when = hit.chunk.passage_at
        if when is not None and (hit.doc.doc_id not in passages or when < passages[hit.doc.doc_id]):
            passages[hit.doc.doc_id] = when
    order = [d for d in cited if d in metas] + [d for d in metas if d not in cited]
    shown = order[:MAX_SOURCES]
    found: dict[str, DocReview] = {}
    if reviews is not None and shown:
        try:
            found = reviews.reviews({d: metas[d].source_hash for d in shown}, only=shown)
        except Exception:  # the ledger being down never fails an answer: the docs' own dates then apply
            log.exception("could not read the docs' verifications and flags")
    return [
        policy.source_ref(metas[d], now, cited=d in cited, passage_at=passages.get(d), review=found.get(d))
        for d in shown
    ]


def _ms(mark: float) -> float:
    return round((time.perf_counter() - mark) * 1000, 3)
