"""Langfuse tracing (langfuse 5.x, OpenTelemetry based): one trace per answer, a score per vote.

* The trace id is ``Langfuse.create_trace_id(seed=answer_id)``, so a later 👍/👎 can score the trace without
  storing anything. User id and Slack thread become Langfuse user and session.
* The root observation ``question`` has children ``embed`` (embedding), ``retrieve`` (retriever), ``rerank`` and
  ``generate`` (generations, with model, usage and cost details), laid out with the recorded stage timings.
* Votes become the score ``user_feedback`` (+1 / -1) with an id derived from (answer, user), so a changed vote
  replaces the earlier score; a retracted vote re-sends that score with value 0 and the comment ``retracted``.
* Nothing runs on the answer path but a queue put: spans are built on this recorder's worker thread and exported
  by the SDK's background thread, so a slow or unreachable Langfuse never delays an answer. Failed exports are
  counted (``on_export_error``) and logged once per outage (one warning, not one per retry: the OTLP exporter's own
  retry messages go to debug); answers arriving while the queue is full are dropped and counted too.
* ``close()`` sends what is queued but waits at most ``close_timeout`` seconds (1 s): a down or silent Langfuse
  never holds up the end of a CLI command or a shutdown.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import queue
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from langfuse import (
    Langfuse,
    LangfuseEmbedding,
    LangfuseGeneration,
    LangfuseOtelSpanAttributes,
    LangfuseRetriever,
    LangfuseSpan,
    propagate_attributes,
)
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from rag.models import Answer, AskContext, ProviderCall, Vote
from rag.observability.costs import PriceTable
from rag.observability.privacy import Privacy, protect

log = logging.getLogger(__name__)

SCORE_NAME = "user_feedback"
OTLP_PATH = "/api/public/otel/v1/traces"
QUEUE_SIZE = 2000
RETRIEVED_IN_TRACE = 10  # top hits listed on the retrieve observation (the ledger keeps them all)
CLOSE_TIMEOUT = 1.0  # seconds close() may spend sending the last traces
OTLP_LOGGER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
_STOP = object()
_USAGE_KEYS = {"input_tokens": "input", "output_tokens": "output"}


def trace_id_for(answer_id: str) -> str:
    """The Langfuse trace id of an answer (32 hex chars, derived from the answer id)."""
    return Langfuse.create_trace_id(seed=answer_id)


def score_id_for(answer_id: str, user: str) -> str:
    return hashlib.sha256(f"{answer_id}\x00{user}".encode()).hexdigest()[:32]


class OtlpRetryLogsToDebug(logging.Filter):
    """The OTLP exporter logs each retry and failure (with the endpoint) at WARNING/ERROR, several per outage; the
    recorder reports an outage once itself, so these go to this module's debug log instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        log.debug("OTLP exporter: %s", record.getMessage())
        return False


def quiet_otlp_retry_logs() -> None:
    exporter_log = logging.getLogger(OTLP_LOGGER)
    if not any(isinstance(f, OtlpRetryLogsToDebug) for f in exporter_log.filters):
        exporter_log.addFilter(OtlpRetryLogsToDebug())


class CountingExporter(SpanExporter):
    """Passes spans on to ``inner``; counts failed exports and logs one warning per outage instead of raising."""

    def __init__(self, inner: SpanExporter, on_error: Callable[[int], None], *, where: str = "Langfuse") -> None:
        self.inner = inner
        self.on_error = on_error
        self.where = where
        self.failures = 0
        self.reachable = True  # False from a failed export until the next one that succeeds
        self.quiet = False  # set when close() gave up waiting: nothing more is logged

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:
            log.debug("Langfuse export raised", exc_info=True)
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            if not self.reachable and not self.quiet:
                log.info("Langfuse at %s is back", self.where)
            self.reachable = True
            return result
        self.failures += 1
        if self.reachable and not self.quiet:
            log.warning("Langfuse at %s unreachable: traces are dropped (and counted) until it is back", self.where)
        self.reachable = False
        log.debug("Langfuse export failed: %d spans dropped", len(spans))
        try:
            self.on_error(len(spans))
        except Exception:
            log.debug("export error callback failed", exc_info=True)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


