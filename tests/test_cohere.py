"""Cohere embedder, reranker and generator through the real ``cohere`` SDK against a local fake Cohere API."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from rag.answer.pipeline import REFUSAL, UNAVAILABLE, AskContext, RagPipeline, answer_question
from rag.errors import ProviderAuthError, ProviderUnavailableError
from rag.index.sqlite_store import SQLiteStore
from rag.models import Chunk, ChunkRecord, DateOrigin, DocMeta, InputType, SearchHit, Turn
from rag.providers.cohere_api import CohereAPI, RetryPolicy
from rag.providers.cohere_chat import CohereGenerator
from rag.providers.cohere_embedder import CohereEmbedder, CohereReranker
from tests.conftest import free_port
from tests.fakes.cohere_fake import FakeCohereServer

NOW = datetime(2025, 6, 1, tzinfo=UTC)
KEY = "test-cohere-key"


@pytest.fixture
def server() -> Iterator[FakeCohereServer]:
    running = FakeCohereServer().start()
    running.fake.api_key = KEY
    yield running
    running.stop()


def make_api(server: FakeCohereServer, *, deadline: float = 2.0, sleeps: list[float] | None = None) -> CohereAPI:
    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)
        time.sleep(seconds)

    return CohereAPI(
        KEY, base_url=server.url, policy=RetryPolicy(timeout=5, deadline=deadline, backoff=0.05), sleep=sleep
    )


# -- embedder ------------------------------------------------------------------------------------------------------
def test_embedder_batches_within_cohere_limits_and_records_billed_tokens(server: FakeCohereServer) -> None:
    embedder = CohereEmbedder(make_api(server), dimension=256)
    texts = [f"document number {i} about topic {i % 7}" for i in range(200)]
    batch = embedder.embed(texts, input_type=InputType.DOCUMENT)
    calls = server.fake.calls("/v2/embed")
    assert sorted(len(c["texts"]) for c in calls) == [8, 96, 96]
    assert {c["input_type"] for c in calls} == {"search_document"}
    assert {c["model"] for c in calls} == {"embed-v4.0"} and {c["output_dimension"] for c in calls} == {256}
    assert batch.vectors.shape == (200, 256)
    single = embedder.embed([texts[123]], input_type=InputType.DOCUMENT).vectors[0]
    assert np.allclose(batch.vectors[123], single)  # rows come back in input order
    assert batch.tokens == sum(len(t.split()) for t in texts)
    assert [c.units["input_tokens"] for c in batch.calls] and sum(
        c.units["input_tokens"] for c in batch.calls
    ) == batch.tokens
    assert {(c.provider, c.model, c.operation) for c in batch.calls} == {("cohere", "embed-v4.0", "embed")}


def test_queries_are_embedded_as_search_query_and_dimension_is_discovered(server: FakeCohereServer) -> None:
    embedder = CohereEmbedder(make_api(server))
    assert embedder.dimension == 1536 and embedder.id == "cohere/embed-v4.0"
    embedder.embed_query("where are the receipts")
    last = server.fake.calls("/v2/embed")[-1]
    assert last["input_type"] == "search_query" and last["texts"] == ["where are the receipts"]
    assert "output_dimension" not in last


# -- reranker ------------------------------------------------------------------------------------------------------
def hit(doc_id: str, text: str, *, title: str = "Doc", updated: datetime = NOW, score: float = 0.5) -> SearchHit:
    meta = DocMeta(doc_id, "handbook", doc_id.split(":")[1], title, "h" + doc_id, updated, DateOrigin.GIT)
    chunk = Chunk(f"{doc_id}#0", doc_id, 0, text, hashlib.sha256(text.encode()).hexdigest())
    return SearchHit(chunk, meta, score)


def test_reranker_reorders_candidates_and_records_search_units(server: FakeCohereServer) -> None:
    reranker = CohereReranker(make_api(server))
    hits = [
        hit("handbook:a.md", "Parking is free on weekends."),
        hit("handbook:b.md", "Expenses are reimbursed monthly after approval."),
        hit("handbook:c.md", "Approval of expenses is done by your manager."),
    ]
    result = reranker.rerank("approval of expenses by manager", hits, top_n=2)
    assert [h.doc.doc_id for h in result.hits] == ["handbook:c.md", "handbook:b.md"]
    assert all(h.rerank_score is not None and h.score == h.rerank_score for h in result.hits)
    assert result.hits[0].rerank_score > result.hits[1].rerank_score  # type: ignore[operator]
    assert result.calls[0].units == {"search_units": 1.0} and result.calls[0].operation == "rerank"
    sent = server.fake.calls("/v2/rerank")[-1]
    assert sent["model"] == "rerank-v3.5" and sent["top_n"] == 2 and sent["documents"][1].startswith("Doc\n")


# -- answers through the pipeline -----------------------------------------------------------------------------------
DOCS = {
    "handbook:expenses.md": ("Expenses", NOW - timedelta(days=800), "Expenses are reimbursed at the end of each month. Submit receipts within thirty days."),
    "handbook:vacation.md": ("Vacation", NOW - timedelta(days=10), "Employees accrue two vacation days per month of service."),
    "handbook:laptops.md": ("Laptops", NOW - timedelta(days=900), "Laptops must use full disk encryption and accrue no local data."),
}  # fmt: skip


def pipeline(server: FakeCohereServer, tmp_path: Path, api: CohereAPI | None = None) -> RagPipeline:
    api = api or make_api(server)
    embedder = CohereEmbedder(api, dimension=256)
    store = SQLiteStore(tmp_path / "index.sqlite")
    store.ensure_embedder(embedder.id, embedder.dimension)
    for doc_id, (title, updated, text) in DOCS.items():
        meta = DocMeta(doc_id, "handbook", doc_id.split(":")[1], title, "h" + doc_id, updated, DateOrigin.GIT)
        vector = embedder.embed([text], input_type=InputType.DOCUMENT).vectors[0]
        store.replace_doc(doc_id, [ChunkRecord(Chunk(f"{doc_id}#0", doc_id, 0, text, "c" + doc_id), meta, vector)])
    return RagPipeline(
        store=store, embedder=embedder, generator=CohereGenerator(api), reranker=CohereReranker(api),
        clock=lambda: NOW, min_relevance=0.3,
    )  # fmt: skip


def test_chat_citations_map_to_sources_and_only_cited_stale_docs_warn(server: FakeCohereServer, tmp_path: Path) -> None:
    rag = pipeline(server, tmp_path)
    answer = answer_question("When are expenses reimbursed?", rag)
    assert not answer.refused and answer.error is None
    assert answer.text.startswith("Expenses are reimbursed at the end of each month.") and "[1]" in answer.text
    assert [s.doc_id for s in answer.sources if s.cited] == ["handbook:expenses.md"]
    assert answer.sources[0].doc_id == "handbook:expenses.md"
    assert answer.stale_warning is not None and "Expenses" in answer.stale_warning
    operations = [(c.provider, c.operation) for c in answer.provider_calls]
    assert operations == [("cohere", "embed"), ("cohere", "rerank"), ("cohere", "chat")]
    chat = answer.provider_calls[-1]
    assert chat.model == "command-a-03-2025" and chat.units["input_tokens"] > 0 and chat.units["output_tokens"] > 0
    sent = server.fake.calls("/v2/chat")[-1]
    assert {d["id"] for d in sent["documents"]} >= {"handbook:expenses.md#0"}
    assert sent["messages"][0]["role"] == "system" and "reply exactly" in sent["messages"][0]["content"]

    fresh = answer_question("How many vacation days accrue per month?", rag)
    assert [s.doc_id for s in fresh.sources if s.cited] == ["handbook:vacation.md"]
    assert any(s.stale and not s.cited for s in fresh.sources)  # a stale doc was retrieved but not cited ...
    assert fresh.stale_warning is None  # ... so it does not trigger the warning


def test_thread_history_is_passed_as_messages(server: FakeCohereServer, tmp_path: Path) -> None:
    rag = pipeline(server, tmp_path)
    history = (Turn("user", "When are expenses reimbursed?"), Turn("assistant", "At the end of each month. [1]"))
    answer_question("And the receipts deadline for expenses?", rag, context=AskContext(history=history))
    messages = server.fake.calls("/v2/chat")[-1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "When are expenses reimbursed?"
    assert messages[2]["content"] == "At the end of each month. [1]"
    assert messages[3]["content"] == "And the receipts deadline for expenses?"


def test_generator_refuses_when_the_documents_do_not_answer(server: FakeCohereServer) -> None:
    generator = CohereGenerator(make_api(server))
    evidence = [hit("handbook:a.md", "Parking is free on weekends.")]
    result = generator.generate("What is the dress code for client meetings?", evidence)
    assert result.refused and result.cited_doc_ids == () and result.text == ""
    assert len(server.fake.calls("/v2/chat")) == 1
    assert result.calls[0].units["output_tokens"] > 0  # the refusal is still billed


def test_unanswerable_question_is_refused_without_chat(server: FakeCohereServer, tmp_path: Path) -> None:
    rag = pipeline(server, tmp_path)
    answer = answer_question("What is the parking policy for visitors?", rag)
    assert answer.refused and answer.text == REFUSAL and answer.stale_warning is None
    assert server.fake.calls("/v2/chat") == []


# -- failures ------------------------------------------------------------------------------------------------------
def test_429s_are_retried_then_the_answer_succeeds(server: FakeCohereServer, tmp_path: Path) -> None:
    rag = pipeline(server, tmp_path)
    server.fake.fail("/v2/chat", 429, 429)
    answer = answer_question("When are expenses reimbursed?", rag)
    assert answer.error is None and not answer.refused
    assert len(server.fake.calls("/v2/chat")) == 3


def test_persistent_503_gives_the_unavailable_reply_with_sources(server: FakeCohereServer, tmp_path: Path) -> None:
    sleeps: list[float] = []
    rag = pipeline(server, tmp_path, make_api(server, deadline=0.4, sleeps=sleeps))
    server.fake.always_fail["/v2/chat"] = 503
    answer = answer_question("When are expenses reimbursed?", rag)
    assert answer.text == UNAVAILABLE and answer.refused and answer.stale_warning is None
    assert answer.sources and answer.sources[0].doc_id == "handbook:expenses.md"
    assert answer.error is not None and answer.error.startswith("ProviderUnavailableError") and "503" in answer.error
    attempts = len(server.fake.calls("/v2/chat"))
    assert attempts == len(sleeps) + 1 >= 3
    # exponential backoff: 0.05 s then 0.1 s, each with +-20 % jitter; the last wait may be cut to fit the deadline
    assert 0.04 <= sleeps[0] <= 0.06
    assert sleeps[1] >= 0.08 or len(sleeps) == 2
    assert sum(sleeps) < 0.4  # the waits fit in the total deadline


def test_embedder_outage_still_lists_keyword_matches(server: FakeCohereServer, tmp_path: Path) -> None:
    rag = pipeline(server, tmp_path, make_api(server, deadline=0.2))
    server.fake.always_fail["/v2/embed"] = 503
    answer = answer_question("When are expenses reimbursed?", rag)
    assert answer.text == UNAVAILABLE
    assert [s.doc_id for s in answer.sources][:1] == ["handbook:expenses.md"]


def test_client_errors_are_not_retried_and_retrieved_hits_are_kept(server: FakeCohereServer, tmp_path: Path) -> None:
    rag = pipeline(server, tmp_path)
    server.fake.fail("/v2/rerank", 400)
    answer = answer_question("When are expenses reimbursed?", rag)
    assert len(server.fake.calls("/v2/rerank")) == 1
    assert answer.text == UNAVAILABLE and "HTTP 400" in (answer.error or "")
    assert {s.doc_id for s in answer.sources} >= {"handbook:expenses.md"}


def test_bad_key_is_a_clear_error_naming_the_variable(server: FakeCohereServer) -> None:
    api = CohereAPI("sk-wrong-key-123", base_url=server.url, policy=RetryPolicy(deadline=2))
    with pytest.raises(ProviderAuthError) as caught:
        api.check_key()
    assert "COHERE_API_KEY" in str(caught.value) and "sk-wrong-key-123" not in str(caught.value)
    assert len(server.fake.calls("/v1/models")) == 1  # 401 is not retried
    with pytest.raises(ProviderAuthError):
        CohereAPI("   ")


def test_unreachable_cohere_is_unavailable_not_a_crash() -> None:
    api = CohereAPI(
        KEY, base_url=f"http://127.0.0.1:{free_port()}", policy=RetryPolicy(timeout=1, deadline=0.3, backoff=0.05)
    )
    with pytest.raises(ProviderUnavailableError, match="ConnectError"):
        CohereEmbedder(api, model="embed-custom-finetune", dimension=None)  # an unknown model's dimension is probed
