"""The weekly digest from a seeded ledger: figures, week-over-week changes, Block Kit, chart, posting to Slack."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.publisher import digest_blocks
from jobs import runs
from jobs.runs import JobDeps
from rag.errors import ConfigError
from rag.index.refresh import RefreshResult
from tests.fakes.jobs_support import index_docs, ledger_of, make_deps, seed_answer
from tests.fakes.slack_fake import BOT_TOKEN, FakeSlack

W46 = datetime(2026, 11, 9, tzinfo=UTC)  # Monday of 2026-W46
W47 = datetime(2026, 11, 16, tzinfo=UTC)  # Monday of 2026-W47
POSTED_AT = datetime(2026, 11, 23, 9, 0, 5, tzinfo=UTC)


def seed(deps: JobDeps) -> None:
    ledger = ledger_of(deps)
    # week 46: two answers, one vote (up)
    seed_answer(ledger, W46 + timedelta(days=1), total_ms=100, vote=1)
    seed_answer(ledger, W46 + timedelta(days=2), total_ms=300)
    # week 47: four answers by three people
    seed_answer(ledger, W47 + timedelta(hours=10), user="U1", total_ms=100, cited=("handbook:leave.md",), vote=1,
                cache=(1, 1))  # fmt: skip
    seed_answer(ledger, W47 + timedelta(days=1), user="U2", total_ms=200, cited=("handbook:leave.md",), stale=True,
                vote=1, cache=(1, 1))  # fmt: skip
    seed_answer(ledger, W47 + timedelta(days=2), user="U3", total_ms=300, refused=True, zero_hit=True,
                question="What is the wifi password? <!channel>", vote=-1, cache=(1, 1))  # fmt: skip
    seed_answer(ledger, W47 + timedelta(days=4), user="U1", total_ms=400,
                cited=("handbook:leave.md", "handbook:laptops.md"), vote=1, cache=(1, 1))  # fmt: skip
    index_docs(deps, W47 + timedelta(days=3))  # a refresh run: 4 new docs
    ledger.record_refresh(
        RefreshResult(source="handbook"), started_at=W47 + timedelta(days=5), error="SourceError: gone"
    )
    ledger.record_job_failure("watchdog", "RuntimeError: boom", at=W47 + timedelta(days=5, hours=8))


@pytest.fixture
def deps(tmp_path: Path, home: Path, slack: FakeSlack) -> Iterator[JobDeps]:
    deps = make_deps(tmp_path, slack=WebClient(token=BOT_TOKEN, base_url=slack.url))
    seed(deps)
    yield deps
    ledger_of(deps).close()


def test_digest_figures_and_week_over_week_changes(deps: JobDeps) -> None:
    digest = runs.compose_digest(deps, "2026-W47", POSTED_AT)
    fig = digest.figure
    assert fig("questions").value == 4 and fig("questions").previous == 2
    assert fig("questions").change() == "▲ +100%"
    assert fig("unique_askers").value == 3
    assert fig("latency_p50_ms").value == pytest.approx(250.0)
    assert fig("latency_p95_ms").value == pytest.approx(385.0)
    assert fig("latency_p95_ms").previous == pytest.approx(290.0)
    assert fig("cost_usd").value == pytest.approx(0.004)
    assert fig("cost_per_answer_usd").value == pytest.approx(0.001)
    assert fig("refusal_rate").value == pytest.approx(0.25) and fig("refusal_rate").change() == "▲ +25.0 pp"
    assert fig("thumbs_up_rate").value == pytest.approx(0.75) and fig("thumbs_up_rate").previous == 1.0
    assert fig("thumbs_up_rate").change() == "▼ -25.0 pp" and fig("thumbs_up_rate").note == "4 votes"
    assert fig("stale_answer_rate").value == pytest.approx(0.25)
    assert fig("zero_hit_retrievals").value == 1
    assert fig("cache_hit_rate").value == pytest.approx(0.5) and fig("cache_hit_rate").previous == 0.0
    assert (fig("refresh_runs").value, fig("docs_changed").value, fig("refresh_failures").value) == (2, 4, 1)
    assert (fig("chunks_embedded").value or 0) > 0 and fig("chunks_embedded").change() == "new"
    assert fig("job_failures").value == 1
    assert [f.job for f in digest.failures] == ["watchdog"]
    # stale docs people still read, most cited first; an uncited stale doc is left out
    assert [(d.title, d.citations) for d in digest.top_stale] == [("Leave policy", 3), ("Laptops", 1)]
    assert digest.refused_questions == ["What is the wifi password? <!channel>"]


def test_digest_blocks_fit_slack_limits_and_escape_user_text(deps: JobDeps) -> None:
    digest = runs.compose_digest(deps, "2026-W47", POSTED_AT)
    blocks = digest_blocks(digest)
    assert blocks[0]["type"] == "header" and "2026-W47" in blocks[0]["text"]["text"]
    assert len(blocks) <= 50
    sections = [b for b in blocks if b["type"] == "section"]
    assert all(len(b.get("fields", [])) <= 10 for b in sections)
    field_texts = [f["text"] for b in sections for f in b.get("fields", [])]
    assert len(field_texts) == len(digest.figures)
    assert "*Questions*\n4 · ▲ +100%" in field_texts
    assert "*👍 rate*\n75.0% (4 votes) · ▼ -25.0 pp" in field_texts
    everything = json.dumps(blocks, ensure_ascii=False)
    assert "<!channel>" not in everything and "&lt;!channel&gt;" in everything
    assert "<https://wiki.example.com/handbook/leave.md|Leave policy>" in everything
    assert all(len(b["text"]["text"]) <= 3000 for b in sections if "text" in b)
    assert "Job failures" in everything and "RuntimeError: boom" in everything
    assert json.loads(json.dumps(digest.to_json()))["figures"]["questions"]["change"] == "▲ +100%"


def test_files_refresh_skipped_are_listed_with_their_reasons(deps: JobDeps) -> None:
    """A real refresh of a folder with a FIFO and bad YAML: the digest names the files and why (#10)."""
    docs = deps.settings.app.source("handbook").path
    os.mkfifo(docs / "pipe.md")
    (docs / "bad.md").write_text("---\ntitle: [oops\n---\nbody\n", encoding="utf-8")
    for index in range(6):
        (docs / f"z-<!here>-{index}.md").write_bytes(b"\x00binary")
    deps.index.indexer.refresh([deps.settings.app.source("handbook")], now=W47 + timedelta(days=5))
    digest = runs.compose_digest(deps, "2026-W47", POSTED_AT)
    assert digest.figure("files_skipped").value == 8
    assert [s.path for s in digest.skipped_files][:3] == ["bad.md", "pipe.md", "z-<!here>-0.md"]
    text = digest.text()
    assert "handbook:pipe.md: a FIFO (named pipe), not a regular file (not opened)" in text
    assert "… and 3 more" in text
    everything = json.dumps(digest_blocks(digest), ensure_ascii=False)
    assert "*Files refresh skipped*" in everything and "<!here>" not in everything and "&lt;!here&gt;" in everything
    assert len(digest.to_json()["skipped_files"]) == 8


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_chart_is_a_png_of_the_week(deps: JobDeps) -> None:
    png = runs.chart_of(deps, "2026-W47")
    assert png_size(png) == (700, 500)
    empty = runs.chart_of(deps, "2026-W30")  # no answers at all still draws (an empty week)
    assert png_size(empty) == (700, 500)


def test_post_digest_posts_blocks_and_uploads_the_chart_in_its_thread(deps: JobDeps, slack: FakeSlack) -> None:
    ts = runs.post_digest(deps, "2026-W47", POSTED_AT)
    assert ts is not None
    [post] = slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "#rag-ops"
    assert "bestbefore weekly digest, 2026-W47" in post.params["text"]
    blocks = post.params["blocks"]
    assert (json.loads(blocks) if isinstance(blocks, str) else blocks)[0]["type"] == "header"
    [url_call] = slack.calls_to("files.getUploadURLExternal")
    assert url_call.params["filename"] == "bestbefore-2026-W47.png"
    [upload] = slack.uploads.values()
    assert png_size(upload) == (700, 500)
    [complete] = slack.calls_to("files.completeUploadExternal")
    assert complete.params["thread_ts"] == ts and complete.params["channel_id"] == "#rag-ops"
    assert deps.ledger.digest_posted("2026-W47")
    # a second run (another replica, a restart, `bestbefore digest --post`) never posts the same week again
    assert runs.post_digest(deps, "2026-W47", POSTED_AT + timedelta(hours=1)) is None
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_failed_chart_upload_keeps_the_digest_and_is_reported(deps: JobDeps, slack: FakeSlack) -> None:
    slack.failures["files.getUploadURLExternal"] = "ratelimited"
    assert runs.post_digest(deps, "2026-W47", POSTED_AT) is not None
    assert deps.ledger.digest_posted("2026-W47")
    failures = deps.ledger.job_failures_between(POSTED_AT - timedelta(seconds=1), POSTED_AT + timedelta(seconds=1))
    assert [f["job"] for f in failures] == ["digest-chart"] and "ratelimited" in failures[0]["error"]
    next_week = runs.compose_digest(deps, "2026-W48", POSTED_AT + timedelta(days=7))
    assert [f.job for f in next_week.failures] == ["digest-chart"]


def test_digest_joins_a_public_channel_it_was_never_invited_to(deps: JobDeps, slack: FakeSlack) -> None:
    slack.public_channels = [{"id": "C0OTHER", "name": "general"}, {"id": "C0RAGOPS", "name": "rag-ops"}]
    slack.not_member = {"#rag-ops", "C0RAGOPS"}
    ts = runs.post_digest(deps, "2026-W47", POSTED_AT)
    assert ts is not None
    first, second = slack.calls_to("chat.postMessage")
    assert first.params["channel"] == "#rag-ops" and second.params["channel"] == "C0RAGOPS"
    assert [c.params["channel"] for c in slack.calls_to("conversations.join")] == ["C0RAGOPS"]
    [complete] = slack.calls_to("files.completeUploadExternal")  # the chart upload needed the membership
    assert complete.params["channel_id"] == "C0RAGOPS"
    assert deps.ledger.digest_posted("2026-W47")
    assert not deps.ledger.job_failures_between(POSTED_AT - timedelta(seconds=1), POSTED_AT + timedelta(seconds=1))


def test_digest_to_a_channel_the_bot_cannot_join_says_to_invite_it(deps: JobDeps, slack: FakeSlack) -> None:
    slack.not_member = {"#rag-ops"}  # private: not among the public channels, so it cannot be joined
    with pytest.raises(ConfigError, match="invite it with /invite @bestbefore"):
        runs.post_digest(deps, "2026-W47", POSTED_AT)
    assert not deps.ledger.digest_posted("2026-W47")  # tried again at the next run


def test_the_fresh_source_rate_is_the_digests_first_line(deps: JobDeps) -> None:
    """#14: of the week's 3 answers citing docs, 2 cited only docs within their threshold."""
    digest = runs.compose_digest(deps, "2026-W47", POSTED_AT)
    first = digest.figures[0]
    assert first.key == "fresh_source_rate" and first.value == pytest.approx(2 / 3)
    assert first.note == "of 3 answers citing docs" and first.previous is None  # week 46 cited nothing
    assert digest.text().split("\n")[1] == "Fresh-source rate: 66.7% (of 3 answers citing docs) [no data last week]"
