"""Shared set-up for the jobs tests: a small docs folder indexed with HashingEmbedder, a real ledger, seeded answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from slack_sdk import WebClient

from bot.publisher import SlackPublisher
from jobs.runs import JobDeps
from rag.answer.pipeline import AskContext
from rag.answer.staleness import StalenessPolicy
from rag.config import AppConfig, IndexConfig, Settings, SourceConfig, StalenessConfig
from rag.index.indexing import Indexer
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import ChunkingSettings
from rag.ledger.feedback import Vote
from rag.ledger.query_ledger import QueryLedger
from rag.models import Answer, Chunk, DateOrigin, DocMeta, ProviderCall, SearchHit, SourceRef
from rag.observability.costs import PriceTable
from rag.providers.local_embedder import HashingEmbedder

PRICES = PriceTable({"cohere/command-a": {"input_tokens": 1e-6, "output_tokens": 1e-5}})

DOCS = {
    "leave.md": ("Leave policy", "alice@example.com", "2024-01-10", "Annual leave is 25 days. Ask your manager."),
    "expenses.md": ("Expenses", "U0BOBBY01", "2024-06-01", "Submit receipts within 30 days of purchase."),
    "laptops.md": ("Laptops", None, "2023-03-01", "Laptops are replaced every three years."),
    "onboarding.md": ("Onboarding", "carol@example.com", "2026-11-01", "Day one: meet your buddy and set up SSO."),
}


def write_docs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (title, owner, reviewed, body) in DOCS.items():
        owner_line = f"owner: {owner}\n" if owner else ""
        text = f"---\n{owner_line}last_reviewed: {reviewed}\n---\n# {title}\n\n{body}\n"
        (folder / name).write_text(text, encoding="utf-8")


@dataclass
class Index:
    """Implements ``jobs.runs.IndexServices`` without the rest of ``Services``."""

    settings: Settings
    store: SQLiteStore
    embedder: HashingEmbedder
    chunking: ChunkingSettings
    policy: StalenessPolicy
    indexer: Indexer


def make_settings(tmp: Path, **app: object) -> Settings:
    docs = tmp / "docs"
    write_docs(docs)
    config = AppConfig(
        sources=[SourceConfig(name="handbook", path=docs, url_base="https://wiki.example.com/handbook")],
        staleness=StalenessConfig(default="365d"),
        index=IndexConfig(embedder="hashing"),
        **app,  # type: ignore[arg-type]
    )
    return Settings(app=config, bestbefore_home=tmp / "home", _env_file=None)  # type: ignore[call-arg]


def make_deps(tmp: Path, *, ledger_url: str | None = None, slack: object = None, **app: object) -> JobDeps:
    settings = make_settings(tmp, **app)
    ledger = QueryLedger(ledger_url or f"sqlite:///{tmp / 'ledger.sqlite'}", prices=PRICES)
    store, embedder = SQLiteStore(tmp / "index.sqlite"), HashingEmbedder()
    chunking = ChunkingSettings(max_tokens=200, overlap_tokens=30)
    index = Index(
        settings=settings,
        store=store,
        embedder=embedder,
        chunking=chunking,
        policy=StalenessPolicy.from_config(settings.app.staleness),
        indexer=Indexer(store=store, embedder=embedder, chunking=chunking, recorder=ledger),
    )
    publisher = SlackPublisher(slack) if isinstance(slack, WebClient) else slack  # the bot's, as the root wires it
    return JobDeps(index=index, ledger=ledger, slack=publisher)  # type: ignore[arg-type]


def ledger_of(deps: JobDeps) -> QueryLedger:
    """The real ledger behind ``deps`` (for seeding through its public API and closing it)."""
    assert isinstance(deps.ledger, QueryLedger)
    return deps.ledger


def index_docs(deps: JobDeps, now: datetime) -> None:
    deps.index.indexer.refresh(deps.settings.app.sources, now=now).raise_for_failures()


def _hit(doc_id: str) -> SearchHit:
    meta = DocMeta(doc_id, "handbook", doc_id.split(":", 1)[1], doc_id, "h", datetime(2024, 1, 1, tzinfo=UTC),
                   DateOrigin.FRONT_MATTER)  # fmt: skip
    return SearchHit(Chunk(f"{doc_id}#0", doc_id, 0, "text", "ch"), meta, score=0.9)


def seed_answer(
    ledger: QueryLedger,
    at: datetime,
    *,
    user: str = "U1",
    question: str = "how many days of leave?",
    refused: bool = False,
    total_ms: float = 100.0,
    cited: tuple[str, ...] = (),
    stale: bool = False,
    zero_hit: bool = False,
    cache: tuple[int, int] = (0, 1),
    input_tokens: int = 1000,
    vote: int = 0,
    channel: str = "C1",
    thread: str | None = None,
) -> str:
    """One answer through the ledger's public API (``record_answer``), optionally with a 👍/👎 vote."""
    sources = tuple(
        SourceRef(doc_id=d, title=d, url=None, updated_at=at, age_days=400, stale=stale, threshold_days=365, cited=True)
        for d in cited
    )
    answer = Answer(
        answer_id=uuid.uuid4().hex,
        question=question,
        text="I couldn't find this in the docs." if refused else "25 days.",
        refused=refused,
        sources=sources,
        stale_warning="Based on an old doc — it may be out of date." if stale else None,
        timings_ms={"embed": total_ms / 4, "total": total_ms},
        hits=() if zero_hit else tuple(_hit(d) for d in (cited or ("handbook:leave.md",))),
        provider_calls=(ProviderCall("cohere", "command-a", "chat", {"input_tokens": input_tokens}),),
        cache={"hits": cache[0], "misses": cache[1]},
        created_at=at,
    )
    ledger.record_answer(answer, AskContext(surface="slack", user=user, channel=channel, thread=thread))
    ledger.flush()  # written by the ledger's writer thread; a CLI process under test reads the database
    if vote:
        ledger.record_vote(Vote(answer.answer_id, f"voter-{uuid.uuid4().hex[:6]}", vote, at))
    return answer.answer_id
