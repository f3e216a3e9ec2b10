"""The agent messaging experience over signed HTTP: a greeting with suggested prompts (the most-asked questions)
once per person, a DM answered in its thread behind a loading status, the viewed channel choosing the sources;
a workspace without the feature keeps today's DMs after one refused status call.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.agent import GREETING
from rag.config import ChannelConfig
from tests.fakes.bot_harness import BotHarness, start_harness
from tests.fakes.slack_fake import BOT_USER, TEAM, event_body, home_opened_event
from tests.test_bot_http import HOLIDAY_QUESTION, wait_until


@pytest.fixture
def harness(home: Path) -> Iterator[BotHarness]:
    h = start_harness(home, channels={"C0ENGONLY": ChannelConfig(sources=["eng"])})
    yield h
    h.close()


def greetings(harness: BotHarness, channel: str) -> list[str]:
    return [c.params["text"] for c in harness.fake.calls_to("chat.postMessage")
            if c.params["channel"] == channel and c.params["text"] == GREETING]  # fmt: skip


def context_changed(user: str, channel: str) -> dict[str, object]:
    return {"type": "app_context_changed", "user": user, "event_ts": "1700000000.000200",
            "context": {"entities": [{"type": "slack#/types/channel_id", "value": channel, "team_id": TEAM}]}}  # fmt: skip


def test_agent_greeting_prompts_status_and_answer_in_the_dm_thread(harness: BotHarness) -> None:
    harness.fake.agent_view = True
    for user in ("U0BOB", "U0CAROL"):  # asked by two people: a popular question
        harness.mention(f"<@{BOT_USER}> {HOLIDAY_QUESTION}", user=user)
    harness.wait_answered("C0GENERAL", 2)
    harness.services.ledger.flush()

    for _ in range(2):
        assert harness.post(event_body(home_opened_event("U0ALICE", tab="messages"))).status_code == 200
    harness.fake.wait_for(lambda f: len(f.calls_to("assistant.threads.setSuggestedPrompts")) == 1)
    assert greetings(harness, "DU0ALICE") == [GREETING]  # once per person
    [prompts] = harness.fake.calls_to("assistant.threads.setSuggestedPrompts")
    assert [p["message"] for p in prompts.params["prompts"]] == [HOLIDAY_QUESTION]

    # Alice looks at the eng channel beside the agent, then asks in the DM
    assert harness.post(event_body(context_changed("U0ALICE", "C0ENGONLY"))).status_code == 200
    harness.settle()
    ts, response = harness.direct_message("When do deploys go out?", channel="DU0ALICE")
    assert response.status_code == 200
    harness.fake.wait_for(lambda f: any(m.get("thread_ts") == ts for m in f.bot_messages("DU0ALICE")))
    [status] = harness.fake.statuses
    assert (status["channel_id"], status["thread_ts"]) == ("DU0ALICE", ts) and status["loading_messages"]
    [answer] = [m for m in harness.fake.bot_messages("DU0ALICE") if m.get("thread_ts") == ts]
    assert "Tuesdays and Thursdays" in answer["text"]
    assert not [c for c in harness.fake.calls_to("chat.update") if c.params["channel"] == "DU0ALICE"]  # no placeholder
    answered, context = harness.recorder.seen[-1]
    assert context.sources == ("eng",)  # the viewed channel's sources
    link = harness.services.feedback.answer_for_message
    wait_until(lambda: link("DU0ALICE", answer["ts"]) == answered.answer_id)  # linked right after it is posted


def test_a_workspace_without_agent_messaging_keeps_todays_dms(harness: BotHarness) -> None:
    for count, question in enumerate(("How do I set up the VPN?", "When do deploys go out?"), start=1):
        harness.direct_message(question)  # one after the other: the first one's refusal is remembered
        updates = harness.wait_answered("D0ALICE", count)
    assert all(u["text"] != "" for u in updates)
    assert len(harness.fake.calls_to("assistant.threads.setStatus")) == 1  # refused once, remembered
    placeholders = [c.params for c in harness.fake.calls_to("chat.postMessage") if c.params["channel"] == "D0ALICE"]
    assert len(placeholders) == 2 and all(p.get("thread_ts") is None for p in placeholders)  # in place, as before
    # the greeting still comes once; no suggested prompts where the workspace has no agent messaging
    assert harness.post(event_body(home_opened_event("U0ALICE", tab="messages"))).status_code == 200
    harness.fake.wait_for(lambda f: len(greetings(harness, "DU0ALICE")) == 1)
    harness.settle()
    assert harness.fake.calls_to("assistant.threads.setSuggestedPrompts") == []
