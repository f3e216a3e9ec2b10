"""Langfuse traces and scores, received by a local OTLP/HTTP stand-in for Langfuse over real sockets."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from rag.answer.pipeline import AskContext
from rag.config import CostConfig
from rag.ledger.feedback import Vote
from rag.models import ProviderCall
from rag.observability.costs import PriceTable
from rag.observability.langfuse_tracing import SCORE_NAME, LangfuseRecorder, score_id_for, trace_id_for
from rag.observability.privacy import Privacy
from tests.conftest import free_port
from tests.fakes.ledger_seed import BASE, COHERE_CALLS, make_answer
from tests.fakes.otlp_fake import FakeLangfuse

PRICES = PriceTable.from_config(CostConfig())


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def fake() -> Iterator[FakeLangfuse]:
    server = FakeLangfuse().start()
    yield server
    server.stop()


def recorder(host: str, **kwargs: object) -> LangfuseRecorder:
    # A fresh public key per recorder: the SDK keeps one client per key per process.
    return LangfuseRecorder(
        public_key=f"pk-lf-{uuid.uuid4().hex}", secret_key="sk-lf-test", host=host, prices=PRICES,
        flush_interval=0.05, timeout_seconds=2, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def test_one_trace_per_answer_with_observations_usage_and_cost(fake: FakeLangfuse) -> None:
    rec = recorder(fake.url)
    answer = make_answer("ans-1", BASE, total_ms=200.0, calls=COHERE_CALLS)
    timings = dict(answer.timings_ms, rerank=20.0)
    answer = type(answer)(**{**answer.__dict__, "timings_ms": timings})
    rec.record_answer(answer, AskContext(surface="slack", user="U42", channel="C1", thread="1700.1"))
    rec.flush()
    spans = {s["name"]: s for s in fake.spans}
    assert set(spans) == {"question", "embed", "retrieve", "rerank", "generate"}
    root = spans["question"]
    assert root["trace_id"] == trace_id_for("ans-1") == Langfuse_trace_id("ans-1")
    assert root["attributes"]["langfuse.internal.as_root"] is True
    for name in ("embed", "retrieve", "rerank", "generate"):
        assert spans[name]["trace_id"] == root["trace_id"]
        assert spans[name]["parent_span_id"] == root["span_id"]
        assert spans[name]["attributes"]["user.id"] == "U42"
        assert spans[name]["attributes"]["session.id"] == "C1:1700.1"
    # laid out one after another with the recorded durations
    order = ["embed", "retrieve", "rerank", "generate"]
    for before, after in zip(order, order[1:], strict=False):
        assert spans[before]["end_ns"] == spans[after]["start_ns"]
    assert spans["generate"]["end_ns"] - spans["generate"]["start_ns"] == 120_000_000
    assert root["end_ns"] - root["start_ns"] == 200_000_000
    assert spans["retrieve"]["attributes"]["langfuse.observation.type"] == "retriever"
    retrieved = json.loads(spans["retrieve"]["attributes"]["langfuse.observation.output"])
    assert [h["chunk_id"] for h in retrieved] == [h.chunk.chunk_id for h in answer.hits]
    gen = spans["generate"]["attributes"]
    assert gen["langfuse.observation.type"] == "generation"
    assert gen["langfuse.observation.model.name"] == "command-a-03-2025"
    assert json.loads(gen["langfuse.observation.usage_details"]) == {"input": 1000, "output": 200}
    cost = json.loads(gen["langfuse.observation.cost_details"])
    assert cost["total"] == pytest.approx(1000 * 2.5e-6 + 200 * 10e-6)
    rerank = json.loads(spans["rerank"]["attributes"]["langfuse.observation.cost_details"])
    assert rerank == {"search_units": pytest.approx(2e-3), "total": pytest.approx(2e-3)}
    assert all(h.startswith("Basic ") for h in fake.auth_headers)
    rec.close()


def Langfuse_trace_id(seed: str) -> str:  # noqa: N802 - the SDK's own derivation, for comparison
    from langfuse import Langfuse

    return Langfuse.create_trace_id(seed=seed)


def test_votes_become_scores_and_retraction_overwrites(fake: FakeLangfuse) -> None:
    rec = recorder(fake.url)
    rec.on_vote(Vote("ans-2", "U1", 1, BASE))
    rec.on_vote(Vote("ans-2", "U1", 0, BASE + timedelta(minutes=1)))
    rec.on_vote(Vote("ans-2", "U2", -1, BASE))
    rec.flush()
    wait_for(lambda: len(fake.scores) == 3)
    by_value = sorted(fake.scores, key=lambda s: s["value"])
    assert [s["value"] for s in by_value] == [-1.0, 0.0, 1.0]
    assert {s["name"] for s in fake.scores} == {SCORE_NAME}
    assert {s["traceId"] for s in fake.scores} == {trace_id_for("ans-2")}
    up, retracted = by_value[2], by_value[1]
    assert up["id"] == retracted["id"] == score_id_for("ans-2", "U1")  # the retraction replaces the 👍
    assert retracted["comment"] == "retracted"
    rec.close()


def test_privacy_applies_to_traces(fake: FakeLangfuse) -> None:
    rec = recorder(fake.url, privacy=Privacy.REDACT)
    rec.record_answer(make_answer("ans-3", BASE, question="secret plans?"), AskContext(surface="cli"))
    rec.flush()
    text = json.dumps(fake.spans)
    assert "secret plans" not in text and "[redacted]" in text
    rec.close()


def test_slow_langfuse_never_delays_an_answer(fake: FakeLangfuse) -> None:
    fake.delay = 1.5  # every export waits this long for Langfuse's reply
    rec = recorder(fake.url)
    returned_at = []
    for n in range(3):
        rec.record_answer(make_answer(f"slow-{n}", BASE), AskContext())
        returned_at.append(time.monotonic())
    rec.flush()
    wanted = {trace_id_for(f"slow-{n}") for n in range(3)}
    wait_for(lambda: {s["trace_id"] for s in fake.spans} == wanted and bool(fake.answered_at))
    assert max(returned_at) < min(fake.answered_at)  # every answer was done before Langfuse replied once
    rec.close()


def test_unreachable_langfuse_is_counted_not_raised() -> None:
    errors: list[int] = []
    rec = recorder(f"http://127.0.0.1:{free_port()}", on_export_error=errors.append)
    rec.record_answer(make_answer("down-1", BASE, calls=(ProviderCall("local", "m", "embed", {"input_tokens": 3}),)),
                      AskContext())  # fmt: skip
    rec.flush()
    wait_for(lambda: rec.exporter.failures >= 1, timeout=30)
    assert errors and errors[0] >= 1
    rec.close()
