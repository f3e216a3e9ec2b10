"""The query ledger against SQLite and the machine's real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from rag.answer.pipeline import AskContext
from rag.config import CostConfig
from rag.errors import StoreError
from rag.index.refresh import RefreshResult
from rag.ledger.feedback import Vote
from rag.ledger.query_ledger import QueryLedger
from rag.ledger.schema import MIGRATIONS, migrate, migrations
from rag.ledger.stats import percentile
from rag.observability.costs import PriceTable
from rag.observability.privacy import Privacy
from tests.fakes.ledger_seed import BASE, COHERE_CALLS, COHERE_CALLS_USD, make_answer, seed_week

PRICES = PriceTable.from_config(CostConfig())


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:8]}"  # a schema per test: every test starts from an empty ledger
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{base}?options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[QueryLedger]:
    opened = QueryLedger(ledger_url, prices=PRICES)
    yield opened
    opened.close()


def test_answer_row_keeps_chunks_timings_models_and_cost(ledger: QueryLedger) -> None:
    answer = make_answer("a1", BASE, total_ms=250.0, calls=COHERE_CALLS, stale=True)
    ledger.record_answer(answer, AskContext(surface="slack", user="U1", channel="C9", thread="17.5"))
    row = ledger.answer("a1")
    assert row is not None
    assert (row["surface"], row["user_id"], row["channel"], row["thread"]) == ("slack", "U1", "C9", "17.5")
    assert row["created_at"] == BASE
    assert row["question"] == answer.question and row["answer"] == answer.text
    assert row["stale"] is True and row["refused"] is False and row["zero_hit"] is False
    assert [h["chunk_id"] for h in row["hits"]] == [h.chunk.chunk_id for h in answer.hits]
    assert [h["score"] for h in row["hits"]] == [h.score for h in answer.hits]
    assert row["sources"][0] == {"doc_id": "hb:pto.md", "age_days": 400, "stale": True, "cited": True,
                                 "threshold_days": 365}  # fmt: skip
    assert row["t_total"] == 250.0 and row["t_generate"] == pytest.approx(150.0) and row["t_rerank"] is None
    assert row["models"] == ["cohere/command-a-03-2025", "cohere/embed-v4.0", "cohere/rerank-v3.5"]
    assert row["cost_usd"] == pytest.approx(COHERE_CALLS_USD)
    calls = row["provider_calls"]
    assert [(c["operation"], c["units"]) for c in calls] == [(c.operation, c.units) for c in COHERE_CALLS]
    assert calls[2]["cost_usd"] == pytest.approx(1000 * 2.5e-6 + 200 * 10e-6)


def test_migrations_are_idempotent_and_recorded_in_order(ledger_url: str, ledger: QueryLedger) -> None:
    assert ledger.applied_migrations == [name for name, _ in MIGRATIONS]
    again = QueryLedger(ledger_url)
    assert again.applied_migrations == []
    with again.engine.connect() as conn:
        names = list(conn.execute(select(migrations.c.name)).scalars())
    assert sorted(names) == [name for name, _ in MIGRATIONS]
    again.close()


def test_an_older_ledger_gets_only_the_new_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        assert migrate(conn, MIGRATIONS[:1]) == [MIGRATIONS[0][0]]
    engine.dispose()
    ledger = QueryLedger(url)
    assert ledger.applied_migrations == [name for name, _ in MIGRATIONS[1:]]
    ledger.record_job_failure("digest", "boom", BASE)
    assert ledger.job_runs("digest")[0]["error"] == "boom"
    ledger.close()


def test_a_ledger_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    QueryLedger(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(migrations.insert().values(name="999_from_the_future", applied_at=BASE))
    engine.dispose()
    with pytest.raises(StoreError, match="999_from_the_future"):
        QueryLedger(url)


def test_votes_latest_wins_retraction_and_listeners(ledger: QueryLedger) -> None:
    heard: list[Vote] = []

    class Listener:
        def on_vote(self, vote: Vote) -> None:
            heard.append(vote)

    ledger.add_listener(Listener())
    ledger.record_answer(make_answer("a1", BASE), AskContext(surface="slack", user="U1"))
    ledger.link_message("a1", "C1", "111.222")
    assert ledger.answer_for_message("C1", "111.222") == "a1"
    assert ledger.answer_for_message("C1", "999.000") is None
    ledger.record_vote(Vote("a1", "U1", 1, BASE))
    ledger.record_vote(Vote("a1", "U2", 1, BASE))
    ledger.record_vote(Vote("a1", "U2", -1, BASE + timedelta(minutes=1)))
    assert ledger.votes("a1") == {"U1": 1, "U2": -1}
    ledger.record_vote(Vote("a1", "U1", 0, BASE + timedelta(minutes=2)))
    assert ledger.votes("a1") == {"U2": -1}
    assert [v.value for v in heard] == [1, 1, -1, 0]
    with pytest.raises(ValueError):
        ledger.record_vote(Vote("a1", "U3", 5, BASE))


def test_stats_figures_from_seeded_rows(ledger: QueryLedger) -> None:
    seeded = seed_week(ledger)
    ledger.record_vote(Vote("d0n0", "U1", 1, BASE))
    ledger.record_vote(Vote("d0n1", "U1", 1, BASE))
    ledger.record_vote(Vote("d1n0", "U2", -1, BASE))
    ledger.record_vote(Vote("d1n1", "U3", 1, BASE))
    ledger.record_vote(Vote("d1n1", "U3", 0, BASE))  # retracted: not counted
    stats = ledger.stats(BASE, BASE + timedelta(days=7))
    totals = [a.timings_ms["total"] for a in seeded]
    assert stats.questions == 28 and stats.unique_askers == 4
    assert stats.latency["total"].p50_ms == pytest.approx(percentile(totals, 50), abs=1e-3)
    assert stats.latency["total"].p95_ms == pytest.approx(percentile(totals, 95), abs=1e-3)
    day0 = stats.latency_by_day["2025-03-03"]["total"]
    assert (day0.count, day0.p50_ms) == (4, pytest.approx(250.0))  # 100, 200, 300, 400
    assert stats.quality.refusals == 7 and stats.quality.refusal_rate == pytest.approx(7 / 28)
    assert stats.quality.stale == 14 and stats.quality.zero_hit == 1
    assert (stats.quality.votes_up, stats.quality.votes_down) == (2, 1)
    assert stats.quality.thumbs_up_rate == pytest.approx(2 / 3)
    assert stats.cost_usd == pytest.approx(14 * COHERE_CALLS_USD)
    assert stats.cost_by_day["2025-03-05"] == pytest.approx(2 * COHERE_CALLS_USD)
    assert stats.cost_by_model["cohere/rerank-v3.5"] == pytest.approx(14 * 2.0e-3)
    assert stats.cache_hit_rate == pytest.approx(0.5)
    assert stats.top_cited[0] == ("hb:pto.md", 21)  # 28 answers minus 7 refusals
    assert stats.refused_sample[0] == seeded[-1].question
    one_day = ledger.stats(BASE, BASE + timedelta(days=1))
    assert one_day.questions == 4 and list(one_day.quality_by_day) == ["2025-03-03"]
    assert ledger.citations_by_doc(BASE, BASE + timedelta(days=1)) == {"hb:pto.md": 3, "hb:travel.md": 1}


def test_refresh_job_and_digest_records(ledger: QueryLedger) -> None:
    ledger.record_refresh(RefreshResult(source="hb", docs_new=3, chunks_embedded=9), started_at=BASE)
    ledger.record_refresh(RefreshResult(source="hb"), started_at=BASE + timedelta(hours=1), error="SourceError: gone")
    runs = ledger.refresh_runs()
    assert [r["ok"] for r in runs] == [False, True]
    assert runs[1]["result"]["chunks_embedded"] == 9 and runs[0]["error"] == "SourceError: gone"
    ledger.record_job_failure("watchdog", "RuntimeError: x", BASE)
    assert ledger.job_failures_between(BASE, BASE + timedelta(days=1))[0]["job"] == "watchdog"
    assert not ledger.digest_posted("2025-W10")
    ledger.record_digest_post("2025-W10", "#rag-ops", "123.456")
    assert ledger.digest_posted("2025-W10")
    with pytest.raises(StoreError, match="already posted"):
        ledger.record_digest_post("2025-W10", "#rag-ops", "999.000")


@pytest.mark.parametrize("privacy", list(Privacy))
def test_privacy_modes_and_secrets(tmp_path: Path, privacy: Privacy) -> None:
    ledger = QueryLedger(f"sqlite:///{tmp_path / 'p.sqlite'}", privacy=privacy)
    question = "my token is xoxb-1234567890-abcdefghij, why does login fail?"
    answer = make_answer(
        "p1", BASE, question=question, text="Rotate it.", error="auth failed api_key=sk-abcdefghijklmnop1234"
    )
    ledger.record_answer(answer, AskContext(surface="cli"))
    row = ledger.answer("p1")
    assert row is not None
    stored = " ".join(str(v) for v in row.values())
    assert "xoxb-1234567890" not in stored and "sk-abcdefghijklmnop1234" not in stored
    assert row["error"] == "auth failed [secret]"
    if privacy is Privacy.FULL:
        assert row["question"] == "my token is [secret], why does login fail?" and row["answer"] == "Rotate it."
    elif privacy is Privacy.HASH:
        assert row["question"].startswith("sha256:") and len(row["question"]) == 7 + 64
        assert row["question"] != ledger.answer("p1")["answer"]  # type: ignore[index]
    else:
        assert row["question"] == row["answer"] == "[redacted]"
    ledger.close()


def test_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="Cannot open the query ledger"):
        QueryLedger("postgresql+psycopg://nobody:pw@127.0.0.1:1/none?connect_timeout=1")


def test_answers_are_written_off_the_answer_path_and_never_lost_on_close(ledger_url: str) -> None:
    """record_answer only queues; reads flush first, and close() writes whatever is still queued."""
    writer = QueryLedger(ledger_url, prices=PRICES)
    for n in range(50):
        writer.record_answer(make_answer(f"q{n}", BASE + timedelta(seconds=n)), AskContext(surface="cli"))
    writer.close()  # the writer thread drains the queue before the engine goes
    reader = QueryLedger(ledger_url, prices=PRICES)
    try:
        assert reader.stats(BASE - timedelta(days=1), BASE + timedelta(days=1)).questions == 50
        reader.record_answer(make_answer("late", BASE), AskContext(surface="cli"))
        assert reader.answer("late") is not None  # a read in the same process sees its own queued answers
    finally:
        reader.close()