@dataclass(frozen=True)
class StageCalls:
    model: str | None
    usage: dict[str, int]
    cost: dict[str, float]


class LangfuseRecorder:
    """An answer and vote observer (:mod:`rag.observers`) that sends traces and scores to Langfuse."""

    def __init__(
        self,
        *,
        public_key: str,
        secret_key: str,
        host: str,
        privacy: Privacy = Privacy.FULL,
        prices: PriceTable | None = None,
        on_export_error: Callable[[int], None] | None = None,
        timeout_seconds: int = 5,
        flush_interval: float | None = None,
        environment: str | None = None,
        close_timeout: float = CLOSE_TIMEOUT,
    ) -> None:
        host = host.rstrip("/")
        self.host = host
        self.close_timeout = close_timeout
        self.privacy = privacy
        self.prices = prices or PriceTable()
        self.exporter = CountingExporter(
            OTLPSpanExporter(
                endpoint=host + OTLP_PATH,
                headers={
                    "Authorization": "Basic " + base64.b64encode(f"{public_key}:{secret_key}".encode()).decode(),
                    "x-langfuse-public-key": public_key,
                    "x-langfuse-ingestion-version": "4",
                },
                timeout=timeout_seconds,
                compression=Compression.Gzip,
            ),
            on_export_error or (lambda n: None),
            where=host,
        )
        quiet_otlp_retry_logs()
        # A private provider: never the process-global one, so other OTel users are not affected. close() shuts it
        # down (bounded); no exit hook of its own, which would wait for an unreachable Langfuse at exit.
        self.provider = TracerProvider(shutdown_on_exit=False)
        self.client = Langfuse(
            public_key=public_key,
            secret_key=secret_key,
            base_url=host,
            timeout=timeout_seconds,
            tracer_provider=self.provider,
            span_exporter=self.exporter,
            flush_interval=flush_interval,
            environment=environment,
        )
        # The SDK's own tracer (scope "langfuse-sdk", bound to this project). Used directly because the public
        # start_observation() has no start_time, and answers are recorded after the fact with measured timings.
        self._tracer: otel_trace.Tracer = self.client._otel_tracer
        self.dropped = 0
        self._on_export_error = on_export_error or (lambda n: None)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_SIZE)
        self._worker = threading.Thread(target=self._work, name="langfuse-recorder", daemon=True)
        self._worker.start()

    # -- answers ---------------------------------------------------------------------------------------------------

    def record_answer(self, answer: Answer, context: AskContext) -> None:
        """Queue the answer for tracing (never blocks)."""
        try:
            self._queue.put_nowait((answer, context))
        except queue.Full:
            self.dropped += 1
            log.warning("Langfuse queue full: trace of answer %s dropped", answer.answer_id)
            self._on_export_error(1)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self.emit(*item)
            except Exception:
                log.exception("building a Langfuse trace failed")
            finally:
                self._queue.task_done()

    def emit(self, answer: Answer, context: AskContext) -> None:
        """Build the trace of one answer (on the worker thread; spans then go to the SDK's export queue)."""
        trace_id = trace_id_for(answer.answer_id)
        timings = answer.timings_ms
        total_ms = timings.get("total", sum(v for k, v in timings.items() if k != "total"))
        start = answer.created_at or (datetime.now(UTC) - timedelta(milliseconds=total_ms))
        start_ns = _ns(start)
        remote = NonRecordingSpan(
            SpanContext(
                trace_id=int(trace_id, 16),
                span_id=random.getrandbits(64) or 1,
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
        )
        session = f"{context.channel}:{context.thread}" if context.thread else None
        with propagate_attributes(
            user_id=context.user, session_id=session, trace_name="question", tags=[context.surface]
        ):
            root_span = self._tracer.start_span(
                "question", context=otel_trace.set_span_in_context(remote), start_time=start_ns
            )
            root_span.set_attribute(LangfuseOtelSpanAttributes.AS_ROOT, True)
            root = LangfuseSpan(
                otel_span=root_span,
                langfuse_client=self.client,
                input=protect(answer.question, self.privacy),
                output=protect(answer.text, self.privacy),
                metadata={
                    "answer_id": answer.answer_id,
                    "surface": context.surface,
                    "refused": answer.refused,
                    "stale": answer.stale_warning is not None,
                    "hits": len(answer.hits),
                    "cache": dict(answer.cache),
                },  # fmt: skip
                level="ERROR" if answer.error else None,
                status_message=answer.error,
            )
            parent = otel_trace.set_span_in_context(root_span)
            cursor = start_ns
            for stage in ("cache", "embed", "retrieve", "rerank", "generate"):
                if stage not in timings:
                    continue
                span = self._tracer.start_span(stage, context=parent, start_time=cursor)
                end = cursor + int(timings[stage] * 1_000_000)
                self._observation(stage, span, answer).end(end_time=end)
                cursor = end
            root.end(end_time=start_ns + int(total_ms * 1_000_000))

    def _observation(self, stage: str, span: otel_trace.Span, answer: Answer) -> Any:
        common: dict[str, Any] = {"otel_span": span, "langfuse_client": self.client}
        question = protect(answer.question, self.privacy)
        if stage == "retrieve":
            hits = [{"chunk_id": h.chunk.chunk_id, "doc_id": h.doc.doc_id, "score": round(h.score, 6)}
                    for h in answer.hits[:RETRIEVED_IN_TRACE]]  # fmt: skip
            return LangfuseRetriever(**common, input=question, output=hits)
        calls = self._stage_calls(stage, answer.provider_calls)
        details: dict[str, Any] = {"model": calls.model, "usage_details": calls.usage, "cost_details": calls.cost}
        if stage == "embed":
            return LangfuseEmbedding(**common, input=question, **details)
        if stage == "rerank":
            top = [h.doc.doc_id for h in answer.hits[:RETRIEVED_IN_TRACE]]
            return LangfuseGeneration(**common, input=question, output=top, **details)
        if stage == "generate":
            output = protect(answer.text, self.privacy)
            return LangfuseGeneration(**common, input=question, output=output, **details)
        return LangfuseSpan(**common)

    def _stage_calls(self, stage: str, calls: Sequence[ProviderCall]) -> StageCalls:
        operation = {"embed": "embed", "rerank": "rerank", "generate": "chat"}[stage]
        mine = [c for c in calls if c.operation == operation]
        usage: dict[str, int] = {}
        cost: dict[str, float] = {}
        for call in mine:
            price = self.prices.prices.get(f"{call.provider}/{call.model}", {})
            for unit, amount in call.units.items():
                key = _USAGE_KEYS.get(unit, unit)
                usage[key] = usage.get(key, 0) + int(amount)
                usd = 0.0 if call.provider == "local" else amount * price.get(unit, 0.0)
                cost[key] = cost.get(key, 0.0) + usd
        if cost:
            cost["total"] = sum(cost.values())
        model = mine[0].model if mine else None
        return StageCalls(model, usage, cost)

    # -- votes -----------------------------------------------------------------------------------------------------

    def on_vote(self, vote: Vote) -> None:
        self.client.create_score(
            name=SCORE_NAME,
            value=float(vote.value),
            trace_id=trace_id_for(vote.answer_id),
            score_id=score_id_for(vote.answer_id, vote.user),
            data_type="NUMERIC",
            comment="retracted" if vote.value == 0 else None,
            timestamp=vote.at,
        )

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Build every queued trace and send it (and queued scores) now."""
        self._queue.join()
        self.client.flush()

    def close(self) -> bool:
        """Send what is queued and stop the background threads, waiting at most ``close_timeout`` seconds.

        Returns False when Langfuse did not take everything in time: the rest is dropped with one warning (unless
        the outage was already reported), so a down or silent Langfuse never holds up exit.
        """
        closer = threading.Thread(target=self._shut_down, name="langfuse-close", daemon=True)
        closer.start()
        closer.join(self.close_timeout)
        if not closer.is_alive():
            return True
        if self.exporter.reachable:
            log.warning(
                "Langfuse at %s did not take the last traces within %gs; they are dropped",
                self.host,
                self.close_timeout,
            )
        self.exporter.quiet = True
        self.exporter.shutdown()  # ends the exporter's retry waits; the daemon threads end with the process
        return False

    def _shut_down(self) -> None:
        self._queue.put(_STOP)
        self._worker.join()
        try:
            self.client.shutdown()
        finally:
            self.provider.shutdown()


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)
