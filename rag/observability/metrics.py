"""Prometheus metrics for one process, in a private ``CollectorRegistry`` (rendered by ``GET /metrics``).

``AnswerMetrics`` is an answer, vote and cache observer (:mod:`rag.observers`); other
parts (the cache, the Langfuse exporter) count their own events with :meth:`AnswerMetrics.cache_event` and
:meth:`AnswerMetrics.export_error`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from rag.models import Answer, AskContext, Vote
from rag.observability.costs import PriceTable

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CACHE_EVENTS = ("hit", "miss", "outage")


class AnswerMetrics:
    def __init__(self, prices: PriceTable | None = None, registry: CollectorRegistry | None = None) -> None:
        self.prices = prices or PriceTable()
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.stage_seconds = Histogram(
            "bestbefore_stage_seconds", "Time spent per answer stage", ["stage"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.cost = Counter("bestbefore_cost_usd", "Provider cost in USD", ["provider", "model"], registry=r)
        self.answers = Counter("bestbefore_answers", "Answers given", ["surface"], registry=r)
        self.refusals = Counter("bestbefore_refusals", "Answers that refused (no support in the docs)", registry=r)
        self.stale_answers = Counter("bestbefore_stale_answers", "Answers that carried a staleness warning", registry=r)
        self.zero_hits = Counter("bestbefore_zero_hit_retrievals", "Retrievals that found nothing", registry=r)
        self.errors = Counter("bestbefore_answer_errors", "Answers degraded by a provider error", registry=r)
        self.feedback = Counter("bestbefore_feedback", "Votes on answers", ["vote"], registry=r)
        self.cache = Counter(
            "bestbefore_cache_events", "Cache hits, misses and outages", ["layer", "event"], registry=r
        )
        self.export_errors = Counter(
            "bestbefore_trace_export_errors", "Failed trace exports (Langfuse)", ["exporter"], registry=r
        )
        for event in CACHE_EVENTS:  # show zeroes before the first event
            self.cache.labels(layer="embedding", event=event)
        for vote in ("up", "down", "retracted"):
            self.feedback.labels(vote=vote)

    def record_answer(self, answer: Answer, context: AskContext) -> None:
        for stage, ms in answer.timings_ms.items():
            self.stage_seconds.labels(stage=stage).observe(ms / 1000)
        for call in answer.provider_calls:
            self.cost.labels(provider=call.provider, model=call.model).inc(self.prices.cost(call).usd)
        self.answers.labels(surface=context.surface).inc()
        if answer.refused:
            self.refusals.inc()
        if answer.stale_warning is not None:
            self.stale_answers.inc()
        if not answer.hits:
            self.zero_hits.inc()
        if answer.error is not None:
            self.errors.inc()
        self.cache_event("hit", n=answer.cache.get("hits", 0))
        self.cache_event("miss", n=answer.cache.get("misses", 0))
        self.cache_event("outage", n=answer.cache.get("outages", 0))  # lookups made while the cache was down

    def on_vote(self, vote: Vote) -> None:
        self.feedback.labels(vote={1: "up", -1: "down"}.get(vote.value, "retracted")).inc()

    def cache_event(self, event: str, *, layer: str = "embedding", n: int = 1) -> None:
        """Count cache ``hit`` / ``miss`` / ``outage`` events (``n`` at once)."""
        if event not in CACHE_EVENTS:
            raise ValueError(f"cache event must be one of {', '.join(CACHE_EVENTS)}, not {event!r}")
        if n:
            self.cache.labels(layer=layer, event=event).inc(n)

    def export_error(self, exporter: str = "langfuse", n: int = 1) -> None:
        self.export_errors.labels(exporter=exporter).inc(n)

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
