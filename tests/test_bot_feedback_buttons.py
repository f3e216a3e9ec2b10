"""The native feedback buttons under every answer, over signed HTTP: a press is a vote like a reaction, the same
press again retracts it, and the vote is stored (and passed to the ledger's listeners) before the click is acked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.ledger.feedback import Vote
from tests.fakes.bot_harness import BotHarness, start_harness
from tests.fakes.slack_fake import BOT_USER, block_actions_payload, feedback_action
from tests.test_bot_http import HOLIDAY_QUESTION, reaction, wait_until


class VoteLog:
    """A feedback listener, registered on the real ledger like metrics and Langfuse are."""

    def __init__(self) -> None:
        self.votes: list[Vote] = []
        self._lock = threading.Lock()

    def on_vote(self, vote: Vote) -> None:
        with self._lock:
            self.votes.append(vote)


@pytest.fixture
def harness(home: Path) -> Iterator[BotHarness]:
    h = start_harness(home)
    yield h
    h.close()


def press(harness: BotHarness, message: dict[str, object], value: str, *, user: str) -> int:
    payload = block_actions_payload(
        feedback_action(message, value),
        user=user,
        channel="C0GENERAL",
        message=message,  # type: ignore[arg-type]
    )
    return harness.interact(payload).status_code


def test_feedback_buttons_vote_like_reactions_and_the_same_press_retracts(harness: BotHarness) -> None:
    listened = VoteLog()
    harness.services.ledger.add_listener(listened)
    harness.mention(f"<@{BOT_USER}> {HOLIDAY_QUESTION}")
    [update] = harness.wait_answered("C0GENERAL")
    answer_id = harness.recorder.seen[0][0].answer_id
    message = harness.fake.message("C0GENERAL", update["ts"])
    [buttons] = [b for b in message["blocks"] if b["type"] == "context_actions"]
    assert buttons["elements"][0]["type"] == "feedback_buttons"
    votes = harness.services.feedback.votes

    # stored before the ack: the vote is there as soon as the HTTP response is
    assert press(harness, message, "positive_feedback", user="U0BOB") == 200
    assert votes(answer_id) == {"U0BOB": 1}
    assert press(harness, message, "negative_feedback", user="U0CAROL") == 200
    assert votes(answer_id) == {"U0BOB": 1, "U0CAROL": -1}
    reaction(harness, "reaction_added", "-1", update["ts"])  # a reaction changes the same vote: latest wins
    wait_until(lambda: votes(answer_id) == {"U0BOB": -1, "U0CAROL": -1})
    assert press(harness, message, "negative_feedback", user="U0BOB") == 200  # the same again: retracted
    assert votes(answer_id) == {"U0CAROL": -1}
    assert press(harness, message, "positive_feedback", user="U0CAROL") == 200  # the other button: changed
    assert votes(answer_id) == {"U0CAROL": 1}
    assert [(v.user, v.value) for v in listened.votes] == [
        ("U0BOB", 1), ("U0CAROL", -1), ("U0BOB", -1), ("U0BOB", 0), ("U0CAROL", 1),
    ]  # fmt: skip
    registry = harness.services.metrics.registry  # the Prometheus counter saw them as it sees reactions
    assert registry.get_sample_value("bestbefore_feedback_total", {"vote": "retracted"}) == 1


def test_unsigned_or_forged_presses_are_refused_and_change_nothing(harness: BotHarness) -> None:
    harness.mention(f"<@{BOT_USER}> {HOLIDAY_QUESTION}")
    [update] = harness.wait_answered("C0GENERAL")
    answer_id = harness.recorder.seen[0][0].answer_id
    message = harness.fake.message("C0GENERAL", update["ts"])
    payload = block_actions_payload(
        feedback_action(message, "positive_feedback"), user="U0BOB", channel="C0GENERAL", message=message
    )
    assert harness.interact(payload, secret="not-the-secret").status_code == 401
    assert harness.services.feedback.votes(answer_id) == {}
