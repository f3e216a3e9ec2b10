"""Streamed answers over signed HTTP with Cohere chat streaming (a fake Cohere sending server-sent events at a
steady pace): the text streams into the thread (chat.startStream / appendStream / stopStream via slack-sdk's
``chat_stream``), the sources, the ⚠ block and the feedback controls come with stopStream; where streaming is
refused the answer falls back to placeholder + chat.update, and the workspace is remembered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.blocks import PLACEHOLDER
from tests.fakes.bot_harness import BotHarness, start_harness
from tests.fakes.cohere_fake import FakeCohereServer
from tests.fakes.slack_fake import BOT_USER, TEAM, block_actions_payload, feedback_action
from tests.test_bot_http import HOLIDAY_QUESTION, wait_until


@pytest.fixture
def cohere() -> Iterator[FakeCohereServer]:
    server = FakeCohereServer().start()
    server.fake.token_delay = 0.01
    yield server
    server.stop()


@pytest.fixture
def harness(home: Path, cohere: FakeCohereServer) -> Iterator[BotHarness]:
    h = start_harness(home, cohere_url=cohere.url)
    yield h
    h.close()


def test_an_answer_streams_into_the_thread_and_ends_with_sources_warning_and_feedback(harness: BotHarness) -> None:
    question_ts, _ = harness.mention(f"<@{BOT_USER}> {HOLIDAY_QUESTION}")
    harness.fake.wait_for(lambda f: len(f.calls_to("chat.stopStream")) == 1, timeout=30)
    [start] = harness.fake.calls_to("chat.startStream")
    assert start.params["thread_ts"] == question_ts and start.params["channel"] == "C0GENERAL"
    assert (start.params["recipient_user_id"], start.params["recipient_team_id"]) == ("U0ALICE", TEAM)
    assert len(harness.fake.calls_to("chat.appendStream")) >= 1  # the text arrived in pieces
    assert not [c for c in harness.fake.calls_to("chat.postMessage") if c.params.get("text") == PLACEHOLDER]
    assert not harness.fake.calls_to("chat.update")
    [message] = harness.fake.bot_messages("C0GENERAL")
    assert "25 days of paid holiday" in message["text"] and message["streaming"] is False
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds[0] != "section" or "*Sources*" in message["blocks"][0]["text"]["text"]  # the text is not repeated
    assert "context_actions" in kinds and "actions" in kinds  # feedback buttons; Still accurate / Report outdated
    assert "Possibly out of date" in str(message["blocks"])
    assert message["metadata"]["event_type"] == "bestbefore_answer"
    answer_id = harness.recorder.seen[0][0].answer_id
    wait_until(lambda: harness.services.feedback.answer_for_message("C0GENERAL", message["ts"]) == answer_id)
    press = block_actions_payload(feedback_action(message, "positive_feedback"), user="U0BOB", channel="C0GENERAL",
                                  message=message)  # fmt: skip
    assert harness.interact(press).status_code == 200
    assert harness.services.feedback.votes(answer_id) == {"U0BOB": 1}


def test_where_streaming_is_refused_the_workspace_gets_placeholder_and_update(harness: BotHarness) -> None:
    harness.fake.refused["chat.startStream"] = "method_not_allowed"
    harness.mention(f"<@{BOT_USER}> {HOLIDAY_QUESTION}")
    [first] = harness.wait_answered("C0GENERAL", 1, timeout=30)
    assert "25 days of paid holiday" in first["text"]
    harness.mention(f"<@{BOT_USER}> When do deploys go out?")
    harness.wait_answered("C0GENERAL", 2, timeout=30)
    assert len(harness.fake.calls_to("chat.startStream")) == 1  # refused once, then remembered for the workspace
    placeholders = [c for c in harness.fake.calls_to("chat.postMessage") if c.params.get("text") == PLACEHOLDER]
    assert len(placeholders) == 2
