"""The Slack bot end to end over HTTP: signed events -> Starlette/uvicorn -> Bolt -> real pipeline -> fake Web API."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.blocks import PLACEHOLDER
from rag.config import ChannelConfig, StalenessConfig
from rag.models import Turn
from rag.providers.generation import Generation
from tests.fakes.bot_harness import SECRET, BotHarness, start_harness
from tests.fakes.slack_fake import BOT_ID, BOT_USER, event_body, signed_headers

HOLIDAY_QUESTION = "How many days of paid holiday do employees get?"
MENTION = f"<@{BOT_USER}>"
CHANNELS = {
    "C0ENGONLY": ChannelConfig(sources=["eng"]),
    "C0LENIENT": ChannelConfig(staleness=StalenessConfig(sources={"handbook": "5y"})),
    "C0MUTED": ChannelConfig(enabled=False),
}


@pytest.fixture
def harness(home: Path) -> Iterator[BotHarness]:
    h = start_harness(home, channels=CHANNELS)
    yield h
    h.close()


def block_text(blocks: list[dict[str, Any]]) -> str:
    parts = []
    for block in blocks:
        if block["type"] == "section":
            parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts.extend(element["text"] for element in block["elements"])
    return "\n".join(parts)


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def test_mention_gets_placeholder_then_answer_in_its_thread_with_stale_warning(harness: BotHarness) -> None:
    ts, response = harness.mention(f"{MENTION} {HOLIDAY_QUESTION}")
    assert response.status_code == 200
    [update] = harness.wait_answered("C0GENERAL")

    [placeholder] = harness.fake.calls_to("chat.postMessage")
    assert placeholder.params["thread_ts"] == ts and placeholder.params["text"] == PLACEHOLDER
    posted = harness.fake.bot_messages("C0GENERAL")
    assert len(posted) == 1 and update["ts"] == posted[0]["ts"]  # replaced in place, not a second message
    assert posted[0]["thread_ts"] == ts and posted[0]["text"] == update["text"]

    text = block_text(update["blocks"])
    assert "25 days of paid holiday" in text
    assert "⚠️ *Possibly out of date:* Based on *Holiday allowance*, last updated 3 years ago" in text
    assert "<https://docs.example.com/handbook/leave/holidays|Holiday allowance> — updated 3 years ago" in text
    assert ":+1:" in text and ":-1:" in text
    assert update["text"].startswith("Employees get 25 days") and "⚠" in update["text"]

    [(answer, context)] = harness.recorder.seen
    assert (context.surface, context.user, context.channel, context.thread, context.history) == (
        "slack", "U0ALICE", "C0GENERAL", ts, ()
    )  # fmt: skip
    assert answer.answer_id in text
    assert harness.services.feedback.answer_for_message("C0GENERAL", update["ts"]) == answer.answer_id


def test_direct_message_is_answered_in_the_dm(harness: BotHarness) -> None:
    _, response = harness.direct_message("how do I set up the VPN?")
    assert response.status_code == 200
    [update] = harness.wait_answered("D0ALICE")
    [placeholder] = harness.fake.calls_to("chat.postMessage")
    assert placeholder.params["channel"] == "D0ALICE" and "thread_ts" not in placeholder.params
    assert "WireGuard" in block_text(update["blocks"])
    assert "Possibly out of date" not in block_text(update["blocks"])  # the VPN doc is 40 days old


def test_follow_up_in_the_thread_passes_the_earlier_turns(harness: BotHarness) -> None:
    ts, _ = harness.mention(f"{MENTION} {HOLIDAY_QUESTION}")
    [first] = harness.wait_answered("C0GENERAL")
    harness.mention(f"{MENTION} and for contractors?", thread_ts=ts)
    second = harness.wait_answered("C0GENERAL", count=2)[1]

    [(_, first_context), (answer, context)] = harness.recorder.seen
    assert first_context.history == ()
    assert context.thread == ts
    assert context.history == (Turn("user", HOLIDAY_QUESTION), Turn("assistant", first["text"]))
    assert "Contractors do not receive paid holiday" in block_text(second["blocks"])
    assert "Contractor leave" in {s.title for s in answer.sources if s.cited}
    assert harness.fake.calls_to("chat.postMessage")[1].params["thread_ts"] == ts


def test_follow_up_in_a_dm_thread_under_the_answer(harness: BotHarness) -> None:
    harness.direct_message(HOLIDAY_QUESTION)
    [first] = harness.wait_answered("D0ALICE")
    harness.direct_message("and for contractors?", thread_ts=first["ts"])
    harness.wait_answered("D0ALICE", count=2)
    context = harness.recorder.seen[1][1]
    assert context.history == (Turn("user", HOLIDAY_QUESTION), Turn("assistant", first["text"]))
    assert harness.fake.calls_to("chat.postMessage")[1].params["thread_ts"] == first["ts"]


def test_a_thread_the_bot_never_answered_in_is_not_a_follow_up(harness: BotHarness) -> None:
    root = harness.fake.add_message("C0GENERAL", "anyone know about holidays?", user="U0BOB")
    harness.mention(f"{MENTION} {HOLIDAY_QUESTION}", thread_ts=root)
    harness.wait_answered("C0GENERAL")
    assert harness.recorder.seen[0][1].history == ()
    assert harness.fake.calls_to("chat.postMessage")[0].params["thread_ts"] == root


def reaction(harness: BotHarness, kind: str, name: str, ts: str, *, user: str = "U0BOB") -> None:
    event = {
        "type": kind, "user": user, "reaction": name, "item_user": BOT_USER,
        "item": {"type": "message", "channel": "C0GENERAL", "ts": ts}, "event_ts": f"{time.time():.6f}",
    }  # fmt: skip
    assert harness.post(event_body(event)).status_code == 200


def test_reactions_on_an_answer_are_votes_one_per_user(harness: BotHarness) -> None:
    question_ts, _ = harness.mention(f"{MENTION} {HOLIDAY_QUESTION}")
    [update] = harness.wait_answered("C0GENERAL")
    answer_id = harness.recorder.seen[0][0].answer_id
    votes = harness.services.feedback.votes

    reaction(harness, "reaction_added", "tada", update["ts"])  # not a feedback reaction
    reaction(harness, "reaction_added", "+1", question_ts)  # not an answer
    reaction(harness, "reaction_added", "+1::skin-tone-3", update["ts"])
    wait_until(lambda: votes(answer_id) == {"U0BOB": 1})
    reaction(harness, "reaction_added", "white_check_mark", update["ts"], user="U0CAROL")
    reaction(harness, "reaction_added", "thumbsdown", update["ts"])  # Bob changes his mind: latest wins
    wait_until(lambda: votes(answer_id) == {"U0BOB": -1, "U0CAROL": 1})
    reaction(harness, "reaction_removed", "+1", update["ts"])  # no longer Bob's vote: nothing changes
    reaction(harness, "reaction_removed", "white_check_mark", update["ts"], user="U0CAROL")
    wait_until(lambda: votes(answer_id) == {"U0BOB": -1})
    reaction(harness, "reaction_removed", "thumbsdown", update["ts"])
    wait_until(lambda: votes(answer_id) == {})
    harness.settle()
    assert votes(answer_id) == {}
    assert harness.services.feedback.answer_for_message("C0GENERAL", question_ts) is None


def test_retries_and_duplicate_event_ids_give_exactly_one_answer(harness: BotHarness) -> None:
    ts = harness.fake.add_message("C0GENERAL", f"{MENTION} {HOLIDAY_QUESTION}", user="U0ALICE")
    event = {"type": "app_mention", "user": "U0ALICE", "text": f"{MENTION} {HOLIDAY_QUESTION}", "ts": ts,
             "channel": "C0GENERAL", "event_ts": ts}  # fmt: skip
    body = event_body(event, event_id="Ev0DUPLICATE")
    statuses: list[int] = []

    def deliver(**headers: str) -> None:
        statuses.append(harness.post(body, **headers).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    threads += [threading.Thread(target=deliver, kwargs={"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"}) for n in (1, 2)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    harness.post(event_body(event))  # same message under a new event id (e.g. delivered twice by Slack)
    assert statuses == [200] * 6
    harness.wait_answered("C0GENERAL")
    harness.settle()
    assert len(harness.fake.calls_to("chat.postMessage")) == 1
    assert len(harness.fake.calls_to("chat.update")) == 1
    assert len(harness.recorder.seen) == 1


def test_unsigned_badly_signed_and_old_requests_are_rejected(harness: BotHarness) -> None:
    body = event_body({"type": "app_mention", "user": "U0ALICE", "text": f"{MENTION} hi", "ts": "1.1",
                       "channel": "C0GENERAL"})  # fmt: skip
    raw = json.dumps(body).encode()
    assert harness.http.post(harness.events_url, content=raw).status_code == 401
    assert harness.post(body, secret="not-the-secret").status_code == 401
    assert harness.post(body, timestamp=time.time() - 6 * 60).status_code == 401
    tampered = signed_headers(SECRET, raw)
    assert harness.http.post(harness.events_url, content=raw + b" ", headers=tampered).status_code == 401
    harness.settle()
    assert harness.fake.calls_to("chat.postMessage") == []


def test_url_verification_and_healthz(harness: BotHarness) -> None:
    response = harness.post({"type": "url_verification", "challenge": "abc123", "token": "x"})
    assert response.status_code == 200 and response.json() == {"challenge": "abc123"}
    assert harness.http.get(harness.web.url + "/healthz").json() == {"status": "ok"}


def test_own_messages_other_bots_and_edits_are_ignored(harness: BotHarness) -> None:
    base = {"type": "message", "channel_type": "im", "channel": "D0ALICE", "text": HOLIDAY_QUESTION}
    events = [
        {**base, "user": BOT_USER, "bot_id": BOT_ID, "ts": "1700000100.000100"},
        {**base, "user": "U0OTHERBOT", "bot_id": "B0OTHER", "ts": "1700000101.000100"},
        {**base, "subtype": "bot_message", "bot_id": "B0OTHER", "ts": "1700000102.000100"},
        {**base, "subtype": "message_changed", "ts": "1700000103.000100",
         "message": {"user": "U0ALICE", "text": HOLIDAY_QUESTION, "ts": "1700000000.000100"}},
        {**base, "subtype": "message_deleted", "ts": "1700000104.000100"},
        {**base, "channel_type": "channel", "channel": "C0GENERAL", "user": "U0ALICE", "ts": "1700000105.000100"},
    ]  # fmt: skip
    for event in events:
        assert harness.post(event_body(event)).status_code == 200
    harness.settle()
    assert harness.fake.calls_to("chat.postMessage") == []
    assert harness.recorder.seen == []


def test_empty_mention_gets_help(harness: BotHarness) -> None:
    ts, _ = harness.mention(MENTION)
    harness.fake.wait_for(lambda fake: len(fake.calls_to("chat.postMessage")) == 1)
    [call] = harness.fake.calls_to("chat.postMessage")
    assert call.params["thread_ts"] == ts and "Ask me a question" in call.params["text"]
    harness.settle()
    assert harness.fake.calls_to("chat.update") == [] and harness.recorder.seen == []


def test_a_40k_character_message_is_truncated_with_a_note(harness: BotHarness) -> None:
    text = f"{MENTION} {HOLIDAY_QUESTION} " + "Please explain in detail. " * 1600
    assert len(text) > 40_000
    harness.mention(text)
    [update] = harness.wait_answered("C0GENERAL")
    [(answer, _)] = harness.recorder.seen
    assert 3990 <= len(answer.question) <= 4000 and answer.question.startswith(HOLIDAY_QUESTION)
    original = len(" ".join(text.replace(MENTION, "").split()))
    note = f"Your message was {original:,} characters long; I only read the first 4,000."
    assert note in block_text(update["blocks"])


class ExplodingGenerator:
    id = "exploding"

    def generate(self, question: str, evidence: Any, *, history: Any = ()) -> Generation:
        raise RuntimeError("internal detail: connection string postgres://admin:hunter2@db")


def test_a_failing_pipeline_gives_a_friendly_reply_and_logs_the_details(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.services.pipeline = replace(harness.services.pipeline, generator=ExplodingGenerator())
    with caplog.at_level(logging.ERROR):
        harness.mention(f"{MENTION} {HOLIDAY_QUESTION}")
        [update] = harness.wait_answered("C0GENERAL")
    assert "something went wrong" in update["text"] and "hunter2" not in json.dumps(update)
    reference = update["text"].split("`")[1]
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and "hunter2" in (logged[0].exc_text or "")


def test_channel_settings_restrict_sources_relax_staleness_and_mute(harness: BotHarness) -> None:
    harness.mention(f"{MENTION} {HOLIDAY_QUESTION}", channel="C0MUTED")
    harness.mention(f"{MENTION} when do deploys go out?", channel="C0ENGONLY")
    [eng] = harness.wait_answered("C0ENGONLY")
    harness.mention(f"{MENTION} {HOLIDAY_QUESTION}", channel="C0LENIENT")
    [lenient] = harness.wait_answered("C0LENIENT")
    harness.settle()
    assert not [c for c in harness.fake.calls if c.params.get("channel") == "C0MUTED"]
    by_channel = {context.channel: (answer, context) for answer, context in harness.recorder.seen}
    answer, context = by_channel["C0ENGONLY"]
    assert context.sources == ("eng",) and {s.source for s in answer.sources} == {"eng"}
    assert "Tuesdays and Thursdays" in block_text(eng["blocks"])
    answer, _ = by_channel["C0LENIENT"]
    assert answer.stale_warning is None and "Possibly out of date" not in block_text(lenient["blocks"])
    assert "updated 3 years ago" in block_text(lenient["blocks"])
