"""/metrics, the dashboard (in real headless Chromium), `bestbefore stats`, and the wiring in Services."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from starlette.applications import Starlette
from typer.testing import CliRunner

from bestbefore.cli import app as cli_app
from bestbefore.dashboard import dashboard_routes
from bestbefore.services import Services
from rag.answer.pipeline import AskContext, answer_question
from rag.config import AppConfig, CostConfig, IndexConfig, SourceConfig, load_settings
from rag.index.indexing import refresh_source
from rag.ledger.feedback import Vote
from rag.observability.costs import PriceTable
from rag.observability.metrics import AnswerMetrics
from rag.reviews import Flag
from tests.conftest import ROOT, free_port
from tests.fakes.cdp_browser import Browser
from tests.fakes.ledger_seed import COHERE_CALLS, COHERE_CALLS_USD, make_answer, seed_week


def samples(metrics: AnswerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_answers_stages_cost_votes_and_cache() -> None:
    metrics = AnswerMetrics(PriceTable.from_config(CostConfig()))
    now = datetime.now(UTC)
    metrics.record_answer(make_answer("m1", now, total_ms=300.0, calls=COHERE_CALLS, stale=True), AskContext("slack"))
    metrics.record_answer(make_answer("m2", now, refused=True, hits=0), AskContext("cli"))
    metrics.on_vote(Vote("m1", "U1", 1, now))
    metrics.on_vote(Vote("m1", "U2", -1, now))
    metrics.cache_event("outage")
    found = samples(metrics)
    assert found[("bestbefore_answers_total", (("surface", "slack"),))] == 1
    assert found[("bestbefore_refusals_total", ())] == 1
    assert found[("bestbefore_stale_answers_total", ())] == 1
    assert found[("bestbefore_zero_hit_retrievals_total", ())] == 1
    assert found[("bestbefore_stage_seconds_count", (("stage", "total"),))] == 2
    assert found[("bestbefore_stage_seconds_sum", (("stage", "total"),))] == pytest.approx(0.4)
    assert found[("bestbefore_stage_seconds_bucket", (("le", "0.25"), ("stage", "total")))] == 1
    cost = found[("bestbefore_cost_usd_total", (("model", "command-a-03-2025"), ("provider", "cohere")))]
    assert cost == pytest.approx(1000 * 2.5e-6 + 200 * 10e-6)
    assert found[("bestbefore_feedback_total", (("vote", "up"),))] == 1
    assert found[("bestbefore_feedback_total", (("vote", "down"),))] == 1
    assert found[("bestbefore_cache_events_total", (("event", "outage"), ("layer", "embedding")))] == 1
    assert found[("bestbefore_cache_events_total", (("event", "miss"), ("layer", "embedding")))] == 2
    with pytest.raises(ValueError):
        metrics.cache_event("explosion")


@pytest.fixture
def services(home: Path, tmp_path: Path) -> Iterator[Services]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pto.md").write_text("# Paid time off\n\nEvery employee gets 25 days of paid time off per year.\n")
    (docs / "travel.md").write_text(
        "---\nlast_reviewed: 2024-01-15\n---\n# Travel\n\nBook flights through the travel desk at least two weeks ahead.\n"
    )
    settings = load_settings(cwd=tmp_path, bestbefore_dashboard_token=SecretStr("letmein"))
    settings.app = AppConfig(sources=[SourceConfig(name="hb", path=docs)], index=IndexConfig(embedder="hashing"))
    built = Services(settings)
    yield built
    built.close()


def test_services_wire_ledger_metrics_and_feedback(services: Services) -> None:
    src = services.settings.app.sources[0]
    refresh_source(src, store=services.store, embedder=services.embedder, chunking=services.chunking,
                   now=datetime.now(UTC))  # fmt: skip
    answer = answer_question("How many days of paid time off?", services.pipeline, context=AskContext("cli", "me"))
    row = services.ledger.answer(answer.answer_id)
    assert row is not None and row["surface"] == "cli" and row["t_total"] == answer.timings_ms["total"]
    assert services.feedback is services.ledger
    services.feedback.record_vote(Vote(answer.answer_id, "U1", 1, datetime.now(UTC)))
    found = samples(services.metrics)
    assert found[("bestbefore_answers_total", (("surface", "cli"),))] == 1
    assert found[("bestbefore_feedback_total", (("vote", "up"),))] == 1
    assert services.langfuse is None  # no LANGFUSE_* settings


@pytest.fixture
def web(services: Services) -> Iterator[str]:
    services.indexer.refresh(services.settings.app.sources).raise_for_failures()  # travel.md: reviewed 2024, stale
    seed_week(services.ledger, base=datetime.now(UTC).replace(microsecond=0) - timedelta(days=6, hours=4))
    for answer_id, user, value in [("d0n0", "U1", 1), ("d2n1", "U2", 1), ("d4n0", "U3", -1), ("d5n1", "U1", 1)]:
        services.ledger.record_vote(Vote(answer_id, user, value, datetime.now(UTC)))
    services.doc_reviews.record_flag(Flag("handbook:gone.md", "U2", datetime.now(UTC), "f" * 64, "moved"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=dashboard_routes(services)), port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


BEARER = {"Authorization": "Bearer letmein"}


def test_dashboard_needs_the_token_and_serves_the_figures(web: str) -> None:
    login_form = httpx.get(f"{web}/dashboard")  # a token is set: loopback needs it too
    assert login_form.status_code == 401 and 'action="/dashboard/login"' in login_form.text
    assert httpx.get(f"{web}/dashboard/data").status_code == 401
    assert httpx.get(f"{web}/dashboard", headers={"Authorization": "Bearer wrong"}).status_code == 401
    page = httpx.get(f"{web}/dashboard", headers=BEARER)
    assert page.status_code == 200 and "<svg" not in page.text and 'id="latency"' in page.text
    data = httpx.get(f"{web}/dashboard/data?window=7d", headers=BEARER).json()
    assert data["questions"] == 28 and data["quality"]["votes_up"] == 3
    assert data["cost_usd"] == pytest.approx(14 * COHERE_CALLS_USD)
    # doc reviews: the report counts in the window; the doc is no longer indexed, so no open flag is listed
    assert data["doc_reviews"] == {"verified": 0, "flagged": 1, "open_flags": []}
    assert "Docs reported outdated" in page.text
    fresh = data["freshness"]  # each day: 3 answers cite docs, 1 of them only fresh ones (#14)
    assert data["quality"]["fresh_source_rate"] == pytest.approx(1 / 3)
    assert [r for r in fresh["fresh_source_rate"] if r is not None] == [pytest.approx(1 / 3)] * 7
    assert fresh["stale_docs"][-1] == 1  # travel.md, reviewed in January 2024
    [travel] = fresh["top_stale"]
    assert travel["doc_id"] == "hb:travel.md" and travel["citations"] == 7
    assert travel["score"] == 7 * travel["days_overdue"] > 0
    assert httpx.get(f"{web}/dashboard/data?window=soon", headers=BEARER).status_code == 400
    metrics = httpx.get(f"{web}/metrics")
    assert metrics.status_code == 200 and "bestbefore_stage_seconds" in metrics.text


def test_dashboard_only_for_loopback_without_a_token(services: Services) -> None:
    from starlette.testclient import TestClient

    services.settings.bestbefore_dashboard_token = None
    client = TestClient(Starlette(routes=dashboard_routes(services)))  # client host "testclient": not loopback
    assert client.get("/dashboard").status_code == 403


def test_dashboard_renders_four_panels_in_chromium(web: str, tmp_path: Path) -> None:
    browser = Browser(tmp_path / "profile")
    try:
        for domain in ("Page", "Runtime", "Log"):
            browser.call(f"{domain}.enable")
        browser.call("Emulation.setDeviceMetricsOverride", width=1500, height=1000, deviceScaleFactor=1, mobile=False)
        browser.call("Page.navigate", url=f"{web}/dashboard/login")
        browser.wait_for("document.querySelector('form input[name=token]') !== null")
        browser.evaluate("document.querySelector('input[name=token]').value = 'letmein'; "
                         "document.querySelector('form').submit(); true")  # fmt: skip
        browser.wait_for("location.pathname === '/dashboard' && document.querySelector('#window') !== null")
        browser.call("Page.navigate", url=f"{web}/dashboard?window=7d")  # the session cookie opens it
        browser.wait_for("document.body && document.body.dataset.loaded === 'true'")
        charts = browser.evaluate(
            "JSON.stringify([...document.querySelectorAll('svg[data-chart]')].map(s => "
            "[s.dataset.chart, s.querySelectorAll('.series').length]))"
        )
        # total p50 + p95, and p95 of each seeded stage (embed, retrieve, generate); 7 days x 3 models of cost bars;
        # 4 quality lines; freshness: the fresh-source rate and the stale-doc count
        assert json.loads(charts) == [
            ["latency", 2 + 3], ["cost", 7 * 3], ["quality", 4], ["freshness", 1], ["freshness-stale", 1],
        ]  # fmt: skip
        rates = browser.evaluate(
            "JSON.stringify([...document.querySelectorAll('svg[data-chart=freshness] circle title')].map(t => t.textContent))"
        )
        assert len(json.loads(rates)) == 7 and json.loads(rates)[0].endswith(": 33%")  # a point per day with answers
        top = browser.evaluate("document.querySelector('#freshness .extra').innerText")
        assert "Travel" in top and "cited × overdue" in top
        assert browser.evaluate("document.querySelector('#summary').innerText").startswith("28")
        assert browser.console_errors() == []
        shot = tmp_path / "dashboard.png"
        browser.screenshot(shot)
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
        if os.environ.get("BESTBEFORE_UPDATE_SCREENSHOTS"):  # refresh docs/dashboard.png on purpose only
            shutil.copyfile(shot, ROOT / "docs" / "dashboard.png")
    finally:
        browser.close()


def test_stats_command_prints_table_and_json(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_week(services.ledger, base=datetime.now(UTC) - timedelta(days=6, hours=4))
    monkeypatch.setenv("DATABASE_URL", services.settings.ledger_url)
    runner = CliRunner()
    result = runner.invoke(cli_app, ["stats", "--since", "7d", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["questions"] == 28 and data["quality"]["refusals"] == 7
    table = runner.invoke(cli_app, ["stats", "--since", "30d"])
    assert table.exit_code == 0 and "Refusal rate" in table.output and "25%" in table.output
    bad = runner.invoke(cli_app, ["stats", "--since", "forever"])
    assert bad.exit_code == 2 and "--since" in bad.output and "not a duration" in bad.output
